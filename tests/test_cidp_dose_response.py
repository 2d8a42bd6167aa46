"""CIDP: the maintenance dose and IVIG dependence (issue 12, item 4), against calibration-targets
s.12.2 (docs/diseases.md, "CIDP dose and IVIG dependence").

- responders rise with the maintenance dose (examples/trials/cidp-maintenance-dose.yaml), and stable
  patients stay stable more often the more of their dose they keep (examples/trials/cidp-scig-taper.yaml)
  - in the direction of the tapering study, but too little: a documented gap, pinned here and in
  tests/test_validation_honesty.py;
- relapse after stopping is a distribution over patients and time, not a step
  (examples/trials/cidp-imc-relapse-after-stopping.yaml);
- the withdrawal, IMC and half-dose checks' verdicts;
- structure: with IVIG's mechanisms switched off, the dose no longer matters.

Small trials (300 patients per arm, paired), a few seconds each.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.stats import binomtest

from ivigsim.io.trial_file import load_trial
from ivigsim.trial.runner import run_trial
from ivigsim.validation.runner import ALL_TARGETS, run_targets
from ivigsim.validation.trial_targets import TRIALS, with_overrides

SIZE = 300
BY_ID = {t.id: t for t in ALL_TARGETS}
DOSES = ("0.5 g/kg q3w", "1 g/kg q3w", "2 g/kg q3w")
MECHANISMS_OFF = {f"{m}_strength": 0.0 for m in ("fcgr_blockade", "complement_scavenging", "cytokine_neutralisation",
                                                 "b_cell_inhibition", "treg_expansion", "anti_idiotype")}


def _run(name: str, overrides=None):
    trial = dataclasses.replace(load_trial(TRIALS / name), size=SIZE)
    return run_trial(with_overrides(trial, overrides or {}))


def _per_patient(result, endpoint: str) -> dict[str, np.ndarray]:
    p = result.patients
    return {arm: p[p["arm"] == arm].sort_values("patient")[endpoint].to_numpy(dtype=float)
            for arm in p["arm"].unique()}


def _estimate(result, arm: str, endpoint: str, statistic: str = "fraction") -> float:
    a = next(a for a in result.summary["arms"] if a["arm"] == arm)
    return a["endpoints"][endpoint]["estimates"][statistic]["estimate"]


@pytest.fixture(scope="module")
def maintenance():
    return _per_patient(_run("cidp-maintenance-dose.yaml"), "responder_kept_to_week24")


@pytest.fixture(scope="module")
def taper():
    return _run("cidp-scig-taper.yaml")


def test_responders_rise_with_maintenance_dose(maintenance):
    """Paired: the same patients on 0.5, 1 and 2 g/kg every 3 weeks. More respond on each higher dose, and
    (discordant pairs) more patients respond on 2 g/kg but not 0.5 than the other way round."""
    shares = [maintenance[d].mean() for d in DOSES]
    assert shares[0] <= shares[1] <= shares[2] and shares[2] > shares[0], shares
    gained = int(((maintenance[DOSES[2]] == 1) & (maintenance[DOSES[0]] == 0)).sum())
    lost = int(((maintenance[DOSES[2]] == 0) & (maintenance[DOSES[0]] == 1)).sum())
    assert gained > lost and binomtest(gained, gained + lost).pvalue < 0.05, (gained, lost)  # McNemar (exact)
    assert all(s > maintenance["placebo"].mean() + 0.2 for s in shares)


def test_stable_patients_stay_stable_more_often_the_more_of_their_dose_they_keep(taper):
    """Tapering study (s.12.2): 36 % of stable patients off treatment without relapse, so 64 % (35/55) need
    some of their dose. The model has the direction: the share still stable falls step by step as the dose is
    cut. Its size is the documented gap `cidp-taper-off-without-relapse`: the model loses about a quarter of
    its stable patients between full dose and none, fewer than the Wilson interval of 35/55 allows."""
    steps = ("stable_at_90pct", "stable_at_75pct", "stable_at_50pct", "stable_at_25pct", "off_without_relapse")
    stable = [_estimate(taper, "taper", s) for s in steps]
    assert all(a >= b for a, b in zip(stable, stable[1:])) and stable[0] > stable[-1] + 0.1, stable
    ci = binomtest(35, 55).proportion_ci(method="wilson")  # 35/55 relapsed somewhere on the taper
    lost = 1.0 - stable[-1]
    assert 0.15 < lost < ci.low, (lost, ci.low)  # the gap: pinned; a repair that closes it must update this test


def test_relapse_after_stopping_is_graded_over_patients_and_time():
    """IMC-like stop after 24 weeks of IVIG, among responders: some relapse, most do not, and relapses are
    spread over months as each patient's IVIG-derived IgG and effect decay, not at one day."""
    result = _run("cidp-imc-relapse-after-stopping.yaml")
    days = _per_patient(result, "time_to_relapse")["stopped"]
    relapsed = days[np.isfinite(days) & (days < 168)]
    share = len(relapsed) / len(days)
    assert 0.2 < share < 0.6, share
    q10, q50, q90 = np.percentile(relapsed, [10, 50, 90])
    assert q10 > 21, q10  # nobody relapses within three weeks of the last dose's trough
    assert q90 - q10 > 42, (q10, q90)  # spread over more than six weeks
    by_month = [np.mean(days <= d) for d in (56, 84, 112, 140, 168)]
    assert all(a < b for a, b in zip(by_month, by_month[1:])), by_month  # still rising every month


@pytest.mark.parametrize("target_id, role", [("cidp-withdrawal-vs-continued", "check"),
                                             ("cidp-half-dose-half-interval", "check"),
                                             ("cidp-relapse-after-stopping", "calibration")])
def test_cidp_dependence_targets_pass(target_id, role):
    """Adrichem's withdrawal and Kuitwaard's half dose are checks (nothing fitted); IMC's relapse after
    stopping fixed the effector threshold (with ICE), so passing it shows the fit."""
    (verdict,) = run_targets([BY_ID[target_id]], fast=True)
    assert BY_ID[target_id].role == role and not BY_ID[target_id].known_gap
    assert verdict.passed, (target_id, verdict.simulated, verdict.lower, verdict.upper)


def test_withdrawal_is_worse_than_continuing_but_not_by_a_relapse_in_everyone():
    """Adrichem 2022: withdrawal not shown non-inferior (difference -0.47 logits, CI -1.24 to 0.31):
    on average worse, with most withdrawn patients not relapsing."""
    result = _run("cidp-adrichem-2022-withdrawal.yaml")
    change = _per_patient(result, "incat_change_week24")
    diff = change["withdrawn"] - change["continued"]
    relapsed = _per_patient(result, "relapse_by_week24")
    assert diff.mean() > 0.2, diff.mean()
    assert relapsed["continued"].mean() < 0.02 and 0.2 < relapsed["withdrawn"].mean() < 0.6, relapsed["withdrawn"].mean()


def test_with_ivig_mechanisms_switched_off_the_dose_response_is_flat(maintenance):
    """Structural: the dose acts through IVIG's mechanisms; without them (only the faster autoantibody
    catabolism through saturated FcRn is left) every dose loses most of its responders and the doses
    differ by no more than a few points."""
    off = _per_patient(_run("cidp-maintenance-dose.yaml", MECHANISMS_OFF), "responder_kept_to_week24")
    shares = [off[d].mean() for d in DOSES]
    assert max(shares) - min(shares) < 0.05, shares
    for d in DOSES:
        assert maintenance[d].mean() - off[d].mean() > 0.15, (d, maintenance[d].mean(), off[d].mean())
