"""Simulations that reproduce the mechanism targets (calibration-targets s.3)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ivigsim.dosing import Dose, Regimen, get_product, get_regimen
from ivigsim.engine.solver import Dopri5
from ivigsim.model.diseases.itp import ITP
from ivigsim.model.patient import Patient
from ivigsim.scenario import Scenario
from ivigsim.simulation import simulate

ACCURATE = Dopri5(rtol=1e-9, atol=1e-12)
#: Output spacing for timing read-outs (1.2 h): finer than the precision of the figures.
FINE_DAYS = 0.05
#: Kawasaki cohort: Treg share before IVIG (calibration-targets s.3).
KAWASAKI_TREG_BASELINE = 0.042


def _blockade(regimen: Regimen, parameters: Mapping[str, float], days: float = 60.0):
    ds = simulate(Scenario(regimen=regimen, days=days, output_every_days=FINE_DAYS,
                           parameters=dict(parameters), solver=ACCURATE))
    return ds["time"].values, ds["fcgr_blockade_fraction"].values[0]


def fcgr_onset_days(parameters: Mapping[str, float] = {}) -> float:
    """Days from the start of 1 g/kg to half the peak Fc-receptor blockade (Fehr 1982 gives no time
    course: clearance prolonged, platelets normal within 4-5 days; the target is this project's reading)."""
    t, occupancy = _blockade(Regimen((Dose(0.0, 1.0),), get_product("generic-10")), parameters, 30.0)
    return float(t[np.argmax(occupancy >= 0.5 * occupancy.max())])


def _itp_default(name: str) -> float:
    return next(p.value for p in ITP.module.parameters if p.name == name)


def fcgr_duration_days(parameters: Mapping[str, float] = {}) -> float:
    """Days from the start of 2 g/kg (1 g/kg x 2) until the blockade, as Bussel 1983 measured
    it, falls below half its peak (Bussel 1983: blockade lasting 3-4 weeks).

    Bussel measured blockade as slower clearance of antibody-coated red cells by the same
    macrophages that clear platelets in ITP, so the measure is the fall in that clearance,
    ``1 - (share of receptors free) ** n``, with the ITP model's phagocytosis cooperativity
    ``n``, rather than receptor occupancy itself.
    """
    n = parameters.get("phagocytosis_cooperativity", _itp_default("phagocytosis_cooperativity"))
    t, occupancy = _blockade(get_regimen("itp"), {k: v for k, v in parameters.items() if k != "phagocytosis_cooperativity"})
    slowing = 1.0 - (1.0 - occupancy) ** n
    peak = int(np.argmax(slowing))
    below = np.flatnonzero(slowing[peak:] < 0.5 * slowing[peak])
    return float(t[peak + below[0]]) if below.size else float("inf")


def treg_day7_pct(parameters: Mapping[str, float] = {}) -> float:
    """Treg share of CD4 T cells 7 days after 2 g/kg over 11 h in a 20-kg child with Kawasaki disease."""
    params = {"treg_baseline_fraction": KAWASAKI_TREG_BASELINE, **parameters}
    ds = simulate(Scenario(patient=Patient(weight_kg=20.0, age_years=3.0), regimen=get_regimen("kawasaki"),
                           indication="kawasaki", days=7.0, parameters=params, solver=ACCURATE))
    return float(ds["treg_pct_of_cd4"].values[0, -1])


def _complement(regimen: Regimen, day: float | None, parameters: Mapping[str, float]) -> float:
    ds = simulate(Scenario(regimen=regimen, days=day or 7.0, output_every_days=FINE_DAYS,
                           parameters=dict(parameters), solver=ACCURATE))
    activity = ds["complement_activity_fraction_of_baseline"].values[0]
    return float(100 * (activity[-1] if day else activity.min()))


def complement_day14_pct(parameters: Mapping[str, float] = {}) -> float:
    """Complement activity at day 14 after 2 g/kg (0.4 g/kg/day x 5), % of baseline (Lutz 2004: 66 %)."""
    return _complement(get_regimen("gbs"), 14.0, parameters)


def complement_after_half_g_pct(parameters: Mapping[str, float] = {}) -> float:
    """Lowest complement activity after 0.5 g/kg, % of baseline (Lutz 2004: C3b2-containing complexes at
    37 % when 0.5 g/kg of a 2 g/kg course was in)."""
    return _complement(Regimen((Dose(0.0, 0.5),), get_product("generic-10")), None, parameters)
