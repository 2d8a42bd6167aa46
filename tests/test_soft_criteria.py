"""Soft criteria (the joint calibration's logit-smoothed rates, ``Endpoint.softness``).

Softness 0 is the hard endpoint exactly; a soft fraction is the logistic formula by hand; as the
softness vanishes it tends to the hard fraction; and on a real trial with common random
numbers the soft response rate moves smoothly with a parameter where the hard one jumps a
whole patient at a time (McFadden 1989's logit-smoothed accept-reject simulator).
"""

import dataclasses

import numpy as np
import pytest
from scipy.special import expit

from ivigsim.errors import InputError
from ivigsim.io.trial_file import load_trial
from ivigsim.population.criteria import Threshold
from ivigsim.trial import statistics
from ivigsim.trial.endpoints import Endpoint, soft_endpoints
from ivigsim.trial.runner import run_trial
from ivigsim.validation import joint
from ivigsim.validation.calibrate import main as calibrate_main
from ivigsim.validation.trial_targets import TRIALS

TS = np.array([0.0, 1.0, 2.0, 4.0])
#: Four patients x four times of an output; the last patient failed (NaN).
VALUES = np.array([[10.0, 48.0, 55.0, 30.0],
                   [20.0, 30.0, 40.0, 49.0],
                   [5.0, 60.0, 70.0, 52.0],
                   [10.0, np.nan, 60.0, 60.0]])


def _c(text: str) -> Threshold:
    return Threshold.parse(text, "criterion")


def _endpoint(softness: float | None, **kw) -> Endpoint:
    """The endpoint with ``softness`` (None: the field left at its default)."""
    base = dict(name="e", output="platelets_1e9_per_L", summary="fraction", window=(0.0, 4.0), over_window="any",
                criterion=_c(">= 50"))
    return Endpoint(**(base | kw)) if softness is None else Endpoint(**(base | kw), softness=softness)


def _per_patient(e: Endpoint, values=VALUES) -> np.ndarray:
    return e.per_patient(TS, values, 4.0)[e.name]


def _logistic_ge(v, thr, s):
    return expit((np.asarray(v, dtype=float) - thr) / (s * abs(thr) if thr else s))


def _logistic_le(v, thr, s):
    return expit((thr - np.asarray(v, dtype=float)) / (s * abs(thr) if thr else s))


# --- (a) softness 0 is the hard endpoint ------------------------------------------------------


@pytest.mark.parametrize("kw", [dict(), dict(over_window="all"), dict(window=None, over_window=None, at_day=2.0),
                                dict(also=(("fold_change", _c(">= 2")),)),
                                dict(summary="mean", over_window="duration"),
                                dict(summary="median", over_window="duration_if_met")])
def test_softness_zero_is_the_hard_endpoint_bit_for_bit(kw):
    default, zero = _per_patient(_endpoint(None, **kw)), _per_patient(_endpoint(0.0, **kw))
    assert np.array_equal(default, zero, equal_nan=True)
    # 0/1, or (trapezoid on the 0/1 indicator over whole-day steps) half days; the failed patient NaN.
    assert np.array_equal(2 * default[:3], np.round(2 * default[:3]), equal_nan=True) and np.isnan(default[3])
    assert _c(">= 50").soft(VALUES, 0.0).tolist() == _c(">= 50").holds(VALUES).astype(float).tolist()


def test_a_small_trial_is_unchanged_by_softness_zero_and_a_hard_trial_keeps_its_fingerprint():
    trial = dataclasses.replace(load_trial(TRIALS / "itp-robak-2009.yaml"), size=40)
    assert soft_endpoints(trial.endpoints, 0.0) == trial.endpoints
    zero = dataclasses.replace(trial, endpoints=soft_endpoints(trial.endpoints, 0))
    hard, again = run_trial(trial), run_trial(zero)
    assert hard.summary == again.summary
    assert hard.patients.equals(again.patients)
    assert zero.fingerprint() == trial.fingerprint()
    assert all(e.options() == (e.reference_day, e.tau, e.given) for e in trial.endpoints)  # as before softness
    soft = dataclasses.replace(trial, endpoints=soft_endpoints(trial.endpoints, 0.05))
    assert soft.fingerprint() != trial.fingerprint()
    # Hard fractions are whole patients; soft ones are not, and time to event stays hard.
    frac = hard.patients["response_by_day7"].dropna()
    assert set(frac.unique()) <= {0.0, 1.0}
    soft_run = run_trial(soft)
    assert not set(soft_run.patients["response_by_day7"].dropna().unique()) <= {0.0, 1.0}
    for col in ("days_to_response", "days_to_response_event"):
        assert soft_run.patients[col].equals(hard.patients[col])


