"""exp and log for the compiled kernel: the same doubles in a loop over patients as for one.

The generator writes this module's text into every kernel module (``codegen.generate``), so a
change here gives a new kernel hash, never a stale compiled kernel. Why not ``np.exp``: numba
compiles it to a call of the C library's ``exp``, one patient at a time, also inside the
lockstep's loops over patients; here no SVML is installed, which would vectorise it, and
SVML's doubles would differ from the C library's, so a patient's numbers would depend on
whether it ran in the lockstep. These functions are a few multiplications and additions
with no call and no branch the compiler cannot turn into a select, so the loops vectorise, and
the doubles are the same in either driver.

- ``_exp(x)``: Cody & Waite's reduction, x = n ln 2 + r with |r| <= ln 2 / 2 (ln 2 split in
  two, fdlibm's ``e_exp.c`` constants), the Taylor polynomial of e^r to degree 13 (truncation
  below 2e-17 of the result) and 2^n built from its bits, in two halves so that results down
  to the subnormals and up to overflow come out right. Within one unit in the last place of
  the C library's ``exp`` (subnormal results: within the smallest subnormal); inf, 0 and nan
  where it gives them (``tests/test_engine_elementary.py``).
- ``_log(x)``: x = 2^e m with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh((m - 1)/(m + 1)) by
  its series; within two units in the last place of the C library's ``log``. For positive,
  normal, finite x only (the kernel's only use is the step-size factor, whose argument it
  clamps to [1e-20, 1e20]).
"""

# fmt: off
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic


@intrinsic
def _bits(typingctx, x):
    """The 64 bits of a double, as an integer (a bit cast, no conversion)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def _double(typingctx, b):
    """The double whose 64 bits are the integer ``b``."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2's leading bits: n * _LN2_HI is exact for |n| < 2^20
_LN2_LO = 1.90821492927058770002e-10  # ln 2 - _LN2_HI
#: 1.5 * 2^52: adding it rounds a double of magnitude below 2^51 to a whole number, which its
#: low bits then hold (0x4338000000000000 are the constant's own bits).
_ROUND = 6755399441055744.0
_ROUND_BITS = 0x4338000000000000
_MANTISSA = 0x000FFFFFFFFFFFFF
_ONE_BITS = 0x3FF0000000000000
_SQRT2 = 1.4142135623730951


@njit(cache=True, inline='always', error_model='numpy')
def _exp(x):
    xc = x if x > -746.0 else -746.0  # below: 0 (nan too, put back at the end)
    xc = xc if xc < 710.0 else 710.0  # above: inf
    k = xc * _LOG2E + _ROUND
    n = k - _ROUND
    r = (xc - n * _LN2_HI) - n * _LN2_LO
    # e^r = 1 + r + r^2 (1/2! + r (1/3! + ... + r/13!)), by Horner's rule
    q = 1.0 / 6227020800.0
    q = 1.0 / 479001600.0 + r * q
    q = 1.0 / 39916800.0 + r * q
    q = 1.0 / 3628800.0 + r * q
    q = 1.0 / 362880.0 + r * q
    q = 1.0 / 40320.0 + r * q
    q = 1.0 / 5040.0 + r * q
    q = 1.0 / 720.0 + r * q
    q = 1.0 / 120.0 + r * q
    q = 1.0 / 24.0 + r * q
    q = 1.0 / 6.0 + r * q
    q = 0.5 + r * q
    q = 1.0 + (r + r * r * q)
    ni = _bits(k) - _ROUND_BITS  # n, as an integer
    half = ni >> 1
    v = q * _double((half + 1023) << 52) * _double(((ni - half) + 1023) << 52)
    return v if x == x else x


@njit(cache=True, inline='always', error_model='numpy')
def _log(x):
    b = _bits(x)
    e = (b >> 52) - 1023
    m = _double((b & _MANTISSA) | _ONE_BITS)  # in [1, 2)
    big = m > _SQRT2
    m = m * 0.5 if big else m
    e = e + 1 if big else e
    s = (m - 1.0) / (m + 1.0)  # |s| < 0.172
    s2 = s * s
    # atanh(s) / s = 1 + s^2 / 3 + s^4 / 5 + ... + s^22 / 23, by Horner's rule
    series = 1.0 / 23.0
    series = 1.0 / 21.0 + s2 * series
    series = 1.0 / 19.0 + s2 * series
    series = 1.0 / 17.0 + s2 * series
    series = 1.0 / 15.0 + s2 * series
    series = 1.0 / 13.0 + s2 * series
    series = 1.0 / 11.0 + s2 * series
    series = 1.0 / 9.0 + s2 * series
    series = 1.0 / 7.0 + s2 * series
    series = 1.0 / 5.0 + s2 * series
    series = 1.0 / 3.0 + s2 * series
    series = 1.0 + s2 * series
    fe = float(e)
    return (fe * _LN2_HI + 2.0 * s * series) + fe * _LN2_LO
