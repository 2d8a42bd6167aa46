"""Per-infusion and per-course adverse-event probabilities of a scenario, as labelled data.

:func:`infusion_risks` gives an ``xarray.Dataset`` with dims ``infusion`` x ``event``
(probability of each event at each infusion) and, per event, the course probability
and expected number of events; :func:`course_risks` is its ``course_probability``.
The thrombosis models read the rise in total IgG at each infusion's end from a
``simulate`` result (given, or simulated here); :func:`attach_risks` adds the table to
such a result. Text tables for the CLI are at the end.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import xarray as xr

from ivigsim.dosing import InfusionPlan
from ivigsim.errors import InputError
from ivigsim.model.patient import Patient
from ivigsim.scenario import Scenario

from .events import EVENT_NAMES, EVENTS, REACTIONS
from .exposure import drivers_for_plan, mg_per_kg_min_to_mL_per_kg_h
from .factors import NON_O_SHARE, RiskFactors

#: Events are reported in this order everywhere (``EVENTS``).
EVENT_DIM = "event"
INFUSION_DIM = "infusion"


def compile_plan(scenario: Scenario) -> InfusionPlan:
    if scenario.regimen is None:
        raise InputError("regimen", "a regimen (adverse-event risks are per infusion)", None)
    return scenario.regimen.compile(scenario.patient, scenario.indication)


def simulated_igg_rises(plan: InfusionPlan, dataset: xr.Dataset) -> np.ndarray:
    """Rise in total IgG at each infusion's end over the pre-treatment value, from ``simulate``.

    NaN for infusions the result does not cover (they end after the simulated span).
    """
    rises = np.full(len(plan.infusions), np.nan)
    if "igg_total_post_infusion_g_per_L" not in dataset:
        return rises
    baseline = float(dataset["igg_total_g_per_L"].isel(patient=0, time=0))
    starts = dataset["infusion_start_day"].values
    post = dataset["igg_total_post_infusion_g_per_L"].isel(patient=0).values
    for k, infusion in enumerate(plan.infusions):
        match = np.flatnonzero(np.isclose(starts, infusion.start_day, rtol=0, atol=1e-9))
        if match.size:
            rises[k] = post[match[0]] - baseline
    return rises


def evaluate(plan: InfusionPlan, patient: Patient, factors: RiskFactors, rises: np.ndarray | None = None,
             events=EVENTS) -> tuple[np.ndarray, np.ndarray]:
    """(per-infusion probabilities (infusion, event), course probabilities (event)).

    An unknown blood group averages the probabilities over O and non-O (``NON_O_SHARE``).
    """
    from .premedication import premedicated

    events = premedicated(tuple(events), getattr(plan, "premedication", None))
    if factors.blood_group is None:
        mixes = ((NON_O_SHARE, 1.0), (1.0 - NON_O_SHARE, 0.0))
    else:
        mixes = ((1.0, None),)
    per_infusion = np.zeros((len(plan.infusions), len(events)))
    course = np.zeros(len(events))
    for share, non_o in mixes:
        d = drivers_for_plan(plan, patient, factors, rises, non_o=non_o)
        for j, event in enumerate(events):
            per_infusion[:, j] += share * event.infusion_probability(d)
            course[j] += share * float(event.course_probability(d))
    return per_infusion, course


def infusion_risks(scenario: Scenario, factors: RiskFactors | None = None, dataset: xr.Dataset | None = None,
                   simulate_state: bool = True, plan: InfusionPlan | None = None,
                   rises: np.ndarray | None = None) -> xr.Dataset:
    """Adverse-event probabilities of every infusion of the scenario's regimen, and per course.

    ``dataset``: a ``simulate(scenario)`` result to read the IgG rises from; without one the
    scenario is simulated (``simulate_state=True``) or the rises are estimated by the
    surrogate of ``ivigsim.safety.exposure``. ``plan``/``rises`` override the compiled plan
    and the rises (rate planning).
    """
    factors = factors if factors is not None else RiskFactors()
    plan = plan if plan is not None else compile_plan(scenario)
    source = "estimated (surrogate of the PK model)"
    if rises is None:
        if dataset is None and simulate_state:
            from ivigsim.simulation import simulate

            last_end = max(i.end_day for i in plan.infusions)
            dataset = simulate(replace(scenario, days=max(scenario.days, last_end), output_every_days=max(scenario.days, last_end)))
        if dataset is not None:
            rises = simulated_igg_rises(plan, dataset)
            source = "simulated" if np.isfinite(rises).all() else "simulated where covered, else estimated"
    else:
        source = "given"
    per_infusion, course = evaluate(plan, scenario.patient, factors, rises)
    d = drivers_for_plan(plan, scenario.patient, factors, rises)
    reactions = [EVENT_NAMES.index(n) for n in REACTIONS]
    infusions = plan.infusions
    coords = {
        EVENT_DIM: (EVENT_DIM, list(EVENT_NAMES)),
        INFUSION_DIM: (INFUSION_DIM, np.arange(len(infusions))),
        "start_day": (INFUSION_DIM, np.array([i.start_day for i in infusions]), {"units": "day"}),
        "duration_h": (INFUSION_DIM, np.array([i.duration_h for i in infusions]), {"units": "h"}),
        "amount_g": (INFUSION_DIM, np.array([i.amount_g for i in infusions]), {"units": "g"}),
        "g_per_kg": (INFUSION_DIM, d.g_per_kg, {"units": "g/kg", "long_name": "dose of the infusion"}),
        "course_g_per_kg": (INFUSION_DIM, d.course_g_per_kg,
                            {"units": "g/kg", "long_name": "dose of the course up to and including the infusion"}),
        "peak_rate_mg_per_kg_min": (INFUSION_DIM, d.peak_rate_mg_per_kg_min, {"units": "mg/kg/min"}),
        "start_rate_mg_per_kg_min": (INFUSION_DIM, d.start_rate_mg_per_kg_min, {"units": "mg/kg/min"}),
        "peak_rate_mL_per_kg_h": (INFUSION_DIM, mg_per_kg_min_to_mL_per_kg_h(d.peak_rate_mg_per_kg_min, d.concentration_g_per_mL),
                                  {"units": "mL/kg/h"}),
        "first_infusion": (INFUSION_DIM, d.first_infusion.astype(bool)),
        "igg_rise_g_per_L": (INFUSION_DIM, d.igg_rise_g_per_L,
                             {"units": "g/L", "long_name": f"rise in total IgG at the infusion's end ({source})"}),
    }
    reaction = 1.0 - np.prod(1.0 - per_infusion[:, reactions], axis=1)
    return xr.Dataset(
        {
            "probability": ((INFUSION_DIM, EVENT_DIM), per_infusion,
                            {"units": "1", "long_name": "probability of the event at this infusion"}),
            "infusion_reaction_probability": (INFUSION_DIM, reaction,
                                              {"units": "1", "long_name": f"probability of any of {', '.join(REACTIONS)}"}),
            "course_probability": (EVENT_DIM, course, {"units": "1", "long_name": "probability of at least one event in the course"}),
            "expected_events": (EVENT_DIM, per_infusion.sum(axis=0), {"units": "1", "long_name": "expected number of events"}),
        },
        coords=coords,
        attrs={"scenario": scenario.name, "product": plan.product.name, "risk_factors": factors.describe(scenario.patient),
               "igg_rise_source": source},
    )


def course_risks(scenario: Scenario, factors: RiskFactors | None = None, dataset: xr.Dataset | None = None) -> xr.DataArray:
    """Probability of at least one of each event over the whole regimen (dim ``event``)."""
    return infusion_risks(scenario, factors, dataset)["course_probability"]


def attach_risks(dataset: xr.Dataset, scenario: Scenario, factors: RiskFactors | None = None) -> xr.Dataset:
    """``simulate``'s result with the risks of its infusions added (dims patient x infusion x event).

    Only infusions that end within the simulated span are included, as in ``simulate``'s
    per-infusion peaks; the course is those infusions.
    """
    if scenario.regimen is None:
        return dataset
    plan = compile_plan(scenario)
    plan = replace(plan, infusions=tuple(i for i in plan.infusions if i.end_day <= scenario.days))
    if not plan.infusions:
        return dataset
    risks = infusion_risks(scenario, factors, dataset, plan=plan)
    return dataset.assign_coords(event=risks[EVENT_DIM].values).assign(
        adverse_event_probability=(("patient", "infusion", "event"), risks["probability"].values[None],
                                   {"units": "1", "long_name": "probability of the adverse event at the infusion"}),
        adverse_event_course_probability=(("patient", "event"), risks["course_probability"].values[None],
                                          {"units": "1", "long_name": "probability of at least one event over the infusions"}),
    )


# -- text ----------------------------------------------------------------------------------

SHORT = {"headache": "headache", "fever_chills": "fever", "immediate_reaction": "immed.",
         "aseptic_meningitis": "asept.men", "arterial_thrombosis": "art.thr", "venous_thrombosis": "ven.thr",
         "acute_kidney_injury": "AKI", "haemolysis": "haemol."}


def percent(p: float) -> str:
    """A probability as a percentage with 3 significant figures (small ones in scientific notation)."""
    value = 100.0 * float(p)
    if value == 0:
        return "0"
    if value < 0.001:
        return f"{value:.2e}"
    return f"{value:.3g}"


def infusion_table(risks: xr.Dataset, max_rows: int = 40) -> list[str]:
    events = list(risks[EVENT_DIM].values)
    head = f"{'#':>3s}  {'day':>6s} {'g/kg':>5s} {'course':>6s} {'peak':>5s} {'hours':>5s} {'IgG+':>5s} " + " ".join(
        f"{SHORT.get(e, e):>9s}" for e in events)
    lines = [head]
    n = risks.sizes[INFUSION_DIM]
    show = list(range(n)) if n <= max_rows else list(range(max_rows // 2)) + [-1] + list(range(n - max_rows // 2, n))
    for k in show:
        if k == -1:
            lines.append(f"{'...':>3s} ({n - 2 * (max_rows // 2)} infusions not shown)")
            continue
        r = risks.isel({INFUSION_DIM: k})
        first = "*" if bool(r["first_infusion"]) else " "
        lines.append(
            f"{k:>3d}{first}{float(r['start_day']):>7.2f} {float(r['g_per_kg']):>5.3g} {float(r['course_g_per_kg']):>6.3g} "
            f"{float(r['peak_rate_mg_per_kg_min']):>5.3g} {float(r['duration_h']):>5.2f} {float(r['igg_rise_g_per_L']):>5.1f} "
            + " ".join(f"{percent(r['probability'].sel({EVENT_DIM: e})):>9s}" for e in events))
    return lines


def course_table(risks: xr.Dataset) -> list[str]:
    lines = [f"{'event':22s} {'per course %':>13s} {'expected events':>16s}"]
    for e in risks[EVENT_DIM].values:
        lines.append(f"{e:22s} {percent(risks['course_probability'].sel({EVENT_DIM: e})):>13s} "
                     f"{float(risks['expected_events'].sel({EVENT_DIM: e})):>16.3g}")
    return lines
