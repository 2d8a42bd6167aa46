"""IVIG given during FcRn blockade: a mechanistic prediction, compared with no published figure.

An FcRn inhibitor leaves less FcRn to rescue IgG from catabolism, and the model applies the
rescue to every IgG species alike (``ivigsim.model.fcrn``): the infused IgG of an IVIG dose given
during a cycle should therefore be catabolised faster than the same dose given alone. This
module measures that in one patient (a 70-kg man with the typical IgG of health): 0.4 g/kg of
IVIG on day 14, alone, in the third week of efgartigimod's label cycle (10 mg/kg on days 0, 7,
14 and 21; the IVIG starts an hour after that day's inhibitor infusion ends), or during
nipocalimab at 60 mg/kg every 2 weeks (days 0, 14 and 28: the Vivacity-MG arm of the model's
``nipocalimab-lowering`` check). The half-life is that of the infused IgG
(``igg_ivig_g_per_L``) from a log-linear fit over two weeks, from three days after its infusion
ends (once it has distributed), the same window in every arm.

``docs/comparators.md`` shows the table and the figure; ``tests/test_fcrn_blockade.py`` checks
that the effect acts through FcRn alone (with an inhibitor that binds nothing the half-life is
the one without it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ivigsim.dosing import Dose, InfusionSpec, Regimen, get_product
from ivigsim.dosing.comparators import FcRnInhibitor
from ivigsim.engine.solver import Dopri5
from ivigsim.model.patient import Patient
from ivigsim.scenario import Scenario
from ivigsim.simulation import simulate

#: Tight tolerance, as ``comparator_checks.ACCURATE``.
ACCURATE = Dopri5(rtol=1e-9, atol=1e-12)
IVIG_DAY = 14.0
IVIG_G_PER_KG = 0.4
#: The IVIG infusion starts this long after the day's inhibitor infusion (1 h) has ended, hours.
IVIG_HOUR = 2.0
IVIG_HOURS = 4.0
#: The fit's window, days: two weeks, from three days after the infusion ends (by then the
#: infused IgG has distributed: the model's plasma-tissue exchange has a half-time under a day).
WINDOW_DELAY_DAYS = 3.0
WINDOW_DAYS = 14.0
DAYS = 56.0
#: The inhibitor arms (drug, mg/kg, days): efgartigimod's label cycle; nipocalimab at Vivacity-MG's
#: highest dose (``comparator_checks.NIPOCALIMAB_MG_PER_KG``), every 2 weeks.
ARMS: dict[str, tuple[str, float, tuple[float, ...]] | None] = {
    "IVIG alone": None,
    "during efgartigimod (10 mg/kg weekly x 4)": ("efgartigimod", 10.0, (0.0, 7.0, 14.0, 21.0)),
    "during nipocalimab (60 mg/kg on days 0, 14 and 28)": ("nipocalimab", 60.0, (0.0, 14.0, 28.0)),
}


@dataclass(frozen=True)
class Arm:
    label: str
    time: np.ndarray  # days
    ivig_g_per_L: np.ndarray  # serum IgG from the infused product
    total_g_per_L: np.ndarray
    occupancy: np.ndarray  # FcRn unavailable to IgG (0 without an inhibitor)
    half_life_days: float  # of the infused IgG over the window


def window() -> tuple[float, float]:
    """The days the half-life is fitted over (the same in every arm)."""
    start = IVIG_DAY + (IVIG_HOUR + IVIG_HOURS) / 24.0 + WINDOW_DELAY_DAYS
    return start, start + WINDOW_DAYS


def half_life_days(time: np.ndarray, values: np.ndarray) -> float:
    """ln 2 over the slope of a least-squares line through log(values) in the fit's window.

    >>> t = np.linspace(0.0, 60.0, 601)   # a pure exponential with a 21-day half-life
    >>> round(half_life_days(t, 3.0 * np.exp(-np.log(2) / 21.0 * t)), 9)
    21.0
    """
    lo, hi = window()
    inside = (time >= lo) & (time <= hi)
    slope = np.polyfit(time[inside], np.log(values[inside]), 1)[0]
    return float(np.log(2.0) / -slope)


def simulate_arm(label: str, parameters: Mapping[str, float] = {}) -> Arm:
    """One arm of ``ARMS`` (``parameters``: overrides, e.g. an inhibitor's affinity)."""
    arm = ARMS[label]
    ivig = Dose(IVIG_DAY, IVIG_G_PER_KG, InfusionSpec(duration_h=IVIG_HOURS))
    parts: tuple = (ivig,) if arm is None else (FcRnInhibitor(arm[2], arm[1], drug=arm[0], start_hour=0.0), ivig)
    regimen = Regimen(parts, get_product("generic-10"), start_hour=IVIG_HOUR)
    ds = simulate(Scenario(patient=Patient(weight_kg=70.0), regimen=regimen,
                           days=DAYS, output_every_days=0.125, parameters=dict(parameters), solver=ACCURATE))
    t = ds["time"].values
    ivig_level = ds["igg_ivig_g_per_L"].values[0]
    occupancy = (ds["fcrn_inhibitor_occupancy"].values[0] if "fcrn_inhibitor_occupancy" in ds
                 else np.zeros_like(t))
    return Arm(label, t, ivig_level, ds["igg_total_g_per_L"].values[0], occupancy, half_life_days(t, ivig_level))


def table(parameters: Mapping[str, float] = {}) -> list[Arm]:
    return [simulate_arm(label, parameters) for label in ARMS]


def markdown(arms: list[Arm] | None = None) -> str:
    """The table docs/comparators.md shows."""
    arms = table() if arms is None else arms
    lo, hi = window()
    lines = [f"| IVIG 0.4 g/kg on day {IVIG_DAY:g} | half-life of the infused IgG, days {lo:.2f}-{hi:.2f} | "
             f"mean FcRn occupancy by the inhibitor over those days |", "|---|---|---|"]
    for a in arms:
        inside = (a.time >= lo) & (a.time <= hi)
        lines.append(f"| {a.label} | {a.half_life_days:.1f} days | {100 * float(a.occupancy[inside].mean()):.0f} % |")
    return "\n".join(lines) + "\n"
