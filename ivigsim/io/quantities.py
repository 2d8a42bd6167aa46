"""Units at the boundary: a number in the field's unit, or a string with its own unit.

A field named ``weight_kg`` takes ``70`` (kg, as its name says) or ``"154 lb"``, which
pint converts to kg. A string of the wrong dimension ("70 cm" for a weight) is refused
with the field, the unit expected and the value got. Inside ivigsim every quantity is
a plain float in its canonical unit (see ``docs/architecture.md``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema


@lru_cache(maxsize=1)
def _registry():
    import pint  # lazy: pint takes a noticeable share of start-up time

    return pint.UnitRegistry()


def to_unit(value: object, unit: str) -> object:
    """Convert a quantity string to a float in ``unit``; leave anything else to pydantic."""
    if not isinstance(value, str):
        return value
    import pint

    ureg = _registry()
    try:
        quantity = ureg.Quantity(value.strip())
    except (pint.errors.PintError, ValueError, TypeError, AttributeError, SyntaxError):
        raise ValueError(f"a number in {unit} or a quantity such as '{_example(unit)}', got {value!r}") from None
    if quantity.dimensionless and not ureg.Quantity(1, unit).dimensionless:
        # A bare number in a string ("70") is read in the field's own unit.
        return float(quantity.magnitude)
    try:
        return float(quantity.to(unit).magnitude)
    except pint.errors.DimensionalityError:
        raise ValueError(f"a quantity in {unit}, got {value!r} ({quantity.units:~})") from None


def _example(unit: str) -> str:
    return {"kg": "154 lb", "cm": "5 ft 9 in", "day": "3 weeks", "hour": "90 min"}.get(unit, f"1 {unit}")


def Quantity(unit: str, base: type = float):  # noqa: N802 - reads as a type in annotations
    """A pydantic field type: ``base`` in ``unit``, accepting quantity strings."""
    return Annotated[
        base,
        BeforeValidator(lambda v: to_unit(v, unit)),
        WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string"}],
                        "description": f"a number in {unit}, or a string with units (e.g. '{_example(unit)}')"}),
    ]
