"""The compiled solver kernel, for any model: one patient at a time, patients in parallel.

``ivigsim.engine.codegen`` writes a model's generated scalar functions and constants,
then this module without its stand-in block (between the ``GENERATED`` markers below),
into one file that numba compiles and caches on disk. As it stands the module imports
(nothing is compiled until a function is called) and lints; its stand-ins only declare
what the generator provides, and calling the kernel from here is meaningless.

One patient at a time, each independent of the others (so a patient's result is
the same, bit for bit, in any batch, chunk, thread or process):

- Dormand-Prince 5(4) with FSAL, Hairer's error norm and step control, and its free
  4th-order continuous extension for outputs (Shampine 1986; the coefficients scipy's
  RK45 uses), so output times do not cut steps (``_dopri5_step``, ``_dopri5_dense``);
- Rodas4P2 (Steinebach 2020: Rodas4's structure, L-stable, stiffly accurate, order 4(3),
  without Rodas4's order reduction on stiff problems, ``tableaux.RODAS4P2``) with the
  generated analytic Jacobian (``engine/derivatives.py``; forward differences where an
  entry is not finite) and the method's own continuous extension, for stiff patients
  (``_rodas4_step``, ``_rosenbrock_dense``; the solver value and the method code keep the
  name Rodas4);
- method ``AUTO`` (the solver value ``Auto``) chooses per patient, from that patient's
  own Jacobian: at t0 and at the end of each infusion it estimates the stiffness (the
  largest |dF_i/dy_i|, from the Jacobian Rodas4 uses) and, when
  the explicit method's stability limit (h |lambda| < 3.3) would cost more steps over the
  rest of the span than Rodas4 needs (|lambda| * remaining days > ``stiff_rho_span``),
  continues with Rodas4; otherwise it runs Dormand-Prince, which still switches to Rodas4
  when Hairer's stiffness test (dopri5.f: h |lambda| > 3.25 on 15 accepted steps; here
  ``stiff_h_lambda``, the states weighted as in the error norm; tried on every 8th step
  until it first fires, ``_STIFF_TEST_EVERY``) fires. A patient the test switched goes back
  to Dormand-Prince when an infusion starts. ``EXPLICIT`` is Dormand-Prince only,
  ``STIFF`` Rodas4 only (``engine/kernel_method.py``; the thresholds are ``Auto``'s fields).

The methods' coefficients come from ``engine/tableaux.py``, emitted by the generator as
constants. ``solve_one`` allocates a patient's work arrays; ``_begin`` starts it and ``_steps``, the driver
(step-size control, breakpoints, outputs, the choice of method), calls the steps, which
numba inlines (``inline='always'``). Helpers that allocate nothing, the driver included,
run without numba's reference counting (``_nrt=False``: otherwise every call, and every
inlined array argument, takes atomic increments and decrements).

Steps land exactly on input breakpoints (infusion starts and stops) and on the
last output time; inputs are constant inside every step.

Large batches run in lockstep (``solve_lockstep``, below): the same Dormand-Prince steps for
LANES patients at once, the arrays a column per patient so the stages and the right-hand side
(``rhs_lanes``) are loops the compiler vectorises, and the outputs gathered and computed many
times at once (``observe_times``); a patient that turns stiff, or starts stiff, moves to a
second set of lanes where Rodas4 steps them together (``_stiff_round``, with the Jacobian,
factors and solves generated for lanes). Each patient keeps its own step control and gets the
same doubles as here, bit for bit (``tests/test_engine_lockstep.py``).
"""

# fmt: off
import numpy as np
from numba import njit, prange

# ---- GENERATED: begin. Stand-ins for what ``codegen.generate`` and ``codegen.method_constants``
# provide (the generator drops this block); ``tests/test_engine_kernel.py`` checks the two agree.
N_CONSTANTS = N_RECIPROCALS = N_STATES = N_INPUTS = N_LU = N_WORK = N_OBSERVE_WORK = N_OUTPUTS = 0  # sizes
RECIPROCALS_AT = 1  # where a patient's reciprocals start in its constants (codegen._reciprocals_at)
LANES = 32  # patients in lockstep (codegen.LANES)
AUTONOMOUS = True  # the right-hand side does not read t
JAC_COLUMNS = JAC_GROUP_START = JAC_ROWS = JAC_ROW_START = np.zeros(0, dtype=np.int64)  # Jacobian sparsity
JAC_PATTERN = np.zeros((0, 0), dtype=np.bool_)
OBSERVE_ROWS = OBSERVE_STATES = np.zeros((0, 0), dtype=np.bool_)  # what each output reads
AUTO, EXPLICIT, STIFF = 0, 1, 2  # KernelMethod
_C2 = _C3 = _C4 = _C5 = 0.0  # Dormand-Prince (tableaux.DOPRI5)
_A21 = _A31 = _A32 = _A41 = _A42 = _A43 = _A51 = _A52 = _A53 = _A54 = 0.0
_A61 = _A62 = _A63 = _A64 = _A65 = _A71 = _A73 = _A74 = _A75 = _A76 = 0.0
_E1 = _E3 = _E4 = _E5 = _E6 = _E7 = 0.0
_P = np.zeros((7, 4))
_RG = 0.0  # Rodas4P2 (tableaux.RODAS4P2)
_RALPHA = _RGAMMA = _RM = np.zeros(6)
_RA = _RC = np.zeros(15)
_RH = np.zeros((2, 6))


def rhs(t, y, p, c, u, dy):
    """dy = f(t, y) for one patient."""
    raise NotImplementedError


def observe_one(k, t, y, p, c, u):
    """Quantity k: state k for k < N_STATES, else output k - N_STATES."""
    raise NotImplementedError


def jacobian(t, y, p, c, u, jac, fdt):
    """df/dy at (t, y), analytic, into the structural non-zeros of jac; df/dt into fdt
    (only where the model reads t: ``AUTONOMOUS`` False)."""
    raise NotImplementedError


def rhs_lanes(t, y, p, c, u, dy, w):
    """``rhs`` for LANES patients at once, one per column of each array; ``w`` is work space."""
    raise NotImplementedError


def observe_times(t, y, p, c, u, w, values, m, need):
    """The outputs of one patient at m times (columns of t, y, u) into the rows of values: the
    rows ``need`` marks."""
    raise NotImplementedError


def reciprocals(p, c, out):
    """The reciprocals of the parameter-only denominators, into out."""
    raise NotImplementedError


def build_g(jac, ghinv, g):
    """G = I ghinv - J, in the sparse LU's flat layout."""
    raise NotImplementedError


def lu_factor(g):
    """G's LU factors in place; False on a zero or non-finite pivot."""
    raise NotImplementedError


def lu_solve(g, b, r):
    """Row r of b := G^-1 (row r of b)."""
    raise NotImplementedError


def jacobian_lanes(t, y, p, c, u, jac, fdt):
    """``jacobian`` for every lane (the arrays a column per patient)."""
    raise NotImplementedError


def build_g_lanes(jac, ghinv, g):
    """``build_g`` for every lane."""
    raise NotImplementedError


def lu_factor_lanes(g, ok):
    """``lu_factor`` for every lane; False into ``ok`` for a lane with a bad pivot."""
    raise NotImplementedError


def lu_solve_lanes(g, b, r):
    """``lu_solve`` for every lane (``b`` (6, n, lanes))."""
    raise NotImplementedError


from ivigsim.engine.elementary import _exp, _log  # noqa: E402 (the generator writes their text)
# ---- GENERATED: end


_INF = np.inf
#: A patient's row of constants (``c``): its own (``N_CONSTANTS``), a flag per state (1.0 where
#: the solve integrates it, 0.0 where it is held, ``observation_plan``), the number of states
#: integrated (``_N_LIVE``), then the reciprocals of its parameter-only denominators.
_N_LIVE = RECIPROCALS_AT - 1
_C_SIZE = RECIPROCALS_AT + N_RECIPROCALS
SUCCESS, MAX_STEPS, STEP_TOO_SMALL, NONFINITE = 0, 1, 2, 3
INFUSION_ENDED, INFUSION_STARTED = 1, 2  # what a breakpoint does to the inputs
#: Hairer's stiffness test runs on every this many accepted Dormand-Prince steps, and on every
#: step once it has fired, until it fires 15 times in a row (stiff) or fails 15 times (as
#: dopri5.f's NSTIFF, there 1000 by default): on every step it cost 6-8 % of a mostly explicit
#: patient's time; the Jacobian estimates at t0 and after each infusion are the main test.
_STIFF_TEST_EVERY = 8


@njit(cache=True, _nrt=False, error_model='numpy')
def _jacobian(t, y, p, c, u, f0, jac, ysave, delta, fj):
    """Forward differences, columns grouped by structural sparsity (Curtis, Powell & Reid):
    one rhs evaluation per group of columns. ``f0`` is f(t, y); ``y`` is restored. Only the
    structural non-zeros are written (``JAC_ROWS``: column j's rows are
    ``JAC_ROWS[JAC_ROW_START[j]:JAC_ROW_START[j + 1]]``); ``jac`` holds zeros elsewhere."""
    for gi in range(JAC_GROUP_START.size - 1):
        for q in range(JAC_GROUP_START[gi], JAC_GROUP_START[gi + 1]):
            j = JAC_COLUMNS[q]
            ysave[j] = y[j]
            y[j] = y[j] + np.sqrt(2.220446049250313e-16 * max(1e-5, abs(y[j])))
            delta[j] = y[j] - ysave[j]
        rhs(t, y, p, c, u, fj)
        for q in range(JAC_GROUP_START[gi], JAC_GROUP_START[gi + 1]):
            j = JAC_COLUMNS[q]
            y[j] = ysave[j]
            d = delta[j]
            for r in range(JAC_ROW_START[j], JAC_ROW_START[j + 1]):
                i = JAC_ROWS[r]
                jac[i, j] = (fj[i] - f0[i]) / d


@njit(cache=True, _nrt=False, error_model='numpy')
def _exact_jacobian(t, y, p, c, u, f0, jac, fdt, ysave, delta, fj):
    """The Jacobian from the generated derivatives (``jacobian``: about one right-hand side's
    cost, against one per column group for ``_jacobian``); where an entry is not finite (a
    fractional power or a logarithm at zero), the forward differences instead. Also df/dt
    into ``fdt`` where the model reads t."""
    jacobian(t, y, p, c, u, jac, fdt)
    for j in range(N_STATES):
        for r in range(JAC_ROW_START[j], JAC_ROW_START[j + 1]):
            if not np.isfinite(jac[JAC_ROWS[r], j]):
                _jacobian(t, y, p, c, u, f0, jac, ysave, delta, fj)
                return


@njit(cache=True, _nrt=False, error_model='numpy')
def _max_diagonal(jac):
    """Largest |dF_i/dy_i|: the stiffness estimate (kinetic models' fast modes are decays,
    which sit on the diagonal; non-finite entries count as zero)."""
    rho = 0.0
    for i in range(jac.shape[0]):
        d = abs(jac[i, i])
        if d > rho and np.isfinite(d):
            rho = d
    return rho


