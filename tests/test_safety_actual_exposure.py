"""Adverse-event risks follow the actual exposure (per kg of the patient's own weight), not
the g/kg of dosing weight: an obese patient dosed on adjusted weight gets the risks of the
smaller dose per actual kg, in trials and in single simulations alike."""

from __future__ import annotations

import numpy as np

from ivigsim.dosing import Course, InfusionSpec, Regimen, dosing_weight_kg, get_product
from ivigsim.model.patient import Patient
from ivigsim.population.rng import CounterRNG
from ivigsim.safety.events import EVENTS
from ivigsim.safety.trial import safety_columns
from ivigsim.scenario import Scenario
from ivigsim.simulation import simulate

PATIENT = Patient(weight_kg=130.0, height_cm=170.0, sex="male", age_years=55.0)
INFUSION = InfusionSpec(duration_h=8.0)  # a fixed duration: the same grams take the same time either way


def _per_kg_plan(total_g_per_kg: float):
    regimen = Regimen((Course(total_g_per_kg, 2, infusion=INFUSION),), get_product("generic-10"), allow_above_label=True)
    return regimen.compile(Patient(weight_kg=1.0))


def _columns(total_g_per_kg: float, dosing_kg: float, n: int = 40) -> dict:
    covariates = {"weight_kg": np.full(n, PATIENT.weight_kg), "height_cm": np.full(n, PATIENT.height_cm),
                  "age_years": np.full(n, PATIENT.age_years), "female": np.zeros(n, dtype=bool)}
    return safety_columns(_per_kg_plan(total_g_per_kg), covariates, CounterRNG(7), np.arange(n),
                          dosing_weight_kg=np.full(n, dosing_kg))


def test_trial_risks_depend_on_grams_per_actual_kg():
    adjusted = dosing_weight_kg(PATIENT, "adjusted")
    assert adjusted < PATIENT.weight_kg - 20  # the case the stewardship question is about
    on_adjusted = _columns(2.0, adjusted)
    same_grams_on_actual = _columns(2.0 * adjusted / PATIENT.weight_kg, PATIENT.weight_kg)
    full_actual = _columns(2.0, PATIENT.weight_kg)
    for event in EVENTS:
        key = f"ae_{event.name}_probability"
        np.testing.assert_allclose(on_adjusted[key], same_grams_on_actual[key], rtol=1e-9, err_msg=event.name)
    for name in ("headache", "arterial_thrombosis", "acute_kidney_injury"):
        key = f"ae_{name}_probability"
        assert (on_adjusted[key] < full_actual[key]).all(), name


def test_simulate_risks_depend_on_grams_per_actual_kg_too():
    adjusted = dosing_weight_kg(PATIENT, "adjusted")

    def course_risks(total_g_per_kg: float, dosing: str):
        regimen = Regimen((Course(total_g_per_kg, 2, infusion=INFUSION),), get_product("generic-10"), dosing,
                          allow_above_label=True)
        ds = simulate(Scenario(patient=PATIENT, regimen=regimen, days=14.0))
        return ds["adverse_event_course_probability"].values[0]

    on_adjusted = course_risks(2.0, "adjusted")
    same_grams = course_risks(2.0 * adjusted / PATIENT.weight_kg, "actual")
    np.testing.assert_allclose(on_adjusted, same_grams, rtol=1e-6)
    assert (on_adjusted <= course_risks(2.0, "actual") + 1e-15).all()
