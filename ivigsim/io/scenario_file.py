"""The scenario file (YAML): its schema, and its translation into a ``Scenario``.

The pydantic models here describe the file exactly as users write it; unknown fields
are refused. ``load_scenario`` turns every problem (YAML syntax, schema, physiology,
dosing) into one ``InputError`` naming the field, what was expected and what was got.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (BaseModel, ConfigDict, Field, StrictBool, ValidationError, ValidationInfo, field_validator,
                      model_validator)

from ivigsim.dosing import (
    INDICATIONS,
    PRODUCTS,
    STANDARD_REGIMENS,
    Course,
    Dose,
    InfusionSpec,
    Maintenance,
    Regimen,
    Titration,
    get_product,
    get_standard_regimen,
)
from ivigsim.dosing.comparators import (DEFAULT_SCIG_DOSE_ADJUSTMENT, FcRnInhibitor, InhibitorKinetics, PlasmaExchange,
                                        SubcutaneousIgG, scig_dose_from_ivig)
from ivigsim.dosing.premedication import Premedication
from ivigsim.engine.solver import Dopri5
from ivigsim.errors import InputError
from ivigsim.io.quantities import Number, Quantity, Whole
from ivigsim.io.text import read_text
from ivigsim.model.library import DISEASES
from ivigsim.model.patient import Patient
from ivigsim.safety.comparators import DEFAULT_SOURCE, DeclaredRate, check_event_names
from ivigsim.safety.factors import BLOOD_GROUPS, RiskFactors
from ivigsim.scenario import Scenario


#: How the library names the fields of the objects a file section builds.
_LIBRARY_ROOTS = re.compile(
    r"^(regimen\.(dose|course|maintenance|plasma_exchange|scig|fcrn_inhibitor)|solver|patient|infusion(?=\.))")


@contextmanager
def field_prefix(prefix: str, replace_whole: bool = False):
    """Re-raise an InputError from the library with the field named as written in the file.

    The library names fields by its own objects (``regimen.dose.g_per_kg``, ``solver.rtol``,
    ``infusion.titration.factor``); they are re-rooted at the file's section
    (``regimen.doses.0.g_per_kg``, ``simulation.rtol``, ``regimen.course.infusion.titration.factor``).
    """
    try:
        yield
    except InputError as exc:
        field = exc.field
        if replace_whole:
            field = prefix
        elif field.startswith(("parameters", "mechanisms", prefix)):
            pass
        elif field == "infusion" and prefix.endswith(".infusion"):
            field = prefix  # the section itself (at most one of duration_h, rate, titration)
        elif field.startswith("infusion.") and prefix.endswith(".infusion"):
            field = prefix + field[len("infusion"):]  # the section is the infusion itself
        elif field.startswith("infusion."):
            field = f"{prefix}.{field}"
        elif _LIBRARY_ROOTS.match(field):
            field = prefix + field[_LIBRARY_ROOTS.match(field).end():]
        else:
            field = f"{prefix}.{field.rsplit('.', 1)[-1]}"
        raise type(exc)(field, exc.expected, exc.got) from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PatientFile(_Strict):
    weight_kg: Quantity("kg") = Field(70.0, description="actual body weight")
    height_cm: Quantity("cm") | None = Field(None, description="needed for ideal or adjusted dosing weight")
    sex: Literal["female", "male"] = "male"
    age_years: Quantity("year") = 45.0


class TitrationFile(_Strict):
    start_mg_per_kg_min: Number
    step_minutes: Quantity("minute")
    max_mg_per_kg_min: Number
    factor: Number = 2.0


class InfusionFile(_Strict):
    """At most one of duration_h, rate_mg_per_kg_min, titration; none = the label titration."""

    duration_h: Quantity("hour") | None = None
    rate_mg_per_kg_min: Number | None = None
    titration: TitrationFile | None = None

    def build(self) -> InfusionSpec:
        titration = Titration(**self.titration.model_dump()) if self.titration else None
        return InfusionSpec(self.duration_h, self.rate_mg_per_kg_min, titration)


def _infusion(own: InfusionFile | None, default: InfusionSpec | None) -> InfusionSpec | None:
    return default if own is None else own.build()


class DoseFile(_Strict):
    day: Quantity("day")
    g_per_kg: Quantity("g/kg")
    infusion: InfusionFile | None = None

    def build(self, default: InfusionSpec | None) -> Dose:
        return Dose(self.day, self.g_per_kg, _infusion(self.infusion, default))


class CourseFile(_Strict):
    total_g_per_kg: Quantity("g/kg")
    days: Whole
    start_day: Quantity("day") = 0.0
    infusion: InfusionFile | None = None

    def build(self, default: InfusionSpec | None) -> Course:
        return Course(self.total_g_per_kg, self.days, self.start_day, _infusion(self.infusion, default))


class MaintenanceFile(_Strict):
    g_per_kg: Quantity("g/kg")
    every_days: Quantity("day")
    start_day: Quantity("day")
    count: Whole | None = None
    until_day: Quantity("day") | None = None
    infusion: InfusionFile | None = None

    def build(self, default: InfusionSpec | None) -> Maintenance:
        return Maintenance(self.g_per_kg, self.every_days, self.start_day, self.count, self.until_day,
                           _infusion(self.infusion, default))


class PlasmaExchangeFile(_Strict):
    """Plasma-exchange sessions (docs/comparators.md)."""

    days: list[Quantity("day")] = Field(description="the days of the sessions, e.g. [0, 2, 4, 6, 8]")
    plasma_volumes: Number = Field(1.0, description="estimated plasma volumes (Kaplan) exchanged per session, 0-3")
    duration_h: Quantity("hour") = Field(2.0, description="length of each session")
    replacement: Literal["albumin", "plasma"] = Field("albumin", description="replacement fluid")
    haematocrit: Number | None = Field(None, description="for the estimated plasma volume; default 0.45 men, 0.40 women")
    start_hour: Number | None = Field(None, description="clock hour sessions start; default the regimen's start_hour")

    def build(self) -> PlasmaExchange:
        return PlasmaExchange(tuple(self.days), self.plasma_volumes, self.duration_h, self.replacement,
                              self.haematocrit, self.start_hour)


class ScigFromIvigFile(_Strict):
    """The IVIG regimen an SCIG regimen replaces, for the labels' dose conversion."""

    g_per_kg: Quantity("g/kg") = Field(description="the IVIG dose per infusion it replaces")
    every_days: Quantity("day") = Field(description="the IVIG interval it replaces")
    dose_adjustment: Number = Field(DEFAULT_SCIG_DOSE_ADJUSTMENT, description=(
        "weekly SCIG dose = IVIG dose per week x this: 1.37 by default (US labels as commonly quoted; check the "
        "product's label), 1 for European labels (the same monthly dose); accepted from 1 to 2"))


