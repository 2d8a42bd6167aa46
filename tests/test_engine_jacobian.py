"""The analytic Jacobian the stiff method steps with (``engine/derivatives.py``, generated as
``jacobian`` in the kernel) against central differences of the NumPy right-hand side, which
``model/compose.py`` generates independently of the kernel; and the kernel's fall-back to
forward differences where a derivative is not finite."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from ivigsim.engine.codegen import jacobian_pattern, kernel_module
from ivigsim.engine.compiled import Rodas4
from ivigsim.engine.schedule import InputSchedule
from ivigsim.engine.solve import Problem, SaveAt, Status, solve
from ivigsim.model.compose import Model
from ivigsim.model.declaration import Flux, Module, Parameter, State
from ivigsim.model.library import compiled_model


def _kernel_jacobian(cm, p: np.ndarray, y: np.ndarray, u: np.ndarray, t: float = 2.0, with_time: bool = False):
    """The kernel's ``jacobian`` for one patient (its constants and reciprocals as the kernel
    lays them out): df/dy, or (df/dy, df/dt) with ``with_time`` (df/dt NaN where not written)."""
    km = kernel_module(cm)
    c = np.asarray(np.broadcast_to(cm.constants(p[:, None]), (len(cm.model.constant_names), 1)))[:, 0]
    cc = np.empty(km._C_SIZE)
    km._patient_constants(p, np.ascontiguousarray(c), np.ones(km.N_STATES), cc)  # every state integrated
    jac = np.zeros((y.size, y.size))
    fdt = np.full(y.size, np.nan)
    km.jacobian(t, y, p, cc, u, jac, fdt)
    return (jac, fdt) if with_time else jac


def _central_differences(cm, p: np.ndarray, y: np.ndarray, u: np.ndarray) -> np.ndarray:
    c = cm.constants(p[:, None])

    def f(state):
        return cm.rhs(2.0, state[:, None], p[:, None], c, u[:, None])[:, 0]

    jac = np.empty((y.size, y.size))
    for j in range(y.size):
        h = 1e-6 * max(abs(y[j]), 1e-3)
        up, down = y.copy(), y.copy()
        up[j] += h
        down[j] -= h
        jac[:, j] = (f(up) - f(down)) / (2 * h)
    return jac


def _agree(cm, p, y, u) -> float:
    """Largest difference of the two, relative to each row's largest entry; and no non-zero
    outside the structural pattern."""
    exact, numeric = _kernel_jacobian(cm, p, y, u), _central_differences(cm, p, y, u)
    scale = np.abs(numeric).max(axis=1, keepdims=True) + 1e-300
    outside = ~jacobian_pattern(cm.model)
    assert not (np.abs(numeric) > 1e-9 * scale)[outside].any()
    assert not exact[outside].any()
    return float((np.abs(exact - numeric) / scale).max())


def _toy(fluxes: tuple[Flux, ...], initial=("1", "1")) -> Model:
    params = (Parameter("k", 0.7, "1/day", "assumption", "test"),
              Parameter("n", 3.0, "dimensionless", "assumption", "test"))
    states = (State("x", "dimensionless", initial[0]), State("z", "dimensionless", initial[1]))
    return Model((Module("toy", "toy", "every operator and function of the language", parameters=params,
                         states=states, fluxes=fluxes),))


#: One flux per rule of the chain rule the generator writes (operators, each function, a
#: power by a parameter and by a state, a division by parameters only, which the kernel
#: spells as a multiplication by a reciprocal).
EVERY_RULE = (
    Flux("power_by_parameter", "k * x ** n", "x", "z"),
    Flux("power_by_number", "k * x ** 2.5 - 0.1 * z ** 2", "z", None),
    Flux("power_by_state", "0.2 * z ** x", None, "x"),
    Flux("exp_and_product", "k * exp(-x) * z", "z", "x"),
    Flux("log_and_quotient", "log(1 + z) * x / (k + z)", "x", None),
    Flux("sqrt_and_unary", "-(-sqrt(x * z)) * k", None, "z"),
    Flux("abs", "0.1 * abs(x - 2 * z)", "x", None),
    Flux("min_of_three", "min(x, z, 1.3) * k", None, "x"),
    Flux("max_of_two", "max(x * z, 0.5) / k", "z", None),
    Flux("division_by_a_parameter", "x / k - z / (2 * k)", "x", None),
)


def test_every_rule_of_the_chain_rule_against_central_differences():
    cm = _toy(EVERY_RULE).compile()
    p = np.array([0.7, 3.0])
    rng = np.random.default_rng(7)
    for _ in range(40):
        y = rng.uniform(0.1, 3.0, 2)
        if abs(y[0] - 2 * y[1]) < 0.05 or min(abs(y[0] - y[1]), abs(min(y) - 1.3)) < 0.05 or abs(y.prod() - 0.5) < 0.05:
            continue  # a kink of abs/min/max within the differences' reach
        assert _agree(cm, p, y, np.zeros(0)) < 1e-6, y


@pytest.mark.parametrize("disease", [None, "itp", "mg", "gbs", "cidp", "kawasaki"])
@pytest.mark.parametrize("comparators", [False, True])
def test_every_shipped_model_has_the_jacobian_of_its_right_hand_side(disease, comparators):
    """At states spread around the model's initial state, with and without infusions."""
    cm = compiled_model(disease, comparators)
    m = cm.model
    p = m.parameter_array({}, n=1)[:, 0]
    y0 = cm.initial(p[:, None], cm.constants(p[:, None]))[:, 0]
    rng = np.random.default_rng(11)
    worst = 0.0
    for trial in range(10):
        y = y0 * np.exp(rng.normal(0.0, 0.5, y0.size)) + rng.uniform(0.0, 0.2, y0.size) * (y0 == 0)
        u = rng.uniform(0.0, 50.0, len(m.input_names)) * (trial % 2)
        worst = max(worst, _agree(cm, p, y, u))
    assert worst < 1e-5


