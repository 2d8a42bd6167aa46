"""A trial's output folder: the destination check, the lock, the manifest of finished chunks.

- ``check_destination``: refuses, writing nothing, a destination that cannot become a trial
  folder (an existing file, a path under a file, a folder this user cannot write, a
  folder holding something else when not resuming).
- ``FolderLock``: ``OUT/.lock``, created atomically (``O_CREAT | O_EXCL``) with the pid and
  host of the run holding it, removed at the end. A second run into the same folder is
  refused while the holder lives; a lock left by a dead process (same host, pid gone) is
  taken over.
- The manifest: ``trial.json`` (the trial's fingerprint, the chunk size and the run
  fingerprint derived from both) and ``chunks.jsonl``, one line per finished chunk with the
  SHA-256 and size of its patient file (and trajectory file). A chunk counts as finished
  on ``--resume`` only when its line carries this run's fingerprint and its files still
  have those checksums; every other chunk is computed again (``verify_chunks``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ivigsim.errors import InputError
from ivigsim.io.folders import (LOCK, FolderLock, check_folder, make_folder,  # noqa: F401 (used as store.*)
                                refuse_if_locked, remove_folders)
from ivigsim.io.results import atomic_path

MANIFEST = "trial.json"
CHUNK_LOG = "chunks.jsonl"
SUMMARY = "summary.json"
PATIENTS = "patients"
TRAJECTORIES = "trajectories"
#: Names listed in one note before "and N more".
NOTE_NAMES = 8


def _is_leftover(name: str) -> bool:
    """Entries that do not make a folder "used": the lock and half-written temporary files."""
    return (name == LOCK or name.startswith(f"{LOCK}.") or name.startswith(".ivigsim-probe-")
            or (name.startswith(".") and name.endswith(".part")))


def contents(out: Path) -> list[str]:
    """What the folder holds, apart from the lock and half-written temporary files."""
    try:
        return sorted(n for n in os.listdir(out) if not _is_leftover(n))
    except OSError as exc:
        raise InputError("--out", "a folder this user can read", f"{out} ({exc.strerror or exc})") from None


def check_destination(out: Path, resume: bool) -> None:
    """Refuse, writing nothing, a destination that cannot hold the trial's files."""
    out = Path(out)
    check_folder(out, "--out")
    if out.is_dir():
        refuse_unusable(out, resume)


def refuse_unusable(out: Path, resume: bool) -> None:
    """Refuse a folder that holds anything, unless resuming a folder with its manifest.

    Without ``trial.json`` nothing in a folder can be checked against a trial (another
    seed's chunks, another chunk size's ranges, a chunk copied from elsewhere), so a
    ``--resume`` into such a folder uses nothing, and touches nothing: it is refused.
    """
    found = contents(out)
    if not found:
        return
    if not resume:
        raise InputError("--out", "a new or empty folder (or --resume to continue the trial written there)", str(out))
    if (Path(out) / MANIFEST).exists() or (Path(out) / MANIFEST).is_symlink():
        return
    chunks = [p for sub in (PATIENTS, TRAJECTORIES) for p in (Path(out) / sub).glob("chunk-*.parquet")]
    what = f"{len(chunks)} chunk file(s)" if chunks else f"{', '.join(found[:3])}{' ...' if len(found) > 3 else ''}"
    raise InputError("--resume", f"a folder with its {MANIFEST} (the fingerprint of the trial written there and "
                     "the checksums of its finished chunks), or an empty one",
                     f"{out} holds {what} and no {MANIFEST}: nothing there can be checked against this "
                     "trial, so nothing is used; delete it or choose another --out")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_record(path: Path) -> dict:
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def run_fingerprint(trial_fingerprint: str, chunk_size: int) -> str:
    """The trial's fingerprint with the chunk size: what a chunk file's name and content depend on."""
    return hashlib.sha256(f"{trial_fingerprint}/chunk_size={chunk_size}".encode()).hexdigest()[:16]


def manifest_header(trial, chunk_size: int) -> dict:
    from ivigsim import __version__

    fp = trial.fingerprint()
    return {"trial": trial.name, "fingerprint": fp, "chunk_size": chunk_size,
            "run_fingerprint": run_fingerprint(fp, chunk_size), "size": int(trial.size), "seed": int(trial.seed),
            "arms": [a.name for a in trial.arms], "ivigsim": __version__, "chunks": CHUNK_LOG}


def write_manifest(out: Path, header: dict) -> None:
    with atomic_path(Path(out) / MANIFEST) as tmp:
        tmp.write_text(json.dumps(header, indent=2), encoding="utf-8")


def read_manifest(out: Path) -> dict:
    path = Path(out) / MANIFEST
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("fingerprint"), str):
        raise InputError("--resume", f"a readable {MANIFEST} (the manifest ivigsim wrote) in the output folder",
                         f"{path} (unreadable or not a manifest)")
    return data


def check_manifest(old: dict, header: dict) -> None:
    """Refuse to resume a folder written by another trial (or with another chunk size)."""
    if old.get("fingerprint") != header["fingerprint"]:
        raise InputError("--resume", "the same trial file and ivigsim version as the interrupted run",
                         f"a different trial (fingerprint {header['fingerprint']}, folder has {old.get('fingerprint')})")
    if old.get("chunk_size") != header["chunk_size"]:
        raise InputError("--chunk-size", f"the interrupted run's chunk size {old.get('chunk_size')}", header["chunk_size"])
    if old.get("run_fingerprint") != header["run_fingerprint"]:
        raise InputError("--resume", "a manifest written by this version of ivigsim",
                         f"run fingerprint {old.get('run_fingerprint')} (expected {header['run_fingerprint']})")


