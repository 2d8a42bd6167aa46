"""A trial under parameter uncertainty: the trial at the shipped values, then once per parameter
vector of the joint calibration's ensemble (``ivigsim.uncertainty``), with the same seed.

1. The trial runs at the shipped values as always (``run_trial``): its estimates and their 95 %
   Monte Carlo intervals are unchanged.
2. For each vector, the population's typical value of every calibrated parameter the trial's
   model declares is moved by the vector's deviation on its fitting scale (the disease's typical
   value, or the declared value, is the centre); a typical value the trial file sets itself under
   ``population.parameters`` is left as set (the user chose it), and so is an arm's own
   ``parameters`` (the runner applies them last). Everything else, the seed included, stays, so
   the same candidates are drawn with the same random numbers (common random numbers): the band
   shows what the parameters move, not a fresh draw of patients.
3. Each vector's run is reduced to its summary (per-arm endpoint estimates, contrasts), kept as
   ``OUT/ensemble/vector-NNNN/summary.json`` with a record of the vector (``vector.json``: its
   index, the values it used, the run fingerprint, the summary's SHA-256); the per-patient files
   of a vector are deleted once its summary is recorded (a vector costs one trial of CPU, not of
   disk). An interrupted ensemble resumes: a vector whose record matches this run is reused, a
   vector cut off mid-way continues from its finished chunks (the trial's own resume), anything
   else in its folder is removed and computed again.
4. The band: per arm, endpoint and statistic (and per contrast and measure) the median and the
   ``level`` band (symmetric order statistics, ``uncertainty.band``) of the vectors' point
   estimates, in ``summary["parameter_uncertainty"]``. Between-patient variability is inside
   every run; Monte Carlo error stays the 95 % interval of the shipped run.

A vector that cannot run (its trial refused: say, inclusion criteria nobody meets under the moved
values) is recorded as failed with the reason and left out of the band, counted.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType

import numpy as np

from ivigsim.errors import InputError
from ivigsim.io.results import atomic_path
from ivigsim.trial import store
from ivigsim.trial.spec import Trial

#: The ensemble's sub-folder of a trial folder, and each vector's folder and record in it.
FOLDER = "ensemble"
VECTOR_RECORD = "vector.json"
#: What is kept of a finished vector (everything else in its folder is removed).
KEPT = (store.MANIFEST, store.SUMMARY, VECTOR_RECORD)


def vector_folder(out: Path, index: int) -> Path:
    return Path(out) / FOLDER / f"vector-{index:04d}"


# --- the vectors' trials ---------------------------------------------------------------------


def _typical_moves(trial: Trial, ensemble) -> tuple[list[list[dict[str, float]]], list[str], list[str]]:
    """Per sub-population (one for an unmixed trial), one dict per vector of the typical values
    it uses; the names moved, and the calibrated names held at the trial file's own value (or at
    the constants of the FcRn inhibitor every arm gives)."""
    from ivigsim.model.library import compiled_model, get_disease
    from ivigsim.trial.comparators import uses_comparators

    from ivigsim.trial.comparators import path_parameters

    per_group, moved, held = [], [], []
    # An FcRn inhibitor's own constants (nipocalimab's, a user-defined drug's) replace the typical
    # values in the arms that give it: a constant every arm's patients carry that way is held, as
    # the ensemble's uncertainty on it (efgartigimod's affinity) is not that drug's.
    by_drug = set.intersection(*(set(path_parameters(trial, arm)) for arm in trial.arms)) if trial.arms else set()
    for sub in trial.groups():
        m = compiled_model(sub.disease, uses_comparators(trial)).model  # a comparator's parameters too
        typical = dict(sub.population.parameters)
        defaults = dict(get_disease(sub.disease).defaults)
        mine = [n for n in ensemble.names if n in m.parameter_names]
        # Set by the trial file: in population.parameters and not (equal to) the disease's typical value.
        chosen = {n for n in mine if n in typical and (n not in defaults or typical[n] != defaults[n])}
        chosen |= by_drug & set(mine)
        names = [n for n in mine if n not in chosen]
        centre = {n: float(typical.get(n, m.parameter(n).value)) for n in names}
        values = ensemble.only(names).values(centre, {n: tuple(m.parameter(n).bounds) for n in names})
        per_group.append(values)
        moved += [n for n in names if values and n in values[0]]  # (a centre on a scale's edge cannot move)
        held += sorted(chosen)
    return per_group, list(dict.fromkeys(moved)), list(dict.fromkeys(held))


def with_typical_values(trial: Trial, values: list[Mapping[str, float]]) -> Trial:
    """``trial`` whose (each sub-population's) typical values are updated with ``values`` (one
    mapping per ``trial.groups()``); checked against the models' bounds."""
    from ivigsim.model.library import compiled_model
    from ivigsim.trial.comparators import uses_comparators

    groups = []
    comparators = uses_comparators(trial)  # then the vectors move a comparator's parameters too
    for sub, v in zip(trial.groups(), values):
        population = replace(sub.population, parameters=MappingProxyType({**sub.population.parameters,
                                                                          **{k: float(x) for k, x in v.items()}}))
        population.check(compiled_model(sub.disease, comparators))
        groups.append(replace(sub, population=population))
    if not trial.mixed:
        return replace(trial, population=groups[0].population)
    return replace(trial, population=groups[0].population, subpopulations=tuple(groups))


