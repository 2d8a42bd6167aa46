"""What each infusion exposes the patient to: the drivers the event models read.

:class:`Drivers` holds arrays whose last axis is the infusion (patient-level fields
broadcast against it), so one patient, a rate plan or a chunk of a virtual trial are
evaluated by the same vectorised code. :func:`drivers_for_plan` builds them from a
compiled :class:`~ivigsim.dosing.InfusionPlan`, the patient and the risk factors.

Two quantities come from the simulated state rather than the prescription:

- ``igg_rise_g_per_L``: total IgG at the end of the infusion minus the patient's
  pre-treatment IgG, the viscosity proxy of the thrombosis models. It is read from a
  ``simulate`` result when one is given (``ivigsim.simulation.simulated_igg_rises``); otherwise it is
  estimated by :func:`estimated_igg_rise_g_per_L`, a surrogate fitted to ivigsim's own
  PK model (within 3 % of it on the shipped regimens; ``tests/test_safety_calibration.py``).
- nothing else: doses, rates and timing are exact from the compiled plan.

This module is science below the orchestration: it reads values (a compiled plan, a
patient, risk factors, arrays of IgG rises) and imports nothing from the simulation, the
trial runner or the file readers; whoever has a simulation passes its rises in.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from ivigsim.dosing import InfusionPlan
from ivigsim.dosing.units import g_per_day_to_mg_per_kg_min
from ivigsim.model.patient import Patient

from .factors import RiskFactors

#: Infusions starting within this many days up to and including an infusion make up its
#: "course" (assumption: a loading course is given over at most 5 consecutive days, s.10;
#: maintenance doses 2 or more weeks apart are separate courses).
COURSE_WINDOW_DAYS = 7.0
#: An infusion more than this long after the previous one ends counts as a first infusion
#: again (assumption, in the spirit of the s.9 "first infusions" row: tolerance wanes).
LONG_GAP_DAYS = 56.0
#: Thrombosis risk window after an infusion starts: "the infusion day and the day after"
#: (Ammann 2016, s.9). It is cut short where the next infusion's window begins, so the
#: windows of a daily course do not count the same day twice.
RISK_WINDOW_DAYS = 2.0
#: IgA content assumed for a product whose label figure is not in the catalogue, ug/mL
#: (assumption: an ordinary, not IgA-depleted, product).
DEFAULT_IGA_UG_PER_ML = 100.0
#: IgA contents below this are treated as this (ug/mL), to keep log10(IgA dose) finite.
MIN_IGA_UG_PER_ML = 0.1

#: Surrogate of ivigsim's PK model for the rise in total IgG at the end of infusion i:
#: rise_i = R X_i / (1 + s X_i), X_i = sum over j <= i of g_j [a e^(-dt/tau2) + (1 - a) e^(-dt/tau1)],
#: dt = end_i - end_j (days), g in g/kg. Fitted (least squares on relative error) to
#: ``simulate`` of a 70-kg adult without disease for 0.2-2 g/kg single doses, 2 g/kg over
#: 2 and 5 days, CIDP loading + maintenance, and 0.4-0.5 g/kg maintenance series
#: (``ivigsim.validation.safety_calibration.fit_igg_rise_surrogate``, which returns new values
#: without touching these). Derived, not a source figure.
RISE_G_PER_L_PER_G_PER_KG = 23.767
RISE_SATURATION_PER_G_PER_KG = 0.04015
RISE_SLOW_SHARE = 0.35274
RISE_FAST_TAU_DAYS = 0.89561
RISE_SLOW_TAU_DAYS = 17.392


@dataclass(frozen=True)
class RiseSurrogate:
    """The coefficients of :func:`estimated_igg_rise_g_per_L` (see the constants above)."""

    g_per_L_per_g_per_kg: float
    saturation_per_g_per_kg: float
    slow_share: float
    fast_tau_days: float
    slow_tau_days: float


#: The shipped surrogate.
SURROGATE = RiseSurrogate(RISE_G_PER_L_PER_G_PER_KG, RISE_SATURATION_PER_G_PER_KG, RISE_SLOW_SHARE,
                          RISE_FAST_TAU_DAYS, RISE_SLOW_TAU_DAYS)


@dataclass(frozen=True)
class Drivers:
    """The inputs of the event models; arrays broadcast together, last axis = infusion.

    Infusion-level (per infusion): doses in g/kg of dosing weight, rates in mg/kg/min,
    days on the simulation clock. Patient-level: 0/1 flags (floats) and the age.
    """

    # per infusion
    g_per_kg: np.ndarray
    course_g_per_kg: np.ndarray
    course_before_g_per_kg: np.ndarray
    peak_rate_mg_per_kg_min: np.ndarray
    start_rate_mg_per_kg_min: np.ndarray
    concentration_g_per_mL: np.ndarray
    first_infusion: np.ndarray
    iga_mg_per_kg: np.ndarray
    sucrose: np.ndarray
    igg_rise_g_per_L: np.ndarray
    window_days: np.ndarray
    # per patient
    age_years: np.ndarray
    female: np.ndarray
    obese: np.ndarray
    migraine_history: np.ndarray
    iga_antibodies: np.ndarray
    non_o_blood_group: np.ndarray
    prior_thrombosis: np.ndarray
    diabetes: np.ndarray
    renal_impairment: np.ndarray
    inflammation: np.ndarray

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, np.asarray(getattr(self, f.name), dtype=float))

    def with_(self, **changes) -> Drivers:
        return replace(self, **changes)

    @property
    def shape(self) -> tuple[int, ...]:
        return np.broadcast_shapes(*(getattr(self, f.name).shape for f in fields(self)))

    def peak_rate_mL_per_kg_h(self) -> np.ndarray:
        return mg_per_kg_min_to_mL_per_kg_h(self.peak_rate_mg_per_kg_min, self.concentration_g_per_mL)

    def start_rate_mL_per_kg_h(self) -> np.ndarray:
        return mg_per_kg_min_to_mL_per_kg_h(self.start_rate_mg_per_kg_min, self.concentration_g_per_mL)


def mg_per_kg_min_to_mL_per_kg_h(rate_mg_per_kg_min, concentration_g_per_mL):
    """Protein rate to volume rate: 1 mg/kg/min of a 10 % product is 0.6 mL/kg/h (s.9 note)."""
    return np.asarray(rate_mg_per_kg_min) * 60.0 / (np.asarray(concentration_g_per_mL) * 1000.0)


def course_doses(start_days: np.ndarray, g_per_kg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per infusion: g/kg given in its course window (itself included), and before it."""
    start_days, g_per_kg = np.asarray(start_days, float), np.asarray(g_per_kg, float)
    within = (start_days[None, :] <= start_days[:, None] + 1e-9) & (
        start_days[None, :] > start_days[:, None] - COURSE_WINDOW_DAYS)
    order = np.arange(len(start_days))
    within &= order[None, :] <= order[:, None]
    course = (within * g_per_kg[None, :]).sum(axis=1)
    return course, course - g_per_kg


