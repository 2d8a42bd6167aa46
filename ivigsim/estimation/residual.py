"""Residual-error models: how an observation scatters around the model's prediction.

=============  ========================================  ==========================================
kind           observation y given prediction f          parameters
=============  ========================================  ==========================================
additive       y ~ N(f, a^2)                             ``a``: SD in the output's unit
proportional   y ~ N(f, (b f)^2)                         ``b``: CV as a fraction (0.1 = 10 %)
combined       y ~ N(f, a^2 + (b f)^2)                   both (NONMEM's additive + proportional)
lognormal      log y ~ N(log f, b^2)                     ``b``: SD on the log scale (about the CV);
                                                         for counts and other positive readouts
=============  ========================================  ==========================================

Written as text on the command line and in files: ``proportional:0.1``, ``additive:0.5``,
``combined:0.5,0.1`` (a, then b), ``lognormal:0.3``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ivigsim.errors import InputError

Kind = Literal["additive", "proportional", "combined", "lognormal"]
KINDS: tuple[str, ...] = ("additive", "proportional", "combined", "lognormal")
_FORMS = "additive:A, proportional:B, combined:A,B or lognormal:B (A an SD in the output's unit, B a fraction)"
#: The smallest SD used, so a prediction of zero under a proportional model is not a
#: division by zero (it is then a very unlikely observation, as it should be).
_TINY = 1e-12
#: Largest SDs taken (a typo beyond them, not an error model: 1e300 overflows its square):
#: an additive SD in the output's unit, and a fraction (CV or log-scale SD; 10 is 1,000 %).
MAX_ADDITIVE_SD = 1e6
MAX_FRACTION_SD = 10.0


@dataclass(frozen=True)
class ResidualError:
    kind: Kind
    additive: float = 0.0
    proportional: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError("error model", f"one of {', '.join(KINDS)}", self.kind)
        needs_a = self.kind in ("additive", "combined")
        needs_b = self.kind in ("proportional", "combined", "lognormal")
        for name, value, needed, largest in (("additive SD", self.additive, needs_a, MAX_ADDITIVE_SD),
                                             ("proportional SD", self.proportional, needs_b, MAX_FRACTION_SD)):
            if not math.isfinite(value) or value < 0 or (needed and value == 0) or value > largest:
                raise InputError(f"error model {self.kind} {name}", f"a number > 0 and at most {largest:g}" if needed
                                 else "0", value)

    @classmethod
    def parse(cls, text: str, field: str = "error") -> ResidualError:
        """``proportional:0.1`` and the like (module docstring)."""
        kind, _, numbers = str(text).partition(":")
        kind = kind.strip().lower()
        try:
            values = [float(v) for v in numbers.split(",")] if numbers.strip() else []
        except ValueError:
            raise InputError(field, _FORMS, text) from None
        expected = {"additive": 1, "proportional": 1, "combined": 2, "lognormal": 1}.get(kind)
        if expected is None or len(values) != expected:
            raise InputError(field, _FORMS, text)
        try:
            if kind == "additive":
                return cls("additive", additive=values[0])
            if kind == "combined":
                return cls("combined", additive=values[0], proportional=values[1])
            return cls(kind, proportional=values[0])  # type: ignore[arg-type]
        except InputError as exc:
            raise InputError(field, exc.expected, text) from None

    def __str__(self) -> str:
        if self.kind == "additive":
            return f"additive:{self.additive:g}"
        if self.kind == "combined":
            return f"combined:{self.additive:g},{self.proportional:g}"
        return f"{self.kind}:{self.proportional:g}"

    @property
    def log_scale(self) -> bool:
        return self.kind == "lognormal"

    def sd(self, pred: np.ndarray) -> np.ndarray:
        """SD of the observation around ``pred`` (on the log scale for ``lognormal``)."""
        pred = np.asarray(pred, dtype=float)
        if self.kind == "lognormal":
            return np.full_like(pred, self.proportional)
        return np.maximum(np.sqrt(self.additive ** 2 + (self.proportional * pred) ** 2), _TINY)

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Values on the scale the error is normal on (log for ``lognormal``)."""
        values = np.asarray(values, dtype=float)
        if not self.log_scale:
            return values
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(np.maximum(values, _TINY))

    def weighted(self, dv: np.ndarray, pred: np.ndarray) -> np.ndarray:
        """Weighted residuals (DV - PRED) / SD on the normal scale (IWRES for an individual fit)."""
        return (self.transform(dv) - self.transform(pred)) / self.sd(pred)

    def neg2_log_likelihood(self, dv: np.ndarray, pred: np.ndarray) -> np.ndarray:
        """-2 log p(DV | PRED) summed over the last axis (constants included, so values of
        different error models compare). ``pred`` may carry leading batch axes."""
        dv = np.asarray(dv, dtype=float)
        sd = self.sd(pred)
        with np.errstate(over="ignore"):  # an absurd DV gives an infinite term, refused by the caller
            z = (self.transform(dv) - self.transform(pred)) / sd
            terms = z ** 2 + 2.0 * np.log(sd) + math.log(2.0 * math.pi)
        if self.log_scale:
            terms = terms + 2.0 * np.log(dv)  # the Jacobian of log y, so the density is of y
        return terms.sum(axis=-1)

    def sample(self, pred: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Observations drawn around ``pred``."""
        pred = np.asarray(pred, dtype=float)
        noise = rng.standard_normal(pred.shape) * self.sd(pred)
        return pred * np.exp(noise) if self.log_scale else pred + noise

    def check_observations(self, dv: np.ndarray, where: list[str]) -> None:
        """A log-normal model needs positive observations (a zero has no logarithm)."""
        if self.log_scale:
            for value, place in zip(np.asarray(dv, dtype=float), where):
                if not value > 0:
                    raise InputError(place, "a DV > 0 under the log-normal error model", value)


#: Declared default error models, by output. Only outputs with a sourced figure have one;
#: every other output needs the user's ``--error``.
DEFAULT_ERRORS: dict[str, tuple[ResidualError, str]] = {
    "igg_total_g_per_L": (
        ResidualError("proportional", proportional=0.05),
        "Kuitwaard 2013 (calibration-targets s.12.7): within-patient CV of IgG 3 % before and 4 % after "
        "an infusion on a fixed regimen; 5 % allows for assay error on top",
    ),
}
