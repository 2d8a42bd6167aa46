"""The scenario file (YAML): its schema, and its translation into a ``Scenario``.

The pydantic models here describe the file exactly as users write it; unknown fields
are refused. ``load_scenario`` turns every problem (YAML syntax, schema, physiology,
dosing) into one ``InputError`` naming the field, what was expected and what was got.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

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
from ivigsim.engine.solver import Dopri5
from ivigsim.errors import InputError
from ivigsim.io.quantities import Quantity
from ivigsim.model.library import DISEASES
from ivigsim.model.patient import Patient
from ivigsim.scenario import Scenario


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PatientFile(_Strict):
    weight_kg: Quantity("kg") = Field(70.0, description="actual body weight")
    height_cm: Quantity("cm") | None = Field(None, description="needed for ideal or adjusted dosing weight")
    sex: Literal["female", "male"] = "male"
    age_years: Quantity("year") = 45.0


class TitrationFile(_Strict):
    start_mg_per_kg_min: float
    step_minutes: Quantity("minute")
    max_mg_per_kg_min: float
    factor: float = 2.0


class InfusionFile(_Strict):
    """At most one of duration_h, rate_mg_per_kg_min, titration; none = the label titration."""

    duration_h: Quantity("hour") | None = None
    rate_mg_per_kg_min: float | None = None
    titration: TitrationFile | None = None

    def build(self) -> InfusionSpec:
        titration = Titration(**self.titration.model_dump()) if self.titration else None
        return InfusionSpec(self.duration_h, self.rate_mg_per_kg_min, titration)


class DoseFile(_Strict):
    day: Quantity("day")
    g_per_kg: Quantity("g/kg")
    infusion: InfusionFile | None = None


class CourseFile(_Strict):
    total_g_per_kg: Quantity("g/kg")
    days: int
    start_day: Quantity("day") = 0.0
    infusion: InfusionFile | None = None


class MaintenanceFile(_Strict):
    g_per_kg: Quantity("g/kg")
    every_days: Quantity("day")
    start_day: Quantity("day")
    count: int | None = None
    until_day: Quantity("day") | None = None
    infusion: InfusionFile | None = None


class RegimenFile(_Strict):
    """Either ``standard`` (a shipped regimen) or one or more of course, doses, maintenance."""

    standard: str | None = Field(None, description=f"a shipped regimen: {', '.join(STANDARD_REGIMENS)}")
    product: str = Field("generic-10", description=f"one of {', '.join(PRODUCTS)}")
    dosing_weight: Literal["actual", "ideal", "adjusted"] = "actual"
    start_hour: float = 0.0
    allow_above_label: bool = False
    infusion: InfusionFile | None = Field(None, description="how every infusion runs unless a part says otherwise")
    course: CourseFile | None = None
    doses: list[DoseFile] = []
    maintenance: list[MaintenanceFile] | MaintenanceFile | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> RegimenFile:
        has_parts = self.course is not None or self.doses or self.maintenance is not None
        if self.standard is not None and has_parts:
            raise ValueError("either 'standard' or course/doses/maintenance, not both")
        if self.standard is None and not has_parts:
            raise ValueError("a 'standard' regimen name, or at least one of course, doses, maintenance")
        return self

    def build(self) -> Regimen:
        product = get_product(self.product)
        if self.standard is not None:
            base = get_standard_regimen(self.standard).regimen
            parts = base.parts
        else:
            default = self.infusion.build() if self.infusion else None
            spec = lambda f: f.build() if f is not None else default  # noqa: E731
            maintenance = self.maintenance if isinstance(self.maintenance, list) else (
                [self.maintenance] if self.maintenance else [])
            parts = (
                *([Course(self.course.total_g_per_kg, self.course.days, self.course.start_day,
                          spec(self.course.infusion))] if self.course else []),
                *(Dose(d.day, d.g_per_kg, spec(d.infusion)) for d in self.doses),
                *(Maintenance(m.g_per_kg, m.every_days, m.start_day, m.count, m.until_day, spec(m.infusion))
                  for m in maintenance),
            )
        return Regimen(parts, product, self.dosing_weight, self.start_hour, self.allow_above_label,
                       self.standard or "")


class SimulationFile(_Strict):
    days: Quantity("day") = 60.0
    output_every_days: Quantity("day") = 1.0
    rtol: float = 1e-6
    atol: float = 1e-9


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
    parameters: dict[str, float] = Field({}, description="model parameter overrides by name")
    mechanisms: dict[str, bool | float] = Field({}, description="mechanism switches: true, false or a strength")

    def build(self) -> Scenario:
        indication = self.indication
        if indication is None and self.disease is not None:
            indication = DISEASES[self.disease].indication
        if indication is None and self.regimen and self.regimen.standard:
            indication = get_standard_regimen(self.regimen.standard).indication
        return Scenario(
            patient=Patient(**self.patient.model_dump()),
            regimen=self.regimen.build() if self.regimen else None,
            disease=self.disease,
            indication=indication,
            days=self.simulation.days,
            output_every_days=self.simulation.output_every_days,
            parameters=dict(self.parameters),
            mechanisms=dict(self.mechanisms),
            solver=Dopri5(rtol=self.simulation.rtol, atol=self.simulation.atol),
            name=self.name,
        )


def parse_scenario(data: Any, where: str = "scenario") -> Scenario:
    """Validate a parsed YAML/JSON document and build the scenario."""
    if not isinstance(data, dict):
        raise InputError(where, "a mapping of scenario fields (name, patient, regimen, ...)", type(data).__name__)
    try:
        return ScenarioFile.model_validate(data).build()
    except ValidationError as exc:
        raise validation_to_input_error(exc) from None


def load_scenario(path: str | Path) -> Scenario:
    return parse_scenario(read_yaml(path), str(path))


def read_yaml(path: str | Path) -> Any:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("FILE", "an existing scenario file", str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError("FILE", "a readable UTF-8 text file", f"{path} ({exc.__class__.__name__})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(str(path), "valid YAML", f"{problem}{at}") from None


def validation_to_input_error(exc: ValidationError) -> InputError:
    """The first pydantic error as one line: field path, what was expected, what was got."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-")) or "scenario"
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return InputError(field, "no such field (check the spelling; `ivigsim schema` lists them)", err["input"])
    if message.startswith("a "):  # our own messages already say what was expected and got
        return InputError(field, message.partition(", got ")[0], err["input"])
    return InputError(field, message[0].lower() + message[1:], err["input"])


def scenario_json_schema() -> dict:
    schema = ScenarioFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ivigsim scenario"
    return schema
