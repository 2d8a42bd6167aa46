"""The log-likelihood of simulated values given the published figures (joint calibration).

One term per target, written as its contribution to -2 log L (smaller is better); the
total is their sum. The rules, by what the publication gives:

- **identity** (``role="identity"``): excluded. It holds by construction, so it carries no
  information about the parameters.
- **counts** (k of n, e.g. Newburger's 18/78): binomial log-probability of k given the
  simulated rate p (the simulated per cent / 100, clipped to ``[P_CLIP, 1 - P_CLIP]`` so a
  simulated 0 % or 100 % is a large but finite penalty). When the simulated rate carries
  Monte Carlo error (standard error s), p itself is uncertain: it is given a Beta
  distribution with mean p and SD s, which makes the term beta-binomial (alpha + beta =
  p (1 - p) / s^2 - 1); as s -> 0 it is the binomial.
- **a two-sided published interval** (a 95 % CI such as Zinman's -3.23 to 0.03, or a
  range such as the 21-23 day half-life): normal, centred on the published value, with
  SD = interval width / 3.92 (2 x 1.96). An asymmetric interval keeps its width and the
  published centre.
- **no interval and no counts** (a level or a rate given alone): the default acceptance
  band of BRIEF s.5 (+/-20 % of a level, +/-10 percentage points of a rate) read as a
  95 % range, SD = half-width / 1.96. This is an assumption, not a published uncertainty.
- **one-sided** (e.g. "benefit lasting to day 28": difference <= 0): -2 log Phi(z), with
  z = (bound - value) / sd for an upper bound (Phi: the standard normal CDF), the
  probability that the published statement holds given the simulated value: about 0 well
  inside, 1.39 at the bound, growing quadratically beyond it. The sd is the default
  band's (half-width / 1.96 of +/-20 % of the published value, or 10 points for a rate).

Each term also carries a signed standardised **residual** (what a least-squares optimiser
works with): (value - published) / sd for a normal term; the signed binomial deviance
residual, sign(p - k/n) sqrt(2 [log Bin(k | k/n) - log Bin(k | p)]), for counts (Monte Carlo
error aside); sqrt(-2 log Phi(z)) for a one-sided term. Its square is the term's excess over
a perfect hit, apart from the Monte Carlo variance's own contribution.

In every normal and one-sided term the simulated value's Monte Carlo variance is added to
the published variance: sd^2 = sd_published^2 + s^2. A value from a virtual trial carries
its 95 % interval (``runner.Verdict``), and s = interval width / 3.92; a deterministic
simulation has s = 0. A simulated value that is not finite (a failed simulation) gives an
infinite term.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Literal

from scipy import special, stats

from ivigsim.validation.targets import Target

#: z of a two-sided 95 % interval (as ``targets.wilson_interval``).
Z95 = 1.959964
#: A simulated rate is clipped to [P_CLIP, 1 - P_CLIP] before a binomial term.
P_CLIP = 1e-4
#: Default acceptance bands (BRIEF s.5), read as 95 % ranges when no interval is published.
LEVEL_BAND = 0.20  # +/- 20 % of a level
RATE_BAND_PP = 10.0  # +/- 10 percentage points of a rate

TermKind = Literal["binomial", "beta-binomial", "normal", "one-sided"]


def simulated_se(lower: float, upper: float) -> float:
    """Standard error of a simulated value from its 95 % interval (0 when it has none)."""
    if not (math.isfinite(lower) and math.isfinite(upper)):
        return 0.0
    return max(0.0, (upper - lower) / (2 * Z95))


def default_band(target: Target) -> float:
    """Half-width of the default acceptance band (+/-20 % of a level, +/-10 points of a rate), or
    the target's own ``band`` (a direction published without a size)."""
    if target.band is not None:
        return target.band
    return RATE_BAND_PP if target.kind == "rate" else LEVEL_BAND * abs(target.published)


def published_sd(target: Target) -> float:
    """SD of a published figure read as normal (not for counts): interval width / 3.92 for a
    two-sided published interval; otherwise the default band's half-width / 1.96."""
    if target.interval is not None and not target.one_sided:
        lo, hi = target.interval
        return (hi - lo) / (2 * Z95)
    return default_band(target) / Z95


def binomial_minus2_log_l(k: int, n: int, p: float, se: float = 0.0) -> float:
    """-2 log P(k of n | p): binomial, or beta-binomial when p has standard error ``se``."""
    if not math.isfinite(p):
        return math.inf
    p = min(max(p, P_CLIP), 1.0 - P_CLIP)
    concentration = p * (1.0 - p) / se**2 - 1.0 if se > 0 else math.inf
    if not math.isfinite(concentration) or concentration > 1e12:
        return float(-2.0 * stats.binom.logpmf(k, n, p))
    concentration = max(concentration, 1e-6)  # a huge SE: the Beta flattens, it never inverts
    a, b = p * concentration, (1.0 - p) * concentration
    return float(-2.0 * stats.betabinom.logpmf(k, n, a, b))


