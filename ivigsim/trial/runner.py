"""Run a trial in chunks: bounded memory, resumable, the same result however it is cut.

Patients are screened once (cheap: no ODE), then solved in chunks of patient numbers
[a, b) across every arm. Each chunk is reduced at once to one row per patient and arm
(covariates, solver status, one column per endpoint), written atomically as
``patients/chunk-AAAAAAAAA-BBBBBBBBB.parquet``; trajectories, when asked for, go to
``trajectories/`` in the same way, before the patient file, which marks the chunk done.
Each finished chunk is recorded, with the SHA-256 of its files, in the folder's manifest
(``ivigsim.trial.store``); ``resume=True`` keeps the chunks whose files still match it and
computes every other one again. Arm summaries are computed from the patient files, so a
resumed trial and an uninterrupted one are summarised by the same code from the same bytes.

Everything that can be checked is checked before anything is written: the destination,
the population (screening), each arm's regimen and every patient's dosing weight.

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
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ivigsim.dosing import dosing_weight_kg
from ivigsim.dosing import weight as _weight
from ivigsim.engine.outputs import solve_outputs
from ivigsim.engine.schedule import InputSchedule, Window
from ivigsim.engine.solve import Problem, SaveAt, Status
from ivigsim.errors import InputError
from ivigsim.io.results import atomic_path
from ivigsim.model.compose import CompiledModel
from ivigsim.model.library import compiled_model
from ivigsim.model.patient import Patient
from ivigsim.population import CounterRNG, Screening, draw, screen
from ivigsim.population.mixed import MixedScreening, assign, group_stream, place
from ivigsim.population.population import VirtualPatients
from ivigsim.safety.events import EVENTS
from ivigsim.safety.trial import safety_columns
from ivigsim.simulation import INFUSION_INPUT
from ivigsim.trial import comparators as comp
from ivigsim.trial import store
from ivigsim.trial.adverse_rates import (COMPOSITE_OUTPUTS, SERIOUS_COLUMNS, SERIOUS_PARTS, composite_column, per_infusion,
                                         serious, serious_parts)
from ivigsim.trial.contrasts import compare
from ivigsim.trial.endpoints import GRAM_OUTPUTS, RULE_OUTPUTS
from ivigsim.trial.report import format_extras, parameter_column, parameter_header, write_tables
from ivigsim.trial.safety_summary import summarise_safety
from ivigsim.trial.spec import Arm, SubPopulation, Trial
from ivigsim.trial.stewardship import grams_contrast, regimen_use, summarise_use, vials_given
from ivigsim.trial.subgroups import stratified
from ivigsim.trial.store import MANIFEST, PATIENTS, SUMMARY, TRAJECTORIES  # noqa: F401 (re-exported)

DEFAULT_CHUNK = 4096
#: Candidates whose covariates are drawn at once by the check pass (bounded memory).
CHECK_BLOCK = 65_536


def arm_stream(trial: Trial, arm_index: int) -> str:
    return f"arm{arm_index}/" if trial.design == "parallel" else ""


def screen_trial(trial: Trial, model: CompiledModel | None = None) -> list[Screening] | list[MixedScreening]:
    """One screening per arm (the same one, shared, in a paired design); for a mixed
    population, a ``MixedScreening`` per arm (``ivigsim.population.mixed``)."""
    if trial.mixed:
        return _screen_mixed(trial)
    model = model or compiled_model(trial.disease, comp.uses_comparators(trial))
    if trial.run_in is not None:  # screening, then the run-in's selection (ivigsim.trial.run_in)
        from ivigsim.trial.run_in import select_patients

        if trial.paired_arms:  # paired or crossover: every arm the same patients
            return [select_patients(trial, model)] * len(trial.arms)
        return [select_patients(trial, model, arm_stream(trial, k)) for k in range(len(trial.arms))]
    rng = CounterRNG(trial.seed)
    if trial.paired_arms:
        s = screen(trial.population, model, rng, trial.size, "")
        return [s] * len(trial.arms)
    return [screen(trial.population, model, rng, trial.size, arm_stream(trial, k)) for k in range(len(trial.arms))]


def _screen_mixed(trial: Trial) -> list[MixedScreening]:
    """Each trial patient's sub-population (by the shares), then each sub-population's own
    screening for the patients assigned to it (``ivigsim.population.mixed``)."""
    rng = CounterRNG(trial.seed)
    subs = trial.groups()

    def one(stream: str) -> MixedScreening:
        groups = assign(rng, stream, np.arange(trial.size, dtype=np.int64), [g.share for g in subs])
        screenings = []
        for g, sub in enumerate(subs):
            try:
                screenings.append(screen(sub.population, compiled_model(sub.disease, comp.uses_comparators(trial)), rng, int((groups == g).sum()),
                                         group_stream(stream, sub.name)))
            except InputError as exc:
                raise InputError(exc.field.replace("population.", f"population.subpopulations.{g}.", 1),
                                 exc.expected, exc.got) from None
        return MixedScreening(place(groups, [s.candidates for s in screenings]), groups,
                              tuple(g.name for g in subs), tuple(screenings))

    if trial.design == "paired":
        return [one("")] * len(trial.arms)
    return [one(arm_stream(trial, k)) for k in range(len(trial.arms))]


def _group_rows(trial: Trial, screening, g: int) -> np.ndarray | slice:
    """Positions of sub-population ``g``'s patients in an arm's screening (all, unmixed)."""
    return np.flatnonzero(screening.groups == g) if trial.mixed else slice(None)


def _group_stream(trial: Trial, k: int, sub: SubPopulation) -> str:
    return group_stream(arm_stream(trial, k), sub.name) if trial.mixed else arm_stream(trial, k)


def _per_kg_plan(trial: Trial, arm: Arm, indication: str | None = None):
    """The arm's infusions for 1 kg of dosing weight, those starting within the trial
    (``indication``: a sub-population's; default the trial's)."""
    if arm.regimen is None:
        return None
    plan = replace(arm.regimen, dosing_weight="actual").compile(Patient(weight_kg=1.0), indication or trial.indication)
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


def check_trial(trial: Trial, screenings: list[Screening], model: CompiledModel | None = None) -> None:
    """Everything about a screened trial that can fail, checked before anything is written.

    Each arm's regimen is compiled as the run compiles it, and each patient's dosing weight
    is checked (an ideal or adjusted weight needs a height giving a Devine weight of at
    least 1 kg): covariates are drawn for every included candidate (cheap, no ODE), those
    that could fail are found at once, and the run's own computation is applied to them,
    so the refusal is the run's, before a file exists.
    """
    rng = CounterRNG(trial.seed)
    for k, arm in enumerate(trial.arms):
        for g, sub in enumerate(trial.groups()):
            _check_group(trial, k, arm, g, sub, screenings[k], rng,
                         model if (model is not None and not trial.mixed)
                         else compiled_model(sub.disease, comp.uses_comparators(trial)))


def _check_group(trial: Trial, k: int, arm: Arm, g: int, sub: SubPopulation, screening, rng: CounterRNG,
                 model: CompiledModel) -> None:
    """``check_trial`` for one arm and sub-population."""
    _per_kg_schedule(model, trial, _per_kg_plan(trial, arm, sub.indication))
    kind = arm.regimen.dosing_weight if arm.regimen is not None else "actual"
    if kind == "actual":
        return
    stream = _group_stream(trial, k, sub)
    candidates = np.asarray(screening.candidates, dtype=np.int64)[_group_rows(trial, screening, g)]
    for a in range(0, len(candidates), CHECK_BLOCK):
        ids = candidates[a:a + CHECK_BLOCK]
        cov = sub.population.covariates.draw(rng, stream, ids)
        height_in = np.asarray(cov.height_cm, dtype=float) / _weight.CM_PER_INCH
        base = np.where(cov.female, _weight.DEVINE_BASE_KG["female"], _weight.DEVINE_BASE_KG["male"])
        with np.errstate(invalid="ignore"):
            ideal = base + _weight.DEVINE_KG_PER_INCH * (height_in - _weight.DEVINE_BASE_HEIGHT_IN)
            doubtful = ~np.isfinite(ideal) | (ideal < _weight.MIN_IDEAL_WEIGHT_KG + 1.0)
        if doubtful.any():  # the run's own computation decides (and words the refusal)
            few = ids[doubtful]
            covariates = sub.population.covariates.draw(rng, stream, few)
            _dosing_weights(arm, VirtualPatients(few, covariates, np.empty((0, len(few))), np.ones(len(few), bool)))


def run_chunk(trial: Trial, start: int, stop: int, candidates: list[np.ndarray],
              groups: list[np.ndarray] | None = None,
              states: list[np.ndarray] | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Patients [start, stop) of every arm: one row per (arm, patient); optional trajectories.

    ``groups``: for a mixed population, each arm's patients' sub-populations (indices into
    ``trial.groups()``); each sub-population is solved with its own disease's model and its
    rows are put back in patient order, with a ``subpopulation`` column.
    ``states``: with a run-in, each arm's patients' states at randomisation (patients x states,
    ``ivigsim.trial.run_in``), from which every arm continues. A crossover: one row per patient
    and period (``ivigsim.trial.crossover``)."""
    if trial.crossover is not None:
        from ivigsim.trial import crossover

        return crossover.run_chunk(trial, start, stop, candidates, states)
    rng = CounterRNG(trial.seed)
    ts = trial.output_times()
    subs = trial.groups()
    frames, trajectories = [], []
    for k, arm in enumerate(trial.arms):
        ids = np.asarray(candidates[k], dtype=np.int64)
        n = len(ids)
        numbers = np.arange(start, stop, dtype=np.int64)
        group_of = np.zeros(n, dtype=np.int64) if groups is None else np.asarray(groups[k], dtype=np.int64)
        n_traj = max(0, min(stop, trial.trajectories) - start)
        parts, traj_of = [], {}
        for g, sub in enumerate(subs):
            rows = np.flatnonzero(group_of == g)
            if not len(rows):
                continue
            columns, observed = _group_columns(trial, k, arm, sub, ids[rows], rng, ts,
                                               None if states is None else np.asarray(states[k])[rows])
            head: dict[str, object] = {"arm": np.full(len(rows), arm.name, dtype=object), "patient": numbers[rows],
                                       "candidate": ids[rows]}
            if trial.mixed:
                head["subpopulation"] = np.full(len(rows), sub.name, dtype=object)
            parts.append(pd.DataFrame(head | columns))
            for i, j in enumerate(rows):
                if j < n_traj:
                    row = {"arm": arm.name, "patient": start + int(j), "time_day": ts}
                    row |= {name: observed.output(name)[i] for name in trial.needed_outputs()}
                    traj_of[int(j)] = pd.DataFrame(row)
        frame = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
        if len(parts) > 1:
            frame = frame.sort_values("patient", kind="stable").reset_index(drop=True)
        frames.append(frame)
        trajectories += [traj_of[j] for j in sorted(traj_of)]
    return pd.concat(frames, ignore_index=True), (pd.concat(trajectories, ignore_index=True) if trajectories else None)