class ScigFile(_Strict):
    """Subcutaneous IgG doses, every ``every_days`` (exactly one of count, until_day; exactly one of
    g_per_kg, from_ivig)."""

    g_per_kg: Quantity("g/kg") | None = Field(None, description="dose per subcutaneous infusion, on the dosing weight")
    from_ivig: ScigFromIvigFile | None = Field(None, description=(
        "instead of g_per_kg: the IVIG regimen this replaces, converted by the labels' rule "
        "(docs/comparators.md, 'Subcutaneous IgG')"))
    every_days: Quantity("day") = 7.0
    start_day: Quantity("day") = 0.0
    count: Whole | None = None
    until_day: Quantity("day") | None = None
    duration_h: Quantity("hour") = 1.0
    start_hour: Number | None = None

    def build(self) -> SubcutaneousIgG:
        if (self.g_per_kg is None) == (self.from_ivig is None):
            raise InputError("regimen.scig", "exactly one of g_per_kg, from_ivig",
                             "both" if self.g_per_kg is not None else "neither")
        rest = (self.every_days, self.start_day, self.count, self.until_day, self.duration_h, self.start_hour)
        if self.from_ivig is None:
            return SubcutaneousIgG(self.g_per_kg, *rest)
        f = self.from_ivig
        dose = scig_dose_from_ivig(f.g_per_kg, f.every_days, self.every_days, f.dose_adjustment)
        try:
            return SubcutaneousIgG(dose, *rest)
        except InputError as exc:  # the converted dose beyond SCIG's limits: the conversion's input is at fault
            if exc.field not in ("regimen.scig.g_per_kg", "regimen.scig.every_days"):
                raise
            raise InputError("regimen.scig.from_ivig", "an IVIG regimen whose conversion SCIG can take ("
                             f"{exc.expected})", f"{dose:.4g} g/kg every {self.every_days:g} days") from None


