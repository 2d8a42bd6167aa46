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
        super().__init__(f"{_short(field)}: expected {expected}, got {_short(_quoted(got))}")


#: The most characters of a user's value (or field path) a message quotes: a 50 MB value in
#: a misspelt field must not come back as a 50 MB error line.
MAX_QUOTED = 200


def _quoted(value: object) -> str:
    """``repr`` of the value, computed without walking a huge structure (an expanded YAML
    alias bomb): containers beyond a few thousand items are summarised, not printed."""
    if isinstance(value, (list, tuple, set, dict)) and _size(value) > 10_000:
        return f"<a {type(value).__name__} too large to quote>"
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        value = value.item()  # a NumPy scalar as the number it is, not "np.float64(0.0)"
    try:
        return repr(value)
    except (RecursionError, MemoryError, ValueError):  # self-referencing, huge, or an int beyond the digit limit
        return f"<a {type(value).__name__} that cannot be quoted>"


def _size(value: object, budget: int = 10_001) -> int:
    """Number of items in a nested container as ``repr`` would print them (a shared or
    self-referencing member counted each time it appears), counting at most ``budget``."""
    stack, count = [value], 0
    while stack and count < budget:
        item = stack.pop()
        count += 1
        if isinstance(item, (list, tuple, set, dict)):
            stack.extend(item.values() if isinstance(item, dict) else item)
    return count


def _short(text: str) -> str:
    """At most ``MAX_QUOTED`` characters, control characters escaped, so a message is one
    line that cannot drive the terminal (escape sequences)."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[: MAX_QUOTED + 1])
    return text if len(text) <= MAX_QUOTED else text[:MAX_QUOTED] + f"... ({len(text)}+ characters)"


class DosingError(InputError):
    """A regimen cannot be given as written (e.g. a rate above the product label)."""


class ModelDefinitionError(IvigsimError):
    """A model module is declared inconsistently (a programming error, not user input)."""
