"""A virtual trial as a value: population, arms, endpoints, size, seed, time span.

``ivigsim.io.trial_file`` builds this from YAML; library users build it directly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal

import numpy as np

from ivigsim.dosing import Regimen
from ivigsim.engine.compiled import Auto
from ivigsim.safety.comparators import DeclaredRate
from ivigsim.safety.factors import FactorPrevalence
from ivigsim.errors import InputError
from ivigsim.population import PopulationSpec
from ivigsim.population.covariates import CsvCovariates
from ivigsim.scenario import MAX_DAYS
from ivigsim.trial.contrasts import Contrast
from ivigsim.trial.crossover import Crossover
from ivigsim.trial.endpoints import RULE_OUTPUTS, Endpoint
from ivigsim.trial.rules import Rules
from ivigsim.trial.run_in import RunIn
from ivigsim.trial.stewardship import Stewardship
from ivigsim.trial.subgroups import Subgroup

Design = Literal["paired", "parallel", "crossover"]
#: Most patients per arm accepted (a bound that catches typos).
MAX_SIZE = 100_000_000
#: Trial-file sections that change the summary only, not the patients (not fingerprinted).
SUMMARY_ONLY = ("contrasts", "stewardship", "subgroups", "comparator_adverse_events")


@dataclass(frozen=True)
class Arm:
    """A treatment arm: a regimen (None: no treatment) and optional parameter or mechanism settings."""

    name: str
    regimen: Regimen | None
    parameters: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    mechanisms: Mapping[str, bool | float] = field(default_factory=lambda: MappingProxyType({}))
    #: Response-guided dosing: decisions at assessment visits (``ivigsim.trial.rules``), on top of
    #: ``regimen`` as written. Fingerprinted only when given (``Trial.fingerprint``).
    rules: Rules | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SubPopulation:
    """One part of a mixed population: its share of the trial's patients, its disease (and so
    its model), its dosing indication and its own covariates, parameters and inclusion."""

    name: str
    share: float
    disease: str
    indication: str | None
    population: PopulationSpec


#: How far the shares of a mixed population may sum from 1 (rounding in a file).
SHARE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Trial:
    """``size`` patients per arm. ``design="paired"``: every arm treats the same virtual
    patients (virtual twins; differences between arms carry no sampling noise from the
    population); ``"parallel"``: each arm draws its own patients."""

    name: str
    disease: str
    indication: str | None
    population: PopulationSpec
    arms: tuple[Arm, ...]
    endpoints: tuple[Endpoint, ...]
    size: int
    seed: int
    design: Design = "paired"
    days: float = 180.0
    output_every_days: float = 1.0
    solver: object = field(default_factory=Auto)
    trajectories: int = 0
    trajectory_outputs: tuple[str, ...] = ()
    source: Mapping = field(default_factory=lambda: MappingProxyType({}), repr=False, compare=False)
    #: Prevalence of adverse-event risk factors among the patients (ivigsim.safety).
    risk_factors: FactorPrevalence = field(default_factory=FactorPrevalence)
    #: Between-arm contrasts and the stewardship inputs: summary-only (they change no
    #: patient's numbers), so they are left out of the fingerprint (``repr=False``): a trial
    #: run again with other contrasts or prices reuses its chunks.
    contrasts: tuple[Contrast, ...] = field(default=(), repr=False)
    stewardship: Stewardship = field(default_factory=Stewardship, repr=False)
    #: A mixed population (``ivigsim.population.mixed``): each patient belongs to one of these,
    #: drawn with their shares (``population`` is then the first one's, kept for code that reads
    #: one population); empty: every patient comes from ``population`` (``disease``).
    #: Fingerprinted separately (only when given), so the fingerprints of other trials stay.
    subpopulations: tuple[SubPopulation, ...] = field(default=(), repr=False)
    #: A run-in before randomisation and who is randomised (``ivigsim.trial.run_in``); arms,
    #: endpoint days and ``days`` then count from randomisation. Fingerprinted only when given.
    run_in: RunIn | None = field(default=None, repr=False)
    #: Every endpoint again per stratum of a baseline value (``ivigsim.trial.subgroups``):
    #: summary-only, so not fingerprinted (as contrasts).
    subgroups: tuple[Subgroup, ...] = field(default=(), repr=False)
    #: ``design="crossover"``: the periods and washout (``ivigsim.trial.crossover``); ``days`` is
    #: then the longest period. Fingerprinted only when given.
    crossover: Crossover | None = field(default=None, repr=False)
    #: Probabilities per exposure of the comparators' adverse events, declared by the user
    #: (``ivigsim.safety.comparators.DeclaredRate``): summary-only, so not fingerprinted.
    comparator_event_rates: Mapping[str, DeclaredRate] = field(default_factory=lambda: MappingProxyType({}),
                                                               repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, (int, np.integer)) or not 1 <= self.size <= MAX_SIZE:
            raise InputError("size", f"a whole number of patients per arm from 1 to {MAX_SIZE:,}", self.size)
        if not self.arms:
            raise InputError("arms", "at least one arm", [])
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise InputError("arms", "arms with different names", names)
        if not self.endpoints:
            raise InputError("endpoints", "at least one endpoint", [])
        enames = [e.name for e in self.endpoints]
        if len(set(enames)) != len(enames):
            raise InputError("endpoints", "endpoints with different names", enames)
        if not 0 < self.days <= MAX_DAYS:
            raise InputError("simulation.days", f"a span in days in (0, {MAX_DAYS:g}]", self.days)
        if not 0 < self.output_every_days <= self.days:
            raise InputError("simulation.output_every_days", f"a spacing in days in (0, {self.days:g}]", self.output_every_days)
        if self.days / self.output_every_days > 100_000:
            raise InputError("simulation.output_every_days", "at most 100,000 output times per patient", self.output_every_days)
        if not 0 <= self.trajectories <= 10_000:
            raise InputError("output.trajectories", "a number of patients per arm from 0 to 10,000", self.trajectories)
        if self.subpopulations:
            groups = [g.name for g in self.subpopulations]
            if len(set(groups)) != len(groups):
                raise InputError("population.subpopulations", "sub-populations with different names", groups)
            for i, g in enumerate(self.subpopulations):
                if not (isinstance(g.share, (int, float)) and 0 < g.share <= 1):
                    raise InputError(f"population.subpopulations.{i}.share", "a share in (0, 1]", g.share)
            total = float(sum(g.share for g in self.subpopulations))
            if abs(total - 1.0) > SHARE_TOLERANCE:
                raise InputError("population.subpopulations.share", "shares that sum to 1",
                                 f"{' + '.join(f'{g.share:g}' for g in self.subpopulations)} = {total:g}")
        if self.run_in is not None and self.subpopulations:
            raise InputError("run_in", "no run-in with population.subpopulations (not supported yet)", "a run-in")
        for i, e in enumerate(self.endpoints):  # a condition names an earlier 0/1 endpoint (no cycles)
            if e.given is None:
                continue
            earlier = {x.name: x for x in self.endpoints[:i]}
            if e.given not in earlier or earlier[e.given].summary not in ("fraction", "time_to_event"):
                names = [x.name for x in self.endpoints[:i] if x.summary in ("fraction", "time_to_event")]
                raise InputError(f"endpoints.{i}.given", "an earlier fraction or time_to_event endpoint "
                                 f"({', '.join(names) or 'none before this one'})", e.given)
        if not any(a.rules is not None for a in self.arms):  # rule outcomes exist only where rules decide
            for i, e in enumerate(self.endpoints):
                if e.output in RULE_OUTPUTS:
                    raise InputError(f"endpoints.{i}.output", f"an arm under rules for {e.output} (an outcome of "
                                     "response-guided dosing; no arm of this trial has rules)", e.output)
        subs = [g.name for g in self.subpopulations]
        for i, subgroup in enumerate(self.subgroups):
            subgroup.check(f"subgroups.{i}", self.endpoints, subs)
        if len({g.name for g in self.subgroups}) != len(self.subgroups):
            raise InputError("subgroups", "subgroups with different names", [g.name for g in self.subgroups])
        if (self.design == "crossover") != (self.crossover is not None):
            raise InputError("periods", "periods exactly with design: crossover", self.design)
        if self.crossover is not None:
            self.crossover.check(self)
        summaries = {e.name: e.summary for e in self.endpoints}
        for i, contrast in enumerate(self.contrasts):
            contrast.check(f"contrasts.{i}", names, summaries)

    @property
    def mixed(self) -> bool:
        """Whether the population is made of sub-populations."""
        return bool(self.subpopulations)

    def groups(self) -> tuple[SubPopulation, ...]:
        """The sub-populations; a trial without them is one group (its population and disease)."""
        return self.subpopulations or (SubPopulation("", 1.0, self.disease, self.indication, self.population),)

    @property
    def paired_arms(self) -> bool:
        """Whether every arm treats the same virtual patients (contrasts are then paired; in a
        crossover, each patient's two periods)."""
        return self.design in ("paired", "crossover")

    def output_times(self) -> np.ndarray:
        """The saved times: the regular grid plus every endpoint's days."""
        n = int(np.floor(self.days / self.output_every_days + 1e-9))
        grid = np.arange(n + 1) * self.output_every_days
        extra = [t for e in self.endpoints for t in e.times(self.days)]
        return np.union1d(np.union1d(grid, extra), [self.days])

    def needed_outputs(self) -> tuple[str, ...]:
        names = [e.output for e in self.endpoints if not e.per_patient_column] + list(self.trajectory_outputs)
        return tuple(dict.fromkeys(names))

    def fingerprint(self) -> str:
        """A hash of what determines the results (for --resume to check it continues the same trial).

        It covers the file as written (``source``: with a CSV of covariates, that table's
        SHA-256 too) and the trial as built (seed, size, design, population, arms,
        endpoints, solver, ...: ``repr`` of the value, which holds no set and no address,
        so it is the same in every process), and the ivigsim version. The runner adds
        the chunk size (``ivigsim.trial.store.run_fingerprint``).
        """
        from ivigsim import __version__

        settings = (self.size, self.seed, self.design, self.days, self.output_every_days, repr(self.solver),
                    self.trajectories, self.trajectory_outputs)
        built, table = self, None
        covariates = self.population.covariates
        if isinstance(covariates, CsvCovariates):  # the table's content counts, not the path it was read from
            t = covariates.table
            table = hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in
                                            (t.age_years, t.female, t.weight_kg, t.height_cm))).hexdigest()
            built = replace(self, population=replace(self.population, covariates=replace(covariates, source="")))
        source = {k: v for k, v in self.source.items() if k not in SUMMARY_ONLY}
        payload = {"source": source, "trial": repr(built), "covariate_table": table, "settings": repr(settings),
                   "version": __version__}
        if self.subpopulations:
            payload["subpopulations"] = repr(self.subpopulations)
        if self.run_in is not None:
            payload["run_in"] = repr(self.run_in)
        if self.crossover is not None:
            payload["crossover"] = repr(self.crossover)
        if any(any(v is not None for v in e.options()) for e in self.endpoints):
            payload["endpoint_options"] = repr([e.options() for e in self.endpoints])
        if any(a.rules is not None for a in self.arms):
            payload["rules"] = repr([a.rules for a in self.arms])
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
