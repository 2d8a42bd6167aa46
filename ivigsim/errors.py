"""Exceptions that carry a message a user can act on.

Every error raised for bad input names the field, what was expected and what was
got, so the CLI can print it as one line (pattern: scikit-learn's parameter
validation). Numerical failures inside a batch are *data*, not exceptions (see
``ivigsim.engine``).
"""

from __future__ import annotations


class IvigsimError(Exception):
    """Base class of every error ivigsim raises on purpose."""


class InputError(IvigsimError, ValueError):
    """A user-supplied value is not acceptable.

    >>> str(InputError("regimen.doses[0].g_per_kg", "a positive number", -1))
    'regimen.doses[0].g_per_kg: expected a positive number, got -1'
    """

    def __init__(self, field: str, expected: str, got: object) -> None:
        self.field = field
        self.expected = expected
        self.got = got
        super().__init__(f"{field}: expected {expected}, got {got!r}")


class DosingError(InputError):
    """A regimen cannot be given as written (e.g. a rate above the product label)."""


class ModelDefinitionError(IvigsimError):
    """A model module is declared inconsistently (a programming error, not user input)."""
