"""Simulations that reproduce the IgG pharmacokinetic targets (``targets.PK_TARGETS``).

Each function sets up the published population, regimen and read-out as closely as
the publication allows and returns the simulated value in the target's unit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping


from ivigsim.dosing import Dose, Maintenance, Regimen, get_product, get_regimen
from ivigsim.engine.solver import Dopri5
from ivigsim.model.library import compiled_core_model
from ivigsim.scenario import Scenario
from ivigsim.simulation import simulate
from ivigsim.summary import summarise

#: Tight tolerance: these numbers are compared with published figures and with
#: calibrated parameter values, so solver error must be negligible.
ACCURATE = Dopri5(rtol=1e-9, atol=1e-12)
#: A dose small enough not to disturb FcRn (0.1 % of a 1 g/kg dose): a tracer.
TRACER_G_PER_KG = 0.001


def baseline_after_one_year(parameters: Mapping[str, float] = {}) -> float:
    ds = simulate(Scenario(days=365.0, parameters=dict(parameters), solver=ACCURATE))
    return float(ds["igg_total_g_per_L"].values[0, -1])


def tracer_half_life(parameters: Mapping[str, float] = {}) -> float:
    regimen = Regimen((Dose(0.0, TRACER_G_PER_KG),), get_product("generic-10"))
    ds = simulate(Scenario(regimen=regimen, days=120.0, parameters=dict(parameters), solver=ACCURATE))
    return float(summarise(ds).ivig_half_life_days)


def _bt511(parameters: Mapping[str, float] = {}):
    # 4 healthy volunteers, 0.2 g/kg of a 5 % product, mean baseline 10.7 g/L.
    regimen = Regimen((Dose(0.0, 0.2),), get_product("generic-5"))
    params = {"baseline_igg_g_per_L": 10.7, **parameters}
    return simulate(Scenario(regimen=regimen, days=90.0, parameters=params, solver=ACCURATE))


def bt511_peak(parameters: Mapping[str, float] = {}) -> float:
    return float(_bt511(parameters)["igg_total_post_infusion_g_per_L"].values[0, 0])


def bt511_one_month(parameters: Mapping[str, float] = {}) -> float:
    return float(_bt511(parameters)["igg_total_g_per_L"].sel(time=30.0).values[0])


def bt511_half_life(parameters: Mapping[str, float] = {}) -> float:
    return float(summarise(_bt511(parameters)).ivig_half_life_days)


def linear_clearance(parameters: Mapping[str, float] = {}) -> float:
    cm = compiled_core_model()
    p = cm.model.parameter_array(dict(parameters))
    c = dict(zip(cm.model.constant_names, cm.constants(p)[:, 0]))
    return float(c["catabolic_entry_rate_per_day"] * (1 - c["fcrn_rescue_baseline"]) * c["plasma_volume_L"])


def gbs_delta_igg_day14(parameters: Mapping[str, float] = {}) -> float:
    """Rise in total IgG from before treatment to day 14 (Kuitwaard 2009's delta-IgG).

    Kuitwaard's 174 patients had GBS and could not walk unaided, so the rise is simulated in
    the typical GBS patient (disability score 4 at enrolment), whose disease adds its own
    loss of IgG (``ivigsim.model.diseases.gbs``), not in a healthy adult."""
    ds = simulate(Scenario(regimen=get_regimen("gbs"), indication="gbs", disease="gbs", days=14.0,
                           parameters=dict(parameters), solver=ACCURATE))
    total = ds["igg_total_g_per_L"].values[0]
    return float(total[-1] - total[0])


def fcrn_blockade_ceiling(parameters: Mapping[str, float] = {}) -> float:
    """Per cent lowering of IgG after 3 years of complete FcRn blockade (steady state)."""
    ds = simulate(Scenario(days=3 * 365.0, output_every_days=365.0,
                           parameters={**parameters, "fcrn_blockade": 1.0}, solver=ACCURATE))
    total = ds["igg_total_g_per_L"].values[0]
    return float(100 * (1 - total[-1] / total[0]))


def pid_half_life(parameters: Mapping[str, float] = {}) -> float:
    """Half-life after the 12th four-weekly 0.4 g/kg dose in a patient making 4 g/L."""
    regimen = Regimen((Maintenance(0.4, 28.0, 0.0, count=12),), get_product("generic-10"))
    params = {"baseline_igg_g_per_L": 4.0, **parameters}
    ds = simulate(Scenario(regimen=regimen, days=11 * 28.0 + 28.0, parameters=params, solver=ACCURATE))
    return float(summarise(ds).ivig_half_life_days)


#: Lee et al. 2020's doses: 387-560 mg/kg every 3-4 weeks; the slope is read between these (every 4 weeks).
TROUGH_SLOPE_DOSES = (0.4, 0.5)


def ivig_trough_rise_per_100_mg_per_kg(parameters: Mapping[str, float] = {}) -> float:
    """Rise of the steady-state trough of total IgG per 100 mg/kg more IVIG every 4 weeks, mg/dL,
    in a PID patient making 4 g/L (the slope between ``TROUGH_SLOPE_DOSES``)."""
    from ivigsim.validation.comparator_checks import INCREMENT_G_PER_KG, steady_state_igg

    low, high = (steady_state_igg("ivig", d, parameters)[1] for d in TROUGH_SLOPE_DOSES)
    return 100.0 * (high - low) * INCREMENT_G_PER_KG / (TROUGH_SLOPE_DOSES[1] - TROUGH_SLOPE_DOSES[0])


PK_SIMULATIONS: dict[str, Callable[..., float]] = {
    "igg-baseline-steady": baseline_after_one_year,
    "igg-half-life": tracer_half_life,
    "bt511-peak": bt511_peak,
    "bt511-1-month": bt511_one_month,
    "bt511-half-life": bt511_half_life,
    "bt511-clearance": linear_clearance,
    "gbs-delta-igg-day14": gbs_delta_igg_day14,
    "fcrn-blockade-ceiling": fcrn_blockade_ceiling,
    "pid-half-life": pid_half_life,
    "ivig-trough-rise-per-100-mg-per-kg": ivig_trough_rise_per_100_mg_per_kg,
}


