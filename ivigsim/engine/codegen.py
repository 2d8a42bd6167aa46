"""Generate scalar, numba-compiled versions of a model's right-hand side and outputs.

``ivigsim.model.compose`` generates NumPy functions batched over patients; the
compiled engine instead solves one patient at a time in machine code, so it needs
*scalar* functions of one patient's arrays:

- ``rhs(t, y, p, c, u, dy)``: writes the derivative into ``dy``;
- ``observe_one(k, t, y, p, c, u)``: quantity ``k``: state ``k`` for ``k < n_states``,
  else output ``k - n_states`` (each computes only the assignments it depends on).

The expressions are the same strings the NumPy code is made from (``Expression.to_numpy``
emits ``np.minimum``/``np.exp``..., which numba compiles for scalars). The generated
functions are written with the solver kernel (``kernel_template.py``) into one module
file in a cache folder and imported from there, so numba's on-disk cache
(``cache=True``) makes the second start of any process fast. The file name is a hash
of the model source, the kernel source and the numba version: a model change gives a
new file, never a stale compiled kernel.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

from ivigsim.model.compose import CompiledModel, Model
from ivigsim.model.declaration import TIME

TEMPLATE = Path(__file__).with_name("kernel_template.py")


def scalar(expression) -> str:
    """Scalar source for an expression: NumPy's spelling, except that a power goes through
    ``_pw``, which takes the exact shortcuts for the exponents models use most (0.5, 1, 2)
    and leaves the rest to ``pow`` (``pow`` is several times the cost of a multiplication)."""
    return expression.to_numpy(power=lambda base, exponent: f"_pw({base}, {exponent})")


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


def generate(model: Model) -> str:
    lines = ["import numpy as np", "from numba import njit", "",
             "@njit(cache=True, inline='always')",
             "def _pw(a, b):",
             "    if b == 0.5:",
             "        return np.sqrt(a)",
             "    if b == 1.0:",
             "        return a",
             "    if b == 2.0:",
             "        return a * a",
             "    return a ** b",
             "", ""]
    n_states = len(model.states)
    uses_time = False

    # rhs
    flux_symbols = set().union(*(f.parsed.symbols for f in model.fluxes)) if model.fluxes else set()
    needed, ordered = _closure(model, flux_symbols)
    uses_time |= TIME in needed or any(TIME in a.parsed.symbols for a in ordered)
    lines += ["@njit(cache=True, fastmath=False)", "def rhs(t, y, p, c, u, dy):"]
    lines += _unpack(model, needed)
    lines += [f"    {a.name} = {scalar(a.parsed)}" for a in ordered]
    lines += [f"    _flux_{f.name} = {scalar(f.parsed)}" for f in model.fluxes]
    for i, s in enumerate(model.states):
        terms = [f"- _flux_{f.name}" for f in model.fluxes if f.source == s.name]
        terms += [f"+ _flux_{f.name}" for f in model.fluxes if f.target == s.name]
        lines.append(f"    dy[{i}] = {' '.join(terms) if terms else '0.0'}")
    lines += ["", ""]

    # observe_one
    lines += ["@njit(cache=True, fastmath=False)", "def observe_one(k, t, y, p, c, u):"]
    lines.append(f"    if k < {n_states}:")
    lines.append("        return y[k]")
    for j, name in enumerate(model.output_names):
        needed, ordered = _closure(model, {name})
        lines.append(f"    if k == {n_states + j}:")
        body = _unpack(model, needed) + [f"    {a.name} = {scalar(a.parsed)}" for a in ordered]
        if name in model.constant_names:
            pass  # unpacked from c
        lines += ["    " + line for line in body]
        lines.append(f"        return float({name})")
    lines.append("    return np.nan")
    lines += ["", ""]
    lines.append(f"N_STATES = {n_states}")
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
    lines += ["", ""]
    return "\n".join(lines) + "\n" + sparse_lu_source(pattern)


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


@lru_cache(maxsize=None)
def _load(source: str):
    import numba

    text = source + "\n\n# ---- solver kernel (ivigsim/engine/kernel_template.py) ----\n" + TEMPLATE.read_text(encoding="utf-8")
    digest = hashlib.sha256((text + numba.__version__).encode()).hexdigest()[:20]
    name = f"ivigsim_kernel_{digest}"
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


def kernel_module(model: CompiledModel):
    """The compiled kernel module for ``model`` (generated, cached on disk, imported once)."""
    return _load(generate(model.model))


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


def sparse_lu_source(pattern) -> str:
    """Straight-line code for G = I/(h gamma) - J, its LU factors and solves.

    The structure of G (the Jacobian's pattern plus the diagonal, with the fill-in of
    elimination in the natural order) is known when the model is generated, so the
    factorisation is unrolled into a few dozen scalar operations on a flat array. No
    pivoting: G's diagonal is 1/(h gamma) - dF_i/dy_i, positive for the decay terms
    kinetic models have; a zero or non-finite pivot is reported and the solver retries
    with a smaller step (where the diagonal grows).
    """
    import numpy as np

    n = pattern.shape[0]
    base = pattern | np.eye(n, dtype=bool)
    filled = base.copy()
    for k in range(n):
        for i in range(k + 1, n):
            if filled[i, k]:
                for j in range(k + 1, n):
                    if filled[k, j]:
                        filled[i, j] = True
    index = {}
    for i in range(n):
        for j in range(n):
            if filled[i, j]:
                index[(i, j)] = len(index)
    lines = ["@njit(cache=True)", "def build_g(jac, ghinv, g):"]
    for (i, j), q in index.items():
        if i == j:
            lines.append(f"    g[{q}] = ghinv - jac[{i}, {j}]" if pattern[i, j] else f"    g[{q}] = ghinv")
        else:
            lines.append(f"    g[{q}] = -jac[{i}, {j}]" if pattern[i, j] else f"    g[{q}] = 0.0")
    lines += ["", "", "@njit(cache=True)", "def lu_factor(g):"]
    for k in range(n):
        kk = index[(k, k)]
        lines.append(f"    if not (abs(g[{kk}]) > 0.0 and np.isfinite(g[{kk}])):")
        lines.append("        return False")
        rows = [i for i in range(k + 1, n) if filled[i, k]]
        if rows:
            lines.append(f"    inv = 1.0 / g[{kk}]")
        for i in rows:
            ik = index[(i, k)]
            lines.append(f"    g[{ik}] *= inv")
            for j in range(k + 1, n):
                if filled[k, j]:
                    lines.append(f"    g[{index[(i, j)]}] -= g[{ik}] * g[{index[(k, j)]}]")
    lines += ["    return True", "", "", "@njit(cache=True)", "def lu_solve(g, b):"]
    for i in range(n):
        for j in range(i):
            if filled[i, j]:
                lines.append(f"    b[{i}] -= g[{index[(i, j)]}] * b[{j}]")
    for i in reversed(range(n)):
        for j in range(i + 1, n):
            if filled[i, j]:
                lines.append(f"    b[{i}] -= g[{index[(i, j)]}] * b[{j}]")
        lines.append(f"    b[{i}] /= g[{index[(i, i)]}]")
    lines.append("")
    lines.append(f"N_LU = {len(index)}")
    return "\n".join(lines) + "\n"
