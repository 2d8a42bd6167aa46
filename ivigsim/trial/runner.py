"""Run a trial in chunks: bounded memory, resumable, the same result however it is cut.

Patients are screened once (cheap: no ODE), then solved in chunks of patient numbers
[a, b) across every arm. Each chunk is reduced at once to one row per patient and arm
(covariates, solver status, one column per endpoint), written atomically as
``patients/chunk-AAAAAAAAA-BBBBBBBBB.parquet``; trajectories, when asked for, go to
``trajectories/`` in the same way, before the patient file, which marks the chunk done.
``resume=True`` skips the chunks whose patient file exists. Arm summaries are computed
from the patient files, so a resumed trial and an uninterrupted one are summarised by
the same code from the same bytes.

Patient *i*'s numbers depend only on (seed, arm stream, candidate number), and the
engine solves each patient independently of its batch, so the per-patient results do
not depend on the chunk size, the order chunks finish in, or the worker that ran them
(``tests/test_trial_determinism.py``).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ivigsim.dosing import dosing_weight_kg
from ivigsim.engine.outputs import solve_outputs
from ivigsim.engine.schedule import InputSchedule, Window
from ivigsim.engine.solve import Problem, SaveAt, Status
from ivigsim.errors import InputError
from ivigsim.io.results import atomic_path
from ivigsim.model.compose import CompiledModel
from ivigsim.model.library import compiled_model
from ivigsim.model.patient import Patient
from ivigsim.population import CounterRNG, Screening, draw, screen
from ivigsim.safety.events import EVENTS
from ivigsim.safety.trial import safety_columns, summarise_safety
from ivigsim.simulation import INFUSION_INPUT
from ivigsim.trial.spec import Arm, Trial

DEFAULT_CHUNK = 4096
MANIFEST = "trial.json"
SUMMARY = "summary.json"
PATIENTS = "patients"
TRAJECTORIES = "trajectories"


def arm_stream(trial: Trial, arm_index: int) -> str:
    return f"arm{arm_index}/" if trial.design == "parallel" else ""


def screen_trial(trial: Trial, model: CompiledModel | None = None) -> list[Screening]:
    """One screening per arm (the same one, shared, in a paired design)."""
    model = model or compiled_model(trial.disease)
    rng = CounterRNG(trial.seed)
    if trial.design == "paired":
        s = screen(trial.population, model, rng, trial.size, "")
        return [s] * len(trial.arms)
    return [screen(trial.population, model, rng, trial.size, arm_stream(trial, k)) for k in range(len(trial.arms))]


def _per_kg_plan(trial: Trial, arm: Arm):
    """The arm's infusions for 1 kg of dosing weight, those starting within the trial."""
    if arm.regimen is None:
        return None
    plan = replace(arm.regimen, dosing_weight="actual").compile(Patient(weight_kg=1.0), trial.indication)
    return replace(plan, infusions=tuple(i for i in plan.infusions if i.start_day < trial.days))


def _per_kg_schedule(model: CompiledModel, trial: Trial, plan) -> InputSchedule:
    """The arm's infusion windows for 1 kg of dosing weight (from ``_per_kg_plan``).

    Window times depend on g/kg and mg/kg/min only, and rates scale with the dosing
    weight, so one compilation serves every patient (``ivigsim.dosing.compiler``).
    """
    n_inputs = len(model.model.input_names)
    if plan is None:
        return InputSchedule.empty(1, n_inputs)
    index = model.model.input_names.index(INFUSION_INPUT)
    windows = [Window(w.start_day, w.end_day, w.rate_g_per_day, index) for w in plan.windows
               if w.start_day < trial.days]
    return InputSchedule.from_windows([windows], n_inputs)


