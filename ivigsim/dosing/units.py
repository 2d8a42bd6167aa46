"""Unit conversions between what prescribers write and what the model integrates.

Canonical units inside ivigsim: time in days (t = 0 is the start of day 0), amounts in g,
model input rates in g/day. Prescribers write doses in g/kg and rates in mg/kg/min on the
*dosing* weight; they are converted here and nowhere else.
"""

from __future__ import annotations

MINUTES_PER_DAY = 1440.0
HOURS_PER_DAY = 24.0
DAYS_PER_WEEK = 7.0
MG_PER_G = 1000.0

#: 1 mg/kg/min for 1 kg of dosing weight, in g/day: 1e-3 g/min x 1440 min/day.
G_PER_DAY_PER_MG_PER_KG_MIN_PER_KG = MINUTES_PER_DAY / MG_PER_G


def mg_per_kg_min_to_g_per_day(rate_mg_per_kg_min: float, weight_kg: float) -> float:
    """Convert a prescribed rate to the model's input rate.

    >>> round(mg_per_kg_min_to_g_per_day(1.0, 70.0), 9)
    100.8
    """
    return rate_mg_per_kg_min * weight_kg * G_PER_DAY_PER_MG_PER_KG_MIN_PER_KG


def g_per_day_to_mg_per_kg_min(rate_g_per_day: float, weight_kg: float) -> float:
    """Inverse of :func:`mg_per_kg_min_to_g_per_day`."""
    return rate_g_per_day / (weight_kg * G_PER_DAY_PER_MG_PER_KG_MIN_PER_KG)


def above_weekly_limit(dose_g_per_kg: float, every_days: float, limit_g_per_kg_per_week: float):
    """``(g/kg a week, shortest interval within the limit in days)`` when ``dose_g_per_kg``
    every ``every_days`` gives more than ``limit_g_per_kg_per_week`` (the limit itself, to
    1e-9 relative, is within); None otherwise.

    >>> above_weekly_limit(3.0, 1.0, 1.0)
    (21.0, 21.0)
    >>> above_weekly_limit(2.0, 14.0, 1.0) is None
    True
    """
    weekly = dose_g_per_kg * DAYS_PER_WEEK / every_days
    if weekly <= limit_g_per_kg_per_week * (1 + 1e-9):
        return None
    return weekly, DAYS_PER_WEEK * dose_g_per_kg / limit_g_per_kg_per_week
