"""A scenario's adverse-event risks, with the IgG rises its simulation gives (orchestration).

The science (``ivigsim.safety``) takes a compiled plan, a patient, the risk factors and the
rise in total IgG at each infusion's end as an array; this module gets those from a
scenario: it compiles the regimen, simulates the scenario for the rises when no ``simulate``
result is given (``ivigsim.simulation``), and calls :func:`ivigsim.safety.report.risk_table`.
Rate planning (``ivigsim.safety_rates``) and ``ivigsim safety`` (``ivigsim.safety_report``)
call it; ``simulate`` attaches the same table to its own result
(``ivigsim.simulation.attach_risks``), without simulating again.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import xarray as xr

from ivigsim.dosing import InfusionPlan
from ivigsim.errors import InputError
from ivigsim.safety.factors import RiskFactors
from ivigsim.safety.report import ESTIMATED, risk_table, simulated_source
from ivigsim.scenario import Scenario
from ivigsim.simulation import simulate, simulated_igg_rises


def compile_plan(scenario: Scenario) -> InfusionPlan:
    if scenario.regimen is None:
        raise InputError("regimen", "a regimen (adverse-event risks are per infusion)", None)
    return scenario.regimen.compile(scenario.patient, scenario.indication)


def infusion_risks(scenario: Scenario, factors: RiskFactors | None = None, dataset: xr.Dataset | None = None,
                   simulate_state: bool = True, plan: InfusionPlan | None = None,
                   rises: np.ndarray | None = None) -> xr.Dataset:
    """Adverse-event probabilities of every infusion of the scenario's regimen, and per course.

    ``dataset``: a ``simulate(scenario)`` result to read the IgG rises from; without one the
    scenario is simulated (``simulate_state=True``) or the rises are estimated by the
    surrogate of ``ivigsim.safety.exposure``. ``plan``/``rises`` override the compiled plan
    and the rises (rate planning).
    """
    plan = plan if plan is not None else compile_plan(scenario)
    source = ESTIMATED
    if rises is None:
        if dataset is None and simulate_state:
            last_end = max(i.end_day for i in plan.infusions)
            dataset = simulate(replace(scenario, days=max(scenario.days, last_end), output_every_days=max(scenario.days, last_end)))
        if dataset is not None:
            rises = simulated_igg_rises(plan, dataset)
            source = simulated_source(rises)
    else:
        source = "given"
    return risk_table(plan, scenario.patient, factors, rises, source, scenario.name)


def course_risks(scenario: Scenario, factors: RiskFactors | None = None, dataset: xr.Dataset | None = None) -> xr.DataArray:
    """Probability of at least one of each event over the whole regimen (dim ``event``)."""
    return infusion_risks(scenario, factors, dataset)["course_probability"]