def first_infusions(start_days: np.ndarray, end_days: np.ndarray, ivig_naive: bool) -> np.ndarray:
    """1 for the plan's first infusion of a naive patient and after a gap over ``LONG_GAP_DAYS``."""
    first = np.zeros(len(start_days))
    if len(start_days):
        first[0] = float(ivig_naive)
        first[1:] = (np.asarray(start_days[1:]) - np.asarray(end_days[:-1]) > LONG_GAP_DAYS).astype(float)
    return first


def risk_windows(start_days: np.ndarray) -> np.ndarray:
    """Each infusion's thrombosis window, days: ``RISK_WINDOW_DAYS`` or up to the next start."""
    start_days = np.asarray(start_days, float)
    nxt = np.append(start_days[1:], np.inf)
    return np.clip(nxt - start_days, 0.0, RISK_WINDOW_DAYS)


def estimated_igg_rise_g_per_L(end_days: np.ndarray, g_per_kg: np.ndarray,
                               surrogate: RiseSurrogate = SURROGATE) -> np.ndarray:
    """Surrogate of the simulated rise in total IgG at each infusion's end (see module constants);
    ``surrogate``: other coefficients (the calibration's fit), the shipped ones by default."""
    end_days, g_per_kg = np.asarray(end_days, float), np.asarray(g_per_kg, float)
    dt = end_days[..., :, None] - end_days[..., None, :]
    kernel = surrogate.slow_share * np.exp(-np.clip(dt, 0, None) / surrogate.slow_tau_days) + (
        1 - surrogate.slow_share) * np.exp(-np.clip(dt, 0, None) / surrogate.fast_tau_days)
    x = (np.where(dt >= -1e-12, kernel, 0.0) * g_per_kg[..., None, :]).sum(axis=-1)
    return surrogate.g_per_L_per_g_per_kg * x / (1 + surrogate.saturation_per_g_per_kg * x)


