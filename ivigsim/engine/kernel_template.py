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
constants. ``solve_one`` allocates a patient's work arrays; ``_integrate``, the driver
(step-size control, breakpoints, outputs, the choice of method), calls the steps, which
numba inlines (``inline='always'``). Helpers that allocate nothing, the driver included,
run without numba's reference counting (``_nrt=False``: otherwise every call, and every
inlined array argument, takes atomic increments and decrements).

Steps land exactly on input breakpoints (infusion starts and stops) and on the
last output time; inputs are constant inside every step.
"""

# fmt: off
import numpy as np
from numba import njit, prange

# ---- GENERATED: begin. Stand-ins for what ``codegen.generate`` and ``codegen.method_constants``
# provide (the generator drops this block); ``tests/test_engine_kernel.py`` checks the two agree.
N_CONSTANTS = N_RECIPROCALS = N_STATES = N_INPUTS = N_LU = 0  # sizes
AUTONOMOUS = True  # the right-hand side does not read t
JAC_COLUMNS = JAC_GROUP_START = JAC_ROWS = JAC_ROW_START = np.zeros(0, dtype=np.int64)  # Jacobian sparsity
JAC_PATTERN = np.zeros((0, 0), dtype=np.bool_)
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
# ---- GENERATED: end


_INF = np.inf
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
def _err_norm(err, y, ynew, rtol, atol):
    s = 0.0
    n = err.size
    for i in range(n):
        sc = atol + rtol * max(abs(y[i]), abs(ynew[i]))
        s += (err[i] / sc) ** 2
    return np.sqrt(s / n)


@njit(cache=True, _nrt=False, error_model='numpy')
def _initial_step(t, y, f0, p, c, u, rtol, atol, ytmp, f1):
    n = y.size
    d0 = 0.0
    d1 = 0.0
    for i in range(n):
        sc = atol + rtol * abs(y[i])
        d0 += (y[i] / sc) ** 2
        d1 += (f0[i] / sc) ** 2
    d0 = np.sqrt(d0 / n)
    d1 = np.sqrt(d1 / n)
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    for i in range(n):
        ytmp[i] = y[i] + h0 * f0[i]
    rhs(t + h0, ytmp, p, c, u, f1)
    d2 = 0.0
    for i in range(n):
        sc = atol + rtol * abs(y[i])
        d2 += ((f1[i] - f0[i]) / sc) ** 2
    d2 = np.sqrt(d2 / n) / h0
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
    return _err_norm(err, y, ynew, rtol, atol)


@njit(cache=True, _nrt=False, inline='always', error_model='numpy')
def _dopri5_dense(x, hs, y, k1, k3, k4, k5, k6, k7, yout):
    """Dormand-Prince's continuous extension at t + x hs, into ``yout``."""
    b1 = x * (_P[0, 0] + x * (_P[0, 1] + x * (_P[0, 2] + x * _P[0, 3])))
    b3 = x * (_P[2, 0] + x * (_P[2, 1] + x * (_P[2, 2] + x * _P[2, 3])))
    b4 = x * (_P[3, 0] + x * (_P[3, 1] + x * (_P[3, 2] + x * _P[3, 3])))
    b5 = x * (_P[4, 0] + x * (_P[4, 1] + x * (_P[4, 2] + x * _P[4, 3])))
    b6 = x * (_P[5, 0] + x * (_P[5, 1] + x * (_P[5, 2] + x * _P[5, 3])))
    b7 = x * (_P[6, 0] + x * (_P[6, 1] + x * (_P[6, 2] + x * _P[6, 3])))
    for i in range(y.size):
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
    for s in range(6):
        base = s * (s - 1) // 2
        if s == 0:
            for i in range(n):
                fj[i] = k1[i]
        else:
            for i in range(n):
                acc = y[i]
                for j in range(s):
                    acc += _RA[base + j] * rk[j, i]
                ytmp[i] = acc
            rhs(t + _RALPHA[s] * hs, ytmp, p, c, u, fj)
        for i in range(n):
            acc = fj[i]
            for j in range(s):
                acc += rch[base + j] * rk[j, i]
            if not AUTONOMOUS:
                acc += hs * _RGAMMA[s] * fdt[i]
            rk[s, i] = acc
        lu_solve(g, rk, s)
    for i in range(n):
        acc = y[i]
        for j in range(6):
            acc += _RM[j] * rk[j, i]
        ynew[i] = acc
        err[i] = rk[5, i]
    return True, _err_norm(err, y, ynew, rtol, atol)


@njit(cache=True, _nrt=False, inline='always', error_model='numpy')
def _rosenbrock_dense(x, y, ynew, rk, yout):
    """The Rosenbrock method's own continuous extension at t + x hs, into ``yout``: from the
    step's stages ``rk`` (``tableaux.RosenbrockTableau.dense``, rodas.f's ``CONTRO``)."""
    x1 = 1.0 - x
    for i in range(y.size):
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