def _group_columns(trial: Trial, k: int, arm: Arm, sub: SubPopulation, ids: np.ndarray, rng: CounterRNG,
                   ts: np.ndarray, states: np.ndarray | None = None) -> tuple[dict, object]:
    """One arm's per-patient columns (after arm, patient, candidate) for patients ``ids`` of one
    sub-population (the whole population when unmixed), and the solved outputs. ``states``
    (patients x states): with a run-in, the states at randomisation to continue from."""
    with_comparators = comp.uses_comparators(trial)  # every arm then runs on the comparator model
    model = compiled_model(sub.disease, with_comparators)
    m = model.model
    stream = _group_stream(trial, k, sub)
    patients = draw(sub.population, model, rng, ids, stream)
    params = patients.parameters.copy()
    overrides = {**m.switch_overrides(arm.mechanisms), **comp.path_parameters(trial, arm), **arm.parameters}
    for name, value in overrides.items():
        params[m.parameter_names.index(name)] = value
    params = comp.individual_constants(params, m.parameter_names, comp.path_variability(trial, arm), rng, stream, ids)
    plan = _per_kg_plan(trial, arm, sub.indication)  # compiled once per arm and chunk: schedule and safety share it
    base = _per_kg_schedule(model, trial, plan)
    weights = _dosing_weights(arm, patients)
    n = len(ids)
    schedule = InputSchedule(np.broadcast_to(base.times, (n, base.times.shape[1])).copy(),
                             base.values * weights[:, None, None])
    sessions = None
    if comp.regimen_has_comparators(arm.regimen):  # per patient: plasma volumes, capped doses (trial.comparators)
        sessions = comp.patient_sessions(arm, patients, weights)
        schedule = comp.schedule(model, trial, plan, sessions, weights)
    ruled = None
    if arm.rules is not None:  # response-guided dosing: solved visit by visit (ivigsim.trial.rules)
        from ivigsim.trial.rules import solve_with_rules

        cycle = comp.rule_cycle(arm)  # another comparator cycle on relapse: one per patient, shifted to its visits
        templates = comp.cycle_sessions(cycle, patients, weights) if cycle is not None else None
        observed, ruled = solve_with_rules(trial, arm, model, params, weights, ts, sub.indication, plan, states,
                                           sessions, templates)  # the arm's comparator sessions run as scheduled
        if cycle is not None:
            sessions = comp.with_cycles(sessions, templates, ruled.cycle_starts)
    elif states is None:
        observed = solve_outputs(Problem(model, params, schedule), SaveAt(ts), trial.solver, trial.needed_outputs())
    else:  # after a run-in: from each patient's state at randomisation, in absolute time (the
        # model's clock runs on), the arm's infusions shifted to start at randomisation
        r = trial.run_in.days
        schedule = InputSchedule(schedule.times + r, schedule.values)
        observed = solve_outputs(Problem(model, params, schedule, t0=r, y0=np.asarray(states, dtype=float).T),
                                 SaveAt(ts + r), trial.solver, trial.needed_outputs())
        observed = replace(observed, ts=ts)  # days from randomisation, as endpoints count them
    columns: dict[str, object] = dict(patients.covariates.as_columns())
    columns["dosing_weight_kg"] = weights
    columns["solver_status"] = np.array([Status(int(s)).name for s in observed.status], dtype=object)
    columns["solver_steps"] = observed.n_steps.astype(np.int64)
    columns["solver_rejected"] = observed.n_rejected.astype(np.int64)
    # Adverse events: each patient's risk over the arm's regimen and sampled events,
    # from the same counter-based stream (chunk-independent; ivigsim.safety.trial).
    covariates = patients.covariates.as_columns() | {"female": patients.covariates.female}
    if ruled is None:
        columns |= safety_columns(plan, covariates, rng, ids, trial.risk_factors,
                                  stream=f"safety/{stream}", dosing_weight_kg=weights)
    else:  # the infusions each patient got, and what the rules did (doses, grams, relapses)
        from ivigsim.trial.rules import dose_regimen

        columns |= ruled.safety_columns(dose_regimen(arm), sub.indication, covariates, rng, ids, trial.risk_factors,
                                        f"safety/{stream}", weights)
        columns |= ruled.columns(weights, trial.days)
    if with_comparators:  # sessions, litres, grams and mg per patient (trial.comparators)
        columns |= comp.use_columns(trial, arm, sessions, n,
                                    cycle_starts=ruled.cycle_starts if ruled is not None else None)
    by_name = {e.name: e for e in trial.endpoints}
    for e in trial.endpoints:
        if e.output in COMPOSITE_OUTPUTS:  # derived, not stored: only the endpoint's column is kept
            columns |= e.from_column(composite_column(columns, e.output))
        elif e.output in RULE_OUTPUTS:
            columns |= e.from_column(_rule_outcome(trial, arm, sub.indication, columns, e.output, weights,
                                                   observed.status))
        else:
            columns |= (e.from_column(columns[e.output]) if e.per_patient_column
                        else e.per_patient(ts, observed.output(e.output), trial.days))
        if e.given is not None:  # conditional: only patients meeting the (earlier) condition count
            met = by_name[e.given].condition_met(columns)
            for c in e.columns():
                columns[c] = np.where(met, columns[c], np.nan)
    return columns, observed


