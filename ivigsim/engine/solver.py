"""The vectorised NumPy solver: Dormand-Prince 5(4) over a batch of patients at once.

Each loop iteration advances every unfinished patient by one trial step of its own
size. A step never crosses the patient's next breakpoint (an infusion start or stop)
nor the next output time: it is clipped to land on it exactly, so inputs are
constant inside every step and outputs need no interpolation. Patients that finish
drop out of the working set, which is compacted so late iterations stay cheap.

A patient whose solve fails (too many steps, step size collapsing, non-finite state)
is marked with a ``Status`` and NaN outputs from then on; the batch goes on. Nothing is
compiled, so a single scenario starts at once; patients the model is stiff for are
solved again by the compiled ``Auto`` (``Dopri5.solve_robustly``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ivigsim.engine.base import Solver, check_tolerances
from ivigsim.engine.compiled import Auto
from ivigsim.engine.outputs import Observed, observe_solution
from ivigsim.engine.solve import Problem, SaveAt, Solution, Status
from ivigsim.engine.tableaux import DOPRI5
from ivigsim.errors import InputError


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


@dataclass(frozen=True)
class Dopri5(Solver):
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
        for c, row in zip(DOPRI5.c, DOPRI5.a_lower):
            yi = y + h * sum(a * k for a, k in zip(row, ks) if a != 0.0)
            ks.append(rhs(t + c * h, yi))
        y5 = yi  # the last row of a is the 5th-order solution (FSAL)
        err = h * sum(e * k for e, k in zip(DOPRI5.b_error, ks) if e != 0.0)
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

    def solve(self, problem: Problem, saveat: SaveAt) -> Solution:
        """Every patient of ``problem`` in one vectorised loop (see the module's docstring)."""
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
        h = self.initial_step(rhs_for(p, c, u), t, y, k1)
        active = i_out < n_out
        width = btimes.shape[1]

        while True:
            if not active.all():  # compact the working set
                keep = np.flatnonzero(active)
                if keep.size == 0:
                    break
                ids, t, y, h, k1 = ids[keep], t[keep], y[:, keep], h[keep], k1[:, keep]
                seg, i_out, u = seg[keep], i_out[keep], u[:, keep]
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
                y_new, k7, err = self.step(rhs_for(p, c, u), t, y, hs, k1)
            finite = np.isfinite(err) & np.isfinite(y_new).all(axis=0)
            accept = finite & (err <= 1.0)
            factor = np.where(finite, self.factor(err), self.min_factor)
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
                [~finite & too_small, too_small, n_steps[ids] + n_rejected[ids] >= self.max_steps],
                [Status.NONFINITE, Status.STEP_TOO_SMALL, Status.MAX_STEPS],
                Status.SUCCESS,
            )
            status[ids] = np.maximum(status[ids], fail)
            active = (i_out < n_out) & (fail == Status.SUCCESS)

        return Solution(ts, ys, status, n_steps, n_rejected, consts)

    def stiff_fallback(self) -> Solver:
        """The solver for patients this one finds stiff: the compiled ``Auto``, at the same
        tolerances and step budget."""
        return Auto(rtol=self.rtol, atol=self.atol, max_steps=self.max_steps)

    def solve_robustly(self, problem: Problem, saveat: SaveAt) -> Solution:
        """Solve; if a patient's solve fails because the model is stiff for its parameters,
        solve the batch again with ``stiff_fallback()`` (nothing is compiled for the many
        single scenarios that never need it)."""
        # A non-stiff patient needs a few hundred steps (a few per output day); a stiff one
        # needs tens of thousands, so the explicit attempt gets a budget scaled to the span.
        span = float(saveat.ts[-1] - problem.t0)
        budget = replace(self, max_steps=min(self.max_steps, 5_000 + int(20 * span)))
        solution = budget.solve(problem, saveat)
        stiff = np.isin(solution.status, (Status.MAX_STEPS, Status.STEP_TOO_SMALL))
        if not stiff.any():
            return solution
        return self.stiff_fallback().solve(problem, saveat)

    def solve_outputs(self, problem: Problem, saveat: SaveAt, names: Sequence[str]) -> Observed:
        """Solved (``solve_robustly``), then observed in NumPy."""
        return self._observed(problem, saveat, tuple(names))[0]

    def solve_outputs_and_state(self, problem: Problem, saveat: SaveAt,
                                names: Sequence[str]) -> tuple[Observed, np.ndarray]:
        return self._observed(problem, saveat, tuple(names))

    def _observed(self, problem: Problem, saveat: SaveAt, names: tuple[str, ...]) -> tuple[Observed, np.ndarray]:
        sol = self.solve_robustly(problem, saveat)
        n, ts = problem.n_patients, sol.ts
        out = observe_solution(problem, sol)
        values = (np.stack([np.asarray(out[k], dtype=float).T for k in names], axis=1) if names
                  else np.zeros((n, 0, len(ts))))
        return Observed(ts, names, values, sol.status, sol.n_steps, sol.n_rejected), sol.ys[-1].copy()
