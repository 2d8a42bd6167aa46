# The compiled solver kernel. Not imported as it stands: ``ivigsim.engine.codegen``
# appends it to a model's generated scalar functions (``rhs``, ``observe_one``,
# ``N_STATES``, ``AUTONOMOUS``) and numba compiles the whole module, cached on disk.
#
# One patient at a time, each independent of the others (so a patient's result is
# the same, bit for bit, in any batch, chunk, thread or process):
#
# - Dormand-Prince 5(4) with FSAL, Hairer's error norm and step control, and its free
#   4th-order continuous extension for outputs (Shampine 1986; the coefficients scipy's
#   RK45 uses), so output times do not cut steps;
# - Rodas4 (Hairer & Wanner, Solving ODEs II, s.IV.7: L-stable, stiffly accurate,
#   order 4(3)) with a finite-difference Jacobian and a cubic Hermite continuous
#   extension, for stiff patients;
# - method 0 ("auto") chooses per patient, from that patient's own Jacobian: at t0 and
#   at the end of each infusion it estimates the stiffness (the largest |dF_i/dy_i|, from
#   the grouped finite-difference Jacobian Rodas4 uses) and, when the explicit method's
#   stability limit (h |lambda| < 3.3) would cost more steps over the rest of the span than
#   Rodas4 needs (|lambda| * remaining days > STIFF_RHO_SPAN), continues with Rodas4;
#   otherwise it runs Dormand-Prince, which still switches to Rodas4 when Hairer's
#   stiffness test (dopri5.f: h*|lambda| > 3.25 on 15 accepted steps) fires.
#   1 is Dormand-Prince only, 2 Rodas4 only.
#
# Helpers that allocate nothing run without numba's reference counting (``_nrt=False``:
# otherwise every call takes atomic increments and decrements of its array arguments).
#
# Steps land exactly on input breakpoints (infusion starts and stops) and on the
# last output time; inputs are constant inside every step.
# ruff: noqa
# fmt: off
from numba import prange

_INF = np.inf

# Dormand-Prince 5(4) (Hairer, Norsett & Wanner, Solving ODEs I, Table 5.2).
_C2, _C3, _C4, _C5 = 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0
_A21 = 1.0 / 5.0
_A31, _A32 = 3.0 / 40.0, 9.0 / 40.0
_A41, _A42, _A43 = 44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0
_A51, _A52, _A53, _A54 = 19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0
_A61, _A62, _A63, _A64, _A65 = 9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0
_A71, _A73, _A74, _A75, _A76 = 35.0 / 384.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0
_E1, _E3, _E4, _E5, _E6, _E7 = 71.0 / 57600.0, -71.0 / 16695.0, 71.0 / 1920.0, -17253.0 / 339200.0, 22.0 / 525.0, -1.0 / 40.0
# Continuous extension: y(t + x h) = y + h * sum_j k_j * sum_m P[j, m] x^(m+1).
_P = np.array([
    [1.0, -8048581381.0 / 2820520608.0, 8663915743.0 / 2820520608.0, -12715105075.0 / 11282082432.0],
    [0.0, 0.0, 0.0, 0.0],
    [0.0, 131558114200.0 / 32700410799.0, -68118460800.0 / 10900136933.0, 87487479700.0 / 32700410799.0],
    [0.0, -1754552775.0 / 470086768.0, 14199869525.0 / 1410260304.0, -10690763975.0 / 1880347072.0],
    [0.0, 127303824393.0 / 49829197408.0, -318862633887.0 / 49829197408.0, 701980252875.0 / 199316789632.0],
    [0.0, -282668133.0 / 205662961.0, 2019193451.0 / 616988883.0, -1453857185.0 / 822651844.0],
    [0.0, 40617522.0 / 29380423.0, -110615467.0 / 29380423.0, 69997945.0 / 29380423.0],
])

# Rodas4 (Hairer & Wanner 1996; the W-transformed coefficients of rodas.f, in the
# notation G K_i = f(t + alpha_i h, y + sum_j A_ij K_j) + sum_j C_ij / h K_j + h gamma_i f_t).
_RG = 0.25
_RALPHA = np.array([0.0, 0.386, 0.210, 0.630, 1.0, 1.0])
_RGAMMA = np.array([0.25, -0.1043, 0.1035, -0.3620000000000023e-01, 0.0, 0.0])
_RA = np.array([  # row-wise strictly lower triangle
    0.1544000000000000e+01,
    0.9466785280815826, 0.2557011698983284,
    0.3314825187068521e+01, 0.2896124015972201e+01, 0.9986419139977817,
    0.1221224509226641e+01, 0.6019134481288629e+01, 0.1253708332932087e+02, -0.6878860361058950,
    0.1221224509226641e+01, 0.6019134481288629e+01, 0.1253708332932087e+02, -0.6878860361058950, 1.0,
])
_RC = np.array([
    -0.5668800000000000e+01,
    -0.2430093356833875e+01, -0.2063599157091915,
    -0.1073529058151375, -0.9594562251023355e+01, -0.2047028614809616e+02,
    0.7496443313967647e+01, -0.1024680431464352e+02, -0.3399990352819905e+02, 0.1170890893206160e+02,
    0.8083246795921522e+01, -0.7981132988064893e+01, -0.3152159432874371e+02, 0.1631930543123136e+02, -0.6058818238834054e+01,
])
_RM = np.array([0.1221224509226641e+01, 0.6019134481288629e+01, 0.1253708332932087e+02, -0.6878860361058950, 1.0, 1.0])

