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


def wilson(k: float, n: int, level: float = LEVEL) -> Estimate:
    """The Wilson score interval of ``k`` successes in ``n``. ``k`` may be fractional (a sum of
    soft criteria's degrees, ``Endpoint.softness``): the same formula in p = k / n, with the
    exact ends at k = 0 and k = n."""
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


def mean_times(times: np.ndarray, event: np.ndarray, tau: float, level: float = LEVEL) -> dict[str, Estimate]:
    """Restricted mean time to event up to ``tau`` and, when no patient is censored, the mean time.

    With one common censoring time C >= tau (every patient followed to the window's end), the
    Kaplan-Meier curve is the empirical survival function, so its area from 0 to tau is the
    mean of min(T, tau) with censored times at C: a mean of bounded, independent values, whose
    t interval is accurate for n in the tens (the tests integrate statsmodels' ``SurvfuncRight``).
    The mean time itself is the area to infinity: known only when every patient had the event.
    """
    t = np.asarray(times, dtype=float)
    event = np.asarray(event, dtype=bool)
    rmst = mean_t(np.minimum(t, tau), level)
    rmst = Estimate(rmst.estimate, rmst.lower, rmst.upper, rmst.n, f"restricted mean to day {tau:g} (area under the "
                    "Kaplan-Meier curve; one common censoring time), t interval")
    censored = int((~event).sum())
    if t.size and censored == 0:
        mean = mean_t(t, level)
    else:
        mean = Estimate(np.nan, np.nan, np.nan, int(t.size), f"not estimable: {censored} patients censored "
                        "(see the restricted mean)")
    return {"restricted_mean_time_day": rmst, "mean_time_day": mean}


def rate_per_exposure(events: np.ndarray, exposure: np.ndarray, level: float = LEVEL) -> Estimate:
    """Events per unit of exposure (per infusion), pooled: sum(events) / sum(exposure), with a
    Wald interval on the log scale whose variance is the cluster-robust (sandwich) one of a
    Poisson rate model with the patient as the cluster: a patient's infusions share its drawn
    susceptibility and risk factors, so events cluster in patients and a plain Poisson or
    binomial interval on the infusion count would be too narrow. It is what statsmodels gives
    for ``GLM(events, 1, Poisson, exposure=exposure)`` with ``cov_type="cluster"`` (the tests
    check that). ``n`` is the number of patients with exposure. No event: the exact (Garwood)
    Poisson upper bound -log(alpha / 2) / exposure (the log scale has no 0).
    """
    e = np.asarray(events, dtype=float)
    m = np.asarray(exposure, dtype=float)
    ok = np.isfinite(e) & np.isfinite(m) & (m > 0)
    e, m = e[ok], m[ok]
    n, total_e, total_m = int(e.size), float(e.sum()), float(m.sum())
    method = "events per infusion; log-scale Wald, cluster-robust (patients) Poisson variance"
    if n == 0 or total_m == 0:
        return Estimate(np.nan, np.nan, np.nan, n, method)
    rate = total_e / total_m
    if total_e == 0:
        return Estimate(0.0, 0.0, float(-np.log((1 - level) / 2) / total_m), n, "no event: exact Poisson upper bound")
    if n < 2:
        return Estimate(rate, np.nan, np.nan, n, method)
    z = stats.norm.ppf(0.5 + level / 2)
    se_log = np.sqrt(n / (n - 1) * np.sum((e - rate * m) ** 2)) / total_e
    return Estimate(rate, float(rate * np.exp(-z * se_log)), float(rate * np.exp(z * se_log)), n, method)
