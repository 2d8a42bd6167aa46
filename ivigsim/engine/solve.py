"""Solve a batch of patients at once: one vectorised loop, a step size per patient.

Each loop iteration advances every unfinished patient by one trial step of its own
size. A step never crosses the patient's next breakpoint (an infusion start or stop)
nor the next output time: it is clipped to land on it exactly, so inputs are
constant inside every step and outputs need no interpolation. Patients that finish
drop out of the working set, which is compacted so late iterations stay cheap.

A patient whose solve fails (too many steps, step size collapsing, non-finite state)
is marked with a ``Status`` and NaN outputs from then on; the batch goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import IntEnum

import numpy as np

from ivigsim.engine.schedule import InputSchedule
from ivigsim.engine.solver import Dopri5
from ivigsim.errors import InputError
from ivigsim.model.compose import CompiledModel


class Status(IntEnum):
    """Outcome per patient; a failure is data, with a remedy (diffrax's RESULTS)."""

    SUCCESS = 0
    MAX_STEPS = 1
    STEP_TOO_SMALL = 2
    NONFINITE = 3

    @property
    def remedy(self) -> str:
        return {
            Status.SUCCESS: "",
            Status.MAX_STEPS: "raise solver.max_steps, or loosen rtol",
            Status.STEP_TOO_SMALL: "the model is likely stiff or singular for this patient's parameters",
            Status.NONFINITE: "a state became NaN or infinite: check parameter values",
        }[self]


@dataclass(frozen=True)
class Problem:
    """What is solved: a compiled model, per-patient parameters (P, N) and inputs, from ``t0``.

    ``y0`` (S, N): each patient's state at ``t0``, to continue a solve from a stored state (a
    trial's run-in, then randomisation); None: the model's ``initial(p, c)``, its state before
    any treatment. The inputs at ``t0`` are the schedule's (breakpoints at or before ``t0``
    have taken effect), and ``t`` in the right-hand side is absolute time, so a model whose
    equations read ``t`` (CIDP's remission, GBS's resolution) continues exactly."""

    model: CompiledModel
    parameters: np.ndarray
    schedule: InputSchedule
    t0: float = 0.0
    y0: np.ndarray | None = None

    def __post_init__(self) -> None:
        n_par = len(self.model.model.parameters)
        if self.parameters.ndim != 2 or self.parameters.shape[0] != n_par:
            raise InputError("parameters", f"an array of shape ({n_par}, n_patients)", self.parameters.shape)
        if self.schedule.n_patients != self.parameters.shape[1]:
            raise InputError("schedule", f"{self.parameters.shape[1]} patients", self.schedule.n_patients)
        if not np.isfinite(self.t0):
            raise InputError("t0", "a finite start time in days", self.t0)
        if self.y0 is not None:
            shape = (self.model.n_states, self.parameters.shape[1])
            y0 = np.asarray(self.y0, dtype=float)
            if y0.shape != shape:
                raise InputError("y0", f"an array of shape {shape} (states, patients)", y0.shape)
            if not np.isfinite(y0).all():
                raise InputError("y0", "finite states", "NaN or infinite values")
            object.__setattr__(self, "y0", y0)

    def initial_state(self, consts: np.ndarray) -> np.ndarray:
        """The state at ``t0`` (S, N), a fresh array: ``y0``, or the model's initial state."""
        if self.y0 is not None:
            return self.y0.copy()
        return self.model.initial(self.parameters, consts)

    @property
    def n_patients(self) -> int:
        return self.parameters.shape[1]


@dataclass(frozen=True)
class SaveAt:
    """What is saved: the state at these times (days, increasing, >= t0)."""

    ts: np.ndarray

    def __post_init__(self) -> None:
        ts = np.asarray(self.ts, dtype=float)
        if ts.ndim != 1 or ts.size == 0 or np.any(np.diff(ts) <= 0) or not np.all(np.isfinite(ts)):
            raise InputError("output times", "a non-empty, strictly increasing list of days", self.ts)
        object.__setattr__(self, "ts", ts)


@dataclass(frozen=True)
class Solution:
    ts: np.ndarray  # (T,)
    ys: np.ndarray  # (T, S, N)
    status: np.ndarray  # (N,) of Status values
    n_steps: np.ndarray  # (N,) accepted steps
    n_rejected: np.ndarray  # (N,)
    constants: np.ndarray = field(repr=False)  # (C, N)

    @property
    def failed(self) -> np.ndarray:
        """Indices of patients whose solve failed."""
        return np.flatnonzero(self.status != Status.SUCCESS)


def solve(problem: Problem, saveat: SaveAt, solver: Dopri5 | None = None) -> Solution:
    """Solve every patient of ``problem``; ``solver`` is ``Dopri5`` (vectorised NumPy, the
    default) or a compiled solver from ``ivigsim.engine.compiled``."""
    solver = solver or Dopri5()
    if not isinstance(solver, Dopri5):
        return solver.solve_problem(problem, saveat)
    cm, ts = problem.model, saveat.ts
    if ts[0] < problem.t0:
        raise InputError("output times", f"times at or after t0 = {problem.t0}", float(ts[0]))
    n, n_states, n_out = problem.n_patients, cm.n_states, len(ts)
    params = problem.parameters
    consts = cm.constants(params)
    y = problem.initial_state(consts)

    ys = np.full((n_out, n_states, n), np.nan)
    status = np.zeros(n, dtype=np.int8)
    n_steps = np.zeros(n, dtype=np.int64)
    n_rejected = np.zeros(n, dtype=np.int64)

    # Working set: arrays restricted to the patients still being solved.
    ids = np.arange(n)
    t = np.full(n, problem.t0)
    p, c = params, consts
    btimes, bvalues = problem.schedule.times, problem.schedule.values
    seg = (btimes <= problem.t0).sum(axis=1)  # index of the next breakpoint
    i_out = np.full(n, np.searchsorted(ts, problem.t0, side="left"))
    if ts[0] == problem.t0:
        ys[0] = y
        i_out += 1

    def inputs(seg_, values_):
        rows = np.arange(len(seg_))
        current = values_[rows, np.maximum(seg_ - 1, 0)]  # (n, n_inputs)
        return np.where((seg_ > 0)[:, None], current, 0.0).T

    u = inputs(seg, bvalues)

    def rhs_for(p_, c_, u_):
        return lambda tt, yy: cm.rhs(tt, yy, p_, c_, u_)

    k1 = cm.rhs(t, y, p, c, u)
    h = solver.initial_step(rhs_for(p, c, u), t, y, k1)
    active = i_out < n_out
    width = btimes.shape[1]

    while True:
        if not active.all():  # compact the working set
            keep = np.flatnonzero(active)
            if keep.size == 0:
                break
            ids, t, y, h, k1, seg, i_out, u = ids[keep], t[keep], y[:, keep], h[keep], k1[:, keep], seg[keep], i_out[keep], u[:, keep]
            p, c, btimes, bvalues = p[:, keep], c[:, keep], btimes[keep], bvalues[keep]
        rows = np.arange(ids.size)
        next_break = np.where(seg < width, btimes[rows, np.minimum(seg, width - 1)], np.inf)
        next_out = ts[i_out]
        stop = np.minimum(next_break, next_out)
        clipped = h >= stop - t
        hs = np.where(clipped, stop - t, h)

        # A trial stage may leave the model's domain (a negative share to a power); such a
        # step is non-finite and rejected just below, so the warning would only be noise.
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            y_new, k7, err = solver.step(rhs_for(p, c, u), t, y, hs, k1)
        finite = np.isfinite(err) & np.isfinite(y_new).all(axis=0)
        accept = finite & (err <= 1.0)
        factor = np.where(finite, solver.factor(err), solver.min_factor)
        factor = np.where(accept, factor, np.minimum(factor, 1.0))
        h_next = hs * factor
        # After a step clipped onto a stop, the unclipped size is still the better guess.
        h = np.where(accept & clipped, np.maximum(h_next, h), h_next)

        t = np.where(accept, np.where(clipped, stop, t + hs), t)
        y = np.where(accept, y_new, y)
        k1 = np.where(accept, k7, k1)
        n_steps[ids] += accept
        n_rejected[ids] += ~accept

        landed = accept & clipped
        at_out = landed & (t == next_out)
        if at_out.any():
            ys[i_out[at_out], :, ids[at_out]] = y[:, at_out].T
            i_out = i_out + at_out
        at_break = landed & (t == next_break)
        if at_break.any():
            seg = seg + at_break
            u = inputs(seg, bvalues)
            sub = np.flatnonzero(at_break)
            k1[:, sub] = cm.rhs(t[sub], y[:, sub], p[:, sub], c[:, sub], u[:, sub])

        too_small = ~accept & (hs <= 1e-12 * np.maximum(1.0, np.abs(t)))
        fail = np.select(
            [~finite & too_small, too_small, n_steps[ids] + n_rejected[ids] >= solver.max_steps],
            [Status.NONFINITE, Status.STEP_TOO_SMALL, Status.MAX_STEPS],
            Status.SUCCESS,
        )
        status[ids] = np.maximum(status[ids], fail)
        active = (i_out < n_out) & (fail == Status.SUCCESS)

    return Solution(ts, ys, status, n_steps, n_rejected, consts)


def solve_robustly(problem: Problem, saveat: SaveAt, solver: Dopri5 | None = None) -> Solution:
    """Solve with the given solver; if it is the vectorised NumPy ``Dopri5`` (nothing to
    compile for one patient) and a patient's solve fails because the model is stiff for its
    parameters, solve the batch again with the compiled stiffness-switching solver (``Auto``)."""
    solver = solver or Dopri5()
    if not isinstance(solver, Dopri5):
        return solve(problem, saveat, solver)
    # A non-stiff patient needs a few hundred steps (a few per output day); a stiff one
    # needs tens of thousands, so the explicit attempt gets a budget scaled to the span.
    span = float(saveat.ts[-1] - problem.t0)
    budget = replace(solver, max_steps=min(solver.max_steps, 5_000 + int(20 * span)))
    solution = solve(problem, saveat, budget)
    stiff = np.isin(solution.status, (Status.MAX_STEPS, Status.STEP_TOO_SMALL))
    if not stiff.any():
        return solution
    from ivigsim.engine.compiled import Auto

    return solve(problem, saveat, Auto(rtol=solver.rtol, atol=solver.atol, max_steps=solver.max_steps))