def patient_fields(patient: Patient, factors: RiskFactors, non_o: float | None = None) -> dict[str, float]:
    """The patient-level drivers; ``non_o`` overrides the blood group (for averaging over it)."""
    if non_o is None:
        non_o = float(factors.blood_group not in (None, "O")) if factors.blood_group is not None else 0.0
    return {
        "age_years": patient.age_years,
        "female": float(patient.sex == "female"),
        "obese": float(factors.is_obese(patient)),
        "migraine_history": float(factors.migraine_history),
        "iga_antibodies": float(factors.iga_deficient_with_anti_iga),
        "non_o_blood_group": float(non_o),
        "prior_thrombosis": float(factors.prior_thrombosis),
        "diabetes": float(factors.diabetes),
        "renal_impairment": float(factors.renal_impairment),
        "inflammation": float(factors.inflammation),
    }


def drivers_for_plan(plan: InfusionPlan, patient: Patient, factors: RiskFactors,
                     igg_rise_g_per_L: np.ndarray | None = None, non_o: float | None = None) -> Drivers:
    """The drivers of every infusion of ``plan`` (1-d arrays over its infusions).

    ``igg_rise_g_per_L``: the simulated rise at each infusion's end (NaN entries, or
    ``None``, are filled by the surrogate).
    """
    infusions = plan.infusions
    start = np.array([i.start_day for i in infusions])
    end = np.array([i.end_day for i in infusions])
    # Doses and rates are prescribed per kg of dosing weight; the risks follow the actual
    # exposure, per kg of the patient's own weight (less for an obese patient dosed on
    # adjusted or ideal weight). Trials do the same (ivigsim.safety.trial.trial_drivers).
    scale = plan.dosing_weight_kg / patient.weight_kg
    g = np.array([i.g_per_kg for i in infusions]) * scale
    course, before = course_doses(start, g)
    peak = np.array([i.max_rate_mg_per_kg_min for i in infusions]) * scale
    first_rate = np.array([g_per_day_to_mg_per_kg_min(i.windows[0].rate_g_per_day, patient.weight_kg)
                           for i in infusions])
    product = plan.product
    iga = product.iga_ug_per_mL if product.iga_ug_per_mL is not None else DEFAULT_IGA_UG_PER_ML
    iga = max(iga, MIN_IGA_UG_PER_ML)
    volume_mL_per_kg = g / product.concentration_g_per_mL
    estimate = estimated_igg_rise_g_per_L(end, g)
    if igg_rise_g_per_L is None:
        rise = estimate
    else:
        rise = np.asarray(igg_rise_g_per_L, float)
        rise = np.where(np.isfinite(rise), rise, estimate)
    return Drivers(
        g_per_kg=g,
        course_g_per_kg=course,
        course_before_g_per_kg=before,
        peak_rate_mg_per_kg_min=peak,
        start_rate_mg_per_kg_min=np.minimum(first_rate, peak),
        concentration_g_per_mL=np.full(len(g), product.concentration_g_per_mL),
        first_infusion=first_infusions(start, end, factors.ivig_naive),
        iga_mg_per_kg=iga * volume_mL_per_kg / 1000.0,
        sucrose=np.full(len(g), float(product.stabiliser == "sucrose")),
        igg_rise_g_per_L=np.clip(rise, 0.0, None),
        window_days=risk_windows(start),
        **patient_fields(patient, factors, non_o),
    )