class InhibitorKineticsFile(_Strict):
    """A user-defined FcRn inhibitor's own constants (docs/comparators.md, "Another FcRn inhibitor")."""

    kd_g_per_L: Quantity("g/L") = Field(description="plasma concentration occupying half of FcRn")
    clearance_70kg_L_per_day: Quantity("L/day") = Field(description="elimination clearance at 70 kg")
    peripheral_volume_L_per_kg: Quantity("L/kg") = Field(description="peripheral volume of distribution per kg")
    distribution_clearance_70kg_L_per_day: Quantity("L/day") = Field(
        description="inter-compartment clearance at 70 kg")
    source: str = Field(description="what the values rest on: a citation, or 'assumption: ...'")
    target_g_per_L: Quantity("g/L") = Field(0.0, description=(
        "target-mediated disposition: FcRn accessible to the drug at baseline, as the drug mass it binds 1:1 per "
        "litre of plasma (default 0: none)"))
    internalisation_per_day: Quantity("1/day") | None = Field(None, description=(
        "target-mediated disposition: internalisation rate of the drug-FcRn complex (default: FcRn's own "
        "turnover, no depletion)"))
    between_patient_cv: dict[str, Number] = Field({}, description=(
        "between-patient variability of any of the constants above, by name, as the CV of a log-normal (0.24 = 24 "
        "%): each virtual patient of a trial draws its own value (default: none)"))

    def build(self) -> InhibitorKinetics:
        check_name(self.source, "regimen.fcrn_inhibitor.kinetics.source", empty_ok=False)
        return InhibitorKinetics(self.kd_g_per_L, self.clearance_70kg_L_per_day, self.peripheral_volume_L_per_kg,
                                 self.distribution_clearance_70kg_L_per_day, self.source, self.target_g_per_L,
                                 self.internalisation_per_day, self.between_patient_cv)


class FcRnInhibitorFile(_Strict):
    """FcRn-inhibitor infusions; the defaults are efgartigimod's label cycle (10 mg/kg weekly x 4).
    Nipocalimab's constants are shipped too; another drug needs its own ``kinetics``."""

    drug: str = Field("efgartigimod", description="efgartigimod or nipocalimab (shipped), or any name with its kinetics")
    days: list[Quantity("day")] = Field([0.0, 7.0, 14.0, 21.0], description="the days of the infusions")
    mg_per_kg: Quantity("mg/kg") = 10.0
    duration_h: Quantity("hour") = 1.0
    max_mg_per_infusion: Quantity("mg") | None = Field(
        None, description="cap per infusion; default 1200 mg for efgartigimod (label), none for another drug")
    start_hour: Number | None = None
    kinetics: InhibitorKineticsFile | None = Field(None, description="a user-defined drug's own constants")

    def build(self) -> FcRnInhibitor:
        kinetics = self.kinetics.build() if self.kinetics is not None else None
        return FcRnInhibitor(tuple(self.days), self.mg_per_kg, self.duration_h, self.drug,
                             self.max_mg_per_infusion, self.start_hour, kinetics)


