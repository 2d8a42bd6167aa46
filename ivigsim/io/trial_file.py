"""The trial file (YAML): its schema, and its translation into a ``Trial``.

Like the scenario file (``ivigsim.io.scenario_file``, whose regimen and validation
pieces it reuses), unknown fields are refused and every problem becomes one
``InputError`` naming the field, what was expected and what was got. Names the file
uses (disease, arms' regimens, endpoint outputs, parameters, inclusion criteria) are
checked against the built model, so a typo fails before anything runs.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from ivigsim.dosing import INDICATIONS, STANDARD_REGIMENS, get_standard_regimen
from ivigsim.errors import InputError
from ivigsim.io.quantities import Quantity
from ivigsim.io.scenario_file import RegimenFile, _Strict, read_yaml, validation_to_input_error
from ivigsim.model.library import DISEASES, compiled_model, get_disease
from ivigsim.safety.factors import FactorPrevalence
from ivigsim.population import (
    BySex,
    CovariateModel,
    CsvCovariates,
    Marginal,
    PopulationSpec,
    Threshold,
    Variability,
)
from ivigsim.population.covariates import DEFAULT_AGE, DEFAULT_HEIGHT, DEFAULT_WEIGHT
from ivigsim.population.criteria import Criterion
from ivigsim.population.population import criterion_names
from ivigsim.population.rng import MAX_SEED
from ivigsim.trial.endpoints import Endpoint
from ivigsim.trial.spec import MAX_SIZE, Arm, Trial


class MarginalFile(_Strict):
    distribution: Literal["normal", "lognormal", "uniform"] = "normal"
    mean: float = 0.0
    sd: float = 0.0
    lower: float = float("-inf")
    upper: float = float("inf")

    def build(self) -> Marginal:
        return Marginal(self.distribution, self.mean, self.sd, self.lower, self.upper)


class BySexFile(_Strict):
    female: MarginalFile
    male: MarginalFile

    def build(self) -> BySex:
        return BySex(self.female.build(), self.male.build())


class CorrelationFile(_Strict):
    between: tuple[str, str] = Field(description="two names")
    r: float = Field(description="correlation in (-1, 1)")


class CsvFile(_Strict):
    path: str = Field(description="CSV with columns weight_kg (required), age_years, sex, height_cm; relative to the trial file")
    sampling: Literal["resample", "in_order"] = "resample"


class CovariatesFile(_Strict):
    """Distributions of covariates (defaults: adults, see docs/trials.md), or a CSV table."""

    csv: CsvFile | None = None
    female_fraction: float = 0.5
    age_years: MarginalFile | BySexFile | None = None
    weight_kg: MarginalFile | BySexFile | None = None
    height_cm: MarginalFile | BySexFile | None = None
    correlations: list[CorrelationFile] | None = Field(None, description="of normal scores; default weight~height 0.45")


class RiskFactorPrevalenceFile(_Strict):
    """Share of patients with each adverse-event risk factor (each drawn independently);
    omitted ones keep their defaults (docs/safety.md)."""

    migraine_history: float | None = Field(None, description="default 0.152 (derived from Sekul 1994)")
    iga_deficient_with_anti_iga: float | None = Field(None, description="default 0.001 (Rachid & Bonilla 2012)")
    prior_thrombosis: float | None = Field(None, description="default 0.05 (assumption)")
    diabetes: float | None = Field(None, description="default 0.10 (assumption)")
    renal_impairment: float | None = Field(None, description="default 0.05 (assumption)")
    inflammation: float | None = Field(None, description="default 0 (assumption)")
    ivig_naive: float | None = Field(None, description="share on their first IVIG ever; default 1")


class PopulationFile(_Strict):
    covariates: CovariatesFile = CovariatesFile()
    parameters: dict[str, float] = Field({}, description="typical-value overrides of model parameters")
    variability: dict[str, float] = Field({}, description=(
        "between-subject variability by parameter, on the scale the parameter declares (`ivigsim parameters`): "
        "a log-normal CV (0.3 = 30 %), or for shares varying on the logit scale omega, the SD of logit(value) "
        "(typical value strictly between 0 and 1); adds to or overrides the disease's"))
    disease_variability: bool = Field(True, description="start from the disease's published variability")
    correlations: list[CorrelationFile] = Field([], description="between the etas of two varying parameters")
    inclusion: list[str] = Field([], description="criteria on covariates or baseline values, e.g. 'igg_total_g_per_L >= 6'")
    risk_factors: RiskFactorPrevalenceFile = Field(RiskFactorPrevalenceFile(), description=(
        "prevalence (0-1) of each adverse-event risk factor in the population, e.g. {diabetes: 0.3}"))


class ArmFile(_Strict):
    name: str
    regimen: str | RegimenFile | None = Field(None, description="a name under 'regimens', a standard regimen, a regimen, or omitted for no treatment")
    parameters: dict[str, float] = {}
    mechanisms: dict[str, bool | float] = {}


class AlsoFile(_Strict):
    measure: Literal["value", "change", "percent_change", "fold_change"] = "value"
    criterion: str = Field(description="e.g. '>= 2'")


class EndpointFile(_Strict):
    name: str
    output: str = Field(description="a model output, e.g. igg_total_g_per_L")
    summary: Literal["fraction", "mean", "median", "quantile", "time_to_event"]
    measure: Literal["value", "change", "percent_change", "fold_change"] = "value"
    at_day: Quantity("day") | None = None
    window: tuple[Quantity("day"), Quantity("day")] | None = None
    over_window: Literal["any", "all", "mean", "min", "max", "duration", "duration_if_met"] | None = None
    criterion: str | None = Field(None, description="e.g. '>= 50'; for fraction and time_to_event")
    quantiles: list[float] = []
    also: list[AlsoFile] | AlsoFile | None = Field(
        None, description="further conditions, met at the same time, on other measures of the output (fraction only)")


class TrialSimulationFile(_Strict):
    days: Quantity("day") = 180.0
    output_every_days: Quantity("day") = 1.0
    rtol: float = 1e-6
    atol: float = 1e-9
    method: Literal["auto", "dopri5", "rodas4", "numpy-dopri5"] = Field(
        "auto", description="auto: compiled Dormand-Prince, switching to Rodas4 where a patient is stiff")


class OutputFile(_Strict):
    trajectories: int = Field(0, description="write trajectories of the first N patients of each arm")
    outputs: list[str] = Field([], description="outputs in the trajectory files (default: the endpoints' outputs)")


class TrialFile(_Strict):
    """An ivigsim virtual trial: a population, arms, endpoints, a size and a seed."""

    name: str = "trial"
    disease: str = Field("none", description=f"one of the diseases: {', '.join(DISEASES)}")
    indication: Literal[tuple(INDICATIONS)] | None = Field(None, description="dosing indication; default: the disease's")  # type: ignore[valid-type]
    seed: int = Field(description=f"0 to {MAX_SEED}")
    size: int = Field(description="patients per arm")
    design: Literal["paired", "parallel"] = "paired"
    population: PopulationFile = PopulationFile()
    regimens: dict[str, RegimenFile] = Field({}, description="named regimens that arms refer to")
    arms: list[ArmFile]
    endpoints: list[EndpointFile]
    simulation: TrialSimulationFile = TrialSimulationFile()
    output: OutputFile = OutputFile()

    @field_validator("seed", "size", mode="before")
    @classmethod
    def _whole(cls, v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError("a whole number")
        return v


def _regimen(arm: ArmFile, index: int, named: dict, doc: TrialFile):
    field = f"arms.{index}.regimen"
    try:
        if arm.regimen is None:
            return None
        if isinstance(arm.regimen, RegimenFile):
            return arm.regimen.build()
        if arm.regimen in named:
            return named[arm.regimen].build()
        if arm.regimen in STANDARD_REGIMENS:
            return get_standard_regimen(arm.regimen).regimen
    except InputError as exc:
        raise InputError(f"{field}.{exc.field.removeprefix('regimen.')}", exc.expected, exc.got) from None
    raise InputError(field, f"a regimen defined under 'regimens' ({', '.join(named) or 'none defined'}) "
                            f"or a standard regimen ({', '.join(STANDARD_REGIMENS)})", arm.regimen)


#: Longest endpoint criterion accepted ('>= 0.000123456789' is 16 characters).
MAX_CRITERION_CHARS = 64


def _threshold(text: str, field: str) -> Threshold:
    """An endpoint's criterion: a comparison with a finite number of sensible length."""
    if isinstance(text, str) and len(text) > MAX_CRITERION_CHARS:
        raise InputError(field, f"a comparison with a finite number, such as '>= 50' (at most {MAX_CRITERION_CHARS} "
                         "characters)", f"{text[:24]}... ({len(text):,} characters)")
    threshold = Threshold.parse(text, field)
    if not math.isfinite(threshold.value):
        raise InputError(field, "a finite number", text.strip())
    return threshold


