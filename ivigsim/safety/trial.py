"""Adverse events in virtual trials: per patient, the probability of each event over the
arm's regimen and a sampled number of events, seeded and chunk-independent.

Each virtual patient draws risk factors (``FactorPrevalence``), a susceptibility per
event (the models' ``frailty_sd``) and one uniform per event and infusion, all from the
trial's counter-based stream (``ivigsim.population.rng.CounterRNG``) addressed by the
patient's number: patient *i*'s events do not depend on the chunk or worker, as the
rest of the trial. Per patient and event, three columns:

- ``ae_<event>_probability``: the probability of at least one event over the regimen,
  given the drawn risk factors (averaged over the susceptibility); its arm mean is the
  expected incidence;
- ``ae_<event>_expected``: the expected number of events;
- ``ae_<event>_events``: the sampled number of events (given the drawn susceptibility);
  the share of patients with at least one is the observed incidence.

:func:`ivigsim.trial.safety_summary.summarise_safety` gives both incidences per arm with 95 %
intervals. This module is science below the trial runner: it takes the arm's plan, the
patients' covariates and the trial's random stream (anything with ``uniform`` and ``normal``
as ``CounterRNG`` has them) and imports nothing from ``ivigsim.trial``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from ivigsim.dosing import InfusionPlan
from ivigsim.dosing.units import g_per_day_to_mg_per_kg_min

from .events import EVENTS
from .exposure import (DEFAULT_IGA_UG_PER_ML, MIN_IGA_UG_PER_ML, LONG_GAP_DAYS, Drivers, course_doses,
                       estimated_igg_rise_g_per_L, risk_windows)
from .factors import BLOOD_GROUP_SHARES, OBESE_BMI_KG_PER_M2, FactorPrevalence

if TYPE_CHECKING:  # a type only: the caller (the trial runner) owns the stream
    from ivigsim.population.rng import CounterRNG

STREAM = "safety"
_FLAGS = ("migraine_history", "iga_deficient_with_anti_iga", "prior_thrombosis", "diabetes", "renal_impairment",
          "inflammation", "ivig_naive")


def draw_factors(rng: CounterRNG, ids: np.ndarray, prevalence: FactorPrevalence = FactorPrevalence(),
                 stream: str = STREAM) -> dict[str, np.ndarray]:
    """0/1 risk factors per patient (independent Bernoulli draws) and the non-O blood group."""
    u = rng.uniform(f"{stream}/factors", ids, len(_FLAGS) + 1)
    drawn = {name: (u[:, k] < getattr(prevalence, name)).astype(float) for k, name in enumerate(_FLAGS)}
    drawn["non_o_blood_group"] = (u[:, -1] >= BLOOD_GROUP_SHARES["O"]).astype(float)
    return drawn


def trial_drivers(plan_per_kg: InfusionPlan, covariates: Mapping[str, np.ndarray], factors: Mapping[str, np.ndarray],
                  igg_rise_g_per_L: np.ndarray | None = None, exposure_scale: np.ndarray | None = None) -> Drivers:
    """Drivers of shape (patients, infusions) for an arm whose plan was compiled for 1 kg.

    g/kg doses, mg/kg/min rates and times do not depend on the weight, so the per-kg plan
    serves every patient (as in ``ivigsim.trial.runner``). They are per kg of DOSING weight;
    the risks follow the actual exposure, per kg of the patient's own weight, so
    ``exposure_scale`` (dosing weight / actual weight, per patient) converts them: an obese
    patient dosed on adjusted weight gets less per actual kg, and lower dose-driven risks,
    as ``simulate`` finds from the simulated IgG rise.
    """
    infusions = plan_per_kg.infusions
    start = np.array([i.start_day for i in infusions])
    end = np.array([i.end_day for i in infusions])
    scale = 1.0 if exposure_scale is None else np.asarray(exposure_scale, float)[:, None]
    g_dosing = np.array([i.g_per_kg for i in infusions])
    course, before = course_doses(start, g_dosing)
    g, course, before = g_dosing * scale, course * scale, before * scale
    product = plan_per_kg.product
    peak = np.array([i.max_rate_mg_per_kg_min for i in infusions]) * scale
    first_rate = np.array([g_per_day_to_mg_per_kg_min(i.windows[0].rate_g_per_day, plan_per_kg.dosing_weight_kg)
                           for i in infusions]) * scale
    iga = max(product.iga_ug_per_mL if product.iga_ug_per_mL is not None else DEFAULT_IGA_UG_PER_ML, MIN_IGA_UG_PER_ML)
    gap = np.zeros(len(g_dosing), dtype=bool)
    gap[1:] = start[1:] - end[:-1] > LONG_GAP_DAYS
    naive = np.asarray(factors["ivig_naive"], float)[:, None]
    first = np.where(np.arange(len(g_dosing))[None, :] == 0, naive, gap[None, :].astype(float))
    rise = estimated_igg_rise_g_per_L(end, g) if igg_rise_g_per_L is None else np.asarray(igg_rise_g_per_L, float)
    height = np.asarray(covariates["height_cm"], float)
    with np.errstate(invalid="ignore"):
        obese = np.where(np.isfinite(height), np.asarray(covariates["weight_kg"]) / (height / 100.0) ** 2 >= OBESE_BMI_KG_PER_M2,
                         False).astype(float)
    female = covariates["female"] if "female" in covariates else (np.asarray(covariates["sex"]) == "female")
    col = lambda x: np.asarray(x, float)[:, None]  # noqa: E731
    return Drivers(
        g_per_kg=g, course_g_per_kg=course, course_before_g_per_kg=before, peak_rate_mg_per_kg_min=peak,
        start_rate_mg_per_kg_min=np.minimum(first_rate, peak), concentration_g_per_mL=np.full(len(g_dosing), product.concentration_g_per_mL),
        first_infusion=first, iga_mg_per_kg=iga * g / product.concentration_g_per_mL / 1000.0,
        sucrose=np.full(len(g_dosing), float(product.stabiliser == "sucrose")), igg_rise_g_per_L=np.clip(rise, 0, None),
        window_days=risk_windows(start),
        age_years=col(covariates["age_years"]), female=col(female), obese=col(obese),
        migraine_history=col(factors["migraine_history"]), iga_antibodies=col(factors["iga_deficient_with_anti_iga"]),
        non_o_blood_group=col(factors["non_o_blood_group"]), prior_thrombosis=col(factors["prior_thrombosis"]),
        diabetes=col(factors["diabetes"]), renal_impairment=col(factors["renal_impairment"]),
        inflammation=col(factors["inflammation"]),
    )


def safety_columns(plan_per_kg: InfusionPlan | None, covariates: Mapping[str, np.ndarray], rng: CounterRNG,
                   ids: np.ndarray, prevalence: FactorPrevalence = FactorPrevalence(), stream: str = STREAM,
                   igg_rise_g_per_L: np.ndarray | None = None, events=EVENTS,
                   dosing_weight_kg: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The per-patient safety columns of one arm (see the module docstring); zeros without a
    regimen. ``dosing_weight_kg``: each patient's dosing weight, when it differs from the
    actual weight (``trial_drivers``)."""
    ids = np.asarray(ids, dtype=np.int64)
    n = len(ids)
    if plan_per_kg is None or not plan_per_kg.infusions:
        return {f"ae_{e.name}_{what}": np.zeros(n) for e in events for what in ("probability", "expected", "events")}
    from .premedication import premedicated

    events = premedicated(tuple(events), getattr(plan_per_kg, "premedication", None))
    factors = draw_factors(rng, ids, prevalence, stream)
    scale = None if dosing_weight_kg is None else np.asarray(dosing_weight_kg, float) / np.asarray(covariates["weight_kg"], float)
    d = trial_drivers(plan_per_kg, covariates, factors, igg_rise_g_per_L, scale)
    m = len(plan_per_kg.infusions)
    z = rng.normal(f"{stream}/susceptibility", ids, len(events))
    u = rng.uniform(f"{stream}/events", ids, len(events) * m).reshape(n, len(events), m)
    columns = {}
    for k, event in enumerate(events):
        columns[f"ae_{event.name}_probability"] = np.broadcast_to(event.course_probability(d), (n,)).astype(float)
        columns[f"ae_{event.name}_expected"] = np.broadcast_to(event.infusion_probability(d), (n, m)).sum(axis=1)
        p = np.broadcast_to(event.conditional_probability(d, z[:, k:k + 1]), (n, m))
        columns[f"ae_{event.name}_events"] = (u[:, k, :] < p).sum(axis=1).astype(np.int64)
    return columns
