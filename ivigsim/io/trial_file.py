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
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from ivigsim.dosing import INDICATIONS, STANDARD_REGIMENS, get_standard_regimen
from ivigsim.errors import InputError
from ivigsim.io.quantities import Number, Quantity, Whole
from ivigsim.io.scenario_file import (COMPARATOR_EVENTS_HELP, COMPARATORS_ALLOWED, ComparatorEventRateFile,
                                      RegimenFile, _Strict, comparator_event_rates, late_part, parts_as_written,
                                      read_yaml, validation_to_input_error)
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
from ivigsim.trial.contrasts import MEASURES, Contrast, allowed_measures, default_measures
from ivigsim.trial.endpoints import Endpoint
from ivigsim.trial.spec import MAX_SIZE, Arm, Trial
from ivigsim.trial.stewardship import Stewardship


class MarginalFile(_Strict):
    distribution: Literal["normal", "lognormal", "uniform"] = "normal"
    mean: Number = 0.0
    sd: Number = 0.0
    lower: Number = float("-inf")
    upper: Number = float("inf")

    def build(self) -> Marginal:
        return Marginal(self.distribution, self.mean, self.sd, self.lower, self.upper)


class BySexFile(_Strict):
    female: MarginalFile
    male: MarginalFile

    def build(self) -> BySex:
        return BySex(self.female.build(), self.male.build())


class CorrelationFile(_Strict):
    between: tuple[str, str] = Field(description="two names")
    r: Number = Field(description="correlation in (-1, 1)")


class CsvFile(_Strict):
    path: str = Field(description="CSV with columns weight_kg (required), age_years, sex, height_cm; relative to the trial file")
    sampling: Literal["resample", "in_order"] = "resample"


class CovariatesFile(_Strict):
    """Distributions of covariates (defaults: adults, see docs/trials.md), or a CSV table."""

    csv: CsvFile | None = None
    female_fraction: Number = 0.5
    age_years: MarginalFile | BySexFile | None = None
    weight_kg: MarginalFile | BySexFile | None = None
    height_cm: MarginalFile | BySexFile | None = None
    correlations: list[CorrelationFile] | None = Field(None, description="of normal scores; default weight~height 0.45")
    growth_reference: Literal["cdc2000"] | None = Field(None, description=(
        "children: weight and height drawn from this growth reference's LMS distribution at each patient's age "
        "and sex (cdc2000: CDC 2000 growth charts, ages 2-20 years); weight_kg and height_cm are then not given"))


class RiskFactorPrevalenceFile(_Strict):
    """Share of patients with each adverse-event risk factor (each drawn independently);
    omitted ones keep their defaults (docs/safety.md)."""

    migraine_history: Number | None = Field(None, description="default 0.152 (derived from Sekul 1994)")
    iga_deficient_with_anti_iga: Number | None = Field(None, description="default 0.001 (Rachid & Bonilla 2012)")
    prior_thrombosis: Number | None = Field(None, description="default 0.05 (assumption)")
    diabetes: Number | None = Field(None, description="default 0.10 (assumption)")
    renal_impairment: Number | None = Field(None, description="default 0.05 (assumption)")
    inflammation: Number | None = Field(None, description="default 0 (assumption)")
    ivig_naive: Number | None = Field(None, description="share on their first IVIG ever; default 1")


class SubPopulationFile(_Strict):
    """One part of a mixed population (docs/trials.md, "Mixed populations")."""

    name: str
    share: Number = Field(description="share of the trial's patients (the shares sum to 1)")
    disease: str | None = Field(None, description="its disease (default: the trial's)")
    indication: Literal[tuple(INDICATIONS)] | None = Field(None, description="dosing indication; default: its disease's")  # type: ignore[valid-type]
    covariates: CovariatesFile = CovariatesFile()
    parameters: dict[str, Number] = Field({}, description="typical-value overrides of model parameters")
    variability: dict[str, Number] = Field({}, description="between-subject variability, as population.variability")
    disease_variability: bool = Field(True, description="start from its disease's published variability")
    correlations: list[CorrelationFile] = Field([], description="between the etas of two varying parameters")
    inclusion: list[str] = Field([], description="criteria on covariates or baseline values")


class PopulationFile(_Strict):
    subpopulations: list[SubPopulationFile] | None = Field(None, description=(
        "a mixed population: sub-populations with shares, each with its own disease, covariates, parameters and "
        "inclusion (then only risk_factors may be given beside it)"))
    covariates: CovariatesFile = CovariatesFile()
    parameters: dict[str, Number] = Field({}, description="typical-value overrides of model parameters")
    variability: dict[str, Number] = Field({}, description=(
        "between-subject variability by parameter, on the scale the parameter declares (`ivigsim parameters`): "
        "a log-normal CV (0.3 = 30 %), or for shares varying on the logit scale omega, the SD of logit(value) "
        "(typical value strictly between 0 and 1); adds to or overrides the disease's"))
    disease_variability: bool = Field(True, description="start from the disease's published variability")
    correlations: list[CorrelationFile] = Field([], description="between the etas of two varying parameters")
    inclusion: list[str] = Field([], description="criteria on covariates or baseline values, e.g. 'igg_total_g_per_L >= 6'")
    risk_factors: RiskFactorPrevalenceFile = Field(RiskFactorPrevalenceFile(), description=(
        "prevalence (0-1) of each adverse-event risk factor in the population, e.g. {diabetes: 0.3}"))