def normal_minus2_log_l(value: float, centre: float, sd: float) -> float:
    """-2 log N(value | centre, sd)."""
    if not math.isfinite(value):
        return math.inf
    return float(-2.0 * stats.norm.logpdf(value, centre, sd))


def one_sided_minus2_log_l(value: float, bound: float, upper: bool, sd: float) -> float:
    """-2 log Phi(z): z = (bound - value) / sd for an upper bound, (value - bound) / sd for a lower one."""
    if not math.isfinite(value):
        return math.inf
    z = (bound - value) / sd if upper else (value - bound) / sd
    return float(-2.0 * special.log_ndtr(z))


@dataclass(frozen=True)
class Term:
    """One target's contribution to -2 log L, with what it was computed from."""

    target: str
    kind: TermKind
    published: float
    simulated: float
    #: Monte Carlo standard error of the simulated value (0: deterministic).
    simulated_se: float
    #: SD of the published figure (normal and one-sided terms; NaN for counts).
    published_sd: float
    #: (k, n) for a count term.
    counts: tuple[int, int] | None
    minus2_log_l: float
    #: Signed standardised residual (see the module's docstring).
    residual: float

    def as_dict(self) -> dict:
        d = asdict(self)
        d["counts"] = list(self.counts) if self.counts else None
        return d


@dataclass(frozen=True)
class Breakdown:
    """Every target's term and the total -2 log L."""

    terms: tuple[Term, ...]

    @property
    def total(self) -> float:
        return float(sum(t.minus2_log_l for t in self.terms))

    @property
    def by_target(self) -> dict[str, float]:
        return {t.target: t.minus2_log_l for t in self.terms}

    def as_dict(self) -> dict:
        return {"total": self.total, "terms": [t.as_dict() for t in self.terms]}

    def table(self) -> str:
        """A plain-text table, largest contribution first."""
        lines = [f"{'target':34s} {'kind':13s} {'published':>10s} {'simulated':>10s} {'+/- MC':>8s} "
                 f"{'residual':>8s} {'-2 log L':>9s}"]
        for t in sorted(self.terms, key=lambda t: -abs(t.residual)):
            lines.append(f"{t.target:34s} {t.kind:13s} {t.published:10.4g} {t.simulated:10.4g} "
                         f"{t.simulated_se:8.3g} {t.residual:8.2f} {t.minus2_log_l:9.3f}")
        lines.append(f"{'total':34s} {'':13s} {'':>10s} {'':>10s} {'':>8s} {'':>8s} {self.total:9.3f}")
        return "\n".join(lines)


def binomial_residual(k: int, n: int, p: float) -> float:
    """Signed deviance residual of k of n at rate p: sign(p - k/n) sqrt(2 [log Bin(k | k/n) - log Bin(k | p)])."""
    if not math.isfinite(p):
        return math.inf
    p = min(max(p, P_CLIP), 1.0 - P_CLIP)
    deviance = 2.0 * (stats.binom.logpmf(k, n, k / n) - stats.binom.logpmf(k, n, p))
    return float(math.copysign(math.sqrt(max(deviance, 0.0)), p - k / n))


def term(target: Target, simulated: float, se: float = 0.0) -> Term:
    """The term of one (non-identity) target for a simulated value with Monte Carlo SE ``se``."""
    if target.role == "identity":
        raise ValueError(f"{target.id}: an identity holds by construction and has no likelihood term")
    if target.counts is not None:
        k, n = target.counts
        scale = 100.0 if target.kind == "rate" else 1.0  # rates are in per cent
        value = binomial_minus2_log_l(k, n, simulated / scale, se / scale)
        return Term(target.id, "beta-binomial" if se > 0 else "binomial", target.published, simulated, se,
                    float("nan"), (k, n), value, binomial_residual(k, n, simulated / scale))
    if target.one_sided:
        lo, hi = target.interval
        upper = lo is None
        sd = math.hypot(default_band(target) / Z95, se)
        value = one_sided_minus2_log_l(simulated, hi if upper else lo, upper, sd)
        return Term(target.id, "one-sided", target.published, simulated, se, default_band(target) / Z95, None, value,
                    math.sqrt(max(value, 0.0)))
    sd_pub = published_sd(target)
    sd = math.hypot(sd_pub, se)
    value = normal_minus2_log_l(simulated, target.published, sd)
    residual = (simulated - target.published) / sd if math.isfinite(simulated) else math.inf
    return Term(target.id, "normal", target.published, simulated, se, sd_pub, None, value, residual)


def breakdown(verdicts: Iterable) -> Breakdown:
    """-2 log L of ``runner.Verdict``s, identities left out (they hold by construction)."""
    return Breakdown(tuple(term(v.target, v.simulated, simulated_se(v.lower, v.upper))
                           for v in verdicts if v.target.role != "identity"))