SUCCESS, MAX_STEPS, STEP_TOO_SMALL, NONFINITE = 0, 1, 2, 3
# h*|lambda| above which a Dormand-Prince step counts as stability-limited (dopri5.f uses 3.25;
# the controller here settles just under the stability boundary, so a little lower).
STIFF_H_LAMBDA = 2.5
# |lambda| * remaining days above which Auto starts (or continues) a patient with Rodas4:
# Dormand-Prince then needs at least |lambda| * days / 3.3 steps (1,500 at the threshold),
# while Rodas4 takes a few hundred accuracy-limited steps at two to three times the cost of
# a Dormand-Prince step. On the shipped scenarios (benchmarks/scenarios_benchmark.py) the
# calibrated patients have |lambda| * days of 300-4,100 and the stiff configuration
# 28,000-95,000; 5,000 was faster than 3,000 on the 180-day ITP scenario, whose patients
# near 4,000 are stiff only for part of the span.
STIFF_RHO_SPAN = 5000.0


@njit(cache=True, _nrt=False)
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


@njit(cache=True, _nrt=False)
def _max_diagonal(jac):
    """Largest |dF_i/dy_i|: the stiffness estimate (kinetic models' fast modes are decays,
    which sit on the diagonal; non-finite entries count as zero)."""
    rho = 0.0
    for i in range(jac.shape[0]):
        d = abs(jac[i, i])
        if d > rho and np.isfinite(d):
            rho = d
    return rho


@njit(cache=True, _nrt=False)
def _err_norm(err, y, ynew, rtol, atol):
    s = 0.0
    n = err.size
    for i in range(n):
        sc = atol + rtol * max(abs(y[i]), abs(ynew[i]))
        s += (err[i] / sc) ** 2
    return np.sqrt(s / n)


@njit(cache=True, _nrt=False)
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


