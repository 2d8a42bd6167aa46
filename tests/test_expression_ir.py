"""The expression language's one typed tree (``Expression.ir``) and one function table.

Every consumer (NumPy and numba source, the unit check, the SBML writer) reads the tree
and ``FUNCTIONS``; these tests check the tree against the text it came from (a round
trip, and Python's own evaluation of the text as an independent reference), that every
function has every spelling its consumers need, and that the table's unit rules give the
documented problems.
"""

from __future__ import annotations

import cmath
import math
import random
import re
from pathlib import Path

import libsbml
import numpy as np
import pytest

from ivigsim.errors import ModelDefinitionError
from ivigsim.model.compose import Model
from ivigsim.model.declaration import Assignment, Module, Parameter
from ivigsim.model.expressions import (
    FUNCTIONS, OPERATORS, Binary, Call, Expression, Node, Num, Sym, Unary, UnitRule, emit_source, evaluate, fold,
    symbols_of, walk,
)
from ivigsim.model.units import check_units

ROOT = Path(__file__).resolve().parents[1]

#: Python's own meaning of each function, written here independently of the table.
PYTHON = {"exp": math.exp, "log": math.log, "sqrt": math.sqrt, "abs": abs, "min": min, "max": max}
NAMES = ("a", "b", "c", "t")
LITERALS = ("1", "2", "0.5", "3.0", "1e-3", "70", "0", "2.5e2")


def random_expression(rng: random.Random, depth: int = 0) -> str:
    """A random text of the language: every operator, function and arity appears."""
    r = rng.random()
    if depth > 3 or r < 0.3:
        return rng.choice(NAMES) if rng.random() < 0.6 else rng.choice(LITERALS)
    if r < 0.65:
        left, right = random_expression(rng, depth + 1), random_expression(rng, depth + 1)
        return f"({left} {rng.choice(list(OPERATORS))} {right})"
    if r < 0.75:
        return f"{rng.choice('-+')}{random_expression(rng, depth + 1)}"
    name = rng.choice(sorted(FUNCTIONS))
    f = FUNCTIONS[name]
    n = rng.randint(f.min_args, min(f.max_args, f.min_args + 2))
    return f"{name}({', '.join(random_expression(rng, depth + 1) for _ in range(n))})"


EXPRESSIONS = [random_expression(random.Random(seed)) for seed in range(400)]


def _text(node: Node) -> str:
    """The tree written back in the language itself (a consumer built on ``fold``)."""

    def combine(node: Node, args: tuple[str, ...]) -> str:
        if isinstance(node, Num):
            return repr(node.value)
        if isinstance(node, Sym):
            return node.name
        if isinstance(node, Unary):
            return f"({node.op}{args[0]})"
        if isinstance(node, Binary):
            return f"({args[0]} {node.op} {args[1]})"
        return f"{node.fn}({', '.join(args)})"

    return fold(node, combine)


# -- the tree ------------------------------------------------------------------------------


def test_parser_builds_the_typed_tree():
    ir = Expression("k * (1 - f) * max(x, 1e-30, y) ** -2 + log(t) / +v").ir
    assert ir == Binary(
        "+",
        Binary("*", Binary("*", Sym("k"), Binary("-", Num(1.0), Sym("f"))),
               Binary("**", Call("max", (Sym("x"), Num(1e-30), Sym("y"))), Unary("-", Num(2.0)))),
        Binary("/", Call("log", (Sym("t"),)), Unary("+", Sym("v"))),
    )


def test_expression_equality_and_hash_are_the_text():
    a, b = Expression("x + 1"), Expression("x + 1")
    assert a == b and hash(a) == hash(b) and a.ir == b.ir and a.ir is not b.ir
    assert Expression("x+1") != a and Expression("x+1").ir == a.ir
    assert "ir" not in repr(a)


@pytest.mark.parametrize("text", EXPRESSIONS[:100])
def test_round_trip_through_the_language(text: str):
    ir = Expression(text).ir
    assert Expression(_text(ir)).ir == ir
    assert Expression(text).symbols == {n.name for n in walk(ir) if isinstance(n, Sym)} == symbols_of(ir)


#: Source as the emitter wrote it before the tree existed (from ``ast`` directly): the
#: tree must not change a character of the generated engine code.
TODAY = {
    "k_deg * (1 - rescue) * ivig_central_g": "((k_deg * (1.0 - rescue)) * ivig_central_g)",
    "-x ** 2": "(-(x ** 2.0))",
    "(w / 70) ** 0.75": "((w / 70.0) ** 0.75)",
    "x ** y ** z": "(x ** (y ** z))",
    "a - b - c": "((a - b) - c)",
    "+a": "(+a)",
    "min(a, b)": "np.minimum(a, b)",
    "max(a, b, 1e-30, c)": "np.maximum(np.maximum(np.maximum(a, b), 1e-30), c)",
    "exp(-k * t) + log(x) + sqrt(y) + abs(z)": "(((np.exp(((-k) * t)) + np.log(x)) + np.sqrt(y)) + np.abs(z))",
    "1e400": "inf",
    "10 ** 400": "(10.0 ** 400.0)",
    "2": "2.0",
}


