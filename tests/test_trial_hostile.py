"""Hostile input, files and interrupted runs (virtual trials): nothing crashes, nothing is lost.

A refusal is one line and exit status 2, written before anything is; ``--resume`` uses a
chunk only when the manifest vouches for it (this trial's fingerprint, the file's
SHA-256) and computes every other one again; one run at a time writes to a folder.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from ivigsim.cli import app
from ivigsim.errors import InputError
from ivigsim.io.trial_file import parse_trial
from ivigsim.trial import runner, store
from ivigsim.trial.endpoints import Endpoint
from ivigsim.trial.runner import read_patients, run_trial
from ivigsim.population.criteria import Threshold
from tests.test_trial_file import small_trial

SIZE = 20
CHUNK = 7  # chunks [0, 7), [7, 14), [14, 20); trajectories for the first chunk only
STEMS = ["chunk-000000000-000000007", "chunk-000000007-000000014", "chunk-000000014-000000020"]


def _doc(**changes) -> dict:
    return small_trial(size=SIZE, output={"trajectories": 2}, **changes)


@pytest.fixture(scope="module")
def trial():
    return parse_trial(_doc())


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["arm", "patient"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(trial, tmp_path_factory):
    out = tmp_path_factory.mktemp("hostile") / "ref"
    result = run_trial(trial, out, chunk_size=CHUNK)
    assert not (out / store.LOCK).exists()
    return out, _sorted(read_patients(out, trial, columns=None)), result.summary


def _copy(reference, tmp_path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(reference[0], out)
    return out


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _same_as_reference(out, trial, reference, result=None):
    pd.testing.assert_frame_equal(_sorted(read_patients(out, trial, columns=None)), reference[1], check_exact=True)
    assert (out / "summary.json").read_bytes() == (reference[0] / "summary.json").read_bytes()
    assert sorted(p.name for p in (out / "patients").iterdir()) == [f"{s}.parquet" for s in STEMS]
    assert not (out / store.LOCK).exists()
    if result is not None:
        assert result.summary == reference[2]


def _write(tmp_path, doc, name="t.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return path


def _one_line_exit_2(result, message: str):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    text = result.output.strip()
    assert len(text.splitlines()) == 1, text
    assert text.startswith("error: ") and message in text, text
    assert len(text) < 600, text[:600]


# --- resume over damaged chunks: recompute, and say which -------------------------------

def _truncate(p: Path):
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _empty(p: Path):
    p.write_bytes(b"")


def _random(p: Path):
    p.write_bytes(os.urandom(p.stat().st_size))


def _flip_a_byte(p: Path):  # same size, different bytes
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))


DAMAGE = [
    ("truncated", "patients", 1, _truncate, "do not match the checksums"),
    ("empty", "patients", 1, _empty, "do not match the checksums"),
    ("random-bytes", "patients", 2, _random, "do not match the checksums"),
    ("one-byte-changed", "patients", 0, _flip_a_byte, "do not match the checksums"),
    ("deleted", "patients", 2, Path.unlink, "patient file is missing"),
    ("trajectories-truncated", "trajectories", 0, _truncate, "do not match the checksums"),
]


@pytest.mark.parametrize("label, folder, index, damage, note", DAMAGE, ids=[d[0] for d in DAMAGE])
def test_resume_recomputes_a_damaged_chunk_and_says_which(trial, reference, tmp_path, label, folder, index, damage, note):
    out = _copy(reference, tmp_path)
    damage(out / folder / f"{STEMS[index]}.parquet")
    ran = []
    result = run_trial(trial, out, chunk_size=CHUNK, resume=True, on_chunk=lambda job: ran.append(job.stem))
    assert ran == [STEMS[index]]
    assert any(note in n and STEMS[index] in n for n in result.notes), result.notes
    _same_as_reference(out, trial, reference, result)


@pytest.mark.parametrize("log", ["deleted", "random-bytes", "another-run"])
def test_resume_without_a_trustworthy_chunk_log_recomputes_every_chunk(trial, reference, tmp_path, log):
    out = _copy(reference, tmp_path)
    path = out / store.CHUNK_LOG
    if log == "deleted":
        path.unlink()
    elif log == "random-bytes":
        path.write_bytes(os.urandom(2000))
    else:  # the lines are well-formed, but were written by another run
        path.write_text(path.read_text().replace('"run": "', '"run": "0'))
    ran = []
    result = run_trial(trial, out, chunk_size=CHUNK, resume=True, on_chunk=lambda job: ran.append(job.stem))
    assert ran == STEMS
    assert any("not recorded as finished" in n for n in result.notes), result.notes
    _same_as_reference(out, trial, reference, result)
    assert len(store.read_chunk_log(out)[0]) == 3


def test_a_chunk_from_a_trial_with_another_seed_is_not_used(trial, reference, tmp_path):
    other = tmp_path / "other"
    run_trial(parse_trial(_doc(seed=12)), other, chunk_size=CHUNK)
    out = _copy(reference, tmp_path)
    shutil.copy(other / "patients" / f"{STEMS[1]}.parquet", out / "patients" / f"{STEMS[1]}.parquet")
    # ... and one under a name no chunk of this trial has (another chunk size's).
    shutil.copy(other / "patients" / f"{STEMS[2]}.parquet", out / "patients" / "chunk-000000000-000000800.parquet")
    ran = []
    result = run_trial(trial, out, chunk_size=CHUNK, resume=True, on_chunk=lambda job: ran.append(job.stem))
    assert ran == [STEMS[1]]
    assert any(STEMS[1] in n for n in result.notes)
    assert any("chunk-000000000-000000800.parquet" in n and "no chunk of this trial" in n for n in result.notes)
    _same_as_reference(out, trial, reference, result)
    # Another trial's manifest with it: the whole folder is another trial's, refused.
    shutil.copy(other / "trial.json", out / "trial.json")
    before = _snapshot(out)
    with pytest.raises(InputError, match="--resume: expected the same trial file"):
        run_trial(trial, out, chunk_size=CHUNK, resume=True)
    assert _snapshot(out) == before


@pytest.mark.parametrize("chunk_size", [CHUNK, 800])
def test_resume_after_trial_json_was_deleted_is_refused_and_touches_nothing(trial, reference, tmp_path, chunk_size):
    out = _copy(reference, tmp_path)
    (out / "trial.json").unlink()
    before = _snapshot(out)
    with pytest.raises(InputError) as info:
        run_trial(trial, out, chunk_size=chunk_size, resume=True)
    message = str(info.value)
    assert message.startswith("--resume: expected a folder with its trial.json") and "4 chunk file(s)" in message
    assert "nothing is used" in message and "\n" not in message
    assert _snapshot(out) == before  # no lock left, nothing removed


def _replace_with_dir(p: Path):
    p.unlink()
    p.mkdir()


BROKEN = [
    ("trial.json random bytes", "trial.json", lambda p: p.write_bytes(os.urandom(300)), "--resume: expected a readable trial.json"),
    ("trial.json a list", "trial.json", lambda p: p.write_text("[]"), "--resume: expected a readable trial.json"),
    ("trial.json empty", "trial.json", lambda p: p.write_bytes(b""), "--resume: expected a readable trial.json"),
    ("chunks.jsonl a folder", "chunks.jsonl", _replace_with_dir, "--resume: expected chunks.jsonl as ivigsim writes it"),
    ("summary.json a folder", "summary.json", _replace_with_dir, "--resume: expected summary.json as ivigsim writes it"),
    ("a chunk file a folder", f"patients/{STEMS[1]}.parquet", _replace_with_dir,
     "--resume: expected chunk files that are plain files"),
]


@pytest.mark.parametrize("label, name, damage, message", BROKEN, ids=[b[0] for b in BROKEN])
def test_cli_resume_over_a_broken_folder_is_one_line_and_exit_2(trial, reference, tmp_path, label, name, damage, message):
    out = _copy(reference, tmp_path)
    damage(out / name)
    path = _write(tmp_path, _doc())
    _one_line_exit_2(CliRunner().invoke(app, ["trial", str(path), "--out", str(out), "--chunk-size", str(CHUNK),
                                              "--resume", "--quiet"]), message)
    assert not (out / store.LOCK).exists()


def test_resume_with_another_chunk_size_is_refused(trial, reference, tmp_path):
    out = _copy(reference, tmp_path)
    before = _snapshot(out)
    with pytest.raises(InputError, match="--chunk-size: expected the interrupted run's chunk size 7"):
        run_trial(trial, out, chunk_size=800, resume=True)
    assert _snapshot(out) == before


def test_cli_resume_over_corrupt_chunks_and_a_deleted_manifest(trial, reference, tmp_path):
    path = _write(tmp_path, _doc())
    out = tmp_path / "cli"
    args = ["trial", str(path), "--out", str(out), "--chunk-size", str(CHUNK), "--quiet"]
    assert CliRunner().invoke(app, args).exit_code == 0
    _random(out / "patients" / f"{STEMS[0]}.parquet")
    _empty(out / "patients" / f"{STEMS[2]}.parquet")
    result = CliRunner().invoke(app, [*args, "--resume"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and f"note: resume: 2 chunk(s) recomputed" in result.output
    assert json.loads((out / "summary.json").read_text()) == reference[2]
    (out / "trial.json").unlink()
    _one_line_exit_2(CliRunner().invoke(app, [*args, "--resume", "--chunk-size", "800"]),
                     "--resume: expected a folder with its trial.json")


# --- what is checked before anything is written ----------------------------------------

def _csv_doc(tmp_path, heights: list, dosing_weight: str) -> dict:
    rows = "".join(f"{60 + 5 * i},{'female' if i % 2 else 'male'},{40 + i},{h}\n" for i, h in enumerate(heights))
    (tmp_path / "patients.csv").write_text("weight_kg,sex,age_years,height_cm\n" + rows)
    doc = _doc(regimens={"one": {"course": {"total_g_per_kg": 1.0, "days": 1}, "dosing_weight": dosing_weight}})
    doc["population"]["covariates"] = {"csv": {"path": "patients.csv"}}
    return doc


def test_a_refusal_after_sampling_writes_nothing_and_the_rerun_is_not_blocked(tmp_path):
    out = tmp_path / "out"
    path = _write(tmp_path, _csv_doc(tmp_path, ["", "", ""], "ideal"))
    _one_line_exit_2(CliRunner().invoke(app, ["trial", str(path), "--out", str(out), "--quiet"]),
                     "arms.1 g/kg.regimen.dosing_weight: expected covariates that give a ideal weight")
    assert not out.exists()
    path = _write(tmp_path, _csv_doc(tmp_path, ["", "", ""], "actual"))
    result = CliRunner().invoke(app, ["trial", str(path), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert (out / "summary.json").exists() and not (out / store.LOCK).exists()


def test_every_patients_dosing_weight_is_checked_before_writing(tmp_path):
    # One row in seven lacks a height: patients far into the trial fail, not the first ones.
    heights = [170, 165, 180, 175, 160, 172, ""]
    trial = parse_trial(_csv_doc(tmp_path, heights, "adjusted"), base=tmp_path)
    out = tmp_path / "out"
    with pytest.raises(InputError, match="arms.1 g/kg.regimen.dosing_weight"):
        run_trial(trial, out, chunk_size=4)
    assert not out.exists()
    # A height for which Devine's ideal weight is below 1 kg is refused the same way.
    trial = parse_trial(_csv_doc(tmp_path, [170, 165, 90], "ideal"), base=tmp_path)
    with pytest.raises(InputError, match="dosing_weight: expected covariates that give a ideal weight"):
        run_trial(trial, out, chunk_size=4)
    assert not out.exists()


def test_a_failure_before_the_first_chunk_leaves_the_folder_as_it_was(trial, tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("solver exploded")

    monkeypatch.setattr(runner, "run_chunk", boom)
    new = tmp_path / "a" / "b"
    with pytest.raises(RuntimeError):
        run_trial(trial, new, chunk_size=CHUNK)
    assert not (tmp_path / "a").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RuntimeError):
        run_trial(trial, empty, chunk_size=CHUNK)
    assert list(empty.iterdir()) == []


def _unwritable(tmp_path) -> Path:
    if os.geteuid() == 0:  # root writes through permission bits: use a file system nobody can write
        if not Path("/proc/self").exists():
            pytest.skip("needs /proc when run as root")
        return Path("/proc/ivigsim-out")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    return folder / "out"


@pytest.mark.parametrize("where", ["existing-file", "under-a-file", "unwritable"])
def test_a_bad_destination_is_refused_before_anything_runs(tmp_path, monkeypatch, where):
    path = _write(tmp_path, _doc())
    (tmp_path / "file").write_text("x")
    out = {"existing-file": tmp_path / "file", "under-a-file": tmp_path / "file" / "out",
           "unwritable": _unwritable(tmp_path) if where == "unwritable" else None}[where]

    def not_now(*args, **kwargs):
        raise AssertionError("the trial file was read before the destination was checked")

    monkeypatch.setattr("ivigsim.io.trial_file.load_trial", not_now)
    try:
        result = CliRunner().invoke(app, ["trial", str(path), "-o", str(out), "--quiet"])
        _one_line_exit_2(result, "--out: expected a folder")
    finally:
        if where == "unwritable" and out.parent != Path("/proc"):
            out.parent.chmod(0o700)
    assert (tmp_path / "file").read_text() == "x"
    assert where == "existing-file" or not out.exists()


INFINITE = [
    ("threshold infinity", {"criterion": ">= 1e999"}, "endpoints.1.criterion: expected a finite number"),
    ("threshold 100,000 digits", {"criterion": ">= " + "9" * 100_000},
     "endpoints.1.criterion: expected a comparison with a finite number"),
    ("also-criterion infinity", {"also": {"measure": "fold_change", "criterion": "< -1e400"}},
     "endpoints.1.also.0.criterion: expected a finite number"),
]
UNUSED_REGIMEN = [
    ("unused regimen 200 g/kg", {"big": {"course": {"total_g_per_kg": 200, "days": 1}}},
     "regimens.big.course.total_g_per_kg"),
    ("unused regimen above the label rate", {"fast": {"course": {"total_g_per_kg": 1, "days": 1},
                                                      "infusion": {"rate_mg_per_kg_min": 50}}},
     "regimens.fast."),
    ("unused regimen unknown standard", {"x": {"standard": "nope"}}, "regimens.x.standard"),
]


OVERLAP = {"plasma_exchange": [{"days": [0, 2], "plasma_volumes": 1.5}, {"days": [0], "plasma_volumes": 1}]}
PARTS_AS_WRITTEN = [  # named as the file writes them, not as the library's parts[k]
    ("overlap in an arm's regimen", {"one": OVERLAP}, "arms.1.regimen.plasma_exchange.1.days: expected plasma-exchange "
     "sessions that overlap no IVIG infusion, inhibitor infusion or other session, got 'plasma_exchange.0 plasma"),
    ("overlap in an unused regimen", {"spare": OVERLAP}, "regimens.spare.plasma_exchange.1.days"),
    ("a part after the span", {"one": {"course": {"total_g_per_kg": 1, "days": 1},
                                       "doses": [{"day": 40, "g_per_kg": 0.4}]}},
     "arms.1.regimen.doses.0: expected a part that begins within the simulation (before day 28"),
]
TRUTH_VALUES = [  # YAML's yes/true/on: a number field took them as 1
    ("trajectories true", {"output": {"trajectories": True}}, "output.trajectories: expected a number, got True"),
    ("rtol on", {"simulation": {"days": 28, "rtol": True}}, "simulation.rtol: expected a number, got True"),
    ("variability yes", {"population": {"variability": {"fcrn_km_g_per_L": True}}},
     "population.variability.fcrn_km_g_per_L: expected a number, got True"),
]


def _bad_doc(kind, change):
    doc = _doc()
    if kind == "endpoint":
        doc["endpoints"][1].update(change)
    elif kind == "top":
        doc.update(change)
    else:
        doc["regimens"].update(change)
    return doc


BAD_FILES = [(label, "endpoint", change, message) for label, change, message in INFINITE] + \
            [(label, "regimen", change, message) for label, change, message in UNUSED_REGIMEN + PARTS_AS_WRITTEN] + \
            [(label, "top", change, message) for label, change, message in TRUTH_VALUES]


@pytest.mark.parametrize("label, kind, change, message", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_trial_file_is_one_line_exit_2_and_writes_nothing(tmp_path, label, kind, change, message):
    path = _write(tmp_path, _bad_doc(kind, change))
    out = tmp_path / "out"
    _one_line_exit_2(CliRunner().invoke(app, ["trial", str(path), "--out", str(out), "--quiet"]), message)
    assert not out.exists()


def test_endpoints_built_in_python_refuse_infinite_thresholds_too():
    inf = Threshold(">=", float("inf"), ">= inf")
    with pytest.raises(InputError, match="endpoints.0.criterion: expected a finite number"):
        Endpoint("x", "igg_total_g_per_L", "fraction", at_day=7.0, criterion=inf).check(
            "endpoints.0", ["igg_total_g_per_L"], 28.0)


# --- one run at a time -------------------------------------------------------------------

def test_a_second_run_into_a_folder_in_use_is_refused(trial, reference, tmp_path):
    out = tmp_path / "out"
    refusals = []

    def meddle(job):
        if job.stem == STEMS[0]:
            for resume in (False, True):
                with pytest.raises(InputError) as info:
                    run_trial(trial, out, chunk_size=CHUNK, resume=resume)
                refusals.append(str(info.value))

    result = run_trial(trial, out, chunk_size=CHUNK, on_chunk=meddle)
    assert len(refusals) == 2
    for message in refusals:
        assert message.startswith("--out: expected a folder no other run is writing to")
        assert f"locked by process {os.getpid()}" in message and "\n" not in message
    _same_as_reference(out, trial, reference, result)


@pytest.mark.slow  # 3 s or more (README run under 5 minutes): in CI and with --run-slow
def test_two_processes_into_one_folder_one_wins_whole_the_other_is_refused_or_reuses_it(trial, reference, tmp_path):
    path = _write(tmp_path, _doc())
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "ivigsim.cli", "trial", str(path), "--out", str(out), "--chunk-size", str(CHUNK),
           "--quiet"]
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outcomes = sorted((p.wait(timeout=300), p.stderr.read()) for p in procs)
    # Which interleaving happens depends on the machine's load: the second process either meets the
    # first one's lock (refused, exit 2) or starts after the first has finished and reuses its
    # finished chunks (exit 0, saying so). Either way the folder holds one whole trial (below).
    if [rc for rc, _ in outcomes] == [0, 0]:
        assert any("its finished chunks were reused" in err for _, err in outcomes), outcomes
    else:
        assert [rc for rc, _ in outcomes] == [0, 2], outcomes
        refusal = outcomes[1][1].strip()
        assert len(refusal.splitlines()) == 1 and refusal.startswith("error: --out: expected a"), refusal
    assert not any("Traceback" in err for _, err in outcomes)
    pd.testing.assert_frame_equal(_sorted(read_patients(out, trial, columns=None)), reference[1], check_exact=True)
    assert json.loads((out / "summary.json").read_text()) == reference[2]
    assert not (out / store.LOCK).exists()


def _lock(out: Path, pid: int, host: str | None = None):
    out.mkdir(parents=True, exist_ok=True)
    (out / store.LOCK).write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(), "token": "x"}))


def test_a_stale_lock_from_a_dead_process_is_taken_over(trial, reference, tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait()
    out = tmp_path / "out"
    _lock(out, dead.pid)
    result = run_trial(trial, out, chunk_size=CHUNK)
    _same_as_reference(out, trial, reference, result)
    # An unreadable lock: taken over when old, respected while it may be one being written.
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / store.LOCK).write_bytes(b"")
    with pytest.raises(InputError, match="another run is starting there"):
        run_trial(trial, garbage, chunk_size=CHUNK)
    old = time.time() - 3600
    os.utime(garbage / store.LOCK, (old, old))
    run_trial(trial, garbage, chunk_size=CHUNK)
    assert not (garbage / store.LOCK).exists() and (garbage / "summary.json").exists()


def test_a_live_lock_is_refused_and_nothing_is_written(trial, tmp_path):
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        out = tmp_path / "out"
        _lock(out, alive.pid)
        for resume in (False, True):
            with pytest.raises(InputError, match=f"locked by process {alive.pid}, "):
                run_trial(trial, out, chunk_size=CHUNK, resume=resume)
        _lock(out, 1, host="another-host")
        with pytest.raises(InputError, match="locked by process 1 on another-host"):
            run_trial(trial, out, chunk_size=CHUNK)
        assert [p.name for p in out.iterdir()] == [store.LOCK]
    finally:
        alive.kill()
        alive.wait()


def test_the_fingerprint_follows_the_csv_table_not_the_path_it_was_read_from(tmp_path, monkeypatch):
    doc = _csv_doc(tmp_path, [170, 165, 180], "actual")
    absolute = parse_trial(doc, base=tmp_path)
    monkeypatch.chdir(tmp_path.parent)
    relative = parse_trial(doc, base=Path(tmp_path.name))
    assert absolute.fingerprint() == relative.fingerprint()
    (tmp_path / "patients.csv").write_text((tmp_path / "patients.csv").read_text().replace("170", "171"))
    assert parse_trial(doc, base=tmp_path).fingerprint() != absolute.fingerprint()
