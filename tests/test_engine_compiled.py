"""The compiled solvers (Auto, CompiledDopri5, Rodas4) against references and their contracts."""

import numpy as np
import pytest

from ivigsim.engine.compiled import Auto, CompiledDopri5, Rodas4
from ivigsim.engine.outputs import solve_outputs
from ivigsim.engine.schedule import InputSchedule, Window
from ivigsim.engine.solve import Problem, SaveAt, Status, solve
from ivigsim.engine.solver import Dopri5

#: The stiff configuration of the benchmarks: fast immune-complex clearance and Fc-receptor
#: release (at the upper bounds the model's parameters admit: 20x and 71x the defaults).
STIFF = {"immune_complex_clearance_per_day": 100.0, "fcgr_release_per_day": 71.0}
SOLVERS = [CompiledDopri5(), Auto(), Rodas4()]


def _problem(core, stiff=False, n=4):
    w = np.linspace(50.0, 110.0, n)
    doses = [[Window(d, d + 5 / 24, 0.4 * wi / (5 / 24)) for d in range(5)] for wi in w]
    params = core.model.parameter_array({"body_weight_kg": w, **(STIFF if stiff else {})}, n=n)
    return Problem(core, params, InputSchedule.from_windows(doses, 1))


@pytest.fixture(scope="module")
def references(core):
    ts = np.arange(0.0, 121.0)
    out = {}
    for stiff in (False, True):
        problem = _problem(core, stiff)
        out[stiff] = solve(problem, SaveAt(ts), Dopri5(rtol=1e-11, atol=1e-13, max_steps=10**6)).ys
    return ts, out


@pytest.mark.parametrize("stiff", [False, True], ids=["default", "stiff"])
@pytest.mark.parametrize("solver", SOLVERS, ids=lambda s: type(s).__name__)
def test_compiled_solvers_match_a_tight_reference(core, references, solver, stiff):
    """At rtol 1e-6 every state is within 5e-5 of its own range (dense output included)."""
    ts, ref = references
    sol = solve(_problem(core, stiff), SaveAt(ts), solver)
    assert (sol.status == Status.SUCCESS).all()
    scale = np.abs(ref[stiff]).max(axis=0, keepdims=True) + 1e-12
    # Explicit Dormand-Prince on the stiff configuration controls its error less tightly.
    tolerance = 5e-4 if stiff and isinstance(solver, CompiledDopri5) else 5e-5
    assert np.max(np.abs(sol.ys - ref[stiff]) / scale) < tolerance


@pytest.mark.parametrize("solver", [Auto(rtol=1e-9, atol=1e-12), Rodas4(rtol=1e-9, atol=1e-12)], ids=["Auto", "Rodas4"])
def test_tight_tolerance_converges(core, references, solver):
    ts, ref = references
    sol = solve(_problem(core, True), SaveAt(ts), solver)
    scale = np.abs(ref[True]).max(axis=0, keepdims=True) + 1e-12
    assert np.max(np.abs(sol.ys - ref[True]) / scale) < 2e-7


def test_auto_switches_to_rodas_only_when_stiff(core):
    ts = np.arange(0.0, 121.0)
    auto = Auto()
    assert (auto.steps_in_stiff_mode(_problem(core, False), SaveAt(ts)) == 0).all()
    stiff = _problem(core, True)
    assert (auto.steps_in_stiff_mode(stiff, SaveAt(ts)) > 0).all()
    explicit = solve(stiff, SaveAt(ts), CompiledDopri5())
    switched = solve(stiff, SaveAt(ts), auto)
    assert switched.n_steps.max() * 3 < explicit.n_steps.min()


@pytest.mark.parametrize("solver", SOLVERS, ids=lambda s: type(s).__name__)
def test_patient_results_do_not_depend_on_batch_or_threads(core, solver):
    """Bit for bit: a patient alone, in a batch of 4, in a parallel batch of 200, on 1 thread."""
    ts = np.arange(0.0, 61.0)
    rng = np.random.default_rng(1)
    n = 200
    w = rng.uniform(40, 120, n)
    doses = [[Window(0.0, 0.3, 1.0 * wi / 0.3), Window(1.0, 1.3, 1.0 * wi / 0.3)] if i % 3 else [] for i, wi in enumerate(w)]
    params = core.model.parameter_array({"body_weight_kg": w, "baseline_igg_g_per_L": rng.uniform(6, 16, n)}, n=n)
    big = solve(Problem(core, params, InputSchedule.from_windows(doses, 1)), SaveAt(ts), solver)
    one_thread = solve(Problem(core, params, InputSchedule.from_windows(doses, 1)), SaveAt(ts),
                       type(solver)(threads=1))
    np.testing.assert_array_equal(big.ys, one_thread.ys)
    for i in (0, 1, 77, 199):
        alone = solve(Problem(core, params[:, i:i + 1], InputSchedule.from_windows([doses[i]], 1)), SaveAt(ts), solver)
        np.testing.assert_array_equal(alone.ys[:, :, 0], big.ys[:, :, i])
        assert alone.n_steps[0] == big.n_steps[i]


