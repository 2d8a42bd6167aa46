"""Compiled solvers: one patient at a time in machine code, patients in parallel.

Three solver values (``engine/base.py``'s ``Solver``), each usable wherever ``Dopri5`` is:

- ``Auto()``: the stiff fallback as a value: Dormand-Prince 5(4) that starts a patient
  with, or switches it to, Rodas4 when that patient's own Jacobian or Hairer's stiffness
  test says it is stiff (the thresholds are its fields). The default for trials: as fast
  as Dormand-Prince on the calibrated model, and it keeps going on stiff configurations.
- ``CompiledDopri5()``: Dormand-Prince only (explicit).
- ``Rodas4()``: the L-stable Rosenbrock method only (Rodas4P2's coefficients).

All three use continuous extensions for output times (steps are not cut at outputs),
land exactly on infusion breakpoints, and solve each patient independently of its
batch, so a patient's numbers are identical whatever the batch, chunk, thread count
or process (``tests/test_engine_compiled.py``). They integrate only the states the
requested quantities read, directly or through the states those depend on: the others
(an accumulator such as IVIG catabolised; immune complexes, whose clearance of 5/day held
Dormand-Prince's steps at its stability limit) are held at their initial values and left
out of the error norm (the kernel's ``observation_plan``). So a patient's numbers depend,
within the tolerance, on what is asked for: the same outputs with and without a state
beside them differ by a different sequence of steps, as two tolerance-controlled solves do.
The kernel is generated per model and compiled by numba once per machine (cached on disk;
see ``ivigsim.engine.codegen``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ivigsim.engine.base import Solver, check_tolerances
from ivigsim.engine.kernel_method import KernelMethod
from ivigsim.engine.outputs import Observed
from ivigsim.engine.solve import Solution
from ivigsim.errors import InputError

#: Batches smaller than this run on one thread (thread start-up is not worth it).
PARALLEL_FROM = 64


def _lockstep_from(default: int = 2000) -> int:
    """``IVIGSIM_LOCKSTEP_FROM`` if it is a whole number >= 1 (the test suite raises it), else
    ``default``."""
    text = os.environ.get("IVIGSIM_LOCKSTEP_FROM", "")
    return int(text) if text.isdigit() and int(text) >= 1 else default


#: Batches from this size run Dormand-Prince in lockstep, ``LANES`` patients at once (the
#: kernel's ``solve_lockstep``; ``Auto`` and ``CompiledDopri5``): the same numbers, bit for bit,
#: in less time, but its compilation (once per model and machine, cached on disk) costs more
#: than a smaller batch saves.
LOCKSTEP_FROM = _lockstep_from()
#: Runs of patients per thread in lockstep: a thread whose runs end early takes another.
RUNS_PER_THREAD = 4


@dataclass(frozen=True)
class _Compiled(Solver):
    """What the three compiled solvers share: the generated kernel, called with the method
    each names (``KERNEL_METHOD``) and its switching thresholds (``_switching``)."""

    rtol: float = 1e-6
    atol: float = 1e-9
    max_steps: int = 100_000
    threads: int | None = None  # None: numba's default (all cores)

    KERNEL_METHOD: ClassVar[KernelMethod]

    def _switching(self) -> tuple[float, float]:
        """(stiff_rho_span, stiff_h_lambda) for the kernel; only ``Auto`` switches."""
        return STIFF_RHO_SPAN, STIFF_H_LAMBDA

    def __post_init__(self) -> None:
        check_tolerances(self.rtol, self.atol, self.max_steps)
        if self.threads is not None and self.threads < 1:
            raise InputError("solver.threads", "a number of threads >= 1", self.threads)

    def entry_point(self, n_patients: int) -> str:
        """The kernel function a batch of ``n_patients`` runs through: ``solve_lockstep`` (large
        batches), ``solve_batch`` (in parallel, one patient at a time) or
        ``solve_batch_serial``. Each compiles on its first use on a machine."""
        if n_patients >= LOCKSTEP_FROM:
            return "solve_lockstep"
        return "solve_batch" if n_patients >= PARALLEL_FROM and self.threads != 1 else "solve_batch_serial"

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
        out = np.empty((n, len(kinds), len(ts)))  # every entry written by the kernel (NaN past a failure)
        stats = np.zeros((n, 4), dtype=np.int64)
        kinds = np.ascontiguousarray(kinds, dtype=np.int64)
        observed, live, need = module.observation_plan(kinds)
        args = (float(problem.t0), np.ascontiguousarray(ts, dtype=float), np.ascontiguousarray(y0.T),
                np.ascontiguousarray(params.T), np.ascontiguousarray(consts.T),
                np.ascontiguousarray(problem.schedule.times, dtype=float),
                np.ascontiguousarray(problem.schedule.values, dtype=float),
                kinds, observed, live, out, int(self.KERNEL_METHOD), float(self.rtol),
                float(self.atol), int(self.max_steps), *map(float, self._switching()), stats)
        entry = self.entry_point(n)
        if entry == "solve_lockstep":
            _run_lockstep(module, args, need, n, self.threads)
        elif entry == "solve_batch":
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

    def solve_outputs(self, problem, saveat, names: Sequence[str]) -> Observed:
        m = problem.model.model
        kinds = np.array([len(m.state_names) + m.output_names.index(n) for n in names], dtype=np.int64)
        out, stats = self._run(problem, saveat, kinds)
        return Observed(saveat.ts, tuple(names), out, stats[:, 0].astype(np.int8), stats[:, 1], stats[:, 2])

    def solve_outputs_and_state(self, problem, saveat, names: Sequence[str]) -> tuple[Observed, np.ndarray]:
        """``solve_outputs``, and each patient's state at the last saved time (S, N), from which a
        later solve continues (``Problem.y0``). The kernel ends every patient with a step that
        lands exactly on the last output time, so that state is a step's end, not interpolated."""
        cm = problem.model
        m = cm.model
        kinds = np.array([len(m.state_names) + m.output_names.index(n) for n in names]
                         + list(range(cm.n_states)), dtype=np.int64)
        out, stats = self._run(problem, saveat, kinds)
        k = len(names)
        observed = Observed(saveat.ts, tuple(names), np.ascontiguousarray(out[:, :k, :]),
                            stats[:, 0].astype(np.int8), stats[:, 1], stats[:, 2])
        return observed, np.ascontiguousarray(out[:, k:, -1].T)

    def solve(self, problem, saveat) -> Solution:
        cm = problem.model
        kinds = np.arange(cm.n_states, dtype=np.int64)
        out, stats = self._run(problem, saveat, kinds)
        with np.errstate(all="ignore"):
            consts = np.broadcast_to(cm.constants(problem.parameters),
                                     (len(cm.model.constant_names), problem.n_patients))
        return Solution(saveat.ts, out.transpose(2, 1, 0).copy(), stats[:, 0].astype(np.int8), stats[:, 1],
                        stats[:, 2], np.ascontiguousarray(consts))

    def steps_in_stiff_mode(self, problem, saveat) -> np.ndarray:
        """Accepted steps each patient took with Rodas4 (diagnostics, benchmarks), every state
        integrated."""
        _, stats = self._run(problem, saveat, np.arange(problem.model.n_states, dtype=np.int64))
        return stats[:, 3]


