"""What premedication does to the infusion-reaction risks (headache, fever/chills, immediate
reactions): one odds ratio per event, applied to every infusion of a premedicated regimen.

**Shipped effect: none.** ``reference/calibration-targets.md`` (sections 9 and 12.5) has no
figure for premedication (antihistamine, paracetamol, corticosteroid), so every agent's odds
ratio is 1 (``DEFAULT_ODDS_RATIOS``, provenance ``assumption``): a premedicated regimen has the
same risks as without, and says so. A user states a number as
``premedication.odds_ratios: {headache: 0.7}`` (``ivigsim.dosing.premedication``): the odds
ratio per infusion of the event with this premedication, the user's assumption, replacing the
product of the agents' defaults for that event.

How it acts: the odds ratio is **within-patient** (conditional on the patient's own
susceptibility, the models' ``frailty_sd``): ``log(OR)`` is added to the event's intercept, so
every patient's odds of the reaction at every infusion are multiplied by OR exactly. Averaged
over patients, the odds ratio is closer to 1 (the susceptibility spread dilutes it; measured for
OR 0.5 on one infusion of 0.4 or 2 g/kg: population-averaged 0.69-0.79, ``docs/safety.md``). A
published trial's (marginal) odds ratio is therefore a conservative input.
"""

from __future__ import annotations

import math
from types import MappingProxyType

from ivigsim.dosing.premedication import AGENTS, EVENTS, Premedication

from . import sources as src

#: Odds ratio of each event per agent: 1 (no effect), an assumption for want of any sourced figure.
DEFAULT_ODDS_RATIOS = MappingProxyType({agent: MappingProxyType({event: 1.0 for event in EVENTS}) for agent in AGENTS})
DEFAULT_SOURCE = (f"{src.ASSUMPTION}: no effect; reference/calibration-targets.md (sections 9 and 12.5) gives "
                  "no figure for premedication")


def odds_ratio(premedication: Premedication | None, event: str) -> float:
    """The population-averaged per-infusion odds ratio of ``event`` under ``premedication``."""
    if premedication is None or not premedication.agents or event not in EVENTS:
        return 1.0
    if event in premedication.odds_ratios:
        return float(premedication.odds_ratios[event])
    return math.prod(DEFAULT_ODDS_RATIOS[agent][event] for agent in premedication.agents)


def premedicated(events: tuple, premedication: Premedication | None) -> tuple:
    """``events`` with each affected event's intercept shifted by log(odds ratio) (within-patient)."""
    out = []
    for event in events:
        ratio = odds_ratio(premedication, event.name)
        if ratio != 1.0:
            event = event.with_values(intercept=event.value("intercept") + math.log(ratio))
        out.append(event)
    return tuple(out)