class RetreatmentFile(_Strict):
    """A re-treatment (CIDP) or rescue (ITP) given at a visit where the relapse criterion holds: an IVIG
    dose (``dose_g_per_kg``), or another comparator cycle (``comparator_cycle``; docs/comparators.md)."""

    dose_g_per_kg: Number | None = Field(None, description="the whole re-treatment, g/kg (e.g. 2.0)")
    over_days: Whole = Field(1, description="split over this many daily infusions")
    comparator_cycle: str | None = Field(None, description=(
        "instead of dose_g_per_kg: start another comparator cycle at the visit: the arm regimen's own part "
        "(fcrn_inhibitor, plasma_exchange or scig) or a regimen under 'regimens' that gives comparators only; "
        "its days counted from its first day, which is the visit"))
    min_interval_days: Quantity("day") | None = Field(None, description=(
        "with comparator_cycle: days from the previous cycle's start before another may start"))


class TaperFile(_Strict):
    """Cut the maintenance dose while the patient is stable; back to the last effective dose on relapse."""

    stable_visits: Whole = Field(description="stable visits in a row on the current dose before a cut")
    cut_fraction: Number | None = Field(None, description="each cut removes this fraction of the current dose, in (0, 1]")
    steps: list[Number] | None = Field(None, description=(
        "instead of cut_fraction: the doses in turn, as fractions of the starting dose, e.g. [0.9, 0.75, 0.5, 0.25, 0]"))
    floor_g_per_kg: Number = Field(0.0, description="never cut below this dose (0: the taper may stop IVIG)")
    start_stable: bool = Field(False, description=(
        "patients enter stable (a run-in selected them): the first cut is at the first visit"))


class RulesFile(_Strict):
    """Response-guided dosing: decisions at assessment visits (docs/trials.md, "Response-guided dosing")."""

    assess_every_days: Quantity("day") = Field(description="days between visits")
    first_visit_day: Quantity("day") = Field(0.0, description="the first visit, days from day 0 (or randomisation)")
    readout: str = Field(description="the model output read at each visit, e.g. incat_score")
    relapse: str = Field(description=(
        "a measure (value, change, percent_change, fold_change: against the patient's day-0 value) and a "
        "comparison, e.g. 'change >= 1' or 'value < 30'"))
    maintenance_g_per_kg: Number = Field(0.0, description="dose given at each visit (0: on demand only)")
    on_relapse: RetreatmentFile | None = Field(None, description="re-treatment in place of the visit's maintenance dose")
    taper: TaperFile | None = None
    product: str | None = Field(None, description="product of the rule doses (default: the arm regimen's, else generic-10)")


class ArmFile(_Strict):
    name: str
    regimen: str | RegimenFile | None = Field(None, description="a name under 'regimens', a standard regimen, a regimen, or omitted for no treatment")
    parameters: dict[str, Number] = {}
    mechanisms: dict[str, bool | Number] = {}
    rules: RulesFile | None = Field(None, description=(
        "response-guided dosing at assessment visits, on top of the regimen as written"))


class AlsoFile(_Strict):
    measure: Literal["value", "change", "percent_change", "fold_change"] = "value"
    criterion: str = Field(description="e.g. '>= 2'")


class EndpointFile(_Strict):
    name: str
    output: str = Field(description="a model output, e.g. igg_total_g_per_L")
    summary: Literal["fraction", "mean", "median", "quantile", "time_to_event", "day_of_max", "day_of_min"] = Field(
        description="day_of_max/day_of_min: each patient's saved day of the measure's largest/smallest value")
    measure: Literal["value", "change", "percent_change", "fold_change"] = "value"
    reference_day: Quantity("day") | None = Field(None, description=(
        "baseline day of change, percent_change and fold_change (default 0), e.g. 84 for change from week 12"))
    tau: Quantity("day") | None = Field(None, description=(
        "time_to_event: also the restricted mean time to event up to this day (and the mean time when no one is "
        "censored); at most the window's end"))
    given: str | None = Field(None, description=(
        "an earlier fraction or time_to_event endpoint: only patients meeting it count (e.g. relapse among responders)"))
    at_day: Quantity("day") | None = None
    window: tuple[Quantity("day"), Quantity("day")] | None = None
    over_window: Literal["any", "all", "mean", "min", "max", "duration", "duration_if_met"] | None = None
    criterion: str | None = Field(None, description="e.g. '>= 50'; for fraction and time_to_event")
    quantiles: list[Number] = []
    also: list[AlsoFile] | AlsoFile | None = Field(
        None, description="further conditions, met at the same time, on other measures of the output (fraction only)")


class SelectFile(_Strict):
    """Who is randomised after the run-in: a criterion on an output, read like a fraction endpoint,
    with days counted from the start of the run-in (docs/trials.md, "Run-in")."""

    output: str = Field(description="a model output, e.g. incat_score")
    measure: Literal["value", "change", "percent_change", "fold_change"] = Field(
        "value", description="change etc. from the start of the run-in")
    at_day: Quantity("day") | None = Field(None, description="default: the run-in's last day (randomisation)")
    window: tuple[Quantity("day"), Quantity("day")] | None = None
    over_window: Literal["any", "all"] | None = None
    criterion: str = Field(description="e.g. '<= -1'")
    also: list[AlsoFile] | AlsoFile | None = None


class RunInFile(_Strict):
    """A phase before randomisation (enrichment, randomised withdrawal): every screened candidate
    gets ``regimen`` for ``days``; those meeting every ``select`` criterion are the trial's patients,
    and every arm continues from their state on the last day. Arms, endpoints and simulation.days
    then count from randomisation."""

    regimen: str | RegimenFile | None = Field(None, description="as an arm's regimen; omitted: no treatment")
    days: Quantity("day") = Field(description="length of the run-in; randomisation on its last day")
    select: list[SelectFile] = Field(description="criteria, all of which a patient meets to be randomised")


