"""The ``risk_factors`` section of a scenario file (or a separate factors file), as a schema.

Validation only: a mapping in, a :class:`~ivigsim.safety.factors.RiskFactors` out, every
problem one ``InputError`` naming the field as written (``risk_factors.blood_group``).
Reading the YAML is the caller's business (the CLI uses ``ivigsim.io.scenario_file.read_yaml``).

    risk_factors:
      migraine_history: true
      iga_deficient_with_anti_iga: false
      blood_group: A          # O, A, B, AB; omit if unknown
      prior_thrombosis: false
      diabetes: false
      renal_impairment: false
      obese: null             # omit: from weight and height (BMI >= 30)
      inflammation: false
      ivig_naive: true        # the first infusion is the patient's first IVIG
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from ivigsim.errors import InputError

from .factors import RiskFactors

SECTION = "risk_factors"


class RiskFactorsFile(BaseModel):
    """Patient risk factors for adverse events; every field optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    migraine_history: StrictBool = False
    iga_deficient_with_anti_iga: StrictBool = Field(False, description="IgA deficiency with anti-IgA antibodies")
    blood_group: Literal["O", "A", "B", "AB"] | None = Field(None, description="ABO group; omit if unknown")
    prior_thrombosis: StrictBool = False
    diabetes: StrictBool = False
    renal_impairment: StrictBool = False
    obese: StrictBool | None = Field(None, description="omit to decide from weight and height (BMI >= 30)")
    inflammation: StrictBool = Field(False, description="active systemic inflammation (haemolysis)")
    ivig_naive: StrictBool = Field(True, description="the regimen's first infusion is the patient's first IVIG")

    def build(self) -> RiskFactors:
        return RiskFactors(**self.model_dump())


def parse_risk_factors(data: Any, where: str = SECTION) -> RiskFactors:
    """Validate a parsed mapping (``None`` = no factors) and build the risk factors."""
    if data is None:
        return RiskFactors()
    if not isinstance(data, dict):
        raise InputError(where, "a mapping of risk factors (migraine_history, blood_group, ...)", type(data).__name__)
    try:
        return RiskFactorsFile.model_validate(data).build()
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith(("literal", "bool", "none")))
        field = f"{where}.{loc}" if loc else where
        if err["type"] == "extra_forbidden":
            raise InputError(field, f"no such field (one of {', '.join(RiskFactorsFile.model_fields)})", err["input"]) from None
        expected = err["msg"].removeprefix("Input should be ").removeprefix("Value error, ")
        raise InputError(field, expected, err["input"]) from None
