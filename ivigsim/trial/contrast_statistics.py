"""Between-arm contrasts with 95 % intervals, each method with its source.

Arm A is compared with arm B (the reference): differences are A - B, ratios A / B.
Every estimand is *marginal* (the arms' population proportions or means), whether the
arms treat the same virtual patients (paired) or not; pairing only narrows the interval.

Binary outcomes, arms of different patients (``parallel`` design), counts x/n:

- risk difference: Newcombe's hybrid score interval (square-and-add of the two Wilson
  intervals), method 10 of Newcombe RG, Stat Med 1998;17:873-890;
- risk ratio: Katz log interval (Katz D et al., Biometrics 1978;34:469-474); a zero count
  adds 0.5 to each count and each total (the "adjusted log" interval of Walter SD,
  Biometrika 1975;62:371-374, as in Fagerland, Lydersen & Laake 2017, ch. 4);
- odds ratio: Woolf logit interval (Woolf B, Ann Hum Genet 1955;19:251-253); a zero cell
  adds 0.5 to every cell (Haldane 1956; Gart & Zweifel, Biometrika 1967;54:181-187).

Binary outcomes, paired (every patient in both arms): a patients respond in both arms,
b in A only, c in B only, d in neither, n = a + b + c + d:

- risk difference: Newcombe RG, Stat Med 1998;17:2635-2650, method 10 (square-and-add of
  the Wilson intervals with the continuity-corrected correlation phi);
- risk ratio and odds ratio of the marginal proportions p1 = (a+b)/n, p2 = (a+c)/n: Wald
  interval on the log scale by the delta method, cov(p1, p2) = (a/n - p1 p2)/n; for the
  ratio this is var = (b + c)/((a + b)(a + c)) (Fagerland MW, Lydersen S, Laake P,
  Statistical Analysis of Contingency Tables, 2017, ch. 8). A marginal count of 0 or n
  falls back to the unpaired interval with 0.5 added (said in the method).

Values per patient: Welch's interval for the difference of means (unpaired); the t
interval of the per-patient differences (paired).

Ordinal scales (a disability grade): the common odds ratio of a proportional-odds (logit)
model with the arm as the only covariate, fitted by statsmodels' ``OrderedModel`` on the
table of counts (each distinct grade and arm once, weighted by its count: the same
likelihood as one row a patient, in bounded memory). The odds ratio is that of a *higher*
grade in arm A than in B. The fit treats the arms as independent samples also in a paired
design (its interval then ignores the pairing).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from ivigsim.trial.statistics import LEVEL, Estimate, mean_t, wilson

#: Most distinct grades an ordinal contrast accepts (more: give cut points).
MAX_ORDINAL_LEVELS = 50


def _z(level: float) -> float:
    return float(stats.norm.ppf(0.5 + level / 2))


def _nan(n: int, method: str) -> Estimate:
    return Estimate(math.nan, math.nan, math.nan, n, method)


def _log_interval(log_estimate: float, se: float, n: int, method: str, level: float) -> Estimate:
    z = _z(level)
    return Estimate(float(math.exp(log_estimate)), float(math.exp(log_estimate - z * se)),
                    float(math.exp(log_estimate + z * se)), n, method)


# --- unpaired binary ------------------------------------------------------------------

def newcombe_difference(x1: int, n1: int, x2: int, n2: int, level: float = LEVEL) -> Estimate:
    """p1 - p2 with Newcombe's hybrid score interval (1998a, method 10)."""
    if n1 == 0 or n2 == 0:
        return _nan(n1 + n2, "newcombe hybrid score")
    w1, w2 = wilson(x1, n1, level), wilson(x2, n2, level)
    p1, p2 = x1 / n1, x2 / n2
    d = p1 - p2
    lower = d - math.sqrt((p1 - w1.lower) ** 2 + (w2.upper - p2) ** 2)
    upper = d + math.sqrt((w1.upper - p1) ** 2 + (p2 - w2.lower) ** 2)
    return Estimate(float(d), float(max(lower, -1.0)), float(min(upper, 1.0)), n1 + n2, "newcombe hybrid score")


def katz_ratio(x1: int, n1: int, x2: int, n2: int, level: float = LEVEL, add: float | None = None) -> Estimate:
    """p1 / p2 with the Katz log interval; ``add`` (default: 0.5 if a count is 0) to each count and total."""
    if n1 == 0 or n2 == 0:
        return _nan(n1 + n2, "katz log")
    if add is None:
        add = 0.5 if 0 in (x1, x2) else 0.0
    a1, m1, a2, m2 = x1 + add, n1 + add, x2 + add, n2 + add
    if a1 == 0 or a2 == 0:
        return _nan(n1 + n2, "katz log")
    if x1 == n1 and x2 == n2:  # every patient in both arms: the ratio is 1, its spread not estimable
        return Estimate(1.0, math.nan, math.nan, n1 + n2, "katz log: no interval (every patient had it in both arms)")
    se = math.sqrt(1 / a1 - 1 / m1 + 1 / a2 - 1 / m2)
    method = "katz log" + (f" ({add:g} added to each count and total: a zero count)" if add else "")
    return _log_interval(math.log((a1 / m1) / (a2 / m2)), se, n1 + n2, method, level)