def vector_trials(trial: Trial, ensemble) -> tuple[list[Trial | InputError], list[dict], list[str], list[str]]:
    """The trial of each vector (its trajectories not saved), or the refusal of a vector that
    cannot be a trial; each vector's typical values (by sub-population name, "" unmixed); the
    parameters moved and those held at the file's values."""
    per_group, moved, held = _typical_moves(trial, ensemble)
    names = [g.name for g in trial.groups()]
    out: list[Trial | InputError] = []
    values = [{name: dict(per_group[g][j]) for g, name in enumerate(names)} for j in range(len(ensemble))]
    quiet = replace(trial, trajectories=0, trajectory_outputs=())
    for j in range(len(ensemble)):
        try:
            out.append(with_typical_values(quiet, [g[j] for g in per_group]))
        except InputError as exc:
            out.append(exc)
    return out, values, moved, held


# --- running and resuming --------------------------------------------------------------------


@dataclass(frozen=True)
class VectorRun:
    index: int
    values: dict  # the typical values this vector used (per sub-population's name; "" unmixed)
    summary: dict | None  # None: the vector failed
    reason: str = ""
    reused: bool = False


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path)


def _prune(folder: Path) -> None:
    """Keep only the vector's record, manifest and summary (per-patient files are not kept)."""
    for p in folder.iterdir():
        if p.name not in KEPT and p.name != store.LOCK:
            _remove(p)


def _read_json(path: Path):
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def _reusable(folder: Path, run_fp: str) -> dict | None:
    """The summary of a finished vector whose record matches this run, else None."""
    record = _read_json(folder / VECTOR_RECORD)
    summary_path = folder / store.SUMMARY
    if (not isinstance(record, dict) or record.get("run_fingerprint") != run_fp
            or summary_path.is_symlink() or not summary_path.is_file()):
        return None
    if record.get("summary_sha256") != store.sha256_file(summary_path):
        return None
    summary = _read_json(summary_path)
    return summary if isinstance(summary, dict) else None


def _run_vector(index: int, vtrial: Trial, out: Path | None, chunk_size: int, resume: bool, client,
                values: dict) -> VectorRun:
    from ivigsim.trial.runner import run_trial

    if out is None:
        return VectorRun(index, values, run_trial(vtrial, None, chunk_size=chunk_size, client=client).summary)
    folder = vector_folder(out, index)
    run_fp = store.manifest_header(vtrial, chunk_size)["run_fingerprint"]
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        _remove(folder)
    if folder.is_dir():
        store.refuse_if_locked(folder)
        if resume and (summary := _reusable(folder, run_fp)) is not None:
            _prune(folder)
            return VectorRun(index, values, summary, reused=True)
        manifest = _read_json(folder / store.MANIFEST)
        cut_off = (resume and isinstance(manifest, dict) and manifest.get("run_fingerprint") == run_fp
                   and not (folder / VECTOR_RECORD).exists())
        if not cut_off:  # another vector, seed or trial, or half-removed: start the vector again
            _remove(folder)
    result = run_trial(vtrial, folder, chunk_size=chunk_size, resume=folder.is_dir(), client=client)
    with atomic_path(folder / VECTOR_RECORD) as tmp:
        tmp.write_text(json.dumps({"vector": index, "values": values, "run_fingerprint": run_fp,
                                   "summary_sha256": store.sha256_file(folder / store.SUMMARY)}, indent=2),
                       encoding="utf-8")
    _prune(folder)
    return VectorRun(index, values, result.summary)


def run_vectors(trial: Trial, ensemble, out: Path | None = None, chunk_size: int | None = None,
                resume: bool = False, client=None, progress: Callable[[], None] | None = None
                ) -> tuple[list[VectorRun], list[str], list[str]]:
    """Every vector's run (in order); the parameters moved and those held at the file's values.
    ``out``: the trial's folder (each vector in ``out/ensemble/vector-NNNN``); None: in memory."""
    from ivigsim.trial.runner import DEFAULT_CHUNK

    chunk_size = chunk_size or DEFAULT_CHUNK
    trials, values, moved, held = vector_trials(trial, ensemble)
    runs = []
    for j, vtrial in enumerate(trials):
        if isinstance(vtrial, InputError):
            runs.append(VectorRun(j, values[j], None, str(vtrial)))
        else:
            try:
                runs.append(_run_vector(j, vtrial, out, chunk_size, resume, client, values[j]))
            except InputError as exc:
                if str(exc.field).startswith("--"):  # the folder, not the vector: refuse
                    raise
                runs.append(VectorRun(j, values[j], None, str(exc)))
        if progress is not None:
            progress()
    return runs, moved, held