@njit(cache=True, _nrt=False, error_model='numpy')
def _patient_constants(p, c_in, live, c):
    """A patient's row of constants (``_C_SIZE``): its own, the live flags and their count (at
    least 1: with nothing to integrate every error is zero), the reciprocals."""
    for i in range(N_CONSTANTS):
        c[i] = c_in[i]
    n_live = 0.0
    for i in range(N_STATES):
        c[N_CONSTANTS + i] = live[i]
        n_live += live[i]
    c[_N_LIVE] = max(1.0, n_live)
    reciprocals(p, c_in, c[RECIPROCALS_AT:])


@njit(cache=True, _nrt=False, error_model='numpy')
def _err_norm(err, y, ynew, rtol, atol, c):
    """The RMS of the weighted error over the states the solve integrates (a held state's error
    is zero; the mean is over the others, ``_N_LIVE``)."""
    s = 0.0
    n = err.size
    for i in range(n):
        sc = atol + rtol * max(abs(y[i]), abs(ynew[i]))
        s += (err[i] / sc) ** 2
    return np.sqrt(s / c[_N_LIVE])


@njit(cache=True, _nrt=False, error_model='numpy')
def _initial_step(t, y, f0, p, c, u, rtol, atol, ytmp, f1):
    """Hairer's first step size, from the states the solve integrates (``_err_norm``)."""
    n = y.size
    n_live = c[_N_LIVE]
    d0 = 0.0
    d1 = 0.0
    for i in range(n):
        if c[N_CONSTANTS + i] != 0.0:
            sc = atol + rtol * abs(y[i])
            d0 += (y[i] / sc) ** 2
            d1 += (f0[i] / sc) ** 2
    d0 = np.sqrt(d0 / n_live)
    d1 = np.sqrt(d1 / n_live)
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    for i in range(n):
        ytmp[i] = y[i] + h0 * f0[i]
    rhs(t + h0, ytmp, p, c, u, f1)
    d2 = 0.0
    for i in range(n):
        sc = atol + rtol * abs(y[i])
        d2 += ((f1[i] - f0[i]) / sc) ** 2
    d2 = np.sqrt(d2 / n_live) / h0
    dmax = max(d1, d2)
    h1 = max(1e-6, h0 * 1e-3) if dmax <= 1e-15 else (0.01 / dmax) ** (1.0 / 5.0)
    return min(100.0 * h0, h1)


@njit(cache=True, _nrt=False, inline='always', error_model='numpy')
def _dopri5_step(t, hs, y, p, c, u, k1, k2, k3, k4, k5, k6, k7, ytmp, ysti, ynew, err, rtol, atol):
    """One Dormand-Prince 5(4) trial step of size ``hs`` from (t, y), with k1 = f(t, y).
    Leaves the 5th-order solution in ``ynew``, f there in ``k7`` (FSAL), stage 6's argument
    in ``ysti`` (for the stiffness test); returns the error norm."""
    n = y.size
    for i in range(n):
        ytmp[i] = y[i] + hs * _A21 * k1[i]
    rhs(t + _C2 * hs, ytmp, p, c, u, k2)
    for i in range(n):
        ytmp[i] = y[i] + hs * (_A31 * k1[i] + _A32 * k2[i])
    rhs(t + _C3 * hs, ytmp, p, c, u, k3)
    for i in range(n):
        ytmp[i] = y[i] + hs * (_A41 * k1[i] + _A42 * k2[i] + _A43 * k3[i])
    rhs(t + _C4 * hs, ytmp, p, c, u, k4)
    for i in range(n):
        ytmp[i] = y[i] + hs * (_A51 * k1[i] + _A52 * k2[i] + _A53 * k3[i] + _A54 * k4[i])
    rhs(t + _C5 * hs, ytmp, p, c, u, k5)
    for i in range(n):
        ysti[i] = y[i] + hs * (_A61 * k1[i] + _A62 * k2[i] + _A63 * k3[i] + _A64 * k4[i] + _A65 * k5[i])
    rhs(t + hs, ysti, p, c, u, k6)
    for i in range(n):
        ynew[i] = y[i] + hs * (_A71 * k1[i] + _A73 * k3[i] + _A74 * k4[i] + _A75 * k5[i] + _A76 * k6[i])
    rhs(t + hs, ynew, p, c, u, k7)
    for i in range(n):
        err[i] = hs * (_E1 * k1[i] + _E3 * k3[i] + _E4 * k4[i] + _E5 * k5[i] + _E6 * k6[i] + _E7 * k7[i])
    return _err_norm(err, y, ynew, rtol, atol, c)


@njit(cache=True, _nrt=False, inline='always', error_model='numpy')
def _dense_weights(x):
    """The weights of k1, k3 ... k7 in Dormand-Prince's continuous extension at t + x hs."""
    b1 = x * (_P[0, 0] + x * (_P[0, 1] + x * (_P[0, 2] + x * _P[0, 3])))
    b3 = x * (_P[2, 0] + x * (_P[2, 1] + x * (_P[2, 2] + x * _P[2, 3])))
    b4 = x * (_P[3, 0] + x * (_P[3, 1] + x * (_P[3, 2] + x * _P[3, 3])))
    b5 = x * (_P[4, 0] + x * (_P[4, 1] + x * (_P[4, 2] + x * _P[4, 3])))
    b6 = x * (_P[5, 0] + x * (_P[5, 1] + x * (_P[5, 2] + x * _P[5, 3])))
    b7 = x * (_P[6, 0] + x * (_P[6, 1] + x * (_P[6, 2] + x * _P[6, 3])))
    return b1, b3, b4, b5, b6, b7


@njit(cache=True, _nrt=False, inline='always', error_model='numpy')
def _dopri5_dense(x, hs, y, k1, k3, k4, k5, k6, k7, yout, observed):
    """Dormand-Prince's continuous extension at t + x hs, into ``yout``: the states ``observed``
    (``observation_plan``)."""
    b1, b3, b4, b5, b6, b7 = _dense_weights(x)
    for i in observed:
        yout[i] = y[i] + hs * (b1 * k1[i] + b3 * k3[i] + b4 * k4[i] + b5 * k5[i] + b6 * k6[i] + b7 * k7[i])


@njit(cache=True, _nrt=False, inline='always', error_model='numpy')
def _looks_stiff(hs, k6, k7, ysti, y, ynew, stiff_h_lambda, rtol, atol):
    """Hairer's stiffness test on an accepted Dormand-Prince step: h |lambda|, estimated from
    the last two stages, above ``stiff_h_lambda``. Each state is weighted as in the error
    norm: dopri5.f's unweighted sums follow the largest states (grams of IgG), whose modes
    are slow, and miss the small fast one (immune complexes) that actually limits the step."""
    stnum = 0.0
    stden = 0.0
    for i in range(k6.size):
        w = 1.0 / (atol + rtol * max(abs(y[i]), abs(ynew[i])))
        stnum += ((k7[i] - k6[i]) * w) ** 2
        stden += ((ynew[i] - ysti[i]) * w) ** 2
    return stden > 0.0 and hs * np.sqrt(stnum / stden) > stiff_h_lambda


@njit(cache=True, _nrt=False, inline='always', error_model='numpy')
def _all_finite(x):
    for i in range(x.size):
        if not np.isfinite(x[i]):
            return False
    return True


@njit(cache=True, _nrt=False, inline='always', error_model='numpy')
def _rodas4_jacobian(t, y, p, c, u, k1, jac, fdt, ysave, delta, fj):
    """The Jacobian Rodas4 steps with and, for a model that reads t, df/dt into ``fdt``
    (``_exact_jacobian``; df/dt by forward differences where it is not finite)."""
    _exact_jacobian(t, y, p, c, u, k1, jac, fdt, ysave, delta, fj)
    if not AUTONOMOUS and not _all_finite(fdt):
        dt = np.sqrt(2.220446049250313e-16) * max(1e-5, abs(t))
        rhs(t + dt, y, p, c, u, fj)
        for i in range(y.size):
            fdt[i] = (fj[i] - k1[i]) / dt


@njit(cache=True, _nrt=False, inline='always', error_model='numpy')
def _rodas4_step(t, hs, y, p, c, u, k1, jac, fdt, g, rch, rk, ytmp, ynew, err, fj, rtol, atol):
    """One Rodas4 trial step of size ``hs`` from (t, y), with k1 = f(t, y) and the Jacobian
    ``jac`` at (t, y). Leaves the solution in ``ynew``; returns (factorised, error norm):
    a zero or non-finite pivot gives (False, inf), and the driver retries smaller."""
    n = y.size
    build_g(jac, 1.0 / (hs * _RG), g)
    for q in range(15):
        rch[q] = _RC[q] / hs
    if not lu_factor(g):
        return False, _INF
    # Each stage's sums written out, term by term in j's order (the same doubles as a loop over
    # j that adds to an accumulator): a loop over i with a fixed number of terms, which the
    # compiler vectorises, where an inner loop over j of varying length did not (the sums took
    # half of a step's time without its Jacobian; measured, Kawasaki disease).
    for s in range(6):
        if s == 0:
            for i in range(n):
                fj[i] = k1[i]
        else:
            if s == 1:
                for i in range(n):
                    ytmp[i] = y[i] + _RA[0] * rk[0, i]
            elif s == 2:
                for i in range(n):
                    ytmp[i] = y[i] + _RA[1] * rk[0, i] + _RA[2] * rk[1, i]
            elif s == 3:
                for i in range(n):
                    ytmp[i] = y[i] + _RA[3] * rk[0, i] + _RA[4] * rk[1, i] + _RA[5] * rk[2, i]
            elif s == 4:
                for i in range(n):
                    ytmp[i] = y[i] + _RA[6] * rk[0, i] + _RA[7] * rk[1, i] + _RA[8] * rk[2, i] + _RA[9] * rk[3, i]
            else:
                for i in range(n):
                    ytmp[i] = (y[i] + _RA[10] * rk[0, i] + _RA[11] * rk[1, i] + _RA[12] * rk[2, i]
                               + _RA[13] * rk[3, i] + _RA[14] * rk[4, i])
            rhs(t + _RALPHA[s] * hs, ytmp, p, c, u, fj)
        gamma_h = hs * _RGAMMA[s]
        if s == 0:
            for i in range(n):
                rk[0, i] = fj[i]
        elif s == 1:
            for i in range(n):
                rk[1, i] = fj[i] + rch[0] * rk[0, i]
        elif s == 2:
            for i in range(n):
                rk[2, i] = fj[i] + rch[1] * rk[0, i] + rch[2] * rk[1, i]
        elif s == 3:
            for i in range(n):
                rk[3, i] = fj[i] + rch[3] * rk[0, i] + rch[4] * rk[1, i] + rch[5] * rk[2, i]
        elif s == 4:
            for i in range(n):
                rk[4, i] = fj[i] + rch[6] * rk[0, i] + rch[7] * rk[1, i] + rch[8] * rk[2, i] + rch[9] * rk[3, i]
        else:
            for i in range(n):
                rk[5, i] = (fj[i] + rch[10] * rk[0, i] + rch[11] * rk[1, i] + rch[12] * rk[2, i]
                            + rch[13] * rk[3, i] + rch[14] * rk[4, i])
        if not AUTONOMOUS:
            for i in range(n):
                rk[s, i] = rk[s, i] + gamma_h * fdt[i]
        lu_solve(g, rk, s)
    for i in range(n):
        ynew[i] = (y[i] + _RM[0] * rk[0, i] + _RM[1] * rk[1, i] + _RM[2] * rk[2, i] + _RM[3] * rk[3, i]
                   + _RM[4] * rk[4, i] + _RM[5] * rk[5, i])
        err[i] = rk[5, i]
    return True, _err_norm(err, y, ynew, rtol, atol, c)


