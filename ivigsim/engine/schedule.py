"""Piecewise-constant inputs per patient, and the breakpoints where they jump.

Each patient has its own sorted breakpoints (infusion starts and stops). Between two
breakpoints every input is constant, so the solver never steps across one: it lands
on it exactly, switches the input, and goes on (diffrax's ``jump_ts`` idea, per patient).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Window:
    """A constant addition ``rate`` to input ``input_index`` on [start, end)."""

    start: float
    end: float
    rate: float
    input_index: int = 0


@dataclass(frozen=True)
class InputSchedule:
    """Per-patient breakpoints and input values.

    ``times``: (n_patients, n_breaks), sorted, padded with +inf.
    ``values``: (n_patients, n_breaks, n_inputs): value from ``times[k]`` to ``times[k+1]``.
    Before the first breakpoint every input is 0.
    """

    times: np.ndarray
    values: np.ndarray

    @property
    def n_patients(self) -> int:
        return self.times.shape[0]

    @property
    def n_inputs(self) -> int:
        return self.values.shape[2]

    @classmethod
    def empty(cls, n_patients: int, n_inputs: int) -> InputSchedule:
        return cls(np.full((n_patients, 1), np.inf), np.zeros((n_patients, 1, n_inputs)))

    @classmethod
    def from_windows(cls, windows: Sequence[Sequence[Window]], n_inputs: int) -> InputSchedule:
        """Build from each patient's windows; overlapping windows add up."""
        per_patient = []
        for pw in windows:
            edges = sorted({w.start for w in pw} | {w.end for w in pw})
            vals = np.zeros((len(edges), n_inputs))
            for w in pw:
                k0, k1 = edges.index(w.start), edges.index(w.end)
                vals[k0:k1, w.input_index] += w.rate
            per_patient.append((edges, vals))
        width = max([1, *(len(e) for e, _ in per_patient)])
        times = np.full((len(windows), width), np.inf)
        values = np.zeros((len(windows), width, n_inputs))
        for i, (edges, vals) in enumerate(per_patient):
            times[i, : len(edges)] = edges
            values[i, : len(edges)] = vals
        return cls(times, values)

    def value_at(self, t: np.ndarray) -> np.ndarray:
        """Inputs at times ``t`` (n_times, n_patients) -> (n_inputs, n_times, n_patients).

        Right-continuous: at a breakpoint the new value applies (used for outputs).
        """
        t = np.asarray(t, dtype=float)
        out = np.zeros((self.n_inputs, *t.shape))
        for i in range(self.n_patients):
            k = np.searchsorted(self.times[i], t[..., i], side="right") - 1
            inside = k >= 0
            out[:, inside, i] = self.values[i, k[inside]].T
        return out
