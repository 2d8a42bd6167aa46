"""Risk tables of a scenario, simulate's output with the risks attached, rate planning,
and adverse events in virtual trials (seeded, chunk-independent)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import xarray as xr

from ivigsim.dosing import Course, Dose, Maintenance, Regimen, get_product, get_regimen
from ivigsim.errors import InputError
from ivigsim.model.patient import Patient
from ivigsim.population.rng import CounterRNG
from ivigsim.safety import EVENT_NAMES, RiskFactors
from ivigsim.safety.trial import safety_columns
from ivigsim.safety_rates import PRACTICAL_MAX_HOURS, plan_rates, practicable_plateau
from ivigsim.safety_report import assess
from ivigsim.safety_risks import course_risks, infusion_risks
from ivigsim.scenario import Scenario
from ivigsim.simulation import attach_risks, simulate
from ivigsim.trial.safety_summary import summarise_safety


def scenario(*parts, product="generic-10", days=30.0, **patient) -> Scenario:
    return Scenario(patient=Patient(**{"weight_kg": 70.0, "height_cm": 175.0, **patient}),
                    regimen=Regimen(parts, get_product(product)), days=days, output_every_days=1.0)


GBS = scenario(Course(2.0, 5))


def test_infusion_risks_is_labelled_infusion_by_event():
    risks = infusion_risks(GBS, RiskFactors(blood_group="A"))
    assert risks["probability"].dims == ("infusion", "event")
    assert list(risks["event"].values) == list(EVENT_NAMES)
    assert risks.sizes["infusion"] == 5
    assert risks["probability"].attrs["units"] == "1"
    np.testing.assert_allclose(risks["g_per_kg"], 0.4)
    np.testing.assert_allclose(risks["course_g_per_kg"], [0.4, 0.8, 1.2, 1.6, 2.0])
    assert bool(risks["first_infusion"][0]) and not risks["first_infusion"][1:].any()
    assert risks.attrs["igg_rise_source"] == "simulated"
    assert ((risks["probability"] >= 0) & (risks["probability"] <= 1)).all()
    course = course_risks(GBS, RiskFactors(blood_group="A"))
    xr.testing.assert_allclose(course, risks["course_probability"])


def test_igg_rises_come_from_the_simulation():
    ds = simulate(GBS)
    risks = infusion_risks(GBS, dataset=ds)
    rise = ds["igg_total_post_infusion_g_per_L"].values[0] - float(ds["igg_total_g_per_L"][0, 0])
    np.testing.assert_allclose(risks["igg_rise_g_per_L"].values, rise)
    surrogate = infusion_risks(GBS, simulate_state=False)
    assert surrogate.attrs["igg_rise_source"].startswith("estimated")
    np.testing.assert_allclose(surrogate["igg_rise_g_per_L"].values, rise, rtol=0.03)


def test_a_scenario_without_a_regimen_is_refused():
    with pytest.raises(InputError, match="regimen"):
        infusion_risks(Scenario())


def test_attach_risks_adds_patient_infusion_event_variables_that_write_to_netcdf(tmp_path):
    s = scenario(Course(2.0, 2), Maintenance(1.0, 21.0, 21.0, count=3), days=50.0)
    ds = simulate(s)
    out = attach_risks(ds, s, RiskFactors(migraine_history=True))
    assert out["adverse_event_probability"].dims == ("patient", "infusion", "event")
    assert out.sizes["infusion"] == ds.sizes["infusion"] == 4  # the day-63 dose is after day 50
    assert out["adverse_event_course_probability"].dims == ("patient", "event")
    out.to_netcdf(tmp_path / "r.nc", engine="scipy")
    back = xr.open_dataset(tmp_path / "r.nc", engine="scipy")
    np.testing.assert_allclose(back["adverse_event_probability"].values, out["adverse_event_probability"].values)


# -- rate planning -----------------------------------------------------------------------------

def test_fastest_plan_is_the_label_titration_and_slowest_takes_the_practical_maximum():
    planning = plan_rates(scenario(Dose(0.0, 1.0)))
    assert planning.fastest.peak_rates.max() == pytest.approx(8.0)
    assert planning.slowest.hours.max() == pytest.approx(PRACTICAL_MAX_HOURS, rel=1e-6)
    assert planning.slowest.peak_rates.max() < 3.3
    assert planning.fastest.hours.max() < planning.slowest.hours.max()


def test_the_slower_plan_has_less_reaction_thrombosis_and_kidney_risk():
    s = scenario(Course(2.0, 2), age_years=70.0)
    planning = plan_rates(s, RiskFactors(prior_thrombosis=True, diabetes=True))
    fast, slow = planning.fastest.risks, planning.slowest.risks
    assert (slow["infusion_reaction_probability"] < fast["infusion_reaction_probability"]).all()
    for event in ("immediate_reaction", "fever_chills", "arterial_thrombosis", "acute_kidney_injury"):
        assert float(slow["course_probability"].sel(event=event)) < float(fast["course_probability"].sel(event=event)), event


def test_a_small_dose_runs_at_the_label_start_rate():
    assert practicable_plateau(0.2, get_product("generic-10"), None) == pytest.approx(0.5)


def test_an_indication_limit_caps_the_fastest_plan():
    s = dataclasses.replace(scenario(Dose(0.0, 1.0), product="privigen"), indication="itp")
    assert plan_rates(s).fastest.peak_rates.max() == pytest.approx(4.0)


def test_risk_factors_call_for_the_slowest_practicable_rate():
    s = scenario(Dose(0.0, 1.0), age_years=50.0, height_cm=None)
    assert not plan_rates(s, RiskFactors()).warnings
    thrombosis = plan_rates(s, RiskFactors(prior_thrombosis=True)).warnings
    assert any("thrombosis (prior thrombosis)" in w and "slowest practicable" in w for w in thrombosis)
    renal = plan_rates(s, RiskFactors(renal_impairment=True)).warnings
    assert any("renal failure (renal impairment)" in w for w in renal)
    sucrose = plan_rates(scenario(Dose(0.0, 1.0), product="sucrose-5", height_cm=None)).warnings
    assert any("sucrose" in w for w in sucrose)
    old = plan_rates(scenario(Dose(0.0, 1.0), age_years=70.0, height_cm=None)).warnings
    assert any("age > 65" in w and "age >= 65" in w for w in old)


def test_a_dose_too_big_for_the_at_risk_rate_in_12_hours_says_split_it():
    s = scenario(Dose(0.0, 3.0), height_cm=None)
    warnings = plan_rates(s, RiskFactors(prior_thrombosis=True)).warnings
    assert any("split the dose" in w for w in warnings)


def test_anti_iga_migraine_and_haemolysis_warnings():
    s = scenario(Course(2.0, 2), height_cm=None)
    w = plan_rates(s, RiskFactors(iga_deficient_with_anti_iga=True, migraine_history=True, blood_group="AB")).warnings
    assert any("IgA-depleted" in x for x in w)
    assert any("aseptic meningitis" in x for x in w)
    assert any("haemolysis" in x and "blood group AB" in x for x in w)
    assert not any("haemolysis" in x for x in plan_rates(s, RiskFactors(blood_group="O")).warnings)


def test_assess_gathers_tables_infection_and_rate_plan():
    report = assess(scenario(Dose(0.0, 1.0), days=5.0), RiskFactors(blood_group="B"))
    text = "\n".join(report.lines())
    for piece in ("probability per infusion", "per course (1 infusion)", "HIV-1", "parvovirus B19",
                  "fastest label-compliant", "slowest practicable"):
        assert piece in text, piece
    data = report.as_dict()
    assert set(data["course"]) == set(EVENT_NAMES)
    assert len(data["infusions"]) == 1


# -- trials ------------------------------------------------------------------------------------

def _covariates(n: int) -> dict[str, np.ndarray]:
    return {"age_years": np.linspace(20, 80, n), "sex": np.where(np.arange(n) % 2, "female", "male"),
            "weight_kg": np.full(n, 75.0), "height_cm": np.full(n, 170.0)}


def test_trial_columns_are_seeded_and_do_not_depend_on_the_chunk():
    plan = get_regimen("gbs").compile(Patient(weight_kg=1.0), "gbs")
    n = 2000
    cov = _covariates(n)
    whole = safety_columns(plan, cov, CounterRNG(3), np.arange(n))
    part = safety_columns(plan, {k: v[700:900] for k, v in cov.items()}, CounterRNG(3), np.arange(700, 900))
    for name, column in part.items():
        np.testing.assert_array_equal(column, whole[name][700:900])
    other_seed = safety_columns(plan, cov, CounterRNG(4), np.arange(n))
    assert not np.array_equal(other_seed["ae_headache_events"], whole["ae_headache_events"])


@pytest.mark.slow  # 3 s or more (README run under 5 minutes): in CI and with --run-slow
def test_sampled_incidence_matches_the_expected_incidence():
    plan = get_regimen("cidp").compile(Patient(weight_kg=1.0), "cidp")
    n = 20_000
    columns = safety_columns(plan, _covariates(n), CounterRNG(11), np.arange(n))
    summary = summarise_safety(columns)
    for event in ("headache", "fever_chills", "immediate_reaction", "aseptic_meningitis", "haemolysis"):
        expected = summary[event]["expected_incidence"]["estimate"]
        observed = summary[event]["observed_incidence"]
        assert observed["lower"] - 0.01 <= expected <= observed["upper"] + 0.01, event
        assert columns[f"ae_{event}_events"].mean() == pytest.approx(columns[f"ae_{event}_expected"].mean(), rel=0.1, abs=0.003)


def test_an_untreated_arm_has_no_adverse_events():
    columns = safety_columns(None, _covariates(10), CounterRNG(1), np.arange(10))
    assert all((v == 0).all() for v in columns.values())


def test_simulate_with_infusions_beyond_the_span_still_gives_every_infusions_risk():
    s = scenario(Maintenance(0.4, 28.0, 0.0, count=4), days=30.0)
    risks = infusion_risks(s)
    assert risks.sizes["infusion"] == 4
    assert np.isfinite(risks["probability"]).all()
    plan = s.regimen.compile(s.patient)
    assert plan.infusions[-1].start_day == pytest.approx(84.0)