#: Regimen fields that give a comparator rather than IVIG (docs/comparators.md).
COMPARATOR_FIELDS = ("plasma_exchange", "scig", "fcrn_inhibitor")
#: The validation context under which a regimen may hold comparators: scenario files and trial files
#: (``ivigsim.trial.comparators``); a regimen validated without it refuses them.
COMPARATORS_ALLOWED = "comparators_allowed"


class PremedicationFile(_Strict):
    """Premedication before every infusion (docs/safety.md, "Premedication")."""

    antihistamine: bool = False
    paracetamol: bool = False
    corticosteroid: bool = False
    odds_ratios: dict[str, Number] = Field({}, description=(
        "your assumption: each patient's odds ratio per infusion of headache, fever_chills or "
        "immediate_reaction with this premedication (default: 1, no effect; nothing published is shipped)"))


class RegimenFile(_Strict):
    """Either ``standard`` (a shipped regimen) or one or more of course, doses, maintenance;
    and any comparators (plasma_exchange, scig, fcrn_inhibitor)."""

    standard: str | None = Field(None, description=f"a shipped regimen: {', '.join(STANDARD_REGIMENS)}")
    product: str = Field("generic-10", description=f"one of {', '.join(PRODUCTS)}")
    dosing_weight: Literal["actual", "ideal", "adjusted"] = "actual"
    start_hour: Number = 0.0
    allow_above_label: bool = False
    infusion: InfusionFile | None = Field(None, description="how every infusion runs unless a part says otherwise")
    course: CourseFile | None = None
    doses: list[DoseFile] = []
    maintenance: list[MaintenanceFile] | MaintenanceFile | None = None
    plasma_exchange: list[PlasmaExchangeFile] | PlasmaExchangeFile | None = Field(
        None, description="plasma-exchange sessions")
    scig: list[ScigFile] | ScigFile | None = Field(None, description="subcutaneous IgG")
    fcrn_inhibitor: list[FcRnInhibitorFile] | FcRnInhibitorFile | None = Field(
        None, description="an FcRn inhibitor, efgartigimod or user-defined")
    premedication: PremedicationFile | None = Field(None, description=(
        "agents given before every infusion; they act on headache, fever/chills and immediate reactions "
        "(no effect unless odds_ratios are given: docs/safety.md)"))

    @field_validator("infusion")
    @classmethod
    def _not_with_standard(cls, infusion, info: ValidationInfo):
        # A shipped regimen's infusions run at its label titration; an 'infusion' section
        # beside it used to be read and then ignored, so a rate the user wrote did nothing.
        if infusion is not None and info.data.get("standard") is not None:
            raise ValueError("no 'infusion' with a 'standard' regimen (its infusions follow the label's "
                             "titration); to set the rate, write the course or doses out with their own 'infusion'")
        return infusion

    @model_validator(mode="after")
    def _one_kind(self, info: ValidationInfo) -> RegimenFile:
        has_parts = self.course is not None or self.doses or self.maintenance is not None
        comparators = [name for name in COMPARATOR_FIELDS if getattr(self, name) is not None]
        if comparators and not (info.context or {}).get(COMPARATORS_ALLOWED):
            raise ValueError(f"no '{comparators[0]}' here: comparators are supported in scenario and trial "
                             "files, not here")
        if self.standard is not None and has_parts:
            raise ValueError("either 'standard' or course/doses/maintenance, not both")
        if self.standard is None and not has_parts and not comparators:
            raise ValueError("a 'standard' regimen name, or at least one of course, doses, maintenance, "
                             + ", ".join(COMPARATOR_FIELDS))
        return self

    def build(self) -> Regimen:
        return self.build_with_paths()[0]

    def build_with_paths(self) -> tuple[Regimen, list[str]]:
        """The regimen, and where each of its parts is written in the file (for error messages).

        An error in a part names the part as written in the file.
        """
        with field_prefix("regimen.product", replace_whole=True):
            product = get_product(self.product)
        if self.standard is not None:
            with field_prefix("regimen.standard", replace_whole=True):
                parts = list(get_standard_regimen(self.standard).regimen.parts)
            paths = ["regimen.standard"] * len(parts)
        else:
            with field_prefix("regimen.infusion"):
                default = self.infusion.build() if self.infusion else None
            parts, paths = [], []
            maintenance = self.maintenance if isinstance(self.maintenance, list) else (
                [self.maintenance] if self.maintenance else [])
            written = ([("regimen.course", self.course)] if self.course else []) + [
                (f"regimen.doses.{i}", d) for i, d in enumerate(self.doses)] + [
                (f"regimen.maintenance.{i}" if isinstance(self.maintenance, list) else "regimen.maintenance", m)
                for i, m in enumerate(maintenance)]
            for path, part in written:
                with field_prefix(path):
                    parts.append(part.build(default))
                paths.append(path)
        for name in COMPARATOR_FIELDS:  # comparators: alone, with IVIG parts or with a standard regimen
            given = getattr(self, name)
            blocks = given if isinstance(given, list) else ([given] if given is not None else [])
            for i, block in enumerate(blocks):
                path = f"regimen.{name}.{i}" if isinstance(given, list) else f"regimen.{name}"
                with field_prefix(path):
                    parts.append(block.build())
                paths.append(path)
        premedication = None
        if self.premedication is not None:
            p = self.premedication
            premedication = Premedication(p.antihistamine, p.paracetamol, p.corticosteroid, dict(p.odds_ratios))
        with field_prefix("regimen"):
            regimen = Regimen(tuple(parts), product, self.dosing_weight, self.start_hour,
                              self.allow_above_label, self.standard or "", premedication)
        return regimen, paths


