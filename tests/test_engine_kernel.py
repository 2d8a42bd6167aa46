"""The engine's shape: methods as tableaux (one copy of each), solvers behind one interface,
and a kernel template that imports and whose stand-ins match what the generator provides."""

import builtins
import importlib
import symtable

import numpy as np
import pytest

from ivigsim.engine.base import Solver
from ivigsim.engine.codegen import STAND_INS, TEMPLATE, generate, kernel_source, method_constants
from ivigsim.engine.compiled import Auto, CompiledDopri5, Rodas4
from ivigsim.engine.kernel_method import KernelMethod
from ivigsim.engine.schedule import InputSchedule, Window
from ivigsim.engine.solve import Problem, SaveAt, solve
from ivigsim.engine.solver import Dopri5
from ivigsim.engine.tableaux import DOPRI5, RODAS4, RODAS4P2
from ivigsim.errors import InputError
from ivigsim.model.library import compiled_model


def _constants() -> dict:
    namespace = {"np": np}
    exec(method_constants(), namespace)
    return namespace


def test_the_kernel_steps_with_the_tableaux_doubles():
    """The emitted constants are the tableau's Python floats, bit for bit (``repr`` round-trips)."""
    k = _constants()
    assert [k[f"_C{i}"] for i in range(2, 6)] == list(DOPRI5.c[:4])
    for i, row in enumerate(DOPRI5.a_lower):
        for j, a in enumerate(row):
            assert k.get(f"_A{i + 2}{j + 1}", 0.0) == a
    assert [k.get(f"_E{j + 1}", 0.0) for j in range(7)] == list(DOPRI5.b_error)
    np.testing.assert_array_equal(k["_P"], np.array(DOPRI5.dense))
    assert k["_RG"] == RODAS4P2.gamma
    for name, values in [("_RALPHA", RODAS4P2.alpha), ("_RGAMMA", RODAS4P2.gamma_i), ("_RA", RODAS4P2.a_lower),
                         ("_RC", RODAS4P2.c_lower), ("_RM", RODAS4P2.m_sol)]:
        assert k[name].tolist() == list(values), name
    assert k["_RH"].tolist() == [list(r) for r in RODAS4P2.dense]
    assert {m.name: int(m) for m in KernelMethod} == {m.name: k[m.name] for m in KernelMethod}


def test_the_dormand_prince_tableau_is_consistent():
    """Row sums equal c (each stage is consistent), the weights sum to 1, the error weights to 0,
    and the continuous extension reproduces the solution at x = 1."""
    assert DOPRI5.fsal
    for c, row in zip(DOPRI5.c, DOPRI5.a_lower):
        assert sum(row) == pytest.approx(c, abs=1e-15)
    assert sum(DOPRI5.b_sol) == pytest.approx(1.0, abs=1e-15)
    assert sum(DOPRI5.b_error) == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose([sum(r) for r in DOPRI5.dense], DOPRI5.b_sol, atol=1e-14)


def test_the_template_imports_and_its_stand_ins_match_the_generator():
    module = importlib.import_module("ivigsim.engine.kernel_template")
    assert callable(module.solve_batch)
    text = TEMPLATE.read_text(encoding="utf-8")
    block = text[text.index(STAND_INS[0]):text.index(STAND_INS[1])]
    stand_ins = {name for name in vars(module) if name in block and not name.startswith("__")}
    assert {"rhs", "observe_one", "N_STATES", "JAC_ROWS", "_A21", "_RM", "AUTO"} <= stand_ins
    for disease in (None, "itp"):
        generated = generate(compiled_model(disease).model)
        provided = {s.get_name() for s in symtable.symtable(generated, "generated", "exec").get_symbols()
                    if s.is_assigned() or s.is_imported()}
        assert stand_ins - {"np", "njit"} <= provided, sorted(stand_ins - provided)
        # Every global the kernel reads is defined by the kernel or by the generated source.
        kernel = kernel_source()
        table = symtable.symtable(kernel, "kernel", "exec")
        defined = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}
        read = {name for child in table.get_children() for name in child.get_globals()}
        missing = read - defined - provided - set(dir(builtins))
        assert not missing, sorted(missing)


