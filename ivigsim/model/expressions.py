"""Rate laws as small, checked arithmetic expressions.

A module writes its equations as strings such as ``"k_deg * (1 - rescue) * ivig_central_g"``.
One string is the single source of truth for every use:

- the numerical engine (compiled to vectorised NumPy source, see ``Expression.to_numpy``,
  and to scalar numba source, ``ivigsim.engine.codegen``),
- the unit check (``ivigsim.model.units``),
- SBML export (``ivigsim.io.sbml``, translated to MathML),
- the documentation (printed as written).

Only arithmetic, names and a few functions are allowed, so an expression can never
do I/O or depend on hidden state. Parsing uses Python's own ``ast``, once: the parser
checks the syntax tree and turns it into a small typed intermediate form (``Expression.ir``:
``Num``, ``Sym``, ``Unary``, ``Binary``, ``Call``), which is all any consumer reads. The
functions an expression may call are declared once, in ``FUNCTIONS``: arity, NumPy and
scalar (numba) spelling, libSBML/MathML name, the Python function that folds constants
and the unit rule. ``fold`` is the one tree walk the consumers build on.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import Literal, TypeVar, Union

from ivigsim.errors import ModelDefinitionError

T = TypeVar("T")

# -- the intermediate form ---------------------------------------------------------------

UnaryOp = Literal["-", "+"]
BinaryOp = Literal["+", "-", "*", "/", "**"]


@dataclass(frozen=True)
class Num:
    """A number (always a float: ``2`` and ``2.0`` are the same number)."""

    value: float


@dataclass(frozen=True)
class Sym:
    """A name: a parameter, state, input, assignment or the time ``t``."""

    name: str


@dataclass(frozen=True)
class Unary:
    """``-arg`` or ``+arg``."""

    op: UnaryOp
    arg: Node


@dataclass(frozen=True)
class Binary:
    """``left op right`` for op in ``+ - * / **``."""

    op: BinaryOp
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    """``fn(*args)``: a function of ``FUNCTIONS`` with an argument count it accepts."""

    fn: str
    args: tuple[Node, ...]

    def __post_init__(self) -> None:
        function = FUNCTIONS.get(self.fn)
        if function is None or not function.accepts(len(self.args)):
            raise ModelDefinitionError(f"no function {self.fn} of {len(self.args)} argument(s) "
                                       f"among {sorted(FUNCTIONS)}")


Node = Union[Num, Sym, Unary, Binary, Call]


def children(node: Node) -> tuple[Node, ...]:
    """The operands of ``node``, left to right (none for a number or a name)."""
    if isinstance(node, Unary):
        return (node.arg,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Call):
        return node.args
    return ()


def fold(node: Node, combine: Callable[[Node, tuple[T, ...]], T]) -> T:
    """Bottom-up fold: ``combine(node, results of its children, left to right)``.

    The one tree walk of the language: source emission, constant evaluation, the unit
    check and the SBML writer's unit inference are each one ``combine``."""
    return combine(node, tuple(fold(child, combine) for child in children(node)))


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children, left to right."""
    yield node
    for child in children(node):
        yield from walk(child)


def symbols_of(node: Node) -> frozenset[str]:
    """Names a (sub)expression reads (a name spelled as a function is not one, as before)."""
    return frozenset(n.name for n in walk(node) if isinstance(n, Sym) and n.name not in FUNCTIONS)


# -- the one table of functions and operators ---------------------------------------------


class UnitRule(Enum):
    """How a function treats units (``ivigsim.model.units``, ``ivigsim.io.sbml``)."""

    #: The argument must be dimensionless (scale 1); so is the result (exp, log).
    DIMENSIONLESS = "dimensionless"
    #: The result has the argument's unit to the power 1/2 (sqrt).
    SQUARE_ROOT = "square root"
    #: The result has the argument's unit (abs).
    SAME = "same"
    #: The arguments share one unit (numbers take it), which the result has (min, max).
    COMMON = "common"


@dataclass(frozen=True)
class Function:
    """One function an expression may call, with every spelling and rule it has."""

    name: str
    min_args: int
    max_args: float  # inf: any number from min_args
    numpy: str  # NumPy spelling, batched over patients (``Expression.to_numpy``)
    scalar: str  # scalar spelling in the numba kernel (``ivigsim.engine.codegen``)
    sbml: str  # libSBML ASTNode type (``ivigsim.io.sbml``)
    mathml: str  # the MathML element libSBML writes it as
    python: Callable[..., float]  # folds numbers-only arguments
    unit: UnitRule
    #: Degree of an SBML ``root`` (sqrt is the root of degree 2); None for other functions.
    sbml_degree: int | None = None
    #: The NumPy/scalar spelling is binary: calls with more arguments fold left.
    pairwise: bool = False

    def accepts(self, n: int) -> bool:
        return self.min_args <= n <= self.max_args

    def arity_text(self) -> str:
        return f"{self.min_args}{'' if self.min_args == self.max_args else ' or more'}"

    def spelling(self, target: Spelling) -> str:
        return self.numpy if target == "numpy" else self.scalar


Spelling = Literal["numpy", "scalar"]

_INF = float("inf")
#: Every function an expression may call, declared once.
FUNCTIONS: dict[str, Function] = {f.name: f for f in (
    Function("exp", 1, 1, "np.exp", "_exp", "AST_FUNCTION_EXP", "exp", math.exp, UnitRule.DIMENSIONLESS),
    Function("log", 1, 1, "np.log", "np.log", "AST_FUNCTION_LN", "ln", math.log, UnitRule.DIMENSIONLESS),
    Function("sqrt", 1, 1, "np.sqrt", "np.sqrt", "AST_FUNCTION_ROOT", "root", math.sqrt, UnitRule.SQUARE_ROOT,
             sbml_degree=2),
    Function("min", 2, _INF, "np.minimum", "np.minimum", "AST_FUNCTION_MIN", "min", min, UnitRule.COMMON,
             pairwise=True),
    Function("max", 2, _INF, "np.maximum", "np.maximum", "AST_FUNCTION_MAX", "max", max, UnitRule.COMMON,
             pairwise=True),
    Function("abs", 1, 1, "np.abs", "np.abs", "AST_FUNCTION_ABS", "abs", abs, UnitRule.SAME),
)}


@dataclass(frozen=True)
class Operator:
    """One binary operator: its source spelling is its symbol."""

    symbol: BinaryOp
    python: Callable[[float, float], float]
    sbml: str  # libSBML ASTNode type
    mathml: str


OPERATORS: dict[str, Operator] = {o.symbol: o for o in (
    Operator("+", operator.add, "AST_PLUS", "plus"),
    Operator("-", operator.sub, "AST_MINUS", "minus"),
    Operator("*", operator.mul, "AST_TIMES", "times"),
    Operator("/", operator.truediv, "AST_DIVIDE", "divide"),
    Operator("**", operator.pow, "AST_POWER", "power"),
)}

_BINARY: dict[type, BinaryOp] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_UNARY: dict[type, UnaryOp] = {ast.USub: "-", ast.UAdd: "+"}


# -- expressions -------------------------------------------------------------------------


@dataclass(frozen=True)
class Expression:
    """A parsed, validated arithmetic expression; ``ir`` is its typed tree."""

    text: str
    ir: Node = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            tree = ast.parse(self.text.strip(), mode="eval")
        except SyntaxError as exc:
            raise ModelDefinitionError(f"cannot parse expression {self.text!r}: {exc.msg}") from None
        object.__setattr__(self, "ir", _convert(tree.body, self.text))

    @cached_property
    def symbols(self) -> frozenset[str]:
        """Names the expression reads (functions excluded)."""
        return symbols_of(self.ir)

    def to_numpy(self, power: Callable[[str, str], str] | None = None) -> str:
        """Python source evaluating the expression on NumPy arrays (names unchanged).

        ``power(base, exponent)`` spells a power (default ``(base ** exponent)``); the
        compiled engine passes one that takes fast paths for common exponents.
        """
        if power is None:
            return emit_source(self.ir)

        def binop(node: Binary, left: str, right: str) -> str:
            return power(left, right) if node.op == "**" else binary_source(node, left, right)

        return emit_source(self.ir, binop)

    def evaluate(self, values: Mapping[str, float] | None = None) -> float:
        """The expression's value for the given names (see :func:`evaluate`)."""
        return evaluate(self.ir, values)

    def __str__(self) -> str:
        return self.text