class PeriodFile(_Strict):
    """One period of a crossover (docs/trials.md, "Crossover")."""

    days: Quantity("day") = Field(description="the period's length; endpoint days count from its start")


class ContrastFile(_Strict):
    """Contrasts of endpoints between arms (docs/trials.md, "Contrasts")."""

    arms: list[str] | None = Field(None, description="[arm, reference]: differences arm - reference, ratios arm / reference")
    reference: str | None = Field(None, description="instead of arms: every other arm against this one")
    endpoint: str | None = Field(None, description="an endpoint's name (default: every endpoint)")
    endpoints: list[str] | None = Field(None, description="instead of endpoint: several endpoints")
    measures: list[str] | None = Field(None, description=(
        f"some of {', '.join(MEASURES)}; default: risk_difference, risk_ratio and odds_ratio for a fraction or time "
        "to event, mean_difference for values"))
    cutpoints: list[Number] = Field([], description="for common_odds_ratio: ascending cut points that grade the values "
                                   "(default: each value rounded to the nearest whole number)")


class SubgroupFile(_Strict):
    """Every endpoint again per stratum (docs/trials.md, "Subgroups")."""

    name: str
    by: str = Field(description=(
        "age_years, weight_kg, height_cm, dosing_weight_kg, sex, subpopulation, or an endpoint read at day 0 "
        "(measure value): a baseline value"))
    cut: list[Number] = Field([], description="ascending cut points of a number: strata < c1, c1 to < c2, ..., >= ck")


class StewardshipFile(_Strict):
    """IVIG use per arm (grams are always reported; vials and cost when these are given)."""

    price_per_g: Number | None = Field(None, description="price of 1 g of IVIG, in your currency; no price, no cost")
    currency: str = Field("", description="a label for the price, e.g. AUD")
    vial_sizes_g: list[Number] = Field([], description="the product's vial sizes in g, e.g. [5, 10, 20]; no sizes, no vials")
    vial_rounding: Literal["up", "nearest"] = Field("up", description=(
        "per infusion: up = whole vials at or above the dose; nearest = whole vials nearest the dose"))


class TrialSimulationFile(_Strict):
    days: Quantity("day") = 180.0
    output_every_days: Quantity("day") = 1.0
    rtol: Number = 1e-6
    atol: Number = 1e-9
    method: Literal["auto", "dopri5", "rodas4", "numpy-dopri5"] = Field(
        "auto", description="auto: compiled Dormand-Prince, switching to Rodas4 where a patient is stiff")


class OutputFile(_Strict):
    trajectories: Whole = Field(0, description="write trajectories of the first N patients of each arm")
    outputs: list[str] = Field([], description="outputs in the trajectory files (default: the endpoints' outputs)")


class TrialFile(_Strict):
    """An ivigsim virtual trial: a population, arms, endpoints, a size and a seed."""

    name: str = "trial"
    disease: str = Field("none", description=f"one of the diseases: {', '.join(DISEASES)}")
    indication: Literal[tuple(INDICATIONS)] | None = Field(None, description="dosing indication; default: the disease's")  # type: ignore[valid-type]
    seed: Whole = Field(description=f"0 to {MAX_SEED}")
    size: Whole = Field(description="patients per arm")
    design: Literal["paired", "parallel", "crossover"] = Field("paired", description=(
        "paired: every arm the same patients; parallel: each arm its own; crossover: each patient gets both arms' "
        "regimens in turn (AB or BA) over periods"))
    periods: list[PeriodFile] | None = Field(None, description="crossover: the two periods, e.g. [{days: 168}, {days: 168}]")
    washout_days: Quantity("day") | None = Field(None, description="crossover: untreated days between periods (default 0)")
    population: PopulationFile = PopulationFile()
    regimens: dict[str, RegimenFile] = Field({}, description="named regimens that arms refer to")
    arms: list[ArmFile]
    endpoints: list[EndpointFile]
    simulation: TrialSimulationFile = TrialSimulationFile()
    output: OutputFile = OutputFile()
    contrasts: list[ContrastFile] = Field([], description="between-arm contrasts of endpoints")
    stewardship: StewardshipFile = StewardshipFile()
    comparator_adverse_events: dict[str, ComparatorEventRateFile] = Field({}, description=COMPARATOR_EVENTS_HELP)
    run_in: RunInFile | None = Field(None, description="a run-in before randomisation, and who is randomised")
    subgroups: list[SubgroupFile] = Field([], description="every endpoint estimated again per stratum of a baseline value")

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


def _written(given, named: dict) -> RegimenFile | None:
    """The regimen section an arm's (or the run-in's) ``regimen:`` refers to: written inline, or
    under ``regimens``; None for a standard regimen (or an unknown name, refused elsewhere)."""
    return given if isinstance(given, RegimenFile) else named.get(given) if isinstance(given, str) else None


