"""Every disease target (calibration-targets s.4-8) reproduced by its shipped trial file.

The quick run (300 patients per arm) is what CI checks; `ivigsim validate` runs the files'
own sizes. Verdicts allow for Monte Carlo error (the simulated 95 % interval must overlap the
accepted one). Targets the model is known to miss carry their reason and are reported as gaps,
pinned to today's values in tests/test_validation_honesty.py; every other target must pass.
"""

import pytest

from ivigsim.validation.runner import run_targets
from ivigsim.validation.targets import Target, wilson_interval
from ivigsim.validation.trial_targets import DISEASE_TARGETS, READOUTS, TRIALS


@pytest.fixture(scope="module")
def verdicts():
    return {v.target.id: v for v in run_targets(DISEASE_TARGETS, fast=True)}


@pytest.mark.parametrize("target", DISEASE_TARGETS, ids=lambda t: t.id)
def test_disease_target(target, verdicts):
    """Passes (or, for an identity, holds); a documented gap may miss, and its number is pinned
    in test_validation_honesty.py, so this test does not wave it through unmeasured."""
    v = verdicts[target.id]
    lo, hi = target.acceptance
    assert not v.unexpected_failure, (
        f"{target.id}: simulated {v.simulated:.4g} ({v.lower:.4g} to {v.upper:.4g}) outside {lo:.4g}-{hi:.4g} "
        f"({target.source})")
    if not target.known_gap:
        assert v.passed


def test_every_disease_target_has_a_shipped_trial_file():
    for target in DISEASE_TARGETS:
        assert (TRIALS / READOUTS[target.id].trial).is_file()
    checks = {READOUTS[t.id].trial for t in DISEASE_TARGETS if t.role == "check"}
    # Every disease keeps figures for checking, not fitting (CIDP's: relapse, withdrawal, half dose, taper, s.12.2).
    assert {name.split("-")[0] for name in checks} == {"itp", "mg", "gbs", "kawasaki", "cidp"}


def test_wilson_interval_against_a_hand_computation():
    # 4/19: p = 0.2105; Wilson 95 %: 0.0851-0.4334 (e.g. Newcombe 1998, method 3)
    lo, hi = wilson_interval(4, 19)
    assert lo == pytest.approx(0.0851, abs=5e-4) and hi == pytest.approx(0.4334, abs=5e-4)
    t = Target("x", "q", 21.1, "%", "s", "abstract", "check", "rate", counts=(4, 19))
    assert t.acceptance == pytest.approx((8.51, 43.34), abs=0.05)


def test_every_trial_target_carries_an_interval_around_its_estimate(verdicts):
    """The Monte Carlo rule needs an interval for every trial estimate: a missing (NaN) one fails here.
    (That it contains its estimate holds by construction for these intervals; it is not evidence.)"""
    for v in verdicts.values():
        assert v.has_interval, v.target.id
        assert v.lower <= v.simulated <= v.upper, v.target.id


def test_a_difference_between_arms_takes_its_interval_from_paired_patients():
    """Zinman's QMG difference: the interval is the t interval of per-patient differences,
    recomputed here with scipy from the trial's own table."""
    import dataclasses

    import numpy as np
    from scipy import stats

    from ivigsim.io.trial_file import load_trial
    from ivigsim.trial.runner import run_trial

    readout = READOUTS["mg-qmg-vs-placebo-day14"]
    result = run_trial(dataclasses.replace(load_trial(TRIALS / readout.trial), size=120))
    table = result.patients
    by_arm = {a: table[table["arm"] == a].set_index("patient")[readout.endpoint] for a in (readout.arm, readout.minus_arm)}
    d = (by_arm[readout.arm] - by_arm[readout.minus_arm]).to_numpy()
    half = stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size)
    estimate, lower, upper = readout.estimate(result.summary, table)
    assert estimate == pytest.approx(d.mean(), abs=1e-9)
    assert (lower, upper) == pytest.approx((d.mean() - half, d.mean() + half), abs=1e-9)
