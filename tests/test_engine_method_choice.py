"""Auto chooses each patient's method from that patient's own Jacobian, and the generated
right-hand side spells powers and parameter-only divisions cheaply."""

import math

import numpy as np
import pytest

from ivigsim.engine.codegen import generate, kernel_module
from ivigsim.engine.compiled import Auto, CompiledDopri5, Rodas4
from ivigsim.engine.schedule import InputSchedule, Window
from ivigsim.engine.solve import Problem, SaveAt, Status, solve
from ivigsim.model.library import compiled_model

#: 100x the shipped immune-complex clearance and Fc-receptor release (the benchmarks' stiff case).
STIFF = {"immune_complex_clearance_per_day": 500.0, "fcgr_release_per_day": 100.0}
TS = np.arange(0.0, 57.0)


def _problem(model, n, overrides=None, infusion=True):
    w = np.full(n, 70.0)
    doses = [[Window(0.0, 0.25, 70.0 / 0.25), Window(1.0, 1.25, 70.0 / 0.25)] if infusion else [] for _ in w]
    params = model.model.parameter_array({"body_weight_kg": w, **(overrides or {})}, n=n)
    return Problem(model, params, InputSchedule.from_windows(doses, len(model.model.input_names)))


def _stats(problem, solver, ts=TS):
    sol = solve(problem, SaveAt(ts), solver)
    assert (sol.status == Status.SUCCESS).all()
    return sol, solver.steps_in_stiff_mode(problem, SaveAt(ts))


@pytest.mark.parametrize("disease", [None, "itp"])
def test_stiff_patients_start_in_rodas4(disease):
    """The stiffness shows in the Jacobian at t0: not one explicit step is spent finding it."""
    model = compiled_model(disease)
    sol, rodas = _stats(_problem(model, 3, STIFF), Auto())
    np.testing.assert_array_equal(rodas, sol.n_steps)
    only = solve(_problem(model, 3, STIFF), SaveAt(TS), Rodas4())
    np.testing.assert_array_equal(sol.ys, only.ys)  # the same computation as Rodas4 alone


def test_non_stiff_patients_stay_explicit():
    model = compiled_model(None)
    sol, rodas = _stats(_problem(model, 3), Auto())
    assert (rodas == 0).all()
    np.testing.assert_array_equal(sol.ys, solve(_problem(model, 3), SaveAt(TS), CompiledDopri5()).ys)


def test_stiffness_that_appears_with_the_infusion_is_caught_at_its_end():
    """Fc-receptor binding that only a high IVIG concentration makes fast (a tiny Kd): the
    patient is explicit at t0 and continues with Rodas4 from the end of the first infusion."""
    model = compiled_model("itp")
    fast = {"fcgr_kd_g_per_L": 0.3}
    problem = _problem(model, 1, fast)
    sol, rodas = _stats(problem, Auto())
    assert 0 < rodas[0] < sol.n_steps[0]
    # Dormand-Prince's own steps up to the end of the first infusion (0.25 day):
    to_infusion_end = solve(problem, SaveAt(np.array([0.0, 0.25])), CompiledDopri5()).n_steps[0]
    assert sol.n_steps[0] - rodas[0] <= to_infusion_end
    reference = solve(problem, SaveAt(TS), Rodas4(rtol=1e-10, atol=1e-13))
    scale = np.abs(reference.ys).max(axis=0, keepdims=True) + 1e-12
    assert np.max(np.abs(sol.ys - reference.ys) / scale) < 1e-4


def _kawasaki_child(infusion_days=(0.0,)):
    """A 20 kg child given 2 g/kg over 11 hours on each of ``infusion_days``."""
    model = compiled_model("kawasaki")
    hours = 11 / 24
    doses = [[Window(day, day + hours, 40.0 / hours) for day in infusion_days]]
    params = model.model.parameter_array({"body_weight_kg": np.array([20.0])}, n=1)
    return Problem(model, params, InputSchedule.from_windows(doses, len(model.model.input_names)))