# --- the band --------------------------------------------------------------------------------


def _band(values: list, level: float) -> dict:
    from ivigsim.uncertainty import band

    finite = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if not len(finite):
        return {"median": None, "lower": None, "upper": None, "vectors": 0}
    median, lower, upper = band(finite, level)
    return {"median": float(median), "lower": float(lower), "upper": float(upper), "vectors": int(len(finite))}


def parameter_band(point: dict, runs: list[VectorRun], level: float, seed: int, moved: list[str],
                   held: list[str]) -> dict:
    """``summary["parameter_uncertainty"]``: per arm, endpoint and statistic (and per contrast
    and measure) the median and ``level`` band of the vectors' point estimates."""
    from ivigsim.uncertainty import SOURCE, describe

    ok = [r.summary for r in runs if r.summary is not None]
    arms = []
    for k, arm in enumerate(point["arms"]):
        endpoints = {}
        for name, e in arm["endpoints"].items():
            endpoints[name] = {stat: _band([s["arms"][k]["endpoints"][name]["estimates"][stat]["estimate"]
                                            for s in ok], level) for stat in e["estimates"]}
        arms.append({"arm": arm["arm"], "endpoints": endpoints})
    contrasts = []
    for j, c in enumerate(point.get("contrasts", [])):
        contrasts.append({"endpoint": c["endpoint"], "arm": c["arm"], "reference": c["reference"],
                          "estimates": {m: _band([s["contrasts"][j]["estimates"][m]["estimate"] for s in ok], level)
                                        for m in c["estimates"]}})
    failed = [{"vector": r.index, "reason": r.reason} for r in runs if r.summary is None]
    return {"source": SOURCE, "description": describe(len(ok), level, len(failed)), "level": level,
            "vectors": len(runs), "seed": seed, "failed_vectors": failed, "folder": FOLDER,
            "parameters_moved": moved, "parameters_held": held,
            "method": "each vector: the trial with its population's typical values moved by the vector's deviation "
                      "(fitting scale), the same seed and patients (common random numbers); band: symmetric order "
                      "statistics of the vectors' point estimates",
            "arms": arms, "contrasts": contrasts}


def run_trial_with_band(trial: Trial, ensemble, level: float, out: Path | None = None, chunk_size: int | None = None,
                        resume: bool = False, client=None, progress: bool = False,
                        on_vector: Callable[[], None] | None = None):
    """``run_trial`` at the shipped values, then every vector of ``ensemble``; the result's
    summary (and ``out/summary.json``, ``contrasts.csv``) gains ``parameter_uncertainty``.
    ``progress``: a bar over the vectors on stderr. Returns the ``TrialResult`` with the band
    added and notes on what a resume reused."""
    from ivigsim.trial.report import write_tables
    from ivigsim.trial.runner import DEFAULT_CHUNK, run_trial
    from ivigsim.uncertainty import check_level

    level = check_level(level, "level")
    chunk_size = chunk_size or DEFAULT_CHUNK
    point = run_trial(trial, out, chunk_size=chunk_size, resume=resume, client=client, progress=progress)
    lock = None
    if out is not None:
        lock = store.FolderLock.acquire(Path(out))
    bar = None
    try:
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(ensemble), desc="parameter vectors", unit="vector", file=sys.stderr, leave=False)

        def tick() -> None:
            if bar is not None:
                bar.update(1)
            if on_vector is not None:
                on_vector()

        try:  # a write that fails (disk full, folder removed) as one line; finished vectors stay for --resume
            runs, moved, held = run_vectors(trial, ensemble, out, chunk_size, resume, client, tick)
            summary = {**point.summary, "parameter_uncertainty": parameter_band(point.summary, runs, level,
                                                                                ensemble.seed, moved, held)}
            if out is not None:
                with atomic_path(Path(out) / store.SUMMARY) as tmp:
                    tmp.write_text(json.dumps(summary, indent=2), encoding="utf-8")
                write_tables(Path(out), summary)
        except OSError as exc:
            raise InputError("--out", "a folder the trial's files can be written to",
                             f"{out} ({exc.strerror or exc}; finished vectors are kept: --resume continues)") from None
    finally:
        if bar is not None:
            bar.close()
        if lock is not None:
            lock.release()
    notes = list(point.notes)
    reused = sum(r.reused for r in runs)
    if reused:
        notes.append(f"resume: {reused} of {len(runs)} parameter vector(s) reused from {Path(out) / FOLDER}, "
                     f"{len(runs) - reused} computed")
    failed = [r for r in runs if r.summary is None]
    if failed:
        notes.append(f"{len(failed)} parameter vector(s) could not run and are left out of the band: "
                     + "; ".join(f"vector {r.index}: {r.reason}" for r in failed[:3]))
    return replace(point, summary=summary, notes=tuple(notes))
