"""`ivigsim trial FILE --ensemble N`: the trial again under each parameter vector, same seed.

Checked against independent answers: all-zero deviations collapse the band onto the point
estimate, bit for bit; a vector's stored summary equals the trial run directly with the
overrides applied by the validation layer's own path (``with_overrides`` around
``joint.shipped_values``, then ``run_trial``); the band is the order statistics of the vectors'
estimates, recomputed here from their files; the same seed gives the same bands; a resume
recomputes only the vectors that are missing or damaged; bad options are one line, exit 2,
nothing written.
"""

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from ivigsim.cli import app
from ivigsim.io.trial_file import load_trial
from ivigsim.trial import ensemble as trial_ensemble
from ivigsim.trial import runner
from ivigsim.trial.ensemble import FOLDER, run_trial_with_band, vector_folder, vector_trials
from ivigsim.uncertainty import Ensemble, ensemble, load

TRIAL = """\
name: tiny ITP ensemble
disease: itp
seed: 11
size: 50
population:
  parameters:
    platelet_baseline_1e9_per_L: 20{extra}
  variability:
    platelet_baseline_1e9_per_L: 0.6
  inclusion: ["platelets_1e9_per_L < 50", "platelets_1e9_per_L >= 1"]
regimens:
  one: {{doses: [{{day: 0, g_per_kg: 1.0}}]}}
arms:
  - {{name: none}}
  - {{name: 1 g/kg, regimen: one}}
endpoints:
  - {{name: response_day4, output: platelets_1e9_per_L, at_day: 4, summary: fraction, criterion: "> 80"}}
  - {{name: rise_day4, output: platelets_1e9_per_L, measure: change, at_day: 4, summary: mean}}
  - {{name: count_day3, output: platelets_1e9_per_L, at_day: 3, summary: median}}
simulation: {{days: 5, output_every_days: 0.5}}
contrasts:
  - {{reference: none}}
"""


def _file(tmp_path, extra=""):
    path = tmp_path / "tiny.yaml"
    path.write_text(TRIAL.format(extra=extra))
    return path


def _cells(summary):
    """(arm, endpoint, statistic) -> point estimate; ("contrast", j, measure) -> estimate."""
    out = {(a["arm"], name, stat): est["estimate"] for a in summary["arms"]
           for name, e in a["endpoints"].items() for stat, est in e["estimates"].items()}
    out |= {("contrast", j, m): e["estimate"] for j, c in enumerate(summary["contrasts"])
            for m, e in c["estimates"].items()}
    return out


def _bands(band):
    out = {(a["arm"], name, stat): b for a in band["arms"] for name, e in a["endpoints"].items()
           for stat, b in e.items()}
    out |= {("contrast", j, m): b for j, c in enumerate(band["contrasts"]) for m, b in c["estimates"].items()}
    return out


def test_zero_deviations_collapse_the_band_onto_the_point_estimate(tmp_path):
    trial = load_trial(_file(tmp_path))
    laplace = load()
    zero = Ensemble(laplace.names, laplace.scales, np.zeros((3, len(laplace.names))), seed=0)
    result = run_trial_with_band(trial, zero, 0.9)
    band = result.summary["parameter_uncertainty"]
    assert band["vectors"] == 3 and band["failed_vectors"] == [] and band["level"] == 0.9
    point, bands = _cells(result.summary), _bands(band)
    assert set(point) == set(bands) and len(point) == 3 * 2 + 4 + 1  # 3 statistics per arm, 5 contrast measures
    for key, value in point.items():
        b = bands[key]
        assert b["median"] == b["lower"] == b["upper"] == value, key  # exactly: the same patients, the same numbers
        assert b["vectors"] == 3