def woolf_odds_ratio(x1: int, n1: int, x2: int, n2: int, level: float = LEVEL, add: float | None = None) -> Estimate:
    """Odds ratio (x1/(n1-x1)) / (x2/(n2-x2)) with Woolf's logit interval; 0.5 added to every cell if one is 0."""
    if n1 == 0 or n2 == 0:
        return _nan(n1 + n2, "woolf logit")
    cells = np.array([x1, n1 - x1, x2, n2 - x2], dtype=float)
    if add is None:
        add = 0.5 if (cells == 0).any() else 0.0
    a, b, c, d = cells + add
    se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    method = "woolf logit" + (f" ({add:g} added to every cell: a zero cell)" if add else "")
    return _log_interval(math.log(a * d / (b * c)), se, n1 + n2, method, level)


# --- paired binary ----------------------------------------------------------------------

def paired_table(y1: np.ndarray, y2: np.ndarray) -> tuple[int, int, int, int]:
    """(a, b, c, d): both, first only, second only, neither, of two 0/1 arrays of the same patients."""
    y1, y2 = np.asarray(y1) > 0.5, np.asarray(y2) > 0.5
    return (int(np.sum(y1 & y2)), int(np.sum(y1 & ~y2)), int(np.sum(~y1 & y2)), int(np.sum(~y1 & ~y2)))


def newcombe_paired_difference(a: int, b: int, c: int, d: int, level: float = LEVEL) -> Estimate:
    """p1 - p2 = (b - c)/n with Newcombe's paired square-and-add interval (1998b, method 10)."""
    n = a + b + c + d
    method = "newcombe paired square-and-add"
    if n == 0:
        return _nan(0, method)
    r1, r2, c1, c2 = a + b, c + d, a + c, b + d  # first arm's yes/no, second arm's yes/no
    p1, p2 = r1 / n, c1 / n
    w1, w2 = wilson(r1, n, level), wilson(c1, n, level)
    phi = 0.0
    if min(r1, r2, c1, c2) > 0:
        cross = a * d - b * c
        corrected = cross - n / 2 if cross > n / 2 else (cross if cross < 0 else 0.0)
        phi = corrected / math.sqrt(r1 * r2 * c1 * c2)
    dl1, du1, dl2, du2 = p1 - w1.lower, w1.upper - p1, p2 - w2.lower, w2.upper - p2
    diff = p1 - p2
    lower = diff - math.sqrt(max(dl1 ** 2 - 2 * phi * dl1 * du2 + du2 ** 2, 0.0))
    upper = diff + math.sqrt(max(du1 ** 2 - 2 * phi * du1 * dl2 + dl2 ** 2, 0.0))
    return Estimate(float(diff), float(max(lower, -1.0)), float(min(upper, 1.0)), n, method)


def _paired_marginal_log(a: int, b: int, c: int, d: int, which: str, level: float) -> Estimate:
    """Risk ratio or odds ratio of the marginal proportions, delta method on the log scale."""
    n = a + b + c + d
    x1, x2 = a + b, a + c
    if n == 0:
        return _nan(0, f"paired delta-method log {which}")
    if x1 in (0, n) or x2 in (0, n):  # the log of the marginal is not defined: the unpaired interval, corrected
        fallback = (katz_ratio if which == "ratio" else woolf_odds_ratio)(x1, n, x2, n, level, add=0.5)
        return Estimate(fallback.estimate, fallback.lower, fallback.upper, n,
                        f"{fallback.method}, as unpaired (a marginal count of 0 or n)")
    p1, p2, p11 = x1 / n, x2 / n, a / n
    cov = (p11 - p1 * p2) / n
    if which == "ratio":
        g1, g2 = 1 / p1, 1 / p2  # d log p / dp
        log_est = math.log(p1 / p2)
    else:
        g1, g2 = 1 / (p1 * (1 - p1)), 1 / (p2 * (1 - p2))  # d logit p / dp
        log_est = math.log(p1 / (1 - p1)) - math.log(p2 / (1 - p2))
    var = g1 ** 2 * p1 * (1 - p1) / n + g2 ** 2 * p2 * (1 - p2) / n - 2 * g1 * g2 * cov
    return _log_interval(log_est, math.sqrt(max(var, 0.0)), n, f"paired delta-method log {which}", level)


def paired_ratio(a: int, b: int, c: int, d: int, level: float = LEVEL) -> Estimate:
    """(a+b)/(a+c) with the paired Wald interval on the log scale, var = (b+c)/((a+b)(a+c))."""
    return _paired_marginal_log(a, b, c, d, "ratio", level)


def paired_odds_ratio(a: int, b: int, c: int, d: int, level: float = LEVEL) -> Estimate:
    """Odds ratio of the marginal proportions with a paired delta-method interval (log scale)."""
    return _paired_marginal_log(a, b, c, d, "odds ratio", level)


