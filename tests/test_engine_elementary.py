"""The kernel's own exp and log (``engine/elementary.py``) against the C library's, through NumPy."""

from __future__ import annotations

import numpy as np
from numba import njit

from ivigsim.engine.elementary import _exp, _log


@njit(error_model="numpy")
def _exp_loop(x, out):  # a loop over lanes, as the lockstep's: the compiler vectorises it
    for i in range(x.size):
        out[i] = _exp(x[i])


@njit(error_model="numpy", inline="never")
def _exp_one(x):  # one value at a time, as the one-patient driver calls it
    return _exp(x)


@njit(error_model="numpy")
def _log_loop(x, out):
    for i in range(x.size):
        out[i] = _log(x[i])


def _ulps(got, want):
    return np.abs(got - want) / np.spacing(np.abs(want))


def test_exp_is_within_one_unit_in_the_last_place_of_the_c_library():
    rng = np.random.default_rng(7)
    x = np.concatenate([np.linspace(-745.0, 709.7, 400_001), rng.uniform(-40.0, 40.0, 400_000),
                        rng.uniform(-1e-8, 1e-8, 10_000), [0.0, -0.0, 1.0, -1.0, 0.5 * np.log(2.0)]])
    got = np.empty_like(x)
    _exp_loop(x, got)
    want = np.exp(x)
    normal = want >= np.finfo(float).tiny
    assert _ulps(got[normal], want[normal]).max() <= 1.0
    # Subnormal results: within one unit of the smallest subnormal (a double rounding).
    assert np.abs(got[~normal] - want[~normal]).max() <= 5e-324
    assert _exp_one(0.0) == 1.0


def test_exp_gives_inf_zero_and_nan_where_the_c_library_does():
    x = np.array([np.nan, np.inf, -np.inf, 709.79, 1000.0, -745.2, -1e4, 709.78, -745.1])
    got = np.empty_like(x)
    _exp_loop(x, got)
    with np.errstate(over="ignore"):
        want = np.exp(x)
    assert np.array_equal(got[:7], want[:7], equal_nan=True)
    assert np.isfinite(got[7]) and got[8] == 5e-324


def test_exp_gives_the_same_doubles_in_a_vectorised_loop_as_one_at_a_time():
    """The lockstep and the one-patient driver compute a patient's numbers alike only if this holds."""
    x = np.random.default_rng(11).uniform(-50.0, 50.0, 4_099)
    looped = np.empty_like(x)
    _exp_loop(x, looped)
    one = np.array([_exp_one(v) for v in x])
    assert np.array_equal(looped, one)


def test_log_is_within_two_units_in_the_last_place_over_the_step_factors_range():
    rng = np.random.default_rng(5)
    x = np.concatenate([np.exp(rng.uniform(np.log(1e-20), np.log(1e20), 400_000)),
                        [1e-20, 1e20, 1.0, 2.0, 0.5, np.sqrt(2.0), np.nextafter(np.sqrt(2.0), 2.0)]])
    got = np.empty_like(x)
    _log_loop(x, got)
    want = np.log(x)
    nonzero = want != 0.0
    assert _ulps(got[nonzero], want[nonzero]).max() <= 2.0
    assert (got[~nonzero] == 0.0).all()
