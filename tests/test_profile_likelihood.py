"""Profile likelihoods (ivigsim.validation.profile) against the closed form of a linear
Gaussian model: with -2 log L = ||A x - b||^2 the profile of x_i is the parabola
(x_i - x_hat_i)^2 / C_ii, C = (A^T A)^-1, so its 95 % interval is x_hat_i +/- sqrt(3.84 C_ii)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from ivigsim.validation.joint import FitParameter
from ivigsim.validation.likelihood import Breakdown, Term
from ivigsim.validation.profile import CHI2_95, partners, profile


@dataclass(frozen=True)
class _Unit:
    key: str
    names: frozenset


class LinearGaussian:
    """An objective with the interface ``joint.fit`` and ``profile`` use: residuals A x - b
    in x = log(value) of each parameter; units say which parameters each residual reads."""

    def __init__(self, a: np.ndarray, b: np.ndarray, names: list[str]):
        self.a, self.b, self.names = a, b, names
        self.targets = tuple(f"r{i}" for i in range(len(b)))
        self.units = [_Unit(f"r{i}", frozenset(n for n, aij in zip(names, row) if aij != 0))
                      for i, row in enumerate(a)]
        self.evaluations = self.unit_runs = 0
        self.failures: list = []
        self.defaults = {n: 1.0 for n in names}

    def breakdown(self, overrides):
        self.evaluations += 1
        x = np.array([math.log({**self.defaults, **overrides}[n]) for n in self.names])
        r = self.a @ x - self.b
        return Breakdown(tuple(Term(t, "normal", 0.0, float(ri), 0.0, 1.0, None, float(ri * ri), float(ri))
                               for t, ri in zip(self.targets, r)))


def _parameters(names, x=None):
    """Log-scale parameters whose search box (a factor of 20 either way) centres on ``x``."""
    x = np.zeros(len(names)) if x is None else x
    return [FitParameter(n, "1", math.exp(xi), (1e-6, 1e6), "log", "calibrated", "b") for n, xi in zip(names, x)]


@pytest.fixture()
def model():
    names = ["p", "q", "s"]
    # p and q share residuals (correlated); s has its own, and is the only one in r3.
    a = np.array([[2.0, 1.5, 0.0], [1.0, 1.2, 0.0], [0.5, -0.3, 0.0], [0.0, 0.0, 3.0]])
    b = np.array([0.3, -0.2, 0.1, 0.6])
    return LinearGaussian(a, b, names), names


def test_partners_follow_the_units(model):
    objective, names = model
    assert partners(objective, "p", names) == ["q"]
    assert partners(objective, "s", names) == []
    assert partners(objective, "p", names, shared=["q"]) == []
    assert partners(objective, "p", names, refit_shared=True, shared=["q"]) == ["q"]


def test_profile_matches_the_closed_form_parabola(model):
    objective, names = model
    x_hat, *_ = np.linalg.lstsq(objective.a, objective.b, rcond=None)
    params = _parameters(names, x_hat)
    total_hat = float(np.sum((objective.a @ x_hat - objective.b) ** 2))
    c = np.linalg.inv(objective.a.T @ objective.a)
    offsets = tuple(np.round(np.arange(0.05, 2.55, 0.05), 2))  # q stays inside its box
    prof = profile(objective, params, x_hat, total_hat, "p", refitted=["q"], offsets=offsets, tol=1e-8,
                   log=lambda _: None)
    for offset, value, delta in prof.points:
        assert delta == pytest.approx(offset**2 / c[0, 0], abs=2e-3)  # re-fitting q: the profile, not a slice
        assert value == pytest.approx(math.exp(x_hat[0] + offset))
    half = math.sqrt(CHI2_95 * c[0, 0])
    assert math.log(prof.lower95) == pytest.approx(x_hat[0] - half, abs=5e-3)
    assert math.log(prof.upper95) == pytest.approx(x_hat[0] + half, abs=5e-3)
    assert prof.identified == "yes"
    # Holding q instead (a slice) is steeper: curvature 1/ (A^T A)^-1 of p alone, larger than 1/C_pp.
    slice_ = profile(objective, params, x_hat, total_hat, "p", refitted=[], offsets=(0.5,), log=lambda _: None)
    assert slice_.points[-1][2] == pytest.approx(0.25 * (objective.a.T @ objective.a)[0, 0], rel=1e-9)
    assert slice_.points[-1][2] > 0.25 / c[0, 0]


def test_a_flat_parameter_is_reported_unbounded():
    names = ["p", "q"]
    a = np.array([[1.0, 1.0], [2.0, 2.0]])  # only p + q is pinned: a ridge
    objective = LinearGaussian(a, np.array([0.2, 0.4]), names)
    params = _parameters(names)
    x_hat = np.array([0.1, 0.1])
    prof = profile(objective, params, x_hat, 0.0, "p", refitted=["q"], log=lambda _: None)
    assert prof.lower95 is None and prof.upper95 is None and prof.identified == "no"
    # The fit's tolerance (a gain under 0.01 per iteration) leaves Delta a little above 0; a
    # slice (q held) would give Delta = 5 offset^2, 45 at the last point.
    assert max(abs(d) for _, _, d in prof.points) < 0.1


# --- the script: python -m ivigsim.validation.calibrate --profile ------------------------------


def _doc(tmp_path):
    """The shipped joint calibration cut to one Kawasaki parameter, with fast settings: its
    profile re-fits nothing (no partner among the fitted), so it is a slice of the objective."""
    import json

    from ivigsim.validation.calibrate import JOINT_FILE

    doc = json.loads(JOINT_FILE.read_text())
    doc["parameters"] = [r for r in doc["parameters"] if r["name"] == "kawasaki_risk_exponent"]
    doc["objective"]["settings"].update({"fast": True, "sizes": None})
    path = tmp_path / "joint.json"
    path.write_text(json.dumps(doc))
    return path


def test_profile_script_refuses_unknown_names_and_missing_files(tmp_path, capsys):
    from ivigsim.validation.calibrate import main

    assert main(["--profile", "all", "--out", str(tmp_path / "none.json")]) == 2
    assert "--out" in capsys.readouterr().err
    path = _doc(tmp_path)
    assert main(["--profile", "fcrn_km_g_per_L", "--out", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--profile" in err and "kawasaki_risk_exponent" in err


@pytest.mark.slow
def test_profile_script_stores_a_profile_whose_centre_is_the_estimate(tmp_path):
    import json

    from ivigsim.validation import joint
    from ivigsim.validation.calibrate import main

    path = _doc(tmp_path)
    assert main(["--profile", "kawasaki_risk_exponent", "--out", str(path)]) == 0
    doc = json.loads(path.read_text())
    (result,) = doc["profiles"]["results"]
    assert result["refitted"] == []
    centre = next(p for p in result["points"] if p["offset"] == 0)
    assert centre["delta_minus2_log_l"] == 0 and centre["value"] == pytest.approx(doc["parameters"][0]["estimate"])
    # Independent of the profile code: the objective evaluated directly at one grid point.
    point = next(p for p in result["points"] if p["offset"] == 0.5)
    settings = doc["objective"]["settings"]
    objective = joint.Objective(fast=True, seed=settings["seed"], softness=settings.get("softness", 0.0))
    direct = objective({"kawasaki_risk_exponent": point["value"]}) - objective(
        {"kawasaki_risk_exponent": centre["value"]})
    assert point["delta_minus2_log_l"] == pytest.approx(direct, abs=1e-9)


# --- the Laplace step's Hessian (ivigsim.validation.joint) ---------------------------------------


def test_hessian_with_per_axis_steps_is_exact_on_a_quadratic():
    from ivigsim.validation.joint import hessian

    a = np.array([[4000.0, 300.0, 0.0], [300.0, 50.0, -2.0], [0.0, -2.0, 0.5]])
    f = lambda x: float(x @ a @ x)  # noqa: E731  (Hessian 2a)
    x = np.array([0.1, -0.2, 0.3])
    assert np.allclose(hessian(f, x, [0.01, 0.1, 0.3]), 2 * a, rtol=1e-6, atol=1e-6)


def test_curvature_steps_raise_the_objective_by_the_stated_amount():
    from ivigsim.validation.joint import HESSIAN_RISE, MIN_HESSIAN_STEP, curvature_steps

    diagonal = np.array([4000.0, 400.0, 1.0, 0.0, -3.0, 1e9])
    steps = curvature_steps(diagonal, 0.1)
    assert steps[0] ** 2 * diagonal[0] / 2 == pytest.approx(HESSIAN_RISE)
    assert steps[1] == pytest.approx(0.1)  # sqrt(4 / 400) = 0.1: at the base step
    assert steps[2] == steps[3] == steps[4] == 0.1  # flat, zero or negative: the base step
    assert steps[5] == MIN_HESSIAN_STEP


def test_scaled_laplace_measures_curvature_where_a_fixed_step_sees_quartic_terms():
    """-2 log L = 4000 u^2 + 3e5 u^4 + v^2 - 60 u v: at the minimum the Hessian is
    [[8000, -60], [-60, 2]]. A fixed step h = 0.1 reads u's second difference as
    8000 + 6e5 h^2 = 14,000; the scaled step (0.017) comes within 3 %."""
    from ivigsim.validation import joint

    class Quartic:
        targets = ("u",)
        evaluations = unit_runs = 0
        failures: list = []

        def breakdown(self, overrides):
            u, v = (math.log(overrides[n]) for n in ("u", "v"))
            total = 4000 * u**2 + 3e5 * u**4 + v**2 - 60 * u * v
            return Breakdown((Term("u", "normal", 0.0, 0.0, 0.0, 1.0, None, total, 0.0),))

    params = _parameters(["u", "v"])
    fitted = joint.Fit(params, np.zeros(2), 0.0, [])
    exact = np.array([[8000.0, -60.0], [-60.0, 2.0]])
    fixed = joint.laplace(Quartic(), fitted, 0.1, scaled=False)
    scaled = joint.laplace(Quartic(), fitted, 0.1)
    assert fixed.hessian[0, 0] == pytest.approx(14000.0)
    assert np.allclose(scaled.hessian, exact, rtol=0.03)
    assert scaled.step[0] < 0.1 and scaled.step[1] == 0.1


def test_a_spurious_negative_direction_is_measured_again_along_itself():
    from ivigsim.validation.joint import repair_negative_directions

    a = np.array([[3.0, 1.0], [1.0, 2.0]])  # f = x^T a x: Hessian 2a, positive definite
    f = lambda x: float(x @ a @ x)  # noqa: E731
    wrong = np.array([[6.0, 9.0], [9.0, 4.0]])  # an indefinite "assembled" Hessian
    fixed, repaired = repair_negative_directions(f, np.zeros(2), wrong, 0.1)
    (r,) = repaired
    u = np.array(r["direction"])
    assert r["replaced"] and r["eigenvalue"] < 0
    assert r["measured"][0] == pytest.approx(2 * u @ a @ u)  # the true curvature along u
    assert np.linalg.eigvalsh(fixed).min() > 0
    assert u @ fixed @ u == pytest.approx(2 * u @ a @ u)


def test_a_real_saddle_stays_negative():
    from ivigsim.validation.joint import repair_negative_directions

    f = lambda x: float(x[0] ** 2 - x[1] ** 2)  # noqa: E731
    fixed, (r,) = repair_negative_directions(f, np.zeros(2), np.diag([2.0, -2.0]), 0.1)
    assert not r["replaced"] and np.linalg.eigvalsh(fixed).min() == pytest.approx(-2.0)


def test_a_direction_rough_below_the_step_takes_its_positive_curvature_once_no_escape_is_found():
    """A valley with ripples: f = 10 x^2 + y^2 + a ripple of period 0.1 along x. Measured along x at
    the step 0.1 the curvature is 20 (the ripple's period: it cancels), at 0.05 negative (the ripple
    dominates), so ``repair_negative_directions`` keeps the assembled negative eigenvalue; after
    ``escape_saddle`` found no lower point, ``accept_rough_directions`` takes the positive one."""
    from ivigsim.validation import joint

    f = lambda z: float(10 * z[0] ** 2 + z[1] ** 2 - 0.2 * (1 - math.cos(2 * math.pi * z[0] / 0.1)))  # noqa: E731
    assembled = np.diag([-4.0, 2.0])
    fixed, (r,) = joint.repair_negative_directions(f, np.zeros(2), assembled, 0.1)
    assert not r["replaced"] and r["measured"][0] == pytest.approx(20.0) and r["measured"][1] < 0
    params = [FitParameter(n, "", 1.0, (0.01, 100.0), "log", "calibrated", "shared") for n in ("a", "b")]
    approx = joint.Laplace(params, np.zeros(2), fixed, 0.1, [], [r])
    accepted = joint.accept_rough_directions(approx)
    assert np.linalg.eigvalsh(accepted.hessian) == pytest.approx([2.0, 20.0])
    assert accepted.repaired[0]["replaced"] and approx.repaired[0]["replaced"] is False  # a new value
    saddle = joint.Laplace(params, np.zeros(2), np.diag([-2.0, 2.0]), 0.1, [],
                           [{"eigenvalue": -2.0, "measured": [-2.0, -2.0], "replaced": False, "direction": [1.0, 0.0]}])
    assert joint.accept_rough_directions(saddle) is saddle  # a real saddle: both measurements negative


def test_interval_ends_are_exact_for_a_parabola_on_a_coarse_grid():
    from ivigsim.validation.profile import interval_ends

    c = 235.0  # Delta = c offset^2: one grid point at 0.25 each way is already far above 3.84
    points = [(o, o, c * o * o) for o in (-0.5, -0.25, 0.0, 0.25, 0.5)]
    lower, upper = interval_ends(points, lambda o: o)
    half = math.sqrt(CHI2_95 / c)
    assert lower == pytest.approx(-half) and upper == pytest.approx(half)
    assert interval_ends([(0.0, 0.0, 0.0), (0.5, 0.5, 1.0)], lambda o: o) == (None, None)
