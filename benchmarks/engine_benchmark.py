"""ivigsim's engine against libRoadRunner and scipy: one command, one run, one machine.

    .venv/bin/python benchmarks/engine_benchmark.py              # the 10^6-patient trial, then 10^3, 10^4, 10^5 patients
    .venv/bin/python benchmarks/engine_benchmark.py --quick      # 10^3 and 10^4 only, no 10^6 trial

Same model (ivigsim's core model; libRoadRunner simulates ivigsim's own SBML export of
it), same patients (between-subject variability on four parameters, drawn once; every
engine gets the same parameter values), same regimen (2 g/kg over 5 days, label
titration, 70 kg), same tolerances (rtol 1e-6, atol 1e-9), same outputs (three outputs,
daily, days 0-180). Two configurations: the calibrated default, and a stiff one (immune-
complex clearance 500/day and Fc-receptor release 100/day: 100x the shipped values). Not a timed test: numbers depend on the
machine; ratios measured in one run are what docs/performance.md records.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OUTPUTS = ("igg_total_g_per_L", "autoantibody_fraction_of_baseline", "fcgr_blockade_fraction")
STIFF = {"immune_complex_clearance_per_day": 500.0, "fcgr_release_per_day": 100.0}  # 100x the shipped values
CVS = {"baseline_igg_g_per_L": 0.219, "fcrn_igk": 0.263, "fcrn_km_g_per_L": 0.2,
       "distribution_clearance_70kg_L_per_day": 0.25}
RTOL, ATOL = 1e-6, 1e-9
TS = np.arange(0.0, 181.0)


def scenario():
    from ivigsim.io.scenario_file import parse_scenario

    return parse_scenario({"regimen": {"course": {"total_g_per_kg": 2.0, "days": 5}}, "indication": "cidp",
                           "simulation": {"days": 180}, "patient": {"weight_kg": 70}})


def patients(n: int, stiff: bool) -> np.ndarray:
    """Parameters (P, n): the same patients for every engine."""
    from ivigsim.model.library import compiled_core_model
    from ivigsim.population import CounterRNG, PopulationSpec, Variability, draw

    cm = compiled_core_model()
    vp = draw(PopulationSpec(variability=Variability(CVS)), cm, CounterRNG(2024), np.arange(n))
    p = vp.parameters
    names = cm.model.parameter_names
    p[names.index("body_weight_kg")] = 70.0
    for k, v in (STIFF if stiff else {}).items():
        p[names.index(k)] = v
    return p


def schedule(n: int):
    from ivigsim.engine.schedule import InputSchedule
    from ivigsim.model.library import compiled_core_model
    from ivigsim.simulation import plan_schedule

    sc = scenario()
    one = plan_schedule(compiled_core_model(), [sc.regimen.compile(sc.patient, sc.indication)])
    return InputSchedule(np.repeat(one.times, n, axis=0), np.repeat(one.values, n, axis=0))


# -- ivigsim ---------------------------------------------------------------------------
def ivigsim_solve(params: np.ndarray, solver) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from ivigsim.engine.outputs import solve_outputs
    from ivigsim.engine.solve import Problem, SaveAt
    from ivigsim.model.library import compiled_core_model

    n = params.shape[1]
    out = solve_outputs(Problem(compiled_core_model(), params, schedule(n)), SaveAt(TS), solver, OUTPUTS)
    return out.values, out.n_steps + out.n_rejected, out.status


def _ivigsim_worker_init():
    os.environ["NUMBA_NUM_THREADS"] = "1"
    from ivigsim.engine.compiled import Auto

    ivigsim_solve(patients(4, False), Auto(threads=1))  # load the cached kernel


def _ivigsim_worker(args):
    from ivigsim.engine.compiled import Auto

    params, = args
    return ivigsim_solve(params, Auto(threads=1))[0]


# -- libRoadRunner ---------------------------------------------------------------------
_RR = None


def _rr_init():
    global _RR
    import roadrunner

    from ivigsim.io.sbml import export_sbml
    from ivigsim.model.library import compiled_core_model

    cm = compiled_core_model()
    m = cm.model
    rr = roadrunner.RoadRunner(export_sbml(scenario()))
    rr.timeCourseSelections = ["time", *OUTPUTS]
    integ = rr.getIntegrator()
    integ.setValue("relative_tolerance", RTOL)
    integ.setValue("absolute_tolerance", ATOL)
    gp = list(rr.model.getGlobalParameterIds())
    sp = list(rr.model.getFloatingSpeciesIds())
    names = list(m.parameter_names) + list(m.constant_names)
    keep = [i for i, name in enumerate(names) if name in gp]
    state_sp = [(i, sp.index(s)) for i, s in enumerate(m.state_names) if s in sp]
    state_gp = [(i, gp.index(s)) for i, s in enumerate(m.state_names) if s in gp]
    _RR = (rr, cm, np.array([gp.index(names[i]) for i in keep], dtype=np.int32), keep, state_sp, state_gp)


def rr_solve(params: np.ndarray) -> np.ndarray:
    """Every patient: reset, set its parameters, derived constants and initial state, simulate."""
    if _RR is None:
        _rr_init()
    rr, cm, gidx, keep, state_sp, state_gp = _RR
    consts = cm.constants(params)
    y0 = cm.initial(params, consts)
    values = np.concatenate([params, np.broadcast_to(consts, (consts.shape[0], params.shape[1]))])
    sp_idx = np.array([j for _, j in state_sp], dtype=np.int32)
    gp_idx = np.array([j for _, j in state_gp], dtype=np.int32)
    out = np.empty((params.shape[1], len(OUTPUTS), len(TS)))
    for k in range(params.shape[1]):
        rr.resetAll()
        rr.model.setGlobalParameterValues(gidx, values[keep, k])
        rr.model.setFloatingSpeciesAmounts(sp_idx, y0[[i for i, _ in state_sp], k])
        rr.model.setGlobalParameterValues(gp_idx, y0[[i for i, _ in state_gp], k])
        res = rr.simulate(0.0, 180.0, len(TS))
        out[k] = np.asarray(res)[:, 1:].T
    return out


def _rr_worker(args):
    params, = args
    return rr_solve(params)


# -- scipy -----------------------------------------------------------------------------
def scipy_solve(params: np.ndarray) -> tuple[np.ndarray, float]:
    from scipy.integrate import solve_ivp

    from ivigsim.model.library import compiled_core_model

    cm = compiled_core_model()
    sched = schedule(1)
    edges = [t for t in sched.times[0] if np.isfinite(t) and t < 180.0]
    legs = sorted({0.0, 180.0, *edges})
    out = np.empty((params.shape[1], len(OUTPUTS), len(TS)))
    nfev = 0
    for k in range(params.shape[1]):
        p = params[:, k:k + 1]
        c = cm.constants(p)
        y = cm.initial(p, c)[:, 0]
        states = np.empty((len(TS), len(y)))
        for a, b in zip(legs[:-1], legs[1:]):
            u = sched.value_at(np.array([[a]]))[:, 0, :]
            f = lambda t, yy: cm.rhs(t, yy[:, None], p, c, u)[:, 0]  # noqa: E731
            r = solve_ivp(f, (a, b), y, method="LSODA", rtol=RTOL, atol=ATOL, dense_output=True)
            nfev += r.nfev
            inside = (TS >= a) & ((TS < b) | (b == 180.0))
            if inside.any():
                states[inside] = r.sol(TS[inside]).T
            y = r.y[:, -1]
        grid = np.broadcast_to(TS[:, None], (len(TS), 1))
        obs = cm.observe(grid, states.T[:, :, None], p[:, None, :], c[:, None, :], sched.value_at(grid))
        out[k] = np.stack([np.asarray(obs[name])[:, 0] for name in OUTPUTS])
    return out, nfev / params.shape[1]


# -- measurement helpers -----------------------------------------------------------------
def timed(fn, *args):
    t = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - t


def pool_run(ctx, initializer, worker, params, processes=2):
    n = params.shape[1]
    parts = [(params[:, s],) for s in np.array_split(np.arange(n), processes * 4) if len(s)]
    with ctx.Pool(processes, initializer=initializer) as pool:
        pool.map(worker, [(params[:, :2],)] * processes)  # warm every worker
        t = time.perf_counter()
        pieces = pool.map(worker, parts)
        dt = time.perf_counter() - t
    return np.concatenate(pieces), dt


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Largest difference relative to each output's range over the patients compared."""
    scale = np.abs(b).max(axis=(0, 2), keepdims=True) + 1e-30
    return float(np.max(np.abs(a - b) / scale))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def row(name, n, dt, steps="", extra=""):
    print(f"  {name:40s} {n:>8d} {n / dt:>12,.0f} {dt:>9.2f} s {steps:>10s} {extra}")


