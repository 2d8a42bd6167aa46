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

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ivigsim.errors import DosingError, InputError
from ivigsim.model.comparators import DONOR_PLASMA_INPUT, EXCHANGE_INPUT, INHIBITOR_INPUT, SCIG_INPUT
from ivigsim.model.comparators.fcrn_inhibitor import SHIPPED_INHIBITORS, SHIPPED_VARIABILITY

from ._validate import non_negative, positive, real, whole
from .plan import Infusion, InfusionPlan
from .units import HOURS_PER_DAY, above_weekly_limit

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
#: Largest repeated subcutaneous dose rate, g/kg a week (assumption: 2.5 times 0.4 g/kg weekly,
#: the highest maintenance dose of the shipped SCIG examples, PATH's high arm; more is a typo in
#: the dose or the interval: 1 g/kg daily would put 7 g/kg a week under the skin).
MAX_SCIG_G_PER_KG_PER_WEEK = 1.0
#: IVIG-to-SCIG conversion: the adjustment of the labels' rule "weekly SCIG dose = IVIG dose per
#: week x adjustment". Default 1.37 (assumption: the US labels of Hizentra and Gammagard Liquid
#: as commonly quoted, not in the calibration file; check the product's label). Berger 2013
#: (calibration-targets s.12.6) gives licensing dose adjustments of 120-153 %; European labels
#: convert at 1 (the same monthly dose). Accepted from 1 to 2: below 1 gives less IgG than the
#: IVIG it replaces, above 2 is a typo.
DEFAULT_SCIG_DOSE_ADJUSTMENT = 1.37
SCIG_DOSE_ADJUSTMENT_RANGE = (1.0, 2.0)
#: Largest FcRn-inhibitor dose per infusion, mg/kg (assumption: 100 mg/kg, above the highest doses
#: in calibration-targets, nipocalimab's 60 mg/kg every 2 weeks in Vivacity-MG, s.12.6; more is a typo).
MAX_INHIBITOR_MG_PER_KG = 100.0
#: Most sessions or doses one part may give (as ``ivigsim.dosing.regimen.MAX_DOSES_PER_PART``).
MAX_SESSIONS_PER_PART = 1000
#: Haematocrit assumed when none is given (assumption: the middle of adult reference ranges).
TYPICAL_HAEMATOCRIT = {"male": 0.45, "female": 0.40}
#: Kaplan's estimated plasma volume: EPV = (1 - Hct)(b + c x weight), b in mL, c in mL/kg
#: (``ivigsim.model.comparators.sources.KAPLAN_1990``).
KAPLAN_COEFFICIENTS = {"male": (1530.0, 41.0), "female": (864.0, 47.2)}
#: Efgartigimod's label: 1200 mg per infusion at 120 kg or more (``sources.VYVGART_LABEL``).
EFGARTIGIMOD_MAX_MG = 1200.0
#: Inhibitors shipped with their constants: efgartigimod (the model's own values) and nipocalimab
#: (``ivigsim.model.comparators.fcrn_inhibitor``). Any other drug is user-defined: the scenario gives
#: its kinetics (``InhibitorKinetics``).
DRUGS = tuple(SHIPPED_INHIBITORS)
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


