"""The solver interface: what every solver offers the rest of the engine.

A solver is a value (STYLE.md: problem, method and output are separate, equinox's
abstract-base-class pattern): ``solve``, ``solve_outputs`` and ``solve_outputs_and_state``
are all ``engine/solve.py`` and ``engine/outputs.py`` call, so they never ask which solver
they hold. The implementations are final and small: the vectorised NumPy ``Dopri5``
(``engine/solver.py``) and the compiled ``Auto``, ``CompiledDopri5`` and ``Rodas4``
(``engine/compiled.py``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ivigsim.errors import InputError

if TYPE_CHECKING:
    import numpy as np

    from ivigsim.engine.outputs import Observed
    from ivigsim.engine.solve import Problem, SaveAt, Solution


class Solver(ABC):
    """How to solve a ``Problem``: tolerances (``rtol``, ``atol``: Hairer's RMS error norm,
    per state, ``atol`` in each state's own unit) and a step budget (``max_steps``)."""

    rtol: float
    atol: float
    max_steps: int

    @abstractmethod
    def solve(self, problem: Problem, saveat: SaveAt) -> Solution:
        """Every state of every patient at ``saveat.ts``, with status and step counts."""

    @abstractmethod
    def solve_outputs(self, problem: Problem, saveat: SaveAt, names: Sequence[str]) -> Observed:
        """The named outputs only (bounded memory: what trials need)."""

    @abstractmethod
    def solve_outputs_and_state(self, problem: Problem, saveat: SaveAt,
                                names: Sequence[str]) -> tuple[Observed, np.ndarray]:
        """``solve_outputs``, and each patient's state at the last saved time (S, N), from which
        a later solve continues (``Problem.y0``); NaN for a patient whose solve failed."""

    def solve_robustly(self, problem: Problem, saveat: SaveAt) -> Solution:
        """``solve``, falling back to a stiff method for patients this solver cannot finish.
        Solvers that handle stiffness themselves just solve."""
        return self.solve(problem, saveat)


def check_tolerances(rtol: float, atol: float, max_steps: int) -> None:
    """The checks every solver configuration shares."""
    if not 1e-14 <= rtol <= 0.1:
        raise InputError("solver.rtol", "a relative tolerance between 1e-14 and 0.1", rtol)
    if not 0 < atol <= 1:
        raise InputError("solver.atol", "an absolute tolerance in (0, 1]", atol)
    if max_steps < 1:
        raise InputError("solver.max_steps", "a positive integer", max_steps)