def _rule_outcome(trial: Trial, arm: Arm, indication: str | None, columns: dict, output: str, weights: np.ndarray,
                  status: np.ndarray) -> np.ndarray:
    """An outcome of the rules per patient, for an endpoint on it (``RULE_OUTPUTS``): under rules,
    the arm's column; in an arm without rules, grams of the regimen as written x dosing weight
    (as the IVIG-use table counts them) and NaN for the rule counters and final dose (nothing is
    decided there). NaN for a patient whose solve failed, as every endpoint."""
    if arm.rules is not None:
        x = np.asarray(columns[output], dtype=float)
    elif output in GRAM_OUTPUTS:
        use = regimen_use(arm.regimen, indication, trial.days)
        per_kg = float(sum(use.in_trial if output == "ivig_g_in_trial" else use.first_year))
        x = per_kg * np.asarray(weights, dtype=float)
    else:
        x = np.full(len(weights), np.nan)
    return np.where(np.asarray(status) == Status.SUCCESS, x, np.nan)


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
    #: What a resume found and did (chunks recomputed, files removed), one line each.
    notes: tuple[str, ...] = ()

    def text(self) -> str:
        return format_summary(self.summary)


def _write_parquet(df: pd.DataFrame, path: Path) -> dict:
    """Write ``df`` atomically; return the size and SHA-256 of the bytes written."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)
        record = store.file_record(tmp)
    return record


@dataclass
class _Folder:
    """The output folder while this run holds it."""

    out: Path
    created: list[Path]
    lock: store.FolderLock
    fresh: bool  # this run started the folder (no earlier manifest)
    run_fingerprint: str = ""  # the trial's fingerprint with the chunk size (each chunk record carries it)
    recorded: int = 0  # chunks recorded by this run

    def abandon(self) -> None:
        """After a failure before any chunk was recorded in a fresh folder: leave nothing."""
        if self.fresh and self.recorded == 0:
            for name in (store.MANIFEST, store.CHUNK_LOG):
                (self.out / name).unlink(missing_ok=True)
            for sub in (PATIENTS, TRAJECTORIES):
                folder = self.out / sub
                if folder.is_dir():
                    for p in [*folder.glob("chunk-*.parquet"), *folder.glob(".*.part")]:
                        p.unlink(missing_ok=True)
                    try:
                        folder.rmdir()
                    except OSError:
                        pass
        self.lock.release()
        if self.fresh and self.recorded == 0:
            store.remove_folders(self.created)


def _remove_leftovers(out: Path) -> None:
    """Half-written files of an interrupted run (this run holds the lock: their writer is dead)."""
    for leftover in [*out.glob(".*.part"), *(out / PATIENTS).glob(".*.part"), *(out / TRAJECTORIES).glob(".*.part")]:
        leftover.unlink(missing_ok=True)


def _open_folder(trial: Trial, out: Path, chunk_size: int, resume: bool, jobs: list[ChunkJob]
                 ) -> tuple[_Folder, set[str], list[str]]:
    """Create and lock ``out``; check its manifest; return the finished chunks and notes."""
    created = store.make_folder(out)
    try:
        lock = store.FolderLock.acquire(out)
    except BaseException:
        store.remove_folders(created)
        raise
    header = store.manifest_header(trial, chunk_size)
    folder = _Folder(out, created, lock, fresh=False, run_fingerprint=header["run_fingerprint"])
    try:
        store.refuse_unusable(out, resume)
        if (out / MANIFEST).exists() or (out / MANIFEST).is_symlink():
            store.check_manifest(store.read_manifest(out), header)
            _remove_leftovers(out)
            stems = [j.stem for j in jobs]
            with_traj = {j.stem for j in jobs if j.start < trial.trajectories}
            done, notes = store.verify_chunks(out, stems, header["run_fingerprint"], with_traj)
            return folder, done, notes
        folder.fresh = True
        _remove_leftovers(out)
        store.write_manifest(out, header)
        return folder, set(), []
    except BaseException:
        folder.abandon()
        raise


def run_trial(trial: Trial, out: Path | None = None, chunk_size: int = DEFAULT_CHUNK, resume: bool = False,
              client=None, progress: bool = False, on_chunk: Callable[[ChunkJob], None] | None = None) -> TrialResult:
    """Run ``trial``; with ``out``, write per-patient files and the summary there.

    ``client``: a ``dask.distributed.Client`` to run chunks on (None: this process).
    ``on_chunk`` is called after each chunk is written (tests use it to interrupt a run).
    The destination, the population, the regimens and every dosing weight are checked
    before anything is written; ``out`` is locked while the run writes to it.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise InputError("--chunk-size", "a whole number of patients >= 1", chunk_size)
    if out is not None:
        out = Path(out)
        store.check_destination(out, resume)
    comp.check_supported(trial)
    model = compiled_model(trial.disease, comp.uses_comparators(trial))
    screenings = screen_trial(trial, model)
    check_trial(trial, screenings, model)
    jobs = chunk_jobs(trial.size, chunk_size)
    if progress:
        _say_if_compiling(trial, model, chunk_size)
    if out is None:
        return _run(trial, None, None, jobs, set(), screenings, client, progress, on_chunk, [])
    folder, done, notes = _open_folder(trial, out, chunk_size, resume, jobs)
    try:
        result = _run(trial, out, folder, jobs, done, screenings, client, progress, on_chunk, notes)
    except BaseException:
        folder.abandon()
        raise
    folder.lock.release()
    return result