def scig_dose_from_ivig(ivig_g_per_kg: float, ivig_every_days: float, scig_every_days: float,
                        adjustment: float = DEFAULT_SCIG_DOSE_ADJUSTMENT) -> float:
    """g/kg per subcutaneous dose replacing IVIG, by the labels' rule: the IVIG dose per week,
    times ``adjustment``, times the SCIG interval in weeks. Refuses, naming the field, an
    adjustment outside ``SCIG_DOSE_ADJUSTMENT_RANGE``.

    >>> round(scig_dose_from_ivig(0.4, 28.0, 7.0), 6)       # 0.4 g/kg every 4 weeks, as SCIG weekly
    0.137
    >>> round(scig_dose_from_ivig(0.4, 28.0, 14.0, 1.0), 6)  # every 2 weeks, EU labels (1:1)
    0.2
    """
    where = "regimen.scig.from_ivig"
    interval = positive("regimen.scig.every_days", scig_every_days, "a positive interval in days")
    dose = positive(f"{where}.g_per_kg", ivig_g_per_kg, "the IVIG dose it replaces, above 0 g/kg")
    every = positive(f"{where}.every_days", ivig_every_days, "the IVIG interval it replaces, a positive number of days")
    lo, hi = SCIG_DOSE_ADJUSTMENT_RANGE
    factor = real(f"{where}.dose_adjustment", adjustment, f"a label's adjustment from {lo:g} to {hi:g}")
    if not lo <= factor <= hi:
        raise InputError(f"{where}.dose_adjustment", f"a label's adjustment from {lo:g} to {hi:g}", adjustment)
    return dose / every * factor * interval


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
        from .regimen import _DAY_TOLERANCE, _check_day, _check_repeats

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
        _check_repeats(where, start, every, count, self.every_days)
        hours = _hours(f"{where}.duration_h", self.duration_h)
        if every < hours / HOURS_PER_DAY:
            raise InputError(f"{where}.every_days", f"an interval at least as long as each dose ({hours:g} h)",
                             self.every_days)
        over = above_weekly_limit(dose, every, MAX_SCIG_G_PER_KG_PER_WEEK) if count > 1 else None
        if over is not None:
            raise InputError(f"{where}.every_days", f"an interval that keeps SCIG at or below "
                             f"{MAX_SCIG_G_PER_KG_PER_WEEK:g} g/kg a week ({dose:g} g/kg every {over[1]:g} days "
                             f"or longer)", f"{self.every_days} ({over[0]:.3g} g/kg a week)")
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
class InhibitorKinetics:
    """A user-defined FcRn inhibitor's own constants, in the model's units (the parameters of
    ``ivigsim.model.comparators.fcrn_inhibitor``, which these replace for the scenario):

    - ``kd_g_per_L``: plasma concentration occupying half of FcRn (occupancy C / (C + Kd));
    - ``clearance_70kg_L_per_day`` and ``distribution_clearance_70kg_L_per_day``: elimination and
      inter-compartment clearances at 70 kg (scaled by weight^0.75);
    - ``peripheral_volume_L_per_kg``: the peripheral volume (the central one is the plasma volume);
    - ``source``: what the values rest on, a citation or "assumption: ...": required, because
      ivigsim ships constants only for efgartigimod and nipocalimab;
    - optionally, target-mediated disposition (as nipocalimab's): ``target_g_per_L``, the FcRn
      accessible to the drug at baseline as the drug mass it binds 1:1 per litre of plasma (default
      0: none, ``kd_g_per_L`` is then the equilibrium constant), and ``internalisation_per_day``, the
      rate at which the drug-FcRn complex is internalised (default: FcRn's own turnover, so the
      drug occupies FcRn without depleting it);
    - optionally, ``between_patient_cv``: the between-patient variability of any of these constants
      (by the names above, as the CV of a log-normal, e.g. ``{"clearance_70kg_L_per_day": 0.24}``),
      applied to each virtual patient of a trial (a single simulation takes the typical values).

    With the defaults the drug is treated as efgartigimod is: linear two-compartment kinetics,
    binding at equilibrium (docs/comparators.md).

    >>> k = InhibitorKinetics(0.01, 1.0, 0.1, 10.0, "assumption: illustration")
    >>> k.parameters()["fcrn_inhibitor_kd_g_per_L"]
    0.01
    """

    kd_g_per_L: float
    clearance_70kg_L_per_day: float
    peripheral_volume_L_per_kg: float
    distribution_clearance_70kg_L_per_day: float
    source: str = ""
    target_g_per_L: float = 0.0
    internalisation_per_day: float | None = None
    #: Given as a mapping; kept as sorted (name, CV) pairs, so the kinetics stay hashable.
    between_patient_cv: Mapping[str, float] | tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        from ivigsim.model.comparators.fcrn_inhibitor import FCRN_INHIBITOR

        where = "regimen.fcrn_inhibitor.kinetics"
        declared = {p.name: p for p in FCRN_INHIBITOR.parameters}
        for name in (*INHIBITOR_CONSTANTS, *INHIBITOR_TMDD_CONSTANTS):
            if getattr(self, name) is None:
                continue
            p = declared[f"fcrn_inhibitor_{name}"]
            lo, hi = p.bounds
            expected = f"a value in {p.unit} {'from' if lo == 0 else 'above'} {lo:g} and at most {hi:g}"
            value = real(f"{where}.{name}", getattr(self, name), expected)
            if not (lo <= value <= hi if lo == 0 else lo < value <= hi):
                raise InputError(f"{where}.{name}", expected, getattr(self, name))
        if not isinstance(self.source, str) or not self.source.strip():
            raise InputError(f"{where}.source", "what the values rest on: a citation, or 'assumption: ...' "
                             "(ivigsim ships no constants for this drug)", self.source)
        given = self.between_patient_cv
        if not isinstance(given, Mapping | tuple):
            raise InputError(f"{where}.between_patient_cv", "a mapping of constant names to CVs", type(given).__name__)
        for name, cv in dict(given).items():
            if name not in (*INHIBITOR_CONSTANTS, *INHIBITOR_TMDD_CONSTANTS):
                raise InputError(f"{where}.between_patient_cv", "names of the drug's constants ("
                                 f"{', '.join((*INHIBITOR_CONSTANTS, *INHIBITOR_TMDD_CONSTANTS))})", name)
            expected = f"a CV above 0 and at most {MAX_INHIBITOR_CV:g} (0.25 = 25 %)"
            if not 0 < real(f"{where}.between_patient_cv.{name}", cv, expected) <= MAX_INHIBITOR_CV:
                raise InputError(f"{where}.between_patient_cv.{name}", expected, cv)
        object.__setattr__(self, "between_patient_cv", tuple(sorted((n, float(cv)) for n, cv in dict(given).items())))

    def parameters(self) -> dict[str, float]:
        """The model parameters these values set; without ``internalisation_per_day`` the module's
        own value stays (FcRn's turnover: the drug occupies FcRn without depleting it)."""
        return {f"fcrn_inhibitor_{name}": float(getattr(self, name))
                for name in (*INHIBITOR_CONSTANTS, *INHIBITOR_TMDD_CONSTANTS) if getattr(self, name) is not None}

    def variability(self) -> dict[str, float]:
        """Model parameter -> CV, from ``between_patient_cv``."""
        return {f"fcrn_inhibitor_{name}": cv for name, cv in self.between_patient_cv}


