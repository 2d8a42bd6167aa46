"""Between-subject variability: log-normal parameters, with correlations.

For each parameter with a coefficient of variation CV, the patient's value is

    value = typical * exp(eta),   eta ~ N(0, omega^2),   omega^2 = log(1 + CV^2),

so the typical value is the median and CV is the coefficient of variation of the
log-normal (NONMEM's exponential model). Correlations are those of the etas; the
etas are drawn as ``L z`` with ``L`` the Cholesky factor of their covariance and
``z`` standard normals from the counter stream, one per parameter in the model's
declaration order. A patient whose value falls outside a parameter's declared
bounds is not clipped: the screening step (``ivigsim.population.population``)
excludes that candidate and counts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from ivigsim.errors import InputError
from ivigsim.model.compose import Model
from ivigsim.population.rng import CounterRNG

#: A CV above this is almost certainly a percentage written as a fraction's place.
MAX_CV = 3.0


@dataclass(frozen=True)
class Variability:
    """CVs by parameter name and correlations between pairs of etas."""

    cv: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    correlations: Mapping[tuple[str, str], float] = field(default_factory=lambda: MappingProxyType({}))

    def check(self, model: Model) -> None:
        known = set(model.parameter_names)
        for name, cv in self.cv.items():
            if name not in known:
                raise InputError("population.variability", "names of model parameters (see `ivigsim parameters`)", name)
            p = model.parameter(name)
            if p.provenance in ("covariate", "switch") or p.bounds[0] == p.bounds[1]:
                raise InputError(f"population.variability.{name}",
                                 "a parameter that may vary between patients (not a covariate, switch or fixed constant)", name)
            if not 0.0 <= cv <= MAX_CV:
                raise InputError(f"population.variability.{name}", f"a coefficient of variation in [0, {MAX_CV:g}] (0.3 = 30 %)", cv)
        for (a, b), r in self.correlations.items():
            for name in (a, b):
                if name not in self.cv:
                    raise InputError("population.correlations", "pairs of parameters that have a variability (CV)", name)
            if a == b or not -1.0 < r < 1.0:
                raise InputError(f"population.correlations.{a}.{b}", "a correlation in (-1, 1) between two different parameters", r)
        self.factor(model)

    def names(self, model: Model) -> tuple[str, ...]:
        """Varying parameters, in the model's declaration order (fixes the draw order)."""
        return tuple(n for n in model.parameter_names if self.cv.get(n, 0.0) > 0.0)

    def factor(self, model: Model) -> np.ndarray:
        """Cholesky factor of the covariance of the etas."""
        names = self.names(model)
        omega = np.sqrt(np.log1p(np.array([self.cv[n] for n in names]) ** 2))
        r = np.eye(len(names))
        for (a, b), value in self.correlations.items():
            if a in names and b in names:
                i, j = names.index(a), names.index(b)
                r[i, j] = r[j, i] = value
        try:
            return np.linalg.cholesky(r * np.outer(omega, omega)) if names else np.zeros((0, 0))
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
