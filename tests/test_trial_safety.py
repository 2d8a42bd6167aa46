"""Adverse events in trials: per-patient columns, per-arm incidence, endpoints on them."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from ivigsim.errors import InputError
from ivigsim.io.trial_file import load_trial, parse_trial
from ivigsim.trial.runner import run_trial

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "trials" / "cidp-maintenance-dose.yaml"


@pytest.fixture(scope="module")
def result():
    trial = dataclasses.replace(load_trial(EXAMPLE), size=150)
    return run_trial(trial)


def test_adverse_event_endpoint_matches_the_sampled_counts(result):
    table = result.patients
    for arm in result.summary["arms"]:
        rows = table[table["arm"] == arm["arm"]]
        by_hand = float((rows["ae_headache_events"] >= 1).mean())
        assert arm["endpoints"]["any_headache"]["estimates"]["fraction"]["estimate"] == pytest.approx(by_hand)
        assert arm["adverse_events"]["headache"]["observed_incidence"]["estimate"] == pytest.approx(by_hand)
        expected = float(rows["ae_headache_probability"].mean())
        assert arm["adverse_events"]["headache"]["expected_incidence"]["estimate"] == pytest.approx(expected)


def test_no_regimen_no_events_and_more_dose_more_headache(result):
    incidence = {a["arm"]: a["adverse_events"]["headache"]["expected_incidence"]["estimate"]
                 for a in result.summary["arms"]}
    assert incidence["placebo"] == 0.0
    assert incidence["0.5 g/kg q3w"] < incidence["1 g/kg q3w"] < incidence["2 g/kg q3w"]


def test_adverse_event_endpoints_refuse_a_day_or_a_window():
    doc = {"name": "t", "disease": "none", "seed": 1, "size": 5,
           "arms": [{"name": "a", "regimen": "itp"}],
           "endpoints": [{"name": "h", "output": "ae_headache_events", "at_day": 3, "criterion": ">= 1",
                          "summary": "fraction"}],
           "simulation": {"days": 10}}
    with pytest.raises(InputError, match="endpoints.0"):
        parse_trial(doc)
    doc["endpoints"][0].pop("at_day")
    trial = parse_trial(doc)
    assert np.isfinite(run_trial(trial).summary["arms"][0]["endpoints"]["h"]["estimates"]["fraction"]["estimate"])
