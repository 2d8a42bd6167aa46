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
from ivigsim.simulation import simulate

#: Every registered disease (found in ivigsim/model/diseases/), so a new disease file is
#: tested here without an edit. Each readout's clinical scale (BRIEF s.3.3), and for a readout
#: clipped to it the quantities its formula reads, come from the disease's declaration.
REAL = [d for d in DISEASES.values() if d.name != "none"]
DISEASE = pytest.mark.parametrize("disease", REAL, ids=lambda d: d.name)


@DISEASE
def test_declares_drives_units_sources_and_readouts(disease):
    model = build_model(disease.name)
    assert check_units(model) == []
    assert set(DRIVES) <= set(disease.module.symbols())
    for p in disease.module.parameters:
        assert p.source.strip() and p.unit
    assert disease.readouts
    for r in disease.readouts:
        assert r.name in model.output_names or r.name in model.state_names
        assert r.label and r.scale[0] < r.scale[1] and r.higher_is_better in (True, False)  # an outcome
        assert r.endpoint_day is None or 0 < r.endpoint_day
        for name in r.clipped:
            assert name in model.output_names or name in model.state_names, name  # in the results
    assert disease.readouts[0].endpoint_day is not None  # the docs attribute IVIG's effect on that day
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


@DISEASE
def test_a_disease_without_a_natural_course_untreated_is_a_steady_state(disease):
    """A chronic disease whose untreated model does not change with time (ITP, CIDP by default)
    starts at its steady state; one with a natural course (its drives read the time) is tested
    for that course elsewhere."""
    cm = compiled_model(disease)
    p = cm.model.parameter_array(dict(disease.defaults))
    c = cm.constants(p)
    y = cm.initial(p, c)
    no_input = np.zeros((len(cm.model.input_names), 1))
    dy = cm.rhs(0.0, y, p, c, no_input)
    if not np.array_equal(dy, cm.rhs(100.0, y, p, c, no_input)):
        pytest.skip(f"{disease.name} has a natural course (its untreated model changes with time)")
    assert np.all(np.abs(dy) <= 1e-12 * np.maximum(1.0, np.abs(y)))
    ds = simulate(Scenario(disease=disease, days=90.0, solver=Dopri5(rtol=1e-9, atol=1e-12)))
    for r in disease.readouts:
        np.testing.assert_allclose(ds[r.name].values[0], ds[r.name].values[0, 0], rtol=1e-6, atol=1e-9)


def test_the_shipped_chronic_diseases_are_steady_and_the_acute_ones_are_not():
    """The test above skips a disease with a natural course: pin which ones do, so that a
    chronic model that starts drifting is not silently skipped."""
    def autonomous(d):
        cm = compiled_model(d)
        p = cm.model.parameter_array(dict(d.defaults))
        c = cm.constants(p)
        y, u = cm.initial(p, c), np.zeros((len(cm.model.input_names), 1))
        return np.array_equal(cm.rhs(0.0, y, p, c, u), cm.rhs(100.0, y, p, c, u))

    assert autonomous(DISEASES["itp"]) and autonomous(DISEASES["cidp"])
    assert not autonomous(DISEASES["gbs"]) and not autonomous(DISEASES["kawasaki"])


def test_acute_diseases_run_their_natural_course_untreated():
    gbs = simulate(Scenario(disease="gbs", days=365.0))["gbs_disability_score"].values[0]
    assert gbs[365] < gbs[0] - 1  # GBS improves by itself, slowly
    kd = simulate(Scenario(disease="kawasaki", days=30.0))["body_temperature_C"].values[0]
    assert kd[0] >= 39.0 and kd[-1] < 38.0  # the fever of Kawasaki disease resolves by itself


@DISEASE
@settings(max_examples=10, deadline=None)
@given(dose=st.floats(0.0, 2.0), scale=st.floats(0.5, 2.0), weight=st.floats(10.0, 120.0))
@pytest.mark.slow  # 2 s or more (README run under 5 minutes): in CI and with --run-slow
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
        values = ds[r.name].values
        assert np.isfinite(values).all()
        # A readout clipped to its scale in its own formula cannot leave it: check what it reads instead.
        for name, (lo, hi) in (r.clipped or {r.name: r.scale}).items():
            values = ds[name].values
            assert np.isfinite(values).all(), name
            assert (values >= lo - 1e-9).all() and (values <= hi + 1e-9).all(), (r, name, values.min(), values.max())


def _best(ds, name, higher):
    series = ds[name].values
    return series.max(axis=1) if higher else series.min(axis=1)


@DISEASE
def test_more_ivig_helps_more_and_none_is_natural_history(disease):
    """The main readout on the day the disease's trials read it (its declaration), better with
    each larger single-day course."""
    main = disease.readouts[0]
    readout_name, days, higher = main.name, main.endpoint_day, main.higher_is_better
    values = []
    for g_per_kg in (0.0, 0.5, 1.0, 2.0):
        regimen = Regimen((Course(g_per_kg, 1),), get_product("generic-10")) if g_per_kg else None
        ds = simulate(Scenario(disease=disease, regimen=regimen, days=days, output_every_days=0.25))
        values.append(float(ds[readout_name].values[0, -1]))
    ordered = values if higher else [-v for v in values]
    assert ordered[0] < ordered[1] < ordered[2] < ordered[3], values


@DISEASE
def test_attribution_works_for_each_disease(disease):
    r = disease.readouts[0].name
    a = attribute(Scenario(disease=disease.name, regimen=get_regimen(disease.indication), days=14.0),
                  readout(r, 7.0))
    assert sum(a.shapley.values()) == pytest.approx(a.total, rel=1e-9, abs=1e-12)
    assert a.total != 0.0