@njit(cache=True, _nrt=False, inline='always', error_model='numpy')
def _rosenbrock_dense(x, y, ynew, rk, yout, observed):
    """The Rosenbrock method's own continuous extension at t + x hs, into ``yout``: from the
    step's stages ``rk`` (``tableaux.RosenbrockTableau.dense``, rodas.f's ``CONTRO``); the
    states ``observed``."""
    x1 = 1.0 - x
    for i in observed:
        d1 = 0.0
        d2 = 0.0
        for j in range(6):
            d1 += _RH[0, j] * rk[j, i]
            d2 += _RH[1, j] * rk[j, i]
        yout[i] = x1 * y[i] + x * (ynew[i] + x1 * (d1 + x * d2))


@njit(cache=True, _nrt=False, inline='always', error_model='numpy')
def _observe(out, col, kinds, t, y, p, c, u):
    """Every requested quantity at (t, y) into column ``col`` of ``out``."""
    for k in range(kinds.size):
        out[k, col] = observe_one(kinds[k], t, y, p, c, u)


@njit(cache=True, _nrt=False, inline='always', error_model='numpy')
def _switch_inputs(seg, u, bvalues, n_in):
    """Inputs from breakpoint ``seg - 1`` on; returns ``INFUSION_ENDED`` (some input was on
    and none is now), ``INFUSION_STARTED`` (none was on and some is now) or 0."""
    was_on = False
    now_on = False
    for j in range(n_in):
        was_on = was_on or u[j] != 0.0
        u[j] = bvalues[seg - 1, j]
        now_on = now_on or u[j] != 0.0
    if was_on and not now_on:
        return INFUSION_ENDED
    return INFUSION_STARTED if now_on and not was_on else 0


#: A patient's progress between steps, beside its t, h, state, inputs and k1 = f(t, y): what
#: the lockstep driver hands the one-patient driver to continue a patient (``_steps``).
SEG, I_OUT, N_ACC, N_REJ, N_STIFF, IASTI, NONSTI, IS_STIFF, STIFF_BY_TEST, LAST_REJECTED = range(10)
#: ... and, in the lockstep only, the output times a lane has gathered and the first one's column.
OBS_N, OBS_COL = 10, 11
N_PROGRESS = 12


@njit(cache=True, error_model='numpy')
def solve_one(t0, ts, y0, p, c_in, btimes, bvalues, kinds, observed, live, out, method, rtol, atol,
              max_steps, stiff_rho_span, stiff_h_lambda, stats):
    """Solve one patient. ``out`` (K, T) receives quantity ``kinds[k]`` at ``ts`` (``observed``:
    the states those read, ``live``: the states the solve integrates, ``observation_plan``);
    ``stats`` receives [status, accepted steps, rejected steps, steps taken by Rodas4].
    Allocates the patient's work arrays; ``_begin`` and ``_steps`` do the rest."""
    c = np.empty(_C_SIZE)
    _patient_constants(p, c_in, live, c)
    n = y0.size
    y = y0.copy()
    u = np.zeros(N_INPUTS)
    vec = np.zeros((14, n))
    jac = np.zeros((n, n))
    progress = np.zeros(N_PROGRESS, dtype=np.int64)
    t, h = _begin(t0, ts, y, p, c, u, btimes, bvalues, kinds, out, method, rtol, atol, stiff_rho_span, vec, jac,
                  progress)
    _steps(t, h, ts, y, p, c, u, btimes, bvalues, kinds, observed, out, method, rtol, atol, max_steps,
           stiff_rho_span, stiff_h_lambda, stats, vec, np.zeros((6, n)), jac, np.zeros(N_LU), np.zeros(15), progress)


@njit(cache=True, _nrt=False, error_model='numpy')
def _begin(t0, ts, y, p, c, u, btimes, bvalues, kinds, out, method, rtol, atol, stiff_rho_span, vec, jac,
           progress):
    """A patient's start: the inputs in force at ``t0`` into ``u`` (zeros on entry), the
    outputs at ``t0``, k1 = f(t0, y) into ``vec[0]``, the first step size and, for ``AUTO``,
    whether the patient starts stiff (its Jacobian at t0). Returns (t0, h); ``progress``
    (zeros on entry) receives the rest of where the patient stands."""
    k1 = vec[0]; k2 = vec[1]; ysti = vec[9]; err = vec[10]; fdt = vec[11]; fj = vec[12]; ytmp = vec[8]
    n_t = ts.size
    n_b = btimes.size
    # Inputs the schedule does not carry are zero (a schedule for fewer inputs than the
    # model declares never reads past its own columns).
    n_in = min(bvalues.shape[1], N_INPUTS)
    seg = 0
    while seg < n_b and btimes[seg] <= t0:
        seg += 1
    if seg > 0:
        for j in range(n_in):
            u[j] = bvalues[seg - 1, j]
    t = t0
    i_out = 0
    while i_out < n_t and ts[i_out] <= t0:
        if ts[i_out] == t0:
            _observe(out, i_out, kinds, t, y, p, c, u)
        i_out += 1
    t_end = ts[n_t - 1]
    rhs(t, y, p, c, u, k1)
    h = _initial_step(t, y, k1, p, c, u, rtol, atol, ytmp, k2)
    stiff = method == STIFF
    if method == AUTO:
        _exact_jacobian(t, y, p, c, u, k1, jac, fdt, ysti, err, fj)
        stiff = _max_diagonal(jac) * (t_end - t) > stiff_rho_span
    progress[SEG] = seg
    progress[I_OUT] = i_out
    progress[IS_STIFF] = stiff
    return t, h


@njit(cache=True, _nrt=False, error_model='numpy')
def _steps(t, h, ts, y, p, c, u, btimes, bvalues, kinds, observed, out, method, rtol, atol, max_steps,
           stiff_rho_span, stiff_h_lambda, stats, vec, rk, jac, g, rch, progress):
    """The driver, from where a patient stands (``_begin``, or the lockstep driver handing a
    patient over): step-size control, landing on breakpoints, outputs and the choice of
    method; the steps are ``_dopri5_step`` and ``_rodas4_step``. ``y`` holds the state at
    ``t``, ``u`` the inputs, ``vec[0]`` f(t, y), ``progress`` the rest; ``vec`` (14, n),
    ``rk`` (6, n), ``jac`` (n, n, zeros outside the structural non-zeros, which are the only
    entries ever written), ``g`` and ``rch`` are work space.
    No reference counting (``_nrt=False``): it allocates nothing, and the inlined steps'
    array arguments then cost nothing either."""
    k1 = vec[0]; k2 = vec[1]; k3 = vec[2]; k4 = vec[3]; k5 = vec[4]; k6 = vec[5]; k7 = vec[6]
    ynew = vec[7]; ytmp = vec[8]; ysti = vec[9]; err = vec[10]; fdt = vec[11]; fj = vec[12]; fnew = vec[13]
    n = y.size
    n_t = ts.size
    n_b = btimes.size
    n_in = min(bvalues.shape[1], N_INPUTS)
    t_end = ts[n_t - 1]
    seg = progress[SEG]
    i_out = progress[I_OUT]
    n_acc = progress[N_ACC]
    n_rej = progress[N_REJ]
    n_stiff = progress[N_STIFF]
    iasti = progress[IASTI]
    nonsti = progress[NONSTI]
    stiff = progress[IS_STIFF] != 0
    stiff_by_test = progress[STIFF_BY_TEST] != 0
    last_rejected = progress[LAST_REJECTED] != 0
    status = SUCCESS
    jac_fresh = False

    while i_out < n_t:
        if n_acc + n_rej >= max_steps:
            status = MAX_STEPS
            break
        next_break = btimes[seg] if seg < n_b else _INF
        stop = min(next_break, t_end)
        clipped = h >= stop - t
        hs = stop - t if clipped else h
        use_rodas = stiff
        if use_rodas:
            if not jac_fresh:
                _rodas4_jacobian(t, y, p, c, u, k1, jac, fdt, ysti, err, fj)
                jac_fresh = True
            finite, norm = _rodas4_step(t, hs, y, p, c, u, k1, jac, fdt, g, rch, rk, ytmp, ynew, err, fj, rtol, atol)
            order = 4.0
        else:
            norm = _dopri5_step(t, hs, y, p, c, u, k1, k2, k3, k4, k5, k6, k7, ytmp, ysti, ynew, err, rtol, atol)
            finite = True
            order = 5.0
        for i in range(n):
            if not np.isfinite(ynew[i]):
                finite = False
        if not np.isfinite(norm):
            finite = False
        accept = finite and norm <= 1.0
        fac = _step_factor(finite, norm, order)
        if accept:
            t_new = stop if clipped else t + hs
            if use_rodas:
                rhs(t_new, ynew, p, c, u, fnew)
                n_stiff += 1
            # Outputs strictly inside the step, from the continuous extension.
            while i_out < n_t and ts[i_out] < t_new:
                x = (ts[i_out] - t) / hs
                if use_rodas:
                    _rosenbrock_dense(x, y, ynew, rk, ytmp, observed)
                else:
                    _dopri5_dense(x, hs, y, k1, k3, k4, k5, k6, k7, ytmp, observed)
                _observe(out, i_out, kinds, ts[i_out], ytmp, p, c, u)
                i_out += 1
            if method == AUTO and not stiff and (iasti > 0 or n_acc % _STIFF_TEST_EVERY == 0):
                if _looks_stiff(hs, k6, k7, ysti, y, ynew, stiff_h_lambda, rtol, atol):
                    nonsti = 0
                    iasti += 1
                    if iasti == 15:
                        stiff = True
                        stiff_by_test = True
                else:
                    nonsti += 1
                    if nonsti == 15:
                        iasti = 0
            t = t_new
            for i in range(n):
                y[i] = ynew[i]
            n_acc += 1
            jac_fresh = False
            switched = False
            change = 0
            if clipped and t == next_break:
                seg += 1
                change = _switch_inputs(seg, u, bvalues, n_in)
                switched = True
            while i_out < n_t and ts[i_out] <= t:
                _observe(out, i_out, kinds, t, y, p, c, u)
                i_out += 1
            if switched:
                rhs(t, y, p, c, u, k1)
                if stiff_by_test and change == INFUSION_STARTED:
                    # A quiet stretch made the patient stiff; a new infusion brings back the
                    # fast transients Dormand-Prince takes in fewer, cheaper steps (after it,
                    # the test decides again).
                    stiff = False
                    stiff_by_test = False
                    iasti = 0
                    nonsti = 0
                if method == AUTO and not stiff and change == INFUSION_ENDED and i_out < n_t:
                    # The end of an infusion: the infused drug is at its peak, and with it
                    # any concentration-driven fast dynamics. Stiff from here on?
                    _exact_jacobian(t, y, p, c, u, k1, jac, fdt, ysti, err, fj)
                    stiff = _max_diagonal(jac) * (t_end - t) > stiff_rho_span
            elif use_rodas:
                for i in range(n):
                    k1[i] = fnew[i]
            else:  # FSAL (also right after a switch to Rodas4: k7 is f(t, y))
                for i in range(n):
                    k1[i] = k7[i]
            h = _next_step(h, hs, fac, clipped, last_rejected)
            last_rejected = False
        else:
            n_rej += 1
            h = hs * fac
            last_rejected = True
            if hs <= 1e-12 * max(1.0, abs(t)):
                status = NONFINITE if not finite else STEP_TOO_SMALL
                break
    _finish(out, i_out, stats, status, n_acc, n_rej, n_stiff)