class SimulationFile(_Strict):
    days: Quantity("day") = 60.0
    output_every_days: Quantity("day") = 1.0
    rtol: Number = 1e-6
    atol: Number = 1e-9


class RiskFactorsFile(_Strict):
    """Patient risk factors for adverse events; every field optional."""

    migraine_history: StrictBool = False
    iga_deficient_with_anti_iga: StrictBool = Field(False, description="IgA deficiency with anti-IgA antibodies")
    blood_group: Literal[BLOOD_GROUPS] | None = Field(None, description="ABO group; omit if unknown")  # type: ignore[valid-type]
    prior_thrombosis: StrictBool = False
    diabetes: StrictBool = False
    renal_impairment: StrictBool = False
    obese: StrictBool | None = Field(None, description="omit to decide from weight and height (BMI >= 30)")
    inflammation: StrictBool = Field(False, description="active systemic inflammation (haemolysis)")
    ivig_naive: StrictBool = Field(True, description="the regimen's first infusion is the patient's first IVIG")

    def build(self) -> RiskFactors:
        return RiskFactors(**self.model_dump())


class ComparatorEventRateFile(_Strict):
    """A probability per exposure of a comparator's adverse event, declared with its source."""

    probability: Number = Field(description=(
        "probability of the event per exposure: per plasma-exchange session, SCIG dose or FcRn-inhibitor "
        "infusion (each an independent chance), from 0 to 1"))
    source: str = Field(DEFAULT_SOURCE, description=(
        "where the figure comes from (your unit's audit, a registry): printed beside the incidence"))


#: The description of a file's ``comparator_adverse_events`` section (scenario and trial files).
COMPARATOR_EVENTS_HELP = (
    "probabilities per exposure of the comparators' adverse events (plex_hypotension, plex_citrate_reaction, "
    "plex_line_complication, scig_site_reaction, fcrn_inhibitor_headache, fcrn_inhibitor_infection), e.g. "
    "{plex_hypotension: {probability: 0.02, source: 'our audit'}}: ivigsim ships none (docs/safety.md)")


