"""One contract for every disease module, and the direction of its response to IVIG."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivigsim.attribution import attribute, readout
from ivigsim.dosing import Course, Regimen, get_product, get_regimen
from ivigsim.engine.solver import Dopri5
from ivigsim.model.diseases import DRIVES
from ivigsim.model.library import DISEASES, build_model, compiled_model
from ivigsim.model.units import check_units
from ivigsim.scenario import Scenario
from ivigsim.simulation import simulate, simulate_variants

REAL = [d for d in DISEASES.values() if d.name != "none"]
DISEASE = pytest.mark.parametrize("disease", REAL, ids=lambda d: d.name)
CHRONIC = ("itp", "mg", "cidp")

#: The clinical scale of each readout (BRIEF s.3.3).
SCALES = {
    "platelets_1e9_per_L": (0.0, 1000.0),
    "qmg_score": (0.0, 39.0),
    "mg_adl_score": (0.0, 24.0),
    "gbs_disability_score": (0.0, 5.0),
    "incat_score": (0.0, 10.0),
    "body_temperature_C": (36.0, 41.0),
    "fever": (0.0, 1.0),
    "coronary_abnormality": (0.0, 1.0),
}
#: Readouts whose formula clips them to their scale (min/max), so their scale cannot be broken:
#: the quantities they read, with the range those must keep.
CLIPPED = {
    "qmg_score": {"achr_functional_fraction": (0.0, 1.0), "achr_on_membrane": (0.0, 1.0),
                  "endplate_membrane": (0.0, 1.0)},
    "mg_adl_score": {"achr_functional_fraction": (0.0, 1.0)},
    "incat_score": {"demyelination": (0.0, 1.0), "conduction_block": (0.0, 1.0)},
    "fever": {"body_temperature_C": SCALES["body_temperature_C"]},
    "coronary_abnormality": {"coronary_injury": (0.0, np.inf)},
}


@DISEASE
def test_declares_drives_units_sources_and_readouts(disease):
    model = build_model(disease.name)
    assert check_units(model) == []
    assert set(DRIVES) <= set(disease.module.symbols())
    for p in disease.module.parameters:
        assert p.source.strip() and p.unit
    for name in disease.readouts:
        assert name in model.output_names or name in model.state_names
        assert name in SCALES
    assert disease.indication in (None, "itp", "gbs", "kawasaki", "cidp", "mg", "pid")
    for name in (*disease.variability, *disease.defaults):
        model.parameter(name)  # every varied or defaulted parameter exists


def _is_share(p) -> bool:
    return p.unit == "dimensionless" and p.bounds == (0.0, 1.0)


@pytest.mark.parametrize("disease", REAL, ids=lambda d: d.name)
def test_shares_a_disease_varies_vary_on_the_logit_scale(disease):
    model = build_model(disease.name)
    log_shares = [n for n in disease.variability
                  if _is_share(model.parameter(n)) and model.parameter(n).variability_scale != "logit"]
    assert log_shares == []


@pytest.mark.parametrize("name", CHRONIC)
def test_chronic_disease_untreated_is_a_steady_state(name):
    cm = compiled_model(name)
    p = cm.model.parameter_array(dict(DISEASES[name].defaults))
    c = cm.constants(p)
    y = cm.initial(p, c)
    dy = cm.rhs(0.0, y, p, c, np.zeros((len(cm.model.input_names), 1)))
    assert np.all(np.abs(dy) <= 1e-12 * np.maximum(1.0, np.abs(y)))
    ds = simulate(Scenario(disease=name, days=90.0, solver=Dopri5(rtol=1e-9, atol=1e-12)))
    for r in DISEASES[name].readouts:
        np.testing.assert_allclose(ds[r].values[0], ds[r].values[0, 0], rtol=1e-6, atol=1e-9)


def test_acute_diseases_run_their_natural_course_untreated():
    gbs = simulate(Scenario(disease="gbs", days=365.0))["gbs_disability_score"].values[0]
    assert gbs[365] < gbs[0] - 1  # GBS improves by itself, slowly
    kd = simulate(Scenario(disease="kawasaki", days=30.0))["body_temperature_C"].values[0]
    assert kd[0] >= 39.0 and kd[-1] < 38.0  # the fever of Kawasaki disease resolves by itself


@DISEASE
@settings(max_examples=10, deadline=None)
@given(dose=st.floats(0.0, 2.0), scale=st.floats(0.5, 2.0), weight=st.floats(10.0, 120.0))
def test_readouts_stay_on_their_scale(disease, dose, scale, weight):
    from ivigsim.model.patient import Patient

    regimen = Regimen((Course(dose, 2),), get_product("generic-10")) if dose > 0.05 else None
    model = build_model(disease.name)
    varied = {}
    for name in disease.variability:
        p = model.parameter(name)
        base = disease.defaults.get(name, p.value)
        varied[name] = float(np.clip(base * scale, *p.bounds))
    ds = simulate(Scenario(patient=Patient(weight_kg=weight), disease=disease.name, regimen=regimen,
                           days=60.0, parameters=varied))
    assert int(ds["solver_status"][0]) == 0
    for r in disease.readouts:
        values = ds[r].values
        assert np.isfinite(values).all()
        # A readout clipped to its scale in its own formula cannot leave it: check what it reads instead.
        for name, (lo, hi) in CLIPPED.get(r, {r: SCALES[r]}).items():
            values = ds[name].values
            assert np.isfinite(values).all(), name
            assert (values >= lo - 1e-9).all() and (values <= hi + 1e-9).all(), (r, name, values.min(), values.max())


def _best(ds, name, higher):
    series = ds[name].values
    return series.max(axis=1) if higher else series.min(axis=1)


@pytest.mark.parametrize("name, readout_name, days", [
    ("itp", "platelets_1e9_per_L", 14.0), ("mg", "qmg_score", 28.0), ("gbs", "gbs_disability_score", 28.0),
    ("cidp", "incat_score", 42.0), ("kawasaki", "body_temperature_C", 3.0)])
def test_more_ivig_helps_more_and_none_is_natural_history(name, readout_name, days):
    disease = DISEASES[name]
    higher = readout_name in disease.higher_is_better
    values = []
    for g_per_kg in (0.0, 0.5, 1.0, 2.0):
        regimen = Regimen((Course(g_per_kg, 1),), get_product("generic-10")) if g_per_kg else None
        ds = simulate(Scenario(disease=name, regimen=regimen, days=days, output_every_days=0.25))
        values.append(float(ds[readout_name].values[0, -1]))
    ordered = values if higher else [-v for v in values]
    assert ordered[0] < ordered[1] < ordered[2] < ordered[3], values


@DISEASE
def test_attribution_works_for_each_disease(disease):
    r = disease.readouts[0]
    a = attribute(Scenario(disease=disease.name, regimen=get_regimen(disease.indication), days=14.0),
                  readout(r, 7.0))
    assert sum(a.shapley.values()) == pytest.approx(a.total, rel=1e-9, abs=1e-12)
    assert a.total != 0.0