def bench_config(stiff: bool, sizes, rr_max: int, scipy_n: int, ctx) -> dict:
    from ivigsim.engine.compiled import Auto, CompiledDopri5
    from ivigsim.engine.solver import Dopri5

    label = "stiff (immune-complex clearance 500/day, Fc-receptor release 100/day: 100x)" if stiff else "calibrated default"
    print(f"\n== {label} ==")
    print(f"  {'engine':40s} {'patients':>8s} {'patients/s':>12s} {'wall':>11s} {'steps/pt':>10s}")
    results: dict = {}
    ivigsim_solve(patients(8, stiff), Auto())  # compile or load the kernels outside the timings
    ivigsim_solve(patients(100, stiff), Auto())
    for n in sizes:
        params = patients(n, stiff)
        (values, steps, status), dt = timed(ivigsim_solve, params, Auto())
        rate2 = n / dt
        row("ivigsim Auto, 1 process x 2 threads", n, dt, f"{steps.mean():.0f}", f"failed {int((status != 0).sum())}")
        (_, _, _), dt1 = timed(ivigsim_solve, params, Auto(threads=1))
        row("ivigsim Auto, 1 process x 1 thread", n, dt1)
        _, dtp = pool_run(ctx, _ivigsim_worker_init, _ivigsim_worker, params)
        row("ivigsim Auto, 2-process pool", n, dtp)
        results[n] = {"ivigsim_2threads": rate2, "ivigsim_1thread": n / dt1, "ivigsim_pool2": n / dtp,
                      "steps": float(steps.mean())}
        if n <= 10_000:
            (_, s2, _), dte = timed(ivigsim_solve, params, CompiledDopri5())
            row("ivigsim CompiledDopri5 (explicit only)", n, dte, f"{s2.mean():.0f}")
            small = params[:, : min(n, 2000)]
            (_, s3, _), dtn = timed(ivigsim_solve, small, Dopri5(rtol=RTOL, atol=ATOL))
            row("ivigsim NumPy Dopri5 (previous engine)", small.shape[1], dtn, f"{s3.mean():.0f}")
        if n <= rr_max:
            _rr_init()
            rr_values, dtr = timed(rr_solve, params)
            row("libRoadRunner (CVODE), 1 process", n, dtr)
            _, dtr2 = pool_run(ctx, _rr_init, _rr_worker, params)
            row("libRoadRunner (CVODE), 2-process pool", n, dtr2)
            agree = agreement(values, rr_values)
            results[n] |= {"rr_1": n / dtr, "rr_pool2": n / dtr2, "agreement": agree}
            print(f"  -> ivigsim (1 process) / libRoadRunner (2-process pool): {rate2 / (n / dtr2):.1f}x; "
                  f"max difference from libRoadRunner {agree:.1e} of each output's range")
        if n == sizes[0] and scipy_n:
            sub = params[:, :scipy_n]
            (sp_values, nfev), dts = timed(scipy_solve, sub)
            row("scipy solve_ivp (LSODA) loop", scipy_n, dts, f"{nfev:.0f} fev")
            results["scipy"] = scipy_n / dts
            results["scipy_agreement"] = agreement(values[:, :, :][:scipy_n], sp_values)
        print(f"  peak RSS so far (this process): {peak_mb():.0f} MB")
    return results


