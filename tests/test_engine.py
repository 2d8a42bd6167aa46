"""The engine against closed-form solutions, scipy, and its own contracts."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from ivigsim.engine.schedule import InputSchedule, Window
from ivigsim.engine.solve import Problem, SaveAt, Status, solve
from ivigsim.engine.solver import Dopri5
from tests.conftest import observe


def _two_compartment_infusion(t, windows, k10, k12, k21):
    """Central amount of a linear 2-compartment model given zero-order infusions.

    Classic bi-exponential solution (Gibaldi & Perrier, Pharmacokinetics, ch. 2),
    superposed over infusions. alpha, beta: the two disposition rate constants.
    """
    s = k10 + k12 + k21
    alpha = (s + np.sqrt(s * s - 4 * k10 * k21)) / 2
    beta = (s - np.sqrt(s * s - 4 * k10 * k21)) / 2
    a_coef = (k21 - alpha) / (alpha * (beta - alpha))
    b_coef = (k21 - beta) / (beta * (alpha - beta))
    total = np.zeros_like(t)
    for start, end, rate in windows:
        tau = np.clip(t - start, 0, None)  # time since start
        on = np.minimum(tau, end - start)  # time infused so far
        off = tau - on  # time since the end
        total += rate * (a_coef * (1 - np.exp(-alpha * on)) * np.exp(-alpha * off)
                         + b_coef * (1 - np.exp(-beta * on)) * np.exp(-beta * off))
    return total


def _linear_problem(core, windows, weight=70.0):
    params = core.model.parameter_array({"fcrn_saturation_strength": 0.0, "body_weight_kg": weight})
    schedule = InputSchedule.from_windows([[Window(*w) for w in windows]], 1)
    return Problem(core, params, schedule), params, schedule


@pytest.mark.parametrize("weight", [20.0, 70.0, 110.0])
def test_linear_pk_matches_closed_form(core, weight):
    windows = [(0.0, 0.2, 0.4 * weight / 0.2), (1.0, 1.25, 0.4 * weight / 0.25), (21.0, 21.1, 50.0)]
    problem, params, schedule = _linear_problem(core, windows, weight)
    ts = np.linspace(0, 60, 241)
    sol = solve(problem, SaveAt(ts), Dopri5(rtol=1e-10, atol=1e-12))
    assert (sol.status == Status.SUCCESS).all()

    c = dict(zip(core.model.constant_names, sol.constants[:, 0]))
    k10 = c["catabolic_entry_rate_per_day"] * (1 - c["fcrn_rescue_baseline"])
    k12 = c["distribution_clearance_L_per_day"] / c["plasma_volume_L"]
    k21 = c["distribution_clearance_L_per_day"] / c["tissue_volume_L"]
    expected = _two_compartment_infusion(ts, windows, k10, k12, k21)
    ivig_central = sol.ys[:, core.model.state_names.index("ivig_central_g"), 0]
    np.testing.assert_allclose(ivig_central[1:], expected[1:], rtol=1e-6)
    # Without saturation the patient's own IgG is untouched by the dose.
    endo = sol.ys[:, core.model.state_names.index("endogenous_central_g"), 0]
    np.testing.assert_allclose(endo, endo[0], rtol=1e-9)


def _scipy_reference(core, params, schedule, ts):
    """The same model solved by scipy's DOP853 at tight tolerance, leg by leg."""
    c = core.constants(params)
    y = core.initial(params, c)[:, 0]
    edges = [t for t in schedule.times[0] if np.isfinite(t)]
    legs = sorted({0.0, ts[-1], *[e for e in edges if e < ts[-1]]})
    out = []
    for a, b in zip(legs[:-1], legs[1:]):
        u = schedule.value_at(np.array([[a]]))[:, 0, :]
        f = lambda t, yy: core.rhs(t, yy[:, None], params, c, u)[:, 0]  # noqa: E731
        inside = ts[(ts >= a) & (ts < b)] if b < ts[-1] else ts[(ts >= a) & (ts <= b)]
        r = solve_ivp(f, (a, b), y, method="DOP853", rtol=1e-12, atol=1e-12, t_eval=inside)
        out.append(r.y.T)
        y = solve_ivp(f, (a, b), y, method="DOP853", rtol=1e-12, atol=1e-12).y[:, -1]
    return np.concatenate(out)


def test_saturable_model_matches_scipy(core):
    weight = 65.0
    windows = [[Window(d, d + 5 / 24, 0.4 * weight / (5 / 24)) for d in range(5)]]
    params = core.model.parameter_array({"body_weight_kg": weight})
    schedule = InputSchedule.from_windows(windows, 1)
    ts = np.arange(0.0, 43.0, 0.5)
    sol = solve(Problem(core, params, schedule), SaveAt(ts), Dopri5(rtol=1e-10, atol=1e-12))
    reference = _scipy_reference(core, params, schedule, ts)
    np.testing.assert_allclose(sol.ys[:, :, 0], reference, rtol=1e-7, atol=1e-9)


