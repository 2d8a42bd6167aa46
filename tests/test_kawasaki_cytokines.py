"""Kawasaki disease cytokines (calibration-targets s.5, Wang 2013; Li 2019): IL-6 (median
about 54 pg/mL at presentation) falls quickly after IVIG. Read from the IVIG resistance
trial, whose children are also simulated without IVIG."""

import dataclasses

import pytest

from ivigsim.io.trial_file import load_trial
from ivigsim.trial.runner import run_trial
from ivigsim.validation.trial_targets import TRIALS


@pytest.fixture(scope="module")
def il6():
    trial = dataclasses.replace(load_trial(TRIALS / "kawasaki-ivig-resistance.yaml"), size=300)
    summary = run_trial(trial).summary
    return {(a["arm"], name): e["estimates"]["median"]["estimate"]
            for a in summary["arms"] for name, e in a["endpoints"].items() if name.startswith("il6")}


def test_il6_at_presentation_is_the_cohorts_median(il6):
    assert il6[("IVIG 2 g/kg", "il6_at_presentation")] == pytest.approx(54.0, rel=0.2)


def test_il6_falls_quickly_after_ivig_and_slowly_without(il6):
    start = il6[("IVIG 2 g/kg", "il6_at_presentation")]
    assert il6[("IVIG 2 g/kg", "il6_day1")] < 0.5 * start  # within a day of the infusion
    assert il6[("aspirin alone", "il6_day1")] > 0.8 * il6[("aspirin alone", "il6_at_presentation")]
    assert il6[("IVIG 2 g/kg", "il6_day2")] < 0.5 * il6[("aspirin alone", "il6_day2")]