def test_outputs_at_breakpoints_see_the_new_input(core):
    """An output at an infusion's end sees the full dose, and the input switched off."""
    params = core.model.parameter_array()
    schedule = InputSchedule.from_windows([[Window(0.0, 0.5, 100.0)]], 1)
    names = core.model.state_names
    for solver in SOLVERS:
        sol = solve(Problem(core, params, schedule), SaveAt(np.array([0.25, 0.5, 1.0])), type(solver)(rtol=1e-10, atol=1e-13))
        given = sum(sol.ys[:, names.index(n), 0] for n in ("ivig_central_g", "ivig_peripheral_g", "ivig_catabolised_g"))
        np.testing.assert_allclose(given[:2], [25.0, 50.0], rtol=1e-8)


def test_solve_outputs_matches_observe(core):
    problem = _problem(core)
    ts = np.arange(0.0, 31.0)
    names = ["igg_total_g_per_L", "fcgr_blockade_fraction", "autoantibody_fraction_of_baseline"]
    compiled = solve_outputs(problem, SaveAt(ts), Auto(rtol=1e-10, atol=1e-13), names)
    numpy = solve_outputs(problem, SaveAt(ts), Dopri5(rtol=1e-10, atol=1e-13), names)
    np.testing.assert_allclose(compiled.values, numpy.values, rtol=1e-7, atol=1e-10)


def test_failure_is_reported_not_fatal(core):
    doses = [[Window(0, 0.1, 1000.0)], []]
    params = core.model.parameter_array(n=2)
    for solver in (Auto(max_steps=10), Rodas4(max_steps=10)):
        sol = solve(Problem(core, params, InputSchedule.from_windows(doses, 1)), SaveAt(np.arange(0.0, 20.0)), solver)
        assert sol.status[0] == Status.MAX_STEPS and sol.status[1] == Status.SUCCESS
        assert np.isnan(sol.ys[-1, :, 0]).all() and np.isfinite(sol.ys[:, :, 1]).all()


def test_bad_settings_are_refused():
    from ivigsim.errors import InputError

    with pytest.raises(InputError, match="solver.rtol"):
        Auto(rtol=1.0)
    with pytest.raises(InputError, match="solver.threads"):
        Rodas4(threads=0)


@pytest.mark.parametrize("disease", sorted(__import__("ivigsim.model.library", fromlist=["DISEASES"]).DISEASES))
def test_every_disease_model_compiles_and_matches_numpy(disease):
    """The generated kernel serves every registered disease model (its expressions, its
    outputs): Auto at rtol 1e-8 agrees with the NumPy engine at rtol 1e-11."""
    from ivigsim.model.library import compiled_model

    cm = compiled_model(disease)
    n = 3
    w = np.array([40.0, 70.0, 100.0])
    doses = [[Window(d, d + 0.25, 0.4 * wi / 0.25) for d in range(5)] for wi in w]
    params = cm.model.parameter_array({"body_weight_kg": w}, n=n)
    problem = Problem(cm, params, InputSchedule.from_windows(doses, 1))
    ts = np.arange(0.0, 91.0)
    names = cm.model.output_names
    ref = solve_outputs(problem, SaveAt(ts), Dopri5(rtol=1e-11, atol=1e-13, max_steps=10**6), names)
    got = solve_outputs(problem, SaveAt(ts), Auto(rtol=1e-8, atol=1e-11), names)
    assert (got.status == Status.SUCCESS).all()
    scale = np.abs(ref.values).max(axis=(0, 2), keepdims=True) + 1e-12
    worst = np.max(np.abs(got.values - ref.values) / scale)
    assert worst < 1e-5, (disease, names[int(np.argmax(np.max(np.abs(got.values - ref.values) / scale, axis=(0, 2))))])


@pytest.mark.parametrize("solver", [CompiledDopri5(), Auto()], ids=lambda s: type(s).__name__)
def test_a_state_no_requested_output_reads_is_held_and_limits_no_step(solver):
    """MG, IVIG 2 g/kg over 5 days, 120 days: asked for total IgG alone, the compiled solvers hold
    the immune complexes, which nothing asked for reads (the kernel's ``observation_plan``), so
    their clearance (5/day, which holds Dormand-Prince at its stability limit) limits no step:
    fewer steps than when they are asked for too. The IgG is within the tolerance of a tight
    solve that integrates every state either way, and so are the immune complexes, asked for."""
    from ivigsim.model.library import compiled_model

    mg = compiled_model("mg")
    w = np.linspace(50.0, 110.0, 4)
    doses = [[Window(d, d + 5 / 24, 0.4 * wi / (5 / 24)) for d in range(5)] for wi in w]
    problem = Problem(mg, mg.model.parameter_array({"body_weight_kg": w}, n=4), InputSchedule.from_windows(doses, 1))
    ts = SaveAt(np.arange(0.0, 121.0))
    names = ["igg_total_g_per_L", "immune_complex_g_per_L"]
    alone = solve_outputs(problem, ts, solver, names[:1])
    both = solve_outputs(problem, ts, solver, names)
    tight = solve_outputs(problem, ts, Auto(rtol=1e-11, atol=1e-14, max_steps=10**6), names)
    assert (alone.status == 0).all() and (both.status == 0).all()
    assert (alone.n_steps < 0.8 * both.n_steps).all(), (alone.n_steps, both.n_steps)
    for got in (alone, both):
        for name in got.names:
            ref = tight.output(name)
            assert np.max(np.abs(got.output(name) - ref)) / np.abs(ref).max() < 5e-5, name