@njit(cache=True, _nrt=False, inline='always', error_model='numpy')
def _step_factor(finite, norm, order):
    """The next step's size over this one's, from the error norm of a method of ``order``:
    0.9 norm^(-1/order) within [0.2, 5], as exp and log of ``elementary.py`` (the C library's
    ``pow`` took 7.5 % of the kernel's profile samples in Kawasaki disease's lockstep; these
    vectorise there). The
    norm is clamped to [1e-20, 1e20] first, which changes no factor: outside [2e-4, 2e3] the
    factor is at a bound either way."""
    if finite:
        clamped = min(1e20, max(1e-20, norm))
        fac = 0.9 * _exp(_log(clamped) * (-1.0 / order)) if norm > 0.0 else 5.0
        return min(5.0, max(0.2, fac))
    return 0.2


@njit(cache=True, _nrt=False, inline='always', error_model='numpy')
def _next_step(h, hs, fac, clipped, last_rejected):
    """The step size after an accepted step of ``hs`` (``h`` the one asked for): no growth
    right after a rejection, and a step clipped to a breakpoint does not shrink ``h``."""
    h_next = hs * fac
    if last_rejected:
        h_next = min(h_next, hs)
    return max(h_next, h) if clipped else h_next


@njit(cache=True, _nrt=False, inline='always', error_model='numpy')
def _finish(out, i_out, stats, status, n_acc, n_rej, n_stiff):
    """A patient's end: outputs it did not reach NaN (``out`` arrives unfilled: filling it
    beforehand, in one thread, would touch every page of a large output twice), and its stats."""
    for j in range(i_out, out.shape[1]):
        for k in range(out.shape[0]):
            out[k, j] = np.nan
    stats[0] = status
    stats[1] = n_acc
    stats[2] = n_rej
    stats[3] = n_stiff


# ---- Lockstep: Dormand-Prince for LANES patients at once ------------------------------------
#
# The patients' arrays a row per quantity and a column per patient (lane), so each stage's
# sums and the right-hand side (``rhs_lanes``) are loops over the lanes the compiler
# vectorises. Every lane keeps its own time, step size, schedule, outputs and step control;
# the lanes only share the loop. A lane computes exactly the doubles ``_steps`` computes for
# its patient (the same expressions in the same order; IEEE arithmetic is the same vectorised
# or not), so a patient's numbers do not depend on its lane, its lane-mates, or whether it ran
# here at all. A patient that turns stiff moves to the stiff pool (Rodas4 in lockstep, below);
# the last few lanes, when no patient is left to start, are handed to ``_steps`` where they
# stand; a finished lane takes the next patient.