@pytest.mark.parametrize(("text", "source"), TODAY.items())
def test_numpy_source_is_todays(text: str, source: str):
    expression = Expression(text)
    assert expression.to_numpy() == source == emit_source(expression.ir)
    # The scalar spelling is NumPy's but for exp, the kernel's own (engine/elementary.py).
    assert emit_source(expression.ir, spelling="scalar") == source.replace("np.exp(", "_exp(")


def test_the_engine_spells_powers_and_divisions_its_way():
    from ivigsim.engine.codegen import Reciprocals, scalar

    recips = Reciprocals({"v", "k"})
    assert scalar(Expression("a ** 2 + a ** 0.5 + a ** 1 + a ** 33 + a ** n"), recips) == (
        "((((_ipw(a, 2) + np.sqrt(a)) + a) + _pw(a, 33.0)) + _pw(a, n))")
    assert scalar(Expression("a / v + a / (v * k) + a / 2 + a / t + a / v"), recips) == (
        "(((((a * _rcp0) + (a * _rcp1)) + (a / 2.0)) + (a / t)) + (a * _rcp0))")
    assert recips.sources == {"v": 0, "(v * k)": 1}
    assert Expression("x ** 3").to_numpy(lambda b, e: f"P({b}, {e})") == "P(x, 3.0)"


def test_calls_are_checked_in_the_tree_too():
    with pytest.raises(ModelDefinitionError, match="no function log of 2"):
        Call("log", (Num(1.0), Num(2.0)))
    with pytest.raises(ModelDefinitionError, match="no function foo"):
        Call("foo", (Num(1.0),))


@pytest.mark.parametrize(("text", "message"), [
    ("log(x, 2)", re.escape("log takes 1 argument(s) in 'log(x, 2)'")),
    ("min(x)", re.escape("min takes 2 or more argument(s) in 'min(x)'")),
    ("exp(x=1)", re.escape("exp takes 1 argument(s)")),
    ("foo(x)", r"only \+ - \* / \*\*, numbers, names and \['abs', 'exp', 'log', 'max', 'min', 'sqrt'\] are allowed"),
    ("x // y", "uses BinOp"),
    ("x < y", "uses Compare"),
    ("x if y else z", "uses IfExp"),
    ("True", "uses Constant"),
    ("x +", "cannot parse expression"),
    ("1" + "0" * 400, "too large for a float"),
])
def test_the_parser_keeps_its_checks(text: str, message: str):
    with pytest.raises(ModelDefinitionError, match=message):
        Expression(text)


# -- folding: the tree means what Python means by the text --------------------------------


def _outcome(compute):
    try:
        return "value", compute()
    except (ArithmeticError, ValueError, TypeError) as exc:  # TypeError: a complex value met a real function
        return "error", type(exc).__name__


@pytest.mark.parametrize("seed", range(4))
def test_evaluating_the_tree_agrees_with_python(seed: int):
    rng = random.Random(1000 + seed)
    for text in EXPRESSIONS[100 * seed:100 * (seed + 1)]:
        values = {name: rng.choice([rng.uniform(0.1, 5.0), rng.uniform(-5.0, 5.0), 0.0]) for name in NAMES}
        expected = _outcome(lambda: eval(text, {"__builtins__": {}, **PYTHON}, dict(values)))  # noqa: S307
        got = _outcome(lambda: evaluate(Expression(text).ir, values))
        assert got[0] == expected[0], (text, values, got, expected)
        if got[0] == "error":
            assert got[1] == expected[1], (text, values)
        elif isinstance(expected[1], complex) or isinstance(got[1], complex):
            assert cmath.isclose(got[1], expected[1], rel_tol=1e-12), (text, values)
        else:
            assert got[1] == expected[1] or (math.isnan(got[1]) and math.isnan(expected[1])), (text, values)


def test_evaluate_reports_a_missing_name():
    with pytest.raises(KeyError):
        Expression("a + b").evaluate({"a": 1.0})
    assert Expression("min(2, 3) ** 2").evaluate() == 4.0


# -- the function table --------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_has_every_spelling(name: str):
    f = FUNCTIONS[name]
    assert f.name == name and 1 <= f.min_args <= f.max_args and isinstance(f.unit, UnitRule)
    assert f.numpy.startswith("np.") and callable(getattr(np, f.numpy[3:]))  # the batched engine's
    # The kernel's: numba compiles the np ufuncs; exp is the kernel's own (engine/elementary.py).
    import ivigsim.engine.elementary as elementary

    assert callable(getattr(elementary, f.scalar) if f.scalar.startswith("_") else getattr(np, f.scalar[3:]))
    args = [0.7, 0.3, 0.5][:f.min_args]
    assert f.python(*args) == PYTHON[name](*args) == pytest.approx(float(getattr(np, f.numpy[3:])(*args)))
    assert isinstance(getattr(libsbml, f.sbml), int)
    mathml = _sbml_of(f"{name}({', '.join(['x'] * f.min_args)})")
    assert f"<{f.mathml}/>" in mathml
    if f.sbml_degree is not None:
        assert f"<degree>\n" in mathml and f"> {f.sbml_degree} </cn>" in mathml
    # NumPy's binary functions are folded left for more arguments
    if f.max_args > 2:
        assert f.pairwise and Expression(f"{name}(x, y, z)").to_numpy() == f"{f.numpy}({f.numpy}(x, y), z)"


