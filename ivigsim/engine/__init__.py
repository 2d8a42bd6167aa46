"""Batched ODE solving: a problem (model, parameters, inputs), a solver, an output schedule.

``Dopri5`` is the vectorised NumPy solver (single scenarios: no compilation at start-up);
``Auto``, ``CompiledDopri5`` and ``Rodas4`` are compiled per-patient solvers (trials).
"""

from .compiled import Auto as Auto
from .compiled import CompiledDopri5 as CompiledDopri5
from .compiled import Rodas4 as Rodas4
from .outputs import Observed as Observed
from .outputs import solve_outputs as solve_outputs
from .schedule import InputSchedule as InputSchedule
from .schedule import Window as Window
from .solve import Problem as Problem
from .solve import SaveAt as SaveAt
from .solve import Solution as Solution
from .solve import Status as Status
from .solve import solve as solve
from .solver import Dopri5 as Dopri5