def test_a_vector_is_the_trial_run_with_its_overrides_and_the_band_is_their_order_statistics(tmp_path):
    from ivigsim.model.library import compiled_model
    from ivigsim.validation.joint import fit_parameter, shipped_values
    from ivigsim.validation.trial_targets import with_overrides

    trial = load_trial(_file(tmp_path))
    vectors = ensemble(3, seed=4)
    out = tmp_path / "out"
    result = run_trial_with_band(trial, vectors, 0.9, out, chunk_size=32)
    # Per-patient files of the vectors are not kept; their summaries and records are.
    for j in range(3):
        assert sorted(p.name for p in vector_folder(out, j).iterdir()) == ["summary.json", "trial.json", "vector.json"]
    # The independent path: the validation layer's centre (shipped values) and overrides, the plain runner.
    names = [n for n in vectors.names if n in compiled_model("itp").model.parameter_names]
    overrides = vectors.only(names).values(shipped_values(names), {n: fit_parameter(n).bounds for n in names})
    stored = [json.loads((vector_folder(out, j) / "summary.json").read_text()) for j in range(3)]
    for j in (0, 2):
        direct = runner.run_trial(with_overrides(trial, overrides[j]), None).summary
        direct = json.loads(json.dumps(direct))  # as stored
        assert stored[j]["arms"] == direct["arms"] and stored[j]["contrasts"] == direct["contrasts"]
        record = json.loads((vector_folder(out, j) / "vector.json").read_text())
        assert record["values"][""] == pytest.approx(overrides[j], rel=0, abs=0)
    assert set(result.summary["parameter_uncertainty"]["parameters_moved"]) == set(names)
    # The band: with 3 vectors, the middle one and the extremes, recomputed from the stored files.
    bands = _bands(result.summary["parameter_uncertainty"])
    for key, b in bands.items():
        values = sorted(_cells(s)[key] for s in stored)
        assert (b["lower"], b["median"], b["upper"]) == (values[0], values[1], values[2]), key
    # The parameters move the rise (not a degenerate test), and the shipped run is unchanged by the ensemble.
    rise = bands[("1 g/kg", "rise_day4", "mean")]
    assert rise["upper"] - rise["lower"] > 1.0
    assert _cells(result.summary) == _cells(json.loads(json.dumps(runner.run_trial(trial, None).summary)))
    written = json.loads((out / "summary.json").read_text())
    assert written["parameter_uncertainty"] == json.loads(json.dumps(result.summary["parameter_uncertainty"]))
    header = (out / "contrasts.csv").read_text().splitlines()[0]
    assert header.endswith("parameter_median,parameter_lower,parameter_upper")


def test_the_same_seed_gives_the_same_bands_and_another_seed_others(tmp_path):
    trial = load_trial(_file(tmp_path))
    first = run_trial_with_band(trial, ensemble(3, seed=5), 0.9).summary["parameter_uncertainty"]
    again = run_trial_with_band(trial, ensemble(3, seed=5), 0.9).summary["parameter_uncertainty"]
    other = run_trial_with_band(trial, ensemble(3, seed=6), 0.9).summary["parameter_uncertainty"]
    assert first == again
    key = ("1 g/kg", "rise_day4", "mean")
    assert _bands(first)[key] != _bands(other)[key]


def test_a_value_the_file_sets_is_held_and_the_others_move(tmp_path):
    trial = load_trial(_file(tmp_path, extra="\n    fcrn_km_g_per_L: 60"))
    trials, values, moved, held = vector_trials(trial, ensemble(3, seed=0))
    assert held == ["fcrn_km_g_per_L"] and "fcrn_km_g_per_L" not in moved and "fcgr_kd_g_per_L" in moved
    kd = [t.population.parameters["fcgr_kd_g_per_L"] for t in trials]
    assert all(t.population.parameters["fcrn_km_g_per_L"] == 60 for t in trials)
    assert len(set(kd)) == 3 and all(math.isfinite(v) for v in kd)
    assert all(t.seed == trial.seed and t.size == trial.size for t in trials)


def test_resume_recomputes_only_the_vectors_missing_or_damaged(tmp_path, monkeypatch):
    path = _file(tmp_path)
    out = tmp_path / "out"
    first = CliRunner().invoke(app, ["trial", str(path), "-o", str(out), "--ensemble", "3", "--ensemble-seed", "2",
                                     "--chunk-size", "32"])
    assert first.exit_code == 0, first.output
    assert "param. 90 %: median [band]" in first.output and "parameter uncertainty" in first.output
    band = json.loads((out / "summary.json").read_text())["parameter_uncertainty"]
    assert (band["vectors"], band["seed"], band["level"]) == (3, 2, 0.9)
    kept = (vector_folder(out, 0) / "summary.json").stat().st_mtime_ns
    original = (vector_folder(out, 1) / "summary.json").read_text()
    # Vector 1 cut off after its first chunk (deleted, then run again and interrupted), vector 2's
    # summary damaged: both computed again (vector 1 from its finished chunk), vector 0 reused.
    import shutil

    trial = load_trial(path)
    shutil.rmtree(vector_folder(out, 1))

    def stop(job):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner.run_trial(vector_trials(trial, ensemble(3, seed=2))[0][1], vector_folder(out, 1), chunk_size=32,
                         on_chunk=stop)
    assert len(list((vector_folder(out, 1) / "patients").glob("chunk-*.parquet"))) == 1
    damaged = vector_folder(out, 2) / "summary.json"
    damaged.write_text(damaged.read_text().replace('"arms"', '"arms" ', 1))
    calls = []
    real = runner.run_trial
    monkeypatch.setattr(runner, "run_trial", lambda trial, out=None, **kw: calls.append((out, kw.get("resume")))
                        or real(trial, out, **kw))
    result = run_trial_with_band(trial, ensemble(3, seed=2), 0.9, out, chunk_size=32, resume=True)
    assert calls == [(out, True), (vector_folder(out, 1), True), (vector_folder(out, 2), False)]
    assert (vector_folder(out, 1) / "summary.json").read_text() == original
    assert any("1 of 3 parameter vector(s) reused" in n for n in result.notes)
    assert (vector_folder(out, 0) / "summary.json").stat().st_mtime_ns == kept
    assert json.loads((out / "summary.json").read_text())["parameter_uncertainty"] == band
    assert sorted(p.name for p in (out / FOLDER).iterdir()) == ["vector-0000", "vector-0001", "vector-0002"]


