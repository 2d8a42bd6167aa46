"""The lockstep driver (Dormand-Prince, and Rodas4 for stiff patients, for LANES patients at once)
against the one-patient driver.

The lockstep is a faster way to compute the same numbers: every patient's outputs, status and
step counts must be the one-patient driver's, bit for bit, whatever its lane, its lane-mates,
the number of threads, or whether it was handed over to the one-patient driver (stiff, or the
last few lanes of a run). The batch mixes what makes lanes diverge: patients without a dose,
with one, with five; weights from 40 to 120 kg; a third stiff (Auto switches them to Rodas4,
some from the start); a cooperativity
exponent that differs between patients (the power's slow path); a patient whose weight is not
a number (a failed solve; in Rodas4, through the forward-difference Jacobian its non-finite
one calls for); and a step budget that stops some patients early (``max_steps``), in either
method.
"""

import numpy as np
import pytest

from ivigsim.engine import compiled
from ivigsim.engine.compiled import Auto, CompiledDopri5, Rodas4
from ivigsim.engine.schedule import InputSchedule, Window
from ivigsim.engine.solve import Problem, SaveAt, Status, solve

pytestmark = pytest.mark.slow  # 3 s or more (README run under 5 minutes): compiles the lockstep (about a minute)

N = 300


def _batch(core):
    rng = np.random.default_rng(7)
    w = rng.uniform(40, 120, N)
    stiff = np.arange(N) % 3 == 0
    values = {
        "body_weight_kg": w,
        "baseline_igg_g_per_L": rng.uniform(6, 16, N),
        "immune_complex_clearance_per_day": np.where(stiff, rng.uniform(20, 100, N), 5.0),
        "fcgr_release_per_day": np.where(stiff, 71.0, 0.71),
        "fcgr_dimer_order": np.where(np.arange(N) % 5 == 0, 1.5, 2.0),
    }
    params = core.model.parameter_array(values, n=N)
    params[core.model.parameter_names.index("body_weight_kg"), 123] = np.nan  # past the checks: a failed solve
    doses = []
    for i, wi in enumerate(w):
        days = (0, 1, 2, 3, 4) if i % 4 == 0 else ((0.5,) if i % 4 == 1 else (() if i % 4 == 2 else (0, 21)))
        doses.append([Window(d, d + 5 / 24, 0.4 * wi / (5 / 24)) for d in days])
    return Problem(core, params, InputSchedule.from_windows(doses, 1))


def _solve(problem, solver, lockstep_from, monkeypatch):
    monkeypatch.setattr(compiled, "LOCKSTEP_FROM", lockstep_from)
    return solve(problem, SaveAt(np.arange(0.0, 61.0)), solver)


@pytest.mark.parametrize("solver", [Auto(), CompiledDopri5(max_steps=400), Rodas4(max_steps=150)],
                         ids=["Auto", "CompiledDopri5", "Rodas4"])
def test_the_lockstep_gives_the_one_patient_drivers_numbers_bit_for_bit(core, solver, monkeypatch):
    problem = _batch(core)
    assert solver.entry_point(N) == "solve_batch"
    one_at_a_time = _solve(problem, solver, 10**9, monkeypatch)
    monkeypatch.setattr(compiled, "LOCKSTEP_FROM", 1)
    assert solver.entry_point(N) == "solve_lockstep"
    for threads in (1, 2):
        lockstep = _solve(problem, type(solver)(max_steps=solver.max_steps, threads=threads), 1, monkeypatch)
        np.testing.assert_array_equal(lockstep.ys, one_at_a_time.ys)
        np.testing.assert_array_equal(lockstep.status, one_at_a_time.status)
        np.testing.assert_array_equal(lockstep.n_steps, one_at_a_time.n_steps)
        np.testing.assert_array_equal(lockstep.n_rejected, one_at_a_time.n_rejected)
    # The batch reaches every path: failures of both kinds, and (Auto) patients in Rodas4.
    assert one_at_a_time.status[123] == Status.NONFINITE or np.isnan(one_at_a_time.ys[-1, :, 123]).all()
    assert (one_at_a_time.status == Status.SUCCESS).sum() > N // 2
    if not isinstance(solver, Auto):
        assert (one_at_a_time.status == Status.MAX_STEPS).any()
    else:
        rodas = Auto().steps_in_stiff_mode(problem, SaveAt(np.arange(0.0, 61.0)))
        assert (rodas > 0).sum() >= N // 4 and (rodas == 0).sum() >= N // 4


def test_a_patient_is_the_same_alone_and_in_any_lane(core, monkeypatch):
    """Patient 77 in lane 0 of a batch of its own, and in its lane of the mixed batch; and the
    batch's first patients in reversed order (each in another lane, beside other patients)."""
    problem = _batch(core)
    monkeypatch.setattr(compiled, "LOCKSTEP_FROM", 1)
    ts = SaveAt(np.arange(0.0, 61.0))
    whole = solve(problem, ts, Auto(threads=1))
    alone = solve(Problem(core, problem.parameters[:, 77:78], _rows(problem.schedule, [77])), ts, Auto(threads=1))
    np.testing.assert_array_equal(alone.ys[:, :, 0], whole.ys[:, :, 77])
    order = np.arange(99, -1, -1)
    reversed_ = solve(Problem(core, problem.parameters[:, order], _rows(problem.schedule, order)), ts, Auto(threads=1))
    np.testing.assert_array_equal(reversed_.ys, whole.ys[:, :, order])


def _rows(schedule: InputSchedule, rows) -> InputSchedule:
    return InputSchedule(schedule.times[rows], schedule.values[rows])
