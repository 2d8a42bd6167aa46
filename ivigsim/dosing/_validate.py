"""Checks shared by the dosing dataclasses, each raising an ``InputError`` that names the field.

Kept private: the public contract is the error message, not these helpers.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

from ivigsim.errors import InputError


def real(field: str, value: object, expected: str) -> float:
    """Return ``value`` as a finite float, or raise naming ``field`` (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise InputError(field, expected, value)
    return float(value)


def positive(field: str, value: object, expected: str = "a positive number") -> float:
    number = real(field, value, expected)
    if number <= 0:
        raise InputError(field, expected, value)
    return number


def non_negative(field: str, value: object, expected: str = "a number >= 0") -> float:
    number = real(field, value, expected)
    if number < 0:
        raise InputError(field, expected, value)
    return number


def whole(field: str, value: object, minimum: int, expected: str) -> int:
    """Return ``value`` as an int >= ``minimum``; integral floats such as ``5.0`` are accepted."""
    if isinstance(value, bool):
        raise InputError(field, expected, value)
    if isinstance(value, Integral):
        number = int(value)
    elif isinstance(value, Real) and math.isfinite(float(value)) and float(value).is_integer():
        number = int(value)
    else:
        raise InputError(field, expected, value)
    if number < minimum:
        raise InputError(field, expected, value)
    return number