@pytest.mark.parametrize("args, option", [
    (["--ensemble", "0"], "--ensemble"),
    (["--ensemble", "ten"], "--ensemble"),
    (["--ensemble", "3", "--ensemble-level", "1.5"], "--ensemble-level"),
    (["--ensemble", "3", "--ensemble-seed", "-1"], "--ensemble-seed"),
])
def test_bad_options_are_one_line_exit_2_and_nothing_written(tmp_path, args, option):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["trial", str(_file(tmp_path)), "-o", str(out), *args])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {option}: expected"), result.output
    assert not out.exists()


def test_a_vector_that_cannot_run_is_counted_and_left_out(tmp_path, monkeypatch):
    trial = load_trial(_file(tmp_path))
    real = trial_ensemble.with_typical_values
    seen = []

    def refuse_the_second(t, values):
        seen.append(values)
        if len(seen) == 2:
            from ivigsim.errors import InputError
            raise InputError("population.inclusion", "criteria some candidates meet", "nobody")
        return real(t, values)

    monkeypatch.setattr(trial_ensemble, "with_typical_values", refuse_the_second)
    band = run_trial_with_band(trial, ensemble(3, seed=0), 0.9).summary["parameter_uncertainty"]
    assert [f["vector"] for f in band["failed_vectors"]] == [1]
    assert "population.inclusion" in band["failed_vectors"][0]["reason"]
    assert _bands(band)[("1 g/kg", "rise_day4", "mean")]["vectors"] == 2
    assert "1 vector(s) whose solve failed left out" in band["description"]


def test_a_trial_with_a_comparator_runs_every_vector_and_moves_the_inhibitors_affinity(tmp_path):
    """A trial on the comparator model: each vector moves the calibrated parameters that model
    declares, the FcRn inhibitor's affinity among them (checked against that model, not the
    IVIG model, which refused every vector before: the band was empty and the run exited 0)."""
    path = tmp_path / "scig.yaml"
    path.write_text("name: ensemble with a SCIG arm\ndisease: cidp\nseed: 1\nsize: 3\n"
                    "regimens:\n  sc: {scig: {g_per_kg: 0.2, every_days: 7, count: 4}}\n"
                    "arms:\n  - {name: sc, regimen: sc}\n"
                    "endpoints:\n  - {name: igg, output: igg_total_g_per_L, at_day: 28, summary: mean}\n"
                    "simulation: {days: 28}\n")
    trial = load_trial(path)
    trials, values, moved, _ = vector_trials(trial, ensemble(2, seed=0))
    assert not [t for t in trials if isinstance(t, Exception)]
    assert "fcrn_inhibitor_kd_g_per_L" in moved
    band = run_trial_with_band(trial, ensemble(2, seed=0), 0.9).summary["parameter_uncertainty"]
    assert not band["failed_vectors"]
    assert _bands(band)[("sc", "igg", "mean")]["vectors"] == 2


def test_a_drugs_own_constants_are_held_when_every_arm_gives_it(tmp_path):
    """Every arm gives nipocalimab, whose constants replace the typical values in its arms: the
    inhibitor's affinity (efgartigimod's, in the ensemble) is listed as held, not as moved, and
    the vectors' trials do not carry it; with an efgartigimod arm beside it, it moves again."""
    def doc(second: str) -> str:
        return ("name: inhibitors\ndisease: mg\nseed: 1\nsize: 3\n"
                "arms:\n  - {name: nipocalimab, regimen: {fcrn_inhibitor: {drug: nipocalimab, mg_per_kg: 15, days: [0]}}}\n"
                f"  - {{name: second, regimen: {{fcrn_inhibitor: {{drug: {second}, days: [0]}}}}}}\n"
                "endpoints:\n  - {name: igg, output: igg_total_g_per_L, at_day: 14, summary: mean}\n"
                "simulation: {days: 14}\n")
    kd = "fcrn_inhibitor_kd_g_per_L"
    path = tmp_path / "both.yaml"
    path.write_text(doc("nipocalimab"))
    _, values, moved, held = vector_trials(load_trial(path), ensemble(2, seed=0))
    assert kd in held and kd not in moved and all(kd not in v[""] for v in values)
    path.write_text(doc("efgartigimod"))
    _, values, moved, held = vector_trials(load_trial(path), ensemble(2, seed=0))
    assert kd in moved and kd not in held
