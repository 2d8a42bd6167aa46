"""How fast one infusion runs, written as a prescriber would, resolved to rate steps.

An infusion is described by at most one of: a duration, a constant rate, or a
titration. Giving several is refused rather than silently preferring one (the pattern of
Pharmpy's ``Infusion.create``, which refuses both rate and duration). Giving none means
the product's label titration.

Everything here is per kg of dosing weight (g/kg doses, mg/kg/min rates, minutes), so
the resulting rate profile does not depend on the patient; ``compiler`` multiplies by
the weight and places the steps on the simulation clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivigsim.errors import InputError

from ._validate import positive, real
from .indications import Indication
from .products import Product
from .units import MG_PER_G

#: Label titration: the rate doubles every 30 min. An assumption modelled on typical
#: labels (s.10 gives only start and maximum rates, not the schedule between them).
LABEL_STEP_MINUTES = 30.0
LABEL_FACTOR = 2.0
#: A final titration step shorter than this is folded into the step before it, which
#: then runs slightly longer (assumption: nobody reprograms a pump for under a minute).
MIN_FINAL_STEP_MINUTES = 1.0
#: Sanity bounds (assumptions): no IVIG infusion runs longer than 3 days, or slower than
#: 0.01 mg/kg/min (a 1 g/kg dose would take 70 days).
MAX_INFUSION_HOURS = 72.0
MIN_RATE_MG_PER_KG_MIN = 0.01
#: More steps than this is a mistyped titration, not a prescription.
MAX_TITRATION_STEPS = 100

_RATE = "a positive rate in mg/kg/min"


@dataclass(frozen=True)
class Titration:
    """Start at ``start``; multiply by ``factor`` every ``step_minutes`` until ``max``.

    ``Titration(0.5, 30, 8)`` runs 0.5, 1, 2 and 4 mg/kg/min for 30 min each, then
    8 mg/kg/min until the dose is in.
    """

    start_mg_per_kg_min: float
    step_minutes: float
    max_mg_per_kg_min: float
    factor: float = 2.0

    def __post_init__(self) -> None:
        start = positive("infusion.titration.start_mg_per_kg_min", self.start_mg_per_kg_min, _RATE)
        positive("infusion.titration.step_minutes", self.step_minutes, "a positive step length in minutes")
        maximum = positive("infusion.titration.max_mg_per_kg_min", self.max_mg_per_kg_min, _RATE)
        if maximum < start:
            raise InputError("infusion.titration.max_mg_per_kg_min", f"a rate at or above the start rate {start:g} mg/kg/min", maximum)
        factor = real("infusion.titration.factor", self.factor, "a factor above 1")
        if factor <= 1:
            raise InputError("infusion.titration.factor", "a factor above 1", self.factor)


@dataclass(frozen=True)
class InfusionSpec:
    """At most one of ``duration_h``, ``rate_mg_per_kg_min`` or ``titration``.

    None of them means the product's label titration (:func:`label_titration`).
    """

    duration_h: float | None = None
    rate_mg_per_kg_min: float | None = None
    titration: Titration | None = None

    def __post_init__(self) -> None:
        given = {name: value for name, value in vars(self).items() if value is not None}
        if len(given) > 1:
            raise InputError(
                "infusion",
                "at most one of duration_h, rate_mg_per_kg_min, titration",
                ", ".join(f"{name}={value!r}" for name, value in given.items()),
            )
        if self.duration_h is not None:
            hours = positive("infusion.duration_h", self.duration_h, "a positive duration in hours")
            if hours > MAX_INFUSION_HOURS:
                raise InputError("infusion.duration_h", f"a duration up to {MAX_INFUSION_HOURS:g} hours", self.duration_h)
        if self.rate_mg_per_kg_min is not None:
            rate = positive("infusion.rate_mg_per_kg_min", self.rate_mg_per_kg_min, _RATE)
            if rate < MIN_RATE_MG_PER_KG_MIN:
                raise InputError("infusion.rate_mg_per_kg_min", f"a rate of at least {MIN_RATE_MG_PER_KG_MIN:g} mg/kg/min", self.rate_mg_per_kg_min)
        if self.titration is not None and not isinstance(self.titration, Titration):
            raise InputError("infusion.titration", "a Titration", self.titration)


@dataclass(frozen=True)
class RateStep:
    """One constant-rate stretch of an infusion, per kg of dosing weight."""

    rate_mg_per_kg_min: float
    minutes: float


def label_titration(product: Product, indication: Indication | None) -> Titration:
    """The product's start rate, doubling every 30 min (assumption) to its maximum for ``indication``."""
    maximum = product.max_rate_for(indication)
    return Titration(min(product.start_rate_mg_per_kg_min, maximum), LABEL_STEP_MINUTES, maximum, LABEL_FACTOR)


def rate_profile(
    spec: InfusionSpec | None, g_per_kg: float, product: Product, indication: Indication | None
) -> tuple[RateStep, ...]:
    """The rate steps that give ``g_per_kg``; the last step's minutes come from the remainder."""
    dose_mg_per_kg = g_per_kg * MG_PER_G
    spec = spec if spec is not None else InfusionSpec()
    if spec.duration_h is not None:
        minutes = spec.duration_h * 60.0
        return (RateStep(dose_mg_per_kg / minutes, minutes),)
    if spec.rate_mg_per_kg_min is not None:
        return (RateStep(spec.rate_mg_per_kg_min, dose_mg_per_kg / spec.rate_mg_per_kg_min),)
    titration = spec.titration if spec.titration is not None else label_titration(product, indication)
    return _titrate(dose_mg_per_kg, titration)


def _titrate(dose_mg_per_kg: float, titration: Titration) -> tuple[RateStep, ...]:
    steps: list[RateStep] = []
    remaining = dose_mg_per_kg
    rate = min(titration.start_mg_per_kg_min, titration.max_mg_per_kg_min)
    while len(steps) < MAX_TITRATION_STEPS:
        next_rate = min(rate * titration.factor, titration.max_mg_per_kg_min)
        full_step = rate * titration.step_minutes
        # A rate within rounding of the maximum is the maximum: stepping "up" by one ulp
        # would leave a last window whose recomputed rate falls below the one before it.
        at_max = rate >= titration.max_mg_per_kg_min * (1 - 1e-9)
        if at_max or remaining <= full_step + next_rate * MIN_FINAL_STEP_MINUTES:
            steps.append(RateStep(rate, remaining / rate))
            return tuple(steps)
        steps.append(RateStep(rate, titration.step_minutes))
        remaining -= full_step
        rate = next_rate
    raise InputError("infusion.titration", f"a titration that gives the dose within {MAX_TITRATION_STEPS} steps", titration)