def read_chunk_log(out: Path) -> tuple[list[dict], int]:
    """The chunk records (well-formed lines) and the number of lines that were not."""
    path = Path(out) / CHUNK_LOG
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    except OSError:
        return [], 1
    records, bad = [], 0
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        try:
            rec = json.loads(line.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            bad += 1
            continue
        ok = (isinstance(rec, dict) and isinstance(rec.get("chunk"), str) and isinstance(rec.get("run"), str)
              and _is_file_record(rec.get("patients"))
              and (rec.get("trajectories") is None or _is_file_record(rec.get("trajectories"))))
        if ok:
            records.append(rec)
        else:
            bad += 1
    return records, bad


def _is_file_record(r) -> bool:
    return isinstance(r, dict) and isinstance(r.get("sha256"), str) and isinstance(r.get("bytes"), int)


def write_chunk_log(out: Path, records: list[dict]) -> None:
    with atomic_path(Path(out) / CHUNK_LOG) as tmp:
        tmp.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def append_chunk_record(out: Path, record: dict) -> None:
    with open(Path(out) / CHUNK_LOG, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()


def _matches(path: Path, record: dict) -> bool:
    try:
        return path.stat().st_size == record["bytes"] and sha256_file(path) == record["sha256"]
    except OSError:
        return False


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:NOTE_NAMES])
    return shown + (f" and {len(items) - NOTE_NAMES} more" if len(items) > NOTE_NAMES else "")


def verify_chunks(out: Path, stems: list[str], run_fp: str, with_trajectories: set[str]) -> tuple[set[str], list[str]]:
    """Which chunks of this run are finished and intact; what was set aside (notes).

    ``stems``: this run's chunks; ``with_trajectories``: those that write a trajectory file.
    A chunk is finished when the chunk log has a line for it with this run's fingerprint
    and its files have the recorded size and SHA-256. Files of chunks that are not
    (corrupt, replaced, never recorded) and chunk files that are no chunk of this run are
    removed; the chunk log is rewritten with the finished chunks only.
    """
    out = Path(out)
    wanted = set(stems)
    records, bad_lines = read_chunk_log(out)
    latest: dict[str, dict] = {}
    foreign = 0
    for rec in records:
        if rec["run"] != run_fp:
            foreign += 1
        elif rec["chunk"] in wanted:
            latest[rec["chunk"]] = rec
    for name, kind in ((PATIENTS, "folder"), (TRAJECTORIES, "folder"), (CHUNK_LOG, "file"), (SUMMARY, "file")):
        p = out / name
        if p.is_symlink() or (p.exists() and not (p.is_dir() if kind == "folder" else p.is_file())):
            raise InputError("--resume", f"{name} as ivigsim writes it (a plain {kind})", str(p))
    for folder in (PATIENTS, TRAJECTORIES):
        for p in (out / folder).glob("chunk-*.parquet"):
            if not p.is_file() or p.is_symlink():
                raise InputError("--resume", "chunk files that are plain files (as ivigsim writes them)", str(p))
    done: set[str] = set()
    missing, corrupt, unrecorded = [], [], []
    for stem in stems:
        patients = out / PATIENTS / f"{stem}.parquet"
        traj = out / TRAJECTORIES / f"{stem}.parquet"
        rec = latest.get(stem)
        if rec is None:
            if patients.exists():
                unrecorded.append(stem)
                patients.unlink()
            continue
        if not patients.exists():
            missing.append(stem)
            continue
        traj_ok = ((rec.get("trajectories") is None) == (stem not in with_trajectories)
                   and (rec.get("trajectories") is None or _matches(traj, rec["trajectories"])))
        if _matches(patients, rec["patients"]) and traj_ok:
            done.add(stem)
        else:
            corrupt.append(stem)
            patients.unlink()
    strays = []
    for folder in (PATIENTS, TRAJECTORIES):
        for p in sorted((out / folder).glob("chunk-*.parquet")):
            if p.stem not in wanted:
                strays.append(f"{folder}/{p.name}")
                p.unlink()
    notes = []
    if missing:
        notes.append(f"resume: {len(missing)} finished chunk(s) recomputed, their patient file is missing: {_names(missing)}")
    if corrupt:
        notes.append(f"resume: {len(corrupt)} chunk(s) recomputed, their files do not match the checksums in "
                     f"{CHUNK_LOG} (truncated, corrupt or replaced): {_names(corrupt)}")
    if unrecorded:
        notes.append(f"resume: {len(unrecorded)} chunk file(s) not recorded as finished in {CHUNK_LOG} (written when "
                     f"the run stopped, or copied from elsewhere) removed and recomputed: {_names(unrecorded)}")
    if strays:
        notes.append(f"resume: {len(strays)} file(s) that are no chunk of this trial (another chunk size or "
                     f"trial) removed: {_names(strays)}")
    if foreign or bad_lines:
        notes.append(f"resume: {foreign + bad_lines} line(s) of {CHUNK_LOG} ignored (unreadable, or of another run)")
    write_chunk_log(out, [latest[s] for s in stems if s in done])
    return done, notes