#: The constants a user-defined inhibitor gives (``InhibitorKinetics``); each sets the model
#: parameter ``fcrn_inhibitor_<name>``.
INHIBITOR_CONSTANTS = ("kd_g_per_L", "clearance_70kg_L_per_day", "peripheral_volume_L_per_kg",
                       "distribution_clearance_70kg_L_per_day")
#: Its optional target-mediated disposition (``InhibitorKinetics``).
INHIBITOR_TMDD_CONSTANTS = ("target_g_per_L", "internalisation_per_day")
#: Largest between-patient CV a user-defined inhibitor's constant may have (200 %: beyond it a
#: log-normal's mean is more than twice its median; almost certainly a percentage typed as a share).
MAX_INHIBITOR_CV = 2.0


@dataclass(frozen=True)
class FcRnInhibitor:
    """An FcRn inhibitor infused on ``days``: ``mg_per_kg`` of actual weight over ``duration_h``,
    capped at ``max_mg_per_infusion``. The defaults are efgartigimod's label cycle: 10 mg/kg
    over 1 h weekly x 4, at most 1200 mg per infusion (VYVGART prescribing information).

    Any other ``drug`` is user-defined and needs its ``kinetics`` (``InhibitorKinetics``); its
    infusions are capped only if ``max_mg_per_infusion`` is given.
    """

    days: tuple[float, ...] = (0.0, 7.0, 14.0, 21.0)
    mg_per_kg: float = 10.0
    duration_h: float = 1.0
    drug: str = "efgartigimod"
    #: None: efgartigimod's label cap (1200 mg), no cap for a user-defined drug.
    max_mg_per_infusion: float | None = None
    start_hour: float | None = None
    kinetics: InhibitorKinetics | None = None

    def __post_init__(self) -> None:
        where = "regimen.fcrn_inhibitor"
        if not isinstance(self.drug, str) or not self.drug.strip():
            raise InputError(f"{where}.drug", "the inhibitor's name", self.drug)
        if not self.drug.isprintable() or len(self.drug) > 200:  # printed and written into files, as names are
            raise InputError(f"{where}.drug", "printable text of at most 200 characters (no control characters or "
                             "escape sequences)", self.drug)
        if self.drug in DRUGS and self.kinetics is not None:
            raise InputError(f"{where}.kinetics", f"none for {self.drug} (its constants are shipped; to give your "
                             "own, name the drug differently)", "kinetics")
        if self.drug not in DRUGS and self.kinetics is None:
            raise InputError(f"{where}.drug", f"{', '.join(DRUGS)} (shipped), or another name with the drug's own "
                             f"kinetics in {where}.kinetics (none shipped for it)", self.drug)
        if self.kinetics is not None and not isinstance(self.kinetics, InhibitorKinetics):
            raise InputError(f"{where}.kinetics", "an InhibitorKinetics", type(self.kinetics).__name__)
        if self.max_mg_per_infusion is None and self.drug == "efgartigimod":
            object.__setattr__(self, "max_mg_per_infusion", EFGARTIGIMOD_MAX_MG)
        object.__setattr__(self, "days", _days(f"{where}.days", self.days))
        expected = f"a dose above 0 and at most {MAX_INHIBITOR_MG_PER_KG:g} mg/kg per infusion"
        dose = positive(f"{where}.mg_per_kg", self.mg_per_kg, expected)
        if dose > MAX_INHIBITOR_MG_PER_KG:
            raise InputError(f"{where}.mg_per_kg", expected, self.mg_per_kg)
        if self.max_mg_per_infusion is not None:
            positive(f"{where}.max_mg_per_infusion", self.max_mg_per_infusion, "a positive cap in mg per infusion")
        _hours(f"{where}.duration_h", self.duration_h)
        _start_hour(f"{where}.start_hour", self.start_hour)
        _no_overlap(f"{where}.days", self.days, self.duration_h, "infusions")

    def own_parameters(self) -> dict[str, float]:
        """The model parameters this drug sets: a user-defined drug's kinetics, nipocalimab's shipped
        constants, none for efgartigimod (the model's own values)."""
        if self.kinetics is not None:
            return self.kinetics.parameters()
        return {name: value for name, (value, _) in SHIPPED_INHIBITORS[self.drug].items()}

    def own_variability(self) -> dict[str, float]:
        """Model parameter -> between-patient CV of the constants this drug sets: a user-defined
        drug's ``between_patient_cv``, nipocalimab's from its source, none for efgartigimod."""
        if self.kinetics is not None:
            return self.kinetics.variability()
        return {name: cv for name, (cv, _) in SHIPPED_VARIABILITY[self.drug].items()}

    def amount_g(self, patient: Patient) -> float:
        cap = math.inf if self.max_mg_per_infusion is None else self.max_mg_per_infusion
        return min(self.mg_per_kg * patient.weight_kg, cap) / 1000.0

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


