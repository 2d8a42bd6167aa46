"""How to step: the Dormand-Prince 5(4) pair, with per-patient step-size control.

Solver configuration is a value (STYLE.md: problem, method and output are separate),
so a stiff method can be added beside it without touching the problem or the output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ivigsim.errors import InputError

# Dormand & Prince (1980) tableau, as in Hairer, Norsett & Wanner, Solving ODEs I, Table 5.2.
C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
# 5th-order weights minus embedded 4th-order weights: the local error estimate.
E = (71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40)


def rms(x: np.ndarray) -> np.ndarray:
    """Root mean square over the states (axis 0), per patient.

    Summed row by row in a fixed order: numpy's mean over axis 0 sums a (states, 1) array
    pairwise but a (states, n) array row by row, so a patient's error norm, hence its steps,
    would differ in the last bit with the size of its batch.
    """
    total = np.zeros(x.shape[1:])
    for row in x:
        total = total + row * row
    return np.sqrt(total / x.shape[0])


def check_tolerances(rtol: float, atol: float, max_steps: int) -> None:
    """The checks every solver configuration shares."""
    if not 1e-14 <= rtol <= 0.1:
        raise InputError("solver.rtol", "a relative tolerance between 1e-14 and 0.1", rtol)
    if not 0 < atol <= 1:
        raise InputError("solver.atol", "an absolute tolerance in (0, 1]", atol)
    if max_steps < 1:
        raise InputError("solver.max_steps", "a positive integer", max_steps)


@dataclass(frozen=True)
class Dopri5:
    """Explicit adaptive Runge-Kutta 5(4) with the 5th-order solution propagated (FSAL).

    ``rtol``/``atol`` act per state on the RMS-norm of the error (Hairer's convention);
    ``atol`` is in each state's own unit (grams for the IgG amounts).
    """

    rtol: float = 1e-6
    atol: float = 1e-9
    max_steps: int = 100_000
    safety: float = 0.9
    min_factor: float = 0.2
    max_factor: float = 5.0

    def __post_init__(self) -> None:
        check_tolerances(self.rtol, self.atol, self.max_steps)

    def step(self, rhs, t, y, h, k1):
        """One trial step for every patient: returns (y5, k7, error norm)."""
        ks = [k1]
        for i in range(1, 7):
            yi = y + h * sum(a * k for a, k in zip(A[i], ks) if a != 0.0)
            ks.append(rhs(t + C[i] * h, yi))
        y5 = yi  # row 7 of A is the 5th-order solution (FSAL)
        err = h * sum(e * k for e, k in zip(E, ks) if e != 0.0)
        scale = self.atol + self.rtol * np.maximum(np.abs(y), np.abs(y5))
        norm = rms(err / scale)
        return y5, ks[6], norm

    def factor(self, norm: np.ndarray) -> np.ndarray:
        """Step-size multiplier from the error norm (elementary controller, order 5)."""
        with np.errstate(divide="ignore"):
            f = self.safety * norm ** (-1 / 5)
        return np.clip(np.nan_to_num(f, nan=self.min_factor, posinf=self.max_factor),
                       self.min_factor, self.max_factor)

    def initial_step(self, rhs, t, y, f0) -> np.ndarray:
        """Hairer, Norsett & Wanner's starting step (II.4), per patient."""
        scale = self.atol + self.rtol * np.abs(y)
        d0 = rms(y / scale)
        d1 = rms(f0 / scale)
        h0 = np.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / np.maximum(d1, 1e-300))
        f1 = rhs(t + h0, y + h0 * f0)
        d2 = rms((f1 - f0) / scale) / h0
        dmax = np.maximum(d1, d2)
        h1 = np.where(dmax <= 1e-15, np.maximum(1e-6, h0 * 1e-3),
                      (0.01 / np.maximum(dmax, 1e-300)) ** (1 / 5))
        return np.minimum(100 * h0, h1)