def _run_lockstep(module, args: tuple, need: np.ndarray, n: int, threads: int | None) -> None:
    """The kernel's ``solve_lockstep`` over contiguous runs of the batch, on a pool of Python
    threads (the kernel releases the GIL). Threads rather than numba's ``prange``: a parallel
    entry point re-optimises the whole lockstep once more when it compiles (measured: half a
    minute more per model)."""
    import numba

    threads = min(threads or numba.get_num_threads(), n)
    runs = max(1, min(RUNS_PER_THREAD * threads, n // (8 * module.LANES)))
    bounds = [(r * n // runs, (r + 1) * n // runs) for r in range(runs)]
    n_states, n_parameters = args[2].shape[1], args[3].shape[1]

    def solve(lo: int, hi: int) -> None:
        module.solve_lockstep(lo, hi, *args, need, *module.lockstep_work(n_states, n_parameters))

    if threads == 1 or runs == 1:
        for lo, hi in bounds:
            solve(lo, hi)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for done in [pool.submit(solve, lo, hi) for lo, hi in bounds]:
            done.result()


@dataclass(frozen=True)
class Auto(_Compiled):
    """Dormand-Prince 5(4), switching a patient to Rodas4 when it turns out stiff.

    Per patient, from that patient's own Jacobian: at t0 and at the end of each infusion
    (where the infused drug, and any concentration-driven fast dynamics, peak) the largest
    |dF_i/dy_i| estimates the stiffness; when |lambda| * remaining days exceeds
    ``stiff_rho_span`` the patient continues with Rodas4. Otherwise it runs Dormand-Prince,
    which still switches when Hairer's stiffness test (dopri5.f: h |lambda| estimated from
    the last two stages above ``stiff_h_lambda`` on 15 accepted steps; each state weighted
    as in the error norm, so a small fast state that holds the steps back is seen beside
    large slow ones) fires; a patient the test switched returns to Dormand-Prince when an
    infusion starts (its transient is accuracy-limited, where explicit steps are cheaper).
    """

    #: |lambda| * remaining days above which a patient starts (or continues) with Rodas4:
    #: Dormand-Prince then needs at least |lambda| * days / 3.3 steps (1,500 at the threshold),
    #: while Rodas4 takes a few hundred accuracy-limited steps at two to three times the cost
    #: of a Dormand-Prince step. On the shipped scenarios (benchmarks/scenarios_benchmark.py)
    #: the calibrated patients have |lambda| * days of 300-4,100 and the stiff configuration
    #: 28,000-95,000; 5,000 was faster than 3,000 on the 180-day ITP scenario, whose patients
    #: near 4,000 are stiff only for part of the span (measured with every state integrated,
    #: before held states' rows of the Jacobian were zero: the estimate now sees only the
    #: states the solve integrates).
    stiff_rho_span: float = 5000.0
    #: h |lambda| above which a Dormand-Prince step counts as stability-limited (dopri5.f uses
    #: 3.25; the controller here settles just under the stability boundary, so a little lower).
    stiff_h_lambda: float = 2.5

    KERNEL_METHOD: ClassVar[KernelMethod] = KernelMethod.AUTO

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.stiff_rho_span > 0:
            raise InputError("solver.stiff_rho_span", "a positive number", self.stiff_rho_span)
        if not self.stiff_h_lambda > 0:
            raise InputError("solver.stiff_h_lambda", "a positive number", self.stiff_h_lambda)

    def _switching(self) -> tuple[float, float]:
        return self.stiff_rho_span, self.stiff_h_lambda


#: Auto's default thresholds, passed (unused) by the solvers that do not switch.
STIFF_RHO_SPAN = Auto.stiff_rho_span
STIFF_H_LAMBDA = Auto.stiff_h_lambda


@dataclass(frozen=True)
class CompiledDopri5(_Compiled):
    """Dormand-Prince 5(4), compiled, with dense output."""

    KERNEL_METHOD: ClassVar[KernelMethod] = KernelMethod.EXPLICIT


@dataclass(frozen=True)
class Rodas4(_Compiled):
    """The L-stable Rosenbrock method only, with the model's analytic Jacobian: Rodas4's
    structure with Steinebach's Rodas4P2 coefficients (order 4(3), no order reduction on
    stiff problems; ``engine/tableaux.py``)."""

    KERNEL_METHOD: ClassVar[KernelMethod] = KernelMethod.STIFF
