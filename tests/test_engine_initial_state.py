"""Continuing a solve from a stored state (``Problem.y0`` at ``t0``): what a trial's run-in needs.

Solving 0..T in one go must equal solving 0..t1 and then t1..T from the state stored at t1,
to solver tolerance, for both engines, on the CIDP model (its drive reads absolute time ``t``,
so a restart that reset the clock would fail), with t1 between infusions, on an infusion's
start and inside one. Both are also checked against scipy's DOP853 on the same right-hand side,
an independent solver. Without ``y0`` nothing changes: the model's initial state, bit for bit.
"""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from ivigsim.engine.compiled import Auto, Rodas4
from ivigsim.engine.outputs import solve_outputs, solve_outputs_and_state
from ivigsim.engine.schedule import InputSchedule, Window
from ivigsim.engine.solve import Problem, SaveAt, Status, solve
from ivigsim.engine.solver import Dopri5
from ivigsim.errors import InputError
from ivigsim.model.library import compiled_model

T_END = 126.0
#: Loading 2 g/kg over two days, then 1 g/kg every 21 days: infusions of 5 hours.
DAYS = [0.0, 1.0, 21.0, 42.0, 63.0, 84.0, 105.0]


@pytest.fixture(scope="module")
def cidp():
    return compiled_model("cidp")


def _problem(cm, n=3):
    weights = np.linspace(55.0, 105.0, n)
    windows = [[Window(d, d + 5 / 24, w / (5 / 24)) for d in DAYS] for w in weights]
    params = cm.model.parameter_array({"body_weight_kg": weights,
                                       "cidp_remission": np.linspace(0.1, 0.6, n)}, n=n)
    return Problem(cm, params, InputSchedule.from_windows(windows, 1))


def _scipy(cm, problem, ts, y0=None, t0=0.0):
    """DOP853 at rtol 1e-12, leg by leg between the schedule's breakpoints (inputs constant
    on each leg), each patient alone: an independent solver on the same right-hand side."""
    params = problem.parameters
    c = cm.constants(params)
    y_all = cm.initial(params, c) if y0 is None else y0
    out = np.empty((len(ts), cm.n_states, problem.n_patients))
    for i in range(problem.n_patients):
        p, ci, y = params[:, i:i + 1], c[:, i:i + 1], y_all[:, i].copy()
        edges = [e for e in problem.schedule.times[i] if np.isfinite(e) and t0 < e < ts[-1]]
        legs = [t0, *edges, ts[-1]]
        for a, b in zip(legs[:-1], legs[1:]):
            u = problem.schedule.value_at(np.full((1, problem.n_patients), a))[:, 0, i:i + 1]
            f = lambda t, yy: cm.rhs(np.array([t]), yy[:, None], p, ci, u)[:, 0]  # noqa: E731
            last = b == ts[-1]
            inside = (ts >= a) & ((ts <= b) if last else (ts < b))
            r = solve_ivp(f, (a, b), y, method="DOP853", rtol=1e-12, atol=1e-12, t_eval=ts[inside], dense_output=True)
            out[inside, :, i] = r.y.T
            y = r.sol(b)
    return out


@pytest.fixture(scope="module")
def reference(cidp):
    """The whole span by scipy, once for every continuation test."""
    ts = np.arange(0.0, T_END + 0.5, 0.5)
    return ts, _scipy(cidp, _problem(cidp), ts)


def _scale(ys):
    return np.abs(ys).max(axis=0, keepdims=True) + 1e-12


@pytest.mark.parametrize("t1", [50.0, 63.0, 84.1], ids=["between", "on-start", "inside-infusion"])
@pytest.mark.parametrize("solver", [Dopri5(rtol=1e-10, atol=1e-12), Auto(rtol=1e-10, atol=1e-12),
                                    Rodas4(rtol=1e-9, atol=1e-12)], ids=["numpy", "Auto", "Rodas4"])
