"""Generate scalar, numba-compiled versions of a model's right-hand side and outputs.

``ivigsim.model.compose`` generates NumPy functions batched over patients; the
compiled engine instead solves one patient at a time in machine code, so it needs
*scalar* functions of one patient's arrays:

- ``rhs(t, y, p, c, u, dy)``: writes the derivative into ``dy``;
- ``observe_one(k, t, y, p, c, u)``: quantity ``k``: state ``k`` for ``k < n_states``,
  else output ``k - n_states`` (each computes only the assignments it depends on);
- ``jacobian(t, y, p, c, u, jac, fdt)``: df/dy into the structural non-zeros, written out by
  the chain rule from the same trees (``engine/derivatives.py``), for the stiff method.
- ``rhs_lanes`` and ``observe_times``: ``rhs`` for ``LANES`` patients at once and the outputs
  of one patient at many times, for the kernel's lockstep (``_LaneCode``: a loop per
  assignment over the columns, which the compiler vectorises); with the tables of what each
  quantity reads (``OBSERVE_STATES``, ``OBSERVE_ROWS``), so the kernel interpolates and
  computes only what a run asks for.

The expressions are the same strings the NumPy code is made from, emitted here from
their typed tree (``Expression.ir``) by the same emitter as ``Expression.to_numpy``, each
function in its scalar spelling from ``expressions.FUNCTIONS`` (the NumPy one,
``np.minimum``/``np.log``..., which numba compiles for scalars, except ``exp``: the kernel's own
``_exp``, ``engine/elementary.py``, whose text each kernel module holds), with two exact-enough
rewrites that the compiler may not make on its own (``fastmath`` stays off):

- a division by a quantity that depends on parameters only (a volume, a half-saturation
  constant, ``max(baseline, 1e-30)``) becomes a multiplication by its reciprocal, computed
  once per patient (``reciprocals``: the kernel appends them to the patient's constants);
- a power takes a fast path for the exponents models use (0.5, 1, 2, and whole numbers up
  to 32, by repeated squaring, whether the exponent is written in the equation or is a
  parameter such as a cooperativity of 9); ``pow`` is several times a multiplication.

Each rewrite changes a result by at most a few units in the last place, the same for a
patient in any batch (it reads only that patient's own values). The generated
functions and the methods' coefficients (``method_constants``, from ``tableaux.py``) are
written with the solver kernel (``kernel_template.py``, less its block of stand-ins for
them: ``kernel_source``) into one module file in a cache folder and imported from there,
so numba's on-disk cache (``cache=True``) makes the second start of any process fast.
The file name is a hash of the model source, the kernel source and the numba version: a
model change gives a new file, never a stale compiled kernel.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
import tempfile
import weakref
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from ivigsim.engine.derivatives import derivative_sources
from ivigsim.engine.kernel_method import KernelMethod
from ivigsim.engine.tableaux import DOPRI5, RODAS4P2, ButcherTableau, RosenbrockTableau
from ivigsim.model.compose import CompiledModel, Model
from ivigsim.model.declaration import TIME
from ivigsim.model.expressions import (
    Binary, Expression, Node, Num, Sym, balance_source, binary_source, emit_source, symbols_of,
)

TEMPLATE = Path(__file__).with_name("kernel_template.py")


#: numba options of the generated helpers. They allocate nothing, so they run without
#: numba's reference counting (``_nrt=False``): with it, each call of a helper took an
#: atomic increment and decrement per array argument, about a quarter of a step's time.
#: ``error_model='numpy'``: a division by zero gives inf or nan, as in NumPy, instead of raising. A
#: trial stage can leave the model's domain (an overshoot below zero where a denominator
#: vanishes only there, as in the FcRn inhibitor's binding); the non-finite stage then rejects
#: the step, as the NumPy solver's does, instead of aborting every patient of the batch.
NO_REFCOUNT = "cache=True, fastmath=False, _nrt=False, error_model='numpy'"
#: Whole-number exponents up to this go through repeated squaring instead of ``pow``.
MAX_INTEGER_POWER = 32
#: Patients the lockstep driver steps at once (``rhs_lanes``; the kernel's ``solve_lockstep``):
#: four AVX-512 registers' worth of doubles. Measured on Kawasaki disease's ``Auto``, one core:
#: 8 lanes no gain over one patient at a time, 16 lanes 1.30x, 32 1.43x, 64 1.41x.
LANES = 32


class Reciprocals:
    """Denominators that depend on parameters only, each computed once per patient.

    ``slot(source)`` gives the name the generated code reads the reciprocal of ``source``
    from (``_rcp3``), numbering each distinct denominator once."""

    def __init__(self, invariant: set[str]) -> None:
        self.invariant = invariant
        self.sources: dict[str, int] = {}
        self.symbols: set[str] = set()

    def slot(self, source: str, symbols: set[str]) -> str:
        if source not in self.sources:
            self.sources[source] = len(self.sources)
            self.symbols |= symbols
        return f"_rcp{self.sources[source]}"


def _emit(node: Node, recips: Reciprocals | None, symbol: Callable[[str], str] = str,
          power: Callable[[Binary, str, str], str] | None = None) -> str:
    """Scalar source for an expression's tree (the spelling of ``Expression.to_numpy``, with
    the scalar spelling of ``FUNCTIONS``, cheap powers and parameter-only divisions as
    multiplications by a reciprocal). The lockstep right-hand side (``_LaneCode``) spells
    each name as ``symbol(name)`` (the reciprocals' ``_rcp3`` included) and a power to an
    exponent that is not a number as ``power(node, base, exponent)``."""

    def binop(node: Binary, left: str, right: str) -> str:
        if node.op == "**":
            if power is not None and not isinstance(node.right, Num):
                return power(node, left, right)
            if isinstance(node.right, Num):
                b = node.right.value
                if b == 0.5:
                    return f"np.sqrt({left})"
                if b == 1.0:
                    return left
                if b.is_integer() and 2.0 <= b <= MAX_INTEGER_POWER:
                    return f"_ipw({left}, {int(b)})"
            return f"_pw({left}, {right})"
        if node.op == "/" and recips is not None and not isinstance(node.right, Num):
            used = set(symbols_of(node.right))
            if used and used <= recips.invariant:
                # the reciprocal is named by the denominator's scalar source, as ``rhs`` names it
                key = right if symbol is str else _emit(node.right, recips)
                return f"({left} * {symbol(recips.slot(key, used))})"
        return binary_source(node, left, right)

    return emit_source(node, binop, spelling="scalar", symbol=symbol)


def scalar(expression: Expression, recips: Reciprocals | None = None) -> str:
    """Scalar source for an expression (see the module's docstring for the two rewrites)."""
    return _emit(expression.ir, recips)


def _unpack(model: Model, needed: set[str]) -> list[str]:
    lines = []
    for names, array in ((model.parameter_names, "p"), (model.constant_names, "c"),
                         (model.state_names, "y"), (model.input_names, "u")):
        for i, name in enumerate(names):
            if name in needed:
                lines.append(f"    {name} = {array}[{i}]")
    return lines


def _closure(model: Model, roots: set[str]) -> tuple[set[str], list]:
    """Symbols needed to compute ``roots``, and the dynamic assignments among them in order."""
    constants = set(model.constant_names)
    by_name = {a.name: a for a in model.assignments if a.name not in constants}
    needed = set(roots)
    frontier = list(roots)
    while frontier:
        name = frontier.pop()
        if name in by_name:
            for s in by_name[name].parsed.symbols:
                if s not in needed:
                    needed.add(s)
                    frontier.append(s)
    ordered = [a for a in model._assignment_order if a.name in by_name and a.name in needed]
    return needed, ordered


def _flux_closure(model: Model) -> tuple[set[str], list]:
    """``_closure`` of every symbol the fluxes read: what the right-hand side computes."""
    flux_symbols = set().union(*(f.parsed.symbols for f in model.fluxes)) if model.fluxes else set()
    return _closure(model, flux_symbols)


POWERS = f"""
@njit(cache=True, inline='always', error_model='numpy')
def _ipw(a, n):
    # a ** n for a whole n >= 1 by repeated squaring (a few multiplications, no pow)
    r = 1.0
    x = a
    while True:
        if n & 1:
            r *= x
        n >>= 1
        if n == 0:
            return r
        x *= x


@njit(cache=True, inline='always', error_model='numpy')
def _pw(a, b):
    if b == 0.5:
        return np.sqrt(a)
    if b == 1.0:
        return a
    if b == 2.0:
        return a * a
    if 2.0 < b <= {MAX_INTEGER_POWER}.0 and b == np.floor(b):
        return _ipw(a, int(b))
    return a ** b


@njit(cache=True, inline='always', _nrt=False, error_model='numpy')
def _pw_lanes(out, base, exponent, nl):
    # out[l] = _pw(base[l], exponent[l]) for every column: loops the compiler vectorises when
    # every column has the same exponent (a parameter the patients share), as _pw branches
    e = exponent[0]
    same = True
    for l in range(1, nl):
        same = same and exponent[l] == e
    if same:
        _pw_shared(out, base, e, nl)
    else:
        for l in range(nl):
            out[l] = _pw(base[l], exponent[l])


@njit(cache=True, inline='always', _nrt=False, error_model='numpy')
def _pw_shared(out, base, e, nl):
    # out[l] = _pw(base[l], e) for every column, as _pw branches
    if e == 0.5:
        for l in range(nl):
            out[l] = np.sqrt(base[l])
    elif e == 1.0:
        for l in range(nl):
            out[l] = base[l]
    elif e == 2.0:
        for l in range(nl):
            out[l] = base[l] * base[l]
    else:
        for l in range(nl):
            out[l] = _pw(base[l], e)
"""


def _reciprocal_lines(recips: Reciprocals, n_constants: int, n_states: int) -> list[str]:
    """Where the generated functions read the reciprocals: after the patient's constants and the
    solve's live-state flags (``_live``)."""
    return [f"    _rcp{k} = c[{_reciprocals_at(n_constants, n_states) + k}]" for k in range(len(recips.sources))]


def _reciprocals_at(n_constants: int, n_states: int) -> int:
    """A patient's row of constants in the kernel: its own constants, one flag per state (1.0
    where a requested quantity reads the state, ``observation_plan``), the number of such
    states, then the reciprocals of its parameter-only denominators."""
    return n_constants + n_states + 1


def _live(i: int, n_constants: int, source: str, lane: str = "") -> str:
    """``source``, the derivative (or a partial derivative) of state ``i``, where the solve
    integrates that state, else 0.0: a state no requested quantity reads, directly or through
    the states it feeds, is held at its initial value (``observation_plan``)."""
    return f"({source}) if c[{n_constants + i}{lane}] != 0.0 else 0.0"


#: exp (and log, for the kernel's step-size factor) as the kernel computes them: the text of
#: ``elementary.py``, written into each kernel module so that its hash covers it.
ELEMENTARY = Path(__file__).with_name("elementary.py")


def generate(model: Model) -> str:
    elementary = ELEMENTARY.read_text(encoding="utf-8")
    lines = ["import numpy as np", "from numba import njit", "", POWERS, "", elementary, ""]
    n_states = len(model.states)
    n_constants = len(model.constant_names)
    uses_time = False
    recips = Reciprocals(set(model.parameter_names) | set(model.constant_names))

    # rhs
    needed, ordered = _flux_closure(model)
    uses_time |= TIME in needed or any(TIME in a.parsed.symbols for a in ordered)
    body = [f"    {a.name} = {scalar(a.parsed, recips)}" for a in ordered]
    body += [f"    _flux_{f.name} = {scalar(f.parsed, recips)}" for f in model.fluxes]
    used = {int(w[4:]) for line in body for w in re.findall(r"_rcp\d+", line)}
    lines += [f"@njit({NO_REFCOUNT})", "def rhs(t, y, p, c, u, dy):"]
    lines += _unpack(model, needed)
    lines += [line for k, line in enumerate(_reciprocal_lines(recips, n_constants, n_states)) if k in used]
    lines += body
    for i, (leaving, entering) in enumerate(model.balances):
        lines.append(f"    dy[{i}] = {_live(i, n_constants, balance_source(leaving, entering))}")
    lines += ["", ""]

    # jacobian (before ``reciprocals``: its divisions may add denominators of their own)
    lines += _jacobian_function(model, recips, n_constants)
    lines += _rhs_lanes_function(model, recips, n_constants)
    lines += _observe_times_function(model, recips, n_constants)

    # observe_one
    lines += [f"@njit({NO_REFCOUNT})", "def observe_one(k, t, y, p, c, u):"]
    lines.append(f"    if k < {n_states}:")
    lines.append("        return y[k]")
    for j, name in enumerate(model.output_names):
        needed, ordered = _closure(model, {name})
        lines.append(f"    if k == {n_states + j}:")
        assigned = [f"    {a.name} = {scalar(a.parsed, recips)}" for a in ordered]
        used = {int(w[4:]) for line in assigned for w in re.findall(r"_rcp\d+", line)}
        body = (_unpack(model, needed)
                + [line for k, line in enumerate(_reciprocal_lines(recips, n_constants, n_states)) if k in used]
                + assigned)
        lines += ["    " + line for line in body]  # a constant output is unpacked from c
        lines.append(f"        return float({name})")
    lines.append("    return np.nan")
    lines += ["", ""]

    # reciprocals of the parameter-only denominators, once per patient
    lines += [f"@njit({NO_REFCOUNT})", "def reciprocals(p, c, out):"]
    lines += _unpack(model, recips.symbols)
    lines += [f"    out[{k}] = 1.0 / {source}" for source, k in recips.sources.items()]
    lines += ["    return", "", ""]
    lines.append(f"N_CONSTANTS = {n_constants}")
    lines.append(f"N_RECIPROCALS = {len(recips.sources)}")
    lines.append(f"N_STATES = {n_states}")
    lines.append(f"RECIPROCALS_AT = {_reciprocals_at(n_constants, n_states)}")
    lines.append(f"N_INPUTS = {len(model.input_names)}")
    lines.append(f"LANES = {LANES}")
    lines.append(f"AUTONOMOUS = {not uses_time}")
    pattern = jacobian_pattern(model)
    groups = column_colours(pattern)
    flat = [j for g in groups for j in g]
    starts = [0]
    for g in groups:
        starts.append(starts[-1] + len(g))
    lines.append(f"JAC_COLUMNS = np.array({flat!r}, dtype=np.int64)")
    lines.append(f"JAC_GROUP_START = np.array({starts!r}, dtype=np.int64)")
    lines.append(f"JAC_PATTERN = np.array({pattern.astype(int).tolist()!r}, dtype=np.bool_)")
    rows = [[i for i in range(n_states) if pattern[i, j]] for j in range(n_states)]
    row_start = [0]
    for r in rows:
        row_start.append(row_start[-1] + len(r))
    lines.append(f"JAC_ROWS = np.array({[i for r in rows for i in r]!r}, dtype=np.int64)")
    lines.append(f"JAC_ROW_START = np.array({row_start!r}, dtype=np.int64)")
    lines += ["", ""]
    return "\n".join(lines) + "\n" + sparse_lu_source(pattern) + "\n\n" + method_constants()


def _jacobian_function(model: Model, recips: Reciprocals, n_constants: int) -> list[str]:
    """``jacobian(t, y, p, c, u, jac, fdt)``: df/dy at (t, y) into the Jacobian's structural
    non-zeros (``jacobian_pattern``) and, for a model that reads the time, df/dt into ``fdt``
    (untouched otherwise), differentiated from the same trees as ``rhs`` by the chain rule
    (``engine/derivatives.py``): each assignment's value and its derivatives with respect to
    the states (and the time, index ``n``) it depends on (``_d{j}_{name}``), then each
    flux's, then each state's balance of them."""
    states = {name: i for i, name in enumerate(model.state_names)}
    time = len(states)  # the time's index among the variables differentiated by
    needed, ordered = _flux_closure(model)
    partials: dict[str, dict[int, str]] = {}

    def wrt(name: str) -> dict[int, str]:
        if name == TIME:
            return {time: "1.0"}
        return {states[name]: "1.0"} if name in states else partials.get(name, {})

    def emit(node: Node) -> str:
        return _emit(node, recips)

    body = []
    for a in ordered:
        body.append(f"    {a.name} = {scalar(a.parsed, recips)}")
        partials[a.name] = {}
        for j, source in derivative_sources(a.parsed.ir, emit, wrt).items():
            partials[a.name][j] = f"_d{j}_{a.name}"
            body.append(f"    _d{j}_{a.name} = {source}")
    flux_states: dict[str, set[int]] = {}
    for f in model.fluxes:
        derivatives = derivative_sources(f.parsed.ir, emit, wrt)
        flux_states[f.name] = set(derivatives)
        body += [f"    _dflux_{f.name}_{j} = {source}" for j, source in derivatives.items()]
    pattern = jacobian_pattern(model)
    reads_time = any(time in js for js in flux_states.values())

    def balance(leaving, entering, j: int) -> str:  # d(balance)/d(variable j), as source
        terms = ([f"- _dflux_{name}_{j}" for name in leaving if j in flux_states[name]]
                 + [f"+ _dflux_{name}_{j}" for name in entering if j in flux_states[name]])
        return " ".join(terms) if terms else "0.0"

    writes = []  # (state, target's indices, source): a row of a state the solve holds is zero
    for i, (leaving, entering) in enumerate(model.balances):
        for j in range(len(states)):
            source = balance(leaving, entering, j)
            assert pattern[i, j] or source == "0.0", (i, j)  # the pattern is the closure the derivatives follow
            if pattern[i, j]:
                writes.append((i, f"jac[{i}, {j}", source))
        if reads_time:
            writes.append((i, f"fdt[{i}", balance(leaving, entering, time)))
    used = {int(w[4:]) for line in body + [s for _, _, s in writes] for w in re.findall(r"_rcp\d+", line)}
    reads = _unpack(model, needed) + [line for k, line in enumerate(_reciprocal_lines(recips, n_constants, len(states)))
                                      if k in used]
    lines = [f"@njit({NO_REFCOUNT})", "def jacobian(t, y, p, c, u, jac, fdt):"]
    lines += reads + body + [f"    {target}] = {_live(i, n_constants, source)}" for i, target, source in writes]
    lines += ["    return", "", ""]
    # The same, for the lockstep's Rodas4 (``jacobian_lanes``): each lane's doubles are these,
    # the arrays a column per patient (``jac`` (n, n, lanes), ``fdt`` (n, lanes)).
    lines += [f"@njit({NO_REFCOUNT})", "def jacobian_lanes(tl, y, p, c, u, jac, fdt):",
              "    for l in range(tl.size):", "        t = tl[l]"]
    lines += ["    " + re.sub(r"\[(\d+)\]$", r"[\1, l]", line) for line in reads]
    lines += ["    " + line for line in body]
    lines += [f"        {target}, l] = {_live(i, n_constants, source, ', l')}" for i, target, source in writes]
    return lines + ["    return", "", ""]


class _LaneCode:
    """Code that computes a model's assignments for many columns at once, the arrays laid
    out a row per quantity and a column per patient (``rhs_lanes``, the lockstep driver's
    layout) or per output time of one patient (``observe_times``, whose parameters and
    constants are that patient's: ``per_patient``).

    Each assignment and flux is one loop over the columns into its own row of the work
    array ``w``: a loop of a few loads and arithmetic the compiler vectorises, where one loop
    over the whole right-hand side (measured) does not. A column computes exactly what
    ``rhs`` (or ``observe_one``) computes, operation for operation: the same expressions, the
    same reciprocals, and IEEE arithmetic whether vectorised or not (``fastmath`` off, so no
    fused multiply-adds), hence the same doubles. A power to an exponent that is not a number
    (a cooperativity parameter) gets a row for its base and one for the result, computed by
    ``_pw_lanes``, vectorised when every column has the same exponent. The loops run to
    ``bound``, read at run time: a constant trip count (16, measured) the compiler unrolls
    instead of vectorising."""

    def __init__(self, model: Model, recips: Reciprocals, n_constants: int, bound: str,
                 per_patient: bool = False) -> None:
        self.recips = recips
        self.bound = bound
        self.per_patient = per_patient
        self.n_constants = n_constants
        self.reciprocals_at = _reciprocals_at(n_constants, len(model.state_names))
        self.where: dict[str, tuple[str, int]] = {}
        for names, array in ((model.parameter_names, "p"), (model.constant_names, "c"),
                             (model.state_names, "y"), (model.input_names, "u")):
            self.where.update({name: (array, i) for i, name in enumerate(names)})
        self.rows: dict[str, int] = {}
        self.rows_of: dict[str, range] = {}  # an assignment's rows: its own and its powers' work rows
        self.lines: list[str] = []

    def _row(self, name: str | None = None) -> int:
        key = name if name is not None else f"_tmp{len(self.rows)}"
        self.rows[key] = len(self.rows)
        return self.rows[key]

    def _place(self, name: str) -> tuple[str, int]:
        """The array and row a name is read from (a reciprocal follows the patient's constants and live flags)."""
        if name.startswith("_rcp"):
            return "c", self.reciprocals_at + int(name[4:])
        return self.where[name]

    def _row_of(self, name: str) -> str:
        """A name's whole row (or, for a patient's own parameter, its one value)."""
        if name in self.rows:
            return f"w[{self.rows[name]}]"
        array, i = self._place(name)
        return f"{array}[{i}]"

    def ref(self, name: str) -> str:
        """A name's value in column ``l``."""
        if name == TIME:
            return "t[l]"
        if name in self.rows:
            return f"w[{self.rows[name]}, l]"
        array, i = self._place(name)
        return f"{array}[{i}]" if self.per_patient and array in "pc" else f"{array}[{i}, l]"

    def _loop(self, target: str, source: str) -> None:
        self.lines += [f"    for l in range({self.bound}):", f"        {target} = {source}"]

    def _power(self, node: Binary, base: str, exponent: str) -> str:
        b = self._row()
        self._loop(f"w[{b}, l]", base)
        if isinstance(node.right, Sym) and node.right.name != TIME:
            e = self._row_of(node.right.name)
        else:
            k = self._row()
            self._loop(f"w[{k}, l]", exponent)
            e = f"w[{k}]"
        r = self._row()
        shared = self.per_patient and e[0] in "pc"
        self.lines.append(f"    _pw_{'shared' if shared else 'lanes'}(w[{r}], w[{b}], {e}, {self.bound})")
        return f"w[{r}, l]"

    def assign(self, name: str, node: Node) -> None:
        first = len(self.rows)
        source = _emit(node, self.recips, self.ref, self._power)
        self._loop(f"w[{self._row(name)}, l]", source)
        self.rows_of[name] = range(first, len(self.rows))

    def balance(self, i: int, leaving, entering) -> None:
        source = re.sub(r"_flux_\w+", lambda m: self.ref(m.group(0)), balance_source(leaving, entering))
        self._loop(f"dy[{i}, l]", _live(i, self.n_constants, source, ", l"))

    def value(self, k: int, name: str) -> None:
        self._loop(f"values[{k}, l]", self.ref(name))


def _rhs_lanes_function(model: Model, recips: Reciprocals, n_constants: int) -> list[str]:
    """``rhs_lanes(t, y, p, c, u, dy, w)``: ``rhs`` for ``LANES`` patients, one per column
    (``_LaneCode``); ``w`` (``N_WORK``, ``LANES``) is work space."""
    _, ordered = _flux_closure(model)
    code = _LaneCode(model, recips, n_constants, "w.shape[1]")
    for a in ordered:
        code.assign(a.name, a.parsed.ir)
    for f in model.fluxes:
        code.assign(f"_flux_{f.name}", f.parsed.ir)
    for i, (leaving, entering) in enumerate(model.balances):
        code.balance(i, leaving, entering)
    return ([f"@njit({NO_REFCOUNT})", "def rhs_lanes(t, y, p, c, u, dy, w):"] + code.lines
            + ["    return", "", "", f"N_WORK = {max(1, len(code.rows))}", "", ""])


def _observe_times_function(model: Model, recips: Reciprocals, n_constants: int) -> list[str]:
    """``observe_times(t, y, p, c, u, w, values, m, need)``: the outputs of one patient at ``m``
    times (columns of ``t``, ``y``, ``u``) into the rows of ``values`` (``_LaneCode``, as
    ``observe_one`` computes each); ``w`` (``N_OBSERVE_WORK``, m or more) is work space. Only
    the rows ``need`` marks are computed (``need[r]`` for work row r, ``need[N_OBSERVE_WORK + k]``
    for output k): the requested outputs and what they read (``OBSERVE_ROWS``, below).

    Also the tables that say what each quantity reads (``observation_plan`` in the kernel):
    ``OBSERVE_ROWS`` (output, work row) and ``OBSERVE_STATES`` (quantity, state), from the
    same closure ``observe_one`` is generated from, so a state no requested quantity reads
    need not be interpolated at an output time."""
    _, ordered = _closure(model, set(model.output_names))
    code = _LaneCode(model, recips, n_constants, "m", per_patient=True)
    body: list[str] = []

    def guarded(row: int, start: int) -> None:
        body.extend([f"    if need[{row}]:"] + ["    " + line for line in code.lines[start:]])

    for a in ordered:
        start = len(code.lines)
        code.assign(a.name, a.parsed.ir)
        guarded(code.rows[a.name], start)
    n_work = max(1, len(code.rows))
    for k, name in enumerate(model.output_names):
        start = len(code.lines)
        code.value(k, name)
        guarded(n_work + k, start)
    n_outputs = max(1, len(model.output_names))
    states = {name: i for i, name in enumerate(model.state_names)}
    rows = [[False] * n_work for _ in range(n_outputs)]
    reads = [[i == j for j in range(len(states))] for i in range(len(states))]
    for k, name in enumerate(model.output_names):
        needed, own = _closure(model, {name})
        for a in own:
            for r in code.rows_of[a.name]:
                rows[k][r] = True
        reads.append([s in needed for s in states])
    reads += [[False] * len(states)] * (n_outputs - len(model.output_names))
    return ([f"@njit({NO_REFCOUNT})", "def observe_times(t, y, p, c, u, w, values, m, need):"] + body
            + ["    return", "", "", f"N_OBSERVE_WORK = {n_work}", f"N_OUTPUTS = {n_outputs}",
               f"OBSERVE_ROWS = np.array({rows!r}, dtype=np.bool_).reshape({n_outputs}, {n_work})",
               f"OBSERVE_STATES = np.array({reads!r}, dtype=np.bool_).reshape({len(states) + n_outputs}, "
               f"{len(states)})", "", ""])


def _array(values) -> str:
    """A constant array in the kernel's source, each double spelled by ``repr`` (exact)."""
    return f"np.array({[list(map(float, row)) if isinstance(row, tuple) else float(row) for row in values]!r})"


def method_constants(explicit: ButcherTableau = DOPRI5, stiff: RosenbrockTableau = RODAS4P2) -> str:
    """The kernel's method coefficients, from ``engine/tableaux.py``: Dormand-Prince's as
    scalars ``_C{i}``, ``_A{i}{j}``, ``_E{j}`` (stages numbered from 1, as in Hairer's
    tables; zero coefficients are not named, and the kernel skips them), its continuous
    extension ``_P``, and the Rosenbrock method's (Rodas4P2: ``tableaux.RODAS4P2``) ``_RG``,
    ``_RALPHA``, ``_RGAMMA``, ``_RA``, ``_RC``, ``_RM`` and its continuous extension ``_RH``.
    ``repr`` of a float reads back as the same double, so the kernel computes with exactly the
    coefficients the NumPy solver uses.

    The kernel's Dormand-Prince step is written for this tableau's shape (seven stages,
    FSAL, the zeros of ``a_72``, ``e_2`` and the second row of the extension), so a tableau
    of another shape is refused here rather than miscompiled."""
    tab = explicit
    zeros = ([(i + 2, j + 1) for i, row in enumerate(tab.a_lower) for j, a in enumerate(row) if a == 0.0],
             [j + 1 for j, e in enumerate(tab.b_error) if e == 0.0], any(tab.dense[1]))
    if len(tab.b_sol) != 7 or not tab.fsal or zeros != ([(7, 2)], [2], False):
        raise ValueError("the kernel's explicit step is written for a 7-stage FSAL pair shaped as Dormand-Prince 5(4)")
    if stiff.stages != 6 or stiff.error_stage != 5 or len(stiff.dense) != 2:
        raise ValueError("the kernel's Rosenbrock step is written for 6 stages, the last the error estimate, "
                         "with a two-row continuous extension")
    lines = ["# Method coefficients, from ivigsim/engine/tableaux.py (generated)."]
    lines += [f"_C{i + 2} = {c!r}" for i, c in enumerate(tab.c[:-2])]  # c_6 = c_7 = 1: the step's end
    lines += [f"_A{i + 2}{j + 1} = {a!r}" for i, row in enumerate(tab.a_lower) for j, a in enumerate(row) if a != 0.0]
    lines += [f"_E{j + 1} = {e!r}" for j, e in enumerate(tab.b_error) if e != 0.0]
    lines.append(f"_P = {_array(tab.dense)}")
    lines.append(f"_RG = {stiff.gamma!r}")
    lines.append(f"_RALPHA = {_array(stiff.alpha)}")
    lines.append(f"_RGAMMA = {_array(stiff.gamma_i)}")
    lines.append(f"_RA = {_array(stiff.a_lower)}")
    lines.append(f"_RC = {_array(stiff.c_lower)}")
    lines.append(f"_RM = {_array(stiff.m_sol)}")
    lines.append(f"_RH = {_array(stiff.dense)}")
    lines += [f"{m.name} = {int(m)}" for m in KernelMethod]  # the solver values' method codes
    return "\n".join(lines) + "\n"


#: The template's block of stand-ins for what ``generate`` provides (dropped from the kernel).
STAND_INS = ("# ---- GENERATED: begin", "# ---- GENERATED: end\n")


def kernel_source() -> str:
    """The solver kernel (``kernel_template.py``) without its stand-in block: what follows a
    model's generated source in the compiled module."""
    text = TEMPLATE.read_text(encoding="utf-8")
    begin, end = text.index(STAND_INS[0]), text.index(STAND_INS[1]) + len(STAND_INS[1])
    return text[:begin] + text[end:]


def cache_dir() -> Path:
    root = os.environ.get("IVIGSIM_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "ivigsim")
    path = Path(root) / "kernels"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("ok")
        probe.unlink()
        return path
    except OSError:
        fallback = Path(tempfile.gettempdir()) / f"ivigsim-kernels-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
        fallback.mkdir(parents=True, exist_ok=True)
        return fallback


def _module_text(source: str) -> tuple[str, str]:
    """The kernel module's text and name (a hash of the text and the numba version)."""
    from importlib.metadata import version

    text = source + "\n\n# ---- solver kernel (ivigsim/engine/kernel_template.py) ----\n" + kernel_source()
    digest = hashlib.sha256((text + version("numba")).encode()).hexdigest()[:20]
    return text, f"ivigsim_kernel_{digest}"


def kernel_is_compiled(model: CompiledModel, entry: str = "solve_batch") -> bool:
    """Whether this machine holds the compiled kernel function ``entry`` for ``model``
    (``_Compiled.entry_point``; in this process, or numba's on-disk cache), so a solve starts
    at once; False means the first solve compiles it (up to a minute or two). Cheap: nothing
    is imported or compiled."""
    _, name = _module_text(generate(model.model))
    loaded = sys.modules.get(name)
    if loaded is not None and getattr(loaded, entry).signatures:
        return True
    folder = cache_dir()
    return (folder / f"{name}.py").exists() and any((folder / "__pycache__").glob(f"{name}.{entry}-*.nbi"))


@lru_cache(maxsize=None)
def _load(source: str):
    text, name = _module_text(source)
    if name in sys.modules:
        return sys.modules[name]
    folder = cache_dir()
    path = folder / f"{name}.py"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


#: id(model) -> (a weak reference to the model, its kernel module): generating the kernel's
#: source costs 0.3 s, and a trial under response-guided rules asks for it at every visit.
_MODULES: dict[int, tuple] = {}


def kernel_module(model: CompiledModel):
    """The compiled kernel module for ``model`` (generated, cached on disk, imported once)."""
    known = _MODULES.get(id(model))
    if known is not None and known[0]() is model:
        return known[1]
    module = _load(generate(model.model))
    try:
        _MODULES[id(model)] = (weakref.ref(model), module)
    except TypeError:  # not weakly referable: generate again next time
        pass
    return module


def jacobian_pattern(model: Model):
    """Structural sparsity of d(rhs)/d(y): pattern[i, j] is True if state j can affect dy_i."""
    import numpy as np

    states = model.state_names
    pattern = np.zeros((len(states), len(states)), dtype=bool)
    for f in model.fluxes:
        needed, _ = _closure(model, set(f.parsed.symbols))
        cols = [states.index(s) for s in needed if s in states]
        for end in (f.source, f.target):
            if end is not None:
                pattern[states.index(end), cols] = True
    return pattern


def column_colours(pattern) -> list[list[int]]:
    """Greedy grouping of columns that share no row (Curtis, Powell & Reid 1974): one
    right-hand-side evaluation per group gives all its columns of a finite-difference Jacobian."""
    groups: list[list[int]] = []
    rows: list = []
    for j in range(pattern.shape[1]):
        for g, used in zip(groups, rows):
            if not (used & pattern[:, j]).any():
                g.append(j)
                used |= pattern[:, j]
                break
        else:
            groups.append([j])
            rows.append(pattern[:, j].copy())
    return groups


def elimination_order(pattern) -> list[int]:
    """Minimum-degree order (Tinney & Walker 1967; George & Liu 1989) on the symmetrised
    structure of G: the state eliminated next is the one with the fewest remaining
    neighbours (ties: the lowest index). Hubs such as the infused IgG, which every other
    state reads, go last, so elimination creates little or no fill-in."""
    import numpy as np

    n = pattern.shape[0]
    adjacent = {i: set(np.flatnonzero(pattern[i] | pattern[:, i]).tolist()) - {i} for i in range(n)}
    left = set(range(n))
    order: list[int] = []
    while left:
        k = min(left, key=lambda v: (len(adjacent[v] & left), v))
        neighbours = adjacent[k] & left
        for a in neighbours:
            adjacent[a] |= neighbours - {a}
        order.append(k)
        left.remove(k)
    return order


def sparse_lu_source(pattern) -> str:
    """Straight-line code for G = I/(h gamma) - J, its LU factors (each pivot stored as its
    reciprocal) and solves.

    The structure of G (the Jacobian's pattern plus the diagonal, with the fill-in of
    elimination in ``elimination_order``) is known when the model is generated, so the
    factorisation is unrolled into a few dozen scalar operations on a flat array. No
    pivoting: G's diagonal is 1/(h gamma) - dF_i/dy_i, positive for the decay terms
    kinetic models have; a zero or non-finite pivot is reported and the solver retries
    with a smaller step (where the diagonal grows).
    """
    import numpy as np

    n = pattern.shape[0]
    order = elimination_order(pattern | np.eye(n, dtype=bool))
    position = {v: q for q, v in enumerate(order)}
    base = pattern | np.eye(n, dtype=bool)
    filled = base.copy()
    for k in order:
        for i in range(n):
            if position[i] > position[k] and filled[i, k]:
                for j in range(n):
                    if position[j] > position[k] and filled[k, j]:
                        filled[i, j] = True
    index = {}
    for i in range(n):
        for j in range(n):
            if filled[i, j]:
                index[(i, j)] = len(index)
    lines = [f"@njit({NO_REFCOUNT})", "def build_g(jac, ghinv, g):"]
    for (i, j), q in index.items():
        if i == j:
            lines.append(f"    g[{q}] = ghinv - jac[{i}, {j}]" if pattern[i, j] else f"    g[{q}] = ghinv")
        else:
            lines.append(f"    g[{q}] = -jac[{i}, {j}]" if pattern[i, j] else f"    g[{q}] = 0.0")
    lines += ["", "", f"@njit({NO_REFCOUNT})", "def lu_factor(g):"]
    for k in order:
        kk = index[(k, k)]
        lines.append(f"    if not (abs(g[{kk}]) > 0.0 and np.isfinite(g[{kk}])):")
        lines.append("        return False")
        rows = [i for i in order if position[i] > position[k] and filled[i, k]]
        lines.append(f"    inv = 1.0 / g[{kk}]")
        lines.append(f"    g[{kk}] = inv")  # the pivot is kept as its reciprocal: solves multiply
        for i in rows:
            ik = index[(i, k)]
            lines.append(f"    g[{ik}] *= inv")
            for j in order:
                if position[j] > position[k] and filled[k, j]:
                    lines.append(f"    g[{index[(i, j)]}] -= g[{ik}] * g[{index[(k, j)]}]")
    # Solves work on row r of a 2-D array (no view to create) through local scalars, so the
    # compiler need not reload the factors after each store.
    lines += ["    return True", "", "", f"@njit({NO_REFCOUNT})", "def lu_solve(g, b, r):"]
    lines += [f"    b{i} = b[r, {i}]" for i in range(n)]
    for i in order:
        for j in order:
            if position[j] < position[i] and filled[i, j]:
                lines.append(f"    b{i} -= g[{index[(i, j)]}] * b{j}")
    for i in reversed(order):
        for j in order:
            if position[j] > position[i] and filled[i, j]:
                lines.append(f"    b{i} -= g[{index[(i, j)]}] * b{j}")
        lines.append(f"    b{i} *= g[{index[(i, i)]}]")
    lines += [f"    b[r, {i}] = b{i}" for i in range(n)]
    lines += ["", ""]
    return "\n".join(lines + _lanes_of_lu(lines)) + f"\n\nN_LU = {len(index)}\n"


def _lanes_of_lu(scalar: list[str]) -> list[str]:
    """``build_g``, ``lu_factor`` and ``lu_solve`` for the lockstep's Rodas4: the same statements
    for every lane, in one loop the compiler vectorises (``g`` (N_LU, lanes), ``jac`` (n, n,
    lanes), ``ghinv`` (lanes), ``b`` (6, n, lanes)). The factorisation does not stop at a bad
    pivot: it clears the lane's ``ok`` and goes on, and the driver rejects that lane's step (as
    ``lu_factor``'s False makes the one-patient driver do); the other lanes' doubles are the same."""
    out = []
    for line in scalar:
        if line.startswith("def build_g("):
            out += ["def build_g_lanes(jac, ghinv, g):", "    for l in range(ghinv.size):"]
        elif line.startswith("def lu_factor("):
            out += ["def lu_factor_lanes(g, ok):", "    for l in range(ok.size):", "        good = True"]
        elif line.startswith("def lu_solve("):
            out += ["def lu_solve_lanes(g, b, r):", "    for l in range(b.shape[2]):"]
        elif line.startswith("    if not ("):
            out.append("        good = good and " + re.sub(r"\b(g\[\d+)\]", r"\1, l]", line[len("    if not "):-1]))
        elif line == "        return False":
            continue
        elif line == "    return True":
            out.append("        ok[l] = good")
        elif line.startswith("    "):
            line = re.sub(r"\b(g\[\d+)\]", r"\1, l]", line)
            line = re.sub(r"\b(jac\[\d+, \d+)\]", r"\1, l]", line)
            line = re.sub(r"\b(b\[r, \d+)\]", r"\1, l]", line)
            out.append("    " + line.replace("ghinv", "ghinv[l]"))
        else:
            out.append(line)
    return out
