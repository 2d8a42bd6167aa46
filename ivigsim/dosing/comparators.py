"""Treatments compared with IVIG, as prescribed: plasma exchange, subcutaneous IgG, an FcRn inhibitor.

Each is a regimen part like ``Course`` or ``Dose`` and shares the regimen's patient, so
IVIG and a comparator can be compared or combined. :func:`compile_sessions` turns them,
for one patient, into sessions of constant-rate windows on the model's own inputs
(``ivigsim.model.comparators``): the exchanged plasma volume (L/day), donor plasma given as
replacement (L/day), subcutaneous IgG into its depot (g/day), the inhibitor infused (g/day).

>>> from ivigsim.model.patient import Patient
>>> plex = PlasmaExchange(days=(0, 2, 4, 6, 8), plasma_volumes=1.0, duration_h=2.0)
>>> sessions = plex.sessions(Patient(weight_kg=70.0), part_index=0, start_hour=0.0)
>>> [round(s.amount, 3) for s in sessions]   # Kaplan EPV at haematocrit 0.45: 0.55 x (1530 + 41 x 70) mL
[2.42, 2.42, 2.42, 2.42, 2.42]
>>> sessions[0].windows[0].rate            # 2.42 L over 2 h = 29.04 L/day
29.04
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ivigsim.errors import DosingError, InputError
from ivigsim.model.comparators import DONOR_PLASMA_INPUT, EXCHANGE_INPUT, INHIBITOR_INPUT, SCIG_INPUT

from ._validate import non_negative, positive, real, whole
from .plan import Infusion, InfusionPlan
from .units import HOURS_PER_DAY

if TYPE_CHECKING:
    from ivigsim.model.patient import Patient

#: Replacement fluids: albumin returns no IgG; donor plasma returns normal IgG.
REPLACEMENTS = ("albumin", "plasma")
#: Most plasma volumes one session may exchange (the brief's bound: 1-1.5 is usual, 2 in the
#: French GBS trial, s.12.6; more than 3 is a typo).
MAX_PLASMA_VOLUMES = 3.0
#: Longest session, subcutaneous infusion or inhibitor infusion, hours (assumption: a sanity bound).
MAX_SESSION_H = 12.0
#: Largest subcutaneous dose, g/kg (assumption: facilitated SCIG gives up to about 0.8 g/kg every
#: 3-4 weeks; more than 1 g/kg at once under the skin is a typo).
MAX_SCIG_G_PER_KG = 1.0
#: Largest FcRn-inhibitor dose per infusion, mg/kg (assumption: 50 mg/kg, above the highest doses
#: of the efgartigimod programme, 25 mg/kg; more is a typo).
MAX_INHIBITOR_MG_PER_KG = 50.0
#: Most sessions or doses one part may give (as ``ivigsim.dosing.regimen.MAX_DOSES_PER_PART``).
MAX_SESSIONS_PER_PART = 1000
#: Haematocrit assumed when none is given (assumption: the middle of adult reference ranges).
TYPICAL_HAEMATOCRIT = {"male": 0.45, "female": 0.40}
#: Kaplan's estimated plasma volume: EPV = (1 - Hct)(b + c x weight), b in mL, c in mL/kg
#: (``ivigsim.model.comparators.sources.KAPLAN_1990``).
KAPLAN_COEFFICIENTS = {"male": (1530.0, 41.0), "female": (864.0, 47.2)}
#: Efgartigimod's label: 1200 mg per infusion at 120 kg or more (``sources.VYVGART_LABEL``).
EFGARTIGIMOD_MAX_MG = 1200.0
DRUGS = ("efgartigimod",)
#: Two sessions may touch; overlapping by more than this (days) is refused.
_OVERLAP_DAYS = 1e-9


def estimated_plasma_volume_L(weight_kg: float, sex: str, haematocrit: float) -> float:
    """Kaplan's estimated plasma volume, litres: (1 - Hct)(b + c x weight).

    >>> round(estimated_plasma_volume_L(70.0, "male", 0.45), 4)
    2.42
    >>> round(estimated_plasma_volume_L(60.0, "female", 0.40), 4)
    2.2176
    """
    b_mL, c_mL_per_kg = KAPLAN_COEFFICIENTS[sex]
    return (1.0 - haematocrit) * (b_mL + c_mL_per_kg * weight_kg) / 1000.0


@dataclass(frozen=True)
class InputWindow:
    """Model input ``input`` held at ``rate`` (its own unit) on [start_day, end_day)."""

    input: str
    start_day: float
    end_day: float
    rate: float


@dataclass(frozen=True)
class Session:
    """One plasma-exchange session, subcutaneous dose or inhibitor infusion, as compiled.

    ``amount`` is what a clinician reads off: litres of plasma exchanged, or grams given;
    ``unit`` says which. ``windows`` drive the model's inputs.
    """

    kind: str
    start_day: float
    end_day: float
    amount: float
    unit: str
    windows: tuple[InputWindow, ...]
    label: str = ""

    @property
    def duration_h(self) -> float:
        return (self.end_day - self.start_day) * HOURS_PER_DAY


@dataclass(frozen=True)
class TreatmentPlan(InfusionPlan):
    """An ``InfusionPlan`` (the IVIG infusions, as before) with the comparators' sessions."""

    sessions: tuple[Session, ...] = ()

    @property
    def input_windows(self) -> tuple[InputWindow, ...]:
        """Every comparator window, sorted by start."""
        return tuple(sorted((w for s in self.sessions for w in s.windows), key=lambda w: (w.start_day, w.input)))

    def sessions_of(self, kind: str) -> tuple[Session, ...]:
        return tuple(s for s in self.sessions if s.kind == kind)

    @property
    def first_start_day(self) -> float | None:
        """When the first treatment of any kind starts (None if none)."""
        starts = [i.start_day for i in self.infusions] + [s.start_day for s in self.sessions]
        return min(starts) if starts else None