def comparator_event_rates(doc: dict[str, ComparatorEventRateFile]) -> dict[str, DeclaredRate]:
    """``comparator_adverse_events`` of a scenario or trial file: each a known comparator event
    with a probability per exposure and a source."""
    check_event_names(doc)
    return {name: DeclaredRate(r.probability, r.source, f"comparator_adverse_events.{name}") for name, r in doc.items()}


class ScenarioFile(_Strict):
    """An ivigsim scenario: one patient, one regimen (or none), one time span."""

    name: str = "scenario"
    patient: PatientFile = PatientFile()
    disease: Literal[tuple(DISEASES)] | None = Field(  # type: ignore[valid-type]
        None, description="the disease module (its pathology and readouts); omit for none")
    indication: Literal[tuple(INDICATIONS)] | None = Field(  # type: ignore[valid-type]
        None, description="the dosing indication (label rates); defaults to the disease's")
    regimen: RegimenFile | None = Field(None, description="omit for no treatment")
    simulation: SimulationFile = SimulationFile()
    parameters: dict[str, Number] = Field({}, description="model parameter overrides by name")
    mechanisms: dict[str, bool | Number] = Field({}, description="mechanism switches: true, false or a strength")
    risk_factors: RiskFactorsFile | None = Field(None, description="adverse-event risk factors (see docs/safety.md)")
    comparator_adverse_events: dict[str, ComparatorEventRateFile] = Field({}, description=COMPARATOR_EVENTS_HELP)

    def build(self) -> Scenario:
        check_name(self.name, "name")
        indication = self.indication
        if indication is None and self.disease is not None:
            indication = DISEASES[self.disease].indication
        if indication is None and self.regimen and self.regimen.standard:
            with field_prefix("regimen.standard", replace_whole=True):
                indication = get_standard_regimen(self.regimen.standard).indication
        with field_prefix("patient"):
            patient = Patient(**self.patient.model_dump())
        with field_prefix("simulation"):
            solver = Dopri5(rtol=self.simulation.rtol, atol=self.simulation.atol)
        regimen = None
        if self.regimen is not None:
            regimen, paths = self.regimen.build_with_paths()
            # Validate early: a rate above the label is refused now, naming the part as written.
            try:
                plan = regimen.compile(patient, indication)
            except InputError as exc:
                raise parts_as_written(exc, paths, self.regimen) from None
            first = min((inf.start_day for inf in plan.infusions), default=0.0)
            if not plan.infusions and getattr(plan, "sessions", ()):  # comparators only
                first = min(s.start_day for s in plan.sessions)
            if first >= self.simulation.days:
                # Nothing would be infused: the summary would say 0 g and credit noise to mechanisms.
                raise InputError("simulation.days", f"a span that reaches the first infusion (day {first:g}); "
                                 "or no regimen", self.simulation.days)
            _refuse_parts_after_the_end(regimen, paths, patient, indication, self.simulation.days)
        rates = comparator_event_rates(self.comparator_adverse_events)
        with field_prefix("simulation"):
            return Scenario(
                patient=patient,
                regimen=regimen,
                disease=self.disease,
                indication=indication,
                days=self.simulation.days,
                output_every_days=self.simulation.output_every_days,
                parameters=dict(self.parameters),
                mechanisms=dict(self.mechanisms),
                solver=solver,
                name=self.name,
                risk_factors=self.risk_factors.build() if self.risk_factors else None,
                comparator_event_rates=rates,
            )


def check_name(name: str, field: str, *, empty_ok: bool = True) -> None:
    """A name is printed to the terminal and written into files: printable text, one line
    (and not empty where it labels a column or a row of the results: an arm, an endpoint)."""
    if not empty_ok and not name.strip():
        raise InputError(field, "a name that is not empty (it labels the results)", name)
    if not name.isprintable() or len(name) > 200:
        raise InputError(field, "printable text of at most 200 characters (no control characters or escape "
                         "sequences)", name)


