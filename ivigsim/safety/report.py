"""Per-infusion and per-course adverse-event probabilities, as labelled data.

:func:`risk_table` gives an ``xarray.Dataset`` with dims ``infusion`` x ``event``
(probability of each event at each infusion) and, per event, the course probability
and expected number of events, for a compiled plan, a patient, the risk factors and the
rise in total IgG at each infusion's end (an array: simulated, given, or ``None`` for the
surrogate of ``ivigsim.safety.exposure``). Text tables for the CLI are at the end.

Science below the orchestration: nothing here simulates or reads files. A scenario's
risks, with the IgG rises simulated, are ``ivigsim.safety_risks.infusion_risks``;
``simulate``'s result gets them from ``ivigsim.simulation.attach_risks``.
"""

from __future__ import annotations


import numpy as np
import xarray as xr

from ivigsim.dosing import InfusionPlan
from ivigsim.model.patient import Patient

from .events import EVENT_NAMES, EVENTS, REACTIONS
from .exposure import drivers_for_plan, mg_per_kg_min_to_mL_per_kg_h
from .factors import NON_O_SHARE, RiskFactors

#: Events are reported in this order everywhere (``EVENTS``).
EVENT_DIM = "event"
INFUSION_DIM = "infusion"
#: ``igg_rise_source`` of a table whose rises are the surrogate's.
ESTIMATED = "estimated (surrogate of the PK model)"


def simulated_source(rises: np.ndarray) -> str:
    """``igg_rise_source`` of a table whose rises were read from a simulation (NaN: not covered)."""
    return "simulated" if np.isfinite(rises).all() else "simulated where covered, else estimated"


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


def risk_table(plan: InfusionPlan, patient: Patient, factors: RiskFactors | None = None,
               rises: np.ndarray | None = None, source: str = ESTIMATED, name: str = "") -> xr.Dataset:
    """Adverse-event probabilities of every infusion of ``plan``, and per course (module docstring).

    ``rises``: the rise in total IgG at each infusion's end (NaN entries, or ``None``, are
    the surrogate's); ``source`` says where they came from and ``name`` names the scenario
    (both only labels).
    """
    factors = factors if factors is not None else RiskFactors()
    per_infusion, course = evaluate(plan, patient, factors, rises)
    d = drivers_for_plan(plan, patient, factors, rises)
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
        attrs={"scenario": name, "product": plan.product.name, "risk_factors": factors.describe(patient),
               "igg_rise_source": source},
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