# -- checks ---------------------------------------------------------------------------


def _days(field_name: str, days: object) -> tuple[float, ...]:
    from .regimen import _check_day

    if isinstance(days, (str, bytes)) or not isinstance(days, Sequence) or not days:
        raise InputError(field_name, "a non-empty list of days (day 0 starts at t = 0)", days)
    if len(days) > MAX_SESSIONS_PER_PART:
        raise InputError(field_name, f"at most {MAX_SESSIONS_PER_PART} days", len(days))
    values = tuple(sorted(_check_day(field_name, d) for d in days))
    for a, b in zip(values, values[1:]):
        if b == a:
            raise InputError(field_name, "days given once each", f"day {a:g} twice")
    return values


def _hours(field_name: str, value: object, expected: str = f"a duration above 0 and at most {MAX_SESSION_H:g} hours") -> float:
    hours = positive(field_name, value, expected)
    if hours > MAX_SESSION_H:
        raise InputError(field_name, expected, value)
    return hours


def _start_hour(field_name: str, value: object) -> float | None:
    if value is None:
        return None
    hour = non_negative(field_name, value, "an hour in [0, 24), or none for the regimen's start_hour")
    if hour >= 24:
        raise InputError(field_name, "an hour in [0, 24), or none for the regimen's start_hour", value)
    return hour


def _no_overlap(field_name: str, days: Sequence[float], duration_h: float, what: str) -> None:
    for a, b in zip(days, days[1:]):
        if b - a < duration_h / HOURS_PER_DAY - _OVERLAP_DAYS:
            raise InputError(field_name, f"{what} that do not overlap ({duration_h:g} h each)",
                             f"days {a:g} and {b:g}")


def _clock(day: float, hour: float) -> float:
    return day + hour / HOURS_PER_DAY


# -- the parts --------------------------------------------------------------------------