def _dosing_weights(arm: Arm, patients) -> np.ndarray:
    kind = arm.regimen.dosing_weight if arm.regimen is not None else "actual"
    if kind == "actual":
        return patients.covariates.weight_kg.copy()
    out = np.empty(len(patients))
    for i in range(len(patients)):
        try:
            out[i] = dosing_weight_kg(patients.patient(i), kind)
        except InputError as exc:
            raise InputError(f"arms.{arm.name}.regimen.dosing_weight",
                             f"covariates that give a {kind} weight ({exc.expected})", exc.got) from None
    return out


def run_chunk(trial: Trial, start: int, stop: int, candidates: list[np.ndarray]) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Patients [start, stop) of every arm: one row per (arm, patient); optional trajectories."""
    model = compiled_model(trial.disease)
    m = model.model
    rng = CounterRNG(trial.seed)
    ts = trial.output_times()
    frames, trajectories = [], []
    for k, arm in enumerate(trial.arms):
        ids = np.asarray(candidates[k], dtype=np.int64)
        patients = draw(trial.population, model, rng, ids, arm_stream(trial, k))
        params = patients.parameters.copy()
        overrides = {**m.switch_overrides(arm.mechanisms), **arm.parameters}
        for name, value in overrides.items():
            params[m.parameter_names.index(name)] = value
        plan = _per_kg_plan(trial, arm)  # compiled once per arm and chunk: schedule and safety share it
        base = _per_kg_schedule(model, trial, plan)
        weights = _dosing_weights(arm, patients)
        n = len(ids)
        schedule = InputSchedule(np.broadcast_to(base.times, (n, base.times.shape[1])).copy(),
                                 base.values * weights[:, None, None])
        observed = solve_outputs(Problem(model, params, schedule), SaveAt(ts), trial.solver, trial.needed_outputs())
        columns: dict[str, object] = {
            "arm": np.full(n, arm.name, dtype=object),
            "patient": np.arange(start, stop, dtype=np.int64),
            "candidate": ids,
        }
        columns |= patients.covariates.as_columns()
        columns["dosing_weight_kg"] = weights
        columns["solver_status"] = np.array([Status(int(s)).name for s in observed.status], dtype=object)
        columns["solver_steps"] = observed.n_steps.astype(np.int64)
        columns["solver_rejected"] = observed.n_rejected.astype(np.int64)
        # Adverse events: each patient's risk over the arm's regimen and sampled events,
        # from the same counter-based stream (chunk-independent; ivigsim.safety.trial).
        covariates = patients.covariates.as_columns() | {"female": patients.covariates.female}
        columns |= safety_columns(plan, covariates, rng, ids, trial.risk_factors,
                                  stream=f"safety/{arm_stream(trial, k)}")
        for e in trial.endpoints:
            columns |= (e.from_column(columns[e.output]) if e.per_patient_column
                        else e.per_patient(ts, observed.output(e.output), trial.days))
        frames.append(pd.DataFrame(columns))
        n_traj = max(0, min(stop, trial.trajectories) - start)
        if n_traj:
            for j in range(n_traj):
                row = {"arm": arm.name, "patient": start + j, "time_day": ts}
                row |= {name: observed.output(name)[j] for name in trial.needed_outputs()}
                trajectories.append(pd.DataFrame(row))
    return pd.concat(frames, ignore_index=True), (pd.concat(trajectories, ignore_index=True) if trajectories else None)


@dataclass(frozen=True)
class ChunkJob:
    start: int
    stop: int

    @property
    def stem(self) -> str:
        return f"chunk-{self.start:09d}-{self.stop:09d}"


def chunk_jobs(size: int, chunk_size: int) -> list[ChunkJob]:
    return [ChunkJob(a, min(a + chunk_size, size)) for a in range(0, size, chunk_size)]


@dataclass(frozen=True)
class TrialResult:
    trial: Trial
    summary: dict
    patients: pd.DataFrame | None  # None when the run was written to disk only

    def text(self) -> str:
        return format_summary(self.summary)


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def _check_out(trial: Trial, out: Path, chunk_size: int, resume: bool) -> None:
    manifest = out / MANIFEST
    info = {"trial": trial.name, "fingerprint": trial.fingerprint(), "chunk_size": chunk_size,
            "size": trial.size, "arms": [a.name for a in trial.arms]}
    if manifest.exists():
        if not resume:
            raise InputError("--out", "a new or empty folder (or --resume to continue the trial written there)", str(out))
        try:
            old = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise InputError("--resume", f"a readable {MANIFEST} in the output folder", str(manifest)) from None
        if old.get("fingerprint") != info["fingerprint"]:
            raise InputError("--resume", "the same trial file and ivigsim version as the interrupted run",
                             f"a different trial (fingerprint {info['fingerprint']}, folder has {old.get('fingerprint')})")
        if old.get("chunk_size") != chunk_size:
            raise InputError("--chunk-size", f"the interrupted run's chunk size {old.get('chunk_size')}", chunk_size)
        return
    if out.exists() and any(out.iterdir()) and not resume:
        raise InputError("--out", "a new or empty folder (or --resume to continue the trial written there)", str(out))
    with atomic_path(manifest) as tmp:
        tmp.write_text(json.dumps(info, indent=2), encoding="utf-8")


def run_trial(trial: Trial, out: Path | None = None, chunk_size: int = DEFAULT_CHUNK, resume: bool = False,
              client=None, progress: bool = False, on_chunk: Callable[[ChunkJob], None] | None = None) -> TrialResult:
    """Run ``trial``; with ``out``, write per-patient files and the summary there.

    ``client``: a ``dask.distributed.Client`` to run chunks on (None: this process).
    ``on_chunk`` is called after each chunk is written (tests use it to interrupt a run).
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise InputError("--chunk-size", "a whole number of patients >= 1", chunk_size)
    screenings = screen_trial(trial)
    jobs = chunk_jobs(trial.size, chunk_size)
    done: set[str] = set()
    if out is not None:
        out = Path(out)
        _check_out(trial, out, chunk_size, resume)
        folder = out / PATIENTS
        if resume and folder.exists():
            done = {p.stem for p in folder.glob("chunk-*.parquet")}
            for leftover in [*folder.glob(".*.part"), *(out / TRAJECTORIES).glob(".*.part")]:
                leftover.unlink(missing_ok=True)  # half-written files of the interrupted run
    todo = [j for j in jobs if j.stem not in done]
    in_memory: dict[str, pd.DataFrame] = {}

    def finish(job: ChunkJob, patients: pd.DataFrame, traj: pd.DataFrame | None) -> None:
        if out is None:
            in_memory[job.stem] = patients
        else:
            if traj is not None:
                _write_parquet(traj, out / TRAJECTORIES / f"{job.stem}.parquet")
            _write_parquet(patients, out / PATIENTS / f"{job.stem}.parquet")
        if on_chunk is not None:
            on_chunk(job)

    bar = _progress(progress, trial.size * len(trial.arms), (trial.size - sum(j.stop - j.start for j in todo)) * len(trial.arms))
    try:
        for job, (patients, traj) in _execute(trial, todo, screenings, client):
            finish(job, patients, traj)
            bar.update((job.stop - job.start) * len(trial.arms))
    finally:
        bar.close()
    if out is None:
        table = pd.concat([in_memory[j.stem] for j in jobs], ignore_index=True)
        summary = summarise(trial, table, screenings)
        return TrialResult(trial, summary, table)
    table = read_patients(out, trial, summary_columns(trial))
    summary = summarise(trial, table, screenings)
    with atomic_path(out / SUMMARY) as tmp:
        tmp.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return TrialResult(trial, summary, None)