MILLION_TRIAL = """
name: one million patients
seed: 7
size: 1000000
population:
  variability: {fcrn_km_g_per_L: 0.2, distribution_clearance_70kg_L_per_day: 0.25}
arms:
  - name: 2 g/kg over 5 days
    regimen: {course: {total_g_per_kg: 2.0, days: 5}}
endpoints:
  - {name: igg_day14, output: igg_total_g_per_L, at_day: 14, summary: median}
  - {name: autoantibody_below_70pct, output: autoantibody_fraction_of_baseline, window: [0, 60], over_window: any, criterion: "<= 0.7", summary: fraction}
  - {name: blockade_over, output: fcgr_blockade_fraction, window: [5, 180], criterion: "< 0.05", summary: time_to_event}
indication: cidp
simulation: {days: 180, output_every_days: 1}
"""


def million(size: int) -> None:
    print(f"\n== {size:,}-patient trial (ivigsim trial, one process, chunks of 8192) ==")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "million.yaml"
        path.write_text(MILLION_TRIAL.replace("size: 1000000", f"size: {size}"))
        # Peak RSS of the trial process itself: VmHWM from /proc (per address space; the
        # rusage of a child would carry over this process's own peak across fork + exec).
        code = ("import sys\nfrom ivigsim.cli import app\ntry:\n    app(args=sys.argv[1:], prog_name='ivigsim', "
                "standalone_mode=False)\nfinally:\n    print('VmHWM_kB', [l for l in open('/proc/self/status') "
                "if l.startswith('VmHWM')][0].split()[1], flush=True)")
        cmd = [sys.executable, "-c", code, "trial", str(path), "--out", str(Path(tmp) / "out"),
               "--chunk-size", "8192", "--quiet"]
        t = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t
        hwm = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("VmHWM_kB")]
        peak = f"{int(hwm[0]) / 1024:.0f} MB" if hwm else "unknown"
        print(f"  exit status {proc.returncode}; wall {wall:.0f} s ({size / wall:,.0f} patients/s); peak RSS {peak}")
        if proc.returncode:
            print(proc.stderr[-2000:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    ap.add_argument("--rr-max", type=int, default=10_000, help="largest size libRoadRunner is run at")
    ap.add_argument("--scipy", type=int, default=100, help="patients in the scipy loop (0: skip)")
    ap.add_argument("--million", type=int, default=1_000_000, help="size of the trial run (0: skip)")
    ap.add_argument("--quick", action="store_true", help="10^3 and 10^4 only, no large trial")
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.million = [1000, 10_000], 0
    import numba

    try:
        import roadrunner

        rr_version = roadrunner.__version__
    except ImportError:
        rr_version = None
        args.rr_max = 0
        print("libRoadRunner is not installed: its columns are skipped (pip install libroadrunner)")
    print(textwrap.dedent(f"""\
        ivigsim engine benchmark: {os.cpu_count()} cores, Python {sys.version.split()[0]}, numpy {np.__version__},
        numba {numba.__version__}, libroadrunner {rr_version}; rtol {RTOL}, atol {ATOL}, {len(OUTPUTS)} outputs x {len(TS)} days"""))
    if args.million:
        million(args.million)
    ctx = mp.get_context("spawn")
    summary = {}
    for stiff in (False, True):
        summary[stiff] = bench_config(stiff, args.sizes, args.rr_max, args.scipy, ctx)
    print("\n== ratios (ivigsim one process, 2 threads / libRoadRunner 2-process pool) ==")
    for stiff, res in summary.items():
        for n, r in res.items():
            if isinstance(n, int) and "rr_pool2" in r:
                goal = 4 if stiff else 10
                print(f"  {'stiff' if stiff else 'default':8s} n={n:>7d}: {r['ivigsim_2threads'] / r['rr_pool2']:5.1f}x "
                      f"(goal {goal}x); ivigsim 2-process pool {r['ivigsim_pool2'] / r['rr_pool2']:5.1f}x; "
                      f"vs scipy loop {r['ivigsim_2threads'] / res['scipy']:.0f}x" if "scipy" in res else "")


if __name__ == "__main__":
    main()