def _run(trial: Trial, out: Path | None, folder: _Folder | None, jobs: list[ChunkJob], done: set[str],
         screenings: list[Screening], client, progress: bool, on_chunk, notes: list[str]) -> TrialResult:
    todo = [j for j in jobs if j.stem not in done]
    in_memory: dict[str, pd.DataFrame] = {}

    def finish(job: ChunkJob, patients: pd.DataFrame, traj: pd.DataFrame | None) -> None:
        if out is None:
            in_memory[job.stem] = patients
        else:
            with _writing(out):
                traj_record = None
                if traj is not None:
                    traj_record = _write_parquet(traj, out / TRAJECTORIES / f"{job.stem}.parquet")
                record = _write_parquet(patients, out / PATIENTS / f"{job.stem}.parquet")
                store.append_chunk_record(out, {"chunk": job.stem, "run": folder.run_fingerprint, "patients": record,
                                                "trajectories": traj_record})
            folder.recorded += 1
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
    summary = summarise_files(trial, [out / PATIENTS / f"{j.stem}.parquet" for j in jobs], screenings)
    with _writing(out), atomic_path(out / SUMMARY) as tmp:
        tmp.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    with _writing(out):
        write_tables(out, summary)
    return TrialResult(trial, summary, None, tuple(notes))


@contextmanager
def _writing(out: Path):
    """A write that fails (disk full, folder removed) as one line; recorded chunks stay for --resume."""
    try:
        yield
    except OSError as exc:
        raise InputError("--out", "a folder the trial's files can be written to",
                         f"{out} ({exc.strerror or exc}; finished chunks are kept: --resume continues)") from None


def _execute(trial: Trial, jobs: list[ChunkJob], screenings: list[Screening], client) -> Iterator:
    def args(job: ChunkJob):
        groups = [s.groups[job.start:job.stop] for s in screenings] if trial.mixed else None
        states = [s.states[job.start:job.stop] for s in screenings] if trial.run_in is not None else None
        return (trial, job.start, job.stop, [s.candidates[job.start:job.stop] for s in screenings], groups, states)

    if client is None:
        for job in jobs:
            yield job, run_chunk(*args(job))
        return
    from ivigsim.trial.distributed import run_on_dask

    yield from run_on_dask(client, trial, jobs, args)


def summary_columns(trial: Trial) -> list[str]:
    safety = [f"ae_{e.name}_{what}" for e in EVENTS for what in ("probability", "events")]
    ruled = any(a.rules is not None for a in trial.arms)
    extra = [*(["subpopulation"] if trial.mixed else []), *(g.by for g in trial.subgroups),
             *(GIVEN_COLUMNS if ruled else ()), *(("rule_doses",) if ruled and trial.stewardship.vial_sizes_g else ()),
             *(comp.USE_COLUMNS if comp.uses_comparators(trial) else ())]
    return list(dict.fromkeys(["arm", "patient", "solver_status", "solver_steps", "dosing_weight_kg",
                               *[c for e in trial.endpoints for c in e.columns()], *safety, *extra]))


def read_patients(out: Path, trial: Trial, columns: list[str] | None = None) -> pd.DataFrame:
    """The per-patient table written to ``out`` (all columns, or ``columns``)."""
    files = sorted((Path(out) / PATIENTS).glob("chunk-*.parquet"))
    return pd.concat([pd.read_parquet(f, columns=columns) for f in files], ignore_index=True)


def _contrasts_of(trial: Trial, endpoint, columns_of: Callable[[int], dict], paired: bool) -> dict[int, dict]:
    """The trial's contrasts on ``endpoint`` (by their index); ``columns_of(k)``: arm k's columns."""
    index = {a.name: k for k, a in enumerate(trial.arms)}
    # A conditional endpoint's patients differ between arms (responders in each): the arms are
    # compared as independent samples, not as the pairs who meet the condition in both.
    paired = paired and endpoint.given is None
    return {j: compare(c, endpoint, columns_of(index[c.arm]), columns_of(index[c.reference]), paired)
            for j, c in enumerate(trial.contrasts) if c.endpoint == endpoint.name}


#: Per-patient columns of the IVIG actually given under rules (``ivigsim.trial.rules``).
GIVEN_COLUMNS = ("ivig_g_in_trial", "ivig_g_per_year", "ivig_infusions", "rule_relapses", "rule_retreatments",
                 "rule_final_g_per_kg", "rule_cycles")


def _ivig_use(trial: Trial, weights: list[np.ndarray], paired: bool,
              given: list[dict | None] | None = None) -> tuple[list[dict], list[dict]]:
    """Each arm's IVIG use (``ivigsim.trial.stewardship``) and the grams contrasts of the
    arm pairs the trial's contrasts compare. ``given``: per arm, for arms under rules, the
    ``GIVEN_COLUMNS`` of its patients (the doses the rules chose are counted)."""
    from ivigsim.trial.rules import use_parts

    given = [g if arm.rules is not None else None for g, arm in zip(given or [None] * len(trial.arms), trial.arms)]
    uses = [use_parts(regimen_use(arm.regimen, trial.indication, trial.days), arm) for arm in trial.arms]
    per_arm = [summarise_use(u, w, trial.stewardship, given=g) for u, w, g in zip(uses, weights, given)]
    for arm, u in zip(trial.arms, per_arm):  # "stopped" means something under a taper only
        if arm.rules is not None and arm.rules.taper is None:
            for key in ("stopped", "stopped_without_relapse"):
                u["rules"].pop(key, None)
        if arm.rules is not None and comp.rule_cycle(arm) is None:  # cycles: under a comparator-cycle rule only
            u["rules"].pop("comparator_cycles_per_patient", None)
    index = {a.name: k for k, a in enumerate(trial.arms)}
    pairs = list(dict.fromkeys((c.arm, c.reference) for c in trial.contrasts))
    contrasts = [grams_contrast(a, r, uses[index[a]], uses[index[r]], weights[index[a]], weights[index[r]], paired,
                                trial.stewardship, given_a=given[index[a]], given_b=given[index[r]]) for a, r in pairs]
    return per_arm, contrasts


