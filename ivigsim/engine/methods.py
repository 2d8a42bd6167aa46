"""Solver choice by name, for files and the command line (objects inside)."""

from __future__ import annotations

from ivigsim.engine.solver import Dopri5
from ivigsim.errors import InputError

METHODS = ("auto", "dopri5", "rodas4", "numpy-dopri5")


def make_solver(method: str, rtol: float = 1e-6, atol: float = 1e-9):
    """``auto`` (compiled Dormand-Prince switching to Rodas4 when stiff), ``dopri5``
    (compiled), ``rodas4`` (compiled), ``numpy-dopri5`` (the vectorised NumPy solver)."""
    from ivigsim.engine.compiled import Auto, CompiledDopri5, Rodas4

    classes = {"auto": Auto, "dopri5": CompiledDopri5, "rodas4": Rodas4, "numpy-dopri5": Dopri5}
    if method not in classes:
        raise InputError("simulation.method", f"one of {', '.join(METHODS)}", method)
    return classes[method](rtol=rtol, atol=atol)