@dataclass(frozen=True)
class PlasmaExchange:
    """Plasma-exchange sessions on ``days``, each exchanging ``plasma_volumes`` estimated plasma volumes.

    The volume is ``plasma_volumes`` x Kaplan's estimated plasma volume of the patient
    (actual weight, sex, ``haematocrit``; ``None``: 0.45 in men, 0.40 in women, an assumption),
    exchanged at a constant rate over ``duration_h``. ``replacement`` is ``albumin`` (no IgG
    returned) or ``plasma`` (donor plasma, returning normal IgG). Sessions start at
    ``start_hour`` (``None``: the regimen's).
    """

    days: tuple[float, ...]
    plasma_volumes: float = 1.0
    duration_h: float = 2.0
    replacement: str = "albumin"
    haematocrit: float | None = None
    start_hour: float | None = None

    def __post_init__(self) -> None:
        where = "regimen.plasma_exchange"
        object.__setattr__(self, "days", _days(f"{where}.days", self.days))
        expected = f"a number of plasma volumes per session above 0 and at most {MAX_PLASMA_VOLUMES:g}"
        volumes = positive(f"{where}.plasma_volumes", self.plasma_volumes, expected)
        if volumes > MAX_PLASMA_VOLUMES:
            raise InputError(f"{where}.plasma_volumes", expected, self.plasma_volumes)
        _hours(f"{where}.duration_h", self.duration_h)
        if self.replacement not in REPLACEMENTS:
            raise InputError(f"{where}.replacement", "albumin or plasma", self.replacement)
        if self.haematocrit is not None:
            hct = real(f"{where}.haematocrit", self.haematocrit, "a haematocrit between 0.1 and 0.7 (a fraction)")
            if not 0.1 <= hct <= 0.7:
                raise InputError(f"{where}.haematocrit", "a haematocrit between 0.1 and 0.7 (a fraction)",
                                 self.haematocrit)
        _start_hour(f"{where}.start_hour", self.start_hour)
        _no_overlap(f"{where}.days", self.days, self.duration_h, "sessions")

    def plasma_volume_L(self, patient: Patient) -> float:
        """The patient's estimated plasma volume (Kaplan), litres."""
        hct = self.haematocrit if self.haematocrit is not None else TYPICAL_HAEMATOCRIT[patient.sex]
        return estimated_plasma_volume_L(patient.weight_kg, patient.sex, hct)

    def sessions(self, patient: Patient, part_index: int, start_hour: float) -> tuple[Session, ...]:
        volume_L = self.plasma_volumes * self.plasma_volume_L(patient)
        hour = start_hour if self.start_hour is None else self.start_hour
        out = []
        for k, day in enumerate(self.days):
            start = _clock(day, hour)
            end = start + self.duration_h / HOURS_PER_DAY
            rate = volume_L / (end - start)
            windows = [InputWindow(EXCHANGE_INPUT, start, end, rate)]
            if self.replacement == "plasma":
                windows.append(InputWindow(DONOR_PLASMA_INPUT, start, end, rate))
            which = f" session {k + 1} of {len(self.days)}" if len(self.days) > 1 else ""
            label = (f"parts[{part_index}] plasma exchange{which} ({self.plasma_volumes:g} plasma volumes, "
                     f"{volume_L:.3g} L, {self.replacement}, on day {day:g})")
            out.append(Session("plasma_exchange", start, end, volume_L, "L", tuple(windows), label))
        return tuple(out)


