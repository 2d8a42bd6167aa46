"""ivigsim against libRoadRunner on every shipped scenario: one command, one table, worst first.

    .venv/bin/python benchmarks/scenarios_benchmark.py                 # 10^3 and 10^4 patients, wall time
    .venv/bin/python benchmarks/scenarios_benchmark.py --large         # ... and 10^5 (ivigsim only above --rr-max)
    .venv/bin/python benchmarks/scenarios_benchmark.py --cpu --sizes 2000   # one core vs one core, CPU seconds
    .venv/bin/python benchmarks/scenarios_benchmark.py --only itp      # cases whose label contains "itp"
    nohup .venv/bin/python benchmarks/scenarios_benchmark.py --json /tmp/bench.json > /tmp/bench.log 2>&1 &

The table at the end lists every case worst ratio first (goals: 10x libRoadRunner's
2-process pool on every scenario, 4x on the stiff configuration). On a shared machine wall
times scatter (two threads ran 1.4x to 1.9x one thread on the same case within an hour), so the
engines take turns, ``--rounds`` rounds at each size (3 by default), each engine's least time
counts and the ratio within each round is printed beside it; ``--cpu`` measures one core
against one core in CPU seconds the same way (even CPU time moves by 20-30 % between runs of
the same computation here; docs/performance.md).

Cases: every example scenario (``examples/*.yaml``, as ``ivigsim simulate`` reads it) and one
scenario per disease (its standard regimen, 180 days, daily outputs; ``none`` is the core model
with the CIDP 5-day label titration of ``engine_benchmark.py``). Each case in two
configurations: ``default`` (the scenario as written) and ``stiff`` (immune-complex clearance
500/day and Fc-receptor release 100/day, 100x the shipped values).

For each case and configuration, the same patients for every engine: the scenario's own
parameter column (disease defaults, patient, mechanism switches, the file's parameters) with
between-subject variability drawn once from ivigsim's counter-based stream (the disease's own
CVs plus the PK CVs of ``engine_benchmark.py``), the scenario's weight, regimen and output
grid. Same tolerances (rtol 1e-6, atol 1e-9), same outputs (total IgG, autoantibody fraction,
Fc-receptor blockade and the disease's readouts, at every output time of the scenario).
libRoadRunner simulates ivigsim's own SBML export of the scenario (``export_sbml``), per
patient: ``resetAll``, set parameters, derived constants and initial state, ``simulate``.

Engines: ivigsim ``Auto`` in one process (numba threads, all cores) and in one thread;
ivigsim's ``Rodas4`` and explicit ``CompiledDopri5`` (for the method-choice study);
libRoadRunner 2.x (CVODE) in one process and in a 2-process pool (each worker loads the
SBML once; warmed before timing). Agreement: the largest |ivigsim - libRoadRunner| over
patients and times, relative to each output's range (max - min over every patient and time),
over the patients both solved; and, to say which engine is off when they differ, each
against a tight reference (ivigsim at rtol 1e-11) on the first ``--ref`` patients. Not a
timed test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RTOL, ATOL = 1e-6, 1e-9
STIFF = {"immune_complex_clearance_per_day": 500.0, "fcgr_release_per_day": 100.0}  # 100x the shipped values
PK_CVS = {"baseline_igg_g_per_L": 0.219, "fcrn_igk": 0.263, "fcrn_km_g_per_L": 0.2,
          "distribution_clearance_70kg_L_per_day": 0.25}
COMMON_OUTPUTS = ("igg_total_g_per_L", "autoantibody_fraction_of_baseline", "fcgr_blockade_fraction")
#: Agreement asked for (of each output's range). Both engines run at rtol 1e-6, whose global
#: error over months of simulated time can be a few times that: where they differ by more,
#: the comparison with the tight reference says which one is off.
AGREE = 1e-5
#: A difference above this would mean the two engines do not solve the same model.
MISMATCH = 1e-3
DISEASE_WEIGHT = {"kawasaki": 20.0}


# -- cases -------------------------------------------------------------------------------
def cases() -> list[tuple[str, object]]:
    from ivigsim.io.scenario_file import load_scenario, parse_scenario

    out = [(f"example {p.stem}", load_scenario(p)) for p in sorted((ROOT / "examples").glob("*.yaml"))]
    out.append(("disease none (core, CIDP 5-day titration)", parse_scenario(
        {"name": "core", "regimen": {"course": {"total_g_per_kg": 2.0, "days": 5}}, "indication": "cidp",
         "simulation": {"days": 180}, "patient": {"weight_kg": 70}})))
    for d in ("itp", "mg", "gbs", "cidp", "kawasaki"):
        out.append((f"disease {d} (standard regimen)", parse_scenario(
            {"name": d, "disease": d, "regimen": {"standard": d}, "simulation": {"days": 180},
             "patient": {"weight_kg": DISEASE_WEIGHT.get(d, 70.0), "height_cm": 110 if d == "kawasaki" else 170,
                         "age_years": 5 if d == "kawasaki" else 50}})))
    return out


@dataclass
class Setup:
    label: str
    config: str
    scenario: object
    outputs: tuple[str, ...]
    ts: np.ndarray
    typical: np.ndarray  # (P, 1)
    cvs: dict
    model: object  # the scenario's compiled model (with the comparators a scenario may need)
    schedule: object  # the scenario's infusion schedule for one patient


def make_setup(label: str, scenario, stiff: bool) -> Setup:
    from ivigsim.model.library import get_disease
    from ivigsim.simulation import output_times, setup_scenario

    setup = setup_scenario(scenario)  # the model the scenario needs, as `ivigsim simulate` chooses it
    m = setup.model.model
    typical = setup.parameters[:, :1].copy()
    for k, v in (STIFF if stiff else {}).items():
        typical[m.parameter_names.index(k)] = v
    disease = get_disease(scenario.disease)
    outputs = tuple(dict.fromkeys([*COMMON_OUTPUTS, *(r.name for r in disease.readouts if r.name in m.output_names)]))
    cvs = {k: v for k, v in {**PK_CVS, **disease.variability}.items()
           if k in m.parameter_names and k not in scenario.parameters}
    return Setup(label, "stiff" if stiff else "default", scenario, outputs,
                 output_times(scenario.days, scenario.output_every_days), typical, cvs, setup.model, setup.schedule)


def patients(s: Setup, n: int) -> np.ndarray:
    """Parameters (P, n): the scenario's column with each patient's etas; the same for every engine."""
    from ivigsim.population import CounterRNG, Variability
    from ivigsim.population.variability import individual

    m = s.model.model
    params = np.repeat(s.typical, n, axis=1)
    names, etas = Variability(s.cvs).etas(m, CounterRNG(2024), "", np.arange(n))
    for name, eta in zip(names, etas):
        i = m.parameter_names.index(name)
        params[i] = individual(params[i], eta, m.parameter(name).variability_scale)
    return params


def schedule(s: Setup, n: int):
    from ivigsim.engine.schedule import InputSchedule

    one = s.schedule
    return InputSchedule(np.repeat(one.times, n, axis=0), np.repeat(one.values, n, axis=0))


# -- ivigsim -------------------------------------------------------------------------------
def ivigsim_solve(s: Setup, params: np.ndarray, solver):
    """(values (n, K, T), steps per patient, status, Rodas4 steps per patient)."""
    from ivigsim.engine.solve import Problem, SaveAt

    cm = s.model
    m = cm.model
    kinds = np.array([len(m.state_names) + m.output_names.index(k) for k in s.outputs], dtype=np.int64)
    out, stats = solver._run(Problem(cm, params, schedule(s, params.shape[1])), SaveAt(s.ts), kinds)
    return out, stats[:, 1] + stats[:, 2], stats[:, 0], stats[:, 3]


#: Above libRoadRunner's sizes, ivigsim solves in blocks of this many patients, keeping only
#: the step counts (a block's outputs are dropped), so --large fits in memory whatever the
#: output grid (Kawasaki's hourly outputs: 10^5 patients x 6 outputs x 1,441 times are 7 GB).
BLOCK = 10_000


def ivigsim_solve_blocks(s: Setup, params: np.ndarray, solver):
    """``ivigsim_solve`` block by block: (None, steps, status, Rodas4 steps)."""
    parts = [ivigsim_solve(s, params[:, a:a + BLOCK], solver)[1:] for a in range(0, params.shape[1], BLOCK)]
    return (None, *(np.concatenate([p[i] for p in parts]) for i in range(3)))


# -- libRoadRunner -------------------------------------------------------------------------
_RR = None


def roadrunner_for(sbml: str, m):
    """libRoadRunner on ``sbml`` at the benchmark's tolerances, and where ivigsim's parameters,
    derived constants and states of model ``m`` sit in it: (rr, global-parameter ids, global
    parameter index of each kept name, kept name indices, (state, species index) pairs,
    (state, global-parameter index) pairs). Shared with rules_benchmark.py."""
    import roadrunner

    rr = roadrunner.RoadRunner(sbml)
    integ = rr.getIntegrator()
    integ.setValue("relative_tolerance", RTOL)
    integ.setValue("absolute_tolerance", ATOL)
    integ.setValue("maximum_num_steps", 200_000)
    gp = list(rr.model.getGlobalParameterIds())
    sp = list(rr.model.getFloatingSpeciesIds())
    names = list(m.parameter_names) + list(m.constant_names)
    keep = [i for i, name in enumerate(names) if name in gp]
    state_sp = [(i, sp.index(x)) for i, x in enumerate(m.state_names) if x in sp]
    state_gp = [(i, gp.index(x)) for i, x in enumerate(m.state_names) if x in gp]
    return rr, gp, np.array([gp.index(names[i]) for i in keep], dtype=np.int32), keep, state_sp, state_gp


def _rr_init(s: Setup) -> None:
    global _RR
    from ivigsim.io.sbml import export_sbml

    rr, _, gidx, keep, state_sp, state_gp = roadrunner_for(export_sbml(s.scenario, s.model), s.model.model)
    _RR = (rr, s.model, s, gidx, keep, state_sp, state_gp)


def rr_solve(params: np.ndarray) -> np.ndarray:
    rr, cm, s, gidx, keep, state_sp, state_gp = _RR
    with np.errstate(all="ignore"):
        consts = np.broadcast_to(cm.constants(params), (len(cm.model.constant_names), params.shape[1]))
        y0 = cm.initial(params, consts)
    values = np.concatenate([params, consts])
    sp_idx = np.array([j for _, j in state_sp], dtype=np.int32)
    gp_idx = np.array([j for _, j in state_gp], dtype=np.int32)
    sp_rows = [i for i, _ in state_sp]
    gp_rows = [i for i, _ in state_gp]
    selections = ["time", *s.outputs]
    out = np.full((params.shape[1], len(s.outputs), len(s.ts)), np.nan)
    for k in range(params.shape[1]):
        rr.resetAll()
        rr.model.setGlobalParameterValues(gidx, values[keep, k])
        rr.model.setFloatingSpeciesAmounts(sp_idx, y0[sp_rows, k])
        if gp_rows:
            rr.model.setGlobalParameterValues(gp_idx, y0[gp_rows, k])
        try:
            res = rr.simulate(times=s.ts, selections=selections)
        except RuntimeError:
            continue
        out[k] = np.asarray(res)[:, 1:].T
    return out


def _rr_worker(args):
    """(outputs, CPU seconds this worker spent on them)."""
    label, config, params = args  # a scenario holds mapping proxies (not picklable): rebuilt here
    if _RR is None or (_RR[2].label, _RR[2].config) != (label, config):
        _rr_init(make_setup(label, dict(cases())[label], config == "stiff"))
    cpu = time.process_time()
    out = rr_solve(params)
    return out, time.process_time() - cpu


# -- measurement ---------------------------------------------------------------------------
#: CPU seconds of the last ``timed`` call (this process, every thread).
LAST_CPU = [0.0]


def timed(fn, *args):
    t, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    LAST_CPU[0] = time.process_time() - cpu
    return result, time.perf_counter() - t


def rr_pool(ctx, s: Setup, params: np.ndarray, processes: int = 2):
    n = params.shape[1]
    parts = [(s.label, s.config, params[:, idx]) for idx in np.array_split(np.arange(n), processes * 4) if len(idx)]
    with ctx.Pool(processes) as pool:
        pool.map(_rr_worker, [(s.label, s.config, params[:, :2])] * processes)  # load the SBML in every worker
        t = time.perf_counter()
        pieces = pool.map(_rr_worker, parts)
        dt = time.perf_counter() - t
    LAST_CPU[0] = sum(cpu for _, cpu in pieces)
    return np.concatenate([out for out, _ in pieces]), dt


def agreement(a: np.ndarray, b: np.ndarray) -> tuple[float, object, float]:
    """Largest |a - b| relative to each output's range over patients and times, the worst
    output's index; and, for 0/1 outputs (Kawasaki's fever: a threshold crossed a moment
    earlier flips a whole output time), the share of (patient, time) points that differ."""
    ok = np.isfinite(a).all(axis=(1, 2)) & np.isfinite(b).all(axis=(1, 2))
    if not ok.any():
        return float("nan"), "no patient solved by both", float("nan")
    a, b = a[ok], b[ok]
    # A 0/1 output: its values are 0 or 1 but for the rare time caught inside its (1e-6 wide) ramp.
    indicator = np.array([np.isin(b[:, k], (0.0, 1.0)).mean() > 0.999 for k in range(b.shape[1])])
    flips = float((np.abs(a[:, indicator] - b[:, indicator]) > 0.5).mean()) if indicator.any() else 0.0
    rng = b.max(axis=(0, 2)) - b.min(axis=(0, 2))
    scale = np.maximum(rng, 1e-9 * np.maximum(np.abs(b).max(axis=(0, 2)), 1e-30))
    per = np.where(indicator, 0.0, np.abs(a - b).max(axis=(0, 2)) / scale)
    k = int(np.argmax(per))
    return float(per[k]), k, flips


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(s: Setup, sizes, rr_max: int, rr1_max: int, methods: bool, ref_n: int, ctx,
          rounds: int = 3) -> list[dict]:
    """Wall time, ivigsim ``Auto`` on every thread against libRoadRunner's 2-process pool. Where
    both run, they take turns for ``rounds`` rounds (each engine once a round, so a slow spell of
    the shared machine falls on both) and each engine's least wall time counts; ``ratio_range``
    is the ratio within each round, lowest to highest. The same least-of-rounds for the CPU
    seconds."""
    from ivigsim.engine.compiled import Auto, CompiledDopri5, Rodas4

    from ivigsim.engine.compiled import LOCKSTEP_FROM, PARALLEL_FROM

    rows = []
    warm = patients(s, max(LOCKSTEP_FROM, 2 * PARALLEL_FROM))  # every entry point: lockstep, parallel, serial
    for solver in (Auto(rtol=RTOL, atol=ATOL), Auto(rtol=RTOL, atol=ATOL, threads=1)):
        ivigsim_solve(s, warm, solver)  # compile or load the kernel outside the timings
        ivigsim_solve(s, warm[:, :2 * PARALLEL_FROM], solver)
        ivigsim_solve(s, warm[:, :4], solver)
    for n in sizes:
        params = patients(s, n)
        r: dict = {"case": s.label, "config": s.config, "n": n, "outputs": len(s.outputs), "times": len(s.ts)}
        solve = ivigsim_solve if n <= max(rr_max, BLOCK) else ivigsim_solve_blocks
        (values, steps, status, stiff_steps), dt = timed(solve, s, params, Auto(rtol=RTOL, atol=ATOL))
        auto_cpu = LAST_CPU[0]
        r |= {"auto": n / dt, "auto_cpu": n / auto_cpu, "auto_steps": float(steps.mean()),
              "auto_rodas_steps": float(stiff_steps.mean()),
              "auto_rodas_patients": float((stiff_steps > 0).mean()), "auto_failed": int((status != 0).sum())}
        _, dt1 = timed(solve, s, params, Auto(rtol=RTOL, atol=ATOL, threads=1))
        r["auto_1thread"] = n / dt1
        if methods and n == sizes[0]:
            (_, st, fs, _), dtr = timed(ivigsim_solve, s, params, Rodas4(rtol=RTOL, atol=ATOL))
            r |= {"rodas4": n / dtr, "rodas4_steps": float(st.mean()), "rodas4_failed": int((fs != 0).sum())}
            (_, st, fs, _), dte = timed(ivigsim_solve, s, params, CompiledDopri5(rtol=RTOL, atol=ATOL))
            r |= {"dopri5": n / dte, "dopri5_steps": float(st.mean()), "dopri5_failed": int((fs != 0).sum())}
        if n <= rr_max:
            rr_values, dtp = rr_pool(ctx, s, params)
            rr_cpu = LAST_CPU[0]
            per_round = [dtp / dt]
            for _ in range(rounds - 1):
                _, dt_k = timed(solve, s, params, Auto(rtol=RTOL, atol=ATOL))
                dt, auto_cpu = min(dt, dt_k), min(auto_cpu, LAST_CPU[0])
                _, dtp_k = rr_pool(ctx, s, params)
                dtp, rr_cpu = min(dtp, dtp_k), min(rr_cpu, LAST_CPU[0])
                per_round.append(dtp_k / dt_k)
            r["auto"], r["auto_cpu"] = n / dt, n / auto_cpu
            r["rr_pool2"] = n / dtp
            r["rr_cpu"] = n / rr_cpu
            r["ratio_cpu"] = r["auto_cpu"] / r["rr_cpu"]
            r["ratio_range"] = (min(per_round), max(per_round))
            r["rr_failed"] = int((~np.isfinite(rr_values).all(axis=(1, 2))).sum())
            if n <= rr1_max:
                _rr_init(s)
                _, dtr1 = timed(rr_solve, params[:, :2])
                _, dtr1 = timed(rr_solve, params)
                r["rr_1"] = n / dtr1
            agree, worst, flips = agreement(values, rr_values)
            r["agreement"] = agree
            r["indicator_flips"] = flips
            r["agreement_output"] = s.outputs[worst] if isinstance(worst, int) else worst
            r["ratio"] = r["auto"] / r["rr_pool2"]
            if n == sizes[0] and ref_n:
                # Who is off: both against ivigsim at rtol 1e-11 (a tight reference) on the first patients.
                ref = ivigsim_solve(s, params[:, :ref_n], Auto(rtol=1e-11, atol=1e-14, max_steps=10**6))[0]
                r["auto_vs_ref"] = agreement(values[:ref_n], ref)[0]
                r["rr_vs_ref"] = agreement(rr_values[:ref_n], ref)[0]
        rows.append(r)
        print(line(r), flush=True)
    return rows


def bench_cpu(s: Setup, n: int, reps: int) -> dict:
    """One core against one core, in CPU seconds: ivigsim Auto on one thread, libRoadRunner in
    this process, the same ``n`` patients. CPU time depends less than wall time on what else the
    machine runs, but on this shared machine it still moves by 20-30 % between runs of the same
    computation: so the engines take turns (``reps`` rounds, each engine once a round, so drift
    in the machine's speed falls on all of them), each engine's least CPU time counts, and the
    ratio's spread over the rounds (ivigsim's and libRoadRunner's times of the same round) is
    reported beside it. Both engines scale to more cores by splitting patients (threads or
    processes), so the ratio is the per-core one."""
    from ivigsim.engine.compiled import Auto, CompiledDopri5, Rodas4

    params = patients(s, n)
    r: dict = {"case": s.label, "config": s.config, "n": n}
    solvers = {"auto": Auto(rtol=RTOL, atol=ATOL, threads=1), "rodas4": Rodas4(rtol=RTOL, atol=ATOL, threads=1),
               "dopri5": CompiledDopri5(rtol=RTOL, atol=ATOL, threads=1)}
    for solver in solvers.values():
        ivigsim_solve(s, params, solver)  # compile (or load) the entry point this size takes, before timing
    _rr_init(s)
    rr_solve(params[:, :2])
    rounds: dict[str, list[float]] = {key: [] for key in [*solvers, "rr"]}
    for _ in range(reps):
        for key, solver in solvers.items():
            timed(ivigsim_solve, s, params, solver)
            rounds[key].append(LAST_CPU[0])
        timed(rr_solve, params)
        rounds["rr"].append(LAST_CPU[0])
    for key in solvers:
        r[f"{key}_cpu"] = n / min(rounds[key])
    (values, steps, status, stiff_steps) = ivigsim_solve(s, params, solvers["auto"])
    r |= {"auto_steps": float(steps.mean()), "auto_rodas_steps": float(stiff_steps.mean()),
          "auto_failed": int((status != 0).sum())}
    r["rr_cpu"] = n / min(rounds["rr"])
    r["ratio_cpu"] = r["auto_cpu"] / r["rr_cpu"]
    per_round = [rr / auto for auto, rr in zip(rounds["auto"], rounds["rr"])]
    r["ratio_cpu_range"] = (min(per_round), max(per_round))
    r["best_method"] = max(("auto", "rodas4", "dopri5"), key=lambda k: r[f"{k}_cpu"])
    print(_cpu_row(r), flush=True)
    return r


CPU_HEADER = (f"  {'case':46s} {'config':7s} {'n':>6s} {'ratio':>7s} {'rounds':>11s} {'Auto/cpu-s':>9s} {'RR/cpu-s':>7s} "
              f"{'Rodas4':>9s} {'DP5':>9s} {'steps':>6s} {'Rodas':>6s}")


def _cpu_row(r: dict) -> str:
    low, high = r["ratio_cpu_range"]
    return (f"  {r['case'][:46]:46s} {r['config']:7s} {r['n']:>6d} {r['ratio_cpu']:6.1f}x {low:5.1f}-{high:4.1f}x "
            f"{r['auto_cpu']:9,.0f} {r['rr_cpu']:7,.0f} {r['rodas4_cpu']:9,.0f} {r['dopri5_cpu']:9,.0f} "
            f"{r['auto_steps']:6.0f} {r['auto_rodas_steps']:6.0f}")


HEADER = (f"  {'case':46s} {'config':7s} {'n':>6s} {'ratio':>6s} {'rounds':>11s} {'cpu':>6s} {'Auto/s':>8s} {'1 thr/s':>8s} {'RR2/s':>7s} "
          f"{'RR1/s':>6s} {'1v1':>5s} {'steps':>6s} {'Rodas':>6s} {'%stiff':>6s} {'Rodas4/s':>8s} {'st':>5s} "
          f"{'DP5/s':>8s} {'st':>6s} {'agree':>8s} {'iv-ref':>8s} {'rr-ref':>8s} {'fail':>5s}")


def _f(r, key, fmt, width):
    v = r.get(key)
    return f"{'':>{width}s}" if v is None else f"{v:>{width}{fmt}}"


def line(r: dict) -> str:
    one = r["auto_1thread"] / r["rr_1"] if r.get("rr_1") else None
    fails = r["auto_failed"] + r.get("rr_failed", 0)
    spread = f"{r['ratio_range'][0]:5.1f}-{r['ratio_range'][1]:4.1f}x" if r.get("ratio_range") else ""
    return (f"  {r['case'][:46]:46s} {r['config']:7s} {r['n']:>6d} {_f(r, 'ratio', '.1f', 5)}x {spread:>11s} "
            f"{_f(r, 'ratio_cpu', '.1f', 5)}x "
            f"{_f(r, 'auto', ',.0f', 8)} {_f(r, 'auto_1thread', ',.0f', 8)} {_f(r, 'rr_pool2', ',.0f', 7)} "
            f"{_f(r, 'rr_1', ',.0f', 6)} {'' if one is None else f'{one:4.1f}x':>5s} {_f(r, 'auto_steps', '.0f', 6)} "
            f"{_f(r, 'auto_rodas_steps', '.0f', 6)} {100 * r['auto_rodas_patients']:>5.0f}% {_f(r, 'rodas4', ',.0f', 8)} "
            f"{_f(r, 'rodas4_steps', '.0f', 5)} {_f(r, 'dopri5', ',.0f', 8)} {_f(r, 'dopri5_steps', '.0f', 6)} "
            f"{_f(r, 'agreement', '.1e', 8)} {_f(r, 'auto_vs_ref', '.1e', 8)} {_f(r, 'rr_vs_ref', '.1e', 8)} {fails:>5d}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    ap.add_argument("--large", action="store_true", help="also 10^5 patients (ivigsim only, above --rr-max)")
    ap.add_argument("--rr-max", type=int, default=10_000, help="largest size libRoadRunner's pool is run at")
    ap.add_argument("--rr1-max", type=int, default=1000,
                    help="largest size libRoadRunner in one process is run at (its rate per patient does not depend on n)")
    ap.add_argument("--only", nargs="+", default=None, help="cases whose label contains one of these words")
    ap.add_argument("--configs", nargs="+", default=["default", "stiff"], choices=["default", "stiff"])
    ap.add_argument("--no-methods", action="store_true",
                    help="skip ivigsim's Rodas4-only and Dopri5-only columns (measured at the first size only)")
    ap.add_argument("--ref", type=int, default=200,
                    help="patients compared with a tight reference (ivigsim at rtol 1e-11) at the first size (0: none)")
    ap.add_argument("--cpu", action="store_true",
                    help="one core against one core in CPU seconds only (no pools, no wall time): the steady "
                         "comparison on a shared machine; --sizes' first size, least of --reps runs")
    ap.add_argument("--reps", type=int, default=3, help="rounds with --cpu, each engine once a round (the least CPU "
                    "time counts; the ratio's spread over the rounds is printed beside it)")
    ap.add_argument("--rounds", type=int, default=3, help="wall time: rounds in which ivigsim and libRoadRunner's pool "
                    "take turns at each size both run (each engine's least time counts; the ratio's spread over the "
                    "rounds is printed beside it)")
    ap.add_argument("--json", type=Path, default=None, help="write every row here as JSON")
    args = ap.parse_args()
    sizes = [*args.sizes, *([100_000] if args.large else [])]
    import numba
    import roadrunner

    print(textwrap.dedent(f"""\
        ivigsim scenarios benchmark: {os.cpu_count()} cores, Python {sys.version.split()[0]}, numpy {np.__version__},
        numba {numba.__version__} ({numba.config.NUMBA_NUM_THREADS} threads), libroadrunner {roadrunner.__version__};
        rtol {RTOL}, atol {ATOL}; ratio = ivigsim Auto (1 process, all threads) / libRoadRunner 2-process pool;
        cpu = the same per CPU second (every thread and worker; steadier than wall time on a shared machine);
        1v1 = ivigsim Auto 1 thread / libRoadRunner 1 process; agree = max difference / output range;
        ratio and cpu: each engine's least time over {args.rounds} rounds taking turns; rounds: the ratio within each"""))
    rows: list[dict] = []
    t0 = time.perf_counter()
    if args.cpu:
        print(CPU_HEADER, flush=True)
        for label, scenario in cases():
            if args.only and not any(w in label for w in args.only):
                continue
            for config in args.configs:
                rows.append(bench_cpu(make_setup(label, scenario, config == "stiff"), sizes[0], args.reps))
                if args.json:
                    args.json.write_text(json.dumps(rows, indent=1))
        print(f"\n== one core against one core (CPU seconds), worst ratio first; goals 10x default, 4x stiff ==  "
              f"[{time.perf_counter() - t0:.0f} s]")
        print(CPU_HEADER)
        for r in sorted(rows, key=lambda r: r["ratio_cpu"]):
            print(_cpu_row(r))
        print("ratio: each engine's best round; rounds: the ratio within each round, lowest to highest")
        return
    print(HEADER, flush=True)
    ctx = mp.get_context("spawn")
    for label, scenario in cases():
        if args.only and not any(w in label for w in args.only):
            continue
        for config in args.configs:
            s = make_setup(label, scenario, config == "stiff")
            rows += bench(s, sizes, args.rr_max, args.rr1_max, not args.no_methods, args.ref, ctx, args.rounds)
            if args.json:
                args.json.write_text(json.dumps(rows, indent=1))
    print(f"\n== every case, worst ratio first (ivigsim Auto / libRoadRunner 2-process pool; goals: 10x default, "
          f"4x stiff) ==  [{time.perf_counter() - t0:.0f} s, peak RSS {peak_mb():.0f} MB]")
    print(HEADER)
    for r in sorted((r for r in rows if "ratio" in r), key=lambda r: r["ratio"]):
        print(line(r))
    compared = [r for r in rows if "agreement" in r]
    alone = [r for r in rows if "ratio" not in r]
    if alone:
        print("\nivigsim only (above --rr-max):")
        for r in alone:
            print(line(r))
    bad = [r for r in compared if not r["agreement"] <= AGREE]
    print(f"\nagreement with libRoadRunner within {AGREE:g} of each output's range: {len(compared) - len(bad)} of "
          f"{len(compared)} rows; within {MISMATCH:g} (same model, same patients): "
          f"{sum(r['agreement'] <= MISMATCH for r in compared)} of {len(compared)}")
    for r in bad:
        print(f"  above {AGREE:g}: {r['case']} {r['config']} n={r['n']}: {r['agreement']:.1e} ({r['agreement_output']})"
              + (f"; against the tight reference: ivigsim {r['auto_vs_ref']:.1e}, libRoadRunner {r['rr_vs_ref']:.1e}"
                 if "auto_vs_ref" in r else ""))
    flipped = [r for r in compared if r.get("indicator_flips", 0.0) > 0.0]
    if flipped:
        print("0/1 outputs (not in the numbers above): share of (patient, time) points where the engines differ, "
              "a threshold crossed within one output interval: "
              + "; ".join(f"{r['case']} {r['config']} n={r['n']}: {r['indicator_flips']:.1e}" for r in flipped))
    checked = [r for r in rows if "auto_vs_ref" in r]
    print(f"ivigsim within {AGREE:g} of each output's range from the tight reference: "
          f"{sum(r['auto_vs_ref'] <= AGREE for r in checked)} of {len(checked)} cases "
          f"(worst {max((r['auto_vs_ref'] for r in checked), default=float('nan')):.1e}; libRoadRunner's worst "
          f"{max((r['rr_vs_ref'] for r in checked), default=float('nan')):.1e})")


if __name__ == "__main__":
    main()