def _rule_vials(trial: Trial, doses: np.ndarray, weights: np.ndarray) -> dict | None:
    """Whole vials by size of the doses some patients of a rules arm were given (their
    ``rule_doses`` and dosing weights), summed over them, for the IVIG-use table (None without
    vial sizes). Counted at summary time, as a fixed arm's: vial sizes are summary-only (not
    fingerprinted), so chunks hold the doses, not vials of sizes that may change."""
    spec = trial.stewardship
    if not spec.vial_sizes_g:
        return None
    from ivigsim.trial.rules import parse_doses

    w = np.asarray(weights, dtype=float)
    in_trial, per_year = vials_given(*parse_doses(doses), w, spec, trial.days)
    return {"in_trial": in_trial.sum(axis=0), "per_year": per_year.sum(axis=0), "patients": int(np.isfinite(w).sum())}


def _add_vials(a: dict | None, b: dict | None) -> dict | None:
    if a is None or b is None:
        return b if a is None else a
    return {"in_trial": a["in_trial"] + b["in_trial"], "per_year": a["per_year"] + b["per_year"],
            "patients": a["patients"] + b["patients"]}


def _stewardship_inputs(trial: Trial) -> dict:
    s = trial.stewardship
    return {"price_per_g": s.price_per_g, "currency": s.currency, "vial_sizes_g": list(s.vial_sizes_g),
            "vial_rounding": s.vial_rounding}


def _group_codes(trial: Trial, names: np.ndarray) -> np.ndarray:
    """Sub-population names (the ``subpopulation`` column) as indices into ``trial.groups()``."""
    index = {g.name: i for i, g in enumerate(trial.groups())}
    return np.array([index[str(v)] for v in names], dtype=np.int16)


def _subpopulation_estimates(trial: Trial, codes: np.ndarray, unit: tuple, arrays: dict) -> list[dict]:
    """One endpoint's (or adverse event's) estimates per sub-population: ``arrays`` are one
    arm's columns of ``unit`` (``("endpoint", Endpoint, columns)`` or ``("event", Event, columns)``)."""
    kind, what, cols = unit
    out = []
    for g in range(len(trial.groups())):
        mask = codes == g
        part = {c: arrays[c][mask] for c in cols}
        if not mask.any():
            out.append({})
        elif kind == "endpoint":
            out.append({"estimates": {k: v.as_dict() for k, v in what.summarise(part).items()}})
        else:
            out.append(summarise_safety(part, events=(what,))[what.name])
    return out


def _subpopulation_entries(trial: Trial, codes: np.ndarray, endpoints: list[dict], events: list[dict]) -> list[dict]:
    """An arm's ``subpopulations`` entry: per sub-population, its patients, endpoints and adverse events
    (``endpoints``/``events``: name -> list over sub-populations, from ``_subpopulation_estimates``)."""
    return [{"subpopulation": sub.name, "disease": sub.disease, "patients": int((codes == g).sum()),
             "endpoints": {name: per[g] for name, per in endpoints.items()},
             "adverse_events": {name: per[g] for name, per in events.items()}}
            for g, sub in enumerate(trial.groups())]


def _run_in_header(trial: Trial, screenings) -> dict:
    """With a run-in: its regimen and length, and per arm who entered it, was selected and its
    adverse events (one entry in a paired design: the arms share it)."""
    if trial.run_in is None:
        return {}
    r = trial.run_in
    arms = screenings[:1] if trial.paired_arms else screenings
    return {"run_in": {"regimen": r.regimen_name or ("none" if r.regimen is None else "inline"), "days": r.days,
                       "select": r.criteria(),
                       "arms": [{"arm": "every arm" if trial.paired_arms else a.name, **s.as_dict()}
                                for a, s in zip(trial.arms, arms)]}}


def _crossover_header(trial: Trial) -> dict:
    if trial.crossover is None:
        return {}
    from ivigsim.trial.crossover import header

    return header(trial)


def _mixed_header(trial: Trial) -> dict:
    if not trial.mixed:
        return {}
    return {"subpopulations": [{"subpopulation": g.name, "share": g.share, "disease": g.disease,
                                "indication": g.indication} for g in trial.subpopulations]}


def _sub_names(trial: Trial) -> tuple[str, ...]:
    return tuple(g.name for g in trial.subpopulations)


def _stratified(trial: Trial, subgroup, codes: np.ndarray, endpoint, arrays: dict) -> list[dict]:
    """One endpoint's estimates in each stratum of ``subgroup`` (one arm's columns ``arrays``)."""
    return stratified(subgroup, codes, lambda part: {k: v.as_dict() for k, v in endpoint.summarise(part).items()},
                      arrays, _sub_names(trial))


def _subgroup_entries(trial: Trial, codes: list[np.ndarray], per: list[dict]) -> list[dict]:
    """An arm's ``subgroups``: per subgroup, per stratum, its patients and every endpoint's estimates
    (``per[subgroup][endpoint]``: ``_stratified``'s list over strata)."""
    out = []
    for gi, g in enumerate(trial.subgroups):
        strata = []
        for j, label in enumerate(g.labels(_sub_names(trial))):
            strata.append({"stratum": label, "patients": int((codes[gi] == j).sum()),
                           "endpoints": {e.name: per[gi][e.name][j].get("estimates", {}) for e in trial.endpoints}})
        out.append({"subgroup": g.name, "by": g.by, "cut": list(g.cut), "strata": strata})
    return out


def _arm_infusions(trial: Trial, k: int, codes: np.ndarray | None, given: np.ndarray | None, n: int) -> np.ndarray:
    """Each patient's IVIG infusions in the trial: under rules, those given (``ivig_infusions``);
    otherwise the arm's plan for the patient's (sub-population's) indication, as the adverse
    events were drawn (``_group_columns``)."""
    arm = trial.arms[k]
    if arm.rules is not None:
        return np.asarray(given, dtype=float)
    per_group = np.array([len(p.infusions) if (p := _per_kg_plan(trial, arm, g.indication)) is not None else 0
                          for g in trial.groups()], dtype=float)
    return per_group[codes] if codes is not None else np.full(n, per_group[0])


def _comparator_entries(trial: Trial, k: int, arrays: dict) -> dict:
    """An arm's ``comparator_use`` (``ivigsim.trial.comparators``) and, when it gives a comparator,
    ``comparator_adverse_events`` (``ivigsim.trial.safety_summary.summarise_comparator_events``:
    reported, or modelled from the trial's declared rates)."""
    from ivigsim.trial.safety_summary import summarise_comparator_events

    arm = trial.arms[k]
    per_kg_year = float(sum(regimen_use(arm.regimen, trial.indication, trial.days).first_year))
    given = arrays["ivig_g_per_year"] if arm.rules is not None else None  # under rules: the IVIG each patient got
    out = {"comparator_use": comp.summarise_use(trial, arm, arrays, arrays["dosing_weight_kg"], per_kg_year,
                                                ivig_g_per_year=given)}
    events = summarise_comparator_events(arrays, trial.comparator_event_rates)
    if events:
        out["comparator_adverse_events"] = events
    return out


