"""Between-subject variability: log-normal or logit-normal parameters, with correlations.

Each varying parameter has an eta ~ N(0, omega^2). Its declaration
(``Parameter.variability_scale``) says on which scale the eta acts, and so what the
number in a variability mapping means:

- ``log`` (the default): value = typical * exp(eta), and the number is the coefficient
  of variation CV of the log-normal, omega^2 = log(1 + CV^2) (NONMEM's exponential model);
- ``logit`` (shares bounded by [0, 1]): logit(value) = logit(typical) + eta, and the
  number is omega itself, the SD of eta on the logit scale (NONMEM's logit-normal
  model). Every value stays inside (0, 1), where a log-normal share with a large CV puts
  many candidates above 1. A typical value of exactly 0 or 1 cannot vary on this scale
  and is refused.

On both scales the transformation is monotone and eta's median is 0, so the typical value
is the median. Correlations are those of the etas, whatever their scales; the etas are
drawn as ``L z`` with ``L`` the Cholesky factor of their covariance and ``z`` standard
normals from the counter stream, one per parameter in the model's declaration order. A
patient whose value falls outside a parameter's declared bounds is not clipped: the
screening step (``ivigsim.population.population``) excludes that candidate and counts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
from scipy.special import expit, logit

from ivigsim.errors import InputError
from ivigsim.model.compose import Model
from ivigsim.model.declaration import VariabilityScale
from ivigsim.population.rng import CounterRNG

#: A CV above this is almost certainly a percentage written as a fraction's place.
MAX_CV = 3.0
#: An omega above this on the logit scale puts a third of the patients within 5 % of 0 or
#: 1 (for a typical value of 0.5): almost certainly a percentage or a mistake.
MAX_LOGIT_OMEGA = 3.0


def omega(scale: VariabilityScale, spread: float | np.ndarray) -> float | np.ndarray:
    """The SD of eta for the number a variability mapping gives: a CV (log) or omega (logit)."""
    return spread if scale == "logit" else np.sqrt(np.log1p(np.square(spread)))


def individual(typical: np.ndarray, eta: np.ndarray, scale: VariabilityScale) -> np.ndarray:
    """Each patient's value from the typical value and the patient's eta, on ``scale``."""
    if scale == "logit":
        return expit(logit(typical) + eta)
    return typical * np.exp(eta)


@dataclass(frozen=True)
class Variability:
    """Spreads by parameter name and correlations between pairs of etas.

    ``cv`` maps a parameter to the number its scale reads: the CV for a parameter varying
    on the log scale (0.3 = 30 %), omega (the SD of eta) for one varying on the logit scale.
    """

    cv: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    correlations: Mapping[tuple[str, str], float] = field(default_factory=lambda: MappingProxyType({}))

    def check(self, model: Model, typical: Mapping[str, float] | None = None) -> None:
        """Refuse what cannot be drawn. ``typical``: the population's overrides of typical
        values (``population.parameters``), else each parameter's default is typical."""
        typical = typical or {}
        known = set(model.parameter_names)
        for name, spread in self.cv.items():
            if name not in known:
                raise InputError("population.variability", "names of model parameters (see `ivigsim parameters`)", name)
            p = model.parameter(name)
            field = f"population.variability.{name}"
            if not p.may_vary:
                raise InputError(field, "a parameter that may vary between patients (not a covariate, switch or fixed constant)", name)
            if p.variability_scale == "log" and not 0.0 <= spread <= MAX_CV:
                raise InputError(field, f"a coefficient of variation in [0, {MAX_CV:g}] (0.3 = 30 %)", spread)
            if p.variability_scale == "logit":
                if not 0.0 <= spread <= MAX_LOGIT_OMEGA:
                    raise InputError(field, f"omega, the SD of eta on the logit scale ({name} is a share), "
                                            f"in [0, {MAX_LOGIT_OMEGA:g}]", spread)
                value = typical.get(name, p.value)
                if spread > 0.0 and not 0.0 < value < 1.0:
                    expected = f"a typical value strictly between 0 and 1, as {name} varies on the logit scale"
                    if name in typical:
                        raise InputError(f"population.parameters.{name}", expected, value)
                    raise InputError(field, f"{expected} (the model's default is {p.value:g}: set "
                                            f"population.parameters.{name})", value)
        for (a, b), r in self.correlations.items():
            for name in (a, b):
                if name not in self.cv:
                    raise InputError("population.correlations", "pairs of parameters that have a variability (a CV or omega)", name)
            if a == b or not -1.0 < r < 1.0:
                raise InputError(f"population.correlations.{a}.{b}", "a correlation in (-1, 1) between two different parameters", r)
        self.factor(model)

    def names(self, model: Model) -> tuple[str, ...]:
        """Varying parameters, in the model's declaration order (fixes the draw order)."""
        return tuple(n for n in model.parameter_names if self.cv.get(n, 0.0) > 0.0)

    def factor(self, model: Model) -> np.ndarray:
        """Cholesky factor of the covariance of the etas."""
        names = self.names(model)
        sd = np.array([omega(model.parameter(n).variability_scale, self.cv[n]) for n in names])
        r = np.eye(len(names))
        for (a, b), value in self.correlations.items():
            if a in names and b in names:
                i, j = names.index(a), names.index(b)
                r[i, j] = r[j, i] = value
        try:
            return np.linalg.cholesky(r * np.outer(sd, sd)) if names else np.zeros((0, 0))
        except np.linalg.LinAlgError:
            raise InputError("population.correlations", "a positive-definite set of correlations",
                             {f"{a}~{b}": v for (a, b), v in self.correlations.items()}) from None

    def etas(self, model: Model, rng: CounterRNG, stream: str, candidates: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
        """(names, etas of shape (len(names), n))."""
        names = self.names(model)
        if not names:
            return names, np.zeros((0, len(candidates)))
        z = rng.normal(f"{stream}eta", candidates, len(names))
        return names, self.factor(model) @ z.T

    def merged(self, other: Variability) -> Variability:
        """``other`` adds to or overrides this one."""
        return Variability(MappingProxyType({**self.cv, **other.cv}),
                           MappingProxyType({**self.correlations, **other.correlations}))
