"""Turn a regimen and a patient into exact infusion windows.

Three steps, in order: expand each part into single doses; resolve each dose's rate
profile (per kg, independent of the patient) and check it against the product label;
place the steps on the clock in grams and g/day, then check that no two infusions
overlap. The label check uses the prescribed rates, which are exact, rather than rates
recovered from window boundaries, which carry float rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ivigsim.errors import DosingError

from .comparators import COMPARATOR_PARTS, TreatmentPlan, compile_sessions
from .indications import Indication, check_indication
from .infusion import RateStep, rate_profile
from .plan import Infusion, InfusionPlan, InfusionWindow
from .units import HOURS_PER_DAY, MINUTES_PER_DAY, mg_per_kg_min_to_g_per_day
from .weight import dosing_weight_kg

if TYPE_CHECKING:
    from ivigsim.model.patient import Patient

    from .regimen import Dose, Regimen, RegimenPart

#: Relative slack on the label maximum rate (float rounding of user-written rates).
RATE_TOLERANCE = 1e-9
#: Two infusions may touch; overlapping by more than this (days, about 0.1 ms) is refused.
OVERLAP_TOLERANCE_DAYS = 1e-9


def compile_regimen(regimen: Regimen, patient: Patient, indication: Indication | str | None = None) -> InfusionPlan:
    """Compile ``regimen`` for ``patient``, checking label rates for ``indication``.

    The IVIG parts become the plan's infusions; comparator parts (plasma exchange,
    subcutaneous IgG, an FcRn inhibitor: ``ivigsim.dosing.comparators``) become its
    ``sessions``. The plan is a ``TreatmentPlan``, an ``InfusionPlan`` with those sessions.
    """
    indication = check_indication(indication)
    weight_kg = dosing_weight_kg(patient, regimen.dosing_weight)
    label_max = regimen.product.max_rate_for(indication)
    drafts = []
    for part_index, part in enumerate(regimen.parts):
        if isinstance(part, COMPARATOR_PARTS):
            continue
        doses = part.doses()
        for dose_index, dose in enumerate(doses):
            steps = rate_profile(dose.infusion, dose.g_per_kg, regimen.product, indication)
            peak = max(step.rate_mg_per_kg_min for step in steps)
            if not regimen.allow_above_label and peak > label_max * (1 + RATE_TOLERANCE):
                raise DosingError(f"regimen.parts[{part_index}].infusion", _above_label(regimen, indication, label_max), peak)
            start_day = dose.day + regimen.start_hour / HOURS_PER_DAY
            windows = _windows(start_day, steps, dose.g_per_kg * weight_kg, weight_kg)
            label = _describe(part_index, part, dose_index, len(doses), dose)
            drafts.append((start_day, label, dose, peak, windows))
    drafts.sort(key=lambda draft: draft[0])
    infusions = tuple(
        Infusion(
            index=index,
            start_day=windows[0].start_day,
            end_day=windows[-1].end_day,
            amount_g=dose.g_per_kg * weight_kg,
            g_per_kg=dose.g_per_kg,
            max_rate_mg_per_kg_min=peak,
            windows=windows,
            volume_mL=dose.g_per_kg * weight_kg / regimen.product.concentration_g_per_mL,
            label=label,
        )
        for index, (_, label, dose, peak, windows) in enumerate(drafts)
    )
    _check_no_overlap(infusions)
    sessions = compile_sessions(regimen.parts, patient, regimen.start_hour, weight_kg, infusions)
    return TreatmentPlan(infusions, weight_kg, regimen.product, indication, sessions=sessions,
                         premedication=regimen.premedication)


def _windows(start_day: float, steps: Sequence[RateStep], amount_g: float, weight_kg: float) -> tuple[InfusionWindow, ...]:
    """Place ``steps`` from ``start_day``; the last window's rate takes up the remainder exactly.

    Boundaries are computed from cumulative minutes (no drift), and the last rate is
    ``remaining / (end - start)`` with the float boundaries themselves, so that
    sum(rate x width) equals ``amount_g`` to rounding even late on the clock.
    """
    cumulative_minutes = 0.0
    boundaries = [start_day]
    for step in steps:
        cumulative_minutes += step.minutes
        boundaries.append(start_day + cumulative_minutes / MINUTES_PER_DAY)
    windows = []
    given_g = 0.0
    for k, step in enumerate(steps[:-1]):
        window = InfusionWindow(boundaries[k], boundaries[k + 1], mg_per_kg_min_to_g_per_day(step.rate_mg_per_kg_min, weight_kg))
        given_g += window.amount_g
        windows.append(window)
    last_start, last_end = boundaries[-2], boundaries[-1]
    windows.append(InfusionWindow(last_start, last_end, (amount_g - given_g) / (last_end - last_start)))
    return tuple(windows)


def _check_no_overlap(infusions: Sequence[Infusion]) -> None:
    latest = None
    for infusion in infusions:
        if latest is not None and infusion.start_day < latest.end_day - OVERLAP_TOLERANCE_DAYS:
            raise DosingError(
                "regimen.parts",
                "infusions that do not overlap in time",
                f"{_span(latest)} overlaps {_span(infusion)}",
            )
        if latest is None or infusion.end_day > latest.end_day:
            latest = infusion


def _above_label(regimen: Regimen, indication: str | None, label_max: float) -> str:
    where = f" in {indication}" if indication is not None else ""
    return (
        f"a rate at or below the {regimen.product.name} label maximum of {label_max:g} mg/kg/min{where} "
        "(set allow_above_label: true to override)"
    )


def _describe(part_index: int, part: RegimenPart, dose_index: int, n_doses: int, dose: Dose) -> str:
    kind = type(part).__name__.lower()
    which = f" infusion {dose_index + 1} of {n_doses}" if n_doses > 1 else ""
    return f"parts[{part_index}] {kind}{which} ({dose.g_per_kg:g} g/kg on day {dose.day:g})"


def _span(infusion: Infusion) -> str:
    return f"{infusion.label} [t = {infusion.start_day:.4f} to {infusion.end_day:.4f} d]"