def _rate_entries(infusions: np.ndarray, per_event: dict, serious_entry: dict) -> dict:
    """An arm's ``adverse_event_rates`` (events per infusion, each event) and ``serious_adverse_events``."""
    return {"adverse_event_rates": {"infusions": int(np.nansum(infusions)), "per_infusion": per_event},
            "serious_adverse_events": serious_entry}


def summarise(trial: Trial, table: pd.DataFrame, screenings: list[Screening]) -> dict:
    rows_of = [table[table["arm"] == arm.name] for arm in trial.arms]
    first = rows_of[0]["patient"].to_numpy()
    paired = trial.paired_arms and all(np.array_equal(r["patient"].to_numpy(), first) for r in rows_of)
    contrasts: dict[int, dict] = {}
    for e in trial.endpoints:
        contrasts |= _contrasts_of(trial, e, lambda k, e=e: {c: rows_of[k][c].to_numpy(dtype=float) for c in e.columns()},
                                   paired)
    use, use_contrasts = _ivig_use(trial, [r["dosing_weight_kg"].to_numpy(dtype=float) for r in rows_of], paired,
                                   [{c: r[c].to_numpy(dtype=float) for c in GIVEN_COLUMNS}
                                    | {"vials": _rule_vials(trial, r["rule_doses"].to_numpy(),
                                                            r["dosing_weight_kg"].to_numpy(dtype=float))
                                       if trial.stewardship.vial_sizes_g else None}
                                    if a.rules is not None else None for a, r in zip(trial.arms, rows_of)])
    arms = []
    for k, arm in enumerate(trial.arms):
        rows = rows_of[k]
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
            "ivig_use": use[k],
        })
        if comp.uses_comparators(trial):
            arms[-1] |= _comparator_entries(trial, k, {c: rows[c].to_numpy(dtype=float) for c in (
                *comp.USE_COLUMNS, "dosing_weight_kg", *(("ivig_g_per_year",) if arm.rules is not None else ()))})
        codes = _group_codes(trial, rows["subpopulation"].to_numpy()) if trial.mixed else None
        infusions = _arm_infusions(trial, k, codes, rows["ivig_infusions"].to_numpy(dtype=float)
                                   if arm.rules is not None else None, len(rows))
        arms[-1] |= _rate_entries(infusions, {ev.name: per_infusion(rows[f"ae_{ev.name}_events"].to_numpy(dtype=float),
                                                                    infusions) for ev in EVENTS},
                                  serious(serious_parts({c: rows[c].to_numpy(dtype=float) for c in SERIOUS_COLUMNS}),
                                          infusions))
        if trial.mixed:
            codes = _group_codes(trial, rows["subpopulation"].to_numpy())
            per_endpoint = {e.name: _subpopulation_estimates(
                trial, codes, ("endpoint", e, e.columns()), {c: rows[c].to_numpy(dtype=float) for c in e.columns()})
                for e in trial.endpoints}
            per_event = {ev.name: _subpopulation_estimates(
                trial, codes, ("event", ev, cols), {c: rows[c].to_numpy(dtype=float) for c in cols})
                for ev in EVENTS for cols in [(f"ae_{ev.name}_probability", f"ae_{ev.name}_events")]}
            arms[-1]["subpopulations"] = _subpopulation_entries(trial, codes, per_endpoint, per_event)
        if trial.subgroups:
            sg = [g.codes(rows[g.by].to_numpy(), _sub_names(trial)) for g in trial.subgroups]
            arms[-1]["subgroups"] = _subgroup_entries(trial, sg, [
                {e.name: _stratified(trial, g, sg[gi], e, {c: rows[c].to_numpy(dtype=float) for c in e.columns()})
                 for e in trial.endpoints} for gi, g in enumerate(trial.subgroups)])
    if trial.crossover is not None:  # within-patient contrasts and the 2 x 2 analysis (ivigsim.trial.crossover)
        from ivigsim.trial import crossover

        contrasts = dict(enumerate(crossover.analyse(trial, table)))
    return {"trial": trial.name, "disease": trial.disease, **_mixed_header(trial), **_run_in_header(trial, screenings),
            **_crossover_header(trial), "seed": trial.seed,
            "size_per_arm": trial.size, "design": trial.design, "level": 0.95, "arms": arms,
            "contrasts": [contrasts[j] for j in sorted(contrasts)],
            "ivig_use_contrasts": use_contrasts, "stewardship_inputs": _stewardship_inputs(trial)}


#: Bytes of per-patient values ``summarise_files`` holds at once (one pass over the chunk
#: files per group of columns that fits; one column at a time if even one does not fit).
SUMMARY_BUFFER_BYTES = 32 * 2**20  # with 10^6 patients: four columns a pass; 64 MB put the trial at 508 MB
#: Failed patients listed per arm in the summary.
FAILED_LISTED = 100


