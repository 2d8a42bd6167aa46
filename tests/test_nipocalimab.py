"""Nipocalimab: an FcRn inhibitor with target-mediated disposition (Valenzuela 2025's constants).

The drug and FcRn part of ``ivigsim.model.comparators.fcrn_inhibitor`` is checked against an
independent solve (scipy's Radau) of Valenzuela 2025's quasi-steady-state TMDD equations in their
own units (``ivigsim.validation.valenzuela``); the IgG core's lowering against their IgG model
(another model, not data); efgartigimod must stay the limit without target-mediated disposition
(linear kinetics, equilibrium occupancy).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ivigsim.cli import app
from ivigsim.dosing import Regimen, get_product
from ivigsim.dosing.comparators import FcRnInhibitor, InhibitorKinetics
from ivigsim.engine.solver import Dopri5
from ivigsim.errors import InputError
from ivigsim.io.scenario_file import parse_scenario
from ivigsim.model.comparators.fcrn_inhibitor import NIPOCALIMAB
from ivigsim.model.patient import Patient
from ivigsim.scenario import Scenario
from ivigsim.simulation import simulate
from ivigsim.validation import comparator_checks as cc
from ivigsim.validation import valenzuela

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "comparators" / "mg-nipocalimab.yaml"
ACCURATE = Dopri5(rtol=1e-10, atol=1e-14)
PRODUCT = get_product("generic-10")
WEIGHT = valenzuela.REFERENCE_WEIGHT_KG  # their constants apply as printed
def _ours(mg_per_kg: float, days=(0.0,), horizon: float = 42.0, solver=ACCURATE, **inhibitor):
    regimen = Regimen((FcRnInhibitor(days=days, mg_per_kg=mg_per_kg, **inhibitor),), PRODUCT)
    kwargs = {} if solver is None else {"solver": solver}  # None: the default (rtol 1e-6)
    return simulate(Scenario(patient=Patient(weight_kg=WEIGHT), regimen=regimen, days=horizon,
                             output_every_days=0.25, **kwargs))


@pytest.mark.parametrize("mg_per_kg", [3.0, 30.0])  # below and far above the FcRn pool (about 0.4 mg/kg)
@pytest.mark.slow  # 3 s or more (README run under 5 minutes): in CI and with --run-slow
def test_drug_and_fcrn_agree_with_an_independent_solve_of_valenzuelas_equations(mg_per_kg):
    ds = _ours(mg_per_kg, drug="nipocalimab")
    t = ds["time"].values
    theirs = valenzuela.solve(mg_per_kg, [0.0], t, central_volume_L=cc.model_plasma_volume_L(WEIGHT))
    on = t > 1.0 / 24.0  # after the infusion
    ctot, free_fcrn = theirs.drug_nM[on], theirs.free_fcrn[on]
    ours_nM = ds["fcrn_inhibitor_g_per_L"].values[0][on] / valenzuela.MOLAR_MASS_G_PER_MOL * 1e9
    ours_free = 1.0 - ds["fcrn_inhibitor_occupancy"].values[0][on]
    # The model's constants are Table 3's rounded to 4-6 figures: agreement to 1e-3 of each curve's range.
    np.testing.assert_allclose(ours_nM, ctot, rtol=1e-3, atol=1e-3 * ctot.max())
    np.testing.assert_allclose(ours_free, free_fcrn, rtol=1e-3, atol=1e-3)
    # TMDD, not a bystander: the drug both occupies and depletes FcRn, then FcRn returns.
    assert free_fcrn.min() < 0.1 and free_fcrn[-1] > 0.9
    assert ds["fcrn_accessible_fraction"].values[0].min() < 0.5


@pytest.mark.slow  # 3 s or more (README run under 5 minutes): in CI and with --run-slow
def test_target_mediated_clearance_makes_exposure_more_than_proportional_to_dose():
    auc = {}
    for dose in (3.0, 30.0):
        ds = _ours(dose, drug="nipocalimab", horizon=60.0, solver=None)
        auc[dose] = np.trapezoid(ds["fcrn_inhibitor_g_per_L"].values[0], ds["time"].values)
    assert auc[30.0] / auc[3.0] > 10 * 1.5  # the FcRn sink saturates at the higher dose


def test_efgartigimod_has_no_target_mediated_disposition():
    ds = _ours(10.0, days=(0.0, 7.0), horizon=28.0)
    np.testing.assert_array_equal(ds["fcrn_accessible_fraction"].values, 1.0)
    c, free = ds["fcrn_inhibitor_g_per_L"].values[0], ds["fcrn_inhibitor_free_g_per_L"].values[0]
    np.testing.assert_allclose(free, c, rtol=1e-13)


@pytest.mark.slow  # 2 s or more (README run under 5 minutes): in CI and with --run-slow
def test_a_user_defined_drug_with_nipocalimabs_constants_is_nipocalimab():
    own = {k.removeprefix("fcrn_inhibitor_"): v for k, (v, _) in NIPOCALIMAB.items()}
    twin = InhibitorKinetics(**own, source="Valenzuela 2025, Table 3")
    shipped = _ours(30.0, days=(0.0, 14.0), solver=None, drug="nipocalimab")
    user = _ours(30.0, days=(0.0, 14.0), solver=None, drug="twin", kinetics=twin)
    np.testing.assert_array_equal(user["igg_total_g_per_L"].values, shipped["igg_total_g_per_L"].values)


def test_ivig_given_during_nipocalimab_blockade_is_cleared_faster():
    """A mechanistic prediction: IVIG given while FcRn is blocked leaves plasma faster."""
    ivig = {"course": {"total_g_per_kg": 0.4, "days": 1, "start_day": 14}}
    alone = simulate(parse_scenario({"regimen": ivig, "simulation": {"days": 42}}))
    after = simulate(parse_scenario({"regimen": {**ivig, "fcrn_inhibitor": {
        "drug": "nipocalimab", "days": [0, 14], "mg_per_kg": 30}}, "simulation": {"days": 42}}))
    def left(ds):
        return float(ds["igg_ivig_g_per_L"].sel(time=42.0).values[0] / ds["igg_ivig_g_per_L"].sel(time=16.0).values[0])
    assert left(after) < left(alone)


@pytest.mark.parametrize(("change", "field"), [
    ({"target_g_per_L": -0.01}, "regimen.fcrn_inhibitor.kinetics.target_g_per_L"),
    ({"target_g_per_L": "5 g/L"}, "regimen.fcrn_inhibitor.kinetics.target_g_per_L"),
    ({"internalisation_per_day": 0}, "regimen.fcrn_inhibitor.kinetics.internalisation_per_day"),
    ({"internalisation_per_day": "3 L"}, "regimen.fcrn_inhibitor.kinetics.internalisation_per_day"),
    ({"between_patient_cv": {"clearance": 0.2}}, "regimen.fcrn_inhibitor.kinetics.between_patient_cv"),
    ({"between_patient_cv": {"kd_g_per_L": 25}}, "regimen.fcrn_inhibitor.kinetics.between_patient_cv.kd_g_per_L"),
    ({"between_patient_cv": {"kd_g_per_L": 0}}, "regimen.fcrn_inhibitor.kinetics.between_patient_cv.kd_g_per_L"),
])
def test_bad_target_mediated_constants_are_one_line_naming_the_field(change, field):
    kinetics = {"kd_g_per_L": 0.006, "clearance_70kg_L_per_day": 0.6, "peripheral_volume_L_per_kg": 0.008,
                "distribution_clearance_70kg_L_per_day": 0.24, "source": "assumption: test", **change}
    with pytest.raises(InputError) as caught:
        simulate(parse_scenario({"regimen": {"fcrn_inhibitor": {"drug": "drug-x", "days": [0], "mg_per_kg": 30,
                                                                "kinetics": kinetics}}}))
    assert caught.value.field == field
    assert "\n" not in str(caught.value) and "expected" in str(caught.value)


def test_nipocalimab_takes_no_kinetics_of_its_own():
    with pytest.raises(InputError) as caught:
        FcRnInhibitor(drug="nipocalimab", kinetics=InhibitorKinetics(0.01, 1.0, 0.1, 10.0, "assumption: x"))
    assert caught.value.field == "regimen.fcrn_inhibitor.kinetics"


@pytest.mark.slow  # 3 s or more (README run under 5 minutes): in CI and with --run-slow
def test_the_example_runs_from_the_command_line(tmp_path):
    """examples/comparators/mg-nipocalimab.yaml (its SBML round trip: tests/test_sbml.py)."""
    example = EXAMPLE
    result = CliRunner().invoke(app, ["simulate", str(example), "--out", str(tmp_path), "--no-plot"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "mg-nipocalimab.csv")
    lowering = 1 - table["igg_total_g_per_L"].min() / table["igg_total_g_per_L"].iloc[0]
    assert 0.73 <= lowering <= 0.93  # Vivacity-MG: "up to 83 %" (+/- 10 points, as validate judges it)
    assert table["fcrn_accessible_fraction"].min() < 0.5


def test_the_safety_report_refuses_a_regimen_without_ivig_in_one_line():
    example = EXAMPLE
    result = CliRunner().invoke(app, ["safety", str(example)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "regimen" in lines[0] and "IVIG" in lines[0]


@pytest.mark.parametrize(("mg_per_kg", "days"), [(15.0, (0.0,)), (60.0, (0.0, 14.0, 28.0, 42.0))])
@pytest.mark.slow  # 3 s or more (README run under 5 minutes): in CI and with --run-slow
def test_the_igg_core_lowers_igg_as_valenzuelas_own_model_does(mg_per_kg, days):
    """ivigsim's IgG core (two compartments, a degradation rate from synthesis, saturable FcRn with
    Km fitted to Kuitwaard) against the one-compartment IgG of the model its IgK comes from, both
    under nipocalimab: the deepest lowering within 6 points, the course within 0.12 of baseline
    (measured: 59 vs 65 % and 83.5 vs 83.5 %; ivigsim recovers faster after one dose)."""
    _, ours, theirs = cc.nipocalimab_against_valenzuela(mg_per_kg, days)
    assert abs(ours.min() - theirs.min()) <= 0.06
    np.testing.assert_allclose(ours, theirs, atol=0.12)


def test_the_parameters_command_lists_nipocalimabs_constants_with_their_sources():
    result = CliRunner().invoke(app, ["parameters", "--comparators", "--drug", "nipocalimab", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    for name, (value, source) in NIPOCALIMAB.items():
        assert rows[name]["value"] == value and rows[name]["source"] == source and "Table 3" in source
    assert rows["fcrn_degradation_per_day"]["value"] == 1.3  # FcRn's own, the same for every drug
    assert rows["fcrn_inhibitor_clearance_70kg_L_per_day"]["variability"] == "drug's own CV 24.1 %"
    assert rows["fcrn_inhibitor_kd_g_per_L"]["variability"] == "-"  # no population variability of it
    refused = CliRunner().invoke(app, ["parameters", "--comparators", "--drug", "rozanolixizumab"])
    assert refused.exit_code == 2 and len(refused.output.strip().splitlines()) == 1


# --- between-patient variability of the drug's own constants ----------------------------------


def _typical(n: int) -> tuple[list[str], np.ndarray]:
    from ivigsim.trial.comparators import INHIBITOR_ETA_ORDER

    names = list(INHIBITOR_ETA_ORDER)
    return names, np.array([[NIPOCALIMAB[name][0]] * n for name in names])


def test_each_trial_patient_draws_nipocalimabs_constants_with_valenzuelas_variability():
    """Table 3's CVs (clearance 24.1 %, FcRn at baseline 25.0 %) as log-normals around the typical
    values; the other constants stay typical; a patient's values do not depend on who else is drawn."""
    from ivigsim.population import CounterRNG
    from ivigsim.trial.comparators import individual_constants

    n = 20_000
    names, typical = _typical(n)
    cvs = FcRnInhibitor(drug="nipocalimab", mg_per_kg=30).own_variability()
    assert cvs == {"fcrn_inhibitor_clearance_70kg_L_per_day": 0.241, "fcrn_inhibitor_target_g_per_L": 0.25}
    ids = np.arange(n)
    drawn = individual_constants(typical, names, cvs, CounterRNG(5), "", ids)
    etas = {}
    for i, name in enumerate(names):
        if name in cvs:
            etas[name] = np.log(drawn[i] / typical[i])
            assert np.std(etas[name]) == pytest.approx(np.sqrt(np.log1p(cvs[name] ** 2)), rel=0.03)
            assert abs(np.median(etas[name])) < 0.01
        else:
            assert np.array_equal(drawn[i], typical[i])
    assert abs(np.corrcoef(*etas.values())[0, 1]) < 0.03  # Table 3 gives no correlation between them
    some = individual_constants(typical[:, 100:130], names, cvs, CounterRNG(5), "", ids[100:130])
    assert np.array_equal(some, drawn[:, 100:130])
    assert individual_constants(typical, names, {}, CounterRNG(5), "", ids) is typical  # efgartigimod: none