@pytest.mark.parametrize("symbol", sorted(OPERATORS))
def test_every_operator_has_every_spelling(symbol: str):
    op = OPERATORS[symbol]
    assert op.python(3.0, 2.0) == eval(f"3.0 {symbol} 2.0")  # noqa: S307
    assert isinstance(getattr(libsbml, op.sbml), int)
    assert f"<{op.mathml}/>" in _sbml_of(f"x {symbol} w")


def _sbml_of(text: str) -> str:
    from ivigsim.io.sbml import _Writer

    params = tuple(Parameter(n, 1.0, "dimensionless", "assumption", "test") for n in ("x", "w", "z"))
    writer = _Writer(Model((Module("toy", "toy", "", parameters=params),)), libsbml.SBMLDocument(3, 2).createModel())
    return libsbml.writeMathMLToString(writer.math(text, "dimensionless"))


# -- the unit rules of the table give the documented problems ------------------------------

UNITS = {"a_g": "g", "b_g": "g", "v_L": "L", "v_mL": "mL", "x": "dimensionless"}


def _problems(text: str, unit: str) -> list[str]:
    params = tuple(Parameter(n, 1.0, u, "assumption", "test") for n, u in UNITS.items())
    module = Module("toy", "toy", "", parameters=params, assignments=(Assignment("out", text, unit),))
    return [p.reason + " | " + p.got for p in check_units(Model((module,)))]


#: For each rule: (expression, declared unit, the reason expected, or None for no problem).
RULE_CASES = {
    UnitRule.DIMENSIONLESS: [("{f}(x)", "dimensionless", None), ("{f}(a_g / b_g)", "dimensionless", None),
                             ("{f}(a_g)", "dimensionless", "the argument of {f} must be dimensionless | g"),
                             ("{f}(v_mL / v_L)", "dimensionless",
                              "the argument of {f} must be dimensionless with scale 1 (values off by a factor 0.001)")],
    UnitRule.SQUARE_ROOT: [("{f}(a_g * b_g)", "g", None), ("{f}(x)", "dimensionless", None),
                           ("{f}(a_g)", "g", "wrong dimension | g**0.5 ([mass] ** 0.5)")],
    UnitRule.SAME: [("{f}(a_g - b_g)", "g", None), ("{f}(a_g)", "L", "wrong dimension | g ([mass])")],
    UnitRule.COMMON: [("{f}(a_g, b_g)", "g", None), ("{f}(a_g, 1e-30, b_g)", "g", None), ("{f}(1, 2)", "g", None),
                      ("{f}(a_g, v_L)", "g",
                       "{f} of values of different dimensions | g ([mass]) and L ([length] ** 3)"),
                      ("{f}(v_L, 1, v_mL)", "L",
                       "{f} of values of one dimension but different scale | L ([length] ** 3) and mL ([length] ** 3)")],
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_unit_rules_give_the_documented_problems(name: str):
    for text, unit, reason in RULE_CASES[FUNCTIONS[name].unit]:
        problems = _problems(text.format(f=name), unit)
        if reason is None:
            assert problems == [], (text, problems)
        else:
            assert len(problems) == 1 and problems[0].startswith(reason.format(f=name)), (text, problems)


def test_every_unit_rule_is_used_and_tested():
    assert {f.unit for f in FUNCTIONS.values()} == set(UnitRule) == set(RULE_CASES)


def test_constant_exponents_fold_from_the_tree_in_sbml():
    """SBML: a numbers-only exponent (calls included) is folded, as the unit check does."""
    from ivigsim.io.sbml import _constant_value

    assert _constant_value(Expression("sqrt(4) * 3 ** 2").ir) == 18.0
    assert _constant_value(Expression("x ** 2").ir) is None
    mathml = _sbml_of("min(x ** abs(-2), 1)")
    assert 'sbml:units="dimensionless"> 1 </cn>' in mathml


def test_no_consumer_walks_python_syntax_trees():
    """One walker: the engine, the unit check and the SBML writer read ``Expression.ir``."""
    for path in ("ivigsim/model/units.py", "ivigsim/io/sbml.py", "ivigsim/engine/codegen.py",
                 "ivigsim/model/compose.py"):
        text = (ROOT / path).read_text(encoding="utf-8")
        assert "import ast" not in text and "_tree" not in text and "eval(" not in text, path