def test_mass_balance(core):
    """IgG infused = infused IgG still in the body + infused IgG degraded."""
    weight = 80.0
    windows = [[Window(0.0, 0.3, 1.0 * weight / 0.3), Window(1.0, 1.3, 1.0 * weight / 0.3),
                Window(21.0, 21.2, 0.25 * weight / 0.2)]]
    params = core.model.parameter_array({"body_weight_kg": weight})
    schedule = InputSchedule.from_windows(windows, 1)
    ts = np.array([0.1, 0.3, 5.0, 21.1, 40.0])
    sol = solve(Problem(core, params, schedule), SaveAt(ts), Dopri5(rtol=1e-9, atol=1e-12))
    names = core.model.state_names
    ivig = sum(sol.ys[:, names.index(n), 0] for n in ("ivig_central_g", "ivig_peripheral_g", "ivig_catabolised_g"))
    infused = np.array([0.1 / 0.3 * 80, 80, 160, 160 + 0.5 * 40 * 0.5, 180])
    np.testing.assert_allclose(ivig, infused, rtol=1e-8)


def test_baseline_is_a_steady_state(core):
    params = core.model.parameter_array({"baseline_igg_g_per_L": np.array([6.0, 11.4, 18.0])}, n=3)
    schedule = InputSchedule.empty(3, 1)
    sol = solve(Problem(core, params, schedule), SaveAt(np.arange(0.0, 101.0)), Dopri5(rtol=1e-8))
    np.testing.assert_allclose(sol.ys[-1], sol.ys[0], rtol=1e-9, atol=1e-12)


def test_convergence_with_tolerance(core):
    """Error against a tight reference falls as rtol is tightened (about in proportion)."""
    windows = [(0.0, 0.5, 140.0), (1.0, 1.5, 140.0)]
    problem, _, _ = _linear_problem(core, windows)
    ts = np.array([0.25, 1.25, 3.0, 10.0, 30.0])
    ref = solve(problem, SaveAt(ts), Dopri5(rtol=1e-12, atol=1e-14)).ys
    errors = [np.max(np.abs(solve(problem, SaveAt(ts), Dopri5(rtol=r, atol=r * 1e-3)).ys - ref) / np.abs(ref).max())
              for r in (1e-4, 1e-6, 1e-8)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-6


def test_batch_equals_single_patients_bit_for_bit(core):
    """A patient's result does not depend on who else is in the batch."""
    weights = np.array([15.0, 70.0, 130.0, 55.0])
    doses = [[Window(0, 0.4, 2 * w / 0.4)] for w in weights[:2]] + [[Window(3, 3.5, 50.0), Window(10, 10.1, 30.0)], []]
    params = core.model.parameter_array({"body_weight_kg": weights}, n=4)
    ts = np.arange(0.0, 30.0, 0.5)
    batch = solve(Problem(core, params, InputSchedule.from_windows(doses, 1)), SaveAt(ts))
    for i in range(4):
        one = solve(Problem(core, params[:, i:i + 1], InputSchedule.from_windows([doses[i]], 1)), SaveAt(ts))
        np.testing.assert_array_equal(batch.ys[:, :, i], one.ys[:, :, 0])
        assert batch.n_steps[i] == one.n_steps[0]


def test_failure_is_reported_not_fatal(core):
    doses = [[Window(0, 0.1, 1000.0)], []]
    params = core.model.parameter_array(n=2)
    sol = solve(Problem(core, params, InputSchedule.from_windows(doses, 1)), SaveAt(np.arange(0.0, 20.0)),
                Dopri5(max_steps=30))
    assert sol.status[0] == Status.MAX_STEPS and sol.status[1] == Status.SUCCESS
    assert list(sol.failed) == [0]
    assert np.isnan(sol.ys[-1, :, 0]).all() and np.isfinite(sol.ys[:, :, 1]).all()


def test_outputs_land_exactly_on_breakpoints(core):
    """An output at an infusion's end sees the full dose delivered."""
    params = core.model.parameter_array()
    schedule = InputSchedule.from_windows([[Window(0.0, 0.5, 100.0)]], 1)
    sol = solve(Problem(core, params, schedule), SaveAt(np.array([0.5, 1.0])), Dopri5(rtol=1e-10, atol=1e-13))
    names = core.model.state_names
    ivig = sum(sol.ys[0, names.index(n), 0] for n in ("ivig_central_g", "ivig_peripheral_g", "ivig_catabolised_g"))
    assert ivig == pytest.approx(50.0, rel=1e-9)
    out = observe(core, sol, params, schedule)
    assert out["igg_total_g_per_L"][0, 0] > out["igg_total_g_per_L"][1, 0]
