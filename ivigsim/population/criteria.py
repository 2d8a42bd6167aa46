"""Inclusion criteria: ``"igg_total_g_per_L >= 6"``, ``"age_years < 80"``, ``"sex == female"``.

A criterion compares one name with a number (or, for ``sex``, a word). Names are
covariates (``age_years``, ``weight_kg``, ``height_cm``, ``sex``), model parameters,
states or outputs; model quantities are read at baseline (the initial state, no
treatment), which is where a screening visit measures them.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from ivigsim.errors import InputError

OPERATORS: dict[str, Callable] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq, "!=": operator.ne,
}
_PATTERN = re.compile(r"^\s*([A-Za-z_]\w*)\s*(>=|<=|==|!=|>|<)\s*(\S+)\s*$")
_NUMBER = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*([-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)\s*$")


@dataclass(frozen=True)
class Criterion:
    name: str
    op: str
    value: float | str
    text: str

    @classmethod
    def parse(cls, text: object, field: str, names: set[str]) -> Criterion:
        expected = "a criterion such as 'igg_total_g_per_L >= 6' (NAME OP NUMBER, OP one of >= <= > < == !=)"
        match = _PATTERN.match(text) if isinstance(text, str) else None
        if match is None:
            raise InputError(field, expected, text)
        name, op, raw = match.groups()
        if name not in names:
            raise InputError(field, f"a criterion on a covariate, parameter, state or output of the model", name)
        if name == "sex":
            if op not in ("==", "!=") or raw not in ("female", "male"):
                raise InputError(field, "sex == female, sex == male (or !=)", text)
            return cls(name, op, raw, text)
        try:
            value = float(raw)
        except ValueError:
            raise InputError(field, expected, text) from None
        if not np.isfinite(value):
            raise InputError(field, "a finite number", raw)
        return cls(name, op, value, text)

    def holds(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.asarray(OPERATORS[self.op](values[self.name], self.value), dtype=bool)


@dataclass(frozen=True)
class Threshold:
    """A criterion on a value already chosen (an endpoint's ``criterion: ">= 50"``)."""

    op: str
    value: float
    text: str

    @classmethod
    def parse(cls, text: object, field: str) -> Threshold:
        match = _NUMBER.match(text) if isinstance(text, str) else None
        if match is None:
            raise InputError(field, "a comparison with a number, such as '>= 50' or '<= -3'", text)
        return cls(match.group(1), float(match.group(2)), text.strip())

    def holds(self, values: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return OPERATORS[self.op](values, self.value)

    def soft(self, values: np.ndarray, softness: float) -> np.ndarray:
        """A smoothed ``holds``: per value, a degree in (0, 1) instead of 0 or 1.

        ``logistic((v - thr) / h)`` for ``>`` and ``>=``, ``logistic((thr - v) / h)`` for ``<``
        and ``<=``, with ``h = softness * |thr|`` (``softness`` itself when ``thr`` is 0): the
        logit-smoothed accept-reject simulator (McFadden 1989, Econometrica 57:995-1026), which
        makes a simulated rate smooth in the model's parameters; its bias is second-order in
        ``h``. Only the joint calibration's objective uses it (``Endpoint.softness``).
        ``softness`` 0, and ``==``/``!=`` (no side to smooth towards), give ``holds`` as 0/1.
        A value that is NaN does not meet the criterion (0), as in ``holds``."""
        if softness <= 0 or self.op not in (">", ">=", "<", "<="):
            return self.holds(values).astype(float)
        h = softness * abs(self.value) if self.value != 0 else float(softness)
        sign = 1.0 if self.op in (">", ">=") else -1.0
        with np.errstate(invalid="ignore", over="ignore"):
            z = sign * (np.asarray(values, dtype=float) - self.value) / h
        return np.where(np.isnan(z), 0.0, expit(z))