def _compile_regimen(regimen, indication: str, field: str) -> None:
    """Compile ``regimen`` for a 70-kg patient, so dosing errors surface before the run.

    An error's field (``regimen.course...``) is reported under ``field`` (``arms.1``:
    ``arms.1.regimen.course...``; ``regimens.NAME``: ``regimens.NAME.course...``).
    """
    from dataclasses import replace as _replace

    from ivigsim.model.patient import Patient

    try:
        _replace(regimen, dosing_weight="actual").compile(Patient(weight_kg=70.0), indication)
    except InputError as exc:
        inner = exc.field.removeprefix("regimen.") if field.startswith("regimens.") else exc.field
        raise InputError(f"{field}.{inner}", exc.expected, exc.got) from None


def build_trial(doc: TrialFile, base: Path, source: dict) -> Trial:
    from ivigsim.io.scenario_file import check_name

    check_name(doc.name, "name")
    for i, arm in enumerate(doc.arms):
        check_name(arm.name, f"arms.{i}.name")
    for i, endpoint in enumerate(doc.endpoints):
        check_name(endpoint.name, f"endpoints.{i}.name")
    disease = get_disease(doc.disease)
    model = compiled_model(doc.disease)
    m = model.model
    indication = doc.indication or disease.indication
    if doc.size < 1 or doc.size > MAX_SIZE:
        raise InputError("size", f"a whole number of patients per arm from 1 to {MAX_SIZE:,}", doc.size)
    if not 0 <= doc.seed <= MAX_SEED:
        raise InputError("seed", f"a whole number from 0 to {MAX_SEED}", doc.seed)
    from ivigsim.trial.spec import MAX_DAYS

    # The span first: endpoints and windows are checked against it, and should not take the blame.
    if not 0 < doc.simulation.days <= MAX_DAYS:
        raise InputError("simulation.days", f"a span in days in (0, {MAX_DAYS:g}]", doc.simulation.days)

    cov = doc.population.covariates
    if cov.csv is not None:
        others = [k for k in ("age_years", "weight_kg", "height_cm", "correlations") if getattr(cov, k) is not None]
        if others:
            raise InputError(f"population.covariates.{others[0]}", "nothing besides csv (the table gives the covariates)", "a distribution")
        path = Path(cov.csv.path)
        path = path if path.is_absolute() else base / path
        covariates = CsvCovariates.read(path, cov.csv.sampling)
        source = {**source, "_csv_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        if cov.csv.sampling == "in_order" and doc.size > len(covariates.table):
            raise InputError("size", f"at most {len(covariates.table)} patients per arm (the rows of {path.name}, sampling in_order)", doc.size)
    else:
        pairs = {tuple(c.between): c.r for c in cov.correlations} if cov.correlations is not None else None
        covariates = CovariateModel(
            cov.female_fraction,
            cov.age_years.build() if cov.age_years else DEFAULT_AGE,
            cov.weight_kg.build() if cov.weight_kg else DEFAULT_WEIGHT,
            cov.height_cm.build() if cov.height_cm else DEFAULT_HEIGHT,
            MappingProxyType(pairs) if pairs is not None else CovariateModel().correlations,
        )

    cvs = dict(disease.variability) if doc.population.disease_variability else {}
    variability = Variability(MappingProxyType({**cvs, **doc.population.variability}),
                              MappingProxyType({tuple(c.between): c.r for c in doc.population.correlations}))
    names = criterion_names(model)
    inclusion = tuple(Criterion.parse(text, f"population.inclusion.{i}", names)
                      for i, text in enumerate(doc.population.inclusion))
    # The disease's typical values for its patients (e.g. lower IgG in MG), then the trial's own.
    typical = {**disease.defaults, **doc.population.parameters}
    population = PopulationSpec(covariates, variability, MappingProxyType(typical), inclusion)
    population.check(model)
    given = {k: v for k, v in doc.population.risk_factors.model_dump().items() if v is not None}
    try:
        risk_factors = FactorPrevalence(**given)
    except InputError as exc:
        raise InputError(f"population.risk_factors.{exc.field.rsplit('.', 1)[-1]}", exc.expected, exc.got) from None

    arms = []
    for i, a in enumerate(doc.arms):
        overrides = {**m.switch_overrides(a.mechanisms), **a.parameters}
        try:
            m.parameter_array(overrides)
        except InputError as exc:
            raise InputError(f"arms.{i}.{exc.field}", exc.expected, exc.got) from None
        regimen = _regimen(a, i, doc.regimens, doc)
        arms.append(Arm(a.name, regimen, MappingProxyType(dict(a.parameters)), MappingProxyType(dict(a.mechanisms))))

    days = doc.simulation.days
    endpoints = []
    for i, e in enumerate(doc.endpoints):
        field = f"endpoints.{i}"
        criterion = _threshold(e.criterion, f"{field}.criterion") if e.criterion is not None else None
        also_files = e.also if isinstance(e.also, list) else ([e.also] if e.also else [])
        also = tuple((a.measure, _threshold(a.criterion, f"{field}.also.{j}.criterion"))
                     for j, a in enumerate(also_files))
        endpoint = Endpoint(e.name, e.output, e.summary, e.measure, e.at_day, tuple(e.window) if e.window else None,
                            e.over_window, criterion, tuple(e.quantiles), also)
        endpoint.check(field, m.output_names, days)
        endpoints.append(endpoint)
    for name in doc.output.outputs:
        if name not in m.output_names:
            raise InputError("output.outputs", f"one of the model's outputs ({', '.join(m.output_names)})", name)
    from ivigsim.engine.methods import make_solver

    try:
        solver = make_solver(doc.simulation.method, doc.simulation.rtol, doc.simulation.atol)
    except InputError as exc:  # the library names its solver's fields; the file calls the section simulation
        raise InputError(f"simulation.{exc.field.rsplit('.', 1)[-1]}", exc.expected, exc.got) from None
    for i, a in enumerate(arms):  # compile each regimen once now, so dosing errors surface before the run
        if a.regimen is not None:
            _compile_regimen(a.regimen, indication, f"arms.{i}")
    used = {a.regimen for a in doc.arms if isinstance(a.regimen, str)}
    for name, regimen_file in doc.regimens.items():  # named regimens no arm uses are checked all the same
        if name in used:
            continue
        field = f"regimens.{name}"
        try:
            regimen = regimen_file.build()
        except InputError as exc:
            raise InputError(f"{field}.{exc.field.removeprefix('regimen.')}", exc.expected, exc.got) from None
        _compile_regimen(regimen, indication, field)
    return Trial(doc.name, doc.disease, indication, population, tuple(arms), tuple(endpoints), doc.size, doc.seed,
                 doc.design, days, doc.simulation.output_every_days, solver, doc.output.trajectories,
                 tuple(doc.output.outputs), MappingProxyType(source), risk_factors)


def parse_trial(data: Any, where: str = "trial", base: Path | None = None) -> Trial:
    if not isinstance(data, dict):
        raise InputError(where, "a mapping of trial fields (name, seed, size, population, arms, endpoints, ...)",
                         type(data).__name__)
    try:
        doc = TrialFile.model_validate(data)
    except ValidationError as exc:
        raise validation_to_input_error(exc) from None
    return build_trial(doc, base or Path.cwd(), data)


def load_trial(path: str | Path) -> Trial:
    path = Path(path)
    try:
        data = read_yaml(path)
    except InputError as exc:
        if exc.field == "FILE":
            raise InputError("FILE", exc.expected.replace("scenario", "trial"), exc.got) from None
        raise
    return parse_trial(data, str(path), path.parent)


def trial_json_schema() -> dict:
    schema = TrialFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ivigsim trial"
    return schema
