"""Premedication as a regimen element, acting on infusion-reaction risks (docs/safety.md)."""

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import expit, logit

from ivigsim.dosing import Course, Regimen, get_product
from ivigsim.dosing.premedication import Premedication
from ivigsim.errors import InputError
from ivigsim.io.trial_file import parse_trial
from ivigsim.model.patient import Patient
from ivigsim.safety.events import EVENTS
from ivigsim.safety.exposure import drivers_for_plan
from ivigsim.safety.factors import RiskFactors
from ivigsim.safety.premedication import DEFAULT_ODDS_RATIOS, odds_ratio, premedicated
from ivigsim.safety.report import evaluate
from ivigsim.trial.runner import run_trial
from tests.test_trial_file import small_trial

DECLARED = {"headache": 0.5, "fever_chills": 0.8, "immediate_reaction": 0.3}
PATIENT = Patient(70.0, 170.0, "female", 40.0)


def _regimen(premedication=None) -> Regimen:
    return Regimen((Course(2.0, 2),), get_product("generic-10"), premedication=premedication)


def test_the_shipped_effect_is_none_and_said_to_be_an_assumption():
    assert all(r == 1.0 for agent in DEFAULT_ODDS_RATIOS.values() for r in agent.values())
    full = Premedication(True, True, True)
    assert all(odds_ratio(full, e) == 1.0 for e in DECLARED)
    plan = _regimen(full).compile(PATIENT, "cidp")
    bare = _regimen().compile(PATIENT, "cidp")
    factors = RiskFactors()
    for a, b in zip(evaluate(plan, PATIENT, factors), evaluate(bare, PATIENT, factors)):
        np.testing.assert_array_equal(a, b)


def test_each_patients_odds_are_multiplied_by_the_declared_ratio_in_closed_form():
    """Within a patient (given its susceptibility z), the odds of each reaction at every infusion
    are multiplied by the declared odds ratio exactly; other events are untouched."""
    premedication = Premedication(paracetamol=True, antihistamine=True, odds_ratios=DECLARED)
    plan = _regimen(premedication).compile(PATIENT, "cidp")
    d = drivers_for_plan(plan, PATIENT, RiskFactors(blood_group="O"))
    after = {e.name: e for e in premedicated(EVENTS, premedication)}
    z = np.linspace(-3, 3, 13)[:, None]
    for event in EVENTS:
        p0 = event.conditional_probability(d, z)
        p1 = after[event.name].conditional_probability(d, z)
        expected = math.log(DECLARED.get(event.name, 1.0))
        np.testing.assert_allclose(logit(p1) - logit(p0), expected, rtol=1e-9, atol=1e-9)


def test_population_averaged_probability_is_the_integral_over_susceptibility():
    """Independent answer: scipy's quad over u ~ N(0, sd^2) of expit(eta + log(OR) + u)."""
    premedication = Premedication(corticosteroid=True, odds_ratios=DECLARED)
    plan = _regimen(premedication).compile(PATIENT, "cidp")
    d = drivers_for_plan(plan, PATIENT, RiskFactors(blood_group="O"))
    for event in premedicated(EVENTS, premedication):
        if event.name not in DECLARED:
            continue
        base = next(e for e in EVENTS if e.name == event.name)
        sd = base.frailty_sd
        eta = base.linear_predictor(d) + math.log(DECLARED[event.name])
        for k, e in enumerate(np.atleast_1d(eta)):
            integral = quad(lambda u: expit(e + u) * math.exp(-u * u / (2 * sd * sd)) / (sd * math.sqrt(2 * math.pi)),
                            -12 * sd, 12 * sd, limit=200)[0]
            # the models average over the susceptibility by 64-node Gauss-Hermite (ivigsim.safety.models):
            # about 2e-4 relative error against adaptive quadrature at frailty_sd 4.9
            assert event.infusion_probability(d)[k] == pytest.approx(integral, rel=1e-3)


def test_a_trial_arm_with_premedication_lowers_only_the_reactions_it_names():
    doc = small_trial(size=30)
    doc["regimens"] = {"one": {"course": {"total_g_per_kg": 1.0, "days": 1}},
                       "premed": {"course": {"total_g_per_kg": 1.0, "days": 1},
                                  "premedication": {"paracetamol": True, "odds_ratios": {"headache": 0.5}}},
                       "premed_default": {"course": {"total_g_per_kg": 1.0, "days": 1},
                                          "premedication": {"paracetamol": True, "antihistamine": True}}}
    doc["arms"] = [{"name": "plain", "regimen": "one"}, {"name": "premedicated", "regimen": "premed"},
                   {"name": "default effect", "regimen": "premed_default"}]
    result = run_trial(parse_trial(doc), None, chunk_size=30)
    rows = {arm: df.sort_values("patient").reset_index(drop=True) for arm, df in result.patients.groupby("arm")}
    plain, premed, default = rows["plain"], rows["premedicated"], rows["default effect"]
    assert (premed["ae_headache_probability"] < plain["ae_headache_probability"]).all()
    for column in [c for c in plain.columns if c.startswith("ae_") and "headache" not in c]:
        np.testing.assert_array_equal(premed[column], plain[column])
    for column in [c for c in plain.columns if c.startswith("ae_")]:
        np.testing.assert_array_equal(default[column], plain[column])


@pytest.mark.parametrize("change, message", [
    ({"odds_ratios": {"headache": 0}}, "regimen.premedication.odds_ratios.headache: expected an odds ratio above 0"),
    ({"paracetamol": True, "odds_ratios": {"thrombosis": 0.5}}, "regimen.premedication.odds_ratios: expected events among"),
    ({"odds_ratios": {"headache": 0.5}}, "regimen.premedication: expected at least one agent"),
])
def test_bad_premedication_is_one_line(change, message):
    with pytest.raises(InputError) as info:
        Premedication(**change)
    assert message in str(info.value)