def _problem(model, n, overrides=None):
    w = np.full(n, 70.0)
    doses = [[Window(0.0, 0.25, 70.0 / 0.25)] for _ in w]
    params = model.model.parameter_array({"body_weight_kg": w, **(overrides or {})}, n=n)
    return Problem(model, params, InputSchedule.from_windows(doses, len(model.model.input_names)))


def test_every_solver_is_a_solver_value():
    for solver in (Dopri5(), Auto(), CompiledDopri5(), Rodas4()):
        assert isinstance(solver, Solver)
    assert Dopri5().stiff_fallback() == Auto()
    with pytest.raises(InputError, match="stiff_rho_span"):
        Auto(stiff_rho_span=0.0)


def test_auto_switches_by_its_own_thresholds():
    """With thresholds it never reaches, Auto is Dormand-Prince alone, bit for bit."""
    model = compiled_model(None)
    stiff = _problem(model, 2, {"immune_complex_clearance_per_day": 500.0, "fcgr_release_per_day": 100.0})
    ts = np.arange(0.0, 57.0, 8.0)
    never = Auto(stiff_rho_span=1e300, stiff_h_lambda=1e300)
    assert (never.steps_in_stiff_mode(stiff, SaveAt(ts)) == 0).all()
    assert (Auto().steps_in_stiff_mode(stiff, SaveAt(ts)) > 0).all()
    np.testing.assert_array_equal(solve(stiff, SaveAt(ts), never).ys, solve(stiff, SaveAt(ts), CompiledDopri5()).ys)


@pytest.mark.parametrize("tab", [RODAS4, RODAS4P2], ids=["Rodas4", "Rodas4P2"])
def test_the_rosenbrock_tableaux_have_order_4_and_are_l_stable(tab):
    """Global order 4 on a non-autonomous non-linear problem (exact Jacobian, fixed steps),
    R(z) -> 0 as z -> -inf, and the continuous extension ends at the step's solution."""
    s = tab.stages
    A = np.zeros((s, s)); C = np.zeros((s, s))
    A[np.tril_indices(s, -1)] = tab.a_lower   # row by row, stage 1's row first
    C[np.tril_indices(s, -1)] = tab.c_lower

    def step(f, jac, ft, t, y, h):
        w = np.eye(len(y)) / (h * tab.gamma) - jac(t, y)
        k = []
        for i in range(s):
            yi = y + sum(A[i, j] * k[j] for j in range(i))
            b = f(t + tab.alpha[i] * h, yi) + sum(C[i, j] / h * k[j] for j in range(i)) + h * tab.gamma_i[i] * ft(t, y)
            k.append(np.linalg.solve(w, b))
        return y + sum(tab.m_sol[j] * k[j] for j in range(s)), k

    f = lambda t, y: np.array([-y[1] + np.sin(t) * y[0] ** 2 / 5, y[0] - 0.3 * y[1] + np.cos(t)])
    jac = lambda t, y: np.array([[2 * np.sin(t) * y[0] / 5, -1.0], [1.0, -0.3]])
    ft = lambda t, y: np.array([np.cos(t) * y[0] ** 2 / 5, -np.sin(t)])
    finals = []
    for n in (20, 40, 80, 160):
        y = np.array([1.0, 0.5])
        for i in range(n):
            y, _ = step(f, jac, ft, i / n, y, 1.0 / n)
        finals.append(y)
    errs = [np.abs(finals[i] - finals[-1]).max() for i in range(3)]  # against the finest
    assert 3.7 < np.log2(errs[0] / errs[1]) < 4.5
    lam = -1e10
    y1, k = step(lambda t, y: lam * y, lambda t, y: np.array([[lam]]), lambda t, y: np.zeros(1), 0.0, np.ones(1), 1.0)
    assert abs(y1[0]) < 1e-6
    assert len(tab.dense) == 2  # y(t + x h) = (1 - x) y + x (y1 + (1 - x) (D1 + x D2)): y1 at x = 1 by construction


def test_the_generated_kernel_does_not_depend_on_the_string_hash_seed():
    """The kernel's text names its numba cache: were the constants ordered by a set of names,
    each new process (a new hash seed) could generate another text and compile again."""
    import os
    import subprocess
    import sys

    code = ("import hashlib; from ivigsim.engine.codegen import generate; from ivigsim.model.library import "
            "compiled_model; print(hashlib.sha256(generate(compiled_model('itp').model).encode()).hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": seed},
                              capture_output=True, text=True, check=True).stdout for seed in ("1", "2", "3")}
    assert len(digests) == 1


