"""A scenario: one patient, one regimen, one time span, as a value (no files here).

``ivigsim.io.scenario_file`` turns a YAML file into this; the library user builds it
directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ivigsim.dosing import Regimen
from ivigsim.engine.solver import Dopri5
from ivigsim.errors import InputError
from ivigsim.model.patient import Patient

if TYPE_CHECKING:  # types only
    from ivigsim.model.diseases import Disease
    from ivigsim.safety.comparators import DeclaredRate
    from ivigsim.safety.factors import RiskFactors

#: Longest span a scenario may simulate (20 years), to catch unit mistakes early.
MAX_DAYS = 7300.0


@dataclass(frozen=True)
class Scenario:
    patient: Patient = field(default_factory=Patient)
    regimen: Regimen | None = None
    #: The disease (its model, readouts and typical values); a name (``"itp"``, as files write
    #: it) is looked up in the registry. None: no disease.
    disease: Disease | str | None = None
    indication: str | None = None
    days: float = 60.0
    output_every_days: float = 1.0
    parameters: Mapping[str, float] = field(default_factory=dict)
    mechanisms: Mapping[str, bool | float] = field(default_factory=dict)
    solver: Dopri5 = field(default_factory=Dopri5)
    name: str = "scenario"
    #: Adverse-event risk factors (None: none known); simulate attaches the risks.
    risk_factors: RiskFactors | None = None
    #: Probabilities per exposure of the comparators' own adverse events, declared by the user
    #: (``ivigsim.safety.comparators.DeclaredRate``; none shipped): the summary gives each one's risk.
    comparator_event_rates: Mapping[str, DeclaredRate] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.disease is not None:
            from ivigsim.model.library import get_disease

            disease = get_disease(self.disease)  # refuses unknown names; a Disease value is kept
            object.__setattr__(self, "disease", disease)
            if self.indication is None:
                object.__setattr__(self, "indication", disease.indication)
        if not 0 < self.days <= MAX_DAYS:
            raise InputError("simulation.days", f"a span in days in (0, {MAX_DAYS:g}]", self.days)
        if not 0 < self.output_every_days <= self.days:
            raise InputError(
                "simulation.output_every_days", f"a spacing in days in (0, {self.days:g}]",
                self.output_every_days,
            )
        if self.days / self.output_every_days > 1_000_000:
            raise InputError("simulation.output_every_days", "at most 1,000,000 output times", self.output_every_days)

    @property
    def disease_name(self) -> str:
        """The disease's name as files write it (``none`` without a disease)."""
        return self.disease.name if self.disease is not None else "none"
