"""Dimensional analysis of a model's declarations.

Inside the numerical core every quantity is a bare number in its one declared unit
(STYLE item 8): ``plasma_volume_L`` is litres, a flux is (its source state's unit) per
day. Nothing at run time can notice a rate law that multiplies a volume where it should
divide by one, so this module checks the declarations once, symbolically, with pint:

- every parameter, state, input and assignment declares a unit string pint can parse
  (``"dimensionless"``, ``"1/day"``, ``"g/kg/day"``, ``"10^9/L"``);
- every expression is evaluated on units instead of numbers: each name is a pint
  quantity of magnitude 1 in its declared unit (the time symbol ``t`` in days), and the
  result must have the declared unit of what it defines:

  * an assignment: its own unit;
  * a state's initial value: the state's unit;
  * a flux: (source state's unit)/day, or (target state's unit)/day for production;
    a flux between two states of different units is itself a problem.

Rules of the evaluation
    ``+``, ``-``, ``min``, ``max`` need operands of one dimensionality (the result has
    the left operand's unit); ``*`` and ``/`` combine units; ``x ** n`` needs a constant
    dimensionless ``n`` and gives unit**n, while a non-constant exponent needs a
    dimensionless base; ``exp`` and ``log`` need a dimensionless argument; ``sqrt``
    halves the dimension; ``abs`` keeps it.

Numeric literals (the one judgement call)
    A number is dimensionless where it scales (``*``, ``/``, ``**``): in
    ``(body_weight_kg / 70) ** 0.75`` the 70 is a pure number, so the expression is in
    kg**0.75; write the reference weight as a parameter in kg to make it dimensionless.
    Where a number is *compared or added* (``+``, ``-``, ``min``, ``max``) it takes the
    other operand's unit, because modellers write ``max(c, 1e-30)`` and ``1 - f`` as
    guards and offsets; the cost is that ``x_g + 1`` passes as "x + 1 g". An expression
    that is only numbers (an initial value ``"0"``) is read in the declared unit.

Scale
    Units of one dimensionality but different size (mL and L, 1/h and 1/day) are a
    problem too: the numbers would be off by the conversion factor, since nothing
    converts them at run time. A name's quantity carries its unit's scale (1e9 for
    ``"10^9/L"``); numbers never do, so a conversion factor written as a number
    (``k_per_hour * 24``) is still reported: keep one canonical unit per quantity.

Calls
    ``exp``, ``log``, ``sqrt`` and ``abs`` take one argument and ``min``/``max`` two or
    more; anything else is reported (NumPy would read ``log(x, b)``'s ``b`` as its
    output array).

The check runs on declarations only (no numbers), in a fraction of a second; the test
suite runs it over the shipped model and every module.

>>> from ivigsim.model.declaration import Module, Parameter, State, Flux
>>> leak = Module("toy", "toy", "", states=(State("x_g", "g", "1"),),
...     parameters=(Parameter("v_L", 2.0, "L", "assumption", "toy"),),
...     fluxes=(Flux("leak", "x_g / v_L", "x_g", None),))
>>> from ivigsim.model.compose import Model
>>> [str(p) for p in check_units(Model((leak,)))]  # doctest: +NORMALIZE_WHITESPACE
['toy.leak (flux): wrong dimension; expected g/day, got g/L ([mass] / [length] ** 3)']
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from ivigsim.errors import ModelDefinitionError
from ivigsim.model.declaration import TIME
from ivigsim.model.expressions import (
    FUNCTIONS, OPERATORS, Binary, Call, Node, Num, Sym, Unary, UnitRule, fold,
)

if TYPE_CHECKING:  # pint is imported lazily: only checking units needs it.
    from ivigsim.model.compose import Model

#: Unit of the time symbol ``t`` and the "per" of every flux.
TIME_UNIT = "day"

ItemKind = Literal["parameter", "state", "input", "assignment", "initial", "flux"]


@dataclass(frozen=True)
class UnitProblem:
    """One inconsistency: where (module, kind, item), what is wrong, expected, got."""

    module: str
    kind: ItemKind
    item: str
    reason: str
    expected: str
    got: str

    def __str__(self) -> str:
        return f"{self.module}.{self.item} ({self.kind}): {self.reason}; expected {self.expected}, got {self.got}"


def check_units(model: Model) -> list[UnitProblem]:
    """Every unit problem in ``model`` (empty when consistent); see the module docstring."""
    import pint

    ureg = _registry()
    problems: list[UnitProblem] = []
    declared: dict[str, str] = {}
    scope: dict[str, Any] = {TIME: ureg.Quantity(1.0, TIME_UNIT)}  # name -> Quantity or None

    for module in model.modules:
        for kind, items in (
            ("parameter", module.parameters),
            ("state", module.states),
            ("input", module.inputs),
            ("assignment", module.assignments),
        ):
            for item in items:
                declared[item.name] = item.unit
                quantity, error = _parse(item.unit)
                scope[item.name] = quantity
                if error is not None:
                    problems.append(
                        UnitProblem(module.name, kind, item.name, error, "a unit pint can parse", repr(item.unit))
                    )

    def check(module: str, kind: ItemKind, item: str, tree: Node, expected: Any, expected_text: str) -> None:
        try:
            value = _evaluate(tree, scope)
            if value.literal is None:
                _conform(value.q, expected, "wrong dimension", "wrong scale")
        except _Unresolved:
            return  # a name with an unparseable unit: already reported once
        except _Mismatch as exc:
            problems.append(UnitProblem(module, kind, item, exc.reason, exc.expected or expected_text, exc.got))
        except pint.PintError as exc:
            problems.append(UnitProblem(module, kind, item, f"pint cannot evaluate it: {exc}", expected_text, "an error"))

    per_time = ureg.Quantity(1.0, TIME_UNIT)
    for module in model.modules:
        for a in module.assignments:
            if scope[a.name] is not None:
                check(module.name, "assignment", a.name, a.parsed.ir, scope[a.name], a.unit)
        for s in module.states:
            if scope[s.name] is not None:
                check(module.name, "initial", s.name, s.initial_expression.ir, scope[s.name], s.unit)
        for f in module.fluxes:
            ends = [e for e in (f.source, f.target) if e is not None]
            if any(scope.get(e) is None for e in ends):
                continue
            if len(ends) == 2:
                try:
                    _conform(scope[ends[1]], scope[ends[0]], "moves amount between states of different units",
                             "moves amount between states of different scale")
                except _Mismatch as exc:
                    problems.append(UnitProblem(
                        module.name, "flux", f.name, exc.reason,
                        f"target {ends[1]} in {declared[ends[0]]} like source {ends[0]}",
                        f"{declared[ends[1]]}",
                    ))
                    continue
            unit_text = declared[ends[0]]
            expected_text = f"{unit_text}/{TIME_UNIT}" if _simple(unit_text) else f"({unit_text})/{TIME_UNIT}"
            check(module.name, "flux", f.name, f.parsed.ir, scope[ends[0]] / per_time, expected_text)
    return problems


def validate_units(model: Model) -> None:
    """Raise ``ModelDefinitionError`` listing every unit problem of ``model``, if any."""
    problems = check_units(model)
    if problems:
        raise ModelDefinitionError(
            f"{len(problems)} unit problem(s) in the model:\n" + "\n".join(f"  {p}" for p in problems)
        )


def parse_unit(text: str) -> Any:
    """The unit ``text`` as a pint Quantity (its magnitude is the scale, e.g. 1e9 for "10^9/L").

    Raises ``ModelDefinitionError`` if pint cannot read it or it is unusable in rate laws.
    """
    quantity, error = _parse(text)
    if error is not None:
        raise ModelDefinitionError(f"unit {text!r}: {error}")
    return quantity


# -- internals -------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _registry() -> Any:
    """The one pint registry (building it takes a fraction of a second)."""
    import pint

    return pint.UnitRegistry()


@lru_cache(maxsize=None)
def _parse(text: str) -> tuple[Any, str | None]:
    """(Quantity, None) or (None, why not)."""
    import pint

    ureg = _registry()
    if not isinstance(text, str) or not text.strip():
        return None, "empty unit (write 'dimensionless' for a pure number)"
    try:
        parsed = ureg.parse_expression(text)
    except Exception as exc:  # pint raises many types (UndefinedUnitError, AssertionError, ...)
        return None, f"pint cannot parse it ({type(exc).__name__}: {exc})".replace(" ()", "")
    if not isinstance(parsed, ureg.Quantity):
        parsed = ureg.Quantity(parsed, "dimensionless")
    magnitude = float(parsed.magnitude)
    if not math.isfinite(magnitude) or magnitude <= 0:
        return None, "the unit's scale factor must be a positive number"
    try:
        parsed * parsed
    except pint.PintError:
        return None, "an offset unit (like degC) cannot be multiplied in rate laws"
    return parsed, None


def _simple(unit_text: str) -> bool:
    return not any(ch in unit_text for ch in "/* ")


class _Value(NamedTuple):
    q: Any  # pint Quantity: unit, magnitude = scale relative to that unit
    literal: float | None  # the number, if the subexpression is only numbers


class _Mismatch(Exception):
    def __init__(self, reason: str, expected: str, got: str) -> None:
        super().__init__(reason)
        self.reason, self.expected, self.got = reason, expected, got


class _Unresolved(Exception):
    pass


def _show(q: Any) -> str:
    """A readable unit with its dimensionality: 'kg**0.75 ([mass] ** 0.75)'."""
    scale = float(q.magnitude)
    prefix = "" if math.isclose(scale, 1.0) else f"{scale:g} "
    if not list(q.unit_items()):
        return f"{prefix}dimensionless"
    return f"{prefix}{_unit_text(q)} ({'dimensionless' if q.dimensionless else q.dimensionality})"


def _unit_text(q: Any) -> str:
    """Compact symbols as modellers write them: 'g/kg/day', 'kg**0.75', '1/L' (pint says 'l', 'd')."""
    ureg = _registry()

    def symbol(name: str) -> str:
        if name == "day":
            return "day"
        text = ureg.get_symbol(name)
        return text[:-1] + "L" if name.endswith("liter") else text

    def power(name: str, exponent: float) -> str:
        return symbol(name) if exponent == 1 else f"{symbol(name)}**{exponent:g}"

    items = list(q.unit_items())
    numerator = "*".join(power(n, e) for n, e in items if e > 0) or "1"
    per_time_last = sorted((n for n, e in items if e < 0), key=lambda n: ureg.get_dimensionality(n) == "[time]")
    return numerator + "".join(f"/{power(n, -dict(items)[n])}" for n in per_time_last)


def _same_scale(a: Any, b: Any) -> bool:
    return math.isclose(float(a.to(b.units).magnitude), float(b.magnitude), rel_tol=1e-9)


def _conform(got: Any, expected: Any, dimension_reason: str, scale_reason: str) -> None:
    if got.dimensionality != expected.dimensionality:
        raise _Mismatch(dimension_reason, "", _show(got))
    if not _same_scale(got, expected):
        factor = float(got.to(expected.units).magnitude / expected.magnitude)
        raise _Mismatch(f"{scale_reason} (values off by a factor {factor:g})", "", _show(got))


def _dimensionless(value: _Value, what: str) -> None:
    if value.literal is not None:
        return
    try:
        _conform(value.q, _registry().Quantity(1.0, "dimensionless"), f"{what} must be dimensionless",
                 f"{what} must be dimensionless with scale 1")
    except _Mismatch as exc:
        raise _Mismatch(exc.reason, "dimensionless", exc.got) from None


def _fold(op: Any, *args: float | None) -> float | None:
    """Constant folding of numeric literals (None when not all constant or undefined)."""
    if any(a is None for a in args):
        return None
    try:
        out = float(op(*args))
    except (ArithmeticError, ValueError, TypeError):
        return None
    return out if math.isfinite(out) else None


def _common(values: list[_Value], what: str) -> _Value:
    """Operands that must share a unit (+, -, min, max): literals adopt the others' unit."""
    dimensional = [v for v in values if v.literal is None]
    if not dimensional:
        return values[0]
    first = dimensional[0]
    for other in dimensional[1:]:
        if other.q.dimensionality != first.q.dimensionality:
            raise _Mismatch(f"{what} of different dimensions", "operands of one dimension",
                            f"{_show(first.q)} and {_show(other.q)}")
        if not _same_scale(other.q, first.q):
            raise _Mismatch(f"{what} of one dimension but different scale", "operands in the same unit",
                            f"{_show(first.q)} and {_show(other.q)}")
    return _Value(first.q, None)


