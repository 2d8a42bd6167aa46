"""Importance sampling of the Laplace posterior (ivigsim/validation/importance.py), against
posteriors whose exact answer is known in closed form, and the shipped result's consistency.

The closed-form case: x = log(theta) with theta ~ Gamma(a, 1) has density exp(a x - e^x);
its mode is log a and the curvature there a, so its Laplace normal is N(log a, 1/a), while
its exact mean is digamma(a) and its quantiles are the log of Gamma(a)'s. The normal is off
by a quarter of an SD at a = 5; the weighted draws must find the exact values."""

import json
import math

import numpy as np
import pytest
from scipy import special, stats

from ivigsim.validation import importance
from ivigsim.validation.calibrate import JOINT_FILE, main

A = 5.0


def _laplace_draws(n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    x = math.log(A) + rng.standard_normal(n) / math.sqrt(A)
    log_q = importance.normal_log_density(x[:, None], np.array([math.log(A)]), np.array([[A]]), 1e-12)
    minus2_log_l = -2.0 * (A * x - np.exp(x))
    return x, log_q, minus2_log_l


def test_the_weighted_draws_find_the_exact_mean_and_quantiles_the_normal_misses():
    x, log_q, m2 = _laplace_draws(40_000)
    w = importance.importance_weights(m2, log_q)
    assert w.reliable and w.ess > 0.5 * len(x)
    exact_mean = special.digamma(A)
    assert abs(np.mean(x) - exact_mean) > 0.09  # the normal's own answer is off by 0.10
    mean, _ = importance.weighted_moments(x[:, None], w.weights)
    assert mean[0] == pytest.approx(exact_mean, abs=0.01)
    qs = [0.025, 0.5, 0.975]
    exact = np.log(stats.gamma(A).ppf(qs))
    assert abs(np.quantile(x, qs[0]) - exact[0]) > 0.2  # the normal's lower end: its tail is too light
    got = importance.weighted_quantiles(x, w.weights, qs)
    assert got[1] == pytest.approx(exact[1], abs=0.01)
    assert got[[0, 2]] == pytest.approx(exact[[0, 2]], abs=0.04)


def test_an_exact_normal_gives_equal_weights():
    rng = np.random.default_rng(2)
    cov = np.array([[1.0, 0.6], [0.6, 2.0]])
    precision = np.linalg.inv(cov)
    x = rng.multivariate_normal([0.3, -1.0], cov, size=2000)
    log_q = importance.normal_log_density(x, np.array([0.3, -1.0]), precision, 1e-12)
    # scipy's density, up to its constant
    ref = stats.multivariate_normal([0.3, -1.0], cov).logpdf(x)
    assert np.ptp(log_q - ref) < 1e-9
    m2 = -2.0 * ref + 17.0  # the exact posterior is the proposal (any constant)
    w = importance.importance_weights(m2, log_q)
    assert w.ess == pytest.approx(len(x), rel=1e-9)
    assert w.reliable


def test_a_posterior_with_heavier_tails_than_the_normal_is_flagged_unreliable():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(4000)
    log_q = -0.5 * x**2
    m2 = -2.0 * stats.cauchy(scale=2.0).logpdf(x)  # Cauchy's tails: weights with infinite variance
    w = importance.importance_weights(m2, log_q)
    assert w.k >= importance.K_RELIABLE and not w.reliable


def test_a_failed_draw_weighs_nothing():
    x, log_q, m2 = _laplace_draws(500)
    m2 = m2.copy()
    m2[7] = math.inf
    w = importance.importance_weights(m2, log_q)
    assert w.weights[7] == 0.0 and w.weights.sum() == pytest.approx(1.0)


def test_the_floored_eigenvalues_widen_the_normal_as_the_draws_were_made():
    # One flat direction (eigenvalue 1e-6) is drawn with SD 1 (floor 1): its density is N(0, 1).
    x = np.array([[0.0, 0.0], [0.0, 2.0]])
    lq = importance.normal_log_density(x, np.zeros(2), np.diag([4.0, 1e-6]), 1.0)
    assert lq[1] - lq[0] == pytest.approx(-2.0)


def test_departures_from_the_quadratic_are_recovered_per_parameter():
    rng = np.random.default_rng(6)
    z = rng.standard_normal((3000, 3))
    excess = 2.0 * z[:, 0] - 1.5 * (z[:, 2] ** 2 - 1) + 0.3 + 0.1 * rng.standard_normal(3000)
    odd, even, r2 = importance.departure(z, excess)
    assert odd == pytest.approx([2.0, 0.0, 0.0], abs=0.02)
    assert even == pytest.approx([0.0, 0.0, -1.5], abs=0.02)
    assert r2 > 0.99


def test_weighted_quantiles_with_equal_weights_are_numpys_hazen_quantiles():
    v = np.random.default_rng(4).standard_normal(101)
    qs = [0.025, 0.3, 0.5, 0.975]
    assert importance.weighted_quantiles(v, np.ones_like(v), qs) == pytest.approx(np.quantile(v, qs, method="hazen"))


DOC = json.loads(JOINT_FILE.read_text())


@pytest.mark.skipif("importance" not in DOC, reason="the shipped calibration has no importance section")
def test_the_shipped_section_follows_from_the_stored_objective_values():
    """Reproducibility of the stored section (not evidence about the model): the weights, k, the
    effective sample size and the departures recomputed from the stored -2 log L of each draw."""
    from ivigsim.validation.calibrate import importance_section

    sec = DOC["importance"]
    again = importance_section(DOC, sec["estimate_minus2_log_l"], sec["minus2_log_l"])
    assert again["pareto_k"] == pytest.approx(sec["pareto_k"], abs=1e-9)
    assert again["effective_sample_size"] == pytest.approx(sec["effective_sample_size"], rel=1e-9)
    assert np.allclose(again["log_weights"], sec["log_weights"], atol=1e-9)
    for mine, stored in zip(again["parameters"], sec["parameters"]):
        assert mine["departure_odd"] == pytest.approx(stored["departure_odd"], abs=1e-9)


@pytest.mark.slow  # 4-17 s: in CI and with --run-slow (the README command stays under 5 minutes)
@pytest.mark.skipif("importance" not in DOC, reason="the shipped calibration has no importance section")
def test_a_stored_draw_reproduces_its_objective():
    from ivigsim.validation.calibrate import _recorded_objective

    i = int(np.argmax(DOC["importance"]["log_weights"]))  # the draw that weighs most
    vector = dict(zip(DOC["ensemble"]["names"], DOC["ensemble"]["vectors"][i]))
    assert _recorded_objective(DOC)(vector) == pytest.approx(DOC["importance"]["minus2_log_l"][i], abs=1e-3)


def test_importance_without_a_file_is_one_line_and_exit_status_2(capsys):
    assert main(["--importance", "--out", "/nonexistent/j.json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --")