def test_wilson_with_a_fractional_count_keeps_its_exact_ends():
    for n in (1, 7, 100):
        assert statistics.wilson(0.0, n) == statistics.wilson(0, n)
        assert statistics.wilson(float(n), n) == statistics.wilson(n, n)
        assert statistics.wilson(0, n).lower == 0.0 and statistics.wilson(n, n).upper == 1.0
    e = statistics.wilson(37.4, 100)
    assert e.estimate == pytest.approx(0.374) and 0 < e.lower < 0.374 < e.upper < 1
    assert statistics.wilson(37.0, 100).upper < e.upper < statistics.wilson(38, 100).upper
    tiny = statistics.wilson(1e-9, 100)  # nearly no one: the lower end is (nearly) 0, not negative
    assert 0.0 <= tiny.lower < 1e-9 and tiny.upper == pytest.approx(statistics.wilson(0, 100).upper, abs=1e-6)


# --- (b) the closed form ----------------------------------------------------------------------


def test_soft_fraction_is_the_logistic_formula_by_hand():
    s = 0.1
    ok = VALUES[:3]
    # >= 50, any: the largest degree over the window's times; h = 0.1 x 50 = 5.
    want_any = _logistic_ge(ok, 50, s).max(axis=1)
    got = _per_patient(_endpoint(s))
    assert np.isnan(got[3]) and got[:3] == pytest.approx(want_any, rel=1e-12)
    # all: the smallest.
    assert _per_patient(_endpoint(s, over_window="all"))[:3] == pytest.approx(_logistic_ge(ok, 50, s).min(axis=1),
                                                                             rel=1e-12)
    # < 40, at day 2: logistic((40 - v) / 4) at that time.
    at = _endpoint(s, window=None, over_window=None, at_day=2.0, criterion=_c("< 40"))
    assert _per_patient(at)[:3] == pytest.approx(_logistic_le(ok[:, 2], 40, s), rel=1e-12)
    # also: the product of the degrees at the same time, then the largest over the window.
    also = _endpoint(s, also=(("fold_change", _c(">= 4")),))
    fold = ok / ok[:, [0]]
    want = (_logistic_ge(ok, 50, s) * _logistic_ge(fold, 4, s)).max(axis=1)
    assert _per_patient(also)[:3] == pytest.approx(want, rel=1e-12)
    # A threshold of 0: h = softness itself (change from baseline <= 0).
    zero = _endpoint(s, measure="change", criterion=_c("<= 0"), over_window="all")
    assert _per_patient(zero)[:3] == pytest.approx(_logistic_le(ok - ok[:, [0]], 0, s).min(axis=1), rel=1e-12)
    # The arm's fraction: the mean degree, the failed patient excluded.
    est = _endpoint(s).summarise({"e": got})["fraction"]
    assert est.estimate == pytest.approx(want_any.mean(), rel=1e-12) and est.n == 3


def test_soft_durations_integrate_the_degrees_and_membership_stays_hard():
    s = 0.1
    ok = VALUES[:3]
    deg = _logistic_ge(ok, 50, s)
    trapezoid = (0.5 * (deg[:, 1:] + deg[:, :-1]) * np.diff(TS)).sum(axis=1)
    duration = _per_patient(_endpoint(s, summary="mean", over_window="duration"))
    assert np.isnan(duration[3]) and duration[:3] == pytest.approx(trapezoid, rel=1e-12)
    # duration_if_met: patient 1 never reaches 50 (hard: not a responder, NaN), although its
    # soft duration (49 is close to 50) is not 0.
    if_met = _per_patient(_endpoint(s, summary="median", over_window="duration_if_met"))
    assert np.isnan(if_met[1]) and trapezoid[1] > 0
    assert if_met[[0, 2]] == pytest.approx(trapezoid[[0, 2]], rel=1e-12)


