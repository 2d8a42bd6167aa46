"""A virtual population: covariates, parameters with between-subject variability,
and inclusion criteria on the baseline state.

Candidates are numbered 0, 1, 2, ...; candidate *j*'s covariates and parameters are
a pure function of (seed, stream, j) (``ivigsim.population.rng``). Screening walks
the candidates in order and keeps those who meet every inclusion criterion (and
whose parameters lie within the model's bounds): trial patient *i* is the *i*-th
candidate kept. Screening needs no ODE solve (baseline values come from the initial
state), so it is cheap and is simply redone when a trial resumes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from ivigsim.errors import InputError
from ivigsim.model.compose import CompiledModel
from ivigsim.model.patient import Patient, known_bmi_or_reference
from ivigsim.population.covariates import CONTINUOUS, CovariateModel, Covariates, CsvCovariates
from ivigsim.population.criteria import Criterion
from ivigsim.population.rng import CounterRNG
from ivigsim.population.variability import Variability, individual

#: Covariate names a criterion may read.
COVARIATE_NAMES = (*CONTINUOUS, "sex")
#: Screening gives up when this many candidates in a row yield nobody.
SCREEN_FIRST = 10_000
#: ... or when fewer than this share of candidates is eligible.
MIN_ELIGIBLE_SHARE = 0.001
#: Candidates drawn per screening block (bounded memory).
SCREEN_BLOCK = 65_536


@dataclass(frozen=True)
class PopulationSpec:
    """Where patients come from. ``parameters`` override typical values; ``variability``
    is complete (a disease's defaults merged with the trial's own)."""

    covariates: CovariateModel | CsvCovariates = field(default_factory=CovariateModel)
    variability: Variability = field(default_factory=Variability)
    parameters: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    inclusion: tuple[Criterion, ...] = ()

    def check(self, model: CompiledModel) -> None:
        self.variability.check(model.model, self.parameters)
        model.model.parameter_array(dict(self.parameters))  # names and bounds
        for name, covariate in (("body_weight_kg", "the weight"), ("body_mass_index_kg_per_m2", "weight and height")):
            if name in self.parameters:
                raise InputError(f"population.parameters.{name}",
                                 f"{covariate} from the covariates, not a parameter override", self.parameters[name])


@dataclass(frozen=True)
class VirtualPatients:
    """A batch of patients: candidate numbers, covariates, parameters (P, N)."""

    candidates: np.ndarray
    covariates: Covariates
    parameters: np.ndarray
    in_bounds: np.ndarray  # bool: every parameter within the model's bounds

    def __len__(self) -> int:
        return len(self.candidates)

    def patient(self, i: int) -> Patient:
        c = self.covariates
        height = float(c.height_cm[i])
        return Patient(float(c.weight_kg[i]), None if np.isnan(height) else height,
                       "female" if c.female[i] else "male", float(c.age_years[i]))


def draw(spec: PopulationSpec, model: CompiledModel, rng: CounterRNG, candidates: np.ndarray,
         stream: str = "") -> VirtualPatients:
    """Candidates' covariates and parameters (no screening)."""
    candidates = np.asarray(candidates, dtype=np.int64)
    m = model.model
    covariates = spec.covariates.draw(rng, stream, candidates)
    params = m.parameter_array(dict(spec.parameters), len(candidates))
    params[m.parameter_names.index("body_weight_kg")] = covariates.weight_kg
    params[m.parameter_names.index("body_mass_index_kg_per_m2")] = known_bmi_or_reference(
        m, covariates.weight_kg, covariates.height_cm)
    names, etas = spec.variability.etas(m, rng, stream, candidates)
    for name, eta in zip(names, etas):
        i = m.parameter_names.index(name)
        params[i] = individual(params[i], eta, m.parameter(name).variability_scale)
    lo = np.array([p.bounds[0] for p in m.parameters])[:, None]
    hi = np.array([p.bounds[1] for p in m.parameters])[:, None]
    in_bounds = ((params >= lo) & (params <= hi)).all(axis=0)
    return VirtualPatients(candidates, covariates, params, in_bounds)


