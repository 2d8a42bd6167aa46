"""Partial derivatives of an expression's tree, as scalar source: the analytic Jacobian.

The stiff method (Rodas4P2) needs the Jacobian df/dy at the start of every step. Forward
differences cost one right-hand side per group of structurally independent columns (five
to seven for the shipped models) and a division per entry; the derivatives written out
from the same typed tree the right-hand side is emitted from (``Expression.ir``) cost about
one right-hand side, and are exact rather than accurate to the square root of the machine
epsilon.

``derivative_sources(node, emit, wrt)`` differentiates one expression by the chain rule:
``wrt(name)`` gives the derivatives of a name with respect to the states (a state: 1 for
itself; an assignment: the variables the generator already wrote for it; a parameter,
constant, input or the time: none), and ``emit(node)`` the value of a subtree as the code
generator spells it (so the derivative reads the same reciprocals and fast powers as the
right-hand side). Only the states a name can depend on appear, so the result follows the
Jacobian's structural sparsity (``codegen.jacobian_pattern``).

Where an expression is not differentiable (``abs`` at 0, ``min``/``max`` where the two
arguments are equal) the derivative of the branch the value takes is used, as a forward
difference would see it from above for ``abs`` and from the first argument for ties.
Where a derivative is not finite (a power below one at zero, ``log`` or ``sqrt`` at zero)
the kernel falls back to forward differences for that Jacobian (``kernel_template``).
"""

from __future__ import annotations

from typing import Callable, Mapping

from ivigsim.model.expressions import FUNCTIONS, Binary, Call, Node, Num, Sym, Unary

#: Derivatives of one quantity with respect to the states: state index -> scalar source.
Partials = Mapping[int, str]


def derivative_sources(node: Node, emit: Callable[[Node], str],
                       wrt: Callable[[str], Partials]) -> dict[int, str]:
    """d(node)/d(y_j) for each state j the node can depend on, as scalar source."""
    if isinstance(node, Num):
        return {}
    if isinstance(node, Sym):
        return dict(wrt(node.name))
    if isinstance(node, Unary):
        inner = derivative_sources(node.arg, emit, wrt)
        return inner if node.op == "+" else {j: _neg(d) for j, d in inner.items()}
    if isinstance(node, Binary):
        return _binary(node, emit, wrt)
    if isinstance(node, Call):
        return _call(node, emit, wrt)
    raise TypeError(f"not an expression node: {node!r}")


def _binary(node: Binary, emit, wrt) -> dict[int, str]:
    left, right = node.left, node.right
    dl = derivative_sources(left, emit, wrt)
    dr = derivative_sources(right, emit, wrt)
    if node.op in "+-":
        sign = _neg if node.op == "-" else (lambda d: d)
        return _combine(dl, dr, lambda a, b: a if b is None else (sign(b) if a is None else
                                                                    f"({a} {node.op} {b})"))
    if node.op == "*":
        lv, rv = emit(left), emit(right)
        return _combine(dl, dr, lambda a, b: _sum(_times(a, rv), _times(lv, b)))
    if node.op == "/":
        # d(l/r) = (dl - (l/r) dr) / r, the division spelt as the generator spells l/r (a
        # denominator of parameters only is a multiplication by its reciprocal).
        quotient = emit(node)
        return _combine(dl, dr, lambda a, b: _over(_sum(a, _neg_or_none(_times(quotient, b))), right, emit))
    if node.op == "**":
        power = emit(node)
        if not dr:  # a constant exponent: n l^(n-1) dl, the power spelt by the generator
            lowered = emit(Binary("**", left, Binary("-", right, Num(1.0)) if not isinstance(right, Num)
                                  else Num(right.value - 1.0)))
            factor = f"({emit(right)} * {lowered})"
            return {j: _times(factor, a) for j, a in dl.items()}
        # l^r (dr log l + r dl / l)
        lv, rv = emit(left), emit(right)
        return _combine(dl, dr, lambda a, b: _times(power, _sum(_times(b, f"np.log({lv})"),
                                                                _times(rv, None if a is None else f"({a} / {lv})"))))
    raise TypeError(f"not a binary operator: {node.op!r}")


def _call(node: Call, emit, wrt) -> dict[int, str]:
    function = FUNCTIONS[node.fn]
    if node.fn in ("min", "max"):
        # Pairwise from the left, as the value is computed (np.minimum(np.minimum(a, b), c)):
        # each pair takes the derivative of the argument its value is.
        compare = "<=" if node.fn == "min" else ">="
        acc_node, acc = node.args[0], derivative_sources(node.args[0], emit, wrt)
        for arg in node.args[1:]:
            da = derivative_sources(arg, emit, wrt)
            av, bv = emit(acc_node), emit(arg)
            acc = _combine(acc, da, lambda a, b, av=av, bv=bv:
                           f"({a or '0.0'} if {av} {compare} {bv} else {b or '0.0'})")
            acc_node = Call(node.fn, (acc_node, arg))
        return acc
    (arg,) = node.args
    inner = derivative_sources(arg, emit, wrt)
    value, av = emit(node), emit(arg)
    if function.name == "exp":
        return {j: _times(value, d) for j, d in inner.items()}
    if function.name == "log":
        return {j: f"({d} / {av})" for j, d in inner.items()}
    if function.name == "sqrt":
        return {j: f"(0.5 * {d} / {value})" for j, d in inner.items()}
    if function.name == "abs":
        return {j: f"({d} if {av} >= 0.0 else -{d})" for j, d in inner.items()}
    raise TypeError(f"no derivative written for function {node.fn!r}")  # a new entry in FUNCTIONS


def _combine(a: Partials, b: Partials, rule) -> dict[int, str]:
    """``rule(da_j, db_j)`` (either may be None: structurally zero) for each state j in either."""
    return {j: rule(a.get(j), b.get(j)) for j in sorted(set(a) | set(b))}


def _times(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return None
    if a == "1.0":
        return b
    if b == "1.0":
        return a
    return f"({a} * {b})"


def _sum(a: str | None, b: str | None) -> str:
    if a is None:
        return "0.0" if b is None else b
    return a if b is None else f"({a} + {b})"


def _neg(d: str) -> str:
    return f"(-{d})"


def _neg_or_none(d: str | None) -> str | None:
    return None if d is None else _neg(d)


_SLOT = "_derivative_numerator"


def _over(numerator: str, denominator: Node, emit) -> str:
    """``numerator / denominator`` spelt by the generator's division (a reciprocal where it has one)."""
    return emit(Binary("/", Sym(_SLOT), denominator)).replace(_SLOT, numerator, 1)