@pytest.mark.slow  # 2 s or more (README run under 5 minutes): in CI and with --run-slow
def test_continuing_from_a_stored_state_equals_one_solve(cidp, reference, solver, t1):
    problem = _problem(cidp)
    ts, reference = reference
    whole = solve(problem, SaveAt(ts), solver)
    first = solve(problem, SaveAt(ts[ts <= t1] if t1 in ts else np.append(ts[ts < t1], t1)), solver)
    rest_ts = np.append(t1, ts[ts > t1]) if t1 not in ts else ts[ts >= t1]
    second = solve(Problem(cidp, problem.parameters, problem.schedule, t0=t1, y0=first.ys[-1]), SaveAt(rest_ts), solver)
    assert (whole.status == Status.SUCCESS).all() and (second.status == Status.SUCCESS).all()
    np.testing.assert_array_equal(second.ys[0], first.ys[-1])  # the stored state, untouched
    glued = np.concatenate([first.ys[:-1], second.ys])
    on_ts = np.isin(np.concatenate([first.ts[:-1], second.ts]), ts)
    scale = _scale(whole.ys)
    # Two solves at rtol 1e-10 each carry their own error of about 1e-9 of a state's range.
    assert np.max(np.abs(glued[on_ts] - whole.ys) / scale) < 2e-8
    # Against scipy: the continuation from the stored state, and the whole span.
    assert np.max(np.abs(whole.ys - reference) / scale) < 2e-8
    assert np.max(np.abs(glued[on_ts] - reference) / scale) < 2e-8


def test_continuation_matches_scipy_from_the_same_state(cidp):
    """From one given state (not the model's steady state), the compiled engine and scipy agree."""
    problem = _problem(cidp)
    y0 = cidp.initial(problem.parameters, cidp.constants(problem.parameters)) * np.array([1.3, 0.8, 1.1])[None, :]
    ts = np.arange(30.0, 90.0, 1.0)
    p = Problem(cidp, problem.parameters, problem.schedule, t0=30.0, y0=y0)
    got = solve(p, SaveAt(ts), Auto(rtol=1e-10, atol=1e-12)).ys
    reference = _scipy(cidp, p, ts, y0=y0, t0=30.0)
    np.testing.assert_array_equal(got[0], y0)
    # Off its steady state the patient starts with fast transients; outputs between steps come
    # from the 4th-order continuous extension, so a little looser than at step ends.
    assert np.max(np.abs(got - reference) / _scale(reference)) < 1e-7


@pytest.mark.parametrize("solver", [Dopri5(), Auto()], ids=["numpy", "Auto"])
def test_y0_equal_to_the_initial_state_changes_nothing(cidp, solver):
    """Giving the model's own initial state as y0 is the default path, bit for bit."""
    problem = _problem(cidp)
    y0 = cidp.initial(problem.parameters, cidp.constants(problem.parameters))
    ts = np.arange(0.0, 60.0)
    a = solve(problem, SaveAt(ts), solver)
    b = solve(Problem(cidp, problem.parameters, problem.schedule, y0=y0), SaveAt(ts), solver)
    np.testing.assert_array_equal(a.ys, b.ys)
    np.testing.assert_array_equal(a.n_steps, b.n_steps)


@pytest.mark.parametrize("solver", [Dopri5(rtol=1e-8), Auto(rtol=1e-8)], ids=["numpy", "Auto"])
def test_outputs_and_state(cidp, solver):
    """``solve_outputs_and_state``: the outputs ``solve_outputs`` gives, and the state at the last
    saved time (the state ``solve`` saves there, bit for bit: both integrate every state). The
    compiled solver's ``solve_outputs`` integrates only the states the outputs read (the kernel's
    ``observation_plan``), a different sequence of steps: the same values within the tolerance."""
    problem = _problem(cidp)
    ts = np.array([0.0, 14.0, 84.0])
    names = ("incat_score", "igg_total_g_per_L")
    observed, state = solve_outputs_and_state(problem, SaveAt(ts), solver, names)
    plain = solve_outputs(problem, SaveAt(ts), solver, names)
    if isinstance(solver, Dopri5):
        np.testing.assert_array_equal(observed.values, plain.values)
    else:
        scale = np.abs(plain.values).max(axis=(0, 2), keepdims=True)
        assert np.max(np.abs(observed.values - plain.values) / scale) < 1e-6
    np.testing.assert_array_equal(state, solve(problem, SaveAt(ts), solver).ys[-1])


@pytest.mark.parametrize("bad", ["shape", "nan"])
def test_bad_initial_state_is_refused(cidp, bad):
    problem = _problem(cidp)
    y0 = np.zeros((3, 3)) if bad == "shape" else np.full((cidp.n_states, 3), np.nan)
    with pytest.raises(InputError) as err:
        Problem(cidp, problem.parameters, problem.schedule, y0=y0)
    assert err.value.field == "y0"
