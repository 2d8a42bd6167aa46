"""Published results the disease models were not fitted to, read from per-patient tables.

- Zinman 2007: the benefit of IVIG over placebo in MG is larger when QMG > 10.5.
- Kuitwaard 2009: GBS patients with a low rise in IgG two weeks after IVIG recover more
  slowly, and fewer walk unaided at 6 months. In the model the link runs through disease
  severity: damaged nerves consume IgG (Fokkink 2022: clearance higher in more severe
  GBS), so the patients whose damage stays high over the first two weeks have both a lower
  rise and a worse outcome. Without that loss the rise is set by baseline IgG and weight
  alone, and the 6-month link vanishes (docs/diseases.md).
"""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from ivigsim.io.trial_file import load_trial
from ivigsim.trial.runner import run_trial

TRIALS = Path(__file__).resolve().parents[1] / "examples" / "trials"


def _patients(name: str, size: int, arm: str | None = None):
    trial = dataclasses.replace(load_trial(TRIALS / name), size=size)
    if arm is not None:
        trial = dataclasses.replace(trial, arms=tuple(a for a in trial.arms if a.name == arm))
    return run_trial(trial).patients


def test_mg_benefit_is_larger_when_qmg_above_10_5():
    table = _patients("mg-zinman-2007.yaml", 400)
    ivig = table[table["arm"] == "IVIG 2 g/kg"].set_index("patient")
    placebo = table[table["arm"] == "placebo"].set_index("patient")
    effect = ivig["qmg_change_day14"] - placebo["qmg_change_day14"]  # paired: the same virtual patients
    severe = ivig["qmg_at_entry"] > 10.5
    assert severe.sum() > 50 and (~severe).sum() > 50
    assert effect[severe].mean() < effect[~severe].mean() < 0


def test_gbs_low_rise_in_igg_goes_with_fewer_improved_at_4_weeks():
    table = _patients("gbs-van-der-meche-1992.yaml", 600)
    ivig = table[table["arm"] == "IVIG 0.4 g/kg x 5"]
    low = ivig["igg_rise_day14"] <= ivig["igg_rise_day14"].quantile(0.25)
    high = ivig["igg_rise_day14"] >= ivig["igg_rise_day14"].quantile(0.75)
    assert np.isfinite(ivig["igg_rise_day14"]).all()
    assert ivig.loc[low, "improved_1_grade_week4"].mean() < ivig.loc[high, "improved_1_grade_week4"].mean()


@pytest.mark.slow  # 2 s or more (README run under 5 minutes): in CI and with --run-slow
def test_gbs_low_rise_in_igg_goes_with_fewer_walking_at_6_months():
    # Kuitwaard's link was significant (log-rank p < 0.001); here the two quarters must differ
    # beyond chance too (two-proportion z > 1.96). With 2,500 patients a quarter the standard
    # error of the difference is about 1 point: the model gives about 4 (84 % against 88 %),
    # and without GBS's loss of IgG about 0.
    ivig = _patients("gbs-van-der-meche-1992.yaml", 10_000, arm="IVIG 0.4 g/kg x 5")
    rise = ivig["igg_rise_day14"]
    assert np.isfinite(rise).all() and (ivig["solver_status"] == "SUCCESS").all()
    low, high = rise <= rise.quantile(0.25), rise >= rise.quantile(0.75)
    walks = ivig["cannot_walk_month6"] == 0
    p_low, p_high, pooled = walks[low].mean(), walks[high].mean(), walks[low | high].mean()
    z = (p_high - p_low) / np.sqrt(pooled * (1 - pooled) * (1 / low.sum() + 1 / high.sum()))
    assert z > 1.96, (p_low, p_high)