def _execute(trial: Trial, jobs: list[ChunkJob], screenings: list[Screening], client) -> Iterator:
    def args(job: ChunkJob):
        return (trial, job.start, job.stop, [s.candidates[job.start:job.stop] for s in screenings])

    if client is None:
        for job in jobs:
            yield job, run_chunk(*args(job))
        return
    from ivigsim.trial.distributed import run_on_dask

    yield from run_on_dask(client, trial, jobs, args)


def summary_columns(trial: Trial) -> list[str]:
    safety = [f"ae_{e.name}_{what}" for e in EVENTS for what in ("probability", "events")]
    return ["arm", "patient", "solver_status", "solver_steps", *[c for e in trial.endpoints for c in e.columns()],
            *safety]


def read_patients(out: Path, trial: Trial, columns: list[str] | None = None) -> pd.DataFrame:
    """The per-patient table written to ``out`` (all columns, or ``columns``)."""
    files = sorted((Path(out) / PATIENTS).glob("chunk-*.parquet"))
    return pd.concat([pd.read_parquet(f, columns=columns) for f in files], ignore_index=True)


def summarise(trial: Trial, table: pd.DataFrame, screenings: list[Screening]) -> dict:
    arms = []
    for k, arm in enumerate(trial.arms):
        rows = table[table["arm"] == arm.name]
        failed = rows[rows["solver_status"] != Status.SUCCESS.name]
        endpoints = {}
        for e in trial.endpoints:
            cols = {c: rows[c].to_numpy(dtype=float) for c in e.columns()}
            endpoints[e.name] = {"description": e.describe(),
                                 "estimates": {k2: v.as_dict() for k2, v in e.summarise(cols).items()}}
        arms.append({
            "arm": arm.name,
            "patients": int(len(rows)),
            "failed": int(len(failed)),
            "failed_patients": [{"patient": int(r.patient), "status": r.solver_status,
                                 "reason": Status[r.solver_status].remedy} for r in failed.head(100).itertuples()],
            "mean_solver_steps": float(rows["solver_steps"].mean()) if len(rows) else math.nan,
            "screening": screenings[k].describe(),
            "endpoints": endpoints,
            "adverse_events": summarise_safety({c: rows[c].to_numpy(dtype=float) for c in rows.columns
                                                if c.startswith("ae_")}),
        })
    return {"trial": trial.name, "disease": trial.disease, "seed": trial.seed, "size_per_arm": trial.size,
            "design": trial.design, "level": 0.95, "arms": arms}


