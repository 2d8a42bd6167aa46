"""The patient's covariates: the few facts about a person the model needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ivigsim.errors import InputError

Sex = Literal["female", "male"]
#: Body mass indexes the model accepts (kg/m^2; the bounds of ``body_mass_index_kg_per_m2``).
BMI_RANGE = (5.0, 150.0)


@dataclass(frozen=True)
class Patient:
    """One person's covariates, in canonical units.

    ``height_cm`` is optional: it is needed only for ideal or adjusted dosing weight.
    """

    weight_kg: float = 70.0
    height_cm: float | None = None
    sex: Sex = "male"
    age_years: float = 45.0

    def __post_init__(self) -> None:
        if not 0.5 <= self.weight_kg <= 400:
            raise InputError("patient.weight_kg", "a body weight between 0.5 and 400 kg", self.weight_kg)
        if self.height_cm is not None and not 30 <= self.height_cm <= 260:
            raise InputError("patient.height_cm", "a height between 30 and 260 cm", self.height_cm)
        if self.sex not in ("female", "male"):
            raise InputError("patient.sex", "'female' or 'male'", self.sex)
        if not 0 <= self.age_years <= 120:
            raise InputError("patient.age_years", "an age between 0 and 120 years", self.age_years)
        bmi = None if self.height_cm is None else body_mass_index(self.weight_kg, self.height_cm)
        if bmi is not None and not BMI_RANGE[0] <= bmi <= BMI_RANGE[1]:
            raise InputError("patient.height_cm", f"a height that with the weight gives a body mass index between "
                             f"{BMI_RANGE[0]:g} and {BMI_RANGE[1]:g} kg/m^2",
                             f"{self.height_cm:g} cm with {self.weight_kg:g} kg (BMI {bmi:.3g})")

    def covariate_parameters(self) -> dict[str, float]:
        """The model parameters the patient sets: the weight, and the body mass index where the
        height is known (without it the model's reference BMI applies)."""
        out = {"body_weight_kg": self.weight_kg}
        if self.height_cm is not None:
            out["body_mass_index_kg_per_m2"] = body_mass_index(self.weight_kg, self.height_cm)
        return out


def body_mass_index(weight_kg, height_cm):
    """Weight / height^2 in kg/m^2, of numbers or arrays (a NaN height, unknown, gives NaN)."""
    return weight_kg / (height_cm / 100.0) ** 2


def known_bmi_or_reference(model, weight_kg, height_cm):
    """Each patient's ``body_mass_index_kg_per_m2`` (arrays): the BMI, or the model's reference
    value where the height is unknown (NaN), so that the plasma volume is in proportion to weight."""
    import numpy as np

    bmi = body_mass_index(np.asarray(weight_kg, dtype=float), np.asarray(height_cm, dtype=float))
    return np.where(np.isnan(bmi), model.parameter("body_mass_index_kg_per_m2").value, bmi)
