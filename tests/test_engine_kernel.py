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
from ivigsim.engine.tableaux import DOPRI5, RODAS4
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
    assert k["_RG"] == RODAS4.gamma
    for name, values in [("_RALPHA", RODAS4.alpha), ("_RGAMMA", RODAS4.gamma_i), ("_RA", RODAS4.a_lower),
                         ("_RC", RODAS4.c_lower), ("_RM", RODAS4.m_sol)]:
        assert k[name].tolist() == list(values), name
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