def summarise_files(trial: Trial, files: list[Path], screenings: list[Screening],
                    buffer_bytes: int = SUMMARY_BUFFER_BYTES) -> dict:
    """``summarise`` of the patient files ``files`` (in patient order), streamed: the same
    summary, bit for bit, as ``summarise(trial, <every file read into one table>, screenings)``,
    without ever holding every patient's row.

    A first pass reads each file's ``arm``, ``patient``, ``solver_status`` and ``solver_steps``
    (counts, the first failed patients, the steps); then the endpoint and adverse-event
    columns are read in groups that fit in ``buffer_bytes`` (8 bytes a patient per column),
    each group's columns gathered per arm into preallocated arrays, summarised and dropped.
    Memory: the buffer, one chunk file's columns, and 12 bytes a patient (row indices and
    solver steps), whatever the number of columns. Contrasts are computed from the per-arm
    arrays of the group that holds their endpoint (paired when the design is paired and every
    file holds the same patients for every arm), IVIG use from ``dosing_weight_kg``. Under rules
    with vial sizes, each rules arm's vials are counted in the first pass from each file's
    ``rule_doses`` (``_rule_vials``) and summed by size: a few integers per arm. The serious
    composite's ten columns are reduced file by file to three per-patient parts
    (``adverse_rates.serious_parts``) before they are gathered.
    """
    names = [arm.name for arm in trial.arms]
    n_arms = len(names)
    where: list[list[np.ndarray]] = []  # per file, per arm: row indices
    counts = [0] * n_arms
    n_failed = [0] * n_arms
    failed_listed: list[list[dict]] = [[] for _ in names]
    steps: list[list[np.ndarray]] = [[] for _ in names]
    aligned = True  # every arm holds the same patients in the same order (paired contrasts)
    codes: list[list[np.ndarray]] = [[] for _ in names]  # mixed: each arm's patients' sub-populations
    ruled = any(a.rules is not None for a in trial.arms)  # the grams the rules gave are counted
    # Subgroups' strata (2 bytes a patient each) and, under rules, each patient's infusions.
    sg_codes: list[list[list[np.ndarray]]] = [[[] for _ in trial.subgroups] for _ in names]
    given_infusions: list[list[np.ndarray]] = [[] for _ in names]
    # Under rules with vial sizes: each rules arm's vials by size, counted file by file from the doses.
    vial_doses = ruled and bool(trial.stewardship.vial_sizes_g)
    given_vials: list[dict | None] = [None for _ in names]
    extra = list(dict.fromkeys([*(["subpopulation"] if trial.mixed else []), *(g.by for g in trial.subgroups),
                                *(["ivig_infusions"] if ruled else []),
                                *(["rule_doses", "dosing_weight_kg"] if vial_doses else [])]))
    for path in files:
        df = pd.read_parquet(path, columns=list(dict.fromkeys(["arm", "patient", "solver_status", "solver_steps",
                                                               *extra])))
        arm_column = df["arm"].to_numpy()
        patient_column = df["patient"].to_numpy()
        rows_per_arm = []
        for k, name in enumerate(names):
            idx = np.flatnonzero(arm_column == name).astype(np.int32)
            if rows_per_arm:
                aligned = aligned and np.array_equal(patient_column[idx], patient_column[rows_per_arm[0]])
            rows_per_arm.append(idx)
            counts[k] += len(idx)
            steps[k].append(df["solver_steps"].to_numpy()[idx])
            if trial.mixed:
                codes[k].append(_group_codes(trial, df["subpopulation"].to_numpy()[idx]))
            for gi, g in enumerate(trial.subgroups):
                sg_codes[k][gi].append(g.codes(df[g.by].to_numpy()[idx], _sub_names(trial)))
            if ruled:
                given_infusions[k].append(df["ivig_infusions"].to_numpy(dtype=float)[idx])
            if vial_doses and trial.arms[k].rules is not None:
                given_vials[k] = _add_vials(given_vials[k], _rule_vials(
                    trial, df["rule_doses"].to_numpy()[idx], df["dosing_weight_kg"].to_numpy(dtype=float)[idx]))
            status = df["solver_status"].to_numpy()[idx]
            bad = np.flatnonzero(status != Status.SUCCESS.name)
            n_failed[k] += len(bad)
            room = FAILED_LISTED - len(failed_listed[k])
            if room > 0 and len(bad):
                patient = df["patient"].to_numpy()[idx]
                failed_listed[k] += [{"patient": int(patient[i]), "status": status[i],
                                      "reason": Status[status[i]].remedy} for i in bad[:room]]
        where.append(rows_per_arm)
        del df

    # Units summarised together: each endpoint's columns, each adverse event's two columns.
    units: list[tuple[str, object, tuple[str, ...]]] = [("endpoint", e, e.columns()) for e in trial.endpoints]
    units += [("event", ev, (f"ae_{ev.name}_probability", f"ae_{ev.name}_events")) for ev in EVENTS]
    units += [("serious", None, SERIOUS_PARTS)]  # gathered as its per-patient parts (read: SERIOUS_COLUMNS)
    units += [("use", None, ("dosing_weight_kg", *(GIVEN_COLUMNS if ruled else ())))]
    if comp.uses_comparators(trial):  # sessions, litres, grams and mg per patient (trial.comparators)
        units += [("comparator_use", None, (*comp.USE_COLUMNS, "dosing_weight_kg",
                                            *(("ivig_g_per_year",) if ruled else ())))]
    comparator_entries: list[dict] = [{} for _ in names]
    paired = trial.paired_arms and aligned
    contrasts: dict[int, dict] = {}
    use: list[dict] = []
    use_contrasts: list[dict] = []
    per_column = 8 * max(1, sum(counts))
    groups: list[list] = []
    used = 0
    for unit in units:
        size = per_column * len(unit[2])
        if groups and used + size <= buffer_bytes:
            groups[-1].append(unit)
            used += size
        else:
            groups.append([unit])
            used = size
    estimates: list[dict] = [{} for _ in names]
    events: list[dict] = [{} for _ in names]
    arm_codes = [np.concatenate(c) if c else np.zeros(0, dtype=np.int16) for c in codes]
    sub_endpoints: list[dict] = [{} for _ in names]
    sub_events: list[dict] = [{} for _ in names]
    arm_sg_codes = [[np.concatenate(c) if c else np.zeros(0, dtype=np.int16) for c in per] for per in sg_codes]
    infusions = [_arm_infusions(trial, k, arm_codes[k] if trial.mixed else None,
                                np.concatenate(given_infusions[k]) if given_infusions[k] else None, counts[k])
                 for k in range(n_arms)]
    rates: list[dict] = [{} for _ in names]
    serious_of: list[dict] = [{} for _ in names]
    sg_estimates: list[list[dict]] = [[{} for _ in trial.subgroups] for _ in names]
    for group in groups:
        columns = list(dict.fromkeys(c for _, _, cols in group for c in cols))  # gathered per arm
        with_serious = any(kind == "serious" for kind, _, _ in group)
        read = list(dict.fromkeys([*(c for c in columns if c not in SERIOUS_PARTS),
                                   *(SERIOUS_COLUMNS if with_serious else ())]))
        values = {c: [np.empty(counts[k]) for k in range(n_arms)] for c in columns}
        filled = [0] * n_arms
        for path, rows_per_arm in zip(files, where):
            df = pd.read_parquet(path, columns=read)
            parts = serious_parts({c: df[c].to_numpy(dtype=float) for c in SERIOUS_COLUMNS}) if with_serious else {}
            for c in columns:
                column = parts[c] if c in parts else df[c].to_numpy(dtype=float)
                for k, idx in enumerate(rows_per_arm):
                    values[c][k][filled[k]:filled[k] + len(idx)] = column[idx]
            for k, idx in enumerate(rows_per_arm):
                filled[k] += len(idx)
            del df
        for kind, what, cols in group:
            for k in range(n_arms):
                arrays = {c: values[c][k] for c in cols}
                if kind == "endpoint":
                    estimates[k][what.name] = {"description": what.describe(), "estimates": {
                        k2: v.as_dict() for k2, v in what.summarise(arrays).items()}}
                    for gi, g in enumerate(trial.subgroups):
                        sg_estimates[k][gi][what.name] = _stratified(trial, g, arm_sg_codes[k][gi], what, arrays)
                elif kind == "event":
                    events[k] |= summarise_safety(arrays, events=(what,))
                    rates[k][what.name] = per_infusion(arrays[f"ae_{what.name}_events"], infusions[k])
                elif kind == "serious":
                    serious_of[k] = serious(arrays, infusions[k])
                elif kind == "comparator_use":
                    comparator_entries[k] = _comparator_entries(trial, k, arrays)
                if trial.mixed and kind in ("endpoint", "event"):
                    (sub_endpoints if kind == "endpoint" else sub_events)[k][what.name] = _subpopulation_estimates(
                        trial, arm_codes[k], (kind, what, cols), arrays)
            if kind == "endpoint":
                contrasts |= _contrasts_of(trial, what, lambda k, cols=cols: {c: values[c][k] for c in cols}, paired)
            elif kind == "use":
                use, use_contrasts = _ivig_use(trial, values["dosing_weight_kg"], paired, [
                    {c: values[c][k] for c in GIVEN_COLUMNS} | {"vials": given_vials[k]} if ruled else None
                    for k in range(n_arms)])
        del values

    arms = []
    for k, arm in enumerate(trial.arms):
        arm_steps = pd.Series(np.concatenate(steps[k]) if steps[k] else np.zeros(0, dtype=np.int64))
        arms.append({
            "arm": arm.name,
            "patients": int(counts[k]),
            "failed": int(n_failed[k]),
            "failed_patients": failed_listed[k],
            "mean_solver_steps": float(arm_steps.mean()) if counts[k] else math.nan,
            "screening": screenings[k].describe(),
            "endpoints": {e.name: estimates[k][e.name] for e in trial.endpoints},
            "adverse_events": {ev.name: events[k][ev.name] for ev in EVENTS},
            "ivig_use": use[k],
            **_rate_entries(infusions[k], {ev.name: rates[k][ev.name] for ev in EVENTS}, serious_of[k]),
        })
        arms[-1] |= comparator_entries[k]
        if trial.mixed:
            arms[-1]["subpopulations"] = _subpopulation_entries(
                trial, arm_codes[k], {e.name: sub_endpoints[k][e.name] for e in trial.endpoints},
                {ev.name: sub_events[k][ev.name] for ev in EVENTS})
        if trial.subgroups:
            arms[-1]["subgroups"] = _subgroup_entries(trial, arm_sg_codes[k], sg_estimates[k])
    if trial.crossover is not None:  # within-patient contrasts (ivigsim.trial.crossover): the columns they read
        from ivigsim.trial import crossover

        columns = crossover.analysis_columns(trial)
        contrasts = dict(enumerate(crossover.analyse(trial, pd.concat([pd.read_parquet(p, columns=columns)
                                                                       for p in files], ignore_index=True))))
    return {"trial": trial.name, "disease": trial.disease, **_mixed_header(trial), **_run_in_header(trial, screenings),
            **_crossover_header(trial), "seed": trial.seed,
            "size_per_arm": trial.size, "design": trial.design, "level": 0.95, "arms": arms,
            "contrasts": [contrasts[j] for j in sorted(contrasts)],
            "ivig_use_contrasts": use_contrasts, "stewardship_inputs": _stewardship_inputs(trial)}


