"""Kawasaki disease by risk, against calibration-targets s.12.4.

- Egami 2006 (320 Japanese children, 2 g/kg): resistance about 32 % (about 32/99) with score
  >= 3 and about 4 % (about 9/221) below (counts derived from the score's sensitivity and
  specificity). The high stratum is fitted (``kawasaki_risk_exponent``, with
  ``fever_cytokine_k`` for McCrindle's 10-20 % overall); the low stratum is the check.
- Sano 2007 (112 children): coronary abnormalities in 71 % of non-responders vs 5 % of
  responders; San Diego: resistant children more often had aneurysms. The model has the
  direction but not the size (a documented gap, pinned below).
"""

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest

from ivigsim.io.trial_file import load_trial
from ivigsim.scenario import Scenario
from ivigsim.simulation import simulate
from ivigsim.trial.runner import run_trial

TRIALS = Path(__file__).resolve().parents[1] / "examples" / "trials"
IVIG = "IVIG 2 g/kg"


def _patients(name: str, size: int):
    table = run_trial(dataclasses.replace(load_trial(TRIALS / name), size=size)).patients
    return table


def _wilson(k: int, n: int) -> tuple[float, float]:
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return ci.low, ci.high


@pytest.fixture(scope="module")
def strata():
    return {s: _patients(f"kawasaki-egami-2006-{s}.yaml", 1000) for s in ("high", "low")}


def test_the_median_child_is_unchanged_by_the_risk_exponent():
    """The covariate scales intensity as rho ** beta: at rho = 1 the exponent does nothing."""
    a = simulate(Scenario(disease="kawasaki", days=10.0, parameters={"kawasaki_risk_exponent": 0.0}))
    b = simulate(Scenario(disease="kawasaki", days=10.0, parameters={"kawasaki_risk_exponent": 2.0}))
    np.testing.assert_allclose(a["body_temperature_C"].values, b["body_temperature_C"].values, rtol=1e-9)


def test_resistance_differs_by_egami_stratum(strata):
    """Each stratum's simulated Wilson interval overlaps Egami's (derived counts); the high stratum
    (fitted) is several-fold the low one (the check) beyond chance. Before the repair the model had no
    risk covariate: both strata were the same children (16 % and 19 % at 300 per arm)."""
    rates = {}
    for stratum, (k_pub, n_pub) in (("high", (32, 99)), ("low", (9, 221))):
        ivig = strata[stratum][strata[stratum]["arm"] == IVIG]
        k, n = int((ivig["fever_36h_after_infusion"] > 0.5).sum()), len(ivig)
        lo, hi = _wilson(k, n)
        lo_pub, hi_pub = _wilson(k_pub, n_pub)
        assert lo <= hi_pub and hi >= lo_pub, (stratum, k / n, (lo_pub, hi_pub))
        rates[stratum] = (k, n)
    (k1, n1), (k0, n0) = rates["high"], rates["low"]
    p1, p0 = k1 / n1, k0 / n0
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    assert p1 / p0 > 3 and (p1 - p0) / se > 1.96, (p1, p0)


def test_coronary_outcome_is_worse_in_the_high_stratum(strata):
    """No stratum-specific coronary figure is published (s.12.4 gives them by response); the
    direction follows from the same covariate, with and without IVIG."""
    for arm in (IVIG, "aspirin alone"):
        high = strata["high"][strata["high"]["arm"] == arm]["coronary_abnormality_by_day30"].mean()
        low = strata["low"][strata["low"]["arm"] == arm]["coronary_abnormality_by_day30"].mean()
        assert high > low, (arm, high, low)


def test_coronary_abnormalities_by_response_sano_2007_direction_and_documented_gap():
    """Sano: 71 % of non-responders vs 5 % of responders. The model has the direction (non-responders
    more often) but not the size: about 4 % vs 0.2 %. Its coronary injury starts at treatment (time 0),
    so the days of fever before IVIG, when Sano's non-responders were already inflamed longest, add
    nothing, and the injury rate is fitted to Newburger's aspirin arm (23 % at 2 weeks), not to
    Japanese echo criteria. Pinned: a change either way shows here."""
    table = _patients("kawasaki-ivig-resistance.yaml", 2000)
    ivig = table[table["arm"] == IVIG]
    resistant = ivig["fever_36h_after_infusion"] > 0.5
    abnormal = ivig["coronary_abnormality_by_day30"] > 0.5
    in_resistant, in_responders = abnormal[resistant].mean(), abnormal[~resistant].mean()
    assert in_resistant > in_responders
    assert 0.01 <= in_resistant <= 0.15 and in_responders <= 0.02, (in_resistant, in_responders)  # the gap
