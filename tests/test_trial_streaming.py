"""A written trial's summary is reduced chunk file by chunk file, never from every patient's
row at once, and is the same, bit for bit, as the summary of the whole table."""

import json
from dataclasses import replace

import pandas as pd
import pytest

from ivigsim.engine.compiled import Auto
from ivigsim.io.trial_file import parse_trial
from ivigsim.trial import runner
from ivigsim.trial.runner import read_patients, run_trial, screen_trial, summarise, summarise_files, summary_columns
from tests.test_trial_file import small_trial

SIZE = 37


@pytest.fixture(scope="module")
def trial():
    doc = small_trial(size=SIZE, design="parallel")
    doc["endpoints"] = [*doc["endpoints"],
                        {"name": "igg_q", "output": "igg_total_g_per_L", "at_day": 3, "summary": "quantile",
                         "quantiles": [0.1, 0.9]},
                        {"name": "headache", "output": "ae_headache_probability", "summary": "mean"}]
    # A step budget that some patients exhaust: the failed-patient lists are summarised too.
    return replace(parse_trial(doc), solver=Auto(max_steps=60))


@pytest.fixture(scope="module")
def written(trial, tmp_path_factory):
    out = tmp_path_factory.mktemp("streamed")
    result = run_trial(trial, out, chunk_size=8)  # 5 chunk files
    return out, result


def _whole_table_summary(trial, out):
    table = read_patients(out, trial, summary_columns(trial))
    return summarise(trial, table, screen_trial(trial))


def test_streamed_summary_equals_the_whole_table_summary(trial, written):
    out, result = written
    assert len(list((out / "patients").glob("chunk-*.parquet"))) == 5
    reference = _whole_table_summary(trial, out)
    assert sum(arm["failed"] for arm in result.summary["arms"]) > 0  # the failure lists are exercised
    assert any(arm["failed"] < arm["patients"] for arm in result.summary["arms"])
    assert json.dumps(result.summary, sort_keys=False) == json.dumps(reference, sort_keys=False)
    assert (out / "summary.json").read_text() == json.dumps(reference, indent=2)


@pytest.mark.parametrize("buffer_bytes", [1, 8 * 2 * SIZE * 3])
def test_any_buffer_gives_the_same_summary(trial, written, buffer_bytes):
    out, result = written
    files = sorted((out / "patients").glob("chunk-*.parquet"))
    streamed = summarise_files(trial, files, screen_trial(trial), buffer_bytes=buffer_bytes)
    assert json.dumps(streamed) == json.dumps(result.summary)


def test_summary_never_reads_every_row_at_once(trial, written, monkeypatch):
    """Each read is one chunk file: at most a chunk's rows in memory per read."""
    out, result = written
    calls = []
    original = pd.read_parquet

    def spy(path, *args, **kwargs):
        frame = original(path, *args, **kwargs)
        calls.append(len(frame))
        return frame

    monkeypatch.setattr(runner.pd, "read_parquet", spy)
    files = sorted((out / "patients").glob("chunk-*.parquet"))
    streamed = summarise_files(trial, files, screen_trial(trial))
    assert json.dumps(streamed) == json.dumps(result.summary)
    assert calls and max(calls) <= 8 * len(trial.arms)


@pytest.mark.parametrize("compiled, terminal, said", [(False, True, True), (True, True, False), (False, False, False)])
def test_a_cold_solver_cache_is_announced_once_on_a_terminal(trial, monkeypatch, capsys, compiled, terminal, said):
    """The first trial on a fresh machine compiles the solver (up to a minute): it says so on a
    terminal instead of looking stuck; never in a pipe (scripts parse stderr), never when cached."""
    import sys

    from ivigsim.engine import codegen
    from ivigsim.model.library import compiled_model

    monkeypatch.setattr(codegen, "kernel_is_compiled", lambda model, entry="solve_batch": compiled)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: terminal)
    runner._say_if_compiling(trial, compiled_model(trial.disease), 8)
    err = capsys.readouterr().err
    assert ("compiling the solver" in err) == said
    assert len(err.splitlines()) == int(said)