def format_summary(summary: dict) -> str:
    """One table per arm: estimate and 95 % interval per endpoint."""
    def num(v):
        return "n/a" if v is None else f"{v:.4g}"

    lines = [f"{summary['trial']}: {summary['size_per_arm']} patients per arm, {summary['design']} design, "
             f"seed {summary['seed']}, 95 % intervals"]
    if "run_in" in summary:  # who was randomised, and what the run-in itself cost in adverse events
        r = summary["run_in"]
        lines.append(f"run-in: {r['regimen']} for {r['days']:g} days; randomised when {' and '.join(r['select'])} "
                     "(arms' days count from randomisation)")
        for a in r["arms"]:
            events = ", ".join(f"{name} {v['expected_incidence']['estimate']:.3g}" for name, v in a["adverse_events"].items()
                               if v["expected_incidence"]["estimate"])
            lines.append(f"  {a['arm']}: {a['selected']} of {a['entered']} selected"
                         + (f"; run-in adverse events per patient (expected): {events}" if events else ""))
            if "comparator_use" in a:  # a comparator in the run-in: its use, counted as the run-in's
                lines.append("    " + comp.format_run_in_use(a))
    if "crossover" in summary:
        from ivigsim.trial.crossover import format_header

        lines += format_header(summary)
    for arm in summary["arms"]:
        lines.append("")
        lines.append(f"arm {arm['arm']} ({arm['patients']} patients, {arm['failed']} failed; {arm['screening']})")
        lines.append(f"  {'endpoint':34s} {'statistic':20s} {'estimate':>10s} {'95 % interval':>24s} {'n':>8s}"
                     + parameter_header(summary))  # `--ensemble`: the parameter-uncertainty column
        for name, e in arm["endpoints"].items():
            for stat, est in e["estimates"].items():
                interval = f"[{num(est['lower'])}, {num(est['upper'])}]"
                lines.append(f"  {name:34s} {stat:20s} {num(est['estimate']):>10s} {interval:>24s} {est['n']:>8d}"
                             + parameter_column(summary, arm["arm"], name, stat))
        events = arm.get("adverse_events", {})
        if events and any(v["expected_incidence"]["estimate"] for v in events.values()):
            lines.append(f"  {'adverse event, per patient':34s} {'':20s} {'expected':>10s} {'observed (sampled)':>24s}")
            for event, v in events.items():
                exp, obs = v["expected_incidence"], v["observed_incidence"]
                lines.append(f"  {event:34s} {'':20s} {num(exp['estimate']):>10s} {num(obs['estimate']):>24s}")
            serious = arm.get("serious_adverse_events")
            if serious:  # the declared composite (ivigsim.trial.adverse_rates)
                exp, obs = serious["expected_incidence"], serious["observed_incidence"]
                lines.append(f"  {'any serious (declared composite)':34s} {'':20s} {num(exp['estimate']):>10s} "
                             f"{num(obs['estimate']):>24s}")
        for sub in arm.get("subpopulations", []):
            lines.append(f"  sub-population {sub['subpopulation']} ({sub['disease']}, {sub['patients']} patients)")
            for name, e in sub["endpoints"].items():
                for stat, est in e.get("estimates", {}).items():
                    interval = f"[{num(est['lower'])}, {num(est['upper'])}]"
                    lines.append(f"    {name:32s} {stat:20s} {num(est['estimate']):>10s} {interval:>24s} {est['n']:>8d}")
        for g in arm.get("subgroups", []):
            for stratum in g["strata"]:
                lines.append(f"  subgroup {g['subgroup']}: {g['by']} {stratum['stratum']} ({stratum['patients']} patients)")
                for name, estimates in stratum["endpoints"].items():
                    for stat, est in estimates.items():
                        interval = f"[{num(est['lower'])}, {num(est['upper'])}]"
                        lines.append(f"    {name:32s} {stat:20s} {num(est['estimate']):>10s} {interval:>24s} "
                                     f"{est['n']:>8d}")
        for f in arm["failed_patients"][:5]:
            lines.append(f"  failed: patient {f['patient']} ({f['status']}: {f['reason']})")
    lines += format_extras(summary)
    lines += comp.format_use(summary)
    return "\n".join(lines)


def _say_if_compiling(trial: Trial, model: CompiledModel, chunk_size: int) -> None:
    """On a terminal, one line on stderr when the compiled solver is not yet on this machine
    (its first use compiles it, about a minute, once), so the first trial does not look stuck."""
    from ivigsim.engine.compiled import _Compiled

    if not isinstance(trial.solver, _Compiled) or not sys.stderr.isatty():
        return
    from ivigsim.engine.codegen import kernel_is_compiled

    if not kernel_is_compiled(model, trial.solver.entry_point(min(chunk_size, trial.size))):
        model_name = "core" if trial.disease in (None, "none") else trial.disease
        print(f"ivigsim: compiling the solver for the {model_name} model on this machine (once, up to a "
              "minute or two; later runs start at once) ...", file=sys.stderr, flush=True)


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