def test_a_quiet_stretch_held_back_by_a_small_fast_state_continues_in_rodas4():
    """Kawasaki disease after its one infusion: from about day 60 Dormand-Prince's steps are
    held at its stability limit by the immune-complex clearance (5/day), a state of
    milligrams beside tens of grams of IgG. Hairer's stiffness test weighted as the error
    norm is sees it and the patient continues with Rodas4 (unweighted, as in dopri5.f, the
    grams of IgG hide it and Auto never switched): fewer steps, as accurate."""
    ts = np.arange(0.0, 181.0)
    sol, rodas = _stats(_kawasaki_child(), Auto(), ts)
    explicit = solve(_kawasaki_child(), SaveAt(ts), CompiledDopri5())
    assert 0 < rodas[0] < sol.n_steps[0] < explicit.n_steps[0]
    reference = solve(_kawasaki_child(), SaveAt(ts), Rodas4(rtol=1e-10, atol=1e-13))
    scale = np.abs(reference.ys).max(axis=0, keepdims=True) + 1e-12
    assert np.max(np.abs(sol.ys - reference.ys) / scale) < 1e-4


def test_a_new_infusion_brings_a_patient_the_test_made_stiff_back_to_dormand_prince():
    """Made stiff by the test in a quiet stretch, the patient returns to Dormand-Prince when
    a second infusion starts (day 150): its transient is accuracy-limited, where explicit
    steps are cheaper. Kept in Rodas4, every step after day 150 would be a Rodas4 step."""
    before = _stats(_kawasaki_child((0.0, 150.0)), Auto(), np.arange(0.0, 151.0))
    after = _stats(_kawasaki_child((0.0, 150.0)), Auto(), np.arange(0.0, 181.0))
    assert before[1][0] > 0  # stiff by day 150
    steps_after, rodas_after = after[0].n_steps[0] - before[0].n_steps[0], after[1][0] - before[1][0]
    assert 0 <= rodas_after < steps_after


def test_a_patients_method_depends_only_on_its_own_data():
    """Stiff and non-stiff patients interleaved: each is, bit for bit, what it is alone."""
    model = compiled_model("itp")
    n = 96  # above the parallel threshold: threads share the batch
    rng = np.random.default_rng(7)
    stiff_rows = rng.random(n) < 0.5
    params = _problem(model, n).parameters
    names = model.model.parameter_names
    for name, value in STIFF.items():
        params[names.index(name), stiff_rows] = value
    params[names.index("fcgr_kd_g_per_L")] = rng.uniform(0.3, 40.0, n)
    doses = [[Window(0.0, 0.25, 280.0), Window(1.0, 1.25, 280.0)]] * n
    n_inputs = len(model.model.input_names)
    problem = Problem(model, params, InputSchedule.from_windows(doses, n_inputs))
    batch = solve(problem, SaveAt(TS), Auto())
    one_thread = solve(problem, SaveAt(TS), Auto(threads=1))
    np.testing.assert_array_equal(batch.ys, one_thread.ys)
    rodas = Auto().steps_in_stiff_mode(problem, SaveAt(TS))
    assert (rodas[stiff_rows] == batch.n_steps[stiff_rows]).all()
    for i in (0, 1, 50, n - 1):
        alone = solve(Problem(model, params[:, [i]], InputSchedule.from_windows([doses[i]], n_inputs)), SaveAt(TS),
                      Auto())
        np.testing.assert_array_equal(alone.ys[:, :, 0], batch.ys[:, :, i])


def test_powers_take_multiplications_and_divisions_by_parameters_become_products():
    source = generate(compiled_model("itp").model)
    rhs = source[source.index("def rhs"):source.index("def observe_one")]
    assert "/ plasma_volume_L" not in rhs and "/ tissue_volume_L" not in rhs
    assert "_rcp" in rhs and "def reciprocals" in source
    module = kernel_module(compiled_model("itp"))
    for base in (0.0, 0.37, 1.0, 2.5, -1.3):
        for exponent in (2.0, 3.0, 9.0, 20.0, 32.0):
            expected = math.pow(base, exponent)
            assert module._pw(base, exponent) == pytest.approx(expected, rel=8e-16 * exponent, abs=0.0)
        assert module._pw(base, 0.5) == (math.sqrt(base) if base >= 0 else pytest.approx(math.nan, nan_ok=True))
    assert module._pw(2.0, 2.5) == 2.0 ** 2.5
    assert module._pw(2.0, 40.0) == 2.0 ** 40.0
    assert math.isnan(module._pw(math.nan, 9.0))