@njit(cache=True, error_model='numpy')
def solve_one(t0, ts, y0, p, c_in, btimes, bvalues, kinds, out, method, rtol, atol,
              max_steps, stiff_rho_span, stiff_h_lambda, stats):
    """Solve one patient. ``out`` (K, T) receives quantity ``kinds[k]`` at ``ts``;
    ``stats`` receives [status, accepted steps, rejected steps, steps taken by Rodas4].
    Allocates the patient's work arrays; ``_integrate`` does the rest."""
    # The patient's constants, then the reciprocals of its parameter-only denominators.
    c = np.empty(N_CONSTANTS + N_RECIPROCALS)
    for i in range(N_CONSTANTS):
        c[i] = c_in[i]
    reciprocals(p, c_in, c[N_CONSTANTS:])
    n = y0.size
    _integrate(t0, ts, y0.copy(), p, c, np.zeros(N_INPUTS), btimes, bvalues, kinds, out, method, rtol, atol,
               max_steps, stiff_rho_span, stiff_h_lambda, stats, np.zeros((14, n)), np.zeros((6, n)),
               np.zeros((n, n)), np.zeros(N_LU), np.zeros(15))


@njit(cache=True, _nrt=False, error_model='numpy')
def _integrate(t0, ts, y, p, c, u, btimes, bvalues, kinds, out, method, rtol, atol, max_steps, stiff_rho_span,
               stiff_h_lambda, stats, vec, rk, jac, g, rch):
    """The driver: step-size control, landing on breakpoints, outputs and the choice of
    method; the steps are ``_dopri5_step`` and ``_rodas4_step``. ``y`` holds the state at
    ``t0`` and ``u`` zeros (both overwritten); ``vec`` (14, n), ``rk`` (6, n), ``jac`` (n, n,
    zeros: only the structural non-zeros are ever written), ``g`` and ``rch`` are work space.
    No reference counting (``_nrt=False``): it allocates nothing, and the inlined steps'
    array arguments then cost nothing either."""
    k1 = vec[0]; k2 = vec[1]; k3 = vec[2]; k4 = vec[3]; k5 = vec[4]; k6 = vec[5]; k7 = vec[6]
    ynew = vec[7]; ytmp = vec[8]; ysti = vec[9]; err = vec[10]; fdt = vec[11]; fj = vec[12]; fnew = vec[13]
    n = y.size
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
    status = SUCCESS
    n_acc = 0
    n_rej = 0
    n_stiff = 0
    iasti = 0
    nonsti = 0
    stiff_by_test = False
    jac_fresh = False
    last_rejected = False

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
        if finite:
            fac = 0.9 * norm ** (-1.0 / order) if norm > 0.0 else 5.0
            fac = min(5.0, max(0.2, fac))
        else:
            fac = 0.2
        if accept:
            t_new = stop if clipped else t + hs
            if use_rodas:
                rhs(t_new, ynew, p, c, u, fnew)
                n_stiff += 1
            # Outputs strictly inside the step, from the continuous extension.
            while i_out < n_t and ts[i_out] < t_new:
                x = (ts[i_out] - t) / hs
                if use_rodas:
                    _rosenbrock_dense(x, y, ynew, rk, ytmp)
                else:
                    _dopri5_dense(x, hs, y, k1, k3, k4, k5, k6, k7, ytmp)
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
            h_next = hs * fac
            if last_rejected:
                h_next = min(h_next, hs)
            h = max(h_next, h) if clipped else h_next
            last_rejected = False
        else:
            n_rej += 1
            h = hs * fac
            last_rejected = True
            if hs <= 1e-12 * max(1.0, abs(t)):
                status = NONFINITE if not finite else STEP_TOO_SMALL
                break
    # Outputs a failed patient did not reach are NaN (``out`` arrives unfilled: filling it
    # beforehand, in one thread, would touch every page of a large output twice).
    for j in range(i_out, n_t):
        for k in range(kinds.size):
            out[k, j] = np.nan
    stats[0] = status
    stats[1] = n_acc
    stats[2] = n_rej
    stats[3] = n_stiff


@njit(cache=True, parallel=True, error_model='numpy')
def solve_batch(t0, ts, y0, p, c, btimes, bvalues, kinds, out, method, rtol, atol,
                max_steps, stiff_rho_span, stiff_h_lambda, stats):
    """Every patient of a batch (rows of y0, p, c, btimes, bvalues, out, stats), in parallel."""
    for i in prange(y0.shape[0]):
        solve_one(t0, ts, y0[i], p[i], c[i], btimes[i], bvalues[i], kinds, out[i], method, rtol, atol,
                  max_steps, stiff_rho_span, stiff_h_lambda, stats[i])


@njit(cache=True, error_model='numpy')
def solve_batch_serial(t0, ts, y0, p, c, btimes, bvalues, kinds, out, method, rtol, atol,
                       max_steps, stiff_rho_span, stiff_h_lambda, stats):
    for i in range(y0.shape[0]):
        solve_one(t0, ts, y0[i], p[i], c[i], btimes[i], bvalues[i], kinds, out[i], method, rtol, atol,
                  max_steps, stiff_rho_span, stiff_h_lambda, stats[i])