def _convert(node: ast.AST, text: str) -> Node:
    """The checked syntax tree as the intermediate form (raises on anything not allowed)."""
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return Binary(_BINARY[type(node.op)], _convert(node.left, text), _convert(node.right, text))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return Unary(_UNARY[type(node.op)], _convert(node.operand, text))
    if isinstance(node, ast.Name):
        return Sym(node.id)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(
        node.value, bool
    ):
        try:
            return Num(float(node.value))
        except OverflowError:
            raise ModelDefinitionError(f"expression {text!r} has a number too large for a float") from None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS:
        function = FUNCTIONS[node.func.id]
        if node.keywords or not function.accepts(len(node.args)):
            raise ModelDefinitionError(f"{function.name} takes {function.arity_text()} argument(s) in {text!r}")
        return Call(function.name, tuple(_convert(arg, text) for arg in node.args))
    raise ModelDefinitionError(
        f"expression {text!r} uses {ast.dump(node)[:40]}...; only + - * / **, numbers, "
        f"names and {sorted(FUNCTIONS)} are allowed"
    )


# -- consumers: source and value -----------------------------------------------------------


def binary_source(node: Binary, left: str, right: str) -> str:
    """A binary operation written as NumPy/Python source, ``**`` for powers."""
    return f"({left} {node.op} {right})"


