"""Priors on the parameters a user estimates.

An estimated parameter is written as in a virtual population (``ivigsim.population.
variability``): value = typical x exp(eta) on the log scale, or logit(value) =
logit(typical) + eta for a share, with eta ~ N(0, omega^2) a priori. The typical value is
the subject's own value before fitting (the model's, the disease's typical value, the
user's override, the subject's covariates such as BASEIGG), so the prior is centred on the
prediction for a typical patient like this one (PRED). omega comes from the disease's
declared between-subject variability (each figure with its source), or from the user.

Estimation works on eta, where the prior is a standard normal up to scale and the
posterior is closest to normal (what makes a Laplace approximation reasonable).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ivigsim.errors import InputError
from ivigsim.model.compose import Model
from ivigsim.model.declaration import VariabilityScale
from ivigsim.model.diseases import Disease
from ivigsim.population.variability import MAX_CV, MAX_LOGIT_OMEGA, individual, omega

#: The tightest prior spread taken (a CV of 0.1 %): tighter ones only fix the parameter, and
#: their logarithms and inverses overflow the objective (1e-300 did).
MIN_PRIOR_SPREAD = 1e-3


@dataclass(frozen=True)
class Prior:
    """eta ~ N(0, omega^2) on ``scale``; the value is kept within ``bounds``."""

    name: str
    omega: float
    scale: VariabilityScale
    bounds: tuple[float, float]
    source: str

    def value(self, typical: np.ndarray | float, eta: np.ndarray | float) -> np.ndarray:
        return individual(np.asarray(typical, dtype=float), np.asarray(eta, dtype=float), self.scale)

    def eta(self, typical: float, value: float) -> float:
        """The eta that gives ``value`` (inverse of ``value``); +-inf at a bound of 0 or 1."""
        with np.errstate(divide="ignore"):
            if self.scale == "logit":
                return float(np.log(value / (1 - value)) - np.log(typical / (1 - typical)))
            return float(np.log(value / typical))

    def eta_bounds(self, typical: float) -> tuple[float | None, float | None]:
        """Bounds on eta implied by the value's bounds (None where unbounded)."""
        lo, hi = self.bounds
        low = self.eta(typical, lo) if lo > 0 else None
        high = self.eta(typical, hi) if (hi < 1 if self.scale == "logit" else math.isfinite(hi)) else None
        return (None if low is None or not math.isfinite(low) else low,
                None if high is None or not math.isfinite(high) else high)


def build_priors(
    model: Model,
    disease: Disease,
    names: Sequence[str],
    spreads: Mapping[str, float] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
) -> tuple[Prior, ...]:
    """One prior per estimated parameter, checked.

    ``spreads`` overrides or supplies the spread (the CV on the log scale, omega on the
    logit scale, as in a trial file's variability); ``bounds`` narrows the declared bounds.
    """
    spreads, bounds = dict(spreads or {}), dict(bounds or {})
    if not names:
        raise InputError("estimate", "at least one parameter to estimate (see `ivigsim parameters`)", "none")
    if len(set(names)) != len(names):
        raise InputError("estimate", "each parameter once", ", ".join(names))
    known = set(model.parameter_names)
    for option, given in (("estimate", names), ("prior", spreads), ("bounds", bounds)):
        for name in given:
            if name not in known:
                raise InputError(option if option == "estimate" else f"{option} {name}",
                                 "names of model parameters (see `ivigsim parameters`)", name)
            if option != "estimate" and name not in names:
                raise InputError(f"{option} {name}", "a parameter that is also estimated (--estimate)", name)
    priors = []
    for name in names:
        p = model.parameter(name)
        if not p.may_vary:
            kind = {"switch": "a mechanism switch", "covariate": "a patient covariate"}.get(p.provenance, "fixed")
            raise InputError(f"estimate {name}", "a parameter that may vary between patients (not a covariate, "
                             "switch or fixed constant)", f"{name} ({kind})")
        if name in spreads:
            spread, source = spreads[name], "given by the user"
        elif name in disease.variability:
            spread, source = disease.variability[name], disease.variability_sources[name]
        else:
            raise InputError(f"prior {name}", f"a prior spread (--prior {name}=CV): the {disease.name} model declares "
                             "no between-subject variability for it", "none")
        limit = MAX_LOGIT_OMEGA if p.variability_scale == "logit" else MAX_CV
        if not MIN_PRIOR_SPREAD <= spread <= limit:
            what = "omega on the logit scale" if p.variability_scale == "logit" else "a CV (0.3 = 30 %)"
            raise InputError(f"prior {name}", f"{what} from {MIN_PRIOR_SPREAD:g} to {limit:g} (tighter is a fixed "
                             "value: leave the parameter out of --estimate)", spread)
        lo, hi = p.bounds
        if name in bounds:
            b_lo, b_hi = bounds[name]
            if not (lo <= b_lo < b_hi <= hi):
                raise InputError(f"bounds {name}", f"LOW < HIGH within the declared bounds [{lo:g}, {hi:g}] {p.unit}",
                                 f"[{b_lo:g}, {b_hi:g}]")
            lo, hi = b_lo, b_hi
        priors.append(Prior(name, float(omega(p.variability_scale, spread)), p.variability_scale, (lo, hi), source))
    return tuple(priors)


def check_prior_within_bounds(prior: Prior, typical: float, subject: str) -> None:
    """The prior's centre must be a possible value: bounds that exclude it are a mistake."""
    lo, hi = prior.bounds
    inside = lo < typical < hi if prior.scale == "logit" else lo <= typical <= hi
    if not inside or (prior.scale == "log" and typical <= 0):
        raise InputError(f"bounds {prior.name}", f"bounds that contain the prior's typical value {typical:g} "
                         f"(subject {subject})", f"[{lo:g}, {hi:g}]")
