"""ivigsim against libRoadRunner on a response-guided CIDP trial: one command, one table.

    .venv/bin/python benchmarks/rules_benchmark.py                      # 1,000 and 4,000 patients
    .venv/bin/python benchmarks/rules_benchmark.py --sizes 300          # a quick check
    nohup .venv/bin/python benchmarks/rules_benchmark.py --json /tmp/rules.json > /tmp/rules.log 2>&1 &

Issue #13's goal: throughput at least 10x libRoadRunner's 2-process pool on a response-guided
trial (a benchmark, not a test: numbers depend on the machine).

**The trial** (``TRIAL``, docs/trials.md "Response-guided dosing"): the ICE CIDP population of
``examples/trials/cidp-taper.yaml`` (INCAT 2-9 at inclusion), untreated at day 0, 420 days,
daily outputs (INCAT and total IgG). The arm gives a 2 g/kg loading course over 2 days, then
visits every 21 days from day 21 (19 visits): INCAT is read at the visit (a trough, before
that visit's infusion); a *relapse* is INCAT not at least 1 point better than on day 0
(``relapse: "change > -1"``: non-response, or the improvement lost). A relapsing patient is
re-treated (2 g/kg over 2 days, in place of the maintenance dose); a stable one gets the
maintenance dose (1 g/kg to start), cut to 75, 50, 25 and 0 % of it after every 2 stable
visits in a row; a relapse after a cut sends the dose back to the last effective one and stops
tapering. Simpler than ``cidp-taper.yaml``'s arms (no 26-week run-in and selection), with
re-treatment and tapering both exercised: the decisions differ from patient to patient.

**ivigsim**: the trial runner's own path for a rules arm: the population screened
(``screen_trial``) and drawn (``draw``, as ``run_chunk`` draws it), then
``ivigsim.trial.rules.solve_with_rules`` (the compiled engine, ``Auto``, all patients advanced
together visit by visit, numba threads over patients). Timed: ``solve_with_rules`` only (the
solve and the decisions; the runner's adverse events, endpoints and files are not counted, and
libRoadRunner does none of them either).

**libRoadRunner peer** (2.x, CVODE), the same patients (the parameter columns and dosing
weights drawn once, above, and sent to the workers), rtol 1e-6, atol 1e-9, in a 2-process
pool (each worker loads the SBML once; warmed before timing). The model is ivigsim's own SBML
export (``export_sbml``) of a CIDP scenario *without* a regimen. ``export_sbml`` encodes the
infusion input as a non-constant parameter (``ivig_infusion_g_per_day``) set by one SBML event
per breakpoint of the compiled regimen (``time >= t_k``: persistent, values from trigger time);
with no regimen there are no events and the parameter is 0. The peer adds (with libSBML, here,
not in the library) ``SLOTS`` events of the same form whose time and rate are parameters
(``bp_t_k``, ``bp_r_k``: ``time >= bp_t_k`` sets the rate to ``bp_r_k``). Per patient:
``resetAll``, parameters, derived constants and initial state set (as
``scenarios_benchmark.py``); then per interval between visits the rate at the interval's
start, and a slot per breakpoint inside it (the edges of each infusion's label-titration
windows, times the dosing weight; unused slots at 1e30), are set, and one ``simulate`` runs to
the next visit (the daily output times inside, the visit last). So the jumps are events of
CVODE's own (it stops at each and restarts), exactly as the exported regimen's events are, and
the decided doses go in interval by interval. Why this way: a per-patient SBML with that
patient's schedule would need the decisions before the solve (they are made during it) and a
new model compilation per patient (about 0.2 s, more than the patient's whole solve); setting
the rate parameter between one ``simulate`` per piece of constant rate (about 119 calls per
patient instead of 20) agreed with the events to 9e-7 but took 20-25 % more CPU time (60
patients, measured when this was written).

The decisions in the peer are **re-implemented** per patient in a few lines
(``_decide``), not taken from ``ivigsim.trial.rules``: there they are NumPy arrays over the
patients, interleaved with the batched engine calls in ``solve_with_rules`` (not a pure
function of one patient's readouts). What the peer does reuse: the relapse comparison
(``Rules.relapse.holds``, a pure function of the measured value) and the compilation of a
dose into label-titrated infusion windows (``_Doses.course``: the product's rates, no
decision in it).

**Agreement**: the doses per patient (every infusion's day and g/kg) must be the same in
both engines but for a handful of threshold-borderline patients (whose INCAT at some visit
lies within the solvers' errors of the relapse threshold: the two engines then decide
differently, and the courses part). Reported: the patients whose doses differ, the largest
|INCAT at the visit - threshold| among them (borderline: near 0), the largest readout
difference at the visits and of the daily outputs over the patients decided alike
(relative to each output's range).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scenarios_benchmark import ATOL, RTOL  # the same tolerances as every scenario
DAYS = 420


def trial_doc(size: int) -> dict:
    """The response-guided CIDP trial (see the module docstring), ``size`` patients."""
    return {
        "name": "rules benchmark: CIDP re-treatment and taper at 21-day visits",
        "disease": "cidp", "seed": 2023, "size": int(size),
        "population": {"parameters": {"incat_baseline": 4.5, "cidp_remission": 0.25},
                       "variability": {"incat_baseline": 0.35, "cidp_remission": 1.4},
                       "inclusion": ["incat_score >= 2", "incat_score <= 9"]},
        "regimens": {"load": {"course": {"total_g_per_kg": 2.0, "days": 2}}},
        "arms": [{"name": "re-treat and taper", "regimen": "load", "rules": {
            "assess_every_days": 21, "first_visit_day": 21, "readout": "incat_score", "relapse": "change > -1",
            "maintenance_g_per_kg": 1.0, "on_relapse": {"dose_g_per_kg": 2.0, "over_days": 2},
            "taper": {"stable_visits": 2, "steps": [0.75, 0.5, 0.25, 0]}}}],
        "endpoints": [{"name": "incat_end", "output": "incat_score", "at_day": DAYS, "summary": "mean"},
                      {"name": "igg_end", "output": "igg_total_g_per_L", "at_day": DAYS, "summary": "median"}],
        "simulation": {"days": DAYS, "output_every_days": 1, "rtol": RTOL, "atol": ATOL, "method": "auto"},
    }


class Setup:
    """The trial, its compiled model, and the patients as the runner draws them."""

    def __init__(self, size: int, draw_patients: bool = True):
        from ivigsim.io.trial_file import parse_trial
        from ivigsim.model.library import compiled_model

        self.size = size
        self.trial = parse_trial(trial_doc(size))
        self.arm = self.trial.arms[0]
        self.sub = self.trial.groups()[0]
        self.model = compiled_model(self.trial.disease, False)
        self.ts = self.trial.output_times()
        self.outputs = tuple(self.trial.needed_outputs())
        if draw_patients:
            from ivigsim.population import CounterRNG, draw
            from ivigsim.trial import runner

            screening = runner.screen_trial(self.trial, self.model)[0]
            ids = np.asarray(screening.candidates, dtype=np.int64)
            rng = CounterRNG(self.trial.seed)
            patients = draw(self.sub.population, self.model, rng, ids, runner._group_stream(self.trial, 0, self.sub))
            self.params = patients.parameters.copy()  # no arm overrides in this trial
            self.weights = runner._dosing_weights(self.arm, patients)
            self.plan = runner._per_kg_plan(self.trial, self.arm, self.sub.indication)


# -- ivigsim -------------------------------------------------------------------------------
def ivigsim_run(s: Setup, n: int):
    """(daily outputs (n, K, T), doses per patient [(day, g/kg), ...], relapses, cuts)."""
    from ivigsim.trial.rules import solve_with_rules

    observed, ruled = solve_with_rules(s.trial, s.arm, s.model, s.params[:, :n], s.weights[:n], s.ts,
                                       s.sub.indication, s.plan, None)
    g = ruled.g_per_kg()
    day = np.array([i.start_day for i in ruled.infusions] + [np.nan])[np.where(ruled.given >= 0, ruled.given,
                                                                                len(ruled.infusions))]
    doses = [tuple((round(float(d), 9), float(x)) for d, x in zip(dr, gr) if np.isfinite(x)) for dr, gr in zip(day, g)]
    values = np.stack([observed.output(k) for k in s.outputs], axis=1)
    return values, doses, ruled.relapses, ruled.cuts


# -- libRoadRunner -------------------------------------------------------------------------
_RR = None
#: Breakpoint events in the peer's SBML: the most rate changes strictly inside one interval
#: between visits (a 2-day course: 2 infusions of 5 titration windows, 11 edges).
SLOTS = 16


def with_slots(text: str, rate: str) -> str:
    """``text`` (an exported SBML) with ``SLOTS`` events ``time >= bp_t_k`` -> ``rate = bp_r_k``
    (as ``export_sbml`` writes a regimen's breakpoints, their time and value parameters)."""
    import libsbml

    doc = libsbml.readSBMLFromString(text)
    m = doc.getModel()
    rate_unit = m.getParameter(rate).getUnits()
    time_unit = m.getTimeUnits() or "dimensionless"
    for k in range(SLOTS):
        for name, unit, value in ((f"bp_t_{k}", time_unit, 1e30), (f"bp_r_{k}", rate_unit, 0.0)):
            p = m.createParameter()
            p.setId(name)
            p.setConstant(False)
            p.setValue(value)
            p.setUnits(unit)
        e = m.createEvent()
        e.setId(f"bp_{k}")
        e.setUseValuesFromTriggerTime(True)
        trigger = e.createTrigger()
        trigger.setInitialValue(False)
        trigger.setPersistent(True)
        trigger.setMath(libsbml.parseL3Formula(f"time >= bp_t_{k}"))
        a = e.createEventAssignment()
        a.setVariable(rate)
        a.setMath(libsbml.parseL3Formula(f"bp_r_{k}"))
    return libsbml.writeSBMLToString(doc)


def _rr_init(size: int) -> None:
    global _RR
    from scenarios_benchmark import roadrunner_for  # the same peer set-up (this folder is on sys.path)

    from ivigsim.io.sbml import export_sbml
    from ivigsim.io.scenario_file import parse_scenario
    from ivigsim.simulation import INFUSION_INPUT
    from ivigsim.trial.rules import _Doses, dose_regimen

    s = Setup(size, draw_patients=False)
    m = s.model.model
    scenario = parse_scenario({"name": "rules benchmark (no regimen: the peer sets the infusion rate)",
                               "disease": "cidp", "simulation": {"days": DAYS}, "patient": {"weight_kg": 70}})
    text = export_sbml(scenario, s.model)
    assert "<event" not in text  # no regimen, no events: the rate parameter is the peer's to set
    rr, gp, gidx, keep, state_sp, state_gp = roadrunner_for(with_slots(text, INFUSION_INPUT), m)
    rr.timeCourseSelections = ["time", *s.outputs]
    doses = _Doses(dose_regimen(s.arm), s.sub.indication)
    from ivigsim.trial import runner

    plan = runner._per_kg_plan(s.trial, s.arm, s.sub.indication)  # the loading course, given as written
    fixed = [(w.start_day, w.end_day, w.rate_g_per_day) for inf in plan.infusions for w in inf.windows
             if w.start_day < DAYS]
    fixed_doses = [(round(float(inf.start_day), 9), float(inf.g_per_kg)) for inf in plan.infusions]
    _RR = {"rr": rr, "s": s, "gidx": gidx, "keep": keep,
           "sp_idx": np.array([j for _, j in state_sp], dtype=np.int32), "sp_rows": [i for i, _ in state_sp],
           "gp_idx": np.array([j for _, j in state_gp], dtype=np.int32), "gp_rows": [i for i, _ in state_gp],
           "rate": np.array([gp.index(INFUSION_INPUT)], dtype=np.int32), "doses": doses, "fixed": fixed,
           "slot_t": np.array([gp.index(f"bp_t_{k}") for k in range(SLOTS)], dtype=np.int32),
           "slot_r": np.array([gp.index(f"bp_r_{k}") for k in range(SLOTS)], dtype=np.int32),
           "fixed_doses": fixed_doses,
           "windows": {}}


def _course(day: float, g_per_kg: float, days: int) -> list[tuple[float, float, float]]:
    """Per-kg (start, end, rate) windows of ``g_per_kg`` over ``days`` daily infusions from ``day``
    (the product's label titration: ivigsim's dose compiler, no decision in it)."""
    key = (day, g_per_kg, days)
    cache = _RR["windows"]
    if key not in cache:
        d = _RR["doses"]
        cache[key] = [(w.start_day, w.end_day, w.rate_g_per_day)
                      for i in d.course(day, g_per_kg, days) for w in d.infusions[i].windows if w.start_day < DAYS]
    return cache[key]


def _decide(st: dict, x: float, rules, start: float):
    """One visit's decision for one patient (re-implemented from docs/trials.md, in its order):
    relapse check against day 0; back to the last effective dose on a relapse after a cut;
    stable count and taper cut; re-treatment in place of maintenance. Returns (maintenance
    g/kg, re-treat?)."""
    from ivigsim.dosing.regimen import MIN_G_PER_KG_PER_INFUSION

    ok = bool(np.isfinite(x))
    holds = ok and bool(rules.relapse.holds(np.array([x - st["reference"]]))[0])  # measure: change
    st["relapses"] += holds and not st["held"]
    st["held"] = holds
    if holds and st["tapering"] and st["cuts"] > 0:
        st["dose"], st["tapering"] = st["last"], False
    st["stable"] = 0 if holds else st["stable"] + ok
    t = rules.taper
    if not holds and ok and st["tapering"] and st["stable"] >= t.stable_visits and st["dose"] > 0 \
            and st["step"] < len(t.steps):
        new = max(t.steps[st["step"]] * start, t.floor_g_per_kg)
        new = 0.0 if new < MIN_G_PER_KG_PER_INFUSION else new
        if new < st["dose"]:
            st["last"], st["dose"] = st["dose"], new
            st["step"] += 1
            st["cuts"] += 1
            st["stable"] = 0
    return (0.0 if (holds or not ok) else st["dose"]), holds


def rr_patient(p: np.ndarray, c: np.ndarray, y0: np.ndarray, weight: float):
    """One patient visit by visit: (daily outputs (K, T), doses [(day, g/kg)], relapses, cuts, readouts at visits)."""
    R = _RR
    rr, s = R["rr"], R["s"]
    rules = s.arm.rules
    ts = s.ts
    rr.resetAll()
    rr.model.setGlobalParameterValues(R["gidx"], np.concatenate([p, c])[R["keep"]])
    rr.model.setFloatingSpeciesAmounts(R["sp_idx"], y0[R["sp_rows"]])
    if R["gp_rows"]:
        rr.model.setGlobalParameterValues(R["gp_idx"], y0[R["gp_rows"]])
    out = np.full((len(s.outputs), len(ts)), np.nan)
    windows = list(R["fixed"])
    doses = list(R["fixed_doses"])  # the loading course, as written
    start = float(rules.maintenance_g_per_kg)
    st = {"dose": start, "last": start, "stable": 0, "step": 0, "tapering": True, "held": False,
          "relapses": 0, "cuts": 0, "reference": np.nan}
    readouts = []
    t = 0.0
    for v in [*rules.visits(DAYS), float(DAYS)]:
        # The rate at t, and one event slot per breakpoint of the rate in (t, v); one simulate to v.
        edges = sorted({e for w in windows for e in w[:2] if t < e < v})
        assert len(edges) <= SLOTS
        slot_t = np.full(SLOTS, 1e30)
        slot_r = np.zeros(SLOTS)
        slot_t[:len(edges)] = edges
        slot_r[:len(edges)] = [weight * sum(w[2] for w in windows if w[0] <= e < w[1]) for e in edges]
        rr.model.setGlobalParameterValues(R["slot_t"], slot_t)
        rr.model.setGlobalParameterValues(R["slot_r"], slot_r)
        rr.model.setGlobalParameterValues(R["rate"], [weight * sum(w[2] for w in windows if w[0] <= t < w[1])])
        inside = np.flatnonzero((ts > t) & (ts < v))
        res = np.asarray(rr.simulate(times=[t, *ts[inside], v]))
        k0 = int(np.searchsorted(ts, t))
        if k0 < len(ts) and ts[k0] == t:
            out[:, k0] = res[0, 1:]
        out[:, inside] = res[1:-1, 1:].T
        last = res[-1, 1:]
        t = v
        if v >= DAYS:
            out[:, -1] = last
            break
        if np.isnan(st["reference"]):
            st["reference"] = out[s.outputs.index(rules.readout), 0]  # the day-0 value
        x = last[s.outputs.index(rules.readout)]
        readouts.append(x)
        dose, retreat = _decide(st, x, rules, start)
        if retreat:
            g, n_days = float(rules.on_relapse.g_per_kg), int(rules.on_relapse.over_days)
        else:
            g, n_days = dose, 1
        if g > 0:
            windows += _course(float(v), g, n_days)
            per = g / n_days
            doses += [(round(float(v) + d, 9), per) for d in range(n_days)]
    return out, tuple(doses), st["relapses"], st["cuts"], np.array(readouts)


def _rr_worker(args):
    """(outputs, doses, relapses, cuts, readouts, CPU seconds) for a block of patients."""
    size, params, weights = args
    if _RR is None:
        _rr_init(size)
    cpu = time.process_time()
    cm = _RR["s"].model
    with np.errstate(all="ignore"):
        consts = np.broadcast_to(cm.constants(params), (len(cm.model.constant_names), params.shape[1]))
        y0 = cm.initial(params, consts)
    res = []
    for k in range(params.shape[1]):
        try:
            res.append(rr_patient(params[:, k], consts[:, k], y0[:, k], float(weights[k])))
        except RuntimeError:
            res.append(None)
    return res, time.process_time() - cpu


def rr_pool(ctx, s: Setup, n: int, processes: int = 2):
    parts = [(s.size, s.params[:, idx], s.weights[idx]) for idx in np.array_split(np.arange(n), processes * 4) if len(idx)]
    with ctx.Pool(processes) as pool:
        pool.map(_rr_worker, [(s.size, s.params[:, :2], s.weights[:2])] * processes)  # load the SBML in every worker
        t = time.perf_counter()
        pieces = pool.map(_rr_worker, parts)
        dt = time.perf_counter() - t
    return [r for part, _ in pieces for r in part], dt, sum(cpu for _, cpu in pieces)


# -- comparison ----------------------------------------------------------------------------
def compare(s: Setup, iv, rr_results) -> dict:
    values, doses, relapses, cuts = iv
    rules = s.arm.rules
    r_col = s.outputs.index(rules.readout)
    visit_cols = np.searchsorted(s.ts, rules.visits(DAYS))
    ok = np.array([r is not None for r in rr_results])
    same = np.array([r is not None and r[1] == doses[i] for i, r in enumerate(rr_results)])
    # How near the threshold each differing patient was: the smallest |change - threshold| over its
    # visits up to the first dose that differs (either engine's readout).
    threshold = rules.relapse.value
    margins = []
    for i in np.flatnonzero(ok & ~same):
        a, b = doses[i], rr_results[i][1]
        first = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
        day = min(a[first][0] if first < len(a) else DAYS, b[first][0] if first < len(b) else DAYS)
        upto = visit_cols[s.ts[visit_cols] <= day + 1e-9]
        ch = values[i, r_col, upto] - values[i, r_col, 0]
        margins.append(float(np.abs(ch - threshold).min()) if len(ch) else float("nan"))
    alike = ok & same
    rv = np.stack([r[0] for r, a in zip(rr_results, alike) if a]) if alike.any() else np.zeros((0,) + values.shape[1:])
    iv_alike = values[alike]
    rng = rv.max(axis=(0, 2)) - rv.min(axis=(0, 2)) if len(rv) else np.ones(len(s.outputs))
    daily = (np.abs(iv_alike - rv).max(axis=(0, 2)) / np.maximum(rng, 1e-30)) if len(rv) else np.zeros(len(s.outputs))
    rr_visits = np.stack([r[4] for r, a in zip(rr_results, alike) if a]) if alike.any() else np.zeros((0, len(visit_cols)))
    visit_diff = float(np.abs(iv_alike[:, r_col, visit_cols] - rr_visits).max()) if len(rv) else float("nan")
    n_doses = np.array([len(d) for d in doses])
    return {"rr_failed": int((~ok).sum()), "dose_mismatch": int((ok & ~same).sum()),
            "mismatch_margin_max": max(margins, default=float("nan")),
            "readout_visit_max_diff": visit_diff,
            "daily_max_diff_of_range": {k: float(d) for k, d in zip(s.outputs, daily)},
            "relapsed_share": float((relapses > 0).mean()), "mean_cuts": float(cuts.mean()),
            "mean_infusions": float(n_doses.mean()),
            "distinct_courses": len(set(doses))}


def bench(s: Setup, n: int, ctx) -> dict:
    r: dict = {"n": n, "visits": len(s.arm.rules.visits(DAYS)), "days": DAYS}
    t, cpu = time.perf_counter(), time.process_time()
    iv = ivigsim_run(s, n)
    r["ivigsim_s"] = time.perf_counter() - t
    r["ivigsim"] = n / r["ivigsim_s"]
    r["ivigsim_cpu"] = n / (time.process_time() - cpu)
    rr_results, dt, rr_cpu = rr_pool(ctx, s, n)
    r["rr_s"] = dt
    r["rr_pool2"] = n / dt
    r["rr_cpu"] = n / rr_cpu
    r["ratio"] = r["ivigsim"] / r["rr_pool2"]
    r["ratio_cpu"] = r["ivigsim_cpu"] / r["rr_cpu"]
    r |= compare(s, iv, rr_results)
    return r


HEADER = (f"  {'n':>6s} {'visits':>6s} {'ratio':>6s} {'cpu':>6s} {'ivigsim/s':>9s} {'RR2/s':>7s} {'iv cpu/s':>8s} "
          f"{'RR cpu/s':>8s} {'infus':>5s} {'relap%':>6s} {'courses':>7s} {'differ':>6s} {'margin':>8s} "
          f"{'visit dx':>8s} {'daily/range':>11s} {'fail':>4s}")


def line(r: dict) -> str:
    daily = max(r["daily_max_diff_of_range"].values(), default=float("nan"))
    return (f"  {r['n']:>6d} {r['visits']:>6d} {r['ratio']:>5.1f}x {r['ratio_cpu']:>5.1f}x {r['ivigsim']:>9,.0f} "
            f"{r['rr_pool2']:>7,.1f} {r['ivigsim_cpu']:>8,.0f} {r['rr_cpu']:>8,.1f} {r['mean_infusions']:>5.1f} "
            f"{100 * r['relapsed_share']:>5.0f}% {r['distinct_courses']:>7d} {r['dose_mismatch']:>6d} "
            f"{r['mismatch_margin_max']:>8.1e} {r['readout_visit_max_diff']:>8.1e} {daily:>11.1e} {r['rr_failed']:>4d}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000])
    ap.add_argument("--json", type=Path, default=None, help="write every row here as JSON")
    args = ap.parse_args()
    import numba
    import roadrunner

    print(textwrap.dedent(f"""\
        ivigsim rules benchmark: {os.cpu_count()} cores, Python {sys.version.split()[0]}, numpy {np.__version__},
        numba {numba.__version__} ({numba.config.NUMBA_NUM_THREADS} threads), libroadrunner {roadrunner.__version__};
        rtol {RTOL}, atol {ATOL}; CIDP, {DAYS} days, 2 g/kg load, visits every 21 days: re-treat (2 g/kg) if INCAT is
        not 1 point better than day 0, else maintenance 1 g/kg tapered 75/50/25/0 % after 2 stable visits.
        ratio = ivigsim solve_with_rules (all threads) / libRoadRunner 2-process pool, patients/s (wall);
        cpu = the same per CPU second; differ = patients whose doses differ between the engines;
        margin = their largest distance of INCAT change from the threshold (borderline: small);
        visit dx = largest INCAT difference at a visit, daily/range = largest daily-output difference
        / range (patients decided alike)"""))
    t0 = time.perf_counter()
    s = Setup(max(args.sizes))
    print(f"  population: {s.params.shape[1]} patients screened and drawn in {time.perf_counter() - t0:.1f} s", flush=True)
    t = time.perf_counter()
    ivigsim_run(s, min(64, max(args.sizes)))  # compile or load the kernel outside the timings
    print(f"  ivigsim warm-up: {time.perf_counter() - t:.1f} s", flush=True)
    ctx = mp.get_context("spawn")
    rows = []
    print(HEADER, flush=True)
    for n in args.sizes:
        r = bench(s, n, ctx)
        rows.append(r)
        print(line(r), flush=True)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1))
    print(f"\n== worst ratio first (goal: 10x libRoadRunner's 2-process pool) ==  [{time.perf_counter() - t0:.0f} s]")
    print(HEADER)
    for r in sorted(rows, key=lambda r: r["ratio"]):
        print(line(r))
    for r in rows:
        print(f"  n={r['n']}: doses agree for {r['n'] - r['dose_mismatch'] - r['rr_failed']} of {r['n']} patients; "
              f"{r['dose_mismatch']} differ (largest distance from the threshold {r['mismatch_margin_max']:.1e} INCAT "
              f"points); largest INCAT difference at a visit {r['readout_visit_max_diff']:.1e}; daily outputs "
              + ", ".join(f"{k} {v:.1e}" for k, v in r["daily_max_diff_of_range"].items()) + " of range")


if __name__ == "__main__":
    main()