@dataclass(frozen=True)
class SubcutaneousIgG:
    """``g_per_kg`` of subcutaneous IgG every ``every_days`` from ``start_day``, for ``count``
    doses or up to ``until_day`` (exactly one), each given over ``duration_h``.

    Doses are on the regimen's dosing weight, like IVIG.
    """

    g_per_kg: float
    every_days: float = 7.0
    start_day: float = 0.0
    count: int | None = None
    until_day: float | None = None
    duration_h: float = 1.0
    start_hour: float | None = None

    def __post_init__(self) -> None:
        from .regimen import _DAY_TOLERANCE, _check_day

        where = "regimen.scig"
        expected = f"a dose above 0 and at most {MAX_SCIG_G_PER_KG:g} g/kg per subcutaneous dose"
        dose = positive(f"{where}.g_per_kg", self.g_per_kg, expected)
        if dose > MAX_SCIG_G_PER_KG:
            raise InputError(f"{where}.g_per_kg", expected, self.g_per_kg)
        every = positive(f"{where}.every_days", self.every_days, "a positive interval in days")
        start = _check_day(f"{where}.start_day", self.start_day)
        if (self.count is None) == (self.until_day is None):
            raise InputError(where, "exactly one of count, until_day",
                             f"count={self.count!r}, until_day={self.until_day!r}")
        expected_count = f"a whole number of doses from 1 to {MAX_SESSIONS_PER_PART}"
        if self.count is not None:
            count = whole(f"{where}.count", self.count, 1, expected_count)
            object.__setattr__(self, "count", count)
        else:
            until = real(f"{where}.until_day", self.until_day, f"a day at or after start_day {start:g}")
            if until < start:
                raise InputError(f"{where}.until_day", f"a day at or after start_day {start:g}", self.until_day)
            count = math.floor((until - start) / every + _DAY_TOLERANCE) + 1
        if count > MAX_SESSIONS_PER_PART:
            raise InputError(where, f"at most {MAX_SESSIONS_PER_PART} doses", count)
        hours = _hours(f"{where}.duration_h", self.duration_h)
        if every < hours / HOURS_PER_DAY:
            raise InputError(f"{where}.every_days", f"an interval at least as long as each dose ({hours:g} h)",
                             self.every_days)
        _start_hour(f"{where}.start_hour", self.start_hour)

    @property
    def days(self) -> tuple[float, ...]:
        from .regimen import _DAY_TOLERANCE

        if self.count is not None:
            n = self.count
        else:
            assert self.until_day is not None
            n = math.floor((self.until_day - self.start_day) / self.every_days + _DAY_TOLERANCE) + 1
        return tuple(self.start_day + k * self.every_days for k in range(n))

    def sessions(self, patient: Patient, part_index: int, start_hour: float, weight_kg: float) -> tuple[Session, ...]:
        amount_g = self.g_per_kg * weight_kg
        hour = start_hour if self.start_hour is None else self.start_hour
        days = self.days
        out = []
        for k, day in enumerate(days):
            start = _clock(day, hour)
            end = start + self.duration_h / HOURS_PER_DAY
            which = f" dose {k + 1} of {len(days)}" if len(days) > 1 else ""
            label = f"parts[{part_index}] subcutaneous IgG{which} ({self.g_per_kg:g} g/kg, {amount_g:.4g} g, on day {day:g})"
            out.append(Session("scig", start, end, amount_g, "g",
                               (InputWindow(SCIG_INPUT, start, end, amount_g / (end - start)),), label))
        return tuple(out)


