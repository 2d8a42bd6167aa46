"""Compiled solvers: one patient at a time in machine code, patients in parallel.

Three solver values, each usable wherever ``Dopri5`` is (``solve``, ``solve_outputs``):

- ``Auto()``: Dormand-Prince 5(4) that switches a patient to Rodas4 once it detects
  stiffness (Hairer's test). The default for trials: as fast as Dormand-Prince on the
  calibrated model, and it keeps going on stiff configurations.
- ``CompiledDopri5()``: Dormand-Prince only (explicit).
- ``Rodas4()``: the L-stable Rosenbrock method only.

All three use continuous extensions for output times (steps are not cut at outputs),
land exactly on infusion breakpoints, and solve each patient independently of its
batch, so a patient's numbers are identical whatever the batch, chunk, thread count
or process (``tests/test_engine_compiled.py``). The kernel is generated per model and
compiled by numba once per machine (cached on disk; see ``ivigsim.engine.codegen``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ivigsim.engine.solver import check_tolerances
from ivigsim.errors import InputError

#: Batches smaller than this run on one thread (thread start-up is not worth it).
PARALLEL_FROM = 64


@dataclass(frozen=True)
class _Compiled:
    rtol: float = 1e-6
    atol: float = 1e-9
    max_steps: int = 100_000
    threads: int | None = None  # None: numba's default (all cores)

    METHOD: ClassVar[int] = 0

    def __post_init__(self) -> None:
        check_tolerances(self.rtol, self.atol, self.max_steps)
        if self.threads is not None and self.threads < 1:
            raise InputError("solver.threads", "a number of threads >= 1", self.threads)

    def _run(self, problem, saveat, kinds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from ivigsim.engine.codegen import kernel_module

        cm = problem.model
        ts = saveat.ts
        if ts[0] < problem.t0:
            raise InputError("output times", f"times at or after t0 = {problem.t0}", float(ts[0]))
        module = kernel_module(cm)
        params = problem.parameters
        n = params.shape[1]
        with np.errstate(all="ignore"):
            consts = np.broadcast_to(cm.constants(params), (len(cm.model.constant_names), n))
            y0 = problem.initial_state(consts)
        out = np.full((n, len(kinds), len(ts)), np.nan)
        stats = np.zeros((n, 4), dtype=np.int64)
        args = (float(problem.t0), np.ascontiguousarray(ts, dtype=float), np.ascontiguousarray(y0.T),
                np.ascontiguousarray(params.T), np.ascontiguousarray(consts.T),
                np.ascontiguousarray(problem.schedule.times, dtype=float),
                np.ascontiguousarray(problem.schedule.values, dtype=float),
                np.ascontiguousarray(kinds, dtype=np.int64), out, self.METHOD, float(self.rtol), float(self.atol),
                int(self.max_steps), stats)
        if n >= PARALLEL_FROM and self.threads != 1:
            import numba

            previous = numba.get_num_threads()
            if self.threads is not None:
                numba.set_num_threads(min(self.threads, numba.config.NUMBA_NUM_THREADS))
            try:
                module.solve_batch(*args)
            finally:
                numba.set_num_threads(previous)
        else:
            module.solve_batch_serial(*args)
        return out, stats

    def solve_outputs(self, problem, saveat, names: Sequence[str]):
        from ivigsim.engine.outputs import Observed

        m = problem.model.model
        kinds = np.array([len(m.state_names) + m.output_names.index(n) for n in names], dtype=np.int64)
        out, stats = self._run(problem, saveat, kinds)
        return Observed(saveat.ts, tuple(names), out, stats[:, 0].astype(np.int8), stats[:, 1], stats[:, 2])

    def solve_outputs_and_state(self, problem, saveat, names: Sequence[str]):
        """``solve_outputs``, and each patient's state at the last saved time (S, N), from which a
        later solve continues (``Problem.y0``). The kernel ends every patient with a step that
        lands exactly on the last output time, so that state is a step's end, not interpolated."""
        from ivigsim.engine.outputs import Observed

        cm = problem.model
        m = cm.model
        kinds = np.array([len(m.state_names) + m.output_names.index(n) for n in names]
                         + list(range(cm.n_states)), dtype=np.int64)
        out, stats = self._run(problem, saveat, kinds)
        k = len(names)
        observed = Observed(saveat.ts, tuple(names), np.ascontiguousarray(out[:, :k, :]),
                            stats[:, 0].astype(np.int8), stats[:, 1], stats[:, 2])
        return observed, np.ascontiguousarray(out[:, k:, -1].T)

    def solve_problem(self, problem, saveat):
        from ivigsim.engine.solve import Solution

        cm = problem.model
        kinds = np.arange(cm.n_states, dtype=np.int64)
        out, stats = self._run(problem, saveat, kinds)
        with np.errstate(all="ignore"):
            consts = np.broadcast_to(cm.constants(problem.parameters),
                                     (len(cm.model.constant_names), problem.n_patients))
        return Solution(saveat.ts, out.transpose(2, 1, 0).copy(), stats[:, 0].astype(np.int8), stats[:, 1],
                        stats[:, 2], np.ascontiguousarray(consts))

    def steps_in_stiff_mode(self, problem, saveat) -> np.ndarray:
        """Accepted steps each patient took with Rodas4 (diagnostics, benchmarks)."""
        _, stats = self._run(problem, saveat, np.zeros(0, dtype=np.int64))
        return stats[:, 3]


@dataclass(frozen=True)
class Auto(_Compiled):
    """Dormand-Prince 5(4), switching a patient to Rodas4 when it turns out stiff."""

    METHOD: ClassVar[int] = 0


@dataclass(frozen=True)
class CompiledDopri5(_Compiled):
    """Dormand-Prince 5(4), compiled, with dense output."""

    METHOD: ClassVar[int] = 1


@dataclass(frozen=True)
class Rodas4(_Compiled):
    """Rodas4: L-stable Rosenbrock 4(3) with a finite-difference Jacobian."""

    METHOD: ClassVar[int] = 2