def _evaluate(node: Node, scope: dict[str, Any]) -> _Value:
    """The unit (and, for numbers only, the value) of an expression's tree: one ``fold``
    whose rules for functions come from ``FUNCTIONS`` (``UnitRule``)."""
    ureg = _registry()

    def combine(node: Node, args: tuple[_Value, ...]) -> _Value:
        if isinstance(node, Num):
            return _Value(ureg.Quantity(1.0, "dimensionless"), node.value)
        if isinstance(node, Sym):
            if node.name not in scope:
                raise _Mismatch(f"reads undefined {node.name!r}", "a declared name", node.name)
            if scope[node.name] is None:
                raise _Unresolved(node.name)
            return _Value(scope[node.name], None)
        if isinstance(node, Unary):
            (inner,) = args
            sign = -1.0 if node.op == "-" else 1.0
            return _Value(inner.q, _fold(lambda v: sign * v, inner.literal))
        if isinstance(node, Binary):
            left, right = args
            op = OPERATORS[node.op].python
            if node.op in ("+", "-"):
                return _Value(_common([left, right], f"'{node.op}'").q, _fold(op, left.literal, right.literal))
            if node.op == "*":
                return _Value(left.q * right.q, _fold(op, left.literal, right.literal))
            if node.op == "/":
                return _Value(left.q / right.q, _fold(op, left.literal, right.literal))
            if right.literal is not None:  # **
                return _Value(left.q**right.literal, _fold(op, left.literal, right.literal))
            _dimensionless(right, "a non-constant exponent")
            _dimensionless(left, "the base of a non-constant exponent")
            return _Value(ureg.Quantity(1.0, "dimensionless"), None)
        if isinstance(node, Call):
            function = FUNCTIONS[node.fn]
            literal = _fold(function.python, *(a.literal for a in args))
            if function.unit is UnitRule.COMMON:
                return _Value(_common(list(args), f"{function.name} of values").q, literal)
            (arg,) = args
            if function.unit is UnitRule.DIMENSIONLESS:
                _dimensionless(arg, f"the argument of {function.name}")
                return _Value(ureg.Quantity(1.0, "dimensionless"), literal)
            if function.unit is UnitRule.SQUARE_ROOT:
                return _Value(arg.q**0.5, literal)
            return _Value(arg.q, literal)  # UnitRule.SAME
        raise TypeError(f"not an expression node: {node!r}")

    return fold(node, combine)
