"""Interval estimates for trial endpoints (95 % by default), each with its reason.

- Fractions: Wilson score interval (Wilson 1927; Brown, Cai & DasGupta 2001 recommend
  it over the Wald interval for every n). Exact at the boundaries k = 0 and k = n.
- Means: Student t interval (normal-theory; for n in the hundreds the CLT makes it
  accurate for any endpoint with finite variance).
- Medians and other quantiles: the distribution-free order-statistic interval: the
  sorted values x(j) and x(k) with j, k chosen from Binomial(n, q) so that
  P(x(j) <= xi_q < x(k)) >= 95 % (Hahn & Meeker, Statistical Intervals, s.5.2). No
  random resampling, so no extra random stream and no Monte Carlo error; an end the
  sample cannot reach (tiny n) is reported as NaN ("not estimable").
- Time to event with a common censoring time (every patient is followed to the end
  of the window): the Kaplan-Meier estimate equals the empirical distribution, so the
  median time is the 0.5 quantile of event times with censored patients at +infinity
  (NaN when fewer than half have the event: "not reached"), and its interval is the
  order-statistic interval above; the fraction with the event is a Wilson interval.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    estimate: float
    lower: float
    upper: float
    n: int
    method: str

    def as_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in asdict(self).items()}


def wilson(k: int, n: int, level: float = LEVEL) -> Estimate:
    if n == 0:
        return Estimate(np.nan, np.nan, np.nan, 0, "wilson")
    z = stats.norm.ppf(0.5 + level / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    lo, hi = centre - half, centre + half
    if k == 0:
        lo = 0.0
    if k == n:
        hi = 1.0
    return Estimate(float(p), float(max(lo, 0.0)), float(min(hi, 1.0)), n, "wilson")


def mean_t(x: np.ndarray, level: float = LEVEL) -> Estimate:
    x = np.asarray(x, dtype=float)
    n = x.size
    if n == 0:
        return Estimate(np.nan, np.nan, np.nan, 0, "t")
    m = float(np.mean(x))
    if n == 1:
        return Estimate(m, np.nan, np.nan, 1, "t")
    half = stats.t.ppf(0.5 + level / 2, n - 1) * np.std(x, ddof=1) / np.sqrt(n)
    return Estimate(m, float(m - half), float(m + half), n, "t")


def order_statistic_indices(n: int, q: float, level: float = LEVEL) -> tuple[int, int]:
    """1-based ranks (j, k) of the interval; j = 0 or k = n + 1 means that end is not reachable."""
    alpha = 1 - level
    j = int(stats.binom.ppf(alpha / 2, n, q))
    k = int(stats.binom.ppf(1 - alpha / 2, n, q)) + 1
    return j, k


def quantile_interval(x: np.ndarray, q: float, level: float = LEVEL) -> Estimate:
    """Sample quantile (linear interpolation, NumPy's default) and its order-statistic interval."""
    x = np.sort(np.asarray(x, dtype=float))
    n = x.size
    if n == 0:
        return Estimate(np.nan, np.nan, np.nan, 0, "order statistics")
    pos = q * (n - 1)  # NumPy's default ("linear") definition, written out so +inf
    lo_i = int(np.floor(pos))  # (censored times) is handled: inf only if it is used
    frac = pos - lo_i
    with np.errstate(invalid="ignore"):
        est = float(x[lo_i]) if frac == 0 or lo_i + 1 >= n else float(x[lo_i] + frac * (x[lo_i + 1] - x[lo_i]))
    est = est if np.isfinite(est) else np.nan
    j, k = order_statistic_indices(n, q, level)
    lo = float(x[j - 1]) if j >= 1 else np.nan
    hi = float(x[k - 1]) if k <= n else np.nan
    lo = lo if np.isfinite(lo) else np.nan
    hi = hi if np.isfinite(hi) else np.nan
    return Estimate(est, lo, hi, n, "order statistics")


def time_to_event(times: np.ndarray, event: np.ndarray, level: float = LEVEL) -> dict[str, Estimate]:
    """Median time to event and fraction with the event; censoring at one common time."""
    t = np.where(event, times, np.inf)
    median = quantile_interval(t, 0.5, level)
    if not np.isfinite(median.estimate) and t.size:
        median = Estimate(np.nan, median.lower, median.upper, t.size, "order statistics (median not reached)")
    return {"median_time_day": median, "fraction_with_event": wilson(int(np.sum(event)), t.size, level)}
