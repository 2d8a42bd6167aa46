"""Same trial, same numbers: whatever the chunking, interruption or workers."""

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import yaml

from ivigsim.io.trial_file import parse_trial
from ivigsim.trial.runner import read_patients, run_trial
from tests.test_trial_file import small_trial

SIZE = 49


@pytest.fixture(scope="module")
def trial():
    doc = small_trial(size=SIZE, design="parallel")
    doc["population"]["variability"]["baseline_igg_g_per_L"] = 0.3
    return parse_trial(doc)


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["arm", "patient"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(trial, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    result = run_trial(trial, out, chunk_size=SIZE)  # one chunk
    patients = read_patients(out, trial, columns=None)
    return _sorted(patients), result.summary


@pytest.mark.parametrize("chunks", [3, 7])
def test_chunking_does_not_change_any_patient(trial, reference, chunks, tmp_path):
    chunk_size = -(-SIZE // chunks)
    result = run_trial(trial, tmp_path, chunk_size=chunk_size)
    assert len(list((tmp_path / "patients").glob("*.parquet"))) == chunks
    pd.testing.assert_frame_equal(_sorted(read_patients(tmp_path, trial, columns=None)), reference[0], check_exact=True)
    assert result.summary == reference[1]


def test_in_memory_run_equals_written_run(trial, reference):
    result = run_trial(trial, None, chunk_size=10)
    assert result.summary == reference[1]
    pd.testing.assert_frame_equal(_sorted(result.patients), reference[0], check_exact=True)


def test_parallel_design_gives_each_arm_its_own_patients(reference):
    patients = reference[0]
    a = patients[patients["arm"] == "none"]["weight_kg"].to_numpy()
    b = patients[patients["arm"] == "1 g/kg"]["weight_kg"].to_numpy()
    assert not np.array_equal(a, b)


def test_interrupted_run_resumes_without_loss_or_duplicates(trial, reference, tmp_path):
    class Stop(Exception):
        pass

    done = []

    def interrupt(job):
        done.append(job.stem)
        if len(done) == 3:
            raise Stop

    with pytest.raises(Stop):
        run_trial(trial, tmp_path, chunk_size=7, on_chunk=interrupt)
    assert len(list((tmp_path / "patients").glob("*.parquet"))) == 3
    assert not (tmp_path / "summary.json").exists()
    resumed = []
    result = run_trial(trial, tmp_path, chunk_size=7, resume=True, on_chunk=lambda job: resumed.append(job.stem))
    assert not set(resumed) & set(done) and len(resumed) == 4  # only the missing chunks ran
    pd.testing.assert_frame_equal(_sorted(read_patients(tmp_path, trial, columns=None)), reference[0], check_exact=True)
    assert result.summary == reference[1]


def test_resume_refuses_another_trial_or_chunk_size(trial, tmp_path):
    from ivigsim.errors import InputError

    run_trial(replace(trial, size=10), tmp_path, chunk_size=5)
    with pytest.raises(InputError, match="--chunk-size"):
        run_trial(replace(trial, size=10), tmp_path, chunk_size=4, resume=True)
    other = parse_trial(small_trial(size=10, seed=12, design="parallel"))
    with pytest.raises(InputError, match="--resume: expected the same trial"):
        run_trial(other, tmp_path, chunk_size=5, resume=True)


@pytest.mark.slow  # tens of seconds: runs in CI (.ci/run) and with --run-slow
def test_killed_process_resumes(tmp_path):
    """A real interruption: SIGKILL the CLI mid-run, then --resume; compare with a clean run."""
    doc = small_trial(size=300, seed=3)
    doc["simulation"]["method"] = "numpy-dopri5"  # slower, so there is time to kill it mid-run
    doc["simulation"]["days"] = 60
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(doc))
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "ivigsim.cli", "trial", str(path), "--out", str(out), "--chunk-size", "10", "--quiet"]
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if len(list((out / "patients").glob("chunk-*.parquet"))) >= 3 if (out / "patients").exists() else False:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait(timeout=120)
    subprocess.run([*cmd, "--resume"], env=env, check=True, capture_output=True, timeout=300)
    clean = tmp_path / "clean"
    subprocess.run([*cmd[:5], "--out", str(clean), *cmd[7:]], env=env, check=True, capture_output=True, timeout=300)
    trial = parse_trial(doc)
    pd.testing.assert_frame_equal(_sorted(read_patients(out, trial, columns=None)),
                                  _sorted(read_patients(clean, trial, columns=None)), check_exact=True)
    assert (out / "summary.json").read_text() == (clean / "summary.json").read_text()


@pytest.mark.slow  # 4-17 s: in CI and with --run-slow (the README command stays under 5 minutes)
def test_two_worker_dask_cluster_gives_identical_results(trial, reference, tmp_path):
    pytest.importorskip("dask.distributed")
    from ivigsim.trial.distributed import local_client

    client = local_client(2)
    try:
        result = run_trial(trial, tmp_path, chunk_size=8, client=client)
    finally:
        client.close()
        client.cluster.close()
    pd.testing.assert_frame_equal(_sorted(read_patients(tmp_path, trial, columns=None)), reference[0], check_exact=True)
    assert result.summary == reference[1]