def inhibitor_parameters(parts: Sequence[object]) -> dict[str, float]:
    """The model parameters a regimen's FcRn inhibitor sets (``FcRnInhibitor.own_parameters``: none
    for efgartigimod or no inhibitor). The model carries one inhibitor's constants, so every
    inhibitor part of a regimen must be the same drug with the same kinetics."""
    inhibitors = [p for p in parts if isinstance(p, FcRnInhibitor)]
    drugs = {(p.drug, p.kinetics) for p in inhibitors}
    if len(drugs) > 1:
        raise InputError("regimen.fcrn_inhibitor", "one FcRn inhibitor per scenario, with one set of kinetics "
                         "(the model carries one drug's constants)", ", ".join(sorted(d for d, _ in drugs)))
    return inhibitors[0].own_parameters() if inhibitors else {}


def inhibitor_setting(parts: Sequence[object]) -> str:
    """What sets a regimen's inhibitor constants, in words, for a refusal of the same constant
    given again under ``parameters``: a shipped drug's own constants, or the part's kinetics."""
    drug = next((p.drug for p in parts if isinstance(p, FcRnInhibitor)), None)
    if drug in SHIPPED_INHIBITORS:
        return f"not given twice: the regimen's fcrn_inhibitor ({drug}) comes with its own constants"
    return "not given twice: the regimen's fcrn_inhibitor.kinetics sets it"


