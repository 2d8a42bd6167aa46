"""IVIG regimens as they are prescribed: single doses, split courses, maintenance series.

A regimen is data, not a schedule: "2 g/kg over 5 days, then 1 g/kg every 3 weeks" is
written as a ``Course`` and a ``Maintenance`` and compiled for one patient into exact
infusion windows by :meth:`Regimen.compile`. Each part checks its own fields when it is
made, so a mistyped regimen fails at once, naming the field as a user would write it.

>>> from ivigsim.dosing.products import get_product
>>> from ivigsim.model.patient import Patient
>>> regimen = Regimen((Course(total_g_per_kg=2.0, days=5),), get_product("generic-10"))
>>> plan = regimen.compile(Patient(weight_kg=70.0), indication="gbs")
>>> [round(infusion.amount_g, 9) for infusion in plan.infusions]
[28.0, 28.0, 28.0, 28.0, 28.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

from ivigsim.errors import InputError

from ._validate import non_negative, positive, real, whole
from .comparators import COMPARATOR_PARTS, FcRnInhibitor, PlasmaExchange, SubcutaneousIgG
from .compiler import compile_regimen
from .infusion import InfusionSpec
from .premedication import Premedication
from .products import Product
from .weight import DOSING_WEIGHTS, DosingWeight

if TYPE_CHECKING:
    from ivigsim.model.patient import Patient

    from .indications import Indication
    from .plan import InfusionPlan

#: Largest single infusion accepted, g/kg. The biggest standard infusion is 2 g/kg
#: (Kawasaki, s.10); above 3 g/kg is a typo (assumption: a sanity bound, not a label limit).
MAX_G_PER_KG_PER_INFUSION = 3.0
#: Most doses one part may expand to (assumption: 1000 four-weekly doses is 77 years).
MAX_DOSES_PER_PART = 1000
#: Slack when deciding whether a maintenance dose falls on ``until_day`` (float rounding).
_DAY_TOLERANCE = 1e-9

#: Least dose per infusion (assumption: 1 mg/kg, a hundredth of the smallest weekly SCIG dose).
#: Far less would last under a second at label rates, and its rate windows would collapse
#: onto one clock time in floating point (1e-17 g/kg divided by zero in the compiler).
MIN_G_PER_KG_PER_INFUSION = 0.001
_ABSURD = (f"a dose per infusion from {MIN_G_PER_KG_PER_INFUSION:g} to {MAX_G_PER_KG_PER_INFUSION:g} g/kg "
           "(more is absurd for IVIG)")


def _check_infusion(field: str, infusion: object) -> None:
    if infusion is not None and not isinstance(infusion, InfusionSpec):
        raise InputError(field, "None (the label titration) or an InfusionSpec", infusion)


#: Latest day a dose may be given (100 years): later is a unit mistake.
MAX_DAY = 36500.0


def _check_repeats(where: str, start: float, every: float, count: int, given_every: object) -> None:
    """A repeated part's doses within the regimen's days: the interval and the last dose day at
    most ``MAX_DAY`` (an interval of 1e15 days also left no room for an hour's dose)."""
    if every > MAX_DAY:
        raise InputError(f"{where}.every_days", f"an interval up to {MAX_DAY:g} days", given_every)
    last = start + (count - 1) * every
    if last > MAX_DAY:
        raise InputError(where, f"doses on days up to {MAX_DAY:g}", f"the last on day {last:g}")


def _check_day(field: str, day: object) -> float:
    value = non_negative(field, day, "a day >= 0 (day 0 starts at t = 0)")
    if value > MAX_DAY:
        raise InputError(field, f"a day from 0 to {MAX_DAY:g}", day)
    return value


@dataclass(frozen=True)
class Dose:
    """One infusion of ``g_per_kg`` on ``day`` (starting at the regimen's ``start_hour``)."""

    day: float
    g_per_kg: float
    infusion: InfusionSpec | None = None

    def __post_init__(self) -> None:
        _check_day("regimen.dose.day", self.day)
        dose = positive("regimen.dose.g_per_kg", self.g_per_kg, _ABSURD)
        if not MIN_G_PER_KG_PER_INFUSION <= dose <= MAX_G_PER_KG_PER_INFUSION:
            raise InputError("regimen.dose.g_per_kg", _ABSURD, self.g_per_kg)
        _check_infusion("regimen.dose.infusion", self.infusion)

    def doses(self) -> tuple[Dose, ...]:
        return (self,)


@dataclass(frozen=True)
class Course:
    """``total_g_per_kg`` split equally over ``days`` consecutive daily infusions.

    ``Course(2.0, 5)`` is 0.4 g/kg on days 0, 1, 2, 3 and 4.
    """

    total_g_per_kg: float
    days: int
    start_day: float = 0.0
    infusion: InfusionSpec | None = None

    def __post_init__(self) -> None:
        total = positive("regimen.course.total_g_per_kg", self.total_g_per_kg, "a total course dose above 0 g/kg")
        days = whole("regimen.course.days", self.days, 1, f"a whole number of days from 1 to {MAX_DOSES_PER_PART}")
        if days > MAX_DOSES_PER_PART:
            raise InputError("regimen.course.days", f"a whole number of days from 1 to {MAX_DOSES_PER_PART}", self.days)
        object.__setattr__(self, "days", days)
        if not MIN_G_PER_KG_PER_INFUSION <= total / days <= MAX_G_PER_KG_PER_INFUSION:
            raise InputError("regimen.course.total_g_per_kg", f"a total that gives {_ABSURD} when split over {days} days", self.total_g_per_kg)
        _check_day("regimen.course.start_day", self.start_day)
        _check_infusion("regimen.course.infusion", self.infusion)

    def doses(self) -> tuple[Dose, ...]:
        daily = self.total_g_per_kg / self.days
        return tuple(Dose(self.start_day + k, daily, self.infusion) for k in range(self.days))


@dataclass(frozen=True)
class Maintenance:
    """``g_per_kg`` every ``every_days`` from ``start_day``, for ``count`` doses or up to ``until_day``.

    Exactly one of ``count`` and ``until_day``; a dose starting on ``until_day`` is given.
    """

    g_per_kg: float
    every_days: float
    start_day: float
    count: int | None = None
    until_day: float | None = None
    infusion: InfusionSpec | None = None

    def __post_init__(self) -> None:
        dose = positive("regimen.maintenance.g_per_kg", self.g_per_kg, _ABSURD)
        if not MIN_G_PER_KG_PER_INFUSION <= dose <= MAX_G_PER_KG_PER_INFUSION:
            raise InputError("regimen.maintenance.g_per_kg", _ABSURD, self.g_per_kg)
        every = positive("regimen.maintenance.every_days", self.every_days, "a positive interval in days")
        start = _check_day("regimen.maintenance.start_day", self.start_day)
        if (self.count is None) == (self.until_day is None):
            given = f"count={self.count!r}, until_day={self.until_day!r}"
            raise InputError("regimen.maintenance", "exactly one of count, until_day", given)
        if self.count is not None:
            count = whole("regimen.maintenance.count", self.count, 1, f"a whole number of doses from 1 to {MAX_DOSES_PER_PART}")
            object.__setattr__(self, "count", count)
        else:
            until = real("regimen.maintenance.until_day", self.until_day, f"a day at or after start_day {start:g}")
            if until < start:
                raise InputError("regimen.maintenance.until_day", f"a day at or after start_day {start:g}", self.until_day)
        if self.number_of_doses > MAX_DOSES_PER_PART:
            raise InputError("regimen.maintenance", f"at most {MAX_DOSES_PER_PART} doses", self.number_of_doses)
        _check_repeats("regimen.maintenance", start, every, self.number_of_doses, self.every_days)
        _check_infusion("regimen.maintenance.infusion", self.infusion)

    @property
    def number_of_doses(self) -> int:
        if self.count is not None:
            return self.count
        assert self.until_day is not None
        return math.floor((self.until_day - self.start_day) / self.every_days + _DAY_TOLERANCE) + 1

    def doses(self) -> tuple[Dose, ...]:
        return tuple(
            Dose(self.start_day + k * self.every_days, self.g_per_kg, self.infusion) for k in range(self.number_of_doses)
        )


RegimenPart = Union[Course, Dose, Maintenance, PlasmaExchange, SubcutaneousIgG, FcRnInhibitor]
_PARTS = (Course, Dose, Maintenance, *COMPARATOR_PARTS)
_PART_NAMES = "Dose, Course, Maintenance, PlasmaExchange, SubcutaneousIgG or FcRnInhibitor"


@dataclass(frozen=True)
class Regimen:
    """The parts of a prescription, the product, and how to turn g/kg into grams.

    ``start_hour`` is the clock hour every infusion starts at (day ``d`` starts at
    ``t = d + start_hour / 24``). Rates above the product label are refused at compile
    time unless ``allow_above_label`` is set.
    """

    parts: tuple[RegimenPart, ...]
    product: Product
    dosing_weight: DosingWeight = "actual"
    start_hour: float = 0.0
    allow_above_label: bool = False
    name: str = ""
    #: Agents given before every infusion (``ivigsim.dosing.premedication``); acts on
    #: infusion-reaction risks only (``ivigsim.safety.premedication``).
    premedication: Premedication | None = None

    def __post_init__(self) -> None:
        if isinstance(self.parts, _PARTS):
            object.__setattr__(self, "parts", (self.parts,))
        elif isinstance(self.parts, list):
            object.__setattr__(self, "parts", tuple(self.parts))
        if not isinstance(self.parts, tuple) or not self.parts:
            raise InputError("regimen.parts", f"at least one {_PART_NAMES}", self.parts)
        for index, part in enumerate(self.parts):
            if not isinstance(part, _PARTS):
                raise InputError(f"regimen.parts[{index}]", f"a {_PART_NAMES}", part)
        if not isinstance(self.product, Product):
            raise InputError("regimen.product", "a Product (see ivigsim.dosing.get_product)", self.product)
        if self.dosing_weight not in DOSING_WEIGHTS:
            raise InputError("regimen.dosing_weight", f"one of {', '.join(DOSING_WEIGHTS)}", self.dosing_weight)
        hour = non_negative("regimen.start_hour", self.start_hour, "an hour in [0, 24)")
        if hour >= 24:
            raise InputError("regimen.start_hour", "an hour in [0, 24)", self.start_hour)
        if not isinstance(self.allow_above_label, bool):
            raise InputError("regimen.allow_above_label", "true or false", self.allow_above_label)
        if not isinstance(self.name, str):
            raise InputError("regimen.name", "a string", self.name)
        if self.premedication is not None and not isinstance(self.premedication, Premedication):
            raise InputError("regimen.premedication", "a Premedication or None", self.premedication)

    def compile(self, patient: Patient, indication: Indication | str | None = None) -> InfusionPlan:
        """Exact infusion windows for ``patient``; see :func:`ivigsim.dosing.compiler.compile_regimen`."""
        return compile_regimen(self, patient, indication)