def balance_source(leaving: Sequence[str], entering: Sequence[str]) -> str:
    """A state's derivative from its mass balance (``Model.balances``) as source, fluxes read
    from ``_flux_<name>``: ``- _flux_a + _flux_b``. Shared by the NumPy generator
    (``model/compose.py``) and the compiled one (``engine/codegen.py``), so both sum the
    same terms in the same order."""
    terms = [f"- _flux_{name}" for name in leaving] + [f"+ _flux_{name}" for name in entering]
    return " ".join(terms) if terms else "0.0"


def emit_source(
    node: Node,
    binop: Callable[[Binary, str, str], str] = binary_source,
    spelling: Spelling = "numpy",
    symbol: Callable[[str], str] = str,
) -> str:
    """Source for an expression's tree; ``binop(node, left, right)`` writes each binary
    operation from its operands' source (the engine's code generator spells powers and
    divisions its own way, ``ivigsim.engine.codegen``; everything else is spelled here),
    functions in ``spelling`` (``"numpy"`` or ``"scalar"``, from ``FUNCTIONS``), each name
    as ``symbol(name)`` (the lockstep kernel reads a name from its row of an array)."""

    def combine(node: Node, args: tuple[str, ...]) -> str:
        if isinstance(node, Binary):
            return binop(node, *args)
        if isinstance(node, Unary):
            return f"({node.op}{args[0]})"
        if isinstance(node, Sym):
            return symbol(node.name)
        if isinstance(node, Num):
            return repr(node.value)
        if isinstance(node, Call):
            function = FUNCTIONS[node.fn]
            name = function.spelling(spelling)
            if function.pairwise and len(args) > 2:
                out = args[0]  # np.minimum is binary: fold left
                for a in args[1:]:
                    out = f"{name}({out}, {a})"
                return out
            return f"{name}({', '.join(args)})"
        raise TypeError(f"not an expression node: {node!r}")

    return fold(node, combine)


def evaluate(node: Node, values: Mapping[str, float] | None = None) -> float:
    """The value of a tree in Python floats, names read from ``values`` (a numbers-only
    tree needs none). Errors are Python's own (``ZeroDivisionError``, ``ValueError`` from
    ``log(0)``, ``KeyError`` for a name without a value); a negative base to a fractional
    power gives a complex number, as in Python."""
    values = {} if values is None else values

    def combine(node: Node, args: tuple[float, ...]) -> float:
        if isinstance(node, Num):
            return node.value
        if isinstance(node, Sym):
            return values[node.name]
        if isinstance(node, Unary):
            return -args[0] if node.op == "-" else +args[0]
        if isinstance(node, Binary):
            return OPERATORS[node.op].python(*args)
        if isinstance(node, Call):
            return FUNCTIONS[node.fn].python(*args)
        raise TypeError(f"not an expression node: {node!r}")

    return fold(node, combine)
