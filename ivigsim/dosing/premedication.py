"""Premedication before each IVIG infusion, as part of the prescription.

``Premedication(antihistamine=True, paracetamol=True)`` says which agents are given before
every infusion of the regimen. What they do to adverse-event risks lives in the safety layer
(``ivigsim.safety.premedication``): by default **nothing**, because no published figure in
``reference/calibration-targets.md`` (sections 9 and 12.5) quantifies a premedication effect;
a user who holds a number states it as ``odds_ratios`` (per event, for this premedication as
given: the within-patient odds ratio per infusion), which is then the user's assumption.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ivigsim.errors import InputError

#: The agents a prescription may name.
AGENTS = ("antihistamine", "paracetamol", "corticosteroid")
#: The adverse events premedication may act on (the infusion reactions of ``ivigsim.safety.events``).
EVENTS = ("headache", "fever_chills", "immediate_reaction")
#: Largest odds ratio accepted (a bound that catches typos; premedication is meant to lower risk).
MAX_ODDS_RATIO = 10.0


@dataclass(frozen=True)
class Premedication:
    """Agents given before every infusion, and optionally the user's odds ratios per event."""

    antihistamine: bool = False
    paracetamol: bool = False
    corticosteroid: bool = False
    odds_ratios: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        for name in AGENTS:
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"regimen.premedication.{name}", "true or false", getattr(self, name))
        object.__setattr__(self, "odds_ratios", MappingProxyType(dict(self.odds_ratios)))
        for event, ratio in self.odds_ratios.items():
            if event not in EVENTS:
                raise InputError("regimen.premedication.odds_ratios", f"events among {', '.join(EVENTS)}", event)
            if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not (
                    math.isfinite(ratio) and 0 < ratio <= MAX_ODDS_RATIO):
                raise InputError(f"regimen.premedication.odds_ratios.{event}",
                                 f"an odds ratio above 0 and at most {MAX_ODDS_RATIO:g}", ratio)
        if self.odds_ratios and not self.agents:
            raise InputError("regimen.premedication", f"at least one agent ({', '.join(AGENTS)}) given with "
                             "odds_ratios", "none")

    @property
    def agents(self) -> tuple[str, ...]:
        return tuple(name for name in AGENTS if getattr(self, name))
