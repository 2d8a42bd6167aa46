"""How good is the Laplace posterior? Importance sampling with the exact objective.

The joint calibration's posterior ensemble is drawn from a Laplace normal: a quadratic
fitted to -2 log L at its minimum (``joint.laplace``). Whether that quadratic describes the
posterior away from the minimum is a question the Hessian cannot answer. Importance
sampling can: evaluate the exact -2 log L at each draw ``x_i`` of the normal ``q`` and weight
the draw by the ratio of the posterior (flat prior on the fitting scale, inside the search
box) to the normal,

    log w_i = -(-2 log L(x_i)) / 2  -  log q(x_i)     (up to one constant),

so the weighted draws are a sample of the exact posterior (Geweke 1989). The weights also
say how far the normal is from it: Pareto-smoothed importance sampling (Vehtari et al. 2024,
``arviz.psislw``) fits the tail of the weights, and its shape ``k`` is the diagnostic:
k < 0.7 means the weighted estimates are reliable at this sample size, k >= 0.7 that the
normal misses mass the posterior has (the draws cannot be repaired by weighting). The
effective sample size 1 / sum(w^2) of the normalised smoothed weights says how many of the
draws the weighted answer is worth.

Pure: numbers in, numbers out (``ivigsim.validation.calibrate --importance`` evaluates the
objective and stores the result).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Vehtari et al. 2024: above this Pareto k, importance-sampling estimates are unreliable
#: whatever the number of draws (the weights' variance is infinite or nearly so).
K_RELIABLE = 0.7


def normal_log_density(x: np.ndarray, centre: np.ndarray, precision: np.ndarray, floor: float) -> np.ndarray:
    """log q(x) up to a constant for rows ``x`` of the normal with ``precision`` (eigenvalues
    floored at ``floor``, as the draws were made: ``joint.Laplace.ensemble``) around ``centre``."""
    w, v = np.linalg.eigh(0.5 * (precision + precision.T))
    z = (np.atleast_2d(x) - centre) @ v
    return -0.5 * (z**2 * np.maximum(w, floor)).sum(axis=1)


@dataclass(frozen=True)
class Weighted:
    """Importance weights of ``n`` draws: ``log_weights`` (Pareto-smoothed, normalised; -inf
    where the objective failed), the Pareto ``k``, and the effective sample size."""

    log_weights: np.ndarray
    k: float
    ess: float

    @property
    def weights(self) -> np.ndarray:
        return np.exp(self.log_weights)

    @property
    def reliable(self) -> bool:
        return bool(self.k < K_RELIABLE)


def importance_weights(minus2_log_l: Sequence[float], log_q: Sequence[float]) -> Weighted:
    """Weights of draws with exact ``minus2_log_l`` drawn from a proposal of log density
    ``log_q`` (both per draw; a non-finite objective gets weight 0)."""
    from arviz import psislw  # the fit extra's dependency: a script's import, not the model's

    m2 = np.asarray(minus2_log_l, dtype=float)
    lq = np.asarray(log_q, dtype=float)
    raw = np.where(np.isfinite(m2), -0.5 * m2 - lq, -np.inf)
    ok = np.isfinite(raw)
    if ok.sum() < 2:
        raise ValueError("importance sampling needs at least two draws with a finite objective")
    if np.ptp(raw[ok]) < 1e-12:  # the proposal is the posterior: equal weights, a tail with no
        smoothed, k = np.full(ok.sum(), -np.log(ok.sum())), -np.inf  # spread (arviz's fit says inf)
    else:
        smoothed, k = psislw(raw[ok] - raw[ok].max())
    log_w = np.full(raw.shape, -np.inf)
    log_w[ok] = smoothed
    w = np.exp(smoothed)
    return Weighted(log_w, float(k), float(1.0 / np.sum(w**2)))


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Quantiles ``qs`` of ``values`` (1-D) under normalised ``weights``: the inverse of the
    weighted empirical distribution, interpolated between the midpoints of each draw's mass
    (equal weights give numpy's 'hazen' quantiles)."""
    order = np.argsort(values)
    v, w = np.asarray(values, float)[order], np.asarray(weights, float)[order]
    w = w / w.sum()
    mid = np.cumsum(w) - 0.5 * w
    return np.interp(np.asarray(qs, float), mid, v)


def weighted_moments(x: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and covariance of the rows of ``x``."""
    w = np.asarray(weights, float) / np.sum(weights)
    mean = w @ x
    d = x - mean
    return mean, (d * w[:, None]).T @ d


def departure(z: np.ndarray, excess: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Where the exact -2 log L departs from the Laplace quadratic: the least-squares fit of the
    ``excess`` rise (exact rise minus the quadratic's, per draw) on each parameter's standardised
    deviation ``z`` (draws x parameters, in Laplace SDs) and its square less 1,

        excess ~ c + sum_i a_i z_i + b_i (z_i^2 - 1),

    returns (a, b, R^2). ``a_i`` is an odd departure (the objective rises faster on the upper
    side of parameter i when positive: the posterior leans to lower values); ``b_i`` an even one
    (negative: flatter than the quadratic, the Laplace SD too small). With correlated
    parameters only their combinations are meaningful, as for the Hessian itself."""
    z = np.asarray(z, float)
    excess = np.asarray(excess, float)
    ok = np.isfinite(excess)
    x = np.column_stack([z[ok], z[ok] ** 2 - 1.0, np.ones(ok.sum())])
    coef, *_ = np.linalg.lstsq(x, excess[ok], rcond=None)
    fitted = x @ coef
    r2 = 1.0 - np.var(excess[ok] - fitted) / np.var(excess[ok])
    k = z.shape[1]
    return coef[:k], coef[k:2 * k], float(r2)
