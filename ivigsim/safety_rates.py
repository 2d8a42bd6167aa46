"""Rate planning: the fastest label-compliant titration and the slowest practicable one.

Orchestration above the safety science: it builds regimen variants of a scenario and asks
``ivigsim.safety_risks`` for their risks (``ivigsim safety`` prints the result).

For a patient and regimen, two ways to run every infusion:

- **fastest label-compliant**: the product's label titration, its start rate doubling
  every 30 minutes up to its label maximum for the indication (``ivigsim.dosing``;
  s.10 gives the start and maximum rates, the 30-minute doubling is the dosing package's
  assumption);
- **slowest practicable**: the same start, doubling every 30 minutes up to the lowest
  plateau that still gives the dose within ``PRACTICAL_MAX_HOURS`` (12 h, the upper end
  of the longest single infusion in standard use, 2 g/kg over 10-12 h for Kawasaki
  disease, s.10; that this is the practical limit is an assumption). Never above the
  label maximum; never below the label start rate.

Each comes with its infusion times and predicted risks (``infusion_risks``). The boxed
warnings (s.10) ask for "the slowest practicable rate, e.g. < 3.3 mg/kg/min" in patients
at risk of thrombosis or renal failure; :func:`plan_rates` says so when the patient's
factors put them at risk, and says when even the slowest practicable plan needs 3.3
mg/kg/min or more (split the dose over more days).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import xarray as xr

from ivigsim.dosing import InfusionSpec, Regimen, Titration, label_titration, rate_profile
from ivigsim.dosing.infusion import LABEL_FACTOR, LABEL_STEP_MINUTES
from ivigsim.safety.events import AT_RISK_RATE_MG_PER_KG_MIN
from ivigsim.safety.factors import RiskFactors
from ivigsim.safety.report import percent
from ivigsim.safety_risks import compile_plan, infusion_risks
from ivigsim.scenario import Scenario
from ivigsim.simulation import simulated_igg_rises

#: Longest infusion the slowest practicable plan may take, hours (see the module docstring).
PRACTICAL_MAX_HOURS = 12.0


@dataclass(frozen=True)
class RateOption:
    """One way to run the regimen: its regimen (every part's infusion replaced) and its risks."""

    name: str
    regimen: Regimen
    risks: xr.Dataset

    @property
    def hours(self) -> np.ndarray:
        return self.risks["duration_h"].values

    @property
    def peak_rates(self) -> np.ndarray:
        return self.risks["peak_rate_mg_per_kg_min"].values

    def reaction_risk_per_infusion(self) -> np.ndarray:
        return self.risks["infusion_reaction_probability"].values

    def summary(self) -> str:
        reaction = self.reaction_risk_per_infusion()
        course = self.risks["course_probability"]
        return (f"{self.name}: peak {_span(self.peak_rates, '{:.3g}')} mg/kg/min, {_span(self.hours, '{:.1f}')} h per infusion "
                f"({self.hours.sum():.1f} h in all); infusion reaction {_span(100 * reaction, '{:.3g}')} % per infusion; per course: "
                + ", ".join(f"{e} {percent(course.sel(event=e))} %" for e in
                            ("headache", "immediate_reaction", "arterial_thrombosis", "venous_thrombosis", "acute_kidney_injury")))


def _span(values: np.ndarray, fmt: str) -> str:
    lo, hi = float(np.min(values)), float(np.max(values))
    return fmt.format(lo) if np.isclose(lo, hi, rtol=1e-3) else f"{fmt.format(lo)}-{fmt.format(hi)}"


@dataclass(frozen=True)
class RatePlanning:
    fastest: RateOption
    slowest: RateOption
    warnings: tuple[str, ...]

    def lines(self) -> list[str]:
        return [self.fastest.summary(), self.slowest.summary(), *(f"warning: {w}" for w in self.warnings)]


def _minutes(spec: InfusionSpec, g_per_kg: float, product, indication) -> float:
    return sum(step.minutes for step in rate_profile(spec, g_per_kg, product, indication))


def _titration(start: float, plateau: float) -> InfusionSpec:
    return InfusionSpec(titration=Titration(min(start, plateau), LABEL_STEP_MINUTES, plateau, LABEL_FACTOR))


def practicable_plateau(g_per_kg: float, product, indication, max_hours: float = PRACTICAL_MAX_HOURS) -> float:
    """Lowest plateau rate (mg/kg/min) of the label-start titration that gives ``g_per_kg`` within ``max_hours``."""
    maximum = product.max_rate_for(indication)
    start = min(product.start_rate_mg_per_kg_min, maximum)
    limit = max_hours * 60.0
    if _minutes(_titration(start, start), g_per_kg, product, indication) <= limit:
        return start
    if _minutes(_titration(start, maximum), g_per_kg, product, indication) >= limit:
        return maximum
    lo, hi = start, maximum
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if _minutes(_titration(start, mid), g_per_kg, product, indication) > limit:
            lo = mid
        else:
            hi = mid
    return hi


def _dose_of(part) -> float:
    return part.total_g_per_kg / part.days if hasattr(part, "total_g_per_kg") else part.g_per_kg


def _is_ivig(part) -> bool:
    """An IVIG part (course, dose, maintenance): the parts whose rate is planned. Comparators
    (plasma exchange, SCIG, an FcRn inhibitor) run as written."""
    return "infusion" in {f.name for f in fields(part)}


def fastest_regimen(scenario: Scenario) -> Regimen:
    regimen = scenario.regimen
    spec = InfusionSpec(titration=label_titration(regimen.product, scenario.indication))
    return replace(regimen, parts=tuple(replace(p, infusion=spec) if _is_ivig(p) else p for p in regimen.parts),
                   allow_above_label=False)


def slowest_regimen(scenario: Scenario, max_hours: float = PRACTICAL_MAX_HOURS) -> Regimen:
    regimen = scenario.regimen
    product, indication = regimen.product, scenario.indication
    start = min(product.start_rate_mg_per_kg_min, product.max_rate_for(indication))
    parts = tuple(replace(p, infusion=_titration(start, practicable_plateau(_dose_of(p), product, indication, max_hours)))
                  if _is_ivig(p) else p for p in regimen.parts)
    return replace(regimen, parts=parts, allow_above_label=False)


def plan_rates(scenario: Scenario, factors: RiskFactors | None = None, dataset: xr.Dataset | None = None,
               max_hours: float = PRACTICAL_MAX_HOURS) -> RatePlanning:
    """The two rate options for the scenario's patient and regimen, and the warnings that apply.

    The IgG rises (thrombosis) are those of the scenario as written (from ``dataset`` or
    the surrogate): the rate changes an infusion's peak IgG by far less than the dose does.
    """
    factors = factors if factors is not None else RiskFactors()
    written = compile_plan(scenario)
    rises = simulated_igg_rises(written, dataset) if dataset is not None else None
    options = []
    for name, regimen in (("fastest label-compliant", fastest_regimen(scenario)),
                          (f"slowest practicable (<= {max_hours:g} h)", slowest_regimen(scenario, max_hours))):
        variant = replace(scenario, regimen=regimen)
        plan = compile_plan(variant)
        options.append(RateOption(name, regimen, infusion_risks(variant, factors, plan=plan, rises=rises, simulate_state=False)))
    fastest, slowest = options
    return RatePlanning(fastest, slowest, tuple(warnings(scenario, factors, written, slowest, max_hours)))


def warnings(scenario: Scenario, factors: RiskFactors, written, slowest: RateOption, max_hours: float) -> list[str]:
    patient = scenario.patient
    product = scenario.regimen.product
    out = []
    written_peak = max(i.max_rate_mg_per_kg_min for i in written.infusions)
    slow_peak = float(slowest.peak_rates.max())
    at_risk = []
    thrombosis = factors.thrombosis_risk(patient)
    renal = factors.renal_risk(patient) + (["a sucrose-stabilised product"] if product.stabiliser == "sucrose" else [])
    if thrombosis:
        at_risk.append(f"thrombosis ({', '.join(thrombosis)})")
    if renal:
        at_risk.append(f"renal failure ({', '.join(renal)})")
    if at_risk:
        out.append(
            f"at risk of {' and of '.join(at_risk)}: the boxed warnings call for the minimum dose at the slowest "
            f"practicable rate (e.g. < {AT_RISK_RATE_MG_PER_KG_MIN:g} mg/kg/min); the regimen as written peaks at "
            f"{written_peak:.3g} mg/kg/min, the slowest practicable plan at {slow_peak:.3g} mg/kg/min")
        if slow_peak >= AT_RISK_RATE_MG_PER_KG_MIN:
            big = sorted({round(float(g), 4) for g, r in zip(slowest.risks["g_per_kg"].values, slowest.peak_rates)
                          if r >= AT_RISK_RATE_MG_PER_KG_MIN})
            out.append(f"even over {max_hours:g} h, infusions of {', '.join(f'{g:g}' for g in big)} g/kg need "
                       f"{slow_peak:.3g} mg/kg/min (>= {AT_RISK_RATE_MG_PER_KG_MIN:g}): split the dose over more days")
    if factors.iga_deficient_with_anti_iga:
        iga = "not stated (assumed 100 ug/mL)" if product.iga_ug_per_mL is None else f"{product.iga_ug_per_mL:g} ug/mL"
        first = float(slowest.risks["probability"].sel(event="immediate_reaction").max())
        out.append(f"IgA deficiency with anti-IgA antibodies: immediate reaction up to {percent(first)} % per infusion "
                   f"even at the slowest rate; {product.name} IgA content {iga}: prefer an IgA-depleted product")
    if product.stabiliser == "sucrose":
        out.append("sucrose-stabilised product: about 11 times the odds of acute kidney injury (88 % of US reports, "
                   "FDA 1999 letter, for 40 % of the market, Chapman 2004); prefer a sucrose-free product")
    course = slowest.risks["course_g_per_kg"].values.max()
    if factors.migraine_history and course >= 1.0:
        p = float(slowest.risks["course_probability"].sel(event="aseptic_meningitis"))
        out.append(f"migraine history: aseptic meningitis {percent(p)} % over the regimen (50 % vs 4 % after 2 g/kg, Sekul 1994)")
    if factors.blood_group != "O" and course >= 2.0:
        p = float(slowest.risks["course_probability"].sel(event="haemolysis"))
        group = factors.blood_group or "unknown"
        out.append(f"blood group {group} and a course of {course:.3g} g/kg: haemolysis {percent(p)} %; check haemoglobin "
                   "in the days after the course")
    return out