def _compile_regimen(regimen, indication: str, field: str, days: float | None = None,
                     written: RegimenFile | None = None) -> None:
    """Compile ``regimen`` for a 70-kg patient, so dosing errors surface before the run.

    An error's field is reported under ``field`` (``arms.1``: ``arms.1.regimen.course...``;
    ``regimens.NAME``: ``regimens.NAME.course...``), each part named as ``written`` (the
    regimen's section in the file) writes it, as a scenario names it. With ``days`` (the arms'
    span from randomisation), a part that would begin only after it does nothing and is
    refused, as a scenario refuses it: almost certainly a mistyped day.
    """
    from dataclasses import replace as _replace

    from ivigsim.model.patient import Patient

    root = field if field.startswith("regimens.") else f"{field}.regimen"

    def paths() -> list[str]:  # where each part is written (needed only to name one in an error)
        return written.build_with_paths()[1] if written is not None else ["regimen"] * len(regimen.parts)

    def under_root(text: str) -> str:  # "regimen.doses.1" -> "arms.1.regimen.doses.1"
        return root + text.removeprefix("regimen") if text.startswith("regimen") else text

    regimen = _replace(regimen, dosing_weight="actual")
    try:
        regimen.compile(Patient(weight_kg=70.0), indication)
    except InputError as exc:
        named = parts_as_written(exc, paths(), written)
        raise InputError(under_root(named.field), named.expected, named.got) from None
    late = late_part(regimen, Patient(weight_kg=70.0), indication, days) if days is not None else None
    if late is not None:  # the times do not depend on the patient: one compilation decides
        raise InputError(under_root(paths()[late[0]]), f"a part that begins within the simulation (before day "
                         f"{days:g}; or a longer simulation.days)", f"its first dose on day {late[1]:g}")


def _population_spec(pop, disease, model, base: Path, source: dict, prefix: str, size: int) -> tuple[PopulationSpec, dict]:
    """A ``PopulationSpec`` from the population section (or a sub-population) ``pop``; fields named
    under ``prefix`` (``population`` or ``population.subpopulations.N``)."""
    try:
        return _population_spec_unprefixed(pop, disease, model, base, source, size)
    except InputError as exc:
        if prefix == "population" or not exc.field.startswith("population."):
            raise
        raise InputError(prefix + exc.field.removeprefix("population"), exc.expected, exc.got) from None


