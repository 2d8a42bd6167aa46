"""Shape of the adverse-event models: probabilities in [0, 1] whatever the input
(property-based), and monotonic where the evidence says so (s.9 and the boxed warnings):
faster rate -> more reactions; sucrose -> more kidney injury; non-O blood group and
2 g/kg -> more haemolysis; migraine -> more aseptic meningitis; more IgG -> more thrombosis.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivigsim.dosing import Course, Dose, InfusionSpec, Regimen, get_product
from ivigsim.errors import InputError
from ivigsim.model.patient import Patient
from ivigsim.safety import EVENTS, RiskFactors, drivers_for_plan
from ivigsim.safety import events as ev
from ivigsim.safety.exposure import Drivers, course_doses, first_infusions, risk_windows
from ivigsim.safety.report import evaluate
from ivigsim.validation.safety_calibration import single

REACTION_MODELS = (ev.HEADACHE, ev.FEVER_CHILLS, ev.IMMEDIATE)


def p(model, **changes) -> float:
    return float(model.infusion_probability(single(**changes))[0])


# -- monotonic where the evidence says so ------------------------------------------------------

@pytest.mark.parametrize("model", REACTION_MODELS, ids=lambda m: m.name)
def test_faster_peak_rate_means_more_reactions(model):
    rates = [0.5, 1.0, 2.0, 4.0, 8.0, 12.0]
    risks = [p(model, peak_rate_mg_per_kg_min=r) for r in rates]
    assert all(b >= a for a, b in zip(risks, risks[1:]))
    assert risks[-1] > risks[0]


@pytest.mark.parametrize("model", (ev.FEVER_CHILLS, ev.IMMEDIATE), ids=lambda m: m.name)
def test_starting_fast_without_titration_means_more_reactions(model):
    titrated = p(model, start_rate_mg_per_kg_min=0.5, peak_rate_mg_per_kg_min=8.0)
    straight = p(model, start_rate_mg_per_kg_min=8.0, peak_rate_mg_per_kg_min=8.0)
    assert straight > titrated


def test_below_the_fast_rate_threshold_rate_does_not_matter():
    """1.5 mL/kg/h (s.9) is 2.5 mg/kg/min of a 10 % product."""
    assert p(ev.IMMEDIATE, peak_rate_mg_per_kg_min=1.0) == p(ev.IMMEDIATE, peak_rate_mg_per_kg_min=2.5)
    assert p(ev.IMMEDIATE, peak_rate_mg_per_kg_min=2.6) > p(ev.IMMEDIATE, peak_rate_mg_per_kg_min=2.5)


def test_a_5_percent_product_at_the_same_mg_per_kg_min_is_a_faster_volume_rate():
    assert p(ev.IMMEDIATE, peak_rate_mg_per_kg_min=2.0, concentration_g_per_mL=0.05) > p(
        ev.IMMEDIATE, peak_rate_mg_per_kg_min=2.0, concentration_g_per_mL=0.10)


@pytest.mark.parametrize("model", REACTION_MODELS + (ev.ASEPTIC_MENINGITIS,), ids=lambda m: m.name)
def test_first_infusions_react_more(model):
    if "first_infusion" in model.covariates():
        assert p(model, first_infusion=1.0) > p(model, first_infusion=0.0)


def test_faster_rate_means_more_kidney_injury_and_thrombosis_above_3_3():
    for model in (ev.ACUTE_KIDNEY_INJURY, ev.ARTERIAL_THROMBOSIS, ev.VENOUS_THROMBOSIS):
        assert p(model, peak_rate_mg_per_kg_min=3.0) == p(model, peak_rate_mg_per_kg_min=1.0)
        assert p(model, peak_rate_mg_per_kg_min=8.0) > p(model, peak_rate_mg_per_kg_min=3.3)


def test_sucrose_means_more_kidney_injury():
    for dose in (0.4, 1.0, 2.0):
        assert p(ev.ACUTE_KIDNEY_INJURY, sucrose=1.0, g_per_kg=dose, course_g_per_kg=dose) > p(
            ev.ACUTE_KIDNEY_INJURY, sucrose=0.0, g_per_kg=dose, course_g_per_kg=dose)


def test_non_o_blood_group_and_2_g_per_kg_mean_more_haemolysis():
    def course(non_o, g):
        return float(ev.HAEMOLYSIS.course_probability(single(g_per_kg=g, non_o_blood_group=non_o)))

    assert course(1.0, 2.0) > course(0.0, 2.0)
    assert course(1.0, 2.0) > course(1.0, 1.0) > course(1.0, 0.4)
    assert course(0.0, 2.0) > course(0.0, 1.0)
    assert float(ev.HAEMOLYSIS.course_probability(single(g_per_kg=2.0, non_o_blood_group=1.0, inflammation=1.0))) > course(1.0, 2.0)


def test_headache_rises_with_dose_and_migraine_raises_aseptic_meningitis():
    doses = [0.25, 0.5, 1.0, 2.0, 3.0]
    risks = [p(ev.HEADACHE, g_per_kg=g) for g in doses]
    assert all(b > a for a, b in zip(risks, risks[1:]))
    assert float(ev.ASEPTIC_MENINGITIS.course_probability(single(g_per_kg=2.0, migraine_history=1.0))) > float(
        ev.ASEPTIC_MENINGITIS.course_probability(single(g_per_kg=2.0)))


def test_anti_iga_reactions_grow_with_the_iga_infused():
    low = p(ev.IMMEDIATE, iga_antibodies=1.0, iga_mg_per_kg=0.01)
    high = p(ev.IMMEDIATE, iga_antibodies=1.0, iga_mg_per_kg=2.0)
    assert high > low > p(ev.IMMEDIATE)
    # without anti-IgA antibodies the product's IgA does not matter
    assert p(ev.IMMEDIATE, iga_mg_per_kg=0.01) == p(ev.IMMEDIATE, iga_mg_per_kg=2.0)


def test_thrombosis_grows_with_the_igg_rise_and_the_patients_factors():
    for model in (ev.ARTERIAL_THROMBOSIS, ev.VENOUS_THROMBOSIS):
        rises = [p(model, igg_rise_g_per_L=r) for r in (0.0, 5.0, 10.0, 40.0)]
        assert all(b > a for a, b in zip(rises, rises[1:]))
        assert p(model, prior_thrombosis=1.0) > p(model)
        assert p(model, obese=1.0) > p(model)
        assert p(model, age_years=80.0) > p(model, age_years=50.0)
    assert p(ev.ARTERIAL_THROMBOSIS, diabetes=1.0) > p(ev.ARTERIAL_THROMBOSIS)


def test_no_igg_rise_means_the_baseline_hazard():
    model = ev.ARTERIAL_THROMBOSIS
    assert float(model.hazard_ratio(single(igg_rise_g_per_L=0.0))[0]) == 1.0


# -- course arithmetic -------------------------------------------------------------------------

def test_independent_infusions_compose_as_one_minus_the_product():
    d = single(g_per_kg=1.0)
    three = Drivers(**{f: np.repeat(getattr(d, f), 3) for f in d.__dataclass_fields__})
    one = float(ev.ACUTE_KIDNEY_INJURY.infusion_probability(d)[0])
    assert float(ev.ACUTE_KIDNEY_INJURY.course_probability(three)) == pytest.approx(1 - (1 - one) ** 3, rel=1e-12)


def test_clustered_reactions_give_a_course_risk_below_independence():
    d = single(g_per_kg=1.0)
    six = Drivers(**{f: np.repeat(getattr(d, f), 6) for f in d.__dataclass_fields__})
    one = float(ev.HEADACHE.infusion_probability(d)[0])
    course = float(ev.HEADACHE.course_probability(six))
    assert one < course < 1 - (1 - one) ** 6


def test_course_windows_and_first_infusions():
    start = np.array([0.0, 1.0, 2.0, 21.0, 100.0])
    end = start + 0.2
    g = np.array([0.4, 0.4, 0.4, 1.0, 1.0])
    course, before = course_doses(start, g)
    np.testing.assert_allclose(course, [0.4, 0.8, 1.2, 1.0, 1.0])
    np.testing.assert_allclose(before, [0.0, 0.4, 0.8, 0.0, 0.0])
    np.testing.assert_array_equal(first_infusions(start, end, True), [1, 0, 0, 0, 1])  # > 8 weeks before day 100
    np.testing.assert_array_equal(first_infusions(start, end, False), [0, 0, 0, 0, 1])
    np.testing.assert_allclose(risk_windows(start), [1.0, 1.0, 2.0, 2.0, 2.0])


# -- properties: probabilities stay in [0, 1] --------------------------------------------------

flag = st.sampled_from([0.0, 1.0])


@st.composite
def drivers(draw):
    n = draw(st.integers(1, 6))
    g = np.array(draw(st.lists(st.floats(0.05, 3.0), min_size=n, max_size=n)))
    start = np.cumsum(draw(st.lists(st.floats(0.5, 60.0), min_size=n, max_size=n)))
    course, before = course_doses(start, g)
    peak = np.array(draw(st.lists(st.floats(0.01, 12.0), min_size=n, max_size=n)))
    return Drivers(
        g_per_kg=g, course_g_per_kg=course, course_before_g_per_kg=before, peak_rate_mg_per_kg_min=peak,
        start_rate_mg_per_kg_min=peak * draw(st.floats(0.01, 1.0)), concentration_g_per_mL=draw(st.sampled_from([0.05, 0.1, 0.2])),
        first_infusion=np.array(draw(st.lists(flag, min_size=n, max_size=n))),
        iga_mg_per_kg=draw(st.floats(1e-5, 100.0)), sucrose=draw(flag),
        igg_rise_g_per_L=np.array(draw(st.lists(st.floats(0.0, 150.0), min_size=n, max_size=n))),
        window_days=risk_windows(start), age_years=draw(st.floats(0.0, 120.0)), female=draw(flag), obese=draw(flag),
        migraine_history=draw(flag), iga_antibodies=draw(flag), non_o_blood_group=draw(flag),
        prior_thrombosis=draw(flag), diabetes=draw(flag), renal_impairment=draw(flag), inflammation=draw(flag))


@settings(max_examples=150, deadline=None)
@given(drivers())
def test_every_probability_is_in_0_1_and_the_course_is_at_least_each_infusion(d):
    for model in EVENTS:
        per_infusion = model.infusion_probability(d)
        course = float(model.course_probability(d))
        assert np.all(np.isfinite(per_infusion)) and np.isfinite(course), model.name
        assert np.all((per_infusion >= 0) & (per_infusion <= 1)), model.name
        assert 0.0 <= course <= 1.0, model.name
        assert course >= per_infusion.max() - 1e-12, model.name
        assert course <= per_infusion.sum() + 1e-9, model.name
        z = np.array([-3.0, 0.0, 3.0])[:, None]
        conditional = model.conditional_probability(d, z)
        assert np.all((conditional >= 0) & (conditional <= 1)), model.name


factors_strategy = st.builds(
    RiskFactors, migraine_history=st.booleans(), iga_deficient_with_anti_iga=st.booleans(),
    blood_group=st.sampled_from([None, "O", "A", "B", "AB"]), prior_thrombosis=st.booleans(), diabetes=st.booleans(),
    renal_impairment=st.booleans(), obese=st.sampled_from([None, True, False]), inflammation=st.booleans(),
    ivig_naive=st.booleans())


@settings(max_examples=60, deadline=None)
@given(factors=factors_strategy, g=st.floats(0.1, 3.0), days=st.integers(1, 5),
       rate=st.one_of(st.none(), st.floats(0.2, 8.0)), product=st.sampled_from(["generic-10", "generic-5", "sucrose-5", "privigen"]),
       age=st.floats(0.5, 100.0), weight=st.floats(5.0, 200.0))
def test_risks_of_random_patients_and_regimens_are_probabilities(factors, g, days, rate, product, age, weight):
    product = get_product(product)
    total = g * days
    if rate is not None:  # fast enough that daily infusions do not overlap (20 h at most)
        rate = min(max(rate, g * 1000.0 / (20 * 60.0)), product.max_rate_mg_per_kg_min)
    spec = InfusionSpec(rate_mg_per_kg_min=rate) if rate is not None else None
    if rate is not None and g * 1000.0 / rate > 23 * 60.0:
        spec = None
    regimen = Regimen((Course(total, days, infusion=spec),), product)
    # A height that goes with the weight (BMI 22 at 170 cm; within the model's 5-150 kg/m^2 at any weight drawn).
    patient = Patient(weight_kg=weight, height_cm=min(max(100.0 * (weight / 22.0) ** 0.5, 40.0), 200.0),
                      age_years=age)
    plan = regimen.compile(patient)
    per_infusion, course = evaluate(plan, patient, factors)
    assert per_infusion.shape == (days, len(EVENTS))
    assert np.all((per_infusion >= 0) & (per_infusion <= 1)) and np.all((course >= 0) & (course <= 1))
    assert np.all(course >= per_infusion.max(axis=0) - 1e-12)


def test_unknown_blood_group_averages_o_and_non_o():
    plan = Regimen((Dose(0.0, 2.0),), get_product("generic-10")).compile(Patient())
    h = EVENTS.index(ev.HAEMOLYSIS)
    o = evaluate(plan, Patient(), RiskFactors(blood_group="O"))[1][h]
    a = evaluate(plan, Patient(), RiskFactors(blood_group="A"))[1][h]
    unknown = evaluate(plan, Patient(), RiskFactors())[1][h]
    assert unknown == pytest.approx(0.45 * o + 0.55 * a)


def test_drivers_for_plan_read_the_product_and_the_plan():
    patient = Patient(weight_kg=60.0)
    plan = Regimen((Course(2.0, 2),), get_product("sucrose-5")).compile(patient)
    d = drivers_for_plan(plan, patient, RiskFactors(iga_deficient_with_anti_iga=True))
    np.testing.assert_allclose(d.g_per_kg, [1.0, 1.0])
    np.testing.assert_allclose(d.course_g_per_kg, [1.0, 2.0])
    np.testing.assert_allclose(d.sucrose, [1.0, 1.0])
    np.testing.assert_allclose(d.peak_rate_mg_per_kg_min, [3.3, 3.3])
    np.testing.assert_allclose(d.start_rate_mg_per_kg_min, [0.5, 0.5])
    np.testing.assert_allclose(d.iga_mg_per_kg, [100.0 * 20.0 / 1000.0] * 2)  # 100 ug/mL assumed x 20 mL/kg
    np.testing.assert_allclose(d.first_infusion, [1.0, 0.0])


# -- factors -----------------------------------------------------------------------------------

def test_risk_factors_refuse_bad_values_naming_the_field():
    with pytest.raises(InputError, match="risk_factors.blood_group"):
        RiskFactors(blood_group="C")
    with pytest.raises(InputError, match="risk_factors.diabetes"):
        RiskFactors(diabetes="yes")
    with pytest.raises(InputError, match="risk_factors.obese"):
        RiskFactors(obese=1)


def test_obesity_from_body_mass_index_and_the_at_risk_lists():
    tall = Patient(weight_kg=100.0, height_cm=170.0, age_years=70.0)  # BMI 34.6
    assert RiskFactors().is_obese(tall)
    assert not RiskFactors(obese=False).is_obese(tall)
    assert not RiskFactors().is_obese(Patient(weight_kg=100.0))  # no height: not obese
    assert "obesity" in RiskFactors().thrombosis_risk(tall)
    assert RiskFactors(renal_impairment=True).renal_risk(Patient(age_years=40.0)) == ["renal impairment"]
    assert RiskFactors().renal_risk(Patient(age_years=40.0)) == []