def parse_scenario(data: Any, where: str = "scenario") -> Scenario:
    """Validate a parsed YAML/JSON document and build the scenario."""
    if not isinstance(data, dict):
        raise InputError(where, "a mapping of scenario fields (name, patient, regimen, ...)", type(data).__name__)
    try:
        return ScenarioFile.model_validate(data, context={COMPARATORS_ALLOWED: True}).build()
    except ValidationError as exc:
        raise validation_to_input_error(exc) from None


def parse_risk_factors(data: Any, where: str = "risk_factors") -> RiskFactors:
    """Validate a parsed ``risk_factors`` mapping given on its own (``ivigsim safety --factors``,
    the web's field; ``None`` = no factors) and build the risk factors. Errors name the field
    under ``where`` and read as the scenario file's do (``validation_to_input_error``)."""
    if data is None:
        return RiskFactors()
    if not isinstance(data, dict):
        raise InputError(where, "a mapping of risk factors (migraine_history, blood_group, ...)", type(data).__name__)
    try:
        return RiskFactorsFile.model_validate(data).build()
    except ValidationError as exc:
        error = validation_to_input_error(exc)
        raise InputError(f"{where}.{error.field}", error.expected, error.got) from None


def load_scenario(path: str | Path) -> Scenario:
    return parse_scenario(read_yaml(path), str(path))


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML, refusing a key given twice in one mapping (YAML would keep the last silently)
    and a key that is a list or a mapping. Merge keys (``<<: *defaults``) work as in YAML 1.1:
    a key written in the mapping overrides the one merged in."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (list, dict)):
                raise yaml.constructor.ConstructorError(
                    None, None, "a key that is a list or a mapping (keys are names)", key_node.start_mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


#: The most nodes a YAML document may expand to (aliases counted each time they are used):
#: a scenario or trial file has a few hundred; a "billion laughs" alias bomb has 10^9.
MAX_YAML_NODES = 100_000


def _expanded_size(node, memo: dict[int, int], depth: int = 0) -> int:
    """Nodes in the document once every alias is expanded, counted on the composed graph
    (an alias is the same node object again, so the count is memoised: linear time)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if depth > 200:
        raise RecursionError("nesting deeper than 200")
    if isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, memo, depth + 1) + _expanded_size(v, memo, depth + 1) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(v, memo, depth + 1) for v in node.value)
    else:
        size = 1
    memo[key] = size
    return size


def read_yaml(path: str | Path, field: str = "FILE", what: str = "scenario file") -> Any:
    path = Path(path)
    text = read_text(path, field, what)
    try:
        loader = _UniqueKeyLoader(text)
        try:
            root = loader.get_single_node()
            if root is not None and _expanded_size(root, {}) > MAX_YAML_NODES:
                raise InputError(str(path), f"a document of at most {MAX_YAML_NODES:,} values once its aliases "
                                 "(*name) are expanded", "more (an alias bomb?)")
            return loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except InputError:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(str(path), "valid YAML", f"{problem}{at}") from None
    except (RecursionError, ValueError) as exc:  # absurd nesting; integers beyond Python's digit limit
        raise InputError(str(path), "a scenario file of ordinary size and depth", exc.__class__.__name__) from None


#: Pydantic's names for the members of a union, which appear in error locations.
_TYPE_TAG = re.compile(
    r"^(list|dict|tuple|set|bool|int|float|str|constrained-\w+|function-\w+)(\[.*\])?$|\[|^[A-Z]\w*File$")


def _readable(err: dict) -> tuple[str, str, object]:
    loc = [str(p) for p in err["loc"] if not _TYPE_TAG.search(str(p))]
    field = ".".join(loc) or "scenario"
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return field, "no such field (check the spelling; `ivigsim schema` lists them)", err["input"]
    if err["type"] == "missing":
        return field, "this field (it is required)", "nothing"
    message = message.removeprefix("Input should be ")
    expected = message.partition(", got ")[0]
    return field, expected[0].lower() + expected[1:], err["input"]


def validation_to_input_error(exc: ValidationError) -> InputError:
    """One pydantic error as one line: field path, what was expected, what was got.

    Where a field accepts several forms (one maintenance block or a list of them), pydantic
    reports a failure for each form; the most specific one (deepest location, not a
    complaint about the form's type) is the one the user needs.
    """
    errors = exc.errors()
    specific = [e for e in errors if not e["type"].endswith("_type")] or errors
    err = max(specific, key=lambda e: len([p for p in e["loc"] if not _TYPE_TAG.search(str(p))]))
    return InputError(*_readable(err))


def scenario_json_schema() -> dict:
    schema = ScenarioFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ivigsim scenario"
    return schema


def late_part(regimen, patient, indication, days: float) -> tuple[int, float] | None:
    """The first part of ``regimen`` that would begin only at or after ``days`` (its index and
    first day), or None. Such a part does nothing in the span, so it is almost certainly a
    mistyped day (``start_day: 500`` in a 189-day simulation); a part that begins inside the
    span and runs past its end is an ongoing prescription seen through its window."""
    from dataclasses import replace

    for k, part in enumerate(regimen.parts):
        plan = replace(regimen, parts=(part,)).compile(patient, indication)
        starts = [i.start_day for i in plan.infusions] + [s.start_day for s in getattr(plan, "sessions", ())]
        if starts and min(starts) >= days:
            return k, min(starts)
    return None


def _refuse_parts_after_the_end(regimen, paths, patient, indication, days: float) -> None:
    """A part that begins only after the simulation ends (``late_part``) is refused, naming
    the part as written."""
    if len(regimen.parts) < 2:
        return  # the one part's start is the first infusion's, checked above
    late = late_part(regimen, patient, indication, days)
    if late is not None:
        raise InputError(paths[late[0]], f"a part that begins within the simulation (before day {days:g}; or a "
                         "longer simulation.days)", f"its first dose on day {late[1]:g}")


_PART = re.compile(r"parts\[(\d+)\]")


def parts_as_written(exc: InputError, paths: list[str], regimen_file=None) -> InputError:
    """``exc`` from compiling a regimen, its ``parts[k]`` named where part k is written
    (``paths[k]``, from ``RegimenFile.build_with_paths``: ``regimen.doses.2``) in the field, and
    within the regimen (``doses.2``) in the text of what was got (an overlap names both parts).
    An infusion error in a part that infuses as the regimen's ``infusion:`` section says is that
    section's (``regimen_file`` tells which)."""
    index = _PART.search(exc.field)
    field = exc.field
    if index:
        where = paths[int(index.group(1))]
        rest = field.split("]", 1)[1].lstrip(".")
        if (regimen_file is not None and rest.split(".")[0] == "infusion"
                and not _writes_own_infusion(regimen_file, where)):
            where = "regimen"  # the part infuses as the regimen's infusion: section says
        field = ".".join(p for p in (where, rest) if p)
    got = exc.got
    if isinstance(got, str):
        within = [p.removeprefix("regimen.") for p in paths]
        got = _PART.sub(lambda m: within[int(m.group(1))] if int(m.group(1)) < len(within) else m.group(0), got)
    return type(exc)(field, exc.expected, got)


def _writes_own_infusion(regimen_file, where: str) -> bool:
    """Whether the part written at ``where`` (``regimen.course``, ``regimen.doses.2``, ...) has
    its own ``infusion:`` section (else it infuses as the regimen's ``infusion:`` says)."""
    node = regimen_file
    for key in where.split(".")[1:]:
        node = node[int(key)] if key.isdigit() and isinstance(node, list) else getattr(node, key, None)
        if node is None:
            return True  # not a written part (a standard regimen): keep the part's name
    return getattr(node, "infusion", None) is not None