def _population_spec_unprefixed(pop, disease, model, base: Path, source: dict, size: int) -> tuple[PopulationSpec, dict]:
    cov = pop.covariates
    if cov.csv is not None:
        others = [k for k in ("age_years", "weight_kg", "height_cm", "correlations", "growth_reference")
                  if getattr(cov, k) is not None]
        if others:
            raise InputError(f"population.covariates.{others[0]}", "nothing besides csv (the table gives the covariates)", "a distribution")
        path = Path(cov.csv.path)
        path = path if path.is_absolute() else base / path
        covariates = CsvCovariates.read(path, cov.csv.sampling)
        source = {**source, "_csv_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        if cov.csv.sampling == "in_order" and size > len(covariates.table):
            raise InputError("size", f"at most {len(covariates.table)} patients per arm (the rows of {path.name}, sampling in_order)", size)
    else:
        if cov.growth_reference is not None:
            given = [k for k in ("weight_kg", "height_cm") if getattr(cov, k) is not None]
            if given:
                raise InputError(f"population.covariates.{given[0]}", "no distribution with growth_reference (the "
                                 f"reference gives weight and height from age and sex: {cov.growth_reference})",
                                 "a distribution")
        pairs = {tuple(c.between): c.r for c in cov.correlations} if cov.correlations is not None else None
        covariates = CovariateModel(
            cov.female_fraction,
            cov.age_years.build() if cov.age_years else DEFAULT_AGE,
            cov.weight_kg.build() if cov.weight_kg else DEFAULT_WEIGHT,
            cov.height_cm.build() if cov.height_cm else DEFAULT_HEIGHT,
            MappingProxyType(pairs) if pairs is not None else CovariateModel().correlations,
            cov.growth_reference,
        )

    cvs = dict(disease.variability) if pop.disease_variability else {}
    variability = Variability(MappingProxyType({**cvs, **pop.variability}),
                              MappingProxyType({tuple(c.between): c.r for c in pop.correlations}))
    names = criterion_names(model)
    inclusion = tuple(Criterion.parse(text, f"population.inclusion.{i}", names)
                      for i, text in enumerate(pop.inclusion))
    # The disease's typical values for its patients (e.g. lower IgG in MG), then the trial's own.
    typical = {**disease.defaults, **pop.parameters}
    population = PopulationSpec(covariates, variability, MappingProxyType(typical), inclusion)
    try:
        population.check(model)
    except InputError as exc:  # the model names its own fields (parameters.NAME): they sit under population
        if exc.field.startswith("population."):
            raise
        raise InputError(f"population.{exc.field}", exc.expected, exc.got) from None
    return population, source


def _subpopulations(doc: TrialFile, base: Path, source: dict) -> tuple[tuple, dict]:
    """The sub-populations of a mixed population, each with its disease's model, checked."""
    from ivigsim.trial.spec import SubPopulation

    pop = doc.population
    extra = [k for k in ("covariates", "parameters", "variability", "disease_variability", "correlations", "inclusion")
             if k in pop.model_fields_set]
    if extra:
        raise InputError(f"population.{extra[0]}", "only risk_factors beside subpopulations (give it in each "
                         "sub-population)", getattr(pop, extra[0]))
    if not pop.subpopulations:
        raise InputError("population.subpopulations", "at least one sub-population", [])
    out = []
    for i, sub in enumerate(pop.subpopulations):
        prefix = f"population.subpopulations.{i}"
        from ivigsim.io.scenario_file import check_name

        check_name(sub.name, f"{prefix}.name", empty_ok=False)
        name = sub.disease or doc.disease
        if name not in DISEASES:
            raise InputError(f"{prefix}.disease", f"one of the diseases ({', '.join(DISEASES)})", name)
        disease = get_disease(name)
        model = compiled_model(name, _gives_comparators(doc))
        spec, source = _population_spec(sub, disease, model, base, source, prefix, doc.size)
        if "_csv_sha256" in source and sub.covariates.csv is not None:  # each table's own hash
            source = {**source, f"_csv_sha256_{i}": source.pop("_csv_sha256")}
        out.append(SubPopulation(sub.name, sub.share, name, sub.indication or disease.indication, spec))
    return tuple(out), source


def build_trial(doc: TrialFile, base: Path, source: dict) -> Trial:
    from ivigsim.io.scenario_file import check_name

    check_name(doc.name, "name")
    for i, arm in enumerate(doc.arms):
        check_name(arm.name, f"arms.{i}.name", empty_ok=False)
    for i, endpoint in enumerate(doc.endpoints):
        check_name(endpoint.name, f"endpoints.{i}.name", empty_ok=False)
    disease = get_disease(doc.disease)
    comparators = _gives_comparators(doc)  # then every arm runs on the comparator model (trial.comparators)
    model = compiled_model(doc.disease, comparators)
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

    subpopulations = ()
    if doc.population.subpopulations is not None:
        subpopulations, source = _subpopulations(doc, base, source)
        population = subpopulations[0].population
    else:
        population, source = _population_spec(doc.population, disease, model, base, source, "population", doc.size)
    given = {k: v for k, v in doc.population.risk_factors.model_dump().items() if v is not None}
    try:
        risk_factors = FactorPrevalence(**given)
    except InputError as exc:
        raise InputError(f"population.risk_factors.{exc.field.rsplit('.', 1)[-1]}", exc.expected, exc.got) from None

    # A mixed population: names are checked against every sub-population's model, regimens
    # compiled for every sub-population's indication.
    models = [compiled_model(g.disease, comparators).model for g in subpopulations] or [m]
    indications = list(dict.fromkeys([g.indication for g in subpopulations] or [indication]))
    outputs = [n for n in models[0].output_names if all(n in mm.output_names for mm in models[1:])]
    arms = []
    for i, a in enumerate(doc.arms):
        for mm in models:
            try:
                overrides = {**mm.switch_overrides(a.mechanisms), **a.parameters}
                mm.parameter_array(overrides)
            except InputError as exc:
                raise InputError(f"arms.{i}.{exc.field}", exc.expected, exc.got) from None
        regimen = _regimen(a, i, doc.regimens, doc)
        rules = _rules(a.rules, f"arms.{i}.rules", outputs, doc.simulation.days, regimen,
                       indications, doc) if a.rules is not None else None
        arms.append(Arm(a.name, regimen, MappingProxyType(dict(a.parameters)), MappingProxyType(dict(a.mechanisms)),
                        rules))
        if comparators:  # one FcRn inhibitor per arm regimen, its constants not also under the arm's parameters
            from ivigsim.trial.comparators import check_arm_parameters

            check_arm_parameters(arms[-1], f"arms.{i}")

    days = doc.simulation.days
    crossover = _crossover(doc) if doc.design == "crossover" or doc.periods is not None else None
    if crossover is not None:  # endpoints count from each period's start; days: the shortest period
        days = crossover.shortest
    endpoints = []
    for i, e in enumerate(doc.endpoints):
        field = f"endpoints.{i}"
        criterion = _threshold(e.criterion, f"{field}.criterion") if e.criterion is not None else None
        also_files = e.also if isinstance(e.also, list) else ([e.also] if e.also else [])
        also = tuple((a.measure, _threshold(a.criterion, f"{field}.also.{j}.criterion"))
                     for j, a in enumerate(also_files))
        endpoint = Endpoint(e.name, e.output, e.summary, e.measure, e.at_day, tuple(e.window) if e.window else None,
                            e.over_window, criterion, tuple(e.quantiles), also, e.reference_day, e.tau, e.given)
        try:
            endpoint.check(field, outputs, days)
        except InputError as exc:
            if crossover is None:
                raise
            raise InputError(exc.field, exc.expected.replace("(the simulated span)", "(within a crossover period, from "
                                                             "its start)"), exc.got) from None
        endpoints.append(endpoint)
    for name in doc.output.outputs:
        if name not in outputs:
            raise InputError("output.outputs", f"one of the model's outputs ({', '.join(outputs)})", name)
    from ivigsim.engine.methods import make_solver

    try:
        solver = make_solver(doc.simulation.method, doc.simulation.rtol, doc.simulation.atol)
    except InputError as exc:  # the library names its solver's fields; the file calls the section simulation
        raise InputError(f"simulation.{exc.field.rsplit('.', 1)[-1]}", exc.expected, exc.got) from None
    # The arms' span from randomisation, where one is fixed (a crossover's periods are checked
    # by the crossover; after a run-in, days count from its start).
    span = doc.simulation.days if crossover is None and doc.run_in is None else None
    for i, a in enumerate(arms):  # compile each regimen once now, so dosing errors surface before the run
        if a.regimen is not None:
            for each in indications:
                _compile_regimen(a.regimen, each, f"arms.{i}", span, _written(doc.arms[i].regimen, doc.regimens))
    used = {a.regimen for a in doc.arms if isinstance(a.regimen, str)}
    for name, regimen_file in doc.regimens.items():  # named regimens no arm uses are checked all the same
        if name in used:
            continue
        field = f"regimens.{name}"
        try:
            regimen = regimen_file.build()
        except InputError as exc:
            raise InputError(f"{field}.{exc.field.removeprefix('regimen.')}", exc.expected, exc.got) from None
        for each in indications:
            _compile_regimen(regimen, each, field, span, regimen_file)
    contrasts = _contrasts(doc, endpoints)
    stewardship = _stewardship(doc.stewardship)
    event_rates = comparator_event_rates(doc.comparator_adverse_events)
    run_in = _run_in(doc, outputs, indications) if doc.run_in is not None else None
    from ivigsim.trial.subgroups import Subgroup

    subgroups = tuple(Subgroup(g.name, g.by, tuple(g.cut)) for g in doc.subgroups)
    trial = Trial(doc.name, doc.disease, indication, population, tuple(arms), tuple(endpoints), doc.size, doc.seed,
                  doc.design, days, doc.simulation.output_every_days, solver, doc.output.trajectories,
                  tuple(doc.output.outputs), MappingProxyType(source), risk_factors, contrasts, stewardship,
                  subpopulations, run_in, subgroups, crossover=crossover,
                  comparator_event_rates=MappingProxyType(event_rates))
    if comparators:
        from ivigsim.trial.comparators import check_supported

        check_supported(trial)
    return trial


def _crossover(doc: TrialFile):
    """``design: crossover``'s periods and washout as a ``Crossover`` (the rest is checked with the trial)."""
    from ivigsim.trial.crossover import Crossover

    if doc.design != "crossover":
        raise InputError("periods", "periods only with design: crossover", doc.design)
    if not doc.periods:
        raise InputError("periods", "the crossover's periods, e.g. [{days: 168}, {days: 168}]", doc.periods)
    if "days" in doc.simulation.model_fields_set:
        raise InputError("simulation.days", "no simulation.days in a crossover (the periods give the span)",
                         doc.simulation.days)
    for i, p in enumerate(doc.periods):
        if not 0 < p.days <= 36500:
            raise InputError(f"periods.{i}.days", "a period length in days in (0, 36500]", p.days)
    washout = 0.0 if doc.washout_days is None else doc.washout_days
    if not 0 <= washout <= 36500:
        raise InputError("washout_days", "untreated days between periods in [0, 36500]", washout)
    return Crossover(tuple(float(p.days) for p in doc.periods), float(washout))


def _gives_comparators(doc: TrialFile) -> bool:
    """Whether an arm's regimen or the run-in's (inline or named) gives a comparator: the trial then
    runs on the comparator model (``ivigsim.trial.comparators``), so its names are checked against
    that model."""
    return any(_file_gives_comparators(doc, a.regimen) or (
        a.rules is not None and a.rules.on_relapse is not None and a.rules.on_relapse.comparator_cycle is not None)
        for a in doc.arms) or (doc.run_in is not None and _file_gives_comparators(doc, doc.run_in.regimen))


def _file_gives_comparators(doc: TrialFile, regimen) -> bool:
    """Whether a regimen as written (inline, or a name under ``regimens``) gives a comparator."""
    from ivigsim.io.scenario_file import COMPARATOR_FIELDS

    if isinstance(regimen, str):
        regimen = doc.regimens.get(regimen)
    return isinstance(regimen, RegimenFile) and any(getattr(regimen, f) is not None for f in COMPARATOR_FIELDS)


def _run_in(doc: TrialFile, outputs: list[str], indications: list[str]):
    """The ``run_in`` section as a ``RunIn``, checked: its regimen compiled, every criterion's
    output and days (within the run-in), and no infusion running at randomisation."""
    from ivigsim.trial.run_in import RunIn, check_plan
    from ivigsim.trial.spec import MAX_DAYS

    r = doc.run_in
    if doc.population.subpopulations is not None:
        raise InputError("run_in", "no run-in with population.subpopulations (not supported yet)", "a run-in")
    if not 0 < r.days <= MAX_DAYS:
        raise InputError("run_in.days", f"a run-in length in days in (0, {MAX_DAYS:g}]", r.days)
    try:  # resolved as an arm's regimen is; its mistakes named under run_in
        # (already validated with the file: not again, where comparators would be refused)
        regimen = _regimen(ArmFile.model_construct(name="run_in", regimen=r.regimen), 0, doc.regimens, doc)
    except InputError as exc:
        raise InputError(exc.field.replace("arms.0.", "run_in.", 1), exc.expected, exc.got) from None
    name = r.regimen if isinstance(r.regimen, str) else ("inline" if r.regimen is not None else "no treatment")
    select = []
    for i, c in enumerate(r.select):
        field = f"run_in.select.{i}"
        criterion = _threshold(c.criterion, f"{field}.criterion")
        also_files = c.also if isinstance(c.also, list) else ([c.also] if c.also else [])
        also = tuple((a.measure, _threshold(a.criterion, f"{field}.also.{j}.criterion")) for j, a in enumerate(also_files))
        at_day = c.at_day if c.at_day is not None or c.window is not None else r.days
        over = c.over_window if c.window is not None or c.over_window is not None else None
        if c.window is not None and over is None:
            raise InputError(f"{field}.over_window", "any or all for a window", None)
        select.append(Endpoint(f"select_{i}", c.output, "fraction", c.measure, at_day,
                               tuple(c.window) if c.window else None, over, criterion, (), also))
    run_in = RunIn(regimen, r.days, tuple(select), name)
    run_in.check(outputs, MAX_DAYS)
    for each in indications:
        if regimen is not None:
            _compile_regimen(regimen, each, "run_in", written=_written(r.regimen, doc.regimens))
        check_plan(regimen, r.days, each)
    return run_in


def _cycle(o: RetreatmentFile, where: str, regimen, doc: TrialFile):
    """``on_relapse.comparator_cycle`` as a ``ComparatorCycle``: the arm regimen's own part of that kind,
    or a regimen under ``regimens`` giving comparators only; the days counted from the cycle's first."""
    from ivigsim.dosing.comparators import COMPARATOR_PARTS, FcRnInhibitor, PlasmaExchange, SubcutaneousIgG
    from ivigsim.io.scenario_file import COMPARATOR_FIELDS
    from ivigsim.trial.rules import ComparatorCycle

    field = f"{where}.comparator_cycle"
    if "over_days" in o.model_fields_set:
        raise InputError(f"{where}.over_days", "no over_days with comparator_cycle (the cycle's own days)", o.over_days)
    if o.min_interval_days is None:
        raise InputError(f"{where}.min_interval_days", "days from the previous cycle's start before another may "
                         "start (required with comparator_cycle), e.g. 49", None)
    kinds = dict(zip(COMPARATOR_FIELDS, (PlasmaExchange, SubcutaneousIgG, FcRnInhibitor)))
    name = o.comparator_cycle
    own_parts = regimen.parts if regimen is not None else ()
    given = ", ".join(k for k, c in kinds.items() if any(isinstance(p, c) for p in own_parts)) or "none"
    only = ", ".join(n for n, f in doc.regimens.items() if _comparators_only(f)) or "none defined"
    expected = (f"the arm regimen's own comparator part ({given} in this arm) or a regimen under 'regimens' that "
                f"gives comparators only ({only})")
    own = name in kinds
    if own:
        parts = tuple(p for p in own_parts if isinstance(p, kinds[name]))
        if not parts:
            raise InputError(field, expected, name)
        start_hour = regimen.start_hour
    elif name in doc.regimens:
        try:
            named = doc.regimens[name].build()
        except InputError as exc:
            raise InputError(f"regimens.{name}.{exc.field.removeprefix('regimen.')}", exc.expected, exc.got) from None
        parts = named.parts
        if not parts or not all(isinstance(p, COMPARATOR_PARTS) for p in parts):
            raise InputError(field, expected, f"{name} (gives IVIG)")
        start_hour = named.start_hour
    else:
        raise InputError(field, expected, name)
    first = min(_part_days(p)[0] for p in parts)
    shifted = tuple(_shift_part(p, first) for p in parts)
    end = None
    if own:  # the course as scheduled: the first cycle (its session times do not depend on the patient)
        from ivigsim.dosing.comparators import compile_sessions
        from ivigsim.model.patient import Patient

        end = max(x.end_day for x in compile_sessions(parts, Patient(weight_kg=70.0), start_hour, 70.0, ()))
    return ComparatorCycle(name, shifted, o.min_interval_days, start_hour, own, first if own else None, end)


def _comparators_only(f: RegimenFile) -> bool:
    """Whether a regimen as written gives comparators and no IVIG."""
    from ivigsim.io.scenario_file import COMPARATOR_FIELDS

    return (f.standard is None and f.course is None and not f.doses and f.maintenance is None
            and any(getattr(f, c) is not None for c in COMPARATOR_FIELDS))


def _part_days(part) -> tuple[float, ...]:
    return tuple(part.days)


def _shift_part(part, by: float):
    """A comparator part with its days ``by`` earlier."""
    from ivigsim.dosing.comparators import SubcutaneousIgG

    if by == 0:
        return part
    if isinstance(part, SubcutaneousIgG):
        return replace(part, start_day=part.start_day - by,
                       until_day=None if part.until_day is None else part.until_day - by)
    return replace(part, days=tuple(d - by for d in part.days))


def _rules(r: RulesFile, where: str, outputs: list[str], days: float, regimen, indications: list[str],
           doc: TrialFile | None = None):
    """An arm's ``rules`` as ``Rules``, checked: each field, and every dose it can give compiled
    (the label's rates for the product) before the run; a comparator cycle resolved and checked
    against what it could overlap."""
    from ivigsim.dosing import Dose, get_product
    from ivigsim.trial.rules import Retreatment, Rules, Taper, dose_regimen, parse_relapse
    from ivigsim.trial.spec import Arm

    measure, threshold = parse_relapse(r.relapse, f"{where}.relapse")
    if r.product is not None:
        try:
            get_product(r.product)
        except InputError as exc:
            raise InputError(f"{where}.product", exc.expected, exc.got) from None
    taper = None
    if r.taper is not None:
        t = r.taper
        taper = Taper(t.stable_visits, t.cut_fraction, tuple(t.steps or ()), t.floor_g_per_kg, t.start_stable)
    retreat = None
    o = r.on_relapse
    if o is not None:
        if (o.dose_g_per_kg is None) == (o.comparator_cycle is None):
            raise InputError(f"{where}.on_relapse", "exactly one of dose_g_per_kg (IVIG) and comparator_cycle",
                             f"dose_g_per_kg={o.dose_g_per_kg}, comparator_cycle={o.comparator_cycle}")
        if o.comparator_cycle is not None:
            retreat = _cycle(o, f"{where}.on_relapse", regimen, doc)
        else:
            if o.min_interval_days is not None:
                raise InputError(f"{where}.on_relapse.min_interval_days", "min_interval_days only with "
                                 "comparator_cycle", o.min_interval_days)
            retreat = Retreatment(o.dose_g_per_kg, o.over_days)
    rules = Rules(r.assess_every_days, r.readout, threshold, measure, r.maintenance_g_per_kg, retreat, taper,
                  r.first_visit_day, r.product)
    rules.check(where, outputs, days)
    base = dose_regimen(Arm("rules", regimen, rules=rules))
    doses = [("maintenance_g_per_kg", r.maintenance_g_per_kg)] if r.maintenance_g_per_kg else []
    if isinstance(retreat, Retreatment):
        doses.append(("on_relapse.dose_g_per_kg", retreat.g_per_kg / retreat.over_days))
    for name, g in doses:
        for each in indications:
            try:
                _compile_regimen(replace(base, parts=(Dose(0.0, g),)), each, where)
            except InputError as exc:
                raise InputError(f"{where}.{name}", exc.expected, exc.got) from None
    _rule_doses_clear_of_exchanges(rules, where, days, regimen, base, indications)
    if not isinstance(retreat, Retreatment) and retreat is not None:
        from ivigsim.trial.rules import check_cycle

        for each in indications:
            check_cycle(rules, f"{where}.on_relapse.comparator_cycle", days, regimen, base, each)
    return rules


def _rule_doses_clear_of_exchanges(rules, where: str, days: float, regimen, base, indications: list[str]) -> None:
    """Under rules in an arm whose regimen gives plasma exchange, no dose a visit can give may overlap an
    exchange session (it would remove the IVIG being infused; a scenario refuses the same). Session
    and infusion times do not depend on the patient, and a larger dose runs longer, so the visit's
    largest doses (maintenance at its start, the re-treatment) decide for every patient."""
    from ivigsim.dosing import Course, Dose
    from ivigsim.dosing.comparators import PlasmaExchange
    from ivigsim.model.patient import Patient

    exchanges = tuple(p for p in (regimen.parts if regimen is not None else ()) if isinstance(p, PlasmaExchange))
    if not exchanges:
        return
    patient = Patient(weight_kg=70.0)
    sessions = replace(regimen, parts=exchanges, dosing_weight="actual").compile(patient, indications[0]).sessions
    parts = []
    if rules.maintenance_g_per_kg:
        parts.append(Dose(0.0, rules.maintenance_g_per_kg))
    if rules.on_relapse is not None and hasattr(rules.on_relapse, "g_per_kg"):
        r = rules.on_relapse
        parts.append(Dose(0.0, r.g_per_kg) if r.over_days == 1 else Course(r.g_per_kg, r.over_days))
    for each in indications:
        for part in parts:
            spans = [(min(w.start_day for w in i.windows), max(w.end_day for w in i.windows)) for i in
                     replace(base, parts=(part,), dosing_weight="actual").compile(patient, each).infusions]
            for v in rules.visits(days):
                for s in sessions:
                    for a, b in spans:
                        if s.start_day < v + b - 1e-9 and v + a < s.end_day - 1e-9:
                            raise InputError(f"{where}.assess_every_days", "visits whose rule doses overlap no "
                                             "plasma-exchange session of the arm's regimen",
                                             f"a dose at the visit on day {v:g} overlaps {s.label}")


def _contrasts(doc: TrialFile, endpoints: list[Endpoint]) -> tuple[Contrast, ...]:
    """Each ``contrasts`` entry as the contrasts it stands for, checked with the entry's field names."""
    arm_names = [a.name for a in doc.arms]
    summaries = {e.name: e.summary for e in endpoints}
    out = []
    for i, c in enumerate(doc.contrasts):
        field = f"contrasts.{i}"
        if (c.arms is None) == (c.reference is None):
            raise InputError(field, "exactly one of arms: [arm, reference] and reference: ARM",
                             f"arms={c.arms}, reference={c.reference}")
        if c.arms is not None:
            if len(c.arms) != 2:
                raise InputError(f"{field}.arms", "two arm names, [arm, reference]", c.arms)
            pairs = [tuple(c.arms)]
        else:
            if c.reference not in arm_names:
                raise InputError(f"{field}.reference", f"an arm of this trial ({', '.join(arm_names)})", c.reference)
            pairs = [(a, c.reference) for a in arm_names if a != c.reference]
        if c.endpoint is not None and c.endpoints is not None:
            raise InputError(field, "one of endpoint and endpoints", f"endpoint={c.endpoint}, endpoints={c.endpoints}")
        named = [c.endpoint] if c.endpoint is not None else c.endpoints
        where = f"{field}.endpoint" if c.endpoint is not None else f"{field}.endpoints"
        if named is not None and not named:
            raise InputError(where, f"at least one endpoint of this trial ({', '.join(summaries)})", named)
        for m in c.measures or ():
            if m not in MEASURES:
                raise InputError(f"{field}.measures", f"some of {', '.join(MEASURES)}", m)
        entry = []
        for name in (named if named is not None else list(summaries)):
            if name not in summaries:
                raise InputError(where, f"an endpoint of this trial ({', '.join(summaries)})", name)
            if c.measures is None:
                measures = default_measures(summaries[name])
            elif named is None:  # every endpoint: the measures that fit each
                measures = tuple(m for m in c.measures if m in allowed_measures(summaries[name]))
            else:
                measures = tuple(c.measures)
            if measures:
                entry += [Contrast(name, a, r, measures, tuple(c.cutpoints)) for a, r in pairs]
        if not entry:
            raise InputError(f"{field}.measures", "measures that fit at least one endpoint", c.measures)
        for contrast in entry:
            contrast.check(field, arm_names, summaries)
        out += entry
    return tuple(out)


def _stewardship(doc: StewardshipFile) -> Stewardship:
    if not doc.currency.isprintable() or len(doc.currency) > 12:
        raise InputError("stewardship.currency", "a label of at most 12 printable characters, e.g. AUD", doc.currency)
    return Stewardship(doc.price_per_g, doc.currency, tuple(doc.vial_sizes_g), doc.vial_rounding)


def parse_trial(data: Any, where: str = "trial", base: Path | None = None) -> Trial:
    if not isinstance(data, dict):
        raise InputError(where, "a mapping of trial fields (name, seed, size, population, arms, endpoints, ...)",
                         type(data).__name__)
    try:
        doc = TrialFile.model_validate(data, context={COMPARATORS_ALLOWED: True})  # arms may give comparators
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
