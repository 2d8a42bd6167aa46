"""Units at the boundary: a number in the field's unit, or a string with its own unit.

A field named ``weight_kg`` takes ``70`` (kg, as its name says) or ``"154 lb"``, which
pint converts to kg. A string of the wrong dimension ("70 cm" for a weight) is refused
with the field, the unit expected and the value got. Inside ivigsim every quantity is
a plain float in its canonical unit (see ``docs/architecture.md``).

Two subtleties, both about ratios such as g/kg, which pint sees as dimensionless:
a bare number in a string (``"1"``) means the field's own unit, never a pure ratio; and
a quantity must be written with units of the same kinds (``"1000 mg/kg"``), so ``"5 %"``
is refused rather than read as 0.05 kg/kg = 50 g/kg; units that cancel (``"60 kg/kg"``,
``"2 g/g"``) are refused too, rather than read as a bare number in the field's unit.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema

#: Longest quantity string accepted; anything longer is a mistake, not a quantity.
MAX_LENGTH = 64
#: Exponents are refused outright: no field needs them, and pint evaluates
#: "10**10**10" literally (an integer with ten billion digits).
_POWER = re.compile(r"\*\*|\^")


@lru_cache(maxsize=1)
def _registry():
    import pint  # lazy: pint takes a noticeable share of start-up time

    return pint.UnitRegistry()


def _kinds(ureg, units) -> list[tuple[str, float]]:
    """The dimensionality of each unit factor with its exponent, e.g. g/kg -> [mass^1, mass^-1]."""
    return sorted((str(ureg.get_dimensionality(name)), power) for name, power in units._units.items())


def to_unit(value: object, unit: str) -> object:
    """Convert a quantity string to a float in ``unit``; leave anything else to pydantic."""
    if isinstance(value, bool):
        raise ValueError(f"a number in {unit}, got {value!r}")
    if not isinstance(value, str):
        return value
    text = value.strip()
    if len(text) > MAX_LENGTH or _POWER.search(text) or _odd_digits(text):
        raise ValueError(f"a number in {unit} or a quantity such as '{_example(unit)}', got {value!r}")
    import pint

    ureg = _registry()
    bad = ValueError(f"a number in {unit} or a quantity such as '{_example(unit)}', got {value!r}")
    try:
        quantity = _compound(ureg, text) or ureg.Quantity(text)
    except Exception:  # noqa: BLE001 - pint's parser raises many kinds (TokenError, AssertionError, ...) on non-quantities
        raise bad from None
    if isinstance(quantity, (int, float)) or not quantity.units._units:
        if unit != "dimensionless" and not _is_number(text):
            # Units written that cancel ("60 kg/kg", "2 g/g"): not a bare number in the field's unit.
            raise ValueError(f"a quantity in {unit}, got {value!r}")
        magnitude = float(getattr(quantity, "magnitude", quantity))  # a bare number: the field's unit
        if not math.isfinite(magnitude):
            raise bad
        return magnitude
    target = ureg.Quantity(1, unit)
    if target.dimensionless and _kinds(ureg, quantity.units) != _kinds(ureg, target.units):
        raise ValueError(f"a quantity in {unit}, got {value!r}")
    try:
        converted = float(quantity.to(unit).magnitude)
    except pint.errors.DimensionalityError:
        raise ValueError(f"a quantity in {unit}, got {value!r} ({quantity.units:~})") from None
    if not math.isfinite(converted):
        raise bad
    return converted


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


#: A number as people write one in a table: ASCII digits, one decimal point, an exponent.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
#: What Python's ``float`` also reads but no one means in a dose or a measurement: digits
#: grouped by underscores (``float("8_6")`` is 86).
_GROUPED = re.compile(r"\d_|_\d")


def _odd_digits(text: str) -> bool:
    """Digits grouped by underscores or of another script than ASCII (``float`` reads both)."""
    return bool(_GROUPED.search(text)) or any(ch.isdecimal() and not ch.isascii() for ch in text)


def plain_float(text: str) -> float:
    """``text`` as a finite number written in ASCII digits (``ValueError`` otherwise): the cells
    of the CSV files read. Not Python's ``float``, which takes "8_6" for 86, "nan" and "inf"."""
    text = text.strip()
    if not _PLAIN_NUMBER.fullmatch(text):
        raise ValueError(f"not a plain number: {text!r}")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {text!r}")
    return value


_TERM = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]+)\s*")


def _compound(ureg, text: str):
    """``"5 ft 9 in"`` or ``"1 week 3 days"``: a sum of terms, as people write heights and spans."""
    terms = list(_TERM.finditer(text))
    if len(terms) < 2 or "".join(m.group(0) for m in terms) != text:
        return None
    total = ureg.Quantity(float(terms[0].group(1)), terms[0].group(2))
    for m in terms[1:]:
        total = total + ureg.Quantity(float(m.group(1)), m.group(2))  # refuses mixed dimensions
    return total


def _example(unit: str) -> str:
    return {"kg": "154 lb", "cm": "5 ft 9 in", "day": "3 weeks", "hour": "90 min", "g/kg": "1000 mg/kg"}.get(
        unit, f"1 {unit}")


def Quantity(unit: str, base: type = float):  # noqa: N802 - reads as a type in annotations
    """A pydantic field type: ``base`` in ``unit``, accepting quantity strings."""
    return Annotated[
        base,
        BeforeValidator(lambda v: to_unit(v, unit)),
        WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string"}],
                        "description": f"a number in {unit}, or a string with units (e.g. '{_example(unit)}')"}),
    ]


def _not_a_truth_value(value: object) -> object:
    """YAML reads yes/no/on/off/true/false as booleans, and pydantic would take them as 1 and 0
    (``start_hour: yes`` as 01:00): a number field refuses them."""
    if isinstance(value, bool):
        raise ValueError(f"a number, got {value!r}")
    return value


# The file schemas' plain numbers: float and int that refuse true and false.
Number = Annotated[float, BeforeValidator(_not_a_truth_value)]
Whole = Annotated[int, BeforeValidator(_not_a_truth_value)]
