"""Rate laws as small, checked arithmetic expressions.

A module writes its equations as strings such as ``"k_deg * (1 - rescue) * ivig_central_g"``.
One string is the single source of truth for three uses:

- the numerical engine (compiled to vectorised NumPy source, see ``compile``),
- SBML export (the same infix formula, handed to libSBML),
- the documentation (printed as written).

Only arithmetic, names and a few functions are allowed, so an expression can never
do I/O or depend on hidden state. Parsing uses Python's own ``ast``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

from ivigsim.errors import ModelDefinitionError

#: How many arguments each function takes: (fewest, most).
ARITY: dict[str, tuple[int, float]] = {
    "exp": (1, 1), "log": (1, 1), "sqrt": (1, 1), "abs": (1, 1),
    "min": (2, float("inf")), "max": (2, float("inf")),
}

#: Functions an expression may call, with their NumPy spelling.
FUNCTIONS: dict[str, str] = {
    "exp": "np.exp",
    "log": "np.log",
    "sqrt": "np.sqrt",
    "min": "np.minimum",
    "max": "np.maximum",
    "abs": "np.abs",
}

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


@dataclass(frozen=True)
class Expression:
    """A parsed, validated arithmetic expression."""

    text: str

    def __post_init__(self) -> None:
        try:
            tree = ast.parse(self.text.strip(), mode="eval")
        except SyntaxError as exc:
            raise ModelDefinitionError(f"cannot parse expression {self.text!r}: {exc.msg}") from None
        _check(tree.body, self.text)

    @cached_property
    def _tree(self) -> ast.expr:
        return ast.parse(self.text.strip(), mode="eval").body

    @cached_property
    def symbols(self) -> frozenset[str]:
        """Names the expression reads (functions excluded)."""
        return frozenset(
            node.id
            for node in ast.walk(self._tree)
            if isinstance(node, ast.Name) and node.id not in FUNCTIONS
        )

    def to_numpy(self, power: Callable[[str, str], str] | None = None) -> str:
        """Python source evaluating the expression on NumPy arrays (names unchanged).

        ``power(base, exponent)`` spells a power (default ``(base ** exponent)``); the
        compiled engine passes one that takes fast paths for common exponents.
        """
        if power is None:
            return emit_source(self._tree)

        def binop(node: ast.BinOp, left: str, right: str) -> str:
            return power(left, right) if isinstance(node.op, ast.Pow) else binary_source(node, left, right)

        return emit_source(self._tree, binop)

    def __str__(self) -> str:
        return self.text


def _check(node: ast.AST, text: str) -> None:
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        _check(node.left, text)
        _check(node.right, text)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        _check(node.operand, text)
    elif isinstance(node, ast.Name):
        pass
    elif isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(
        node.value, bool
    ):
        pass
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS:
        lo, hi = ARITY[node.func.id]
        if node.keywords or not lo <= len(node.args) <= hi:
            raise ModelDefinitionError(
                f"{node.func.id} takes {lo}{'' if lo == hi else ' or more'} argument(s) in {text!r}"
            )
        for arg in node.args:
            _check(arg, text)
    else:
        raise ModelDefinitionError(
            f"expression {text!r} uses {ast.dump(node)[:40]}...; only + - * / **, numbers, "
            f"names and {sorted(FUNCTIONS)} are allowed"
        )


def binary_source(node: ast.BinOp, left: str, right: str) -> str:
    """A binary operation written as NumPy/Python source, ``**`` for powers."""
    return f"({left} {_BINARY[type(node.op)]} {right})"


def balance_source(leaving: Sequence[str], entering: Sequence[str]) -> str:
    """A state's derivative from its mass balance (``Model.balances``) as source, fluxes read
    from ``_flux_<name>``: ``- _flux_a + _flux_b``. Shared by the NumPy generator
    (``model/compose.py``) and the compiled one (``engine/codegen.py``), so both sum the
    same terms in the same order."""
    terms = [f"- _flux_{name}" for name in leaving] + [f"+ _flux_{name}" for name in entering]
    return " ".join(terms) if terms else "0.0"


def emit_source(node: ast.AST, binop: Callable[[ast.BinOp, str, str], str] = binary_source) -> str:
    """Source for a checked expression tree; ``binop(node, left, right)`` writes each binary
    operation from its operands' source (the engine's code generator spells powers and
    divisions its own way, ``ivigsim.engine.codegen``; everything else is spelled here)."""
    if isinstance(node, ast.BinOp):
        return binop(node, emit_source(node.left, binop), emit_source(node.right, binop))
    if isinstance(node, ast.UnaryOp):
        return f"({'-' if isinstance(node.op, ast.USub) else '+'}{emit_source(node.operand, binop)})"
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant):
        return repr(float(node.value))
    if isinstance(node, ast.Call):
        name = node.func.id  # type: ignore[attr-defined]
        args = [emit_source(a, binop) for a in node.args]
        if name in ("min", "max") and len(args) > 2:
            # np.minimum is binary: fold left.
            out = args[0]
            for a in args[1:]:
                out = f"{FUNCTIONS[name]}({out}, {a})"
            return out
        return f"{FUNCTIONS[name]}({', '.join(args)})"
    raise AssertionError(node)  # unreachable: _check ran first