def _time_differences(cm, p: np.ndarray, y: np.ndarray, u: np.ndarray, t: float) -> np.ndarray:
    c = cm.constants(p[:, None])
    h = 1e-5 * max(1.0, abs(t))
    up, down = (cm.rhs(t + s, y[:, None], p[:, None], c, u[:, None])[:, 0] for s in (h, -h))
    return (up - down) / (2 * h)


def test_the_time_derivative_the_stiff_method_steps_with_is_that_of_the_right_hand_side():
    """Rodas4P2 needs df/dt where the model reads t (Kawasaki disease's waning drive): written
    by the chain rule through t as through the states, against central differences in t of
    the NumPy right-hand side; a model that does not read t leaves it unwritten."""
    toy = _toy((Flux("waning", "k * exp(-k * t) * x", "x", "z"),
                Flux("capped_ramp", "min(t, 1.5) * z / (1 + t ** 2)", "z", None),
                Flux("steady", "0.1 * z", None, "x"))).compile()
    kawasaki = compiled_model("kawasaki", False)
    for cm, u in ((toy, np.zeros(0)), (kawasaki, np.array([3.0]))):
        p = cm.model.parameter_array({}, n=1)[:, 0]
        y = cm.initial(p[:, None], cm.constants(p[:, None]))[:, 0] * 1.3 + 0.05
        for t in (0.4, 1.0, 7.0, 30.0):
            _, exact = _kernel_jacobian(cm, p, y, u, t, with_time=True)
            numeric = _time_differences(cm, p, y, u, t)
            assert np.allclose(exact, numeric, rtol=1e-6, atol=1e-9 * np.abs(numeric).max()), (cm, t)
        assert np.abs(exact).max() > 0
    itp = compiled_model("itp", False)
    p = itp.model.parameter_array({}, n=1)[:, 0]
    y = itp.initial(p[:, None], itp.constants(p[:, None]))[:, 0]
    assert np.isnan(_kernel_jacobian(itp, p, y, np.zeros(len(itp.model.input_names)), with_time=True)[1]).all()


@pytest.mark.slow  # 3 s or more (README run under 5 minutes): a kernel compiled for the toy model
def test_where_a_derivative_is_infinite_the_stiff_method_steps_with_forward_differences():
    """dx/dt = 1 - 2 sqrt(x) from x = 0: d/dx is -inf at the start. Without the fall-back the
    Rosenbrock matrix has an infinite entry and every step is refused (status: step too small)."""
    cm = _toy((Flux("source", "1 - 2 * sqrt(x)", None, "x"), Flux("decay", "k * z", "z", None)),
              initial=("0", "1")).compile()
    p = cm.model.parameter_array({}, n=1)
    assert np.isinf(_kernel_jacobian(cm, p[:, 0], np.array([0.0, 1.0]), np.zeros(0))[0, 0])
    ts = np.linspace(0.0, 3.0, 31)
    result = solve(Problem(cm, p, InputSchedule.empty(1, 0)), SaveAt(ts), Rodas4(rtol=1e-8, atol=1e-10))
    assert result.status[0] == Status.SUCCESS
    reference = solve_ivp(lambda t, y: [1 - 2 * np.sqrt(max(y[0], 0.0)), -0.7 * y[1]], (0.0, 3.0), [0.0, 1.0],
                          method="LSODA", t_eval=ts, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(result.ys[:, 0, 0], reference.y[0], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(result.ys[:, 1, 0], np.exp(-0.7 * ts), rtol=1e-6)
