"""The indications a regimen can be compiled for.

The indication matters to dosing only through label rate limits that differ by
indication (Privigen: 4 mg/kg/min in ITP, calibration-targets.md s.10). Checking the
string here catches a typo ("ITP", "guillain-barre") before it silently falls back to
the general label maximum.
"""

from __future__ import annotations

from typing import Literal, get_args

from ivigsim.errors import InputError

Indication = Literal["itp", "gbs", "kawasaki", "cidp", "mg", "pid"]
INDICATIONS: tuple[str, ...] = get_args(Indication)


def check_indication(indication: object, field: str = "indication") -> Indication | None:
    """Return ``indication`` unchanged if it is ``None`` or a known indication, else raise."""
    if indication is None or indication in INDICATIONS:
        return indication  # type: ignore[return-value]
    raise InputError(field, f"None or one of {', '.join(INDICATIONS)}", indication)