#: Lanes the lockstep driver keeps busy with no patient left to start, below which it hands
#: the rest to the one-patient driver (a nearly empty lockstep pays for every lane).
_TAIL = max(1, LANES // 4)
#: Output times a lane gathers (its state and inputs there) before computing the outputs at
#: all of them at once (``observe_times``, vectorised over the times): one time at a time, the
#: outputs took about a third of a lockstep patient's time (measured, Kawasaki disease).
_OBSERVE_BATCH = 32
#: Where ``_start_lane`` puts a patient: a lane of the lockstep, or the stiff pool.
_LANE, _STIFF_POOL = 1, 2
#: The lockstep's per-lane arrays (``lanes``): the state, the seven stages, work rows.
_Y, _K1, _K2, _K3, _K4, _K5, _K6, _K7, _YNEW, _YTMP, _YSTI, _ERR = range(12)


#: Dormand-Prince's nodes c_2 ... c_7 (c_6 = c_7 = 1: ``t + 1.0 * hs`` is ``t + hs`` exactly).
_DP_C = np.array([_C2, _C3, _C4, _C5, 1.0, 1.0])


@njit(cache=True, _nrt=False, inline='always', error_model='numpy')
def _lane_norms(y, ynew, err, norm, rtol, atol, c):
    """``_err_norm`` for every lane into ``norm``, each lane's sum in the same order."""
    n = y.shape[0]
    nl = y.shape[1]
    for l in range(nl):
        norm[l] = 0.0
    for i in range(n):
        for l in range(nl):
            sc = atol + rtol * max(abs(y[i, l]), abs(ynew[i, l]))
            norm[l] += (err[i, l] / sc) ** 2
    for l in range(nl):
        norm[l] = np.sqrt(norm[l] / c[_N_LIVE, l])


@njit(cache=True, _nrt=False, error_model='numpy')
def _dopri5_lanes(lanes, t, hs, ts, p, c, u, w, norm, rtol, atol):
    """``_dopri5_step`` for every lane: from (t, y) with k1 = f(t, y), the 5th-order solution
    into ``lanes[_YNEW]``, f there into ``lanes[_K7]``, stage 6's argument into ``lanes[_YSTI]``,
    each lane's error norm into ``norm``. Each stage is written as ``_dopri5_step`` writes it,
    so each lane's doubles are the scalar step's; ``ts`` is work space. One call of
    ``rhs_lanes``, in the loop over the stages, keeps the compiled code (and its compile time)
    small."""
    y = lanes[_Y]; k1 = lanes[_K1]; k2 = lanes[_K2]; k3 = lanes[_K3]; k4 = lanes[_K4]; k5 = lanes[_K5]
    k6 = lanes[_K6]; k7 = lanes[_K7]; ynew = lanes[_YNEW]; err = lanes[_ERR]
    n = y.shape[0]
    nl = y.shape[1]  # LANES, read at run time: a constant trip count the compiler unrolls instead of vectorising
    for s in range(6):
        dst = lanes[_YNEW] if s == 5 else (lanes[_YSTI] if s == 4 else lanes[_YTMP])
        for i in range(n):
            if s == 0:
                for l in range(nl):
                    dst[i, l] = y[i, l] + hs[l] * _A21 * k1[i, l]
            elif s == 1:
                for l in range(nl):
                    dst[i, l] = y[i, l] + hs[l] * (_A31 * k1[i, l] + _A32 * k2[i, l])
            elif s == 2:
                for l in range(nl):
                    dst[i, l] = y[i, l] + hs[l] * (_A41 * k1[i, l] + _A42 * k2[i, l] + _A43 * k3[i, l])
            elif s == 3:
                for l in range(nl):
                    dst[i, l] = y[i, l] + hs[l] * (_A51 * k1[i, l] + _A52 * k2[i, l] + _A53 * k3[i, l]
                                                   + _A54 * k4[i, l])
            elif s == 4:
                for l in range(nl):
                    dst[i, l] = y[i, l] + hs[l] * (_A61 * k1[i, l] + _A62 * k2[i, l] + _A63 * k3[i, l]
                                                   + _A64 * k4[i, l] + _A65 * k5[i, l])
            else:
                for l in range(nl):
                    dst[i, l] = y[i, l] + hs[l] * (_A71 * k1[i, l] + _A73 * k3[i, l] + _A74 * k4[i, l]
                                                   + _A75 * k5[i, l] + _A76 * k6[i, l])
        for l in range(nl):
            ts[l] = t[l] + _DP_C[s] * hs[l]
        rhs_lanes(ts, dst, p, c, u, lanes[_K2 + s], w)
    for i in range(n):
        for l in range(nl):
            err[i, l] = hs[l] * (_E1 * k1[i, l] + _E3 * k3[i, l] + _E4 * k4[i, l] + _E5 * k5[i, l]
                                 + _E6 * k6[i, l] + _E7 * k7[i, l])
    _lane_norms(y, ynew, err, norm, rtol, atol, c)


@njit(cache=True, _nrt=False, inline='always', error_model='numpy')
def _column(a, l, into):
    for i in range(into.size):
        into[i] = a[i, l]


@njit(cache=True, _nrt=False, inline='always', error_model='numpy')
def _to_column(a, l, src):
    for i in range(src.size):
        a[i, l] = src[i]


@njit(cache=True, _nrt=False, error_model='numpy')
def _lane_flush(l, out, kinds, need, pl, cl, obs_t, obs_y, obs_u, obs_w, obs_values, progress):
    """Lane ``l``'s gathered output times: the outputs ``need`` marks there, all times at once
    (``observe_times``), the requested ones into its patient's ``out``."""
    m = progress[l, OBS_N]
    if m == 0:
        return
    col = progress[l, OBS_COL]
    oy = obs_y[l]
    observe_times(obs_t[l], oy, pl[l], cl[l], obs_u[l], obs_w, obs_values, m, need)
    for k in range(kinds.size):
        kind = kinds[k]
        if kind < N_STATES:
            for j in range(m):
                out[k, col + j] = oy[kind, j]
        elif kind - N_STATES < N_OUTPUTS:
            for j in range(m):
                out[k, col + j] = obs_values[kind - N_STATES, j]
        else:
            for j in range(m):
                out[k, col + j] = np.nan
    progress[l, OBS_COL] = col + m
    progress[l, OBS_N] = 0


@njit(cache=True, _nrt=False, inline='always', error_model='numpy')
def _lane_gather(l, t, y, ul, obs_t, obs_y, obs_u, progress):
    """Lane ``l``'s next gathered output time ``t``, with its state (column ``l`` of ``y``) and
    inputs there; returns the column it took."""
    j = progress[l, OBS_N]
    obs_t[l, j] = t
    for q in range(ul.shape[1]):
        obs_u[l, q, j] = ul[l, q]
    oy = obs_y[l]
    for q in range(y.shape[0]):
        oy[q, j] = y[q, l]
    progress[l, OBS_N] = j + 1
    return j


@njit(cache=True, _nrt=False, inline='always', error_model='numpy')
def _lane_dense(l, m, i_out, ts, tl, hl, observed, y, k1, k3, k4, k5, k6, k7, ul, obs_t, obs_y, obs_u, obs_b,
                progress):
    """Lane ``l``'s next ``m`` output times, ``ts[i_out:i_out + m]``, all inside its accepted step
    from ``tl`` (size ``hl``): the continuous extension of the ``observed`` states gathered there
    (with the time and inputs). A loop over the times for each state: the stages' values are
    then loaded once per state, not once per time (hourly outputs, about nine a step), and the
    loop vectorises; each value is ``_dopri5_dense``'s expression, the same doubles."""
    j0 = progress[l, OBS_N]
    ot = obs_t[l]
    oy = obs_y[l]
    ou = obs_u[l]
    for j in range(m):
        x = (ts[i_out + j] - tl) / hl
        b1, b3, b4, b5, b6, b7 = _dense_weights(x)
        obs_b[0, j] = b1; obs_b[1, j] = b3; obs_b[2, j] = b4; obs_b[3, j] = b5; obs_b[4, j] = b6; obs_b[5, j] = b7
        ot[j0 + j] = ts[i_out + j]
    for q in range(ul.shape[1]):
        uq = ul[l, q]
        for j in range(m):
            ou[q, j0 + j] = uq
    w1 = obs_b[0]; w3 = obs_b[1]; w4 = obs_b[2]; w5 = obs_b[3]; w6 = obs_b[4]; w7 = obs_b[5]
    for q in observed:
        yq = y[q, l]; a1 = k1[q, l]; a3 = k3[q, l]; a4 = k4[q, l]; a5 = k5[q, l]; a6 = k6[q, l]; a7 = k7[q, l]
        row = oy[q]
        for j in range(m):
            row[j0 + j] = yq + hl * (w1[j] * a1 + w3[j] * a3 + w4[j] * a4 + w5[j] * a5 + w6[j] * a6 + w7[j] * a7)
    progress[l, OBS_N] = j0 + m


@njit(cache=True, _nrt=False, error_model='numpy')
def _start_lane(l, i, t0, ts, y0, p, c_in, btimes, bvalues, kinds, observed, live, out, method, rtol, atol,
                max_steps, stiff_rho_span, stiff_h_lambda, stats, lanes, pl, cl, ul, pw, cw, uw, t, h, progress, y1,
                vec, rk, jac, g, rch):
    """Patient ``i`` into lane ``l``: its parameters and constants (a row each in ``pl``, ``cl``
    for the one-patient functions, a column in ``pw``, ``cw`` for the lanes), and ``_begin``.
    Returns ``_LANE`` if the patient took the lane, ``_STIFF_POOL`` if it starts stiff (where
    it stands, in lane ``l``'s rows and ``y1``, ``vec[0]``: for ``_enter_stiff``), 0 if it
    had nothing left to solve."""
    for q in range(pl.shape[1]):
        pl[l, q] = p[i, q]
        pw[q, l] = p[i, q]
    _patient_constants(p[i], c_in[i], live, cl[l])
    for q in range(cl.shape[1]):
        cw[q, l] = cl[l, q]
    for q in range(y1.size):
        y1[q] = y0[i, q]
    for q in range(ul.shape[1]):
        ul[l, q] = 0.0
    for q in range(N_PROGRESS):
        progress[l, q] = 0
    vec[:, :] = 0.0
    t[l], h[l] = _begin(t0, ts, y1, pl[l], cl[l], ul[l], btimes[i], bvalues[i], kinds, out[i], method, rtol, atol,
                        stiff_rho_span, vec, jac, progress[l])
    if progress[l, I_OUT] >= ts.size:  # nothing left to solve
        _steps(t[l], h[l], ts, y1, pl[l], cl[l], ul[l], btimes[i], bvalues[i], kinds, observed, out[i], method,
               rtol, atol, max_steps, stiff_rho_span, stiff_h_lambda, stats[i], vec, rk, jac, g, rch, progress[l])
        return 0
    if progress[l, IS_STIFF]:
        return _STIFF_POOL
    _to_column(lanes[_Y], l, y1)
    _to_column(lanes[_K1], l, vec[0])
    for q in range(ul.shape[1]):
        uw[q, l] = ul[l, q]
    progress[l, OBS_COL] = progress[l, I_OUT]
    return _LANE


@njit(cache=True, _nrt=False, error_model='numpy')
def _hand_over(l, i, ts, btimes, bvalues, kinds, observed, out, method, rtol, atol, max_steps, stiff_rho_span,
               stiff_h_lambda, stats, lanes, pl, cl, ul, t, h, progress, y1, vec, rk, jac, g, rch):
    """Lane ``l``'s patient ``i`` continues, where it stands, in ``_steps`` to its end."""
    _column(lanes[_Y], l, y1)
    _column(lanes[_K1], l, vec[0])
    _steps(t[l], h[l], ts, y1, pl[l], cl[l], ul[l], btimes[i], bvalues[i], kinds, observed, out[i], method, rtol,
           atol, max_steps, stiff_rho_span, stiff_h_lambda, stats[i], vec, rk, jac, g, rch, progress[l])


def _aligned(shape):
    """Zeros on a 64-byte boundary: a lane row (LANES doubles, a multiple of 8) is then whole
    cache lines, which vector loads and stores do not straddle."""
    size = int(np.prod(np.array(shape)))
    raw = np.zeros(size + 8)
    start = (-raw.ctypes.data % 64) // 8
    return raw[start:start + size].reshape(shape)


def observation_plan(kinds):
    """What the quantities ``kinds`` read: the states to interpolate at an output time
    (``observed``, indices), the states the solve integrates (``live``, 1.0 or 0.0 per state)
    and the rows of ``observe_times`` to compute (``need``). Between output times the
    continuous extension of every other state, and every other output, is work no one reads:
    with hourly outputs, without it (and ``_lane_dense``) a lockstep patient took 1.5x as long
    (measured, ``kawasaki-child``: 13 states, 6 of 19 outputs requested).

    A state is live when a requested quantity reads it or a live state's derivative does
    (``JAC_PATTERN``, closed over). The others feed nothing requested: the solve holds them at
    their initial values (their derivatives and Jacobian rows are zero, ``codegen._live``) and
    leaves them out of the error norm, so they neither cost accuracy nor limit the steps. An
    accumulator (IVIG catabolised) or a fast sink (immune complexes, cleared at 5/day, which
    held Dormand-Prince's steps at its stability limit) then costs nothing when no one asks
    for it; a request for every state (``solve``, a state to continue from) integrates them all,
    as before, bit for bit."""
    n_quantities = N_STATES + N_OUTPUTS
    known = kinds[(kinds >= 0) & (kinds < n_quantities)]
    reads = OBSERVE_STATES[known].any(axis=0)
    observed = np.flatnonzero(reads).astype(np.int64)
    live = reads.copy()
    while True:
        wider = live | JAC_PATTERN[live].any(axis=0)
        if (wider == live).all():
            break
        live = wider
    outputs = known[known >= N_STATES] - N_STATES
    need = np.zeros(N_OBSERVE_WORK + N_OUTPUTS, dtype=np.bool_)
    need[:N_OBSERVE_WORK] = OBSERVE_ROWS[outputs].any(axis=0)
    need[N_OBSERVE_WORK + outputs] = True
    return observed, live.astype(np.float64), need


def lockstep_work(n_states, n_parameters):
    """Work space for one run of ``solve_lockstep`` (what follows its ``stats`` argument),
    allocated in Python: a compiled wrapper that allocated it would re-optimise the whole
    lockstep once more when compiled (measured: 8 s per model)."""
    n, n_c = n_states, _C_SIZE
    return (_aligned((12, n, LANES)), np.zeros((LANES, n_parameters)), np.zeros((LANES, n_c)),
            np.zeros((LANES, N_INPUTS)), _aligned((n_parameters, LANES)), _aligned((n_c, LANES)),
            _aligned((N_INPUTS, LANES)), _aligned((N_WORK, LANES)), _aligned((8, LANES)),
            np.zeros((4, LANES), dtype=np.bool_), np.zeros(LANES, dtype=np.int64), np.full(LANES, -1, dtype=np.int64),
            np.zeros((LANES, N_PROGRESS), dtype=np.int64), np.zeros(n), np.zeros(n), np.zeros((14, n)),
            np.zeros((6, n)), np.zeros((n, n)), np.zeros(N_LU), np.zeros(15), np.zeros((LANES, _OBSERVE_BATCH)),
            np.zeros((LANES, n, _OBSERVE_BATCH)), np.zeros((LANES, N_INPUTS, _OBSERVE_BATCH)),
            np.zeros((N_OBSERVE_WORK, _OBSERVE_BATCH)), np.zeros((N_OUTPUTS, _OBSERVE_BATCH)),
            np.zeros((6, _OBSERVE_BATCH)), stiff_pool(n_states, n_parameters))


# ---- Lockstep: Rodas4 for the stiff patients ------------------------------------------------
#
# A patient that turns stiff in the lockstep, or starts stiff, moves to a second set of lanes,
# the stiff pool (``stiff_pool``), where Rodas4 steps all of them at once: the Jacobian
# (``jacobian_lanes``), the matrix, its factors and solves (``build_g_lanes``,
# ``lu_factor_lanes``, ``lu_solve_lanes``) and the stages a column per patient, each lane's
# doubles those of ``_rodas4_step`` and ``_steps`` (the same expressions in the same order).
# A round costs every lane's work, filled or not, so it runs once ``_STIFF_ROUND`` lanes are
# filled, or when nothing else is left to do; until then a stiff patient waits in its lane.
# What ``_steps`` does rarely (a stiff patient going back to Dormand-Prince when an infusion
# starts; the last few patients of a run) it still does: the patient is handed over.

#: Filled stiff lanes that make a Rodas4 round worth its cost (three quarters of them).
_STIFF_ROUND = max(1, (3 * LANES) // 4)
#: The stiff pool's per-lane arrays (``rl``): the state, f there, the new state, a stage's
#: argument and f, the error, df/dt, f at the new state.
_RY, _RK1, _RYNEW, _RYTMP, _RFJ, _RERR, _RFDT, _RFNEW = range(8)
#: ... and its per-lane numbers (``rsc``): time, step size asked for, step size taken, a
#: stage's time, error norm, 1 / (h gamma), the step's end.
_S_T, _S_H, _S_HS, _S_STAGE, _S_NORM, _S_GHINV, _S_TNEW = range(7)


def stiff_pool(n_states, n_parameters):
    """Work space for the lockstep's stiff pool (the last argument of ``solve_lockstep``)."""
    n, n_c = n_states, _C_SIZE
    return (_aligned((8, n, LANES)), _aligned((6, n, LANES)), _aligned((n, n, LANES)), _aligned((N_LU, LANES)),
            _aligned((7, LANES)), _aligned((15, LANES)), np.zeros((2, LANES), dtype=np.bool_),
            np.zeros((LANES, n_parameters)), np.zeros((LANES, n_c)), np.zeros((LANES, N_INPUTS)),
            _aligned((n_parameters, LANES)), _aligned((n_c, LANES)), _aligned((N_INPUTS, LANES)),
            np.zeros((LANES, N_PROGRESS), dtype=np.int64), np.full(LANES, -1, dtype=np.int64),
            np.zeros((LANES, _OBSERVE_BATCH)), np.zeros((LANES, n, _OBSERVE_BATCH)),
            np.zeros((LANES, N_INPUTS, _OBSERVE_BATCH)))


@njit(cache=True, _nrt=False, error_model='numpy')
def _enter_stiff(i, t, h, y1, f1, prow, crow, urow, prog, pool):
    """Patient ``i``, stiff, where it stands (time ``t``, step size ``h``, state ``y1``, f there
    ``f1``, its parameters, constants, inputs and progress), into a free lane of the stiff pool."""
    (rl, rrk, rjac, rg, rsc, rchl, rok, rpl, rcl, rul, rpw, rcw, ruw, rprogress, rpatient,
     robs_t, robs_y, robs_u) = pool
    r = 0
    while rpatient[r] >= 0:
        r += 1
    rpatient[r] = i
    rsc[_S_T, r] = t
    rsc[_S_H, r] = h
    _to_column(rl[_RY], r, y1)
    _to_column(rl[_RK1], r, f1)
    for q in range(rpl.shape[1]):
        rpl[r, q] = prow[q]
        rpw[q, r] = prow[q]
    for q in range(rcl.shape[1]):
        rcl[r, q] = crow[q]
        rcw[q, r] = crow[q]
    for q in range(rul.shape[1]):
        rul[r, q] = urow[q]
        ruw[q, r] = urow[q]
    for q in range(N_PROGRESS):
        rprogress[r, q] = prog[q]
    rprogress[r, OBS_N] = 0
    rprogress[r, OBS_COL] = prog[I_OUT]


@njit(cache=True, _nrt=False, error_model='numpy')
def _rodas4_lanes(rl, rk, jac, g, ghinv, rch, t, hs, stage_t, p, c, u, w, ok, norm, rtol, atol):
    """``_rodas4_step`` for every lane of the stiff pool, from (t, y) with k1 = f(t, y), the
    Jacobian ``jac`` and df/dt there: the solution into ``rl[_RYNEW]``, each lane's error norm
    into ``norm`` and False into ``ok`` where the factorisation met a bad pivot (norm inf: the
    one-patient step's (False, inf)). Each sum is written as ``_rodas4_step`` writes it."""
    y = rl[_RY]; k1 = rl[_RK1]; ynew = rl[_RYNEW]; ytmp = rl[_RYTMP]; fj = rl[_RFJ]; err = rl[_RERR]
    fdt = rl[_RFDT]
    n = y.shape[0]
    nl = y.shape[1]  # LANES, read at run time (``_dopri5_lanes``)
    for l in range(nl):
        ghinv[l] = 1.0 / (hs[l] * _RG)
    for q in range(15):
        for l in range(nl):
            rch[q, l] = _RC[q] / hs[l]
    build_g_lanes(jac, ghinv, g)
    lu_factor_lanes(g, ok)
    for s in range(6):
        if s == 0:
            for i in range(n):
                for l in range(nl):
                    fj[i, l] = k1[i, l]
        else:
            for i in range(n):
                if s == 1:
                    for l in range(nl):
                        ytmp[i, l] = y[i, l] + _RA[0] * rk[0, i, l]
                elif s == 2:
                    for l in range(nl):
                        ytmp[i, l] = y[i, l] + _RA[1] * rk[0, i, l] + _RA[2] * rk[1, i, l]
                elif s == 3:
                    for l in range(nl):
                        ytmp[i, l] = y[i, l] + _RA[3] * rk[0, i, l] + _RA[4] * rk[1, i, l] + _RA[5] * rk[2, i, l]
                elif s == 4:
                    for l in range(nl):
                        ytmp[i, l] = (y[i, l] + _RA[6] * rk[0, i, l] + _RA[7] * rk[1, i, l] + _RA[8] * rk[2, i, l]
                                      + _RA[9] * rk[3, i, l])
                else:
                    for l in range(nl):
                        ytmp[i, l] = (y[i, l] + _RA[10] * rk[0, i, l] + _RA[11] * rk[1, i, l]
                                      + _RA[12] * rk[2, i, l] + _RA[13] * rk[3, i, l] + _RA[14] * rk[4, i, l])
            for l in range(nl):
                stage_t[l] = t[l] + _RALPHA[s] * hs[l]
            rhs_lanes(stage_t, ytmp, p, c, u, fj, w)
        for i in range(n):
            if s == 0:
                for l in range(nl):
                    rk[0, i, l] = fj[i, l]
            elif s == 1:
                for l in range(nl):
                    rk[1, i, l] = fj[i, l] + rch[0, l] * rk[0, i, l]
            elif s == 2:
                for l in range(nl):
                    rk[2, i, l] = fj[i, l] + rch[1, l] * rk[0, i, l] + rch[2, l] * rk[1, i, l]
            elif s == 3:
                for l in range(nl):
                    rk[3, i, l] = fj[i, l] + rch[3, l] * rk[0, i, l] + rch[4, l] * rk[1, i, l] + rch[5, l] * rk[2, i, l]
            elif s == 4:
                for l in range(nl):
                    rk[4, i, l] = (fj[i, l] + rch[6, l] * rk[0, i, l] + rch[7, l] * rk[1, i, l]
                                   + rch[8, l] * rk[2, i, l] + rch[9, l] * rk[3, i, l])
            else:
                for l in range(nl):
                    rk[5, i, l] = (fj[i, l] + rch[10, l] * rk[0, i, l] + rch[11, l] * rk[1, i, l]
                                   + rch[12, l] * rk[2, i, l] + rch[13, l] * rk[3, i, l] + rch[14, l] * rk[4, i, l])
            if not AUTONOMOUS:
                for l in range(nl):
                    rk[s, i, l] = rk[s, i, l] + (hs[l] * _RGAMMA[s]) * fdt[i, l]
        lu_solve_lanes(g, rk, s)
    for i in range(n):
        for l in range(nl):
            ynew[i, l] = (y[i, l] + _RM[0] * rk[0, i, l] + _RM[1] * rk[1, i, l] + _RM[2] * rk[2, i, l]
                          + _RM[3] * rk[3, i, l] + _RM[4] * rk[4, i, l] + _RM[5] * rk[5, i, l])
            err[i, l] = rk[5, i, l]
    _lane_norms(y, ynew, err, norm, rtol, atol, c)
    for l in range(nl):
        if not ok[l]:
            norm[l] = _INF


@njit(cache=True, _nrt=False, inline='always', error_model='numpy')
def _lane_rosenbrock(r, m, i_out, ts, tl, hl, observed, y, ynew, rk, ul, obs_t, obs_y, obs_u, progress):
    """Stiff lane ``r``'s next ``m`` output times, all inside its accepted step from ``tl`` (size
    ``hl``): ``_rosenbrock_dense`` of the ``observed`` states gathered there (with the time and
    inputs), the same doubles."""
    j0 = progress[r, OBS_N]
    ot = obs_t[r]
    oy = obs_y[r]
    ou = obs_u[r]
    for j in range(m):
        ot[j0 + j] = ts[i_out + j]
    for q in range(ul.shape[1]):
        uq = ul[r, q]
        for j in range(m):
            ou[q, j0 + j] = uq
    for q in observed:
        d1 = 0.0
        d2 = 0.0
        for s in range(6):
            d1 += _RH[0, s] * rk[s, q, r]
            d2 += _RH[1, s] * rk[s, q, r]
        yq = y[q, r]
        yn = ynew[q, r]
        row = oy[q]
        for j in range(m):
            x = (ts[i_out + j] - tl) / hl
            x1 = 1.0 - x
            row[j0 + j] = x1 * yq + x * (yn + x1 * (d1 + x * d2))
    progress[r, OBS_N] = j0 + m


@njit(cache=True, _nrt=False, error_model='numpy')
def _leave_stiff(r, i, ts, btimes, bvalues, kinds, observed, out, method, rtol, atol, max_steps, stiff_rho_span,
                 stiff_h_lambda, stats, need, obs_w, obs_values, y1, vec, rk, jac, g, rch, pool):
    """Stiff lane ``r``'s patient ``i``, its gathered outputs computed, continues where it stands
    in ``_steps`` to its end; the lane is free."""
    (rl, rrk, rjac, rg, rsc, rchl, rok, rpl, rcl, rul, rpw, rcw, ruw, rprogress, rpatient,
     robs_t, robs_y, robs_u) = pool
    _lane_flush(r, out[i], kinds, need, rpl, rcl, robs_t, robs_y, robs_u, obs_w, obs_values, rprogress)
    _column(rl[_RY], r, y1)
    _column(rl[_RK1], r, vec[0])
    _steps(rsc[_S_T, r], rsc[_S_H, r], ts, y1, rpl[r], rcl[r], rul[r], btimes[i], bvalues[i], kinds, observed,
           out[i], method, rtol, atol, max_steps, stiff_rho_span, stiff_h_lambda, stats[i], vec, rk, jac, g, rch,
           rprogress[r])
    rpatient[r] = -1


@njit(cache=True, _nrt=False, error_model='numpy')
def _end_stiff(r, i, status, out, kinds, need, stats, obs_w, obs_values, pool):
    """Stiff lane ``r``'s patient ``i`` ends with ``status``; the lane is free."""
    (rl, rrk, rjac, rg, rsc, rchl, rok, rpl, rcl, rul, rpw, rcw, ruw, rprogress, rpatient,
     robs_t, robs_y, robs_u) = pool
    pr = rprogress[r]
    _lane_flush(r, out[i], kinds, need, rpl, rcl, robs_t, robs_y, robs_u, obs_w, obs_values, rprogress)
    _finish(out[i], pr[I_OUT], stats[i], status, pr[N_ACC], pr[N_REJ], pr[N_STIFF])
    rpatient[r] = -1


@njit(cache=True, _nrt=False, error_model='numpy')
def _stiff_round(ts, btimes, bvalues, kinds, observed, out, method, rtol, atol, max_steps, stiff_rho_span,
                 stiff_h_lambda, stats, need, w, obs_w, obs_values, y1, f1, vec, rk, jac, g, rch, pool):
    """One Rodas4 trial step for every filled lane of the stiff pool, then each lane's
    acceptance, outputs, breakpoint and next step size as ``_steps`` does them for a Rodas4
    step. Returns how many lanes it freed (patients ended or handed over)."""
    (rl, rrk, rjac, rg, rsc, rchl, rok, rpl, rcl, rul, rpw, rcw, ruw, rprogress, rpatient,
     robs_t, robs_y, robs_u) = pool
    t = rsc[_S_T]; h = rsc[_S_H]; hs = rsc[_S_HS]; stage_t = rsc[_S_STAGE]; norm = rsc[_S_NORM]
    tnew = rsc[_S_TNEW]
    ok = rok[0]; clipped = rok[1]
    y = rl[_RY]; k1 = rl[_RK1]; ynew = rl[_RYNEW]; fdt = rl[_RFDT]; fnew = rl[_RFNEW]
    n = y.shape[0]
    nl = t.size
    n_t = ts.size
    t_end = ts[n_t - 1]
    freed = 0
    # Each lane's step budget and step size (an empty lane steps a harmless 1: nothing reads it).
    for r in range(nl):
        hs[r] = 1.0
        i = rpatient[r]
        if i < 0:
            continue
        pr = rprogress[r]
        if pr[N_ACC] + pr[N_REJ] >= max_steps:
            _end_stiff(r, i, MAX_STEPS, out, kinds, need, stats, obs_w, obs_values, pool)
            freed += 1
            continue
        seg = pr[SEG]
        next_break = btimes[i, seg] if seg < btimes.shape[1] else _INF
        stop = min(next_break, t_end)
        clipped[r] = h[r] >= stop - t[r]
        hs[r] = stop - t[r] if clipped[r] else h[r]
        tnew[r] = stop if clipped[r] else t[r] + hs[r]

    # The Jacobian at (t, y), and df/dt; ``_rodas4_jacobian`` for a lane with an entry not finite.
    jacobian_lanes(t, y, rpw, rcw, ruw, rjac, fdt)
    for r in range(nl):
        if rpatient[r] < 0:
            continue
        finite = True
        for j in range(N_STATES):
            for q in range(JAC_ROW_START[j], JAC_ROW_START[j + 1]):
                finite = finite and np.isfinite(rjac[JAC_ROWS[q], j, r])
        if not AUTONOMOUS:
            for q in range(n):
                finite = finite and np.isfinite(fdt[q, r])
        if not finite:
            _column(y, r, y1)
            _column(k1, r, f1)
            _rodas4_jacobian(t[r], y1, rpl[r], rcl[r], rul[r], f1, jac, vec[11], vec[9], vec[10], vec[12])
            for j in range(N_STATES):
                for q in range(JAC_ROW_START[j], JAC_ROW_START[j + 1]):
                    rjac[JAC_ROWS[q], j, r] = jac[JAC_ROWS[q], j]
            if not AUTONOMOUS:
                _to_column(fdt, r, vec[11])

    _rodas4_lanes(rl, rrk, rjac, rg, rsc[_S_GHINV], rchl, t, hs, stage_t, rpw, rcw, ruw, w, ok, norm, rtol, atol)
    for q in range(n):
        for r in range(nl):
            ok[r] = ok[r] & np.isfinite(ynew[q, r])
    for r in range(nl):
        ok[r] = ok[r] & np.isfinite(norm[r])
    rhs_lanes(tnew, ynew, rpw, rcw, ruw, fnew, w)  # f at the step's end (read where accepted)

    for r in range(nl):
        i = rpatient[r]
        if i < 0:
            continue
        pr = rprogress[r]
        finite = ok[r]
        fac = _step_factor(finite, norm[r], 4.0)
        if not (finite and norm[r] <= 1.0):
            pr[N_REJ] += 1
            h[r] = hs[r] * fac
            pr[LAST_REJECTED] = 1
            if hs[r] <= 1e-12 * max(1.0, abs(t[r])):
                _end_stiff(r, i, NONFINITE if not finite else STEP_TOO_SMALL, out, kinds, need, stats, obs_w,
                           obs_values, pool)
                freed += 1
            continue
        pr[N_STIFF] += 1
        tl = t[r]
        hl = hs[r]
        t_new = tnew[r]
        i_out = pr[I_OUT]
        while i_out < n_t and ts[i_out] < t_new:
            room = _OBSERVE_BATCH - pr[OBS_N]
            m = 1
            while m < room and i_out + m < n_t and ts[i_out + m] < t_new:
                m += 1
            _lane_rosenbrock(r, m, i_out, ts, tl, hl, observed, y, ynew, rrk, rul, robs_t, robs_y, robs_u,
                             rprogress)
            i_out += m
            if m == room:
                _lane_flush(r, out[i], kinds, need, rpl, rcl, robs_t, robs_y, robs_u, obs_w, obs_values, rprogress)
        t[r] = t_new
        for q in range(n):
            y[q, r] = ynew[q, r]
        pr[N_ACC] += 1
        seg = pr[SEG]
        next_break = btimes[i, seg] if seg < btimes.shape[1] else _INF
        switched = False
        change = 0
        if clipped[r] and t_new == next_break:
            pr[SEG] = seg + 1
            change = _switch_inputs(seg + 1, rul[r], bvalues[i], min(bvalues.shape[2], N_INPUTS))
            for q in range(rul.shape[1]):
                ruw[q, r] = rul[r, q]
            switched = True
        while i_out < n_t and ts[i_out] <= t_new:
            j = _lane_gather(r, t_new, y, rul, robs_t, robs_y, robs_u, rprogress)
            if j + 1 == _OBSERVE_BATCH:
                _lane_flush(r, out[i], kinds, need, rpl, rcl, robs_t, robs_y, robs_u, obs_w, obs_values, rprogress)
            i_out += 1
        pr[I_OUT] = i_out
        stiff = True
        if switched:
            _column(y, r, y1)
            rhs(t_new, y1, rpl[r], rcl[r], rul[r], f1)
            _to_column(k1, r, f1)
            if pr[STIFF_BY_TEST] != 0 and change == INFUSION_STARTED:
                stiff = False
                pr[STIFF_BY_TEST] = 0
                pr[IASTI] = 0
                pr[NONSTI] = 0
        else:
            for q in range(n):
                k1[q, r] = fnew[q, r]
        h[r] = _next_step(h[r], hl, fac, clipped[r], pr[LAST_REJECTED] != 0)
        pr[LAST_REJECTED] = 0
        pr[IS_STIFF] = stiff
        if i_out >= n_t:
            _end_stiff(r, i, SUCCESS, out, kinds, need, stats, obs_w, obs_values, pool)
            freed += 1
        elif not stiff:
            _leave_stiff(r, i, ts, btimes, bvalues, kinds, observed, out, method, rtol, atol, max_steps,
                         stiff_rho_span, stiff_h_lambda, stats, need, obs_w, obs_values, y1, vec, rk, jac, g, rch,
                         pool)
            freed += 1
    return freed

@njit(cache=True, nogil=True, _nrt=False, error_model='numpy')
def solve_lockstep(lo, hi, t0, ts, y0, p, c_in, btimes, bvalues, kinds, observed, live, out, method, rtol,
                   atol, max_steps, stiff_rho_span, stiff_h_lambda, stats, need, lanes, pl, cl, ul, pw, cw, uw, w,
                   scalars, flags, change, patient, progress, y1, f1, vec, rk, jac, g, rch, obs_t, obs_y, obs_u, obs_w,
                   obs_values, obs_b, pool):
    """Patients ``lo`` to ``hi - 1`` (rows of y0, p, c_in, btimes, bvalues, out, stats), LANES at a
    time, any method; ``observed``, ``live`` and ``need`` say what the requested quantities read
    (``observation_plan``); the arguments after ``need`` are work space (``lockstep_work``, the
    stiff pool last). Each round: every lane's step size (``_steps``' rules, lane by lane), one
    Dormand-Prince trial step for all lanes at once with each lane's acceptance, outputs,
    breakpoints and stiffness test (``_explicit_round``), then, once enough patients wait in the
    stiff pool, one Rodas4 step for all of them (``_stiff_round``). A lane is refilled as soon as
    its patient ends or moves; a new patient waits while the stiff pool is full (it might start
    stiff). The last few patients of each kind are handed to ``_steps`` where they stand."""
    t = scalars[0]; h = scalars[1]; hs = scalars[2]
    clipped = flags[3]
    t_end = ts[ts.size - 1]
    rpatient = pool[14]
    next_patient = lo
    active = 0
    stiff_lanes = 0  # filled lanes of the stiff pool
    while True:
        # Every lane's step size; empty lanes take the next patients (an idle lane steps 0).
        for l in range(LANES):
            while True:
                if patient[l] < 0:
                    if next_patient >= hi or stiff_lanes == LANES:  # (a patient may start stiff)
                        break
                    i = next_patient
                    next_patient += 1
                    where = _start_lane(l, i, t0, ts, y0, p, c_in, btimes, bvalues, kinds, observed, live, out,
                                        method, rtol, atol, max_steps, stiff_rho_span, stiff_h_lambda, stats, lanes,
                                        pl, cl, ul, pw, cw, uw, t, h, progress, y1, vec, rk, jac, g, rch)
                    if where == _LANE:
                        patient[l] = i
                        active += 1
                    elif where == _STIFF_POOL:
                        _enter_stiff(i, t[l], h[l], y1, vec[0], pl[l], cl[l], ul[l], progress[l], pool)
                        stiff_lanes += 1
                    continue
                i = patient[l]
                if progress[l, N_ACC] + progress[l, N_REJ] >= max_steps:
                    _lane_flush(l, out[i], kinds, need, pl, cl, obs_t, obs_y, obs_u, obs_w, obs_values, progress)
                    _finish(out[i], progress[l, I_OUT], stats[i], MAX_STEPS, progress[l, N_ACC], progress[l, N_REJ],
                            progress[l, N_STIFF])
                    patient[l] = -1
                    active -= 1
                    continue
                break
            if patient[l] < 0:
                hs[l] = 0.0
                continue
            i = patient[l]
            seg = progress[l, SEG]
            next_break = btimes[i, seg] if seg < btimes.shape[1] else _INF
            stop = min(next_break, t_end)
            clipped[l] = h[l] >= stop - t[l]
            hs[l] = stop - t[l] if clipped[l] else h[l]
        if active > 0 and next_patient >= hi and active <= _TAIL:
            for l in range(LANES):
                i = patient[l]
                if i >= 0:
                    _lane_flush(l, out[i], kinds, need, pl, cl, obs_t, obs_y, obs_u, obs_w, obs_values, progress)
                    _hand_over(l, i, ts, btimes, bvalues, kinds, observed, out, method, rtol, atol, max_steps,
                               stiff_rho_span, stiff_h_lambda, stats, lanes, pl, cl, ul, t, h, progress, y1, vec,
                               rk, jac, g, rch)
                    patient[l] = -1
            active = 0
        if active > 0:
            stiff_lanes = _explicit_round(ts, btimes, bvalues, kinds, observed, out, method, rtol, atol,
                                          max_steps, stiff_rho_span, stiff_h_lambda, stats, need, lanes, pl, cl, ul,
                                          pw, cw, uw, w, scalars, flags, change, patient, progress, y1, f1, vec, rk,
                                          jac, g, rch, obs_t, obs_y, obs_u, obs_w, obs_values, obs_b, pool,
                                          stiff_lanes)
            active = 0
            for l in range(LANES):
                if patient[l] >= 0:
                    active += 1
        if stiff_lanes > 0:
            rest = next_patient >= hi and active == 0  # nothing else left to do
            if rest and stiff_lanes <= _TAIL:
                for r in range(LANES):
                    i = rpatient[r]
                    if i >= 0:
                        _leave_stiff(r, i, ts, btimes, bvalues, kinds, observed, out, method, rtol, atol,
                                     max_steps, stiff_rho_span, stiff_h_lambda, stats, need, obs_w, obs_values, y1,
                                     vec, rk, jac, g, rch, pool)
                stiff_lanes = 0
            elif rest or stiff_lanes >= _STIFF_ROUND:
                stiff_lanes -= _stiff_round(ts, btimes, bvalues, kinds, observed, out, method, rtol, atol,
                                            max_steps, stiff_rho_span, stiff_h_lambda, stats, need, w, obs_w,
                                            obs_values, y1, f1, vec, rk, jac, g, rch, pool)
        if active == 0 and stiff_lanes == 0 and next_patient >= hi:
            break


@njit(cache=True, _nrt=False, error_model='numpy')
def _explicit_round(ts, btimes, bvalues, kinds, observed, out, method, rtol, atol, max_steps, stiff_rho_span,
                    stiff_h_lambda, stats, need, lanes, pl, cl, ul, pw, cw, uw, w, scalars, flags, change, patient,
                    progress, y1, f1, vec, rk, jac, g, rch, obs_t, obs_y, obs_u, obs_w, obs_values, obs_b, pool,
                    stiff_lanes):
    """One Dormand-Prince trial step for every lane (``_dopri5_lanes``), then each lane's
    acceptance, outputs, breakpoints and stiffness test as ``_steps`` does them. A patient that
    turns stiff moves to the stiff pool (``_enter_stiff``; to ``_steps`` if the pool is full).
    Returns the stiff pool's filled lanes."""
    t = scalars[0]; h = scalars[1]; hs = scalars[2]; stage_t = scalars[3]; norm = scalars[4]
    stnum = scalars[5]; stden = scalars[6]; facs = scalars[7]
    ok = flags[0]; accepted = flags[1]; special = flags[2]; clipped = flags[3]
    nl = t.size  # LANES, read at run time (``_dopri5_lanes``)
    y = lanes[_Y]; k1 = lanes[_K1]; k3 = lanes[_K3]; k4 = lanes[_K4]; k5 = lanes[_K5]; k6 = lanes[_K6]
    k7 = lanes[_K7]; ynew = lanes[_YNEW]; ysti = lanes[_YSTI]
    n = y.shape[0]
    n_t = ts.size
    t_end = ts[n_t - 1]
    fdt = vec[11]; fj = vec[12]; ytmp = vec[8]; err1 = vec[10]
    _dopri5_lanes(lanes, t, hs, stage_t, pw, cw, uw, w, norm, rtol, atol)

    # What every lane's step says, for all lanes at once: finite, and the sums of Hairer's
    # stiffness test (``_looks_stiff``, the same terms in the same order; used where due).
    for l in range(nl):
        ok[l] = np.isfinite(norm[l])
        stnum[l] = 0.0
        stden[l] = 0.0
    for q in range(n):
        for l in range(nl):
            ok[l] = ok[l] & np.isfinite(ynew[q, l])
    # Every lane's next step size over this one's (``_step_factor``; a loop that vectorises)
    for l in range(nl):
        facs[l] = _step_factor(ok[l], norm[l], 5.0)
    if method == AUTO:
        for q in range(n):
            for l in range(nl):
                wq = 1.0 / (atol + rtol * max(abs(y[q, l]), abs(ynew[q, l])))
                stnum[l] += ((k7[q, l] - k6[q, l]) * wq) ** 2
                stden[l] += ((ynew[q, l] - ysti[q, l]) * wq) ** 2

    # Each lane's acceptance, outputs inside the step, stiffness test, breakpoint and next
    # step size, as ``_steps`` does them for an explicit step.
    for l in range(nl):
        accepted[l] = False
        special[l] = False
        i = patient[l]
        if i < 0:
            continue
        finite = ok[l]
        fac = facs[l]
        pr = progress[l]
        if not (finite and norm[l] <= 1.0):
            pr[N_REJ] += 1
            h[l] = hs[l] * fac
            pr[LAST_REJECTED] = 1
            if hs[l] <= 1e-12 * max(1.0, abs(t[l])):
                _lane_flush(l, out[i], kinds, need, pl, cl, obs_t, obs_y, obs_u, obs_w, obs_values, progress)
                _finish(out[i], pr[I_OUT], stats[i], NONFINITE if not finite else STEP_TOO_SMALL, pr[N_ACC],
                        pr[N_REJ], pr[N_STIFF])
                patient[l] = -1
            continue
        accepted[l] = True
        seg = pr[SEG]
        next_break = btimes[i, seg] if seg < btimes.shape[1] else _INF
        stop = min(next_break, t_end)
        tl = t[l]
        hl = hs[l]
        t_new = stop if clipped[l] else tl + hl
        i_out = pr[I_OUT]
        while i_out < n_t and ts[i_out] < t_new:
            # The output times inside the step, as many as the lane's gathered batch holds.
            room = _OBSERVE_BATCH - progress[l, OBS_N]
            m = 1
            while m < room and i_out + m < n_t and ts[i_out + m] < t_new:
                m += 1
            _lane_dense(l, m, i_out, ts, tl, hl, observed, y, k1, k3, k4, k5, k6, k7, ul, obs_t, obs_y, obs_u,
                        obs_b, progress)
            i_out += m
            if m == room:
                _lane_flush(l, out[i], kinds, need, pl, cl, obs_t, obs_y, obs_u, obs_w, obs_values, progress)
        pr[I_OUT] = i_out
        stiff = False
        if method == AUTO and (pr[IASTI] > 0 or pr[N_ACC] % _STIFF_TEST_EVERY == 0):
            if stden[l] > 0.0 and hl * np.sqrt(stnum[l] / stden[l]) > stiff_h_lambda:
                pr[NONSTI] = 0
                pr[IASTI] += 1
                if pr[IASTI] == 15:
                    stiff = True
                    pr[STIFF_BY_TEST] = 1
            else:
                pr[NONSTI] += 1
                if pr[NONSTI] == 15:
                    pr[IASTI] = 0
        t[l] = t_new
        pr[N_ACC] += 1
        change[l] = -1  # no breakpoint
        if clipped[l] and t_new == next_break:
            pr[SEG] = seg + 1
            change[l] = _switch_inputs(seg + 1, ul[l], bvalues[i], min(bvalues.shape[2], N_INPUTS))
            for q in range(ul.shape[1]):
                uw[q, l] = ul[l, q]
        h[l] = _next_step(h[l], hl, fac, clipped[l], pr[LAST_REJECTED] != 0)
        pr[LAST_REJECTED] = 0
        pr[IS_STIFF] = stiff
        special[l] = stiff or change[l] >= 0 or (i_out < n_t and ts[i_out] <= t_new)

    # The accepted lanes' new state, and f there (FSAL) where no breakpoint changed the inputs.
    for q in range(n):
        for l in range(nl):
            if accepted[l]:
                y[q, l] = ynew[q, l]
                if change[l] < 0:
                    k1[q, l] = k7[q, l]

    # Lanes with outputs at the step's end, a breakpoint, or a switch to Rodas4.
    for l in range(nl):
        if not special[l]:
            continue
        i = patient[l]
        pr = progress[l]
        _column(y, l, y1)
        i_out = pr[I_OUT]
        while i_out < n_t and ts[i_out] <= t[l]:
            j = _lane_gather(l, t[l], y, ul, obs_t, obs_y, obs_u, progress)
            if j + 1 == _OBSERVE_BATCH:
                _lane_flush(l, out[i], kinds, need, pl, cl, obs_t, obs_y, obs_u, obs_w, obs_values, progress)
            i_out += 1
        pr[I_OUT] = i_out
        stiff = pr[IS_STIFF] != 0
        if change[l] >= 0:
            rhs(t[l], y1, pl[l], cl[l], ul[l], f1)
            _to_column(k1, l, f1)
            if pr[STIFF_BY_TEST] != 0 and change[l] == INFUSION_STARTED:
                stiff = False
                pr[STIFF_BY_TEST] = 0
                pr[IASTI] = 0
                pr[NONSTI] = 0
            if method == AUTO and not stiff and change[l] == INFUSION_ENDED and i_out < n_t:
                _exact_jacobian(t[l], y1, pl[l], cl[l], ul[l], f1, jac, fdt, ytmp, err1, fj)
                stiff = _max_diagonal(jac) * (t_end - t[l]) > stiff_rho_span
        pr[IS_STIFF] = stiff
        if i_out >= n_t or stiff:
            _lane_flush(l, out[i], kinds, need, pl, cl, obs_t, obs_y, obs_u, obs_w, obs_values, progress)
        if i_out >= n_t:
            _finish(out[i], i_out, stats[i], SUCCESS, pr[N_ACC], pr[N_REJ], pr[N_STIFF])
            patient[l] = -1
        elif stiff:
            if stiff_lanes < LANES:
                _column(k1, l, f1)
                _enter_stiff(i, t[l], h[l], y1, f1, pl[l], cl[l], ul[l], progress[l], pool)
                stiff_lanes += 1
            else:
                _hand_over(l, i, ts, btimes, bvalues, kinds, observed, out, method, rtol, atol, max_steps,
                           stiff_rho_span, stiff_h_lambda, stats, lanes, pl, cl, ul, t, h, progress, y1, vec, rk,
                           jac, g, rch)
            patient[l] = -1
    return stiff_lanes

@njit(cache=True, parallel=True, error_model='numpy')
def solve_batch(t0, ts, y0, p, c, btimes, bvalues, kinds, observed, live, out, method, rtol, atol,
                max_steps, stiff_rho_span, stiff_h_lambda, stats):
    """Every patient of a batch (rows of y0, p, c, btimes, bvalues, out, stats), in parallel,
    one patient at a time."""
    for i in prange(y0.shape[0]):
        solve_one(t0, ts, y0[i], p[i], c[i], btimes[i], bvalues[i], kinds, observed, live, out[i], method, rtol, atol,
                  max_steps, stiff_rho_span, stiff_h_lambda, stats[i])


@njit(cache=True, error_model='numpy')
def solve_batch_serial(t0, ts, y0, p, c, btimes, bvalues, kinds, observed, live, out, method, rtol, atol,
                       max_steps, stiff_rho_span, stiff_h_lambda, stats):
    for i in range(y0.shape[0]):
        solve_one(t0, ts, y0[i], p[i], c[i], btimes[i], bvalues[i], kinds, observed, live, out[i], method, rtol, atol,
                  max_steps, stiff_rho_span, stiff_h_lambda, stats[i])