def criterion_names(model: CompiledModel) -> set[str]:
    m = model.model
    return {*COVARIATE_NAMES, *m.parameter_names, *m.state_names, *m.output_names}


def baseline_values(model: CompiledModel, patients: VirtualPatients, t0: float = 0.0) -> dict[str, np.ndarray]:
    """Covariates, parameters, initial states and outputs before any treatment."""
    m = model.model
    p = patients.parameters
    with np.errstate(all="ignore"):
        c = model.constants(p)
        y = model.initial(p, c)
        u = np.zeros((len(m.input_names), p.shape[1]))
        outputs = model.observe(np.full(p.shape[1], t0), y, p, c, u)
    values: dict[str, np.ndarray] = {"sex": patients.covariates.sex}
    values |= {n: v for n, v in patients.covariates.as_columns().items() if n != "sex"}
    values |= dict(zip(m.parameter_names, p))
    values |= dict(zip(m.state_names, y))
    values |= {n: np.asarray(v) for n, v in outputs.items()}
    return values


@dataclass(frozen=True)
class Screening:
    """The result of screening: the kept candidates and what happened to the others."""

    candidates: np.ndarray
    screened: int
    out_of_bounds: int
    failed: dict[str, int]  # criterion text -> candidates failing it (a candidate may fail several)

    def describe(self) -> str:
        parts = [f"{len(self.candidates)} of {self.screened} screened candidates included"]
        if self.out_of_bounds:
            parts.append(f"{self.out_of_bounds} with parameters outside the model's bounds")
        parts += [f"{n} failing '{text}'" for text, n in self.failed.items() if n]
        return "; ".join(parts)


def eligibility(spec: PopulationSpec, model: CompiledModel, patients: VirtualPatients) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    ok = patients.in_bounds.copy()
    failing: dict[str, np.ndarray] = {}
    if spec.inclusion:
        values = baseline_values(model, patients)
        for criterion in spec.inclusion:
            holds = criterion.holds(values) & patients.in_bounds
            failing[criterion.text] = patients.in_bounds & ~holds
            ok &= holds
    return ok, failing


def screen(spec: PopulationSpec, model: CompiledModel, rng: CounterRNG, size: int, stream: str = "",
           block: int = SCREEN_BLOCK) -> Screening:
    """The first ``size`` eligible candidates, in candidate order."""
    kept: list[np.ndarray] = []
    n_kept = screened = out_of_bounds = 0
    failed = {c.text: 0 for c in spec.inclusion}
    while n_kept < size:
        width = block if screened >= SCREEN_FIRST else min(block, SCREEN_FIRST)
        candidates = np.arange(screened, screened + width, dtype=np.int64)
        patients = draw(spec, model, rng, candidates, stream)
        ok, failing = eligibility(spec, model, patients)
        out_of_bounds += int((~patients.in_bounds).sum())
        for text, mask in failing.items():
            failed[text] += int(mask.sum())
        take = candidates[ok][: size - n_kept]
        kept.append(take)
        n_kept += len(take)
        screened += width
        if n_kept == 0 and screened >= SCREEN_FIRST:
            worst = max(failed, key=failed.get) if failed else "parameter bounds"
            raise InputError("population.inclusion", "criteria some candidates meet",
                             f"none of {screened} candidates met them (most often failed: {worst})")
        if n_kept < size and n_kept < MIN_ELIGIBLE_SHARE * screened:
            raise InputError("population.inclusion", f"criteria that at least {MIN_ELIGIBLE_SHARE:.1%} of candidates meet",
                             f"{n_kept} of {screened}")
    candidates = np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)
    last = int(candidates[-1]) + 1 if len(candidates) else 0
    # Count exclusions only up to the last candidate kept (independent of the block size).
    if last < screened:
        extra = np.arange(last, screened, dtype=np.int64)
        patients = draw(spec, model, rng, extra, stream)
        ok, failing = eligibility(spec, model, patients)
        out_of_bounds -= int((~patients.in_bounds).sum())
        for text, mask in failing.items():
            failed[text] -= int(mask.sum())
    return Screening(candidates, last, out_of_bounds, failed)
