"""Solve and keep only named outputs: what trials need (bounded memory, no state arrays).

``solve_outputs(problem, saveat, solver, names)`` returns the outputs as one array
(n_patients, n_outputs, n_times) with per-patient status and step counts, from the
solver's own ``solve_outputs`` (``engine/base.py``): the compiled solvers evaluate outputs
inside their loop; the NumPy ``Dopri5`` solves (falling back to the compiled ``Auto`` for
patients that turn out stiff), then observes with ``observe_solution``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ivigsim.engine.base import Solver
from ivigsim.engine.solve import Problem, SaveAt, Solution
from ivigsim.errors import InputError


@dataclass(frozen=True)
class Observed:
    ts: np.ndarray  # (T,)
    names: tuple[str, ...]
    values: np.ndarray  # (N, K, T)
    status: np.ndarray  # (N,)
    n_steps: np.ndarray  # (N,)
    n_rejected: np.ndarray  # (N,)

    def output(self, name: str) -> np.ndarray:
        return self.values[:, self.names.index(name), :]


def observe_solution(problem: Problem, solution: Solution) -> dict[str, np.ndarray]:
    """Every output of the model at the solution's times, each (T, N): the one place the
    NumPy path evaluates outputs from states (the compiled solvers do it in their kernel,
    generated from the same expressions)."""
    ts, n = solution.ts, problem.n_patients
    grid = np.broadcast_to(ts[:, None], (len(ts), n))
    with np.errstate(all="ignore"):
        return problem.model.observe(grid, solution.ys.transpose(1, 0, 2), problem.parameters[:, None, :],
                                     solution.constants[:, None, :], problem.schedule.value_at(grid))


def solve_outputs(problem: Problem, saveat: SaveAt, solver: Solver, names: Sequence[str]) -> Observed:
    return solver.solve_outputs(problem, saveat, _checked(problem, names))


def solve_outputs_and_state(problem: Problem, saveat: SaveAt, solver: Solver,
                            names: Sequence[str]) -> tuple[Observed, np.ndarray]:
    """``solve_outputs``, and each patient's state at the last saved time (S, N): where a later
    solve continues from (``Problem(..., t0=saveat.ts[-1], y0=state)``; a trial's run-in). A
    patient whose solve failed has NaN there."""
    return solver.solve_outputs_and_state(problem, saveat, _checked(problem, names))


def _checked(problem: Problem, names: Sequence[str]) -> tuple[str, ...]:
    names = tuple(names)
    known = problem.model.model.output_names
    for name in names:
        if name not in known:
            raise InputError("outputs", f"one of the model's outputs ({', '.join(known)})", name)
    return names