def test_a_nan_in_an_also_measure_does_not_meet_it_and_given_still_reads_one_half():
    values = np.array([[0.0, 60.0, 60.0, 60.0], [10.0, 60.0, 60.0, 60.0]])  # fold change 60/0: inf; 0/0: NaN
    e = _endpoint(0.05, also=(("fold_change", _c(">= 2")),), window=(0.0, 1.0))
    got = _per_patient(e, values)
    assert np.isfinite(got).all()  # not counted as a failed patient
    assert got[1] > 0.5 and e.condition_met({"e": got})[1]
    assert _c(">= 2").soft(np.array([np.nan]), 0.05)[0] == 0.0


# --- (c) vanishing softness --------------------------------------------------------------------


@pytest.mark.parametrize("kw", [dict(), dict(over_window="all"), dict(criterion=_c("< 40")),
                                dict(window=None, over_window=None, at_day=2.0),
                                dict(also=(("fold_change", _c(">= 2")),)),
                                dict(summary="mean", over_window="duration")])
def test_vanishing_softness_gives_the_hard_fraction_on_random_data(kw):
    rng = np.random.default_rng(7)
    values = rng.uniform(1.0, 100.0, size=(400, len(TS)))
    values = np.where(np.abs(values - 50) < 0.5, values + 1.0, values)  # no near-ties with the thresholds
    values = np.where(np.abs(values - 40) < 0.5, values + 1.0, values)
    fold = values / values[:, [0]]
    assert np.min(np.abs(fold - 2)) > 1e-3
    hard, soft = _endpoint(0.0, **kw), _endpoint(1e-6, **kw)
    h, s = _per_patient(hard, values), _per_patient(soft, values)
    assert s == pytest.approx(h, abs=1e-9)
    if hard.summary == "fraction":
        assert 0 < h.mean() < 1  # the criterion splits the patients: the check can fail
        assert soft.summarise({"e": s})["fraction"].estimate == pytest.approx(
            hard.summarise({"e": h})["fraction"].estimate, abs=1e-9)


# --- (d) smoothness on a real trial, through the objective's own path --------------------------


def _response_rate(softness: float, grid) -> np.ndarray:
    target = next(t for t in joint.CALIBRATION_TARGETS if t.id == "itp-response-day7")
    objective = joint.Objective([target], fast=True, sizes={"itp-robak-2009.yaml": 100}, softness=softness)
    return np.array([objective.verdicts({"phagocytosis_cooperativity": float(c)})[0].simulated for c in grid])


def test_the_soft_response_rate_is_smooth_where_the_hard_one_jumps_whole_patients():
    grid = np.arange(8.0, 10.01, 0.25)
    hard, soft = _response_rate(0.0, grid), _response_rate(joint.SOFTNESS, grid)
    # Hard: whole patients of 100 (in per cent), flat between jumps.
    assert np.array_equal(hard, np.round(hard)) and (np.diff(hard) == 0).any() and (np.diff(hard) != 0).any()
    # Soft: strictly increasing everywhere, near the hard rate, and its second differences
    # (the curvature a finite-difference Hessian sees) far smaller than the hard one's.
    assert (np.diff(soft) > 0).all()
    assert np.max(np.abs(soft - hard)) < 2.0
    assert np.max(np.abs(np.diff(soft, 2))) < 0.25 * np.max(np.abs(np.diff(hard, 2)))


def test_the_objective_is_soft_by_default_and_refuses_a_softness_outside_0_1():
    assert joint.SOFTNESS == 0.05
    assert joint.Objective([]).softness == joint.SOFTNESS
    for bad in (-0.1, 1.0, float("nan"), True, "0.05"):
        with pytest.raises(InputError, match="softness"):
            joint.Objective([], softness=bad)


@pytest.mark.parametrize("bad", ["1.5", "-0.01", "1", "abc", "nan"])
def test_the_script_refuses_a_bad_softness_in_one_line_with_status_2(bad, capsys):
    assert calibrate_main(["--joint", "--softness", bad]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --softness: expected") and "\n" not in err