def inhibitor_variability(parts: Sequence[object]) -> dict[str, float]:
    """The between-patient CVs of the constants a regimen's FcRn inhibitor sets
    (``FcRnInhibitor.own_variability``; ``inhibitor_parameters`` checks there is one drug)."""
    inhibitor_parameters(parts)
    inhibitors = [p for p in parts if isinstance(p, FcRnInhibitor)]
    return inhibitors[0].own_variability() if inhibitors else {}


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
    # What an exchange may not overlap (label, start, end), by start, with the running
    # latest end: one sweep, so a long regimen is checked in n log n, not n^2.
    given = sorted([(inf.label, inf.start_day, inf.end_day) for inf in infusions]
                   + [(s.label, s.start_day, s.end_day) for _, s in sessions if s.kind == "fcrn_inhibitor"],
                   key=lambda g: g[1])
    given_starts = [g[1] for g in given]
    latest: list[tuple[str, float, float]] = []  # latest[j]: the one ending last among given[:j + 1]
    for g in given:
        latest.append(g if not latest or g[2] > latest[-1][2] else latest[-1])
    overlap = "plasma-exchange sessions that overlap no IVIG infusion, inhibitor infusion or other session"
    previous: tuple[int, Session] | None = None  # the earlier exchange that ends last
    for i, s in exchanges:
        j = bisect.bisect_left(given_starts, s.end_day - _OVERLAP_DAYS)
        if j and latest[j - 1][2] - _OVERLAP_DAYS > s.start_day:
            raise DosingError(f"regimen.parts[{i}].days", overlap, f"{s.label} overlaps {latest[j - 1][0]}")
        if previous is not None and s.start_day < previous[1].end_day - _OVERLAP_DAYS:
            raise DosingError(f"regimen.parts[{max(i, previous[0])}].days", overlap,
                              f"{previous[1].label} overlaps {s.label}")
        if previous is None or s.end_day > previous[1].end_day:
            previous = (i, s)
    inhibitor = [s for _, s in sessions if s.kind == "fcrn_inhibitor"]
    for (a, b) in zip(inhibitor, inhibitor[1:]):
        if b.start_day < a.end_day - _OVERLAP_DAYS:
            index = next(i for i, s in sessions if s is b)
            raise DosingError(f"regimen.parts[{index}].days", "inhibitor infusions that do not overlap",
                              f"{b.label} overlaps {a.label}")
    return tuple(s for _, s in sessions)