# --- values per patient -----------------------------------------------------------------

def welch_difference(x: np.ndarray, y: np.ndarray, level: float = LEVEL) -> Estimate:
    """mean(x) - mean(y) with Welch's interval (Welch-Satterthwaite degrees of freedom)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n1, n2 = x.size, y.size
    if n1 == 0 or n2 == 0:
        return _nan(n1 + n2, "welch")
    diff = float(np.mean(x) - np.mean(y))
    if n1 < 2 or n2 < 2:
        return Estimate(diff, math.nan, math.nan, n1 + n2, "welch")
    v1, v2 = np.var(x, ddof=1) / n1, np.var(y, ddof=1) / n2
    se2 = v1 + v2
    if se2 == 0:
        return Estimate(diff, diff, diff, n1 + n2, "welch")
    df = se2 ** 2 / (v1 ** 2 / (n1 - 1) + v2 ** 2 / (n2 - 1))
    half = float(stats.t.ppf(0.5 + level / 2, df) * math.sqrt(se2))
    return Estimate(diff, diff - half, diff + half, n1 + n2, "welch")


def paired_mean_difference(x: np.ndarray, y: np.ndarray, level: float = LEVEL) -> Estimate:
    """Mean of the per-patient differences x - y with the t interval (paired t)."""
    e = mean_t(np.asarray(x, dtype=float) - np.asarray(y, dtype=float), level)
    return Estimate(e.estimate, e.lower, e.upper, e.n, "paired t")


# --- ordinal ----------------------------------------------------------------------------

def grade_counts(values: np.ndarray, cutpoints: tuple[float, ...] = ()) -> dict[float, int]:
    """Counts per grade: each value rounded to the nearest whole number, or, with
    ``cutpoints`` (ascending), the number of cut points at or below it (0, 1, ...)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    grades = np.searchsorted(np.asarray(cutpoints, dtype=float), v, side="right").astype(float) if cutpoints else np.rint(v)
    levels, counts = np.unique(grades, return_counts=True)
    return {float(g): int(k) for g, k in zip(levels, counts)}


def common_odds_ratio(first: dict[float, int], second: dict[float, int], level: float = LEVEL) -> Estimate:
    """Proportional-odds (logit) common odds ratio of a higher grade in ``first`` than in ``second``.

    ``first`` and ``second`` map each grade to its count (``grade_counts``).
    """
    method = "proportional odds (statsmodels OrderedModel, logit)"
    n = int(sum(first.values()) + sum(second.values()))
    levels = sorted(set(first) | set(second))
    if not first or not second or len(levels) < 2:
        return _nan(n, f"{method}: not estimable (fewer than two grades)")
    if len(levels) > MAX_ORDINAL_LEVELS:
        return _nan(n, f"{method}: not estimable ({len(levels)} grades; at most {MAX_ORDINAL_LEVELS}: give cutpoints)")
    if max(second) < min(first) or max(first) < min(second):
        return _nan(n, f"{method}: not estimable (the arms' grades do not overlap)")
    code = {g: i for i, g in enumerate(levels)}
    rows = [(code[g], x, k) for x, table in ((1.0, first), (0.0, second)) for g, k in table.items() if k > 0]
    endog = np.array([r[0] for r in rows], dtype=np.int64)
    exog = np.array([[r[1]] for r in rows])
    weights = np.array([r[2] for r in rows], dtype=float)
    beta, se = _fit_weighted_ordered(endog, exog, weights)
    if not (np.isfinite(beta) and np.isfinite(se)) or abs(beta) > 30:
        return _nan(n, f"{method}: not estimable (the fit did not converge)")
    return _log_interval(beta, se, n, method, level)


def _fit_weighted_ordered(endog: np.ndarray, exog: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """The arm coefficient and its standard error from a count-weighted ``OrderedModel``."""
    import warnings

    from statsmodels.miscmodels.ordinal_model import OrderedModel

    class _Counted(OrderedModel):
        # Each row stands for ``weights`` patients: the log likelihood is the weighted sum.
        # The score and Hessian are numerical derivatives of ``loglike`` (GenericLikelihoodModel).
        def loglike(self, params):
            return float(np.sum(weights * self.loglikeobs(params)))

    model = _Counted(endog, exog, distr="logit")
    start = model.start_params  # thresholds from the row frequencies: use the weighted ones instead
    freq = np.bincount(endog, weights=weights) / weights.sum()
    cumulative = model.distr.ppf(np.clip(np.cumsum(freq), 0, 1))[:-1]
    start[exog.shape[1]:] = model.transform_reverse_threshold_params(np.append(cumulative, np.inf))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = model.fit(start_params=start, method="bfgs", maxiter=500, disp=False, gtol=1e-8)
        cov = np.asarray(result.cov_params())
    return float(result.params[0]), float(math.sqrt(cov[0, 0])) if cov[0, 0] > 0 else math.nan