@dataclass(frozen=True)
class FcRnInhibitor:
    """An FcRn inhibitor infused on ``days``: ``mg_per_kg`` of actual weight over ``duration_h``,
    capped at ``max_mg_per_infusion``. The defaults are efgartigimod's label cycle: 10 mg/kg
    over 1 h weekly x 4, at most 1200 mg per infusion (VYVGART prescribing information).
    """

    days: tuple[float, ...] = (0.0, 7.0, 14.0, 21.0)
    mg_per_kg: float = 10.0
    duration_h: float = 1.0
    drug: str = "efgartigimod"
    max_mg_per_infusion: float = EFGARTIGIMOD_MAX_MG
    start_hour: float | None = None

    def __post_init__(self) -> None:
        where = "regimen.fcrn_inhibitor"
        if self.drug not in DRUGS:
            raise InputError(f"{where}.drug", f"one of {', '.join(DRUGS)} (the model's parameters are its own)",
                             self.drug)
        object.__setattr__(self, "days", _days(f"{where}.days", self.days))
        expected = f"a dose above 0 and at most {MAX_INHIBITOR_MG_PER_KG:g} mg/kg per infusion"
        dose = positive(f"{where}.mg_per_kg", self.mg_per_kg, expected)
        if dose > MAX_INHIBITOR_MG_PER_KG:
            raise InputError(f"{where}.mg_per_kg", expected, self.mg_per_kg)
        positive(f"{where}.max_mg_per_infusion", self.max_mg_per_infusion, "a positive cap in mg per infusion")
        _hours(f"{where}.duration_h", self.duration_h)
        _start_hour(f"{where}.start_hour", self.start_hour)
        _no_overlap(f"{where}.days", self.days, self.duration_h, "infusions")

    def amount_g(self, patient: Patient) -> float:
        return min(self.mg_per_kg * patient.weight_kg, self.max_mg_per_infusion) / 1000.0

    def sessions(self, patient: Patient, part_index: int, start_hour: float) -> tuple[Session, ...]:
        amount_g = self.amount_g(patient)
        hour = start_hour if self.start_hour is None else self.start_hour
        out = []
        for k, day in enumerate(self.days):
            start = _clock(day, hour)
            end = start + self.duration_h / HOURS_PER_DAY
            which = f" infusion {k + 1} of {len(self.days)}" if len(self.days) > 1 else ""
            label = (f"parts[{part_index}] {self.drug}{which} ({self.mg_per_kg:g} mg/kg, {1000 * amount_g:.4g} mg, "
                     f"on day {day:g})")
            out.append(Session("fcrn_inhibitor", start, end, amount_g, "g",
                               (InputWindow(INHIBITOR_INPUT, start, end, amount_g / (end - start)),), label))
        return tuple(out)


COMPARATOR_PARTS = (PlasmaExchange, SubcutaneousIgG, FcRnInhibitor)


def compile_sessions(parts: Sequence[object], patient: Patient, start_hour: float, weight_kg: float,
                     infusions: Sequence[Infusion]) -> tuple[Session, ...]:
    """Every comparator part's sessions for ``patient``, sorted, checked against each other
    and against the IVIG ``infusions``: an exchange may not overlap another exchange, an IVIG
    infusion or an inhibitor infusion (it would remove what is being given)."""
    sessions: list[tuple[int, Session]] = []
    for index, part in enumerate(parts):
        if isinstance(part, PlasmaExchange):
            made = part.sessions(patient, index, start_hour)
        elif isinstance(part, FcRnInhibitor):
            made = part.sessions(patient, index, start_hour)
        elif isinstance(part, SubcutaneousIgG):
            made = part.sessions(patient, index, start_hour, weight_kg)
        else:
            continue
        sessions += [(index, s) for s in made]
    sessions.sort(key=lambda item: item[1].start_day)
    exchanges = [(i, s) for i, s in sessions if s.kind == "plasma_exchange"]
    # What an exchange may not overlap: (the part to name if it does, label, start, end).
    given = [(None, inf.label, inf.start_day, inf.end_day) for inf in infusions] + [
        (None, s.label, s.start_day, s.end_day) for _, s in sessions if s.kind == "fcrn_inhibitor"]
    for n, (i, s) in enumerate(exchanges):
        later = [(k, x.label, x.start_day, x.end_day) for k, x in exchanges[n + 1:]]  # name the later exchange's part
        for k, label, start, end in given + later:
            if start < s.end_day - _OVERLAP_DAYS and s.start_day < end - _OVERLAP_DAYS:
                raise DosingError(f"regimen.parts[{i if k is None else max(i, k)}].days",
                                  "plasma-exchange sessions that overlap no IVIG infusion, inhibitor infusion or "
                                  "other session", f"{s.label} overlaps {label}")
    inhibitor = [s for _, s in sessions if s.kind == "fcrn_inhibitor"]
    for (a, b) in zip(inhibitor, inhibitor[1:]):
        if b.start_day < a.end_day - _OVERLAP_DAYS:
            index = next(i for i, s in sessions if s is b)
            raise DosingError(f"regimen.parts[{index}].days", "inhibitor infusions that do not overlap",
                              f"{b.label} overlaps {a.label}")
    return tuple(s for _, s in sessions)