@pytest.mark.parametrize("disease", [None, "itp", "kawasaki"])
def test_the_observation_plan_names_every_state_and_row_a_quantity_reads(disease):
    """``observation_plan`` lets the kernel interpolate only the states the requested quantities
    read, and compute only their rows of ``observe_times``. Checked from outside the plan:
    each quantity, computed with every state it was not told it reads replaced by NaN, and
    then by another number, is the same double; and ``observe_times``, with only the plan's
    rows, gives ``observe_one``'s doubles for it."""
    from ivigsim.engine.codegen import kernel_module

    model = compiled_model(disease)
    module = kernel_module(model)
    problem = _problem(model, 1)
    consts = np.ascontiguousarray(model.constants(problem.parameters)[:, 0])
    p = np.ascontiguousarray(problem.parameters[:, 0])
    c = np.zeros(module._C_SIZE)
    module._patient_constants(p, consts, np.ones(module.N_STATES), c)
    rng = np.random.default_rng(7)
    y = problem.initial_state(model.constants(problem.parameters))[:, 0] * rng.uniform(0.5, 1.5, model.n_states)
    u = np.full(module.N_INPUTS, 30.0)
    t = 3.0
    n_times = 3
    w = np.zeros((module.N_OBSERVE_WORK, n_times))
    for k in range(module.N_STATES + len(model.model.output_names)):
        observed, _, need = module.observation_plan(np.array([k], dtype=np.int64))
        expected = module.observe_one(k, t, y, p, c, u)
        assert np.isfinite(expected), k
        for other in (np.nan, 123.456):
            elsewhere = np.full(model.n_states, other)
            elsewhere[observed] = y[observed]
            assert module.observe_one(k, t, elsewhere, p, c, u) == expected, (k, other)
            if k >= module.N_STATES:
                values = np.full((module.N_OUTPUTS, n_times), np.nan)
                module.observe_times(np.full(n_times, t), np.repeat(elsewhere[:, None], n_times, axis=1), p, c,
                                     np.repeat(u[:, None], n_times, axis=1), w, values, n_times, need)
                assert (values[k - module.N_STATES] == expected).all(), (k, other)
    everything, live, need = module.observation_plan(np.arange(module.N_STATES + module.N_OUTPUTS + 2))
    assert everything.tolist() == list(range(model.n_states)) and need.all() and (live == 1.0).all()


@pytest.mark.parametrize("disease", [None, "itp", "kawasaki"])
def test_a_state_the_solve_holds_feeds_nothing_it_integrates(disease):
    """``observation_plan``'s live states are closed: for each quantity requested alone, the
    derivatives of its live states, computed by ``rhs`` with every held state replaced by NaN
    and then by another number, are the same doubles; and the held states' derivatives are
    zero. Checked from outside the plan, through the generated right-hand side."""
    from ivigsim.engine.codegen import kernel_module

    model = compiled_model(disease)
    module = kernel_module(model)
    problem = _problem(model, 1)
    consts = np.ascontiguousarray(model.constants(problem.parameters)[:, 0])
    p = np.ascontiguousarray(problem.parameters[:, 0])
    rng = np.random.default_rng(11)
    y = problem.initial_state(model.constants(problem.parameters))[:, 0] * rng.uniform(0.5, 1.5, model.n_states)
    y = y + rng.uniform(0.1, 1.0, model.n_states)  # no state at zero, where a product could hide a dependence
    u = np.full(module.N_INPUTS, 30.0)
    held_somewhere = 0
    for k in range(module.N_STATES + len(model.model.output_names)):
        _, live, _ = module.observation_plan(np.array([k], dtype=np.int64))
        c = np.zeros(module._C_SIZE)
        module._patient_constants(p, consts, live, c)
        on = live == 1.0
        held_somewhere += int((~on).sum())
        expected = np.empty(model.n_states)
        module.rhs(3.0, y, p, c, u, expected)
        assert (expected[~on] == 0.0).all(), k
        for other in (np.nan, 123.456):
            elsewhere = np.where(on, y, other)
            dy = np.empty(model.n_states)
            module.rhs(3.0, elsewhere, p, c, u, dy)
            assert np.array_equal(dy[on], expected[on]), (k, other)
    assert held_somewhere > 0  # the check above has states to hold
