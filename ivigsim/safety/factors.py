"""Patient risk factors for IVIG adverse events, as one validated value.

The patient's age, sex, weight and height come from :class:`ivigsim.model.patient.Patient`;
everything else the event models need is here. Every field is a plain yes/no except the
blood group, which may be unknown (``None``): the event probabilities are then averaged
over the population's blood groups (``BLOOD_GROUP_SHARES``).

Which factor drives which event, and by how much, is in ``ivigsim.safety.events``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Literal, get_args

from ivigsim.errors import InputError
from ivigsim.model.patient import Patient

from . import sources

BloodGroup = Literal["O", "A", "B", "AB"]
BLOOD_GROUPS: tuple[str, ...] = get_args(BloodGroup)

#: Share of each ABO group in the population the risks are averaged over when a
#: patient's group is unknown, and in the haemolysis calibration cohort.
#: Assumption: approximate European / North American frequencies (no calibration row).
BLOOD_GROUP_SHARES: Mapping[str, float] = MappingProxyType({"O": 0.45, "A": 0.40, "B": 0.11, "AB": 0.04})
NON_O_SHARE = 1.0 - BLOOD_GROUP_SHARES["O"]

#: Body-mass index at and above which a patient counts as obese (WHO convention; an
#: assumption of this package, used only when ``obese`` is not given).
OBESE_BMI_KG_PER_M2 = 30.0
#: Age from which "advanced age" counts for the thrombosis and renal boxed warnings;
#: the renal figure (> 65) is the CDC MMWR 1999 row of s.9, the thrombosis one an assumption.
RENAL_RISK_AGE_YEARS = 65.0
THROMBOSIS_RISK_AGE_YEARS = 65.0

_FLAGS = ("migraine_history", "iga_deficient_with_anti_iga", "prior_thrombosis", "diabetes",
          "renal_impairment", "inflammation", "ivig_naive")


@dataclass(frozen=True)
class RiskFactors:
    """What the adverse-event models need to know about a patient beyond ``Patient``.

    - ``migraine_history``: aseptic meningitis (Sekul 1994) and headache.
    - ``iga_deficient_with_anti_iga``: IgA deficiency with anti-IgA antibodies
      (immediate anaphylactoid reactions, scaled by the product's IgA dose).
    - ``blood_group``: A, B and AB (not O) carry the haemolysis risk; ``None`` = unknown.
    - ``prior_thrombosis``, ``diabetes``, ``renal_impairment``: thrombosis and kidney injury.
    - ``obese``: ``None`` means "work it out": BMI >= 30 kg/m^2 from the patient's weight
      and height, or not obese when the height is not given.
    - ``inflammation``: active systemic inflammation (e.g. Kawasaki disease); haemolysis.
    - ``ivig_naive``: the regimen's first infusion is the patient's first IVIG ever
      (first infusions react more).
    """

    migraine_history: bool = False
    iga_deficient_with_anti_iga: bool = False
    blood_group: BloodGroup | None = None
    prior_thrombosis: bool = False
    diabetes: bool = False
    renal_impairment: bool = False
    obese: bool | None = None
    inflammation: bool = False
    ivig_naive: bool = True

    def __post_init__(self) -> None:
        for name in _FLAGS:
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"risk_factors.{name}", "true or false", getattr(self, name))
        if self.obese is not None and not isinstance(self.obese, bool):
            raise InputError("risk_factors.obese", "true, false or nothing (from weight and height)", self.obese)
        if self.blood_group is not None and self.blood_group not in BLOOD_GROUPS:
            raise InputError("risk_factors.blood_group", f"one of {', '.join(BLOOD_GROUPS)} (or nothing: unknown)",
                             self.blood_group)

    def is_obese(self, patient: Patient) -> bool:
        if self.obese is not None:
            return self.obese
        bmi = body_mass_index(patient)
        return bmi is not None and bmi >= OBESE_BMI_KG_PER_M2

    def thrombosis_risk(self, patient: Patient) -> list[str]:
        """The factors that put this patient "at risk of thrombosis" (boxed warning, s.10)."""
        found = [name.replace("_", " ") for name in ("prior_thrombosis", "diabetes") if getattr(self, name)]
        if self.is_obese(patient):
            found.append("obesity")
        if patient.age_years >= THROMBOSIS_RISK_AGE_YEARS:
            found.append(f"age >= {THROMBOSIS_RISK_AGE_YEARS:g}")
        return found

    def renal_risk(self, patient: Patient) -> list[str]:
        """The factors that put this patient "at risk of renal failure" (CDC MMWR 1999, s.9)."""
        found = [name.replace("_", " ") for name in ("renal_impairment", "diabetes") if getattr(self, name)]
        if patient.age_years > RENAL_RISK_AGE_YEARS:
            found.append(f"age > {RENAL_RISK_AGE_YEARS:g}")
        return found

    def describe(self, patient: Patient) -> str:
        on = [f.name.replace("_", " ") for f in fields(self)
              if f.name not in ("blood_group", "obese", "ivig_naive") and getattr(self, f.name)]
        if self.is_obese(patient):
            on.append("obesity")
        on.append(f"blood group {self.blood_group}" if self.blood_group else "blood group unknown (population mix)")
        on.append("first IVIG ever" if self.ivig_naive else "IVIG before")
        return ", ".join(on)


def body_mass_index(patient: Patient) -> float | None:
    """kg/m^2, or ``None`` without a height."""
    if patient.height_cm is None:
        return None
    return patient.weight_kg / (patient.height_cm / 100.0) ** 2


@dataclass(frozen=True)
class FactorPrevalence:
    """Share of virtual patients with each factor, for trials (each drawn independently).

    Defaults: ``iga_deficient_with_anti_iga`` is derived from Rachid & Bonilla 2012 (severe
    IgA deficiency about 1 in 300-500, the middle 1 in 400, times "up to 40 %" with
    anti-IgA antibodies); ``migraine_history`` is derived from Sekul 1994 (the share that
    makes 50 % and 4 % average to the 11 % observed, 0.07 / 0.46); ``blood_group`` uses
    ``BLOOD_GROUP_SHARES``. The rest are assumptions of this package (no calibration
    row): set them for the population a trial stands for.
    """

    migraine_history: float = 0.07 / 0.46
    iga_deficient_with_anti_iga: float = 0.4 / 400.0
    prior_thrombosis: float = 0.05
    diabetes: float = 0.10
    renal_impairment: float = 0.05
    inflammation: float = 0.0
    ivig_naive: float = 1.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise InputError(f"risk_factor_prevalence.{f.name}", "a share between 0 and 1", value)


#: Where each default prevalence comes from (the others are assumptions).
PREVALENCE_SOURCES: Mapping[str, str] = MappingProxyType({
    "migraine_history": f"derived from {sources.SEKUL_1994}: 0.07 / 0.46",
    "iga_deficient_with_anti_iga": f"derived from {sources.RACHID_BONILLA_2012}: 0.4 x 1/400",
})