def test_a_user_defined_drug_gives_its_own_variability():
    kinetics = InhibitorKinetics(0.006, 0.6, 0.008, 0.24, "assumption: test",
                                 between_patient_cv={"clearance_70kg_L_per_day": 0.3})
    drug = FcRnInhibitor(drug="drug-x", mg_per_kg=30, kinetics=kinetics)
    assert drug.own_variability() == {"fcrn_inhibitor_clearance_70kg_L_per_day": 0.3}
    assert FcRnInhibitor().own_variability() == {}  # efgartigimod's constants are assumptions, no CV known


def test_a_population_variability_of_a_constant_the_drug_sets_is_refused_in_one_line(tmp_path):
    from tests.comparator_trial_support import refusal_line

    doc = {"name": "t", "disease": "mg", "seed": 1, "size": 10,
           "population": {"variability": {"fcrn_inhibitor_clearance_70kg_L_per_day": 0.3}},
           "arms": [{"name": "nipo", "regimen": {"fcrn_inhibitor": {"drug": "nipocalimab", "days": [0],
                                                                    "mg_per_kg": 30}}}],
           "endpoints": [{"name": "igg", "output": "igg_total_g_per_L", "at_day": 14, "summary": "mean"}],
           "simulation": {"days": 14}}
    line = refusal_line(tmp_path, doc)
    assert "population.variability.fcrn_inhibitor_clearance_70kg_L_per_day" in line and "nipocalimab" in line
