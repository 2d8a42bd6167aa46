"""The body weight a dose in g/kg is multiplied by.

IVIG is prescribed per kg, but giving 2 g/kg of actual weight to a 150-kg patient adds
IgG to a plasma volume that did not grow with the fat mass. The Australian National
Blood Authority therefore doses obese adults on an *adjusted* weight (ideal plus 40 % of
the excess), with the ideal weight from Devine's formula (calibration-targets.md s.10,
"dosing weight in obesity"). ``"actual"`` stays the default because the trials the
model is calibrated to dosed on actual weight.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Literal, get_args

from ivigsim.errors import InputError
from ivigsim.model.patient import Patient

DosingWeight = Literal["actual", "ideal", "adjusted"]
DOSING_WEIGHTS: tuple[str, ...] = get_args(DosingWeight)

#: Exact by definition of the international inch (1959).
CM_PER_INCH = 2.54
#: Devine: base weight at 60 inches (5 ft), men 50 kg, women 45.5 kg (NBA calculator via s.10).
DEVINE_BASE_HEIGHT_IN = 60.0
DEVINE_BASE_KG = MappingProxyType({"male": 50.0, "female": 45.5})
#: Devine: 2.3 kg per inch above 60 inches (NBA calculator via s.10).
DEVINE_KG_PER_INCH = 2.3
#: Share of the weight above ideal that counts for dosing (NBA calculator via s.10).
ADJUSTED_SHARE_OF_EXCESS = 0.4
#: Devine's line is extrapolated below 60 inches as written; below 1 kg it is meaningless.
MIN_IDEAL_WEIGHT_KG = 1.0


def ideal_body_weight_kg(patient: Patient) -> float:
    """Devine ideal body weight, kg.

    Devine's formula is kept as written, also below 60 inches where it falls linearly
    (it was made for adults; for children, dose on actual weight). A height for which it
    gives less than 1 kg is refused.

    >>> round(ideal_body_weight_kg(Patient(weight_kg=120, height_cm=180, sex="male")), 4)
    74.9921
    """
    if patient.height_cm is None:
        raise InputError("patient.height_cm", "a height in cm to compute the ideal/adjusted dosing weight", None)
    height_in = patient.height_cm / CM_PER_INCH
    ideal = DEVINE_BASE_KG[patient.sex] + DEVINE_KG_PER_INCH * (height_in - DEVINE_BASE_HEIGHT_IN)
    if ideal < MIN_IDEAL_WEIGHT_KG:
        raise InputError(
            "patient.height_cm",
            f"a height for which Devine's ideal body weight is at least {MIN_IDEAL_WEIGHT_KG:g} kg",
            patient.height_cm,
        )
    return ideal


def adjusted_body_weight_kg(patient: Patient) -> float:
    """Ideal + 0.4 x (actual - ideal) when actual > ideal, else actual (NBA calculator via s.10)."""
    ideal = ideal_body_weight_kg(patient)
    if patient.weight_kg <= ideal:
        return patient.weight_kg
    return ideal + ADJUSTED_SHARE_OF_EXCESS * (patient.weight_kg - ideal)


def dosing_weight_kg(patient: Patient, kind: DosingWeight = "actual") -> float:
    """The weight that g/kg doses and mg/kg/min rates are multiplied by.

    ``"ideal"`` gives the smaller of ideal and actual weight: ideal-weight dosing exists
    to avoid overdosing in obesity, never to give a thin patient more than their own
    weight's worth (a decision of this package, the same rule the adjusted weight uses).
    """
    if kind == "actual":
        return patient.weight_kg
    if kind == "ideal":
        return min(ideal_body_weight_kg(patient), patient.weight_kg)
    if kind == "adjusted":
        return adjusted_body_weight_kg(patient)
    raise InputError("regimen.dosing_weight", f"one of {', '.join(DOSING_WEIGHTS)}", kind)
