"""Trial figures: the forest plot draws exactly summary.json's contrasts, and the Kaplan-Meier
curves are statsmodels' estimate on the per-patient table (read back from the Axes)."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from statsmodels.duration.survfunc import SurvfuncRight
from typer.testing import CliRunner

from ivigsim.cli import app
from ivigsim.io.trial_file import parse_trial
from ivigsim.plot_population import RATIO_MEASURES, forest_figure, forest_rows, km_curves, km_figure
from ivigsim.trial.runner import run_trial
from tests.test_trial_file import small_trial

SIZE = 30


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    doc = small_trial(size=SIZE)
    doc["endpoints"].append({"name": "below_14", "output": "igg_total_g_per_L", "window": [3, 28],
                             "criterion": "< 14", "summary": "time_to_event"})
    doc["contrasts"] = [{"reference": "none"}]
    base = tmp_path_factory.mktemp("figures")
    (base / "t.yaml").write_text(yaml.safe_dump(doc))
    out = base / "out"
    run_trial(parse_trial(doc), out, chunk_size=16)
    return out


def _panel_points(ax):
    estimates = next(line for line in ax.lines if line.get_gid() == "estimates")
    intervals = [seg for coll in ax.collections for seg in coll.get_segments()]
    return (np.asarray(estimates.get_xdata(), float), np.asarray(estimates.get_ydata(), float),
            sorted((float(s[0][1]), float(s[0][0]), float(s[1][0])) for s in intervals))


def test_forest_points_are_the_contrasts_in_summary_json(folder):
    summary = json.loads((folder / "summary.json").read_text())
    fig = forest_figure(summary)
    expected: dict[str, list] = {}
    for c in summary["contrasts"]:
        for measure, e in c["estimates"].items():
            expected.setdefault(measure, []).append((f"{c['endpoint']}: {c['arm']} vs {c['reference']}", e))
    axes = fig.axes
    assert len(axes) == len(expected) == len(forest_rows(summary))
    for ax, (measure, entries) in zip(axes, expected.items()):
        assert measure.replace("_", " ") in ax.get_xlabel()
        assert (ax.get_xscale() == "log") == (measure in RATIO_MEASURES)
        xs, ys, intervals = _panel_points(ax)
        shown = [(len(entries) - 1 - i, e) for i, (_, e) in enumerate(entries) if e["estimate"] is not None]
        np.testing.assert_allclose(xs, [e["estimate"] for _, e in shown], rtol=0, atol=0)
        np.testing.assert_allclose(ys, [y for y, _ in shown])
        want = sorted((float(y), e["lower"], e["upper"]) for y, e in shown if e["lower"] is not None)
        np.testing.assert_allclose(intervals, want)
        labels = [t.get_text() for t in ax.get_yticklabels()]
        assert [label.removesuffix(" (n/a)") for label in labels] == [label for label, _ in entries]
    assert len(expected["mean_difference"]) == 2 and len(expected["risk_difference"]) == 3


@pytest.mark.parametrize("endpoint", ["blockade_gone", "below_14"])
def test_km_steps_are_statsmodels_estimate(folder, endpoint):
    table = pd.read_parquet(folder / "patients")
    curves, info = km_curves(folder, endpoint)
    fig = km_figure(curves, endpoint, info)
    lines = {line.get_gid(): line for line in fig.axes[0].lines}
    assert set(lines) == {"km:none", "km:1 g/kg"}
    for arm in ("none", "1 g/kg"):
        rows = table[(table["arm"] == arm) & table[endpoint].notna()]
        sf = SurvfuncRight(rows[endpoint].to_numpy(float), rows[f"{endpoint}_event"].to_numpy(float))
        x, y = np.asarray(lines[f"km:{arm}"].get_xdata()), np.asarray(lines[f"km:{arm}"].get_ydata())
        assert lines[f"km:{arm}"].get_drawstyle() == "steps-post"
        np.testing.assert_allclose(x[1:-1], sf.surv_times)
        np.testing.assert_allclose(y[1:-1], sf.surv_prob)
        assert (x[0], y[0]) == (0.0, 1.0) and x[-1] == rows[endpoint].max()
        # independently, the empirical share without the event at each step (one common censoring time)
        t = np.where(rows[f"{endpoint}_event"] > 0, rows[endpoint], np.inf)
        np.testing.assert_allclose(y[1:-1], [(t > s).mean() for s in sf.surv_times])


def test_cli_writes_forest_and_km_figures(folder, tmp_path):
    result = CliRunner().invoke(app, ["plot-trial", str(folder), "--forest", "--km", "below_14",
                                      "--figure-format", "svg"])
    assert result.exit_code == 0, result.output
    assert (folder / "forest.svg").stat().st_size > 0 and (folder / "km-below_14.svg").stat().st_size > 0
    again = CliRunner().invoke(app, ["plot-trial", str(folder), "--forest", "--figure-format", "svg"])
    assert again.exit_code == 2 and "--overwrite" in again.output
    one = CliRunner().invoke(app, ["plot-trial", str(folder), "--km", "blockade_gone", "--out", str(tmp_path / "k.pdf"),
                                   "--figure-format", "pdf"])
    assert one.exit_code == 0 and (tmp_path / "k.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("args, field", [
    (["--km", "igg_d7"], "--km"),                         # not a time-to-event endpoint
    (["--km", "nope"], "--km"),
    (["--forest", "--km", "below_14", "--out", "x.png"], "--out"),
])
def test_bad_figure_options_are_one_line_exit_2(folder, args, field):
    result = CliRunner().invoke(app, ["plot-trial", str(folder), *args])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}:")


def test_forest_without_contrasts_is_refused(tmp_path):
    doc = small_trial(size=5)
    out = tmp_path / "out"
    run_trial(parse_trial(doc), out)
    result = CliRunner().invoke(app, ["plot-trial", str(out), "--forest"])
    assert result.exit_code == 2 and "error: --forest: expected a trial run with contrasts" in result.output
    assert not (out / "forest.png").exists()


def _damage(folder, tmp_path, how):
    import shutil

    copy = tmp_path / "damaged"
    shutil.copytree(folder, copy)
    if how == "empty-patients":
        next((copy / "patients").glob("*.parquet")).write_bytes(b"")
    elif how == "corrupt-patients":
        next((copy / "patients").glob("*.parquet")).write_bytes(b"PAR1garbage")
    else:
        summary = json.loads((copy / "summary.json").read_text())
        if how == "contrasts-text":
            summary["contrasts"] = "x"
        elif how == "arms-numbers":
            summary["arms"] = [1, 2]
        elif how == "no-endpoints":
            for arm in summary["arms"]:
                arm.pop("endpoints")
        (copy / "summary.json").write_text(json.dumps(summary))
    return copy


@pytest.mark.parametrize("how, args", [
    ("empty-patients", ["--km", "below_14"]), ("corrupt-patients", ["--km", "below_14"]),
    ("contrasts-text", ["--forest"]), ("arms-numbers", ["--km", "below_14"]), ("no-endpoints", ["--km", "below_14"]),
])
def test_a_damaged_trial_folder_is_one_line_not_a_traceback(folder, tmp_path, how, args):
    """Fuzzing found tracebacks (pyarrow's ArrowInvalid, TypeError, KeyError) on truncated or
    corrupt Parquet chunks and on a summary.json of another shape."""
    damaged = _damage(folder, tmp_path, how)
    result = CliRunner().invoke(app, ["plot-trial", str(damaged), *args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "expected a trial's output folder as `ivigsim trial` wrote it" in lines[0]
    assert not list(damaged.glob("*.png"))