def format_summary(summary: dict) -> str:
    """One table per arm: estimate and 95 % interval per endpoint."""
    def num(v):
        return "n/a" if v is None else f"{v:.4g}"

    lines = [f"{summary['trial']}: {summary['size_per_arm']} patients per arm, {summary['design']} design, "
             f"seed {summary['seed']}, 95 % intervals"]
    for arm in summary["arms"]:
        lines.append("")
        lines.append(f"arm {arm['arm']} ({arm['patients']} patients, {arm['failed']} failed; {arm['screening']})")
        lines.append(f"  {'endpoint':34s} {'statistic':20s} {'estimate':>10s} {'95 % interval':>24s} {'n':>8s}")
        for name, e in arm["endpoints"].items():
            for stat, est in e["estimates"].items():
                interval = f"[{num(est['lower'])}, {num(est['upper'])}]"
                lines.append(f"  {name:34s} {stat:20s} {num(est['estimate']):>10s} {interval:>24s} {est['n']:>8d}")
        events = arm.get("adverse_events", {})
        if events and any(v["expected_incidence"]["estimate"] for v in events.values()):
            lines.append(f"  {'adverse event, per patient':34s} {'':20s} {'expected':>10s} {'observed (sampled)':>24s}")
            for event, v in events.items():
                exp, obs = v["expected_incidence"], v["observed_incidence"]
                lines.append(f"  {event:34s} {'':20s} {num(exp['estimate']):>10s} {num(obs['estimate']):>24s}")
        for f in arm["failed_patients"][:5]:
            lines.append(f"  failed: patient {f['patient']} ({f['status']}: {f['reason']})")
    return "\n".join(lines)


def _progress(enabled: bool, total: int, initial: int):
    if not enabled or not sys.stderr.isatty():
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="patient", file=sys.stderr, dynamic_ncols=True, smoothing=0.1)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass
