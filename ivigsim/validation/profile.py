"""Profile likelihoods of the jointly calibrated parameters.

The Laplace step (``joint.laplace``) reads identifiability from one Hessian at the estimate;
a profile asks the data directly. For a parameter ``theta_i`` fixed at a grid of values
around its estimate, the others are fitted again (``joint.fit``, warm-started from the
previous grid point) and the profile is

    Delta(theta_i) = min over the others of -2 log L  -  -2 log L at the estimate.

Its 95 % interval is where Delta stays below the chi-square(1) quantile 3.84 (Wilks);
a side on which Delta never reaches 3.84 inside the search box is *unbounded*: the
calibration targets do not bound the parameter that way, whatever the Hessian says.

**Which parameters are re-fitted.** The objective is a sum over units (a trial file, a
deterministic simulation), each depending only on the parameters its model declares
(``joint.units``). A parameter interacts only with the parameters that share a unit with it,
so ``partners`` re-fits exactly those; the rest stay at the estimate, which is exact for a
disease's own parameters except through the shared ones. By default the shared parameters
(IgG/FcRn, mechanisms: in every unit) are held at the estimate too, so a disease
parameter's profile is profiled over its own disease (``refit_shared=False``): that is
cheaper and narrower than the full profile (fixing more can only raise Delta), and each
result says which parameters were re-fitted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ivigsim.validation.joint import FitParameter, Objective, fit

#: Wilks: -2 log L rises by this much at the 95 % profile interval's ends (chi-square, 1 df).
CHI2_95 = 3.841458820694124
#: Offsets from the estimate on the fitting scale, walked outwards on each side until Delta
#: exceeds ``stop`` or the search box ends.
OFFSETS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 3.0)


class _Pinned:
    """The objective with some parameters held at given values (the profiled one and those
    not re-fitted): what ``joint.fit`` sees as an objective over the others."""

    def __init__(self, objective: Objective, pinned: Mapping[str, float]):
        self._objective = objective
        self._pinned = dict(pinned)

    def breakdown(self, overrides: Mapping[str, float]):
        return self._objective.breakdown({**self._pinned, **overrides})

    def __getattr__(self, name: str):  # targets, evaluations, unit_runs, failures
        return getattr(self._objective, name)


def partners(objective: Objective, name: str, names: Sequence[str], *, refit_shared: bool = False,
             shared: Sequence[str] = ()) -> list[str]:
    """Of ``names``, those sharing a unit of the objective with ``name`` (itself excluded);
    the ``shared`` ones only if ``refit_shared``."""
    mine = [u for u in objective.units if name in u.names]
    out = [n for n in names if n != name and any(n in u.names for u in mine)]
    return out if refit_shared else [n for n in out if n not in shared]


@dataclass
class Profile:
    name: str
    #: Re-fitted at each grid point (the rest held at the estimate).
    refitted: list[str]
    estimate: float  # on the natural scale
    #: (offset on the fitting scale, value on the natural scale, Delta -2 log L), sorted by offset.
    points: list[tuple[float, float, float]]
    #: The 95 % profile interval on the natural scale; None on a side the data do not bound.
    lower95: float | None
    upper95: float | None

    @property
    def identified(self) -> str:
        """``yes`` when both ends are bounded, ``one-sided`` when one is, ``no`` when neither."""
        bounded = (self.lower95 is not None) + (self.upper95 is not None)
        return {2: "yes", 1: "one-sided", 0: "no"}[bounded]

    def as_dict(self) -> dict:
        return {"name": self.name, "refitted": self.refitted, "estimate": self.estimate,
                "points": [{"offset": o, "value": v, "delta_minus2_log_l": d} for o, v, d in self.points],
                "lower95": self.lower95, "upper95": self.upper95, "identified": self.identified}


def _crossing(inner: tuple[float, float], outer: tuple[float, float]) -> float:
    """Offset where Delta reaches CHI2_95 between two grid points, interpolating sqrt(Delta)
    linearly: exact for a parabola (a normal likelihood), where linear interpolation of Delta
    itself would put the end too close to the estimate when the grid is coarse (half as far,
    between the estimate and a first point at which Delta is already far above 3.84)."""
    (o0, d0), (o1, d1) = inner, outer
    r0, r1, r = math.sqrt(max(d0, 0.0)), math.sqrt(max(d1, 0.0)), math.sqrt(CHI2_95)
    return o0 + (r - r0) * (o1 - o0) / (r1 - r0)


def interval_ends(points: Sequence[tuple[float, float, float]], to_value) -> tuple[float | None, float | None]:
    """The 95 % interval's ends (natural scale, ``to_value`` of an offset) from a profile's
    points (offset, value, Delta), None on a side where Delta never reaches CHI2_95."""
    ends = []
    for sign in (-1, 1):
        side = sorted(((abs(o), d) for o, _, d in points if o * sign > 0 or o == 0), key=lambda t: t[0])
        end = None
        for inner, outer in zip(side, side[1:]):
            if outer[1] >= CHI2_95:
                end = to_value(sign * _crossing(inner, outer))
                break
        ends.append(end)
    return ends[0], ends[1]


def profile(objective: Objective, parameters: Sequence[FitParameter], x_hat: np.ndarray, total_hat: float,
            name: str, *, refitted: Sequence[str], offsets: Sequence[float] = OFFSETS, stop: float = 2 * CHI2_95,
            margin: float = 0.1, max_iterations: int = 8, step: float = 0.05, tol: float = 0.01,
            log: Callable[[str], None] = print) -> Profile:
    """The profile of ``name`` around the estimate ``x_hat`` (fitting scale, one entry per
    ``parameters``) whose -2 log L is ``total_hat``; ``refitted``: the parameters fitted again
    at each grid point (``partners``), each by ``joint.fit`` with ``step``, ``margin``,
    ``max_iterations`` and ``tol`` (its stopping gain: the profile is that close to the true
    minimum over the others)."""
    index = {p.name: i for i, p in enumerate(parameters)}
    me = parameters[index[name]]
    free = [parameters[index[n]] for n in refitted]
    held = {p.name: p.from_x(float(x_hat[i])) for i, p in enumerate(parameters)
            if p.name != name and p.name not in refitted}
    lo, hi = me.box(margin)
    points: list[tuple[float, float, float]] = [(0.0, me.from_x(float(x_hat[index[name]])), 0.0)]
    for sign in (-1, 1):
        start = np.array([x_hat[index[n]] for n in refitted])
        for offset in offsets:
            x = float(x_hat[index[name]]) + sign * offset
            if not lo <= x <= hi:
                break
            value = me.from_x(x)
            pinned = _Pinned(objective, {**held, name: value})
            if free:
                fitted = fit(pinned, free, step=step, margin=margin, max_iterations=max_iterations, tol=tol,
                             start=start, log=lambda _: None)
                total, start = fitted.total, fitted.x
            else:
                total = pinned.breakdown({}).total
            # The estimate is a minimum only up to the fit's tolerance and Monte Carlo roughness:
            # a grid point a little below it is reported as it is, not clipped to 0.
            delta = total - total_hat
            points.append((sign * offset, value, delta))
            log(f"profile {name} = {value:.4g} (offset {sign * offset:+g}): Delta -2 log L = {delta:.3f}")
            if delta >= stop:
                break
    points.sort()
    x0 = float(x_hat[index[name]])
    lower, upper = interval_ends(points, lambda o: me.from_x(x0 + o))
    return Profile(name, list(refitted), me.from_x(x0), points, lower, upper)


def profiles(objective: Objective, parameters: Sequence[FitParameter], x_hat: np.ndarray, total_hat: float,
             names: Sequence[str], *, refit_shared: bool = False, shared: Sequence[str] = (),
             log: Callable[[str], None] = print, **options) -> list[Profile]:
    """``profile`` of each of ``names``, each re-fitting its ``partners``."""
    all_names = [p.name for p in parameters]
    out = []
    for name in names:
        mates = partners(objective, name, all_names, refit_shared=refit_shared, shared=shared)
        log(f"profile of {name}: re-fitting {', '.join(mates) or 'nothing'}")
        out.append(profile(objective, parameters, x_hat, total_hat, name, refitted=mates, log=log, **options))
    return out

