"""benchmarks/rhs_block_benchmark.py rewrites the generated right-hand side into a loop over a
block of patients: the rewrite must compute what the engine's scalar function computes, bit for
bit, or its timings compare different work."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from ivigsim.engine.codegen import generate
from ivigsim.model.library import compiled_model

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "rhs_block_benchmark.py"


@pytest.mark.slow  # 3 s or more (README run under 5 minutes)
def test_the_block_rewrite_computes_the_scalar_right_hand_side_bit_for_bit():
    spec = importlib.util.spec_from_file_location("rhs_block_benchmark", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    model = compiled_model("kawasaki").model
    source = generate(model).replace("cache=True", "cache=False")
    mod = bench.load(source + "\n\n" + bench.block_source(source, bench.STRICT), "rhs_block_under_test")
    n, b = mod.N_STATES, 5
    rng = np.random.default_rng(1)
    # arbitrary positive values: the rewrite, not the model, is under test
    P = rng.uniform(0.1, 2.0, (len(model.parameter_names), b))
    C = rng.uniform(0.1, 2.0, (mod.RECIPROCALS_AT + mod.N_RECIPROCALS, b))  # live flags too: all non-zero
    Y, U, T = rng.uniform(0.5, 2.0, (n, b)), rng.uniform(0.0, 1.0, (mod.N_INPUTS, b)), rng.uniform(0.0, 60.0, b)
    DY = np.zeros((n, b))
    mod.rhs_block(T, Y, P, C, U, DY)
    for i in range(b):
        dy = np.zeros(n)
        mod.rhs(T[i], Y[:, i].copy(), P[:, i].copy(), C[:, i].copy(), U[:, i].copy(), dy)
        assert np.array_equal(dy, DY[:, i]) and np.all(np.isfinite(dy))
