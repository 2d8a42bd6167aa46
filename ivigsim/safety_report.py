"""The whole safety picture of one scenario: risk tables, infection arithmetic, rate plan.

Orchestration: it simulates the scenario once for the IgG rises and calls down into the
safety science (``ivigsim.safety``) through ``ivigsim.safety_risks`` and ``ivigsim.safety_rates``.

:func:`assess` gathers what ``ivigsim safety FILE`` prints; :meth:`SafetyReport.lines`
is the text, :meth:`SafetyReport.as_dict` the same as plain data (``--json``).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace as _replace

import numpy as np
import xarray as xr

from ivigsim.errors import InputError
from ivigsim.safety.exposure import DEFAULT_IGA_UG_PER_ML
from ivigsim.safety.factors import RiskFactors
from ivigsim.safety.infection import InfectionRisk, Manufacturing, infection_risk
from ivigsim.safety.report import course_table, infusion_table
from ivigsim.safety_rates import PRACTICAL_MAX_HOURS, RatePlanning, plan_rates
from ivigsim.safety_risks import compile_plan, infusion_risks
from ivigsim.scenario import Scenario
from ivigsim.simulation import simulate


@dataclass(frozen=True)
class SafetyReport:
    scenario: Scenario
    factors: RiskFactors
    risks: xr.Dataset
    infection: InfectionRisk
    rates: RatePlanning

    def lines(self) -> list[str]:
        p = self.scenario.patient
        product = self.scenario.regimen.product
        iga = (f"IgA {product.iga_ug_per_mL:g} ug/mL" if product.iga_ug_per_mL is not None
               else f"IgA not stated ({DEFAULT_IGA_UG_PER_ML:g} ug/mL assumed)")
        out = [
            self.scenario.name,
            f"patient: {p.age_years:g}-year-old {p.sex}, {p.weight_kg:g} kg; risk factors: {self.factors.describe(p)}",
            f"product: {product.name} ({100 * product.concentration_g_per_mL:g} %, stabiliser {product.stabiliser}, {iga}); "
            f"IgG rise {self.risks.attrs['igg_rise_source']}",
            "",
            "probability per infusion, % (* first infusion; course: g/kg of the course so far; peak: mg/kg/min; "
            "IgG+: rise in total IgG at the infusion's end, g/L)",
            *infusion_table(self.risks),
            "",
            f"per course ({self.risks.sizes['infusion']} infusion{'s' if self.risks.sizes['infusion'] != 1 else ''})",
            *course_table(self.risks),
            "",
            "residual infection-transmission risk (every parameter an assumption; see docs/safety.md)",
        ]
        for pathogen in self.infection.pathogens:
            out += self.infection.arithmetic(pathogen)
        out += [f"any of these pathogens over the course: {self.infection.course_any():.3g}", "",
                "rate plan", *self.rates.lines()]
        return out

    def as_dict(self) -> dict:
        r = self.risks
        events = [str(e) for e in r["event"].values]
        return {
            "scenario": self.scenario.name,
            "risk_factors": self.factors.describe(self.scenario.patient),
            "igg_rise_source": r.attrs["igg_rise_source"],
            "infusions": [
                {"index": int(k), "start_day": float(r["start_day"][k]), "g_per_kg": float(r["g_per_kg"][k]),
                 "course_g_per_kg": float(r["course_g_per_kg"][k]), "duration_h": float(r["duration_h"][k]),
                 "peak_rate_mg_per_kg_min": float(r["peak_rate_mg_per_kg_min"][k]),
                 "first_infusion": bool(r["first_infusion"][k]), "igg_rise_g_per_L": float(r["igg_rise_g_per_L"][k]),
                 "probability": {e: float(r["probability"][k, j]) for j, e in enumerate(events)}}
                for k in range(r.sizes["infusion"])],
            "course": {e: {"probability": float(r["course_probability"][j]), "expected_events": float(r["expected_events"][j])}
                       for j, e in enumerate(events)},
            "infection": {p.name: {"per_infusion": [x.probability for x in self.infection.per_infusion(p)],
                                   "course": self.infection.course(p)} for p in self.infection.pathogens},
            "rate_plan": {
                option.name: {"hours": [float(h) for h in option.hours],
                              "peak_rate_mg_per_kg_min": [float(x) for x in option.peak_rates],
                              "infusion_reaction_probability": [float(x) for x in option.reaction_risk_per_infusion()],
                              "course_probability": {e: float(option.risks["course_probability"].sel(event=e)) for e in events}}
                for option in (self.rates.fastest, self.rates.slowest)},
            "warnings": list(self.rates.warnings),
        }


def assess(scenario: Scenario, factors: RiskFactors | None = None, dataset: xr.Dataset | None = None,
           max_hours: float = PRACTICAL_MAX_HOURS, manufacturing: Manufacturing = Manufacturing()) -> SafetyReport:
    """Everything ``ivigsim safety`` reports, for a scenario with a regimen."""
    factors = factors if factors is not None else RiskFactors()
    plan = compile_plan(scenario)
    if not plan.infusions:
        raise InputError("regimen", "a regimen that gives IVIG (the safety report is of IVIG infusions; "
                         "plasma exchange, SCIG and FcRn inhibitors alone have none)", "no IVIG infusion")
    if dataset is None:
        last_end = max(i.end_day for i in plan.infusions)
        span = float(np.ceil(max(scenario.days, last_end)))
        dataset = simulate(_replace(scenario, days=span, output_every_days=span))
    risks = infusion_risks(scenario, factors, dataset, plan=plan)
    return SafetyReport(scenario, factors, risks, infection_risk(plan, manufacturing),
                        plan_rates(scenario, factors, dataset, max_hours))

