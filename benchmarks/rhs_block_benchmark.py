"""How much would evaluating the right-hand side for a block of patients at once save? (issue #16)

The engine solves one patient at a time; its right-hand side is the generated scalar ``rhs``
(``ivigsim.engine.codegen.generate``). This benchmark rewrites that same generated source into
``rhs_block``, one loop over a block of patients in structure-of-arrays layout (state ``k`` of
patient ``i`` at ``y[k, i]``), and times both on the same patients. It answers the question a
lockstep, SIMD-friendly engine (the issue's item 3) depends on before anyone builds it: what the
right-hand side itself gains, and whether LLVM turns the loop into packed vector instructions.

    .venv/bin/python benchmarks/rhs_block_benchmark.py                 # Kawasaki disease, 64 patients
    .venv/bin/python benchmarks/rhs_block_benchmark.py --disease itp --block 8

It prints nanoseconds per patient and right-hand side for the scalar function called patient by
patient on that patient's own contiguous arrays (as the kernel calls it; the copy of the state in
and the derivative out are included, as the block's loads and stores are), for the block loop as the engine would compile it (strict IEEE) and with fastmath
(reassociation allowed, so results differ in the last bits), the block's largest difference from
the scalar results, and the count of packed (ymm/xmm ``...pd``) against scalar (``...sd``)
floating-point instructions in the block's machine code. Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ivigsim.engine.codegen import generate
from ivigsim.model.library import compiled_model

STRICT = "fastmath=False"
FAST = "fastmath={'nnan', 'ninf', 'nsz', 'arcp', 'contract', 'afn', 'reassoc'}"


def block_source(scalar_source: str, fastmath: str) -> str:
    """``rhs_block(t, y, p, c, u, dy)`` from the generated ``rhs`` body, indices rewritten to
    ``[k, i]`` inside a loop over the block's patients."""
    start = scalar_source.index("def rhs(t, y, p, c, u, dy):\n") + len("def rhs(t, y, p, c, u, dy):\n")
    body = scalar_source[start:scalar_source.index("@njit", start)].rstrip().split("\n")
    lines = [f"@njit(cache=False, {fastmath}, error_model='numpy')", "def rhs_block(t, y, p, c, u, dy):",
             "    for i in range(y.shape[1]):"]
    for line in body:
        line = re.sub(r"\b(p|c|y|u|dy)\[(\d+)\]", r"\1[\2, i]", line)
        lines.append("    " + re.sub(r"\bt\b", "t[i]", line))
    return "\n".join(lines) + "\n"


def load(source: str, name: str):
    path = Path(tempfile.mkdtemp()) / f"{name}.py"
    path.write_text(source)
    sys.path.insert(0, str(path.parent))
    return __import__(name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--disease", default="kawasaki")
    ap.add_argument("--block", type=int, default=64)
    ap.add_argument("--reps", type=int, default=20_000)
    args = ap.parse_args()

    model = compiled_model(None if args.disease == "none" else args.disease)
    source = generate(model.model).replace("cache=True", "cache=False")
    scalar = load(source, "rhs_scalar_generated")
    strict = load(source + "\n\n" + block_source(source, STRICT), "rhs_block_strict")
    fast = load(source + "\n\n" + block_source(source, FAST), "rhs_block_fast")

    n, b = scalar.N_STATES, args.block
    p = np.asarray(model.model.parameter_array({}), float).reshape(-1)
    # the kernel's layout: constants, a live flag per state (all integrated) and their count, reciprocals
    c = np.zeros(scalar.RECIPROCALS_AT + scalar.N_RECIPROCALS)
    c[:scalar.N_CONSTANTS] = np.asarray(model.constants(p.reshape(-1, 1)), float).reshape(-1)
    c[scalar.N_CONSTANTS:scalar.RECIPROCALS_AT] = 1.0
    c[scalar.RECIPROCALS_AT - 1] = n
    scalar.reciprocals(p, c, c[scalar.RECIPROCALS_AT:])
    rng = np.random.default_rng(0)
    P, C = np.repeat(p[:, None], b, 1), np.repeat(c[:, None], b, 1)
    Y, U, T = rng.uniform(0.5, 2.0, (n, b)), np.zeros((scalar.N_INPUTS, b)), rng.uniform(0.0, 60.0, b)
    PT, CT, YT, UT = (np.ascontiguousarray(a.T) for a in (P, C, Y, U))

    from numba import njit

    rhs = scalar.rhs

    @njit
    def one_by_one(T, YT, PT, CT, UT, DYT, reps):
        # as the kernel calls it: one patient's own contiguous work arrays (no view made per call)
        y, pp, cc, u, dy = YT[0].copy(), PT[0].copy(), CT[0].copy(), UT[0].copy(), DYT[0].copy()
        for _ in range(reps):
            for i in range(YT.shape[0]):
                y[:] = YT[i]
                rhs(T[i], y, pp, cc, u, dy)
                DYT[i, :] = dy

    def blocked(fn):
        @njit
        def run(T, Y, P, C, U, DY, reps):
            for _ in range(reps):
                fn(T, Y, P, C, U, DY)
        return run

    DYT = np.zeros((b, n))
    one_by_one(T, YT, PT, CT, UT, DYT, 1)
    print(f"disease {args.disease}: {n} states, block of {b} patients, {args.reps} repetitions")
    for label, mod in (("block, strict", strict), ("block, fastmath", fast)):
        DY = np.zeros((n, b))
        run = blocked(mod.rhs_block)
        run(T, Y, P, C, U, DY, 1)
        diff = float(np.max(np.abs(DY.T - DYT) / np.maximum(np.abs(DYT), 1e-300)))
        asm = next(iter(mod.rhs_block.inspect_asm().values()))
        packed = len(re.findall(r"\bv\w+pd\s+%[xy]mm", asm))
        scalar_ops = len(re.findall(r"\bv\w+sd\b", asm))
        best_s = best_b = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            one_by_one(T, YT, PT, CT, UT, DYT, args.reps)
            best_s = min(best_s, time.perf_counter() - t0)
            t0 = time.perf_counter()
            run(T, Y, P, C, U, DY, args.reps)
            best_b = min(best_b, time.perf_counter() - t0)
        per = 1e9 / (args.reps * b)
        print(f"  scalar {best_s * per:.1f} ns, {label} {best_b * per:.1f} ns a patient and right-hand side: "
              f"{best_s / best_b:.2f}x; largest relative difference {diff:.1e}; packed/scalar FP instructions "
              f"{packed}/{scalar_ops}")


if __name__ == "__main__":
    main()