@njit(cache=True)
def solve_one(t0, ts, y0, p, c_in, btimes, bvalues, kinds, out, method, rtol, atol, max_steps, stats):
    """Solve one patient. ``out`` (K, T) receives quantity ``kinds[k]`` at ``ts``;
    ``stats`` receives [status, accepted steps, rejected steps, steps taken by Rodas4]."""
    # The patient's constants, then the reciprocals of its parameter-only denominators.
    c = np.empty(N_CONSTANTS + N_RECIPROCALS)
    for i in range(N_CONSTANTS):
        c[i] = c_in[i]
    reciprocals(p, c_in, c[N_CONSTANTS:])
    n = y0.size
    n_t = ts.size
    n_k = kinds.size
    n_b = btimes.size
    # Inputs the schedule does not carry are zero (a schedule for fewer inputs than the
    # model declares never reads past its own columns).
    n_in = min(bvalues.shape[1], N_INPUTS)
    y = y0.copy()
    u = np.zeros(N_INPUTS)
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
            for k in range(n_k):
                out[k, i_out] = observe_one(kinds[k], t, y, p, c, u)
        i_out += 1
    t_end = ts[n_t - 1]

    k1 = np.empty(n); k2 = np.empty(n); k3 = np.empty(n); k4 = np.empty(n)
    k5 = np.empty(n); k6 = np.empty(n); k7 = np.empty(n)
    ynew = np.empty(n); ytmp = np.empty(n); ysti = np.empty(n); err = np.empty(n)
    rk = np.empty((6, n)); jac = np.zeros((n, n)); g = np.empty(N_LU); rch = np.empty(15)
    fdt = np.zeros(n); fj = np.empty(n); fnew = np.empty(n)

    rhs(t, y, p, c, u, k1)
    h = _initial_step(t, y, k1, p, c, u, rtol, atol, ytmp, k2)
    stiff = method == 2
    if method == 0:
        _jacobian(t, y, p, c, u, k1, jac, ysti, err, fj)
        stiff = _max_diagonal(jac) * (t_end - t) > STIFF_RHO_SPAN
    status = SUCCESS
    n_acc = 0
    n_rej = 0
    n_stiff = 0
    iasti = 0
    nonsti = 0
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
        finite = True
        use_rodas = stiff
        if not use_rodas:
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
            norm = _err_norm(err, y, ynew, rtol, atol)
            order = 5.0
        else:
            # Jacobian by forward differences, columns grouped by structural sparsity
            # (Curtis, Powell & Reid): one rhs evaluation per group of columns.
            if not jac_fresh:
                _jacobian(t, y, p, c, u, k1, jac, ysti, err, fj)
                if not AUTONOMOUS:
                    delta = np.sqrt(2.220446049250313e-16) * max(1e-5, abs(t))
                    rhs(t + delta, y, p, c, u, fj)
                    for i in range(n):
                        fdt[i] = (fj[i] - k1[i]) / delta
                jac_fresh = True
            build_g(jac, 1.0 / (hs * _RG), g)
            for q in range(15):
                rch[q] = _RC[q] / hs
            if not lu_factor(g):
                finite = False
                norm = _INF
            else:
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
                norm = _err_norm(err, y, ynew, rtol, atol)
            order = 4.0
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
                if not use_rodas:
                    b1 = x * (_P[0, 0] + x * (_P[0, 1] + x * (_P[0, 2] + x * _P[0, 3])))
                    b3 = x * (_P[2, 0] + x * (_P[2, 1] + x * (_P[2, 2] + x * _P[2, 3])))
                    b4 = x * (_P[3, 0] + x * (_P[3, 1] + x * (_P[3, 2] + x * _P[3, 3])))
                    b5 = x * (_P[4, 0] + x * (_P[4, 1] + x * (_P[4, 2] + x * _P[4, 3])))
                    b6 = x * (_P[5, 0] + x * (_P[5, 1] + x * (_P[5, 2] + x * _P[5, 3])))
                    b7 = x * (_P[6, 0] + x * (_P[6, 1] + x * (_P[6, 2] + x * _P[6, 3])))
                    for i in range(n):
                        ytmp[i] = y[i] + hs * (b1 * k1[i] + b3 * k3[i] + b4 * k4[i] + b5 * k5[i] + b6 * k6[i] + b7 * k7[i])
                else:
                    h00 = (1.0 + 2.0 * x) * (1.0 - x) ** 2
                    h10 = x * (1.0 - x) ** 2
                    h01 = x * x * (3.0 - 2.0 * x)
                    h11 = x * x * (x - 1.0)
                    for i in range(n):
                        ytmp[i] = h00 * y[i] + h10 * hs * k1[i] + h01 * ynew[i] + h11 * hs * fnew[i]
                for k in range(n_k):
                    out[k, i_out] = observe_one(kinds[k], ts[i_out], ytmp, p, c, u)
                i_out += 1
            if method == 0 and not stiff:
                # Hairer's stiffness test: h * |lambda| estimated from the last two stages.
                stnum = 0.0
                stden = 0.0
                for i in range(n):
                    stnum += (k7[i] - k6[i]) ** 2
                    stden += (ynew[i] - ysti[i]) ** 2
                if stden > 0.0 and hs * np.sqrt(stnum / stden) > STIFF_H_LAMBDA:
                    nonsti = 0
                    iasti += 1
                    if iasti == 15:
                        stiff = True
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
            infusion_ended = False
            if clipped and t == next_break:
                seg += 1
                was_on = False
                now_on = False
                for j in range(n_in):
                    was_on = was_on or u[j] != 0.0
                    u[j] = bvalues[seg - 1, j]
                    now_on = now_on or u[j] != 0.0
                infusion_ended = was_on and not now_on
                switched = True
            while i_out < n_t and ts[i_out] <= t:
                for k in range(n_k):
                    out[k, i_out] = observe_one(kinds[k], t, y, p, c, u)
                i_out += 1
            if switched:
                rhs(t, y, p, c, u, k1)
                if method == 0 and not stiff and infusion_ended and i_out < n_t:
                    # The end of an infusion: the infused drug is at its peak, and with it
                    # any concentration-driven fast dynamics. Stiff from here on?
                    _jacobian(t, y, p, c, u, k1, jac, ysti, err, fj)
                    stiff = _max_diagonal(jac) * (t_end - t) > STIFF_RHO_SPAN
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
    stats[0] = status
    stats[1] = n_acc
    stats[2] = n_rej
    stats[3] = n_stiff


@njit(cache=True, parallel=True)
def solve_batch(t0, ts, y0, p, c, btimes, bvalues, kinds, out, method, rtol, atol, max_steps, stats):
    """Every patient of a batch (rows of y0, p, c, btimes, bvalues, out, stats), in parallel."""
    for i in prange(y0.shape[0]):
        solve_one(t0, ts, y0[i], p[i], c[i], btimes[i], bvalues[i], kinds, out[i], method, rtol, atol,
                  max_steps, stats[i])


@njit(cache=True)
def solve_batch_serial(t0, ts, y0, p, c, btimes, bvalues, kinds, out, method, rtol, atol, max_steps, stats):
    for i in range(y0.shape[0]):
        solve_one(t0, ts, y0[i], p[i], c[i], btimes[i], bvalues[i], kinds, out[i], method, rtol, atol,
                  max_steps, stats[i])
