"""What is solved and what comes back: ``Problem`` (a model, per-patient parameters and
inputs, from ``t0``), ``SaveAt`` (the output times), ``Solution`` and its per-patient
``Status``; ``solve`` hands them to a solver (``engine/base.py``'s interface).

A patient whose solve fails (too many steps, step size collapsing, non-finite state)
is marked with a ``Status`` and NaN outputs from then on; the batch goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from ivigsim.engine.base import Solver
from ivigsim.engine.schedule import InputSchedule
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


def solve(problem: Problem, saveat: SaveAt, solver: Solver | None = None) -> Solution:
    """Solve every patient of ``problem`` with ``solver`` (default: the vectorised NumPy
    ``Dopri5``; the compiled solvers are in ``ivigsim.engine.compiled``)."""
    return (solver or _default()).solve(problem, saveat)


def solve_robustly(problem: Problem, saveat: SaveAt, solver: Solver | None = None) -> Solution:
    """``solve``, with the solver's stiff fallback (``Solver.solve_robustly``): the NumPy
    ``Dopri5`` solves stiff patients again with the compiled ``Auto``; the compiled solvers
    handle stiffness themselves."""
    return (solver or _default()).solve_robustly(problem, saveat)


def _default() -> Solver:
    from ivigsim.engine.solver import Dopri5  # it builds on this module's types

    return Dopri5()
