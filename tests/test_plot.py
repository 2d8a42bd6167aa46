"""Figures: they agree with the printed summary, draw what the disease declares, and are
written as PNG, SVG and PDF (``ivigsim.plot``, ``ivigsim.plot_population``, the CLI options).

Figures are read back from matplotlib's objects (lines, bar patches, axis limits), not
compared as pictures. One simulation of the shipped ITP example serves every patient test.
"""

from __future__ import annotations

import dataclasses
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from ivigsim.attribution import Attribution  # noqa: E402
from ivigsim.cli import app  # noqa: E402
from ivigsim.model.diseases import Threshold  # noqa: E402
from ivigsim.model.library import get_disease  # noqa: E402
from ivigsim.plot import (  # noqa: E402
    attribution_figure,
    mark_doses,
    patient_figure,
    plot_attribution,
    plot_patient,
)
from ivigsim.plot_population import (  # noqa: E402
    band_of_ensemble,
    bands_of_courses,
    plot_population,
    population_figure,
)

ROOT = Path(__file__).resolve().parents[1]
MECHANISMS = ("fcrn_saturation", "anti_idiotype", "fcgr_blockade", "b_cell_inhibition")


@pytest.fixture(scope="module")
def itp():
    from ivigsim.io.scenario_file import load_scenario
    from ivigsim.simulation import simulate

    return simulate(load_scenario(ROOT / "examples" / "itp-standard.yaml"))


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _axis(fig, starts: str):
    return next(ax for ax in fig.axes if ax.get_ylabel().startswith(starts))


def _line(ax, label: str | None = None):
    lines = [ln for ln in ax.get_lines() if label is None or ln.get_label() == label]
    return max(lines, key=lambda ln: len(ln.get_xdata()))


# --- the patient figure agrees with the summary --------------------------------------------


def test_plotted_peak_and_best_equal_the_printed_summary(itp):
    """The curves are the saved points (grid plus every infusion's start and end), which the
    summary reads: the figure's maximum IgG and best platelet count are the printed ones."""
    from ivigsim.summary import summarise

    lines = summarise(itp).lines()
    printed_peak = re.search(r"peak ([0-9.]+) g/L", next(x for x in lines if x.startswith("total IgG"))).group(1)
    printed_best = re.search(r"best (\S+) on day", next(x for x in lines if x.startswith("platelets"))).group(1)
    fig = patient_figure(itp)
    igg = _line(_axis(fig, "serum IgG"), "total IgG")
    assert f"{np.nanmax(igg.get_ydata()):.2f}" == printed_peak
    platelets = _line(_axis(fig, "platelet count"))
    assert f"{np.nanmax(platelets.get_ydata()):.3g}" == printed_best
    # the numbers written on the figure are the summary's, to its precision
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any(f"peak {printed_peak} g/L" in t for t in texts)
    assert any(f"best {printed_best} on day" in t for t in texts)


def test_thresholds_come_from_the_disease_and_are_labelled(itp):
    fig = patient_figure(itp)
    ax = _axis(fig, "platelet count")
    levels = {float(ln.get_ydata()[0]): ln.get_label() for ln in ax.get_lines()
              if ln.get_label() != "IVIG infusion" and len(set(ln.get_ydata())) == 1 and len(ln.get_ydata()) == 2}
    assert set(levels) == {50.0, 80.0}
    assert "Robak 2009" in levels[50.0] and "Godeau 1999" in levels[80.0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("50: response") for t in legend)
    # a disease that declares another threshold draws that one, and not the shipped ones
    itp_disease = get_disease("itp")
    readout = dataclasses.replace(itp_disease.readouts[0], thresholds=(Threshold(123.0, "made-up level"),))
    other = dataclasses.replace(itp_disease, readouts=(readout, *itp_disease.readouts[1:]))
    ax = _axis(patient_figure(itp, disease=other), "platelet count")
    drawn = {float(ln.get_ydata()[0]) for ln in ax.get_lines() if ln.get_label().startswith("123")}
    assert drawn == {123.0}
    assert not any(ln.get_label().startswith(("50:", "80:")) for ln in ax.get_lines())


def test_readable_labels_with_units(itp):
    fig = patient_figure(itp)
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert labels[0] == "platelet count\n(10^9/L)"
    assert not any("_" in label for label in labels)  # no variable names
    assert fig.axes[-1].get_xlabel() == "time (days)"


def test_log_scale_for_igg(itp):
    assert _axis(patient_figure(itp), "serum IgG").get_yscale() == "linear"
    ax = _axis(patient_figure(itp, log_igg=True), "serum IgG")
    assert ax.get_yscale() == "log"
    assert {ln.get_label() for ln in ax.get_lines()} >= {"total IgG", "IVIG-derived IgG", "patient's own IgG"}


def test_dose_markers_stay_visible_on_a_long_run():
    """On a year's axis a 4-hour infusion is narrower than a pixel: it becomes a line (and a
    triangle above the top panel); on a short axis it stays a band."""
    fig, axes = plt.subplots(2, 1)
    mark_doses(axes, [0.0, 21.0], [0.17, 21.17], span=365.0)
    assert len(axes[1].get_lines()) == 2 and not axes[1].patches
    marker = [ln for ln in axes[0].get_lines() if ln.get_label() == "IVIG infusion"]
    assert len(marker) == 1 and list(marker[0].get_xdata()) == [0.0, 21.0]
    fig, axes = plt.subplots(2, 1)
    mark_doses(axes, [0.0], [1.0], span=14.0)
    assert len(axes[1].patches) == 1


# --- the attribution bar chart ---------------------------------------------------------------


def _attribution(values) -> Attribution:
    shapley = dict(zip(MECHANISMS, values))
    return Attribution(mechanisms=MECHANISMS, all_on=12.0 + sum(values), none_on=12.0, knockout=dict(shapley),
                       shapley=shapley)


class _Bands:
    level = 0.9

    def __init__(self, spread: float) -> None:
        self.spread = spread

    def shapley(self, name):
        return (0.0, -self.spread, self.spread)


@pytest.mark.parametrize("values", [(-23.4, 1.5, 242.6, 0.5), (3.0, 2.0, 1.0, 0.0), (-5.0, -1.0, -0.2, 0.0)])
def test_attribution_bars_are_the_shapley_values_and_all_fit(values):
    fig = attribution_figure(_attribution(values), "platelet count (value on day 7)", units="10^9/L")
    ax = fig.axes[0]
    bars = [p for p in ax.patches if isinstance(p, matplotlib.patches.Rectangle)]
    assert [p.get_height() for p in bars] == pytest.approx(values)
    assert all(p.get_y() == 0 for p in bars)  # every bar starts at zero: no waterfall
    low, high = ax.get_ylim()
    assert low <= min(0.0, *values) and high >= max(0.0, *values)
    assert low < min(0.0, *values) or min(values) >= 0  # and the bars are not clipped at their ends
    colours = [matplotlib.colors.to_hex(p.get_facecolor()) for p in bars]
    assert colours == ["#31a354" if v >= 0 else "#d62728" for v in values]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[2] == "Fc-gamma\nreceptor\nblockade"
    assert ax.get_ylabel() == "Shapley value (10^9/L)"
    assert "no mechanism 12" in ax.get_title()


def test_attribution_whiskers_fit_inside_the_axes():
    fig = attribution_figure(_attribution((1.0, 2.0, 3.0, 4.0)), "x", bands=_Bands(30.0))
    low, high = fig.axes[0].get_ylim()
    assert low <= -30.0 and high >= 30.0
    assert "90 % band" in fig.axes[0].get_title()


# --- files: PNG, SVG, PDF --------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_figures_are_written_in_each_format(tmp_path, fmt):
    path = plot_attribution(_attribution((-1.0, 2.0, 3.0, 0.5)), tmp_path / f"a.{fmt}", "x")
    data = path.read_bytes()
    if fmt == "svg":
        assert ET.fromstring(data).tag.endswith("svg")
    elif fmt == "pdf":
        assert data.startswith(b"%PDF")
    else:
        assert data.startswith(b"\x89PNG")
    # the format can be named apart from the suffix (the CLI writes to a temporary file)
    other = plot_attribution(_attribution((1.0, 1.0, 1.0, 1.0)), tmp_path / "tmp.part", "x", fmt=fmt)
    assert other.read_bytes()[:4] == data[:4]


def test_patient_figure_as_pdf_and_svg(tmp_path, itp):
    assert plot_patient(itp, tmp_path / "p.pdf").read_bytes().startswith(b"%PDF")
    root = ET.fromstring(plot_patient(itp, tmp_path / "p.svg", log_igg=True).read_bytes())
    assert root.tag.endswith("svg")
    assert b"platelet count" in (tmp_path / "p.svg").read_bytes()  # text kept as text in the SVG


@pytest.mark.parametrize("name", ["a $\\frac{ b", "$" + "{" * 50 + "$", "$x$ costs $5"])
def test_a_name_with_dollar_signs_is_drawn_as_written(tmp_path, itp, name):
    """A name a user typed is text, not a formula: matplotlib would parse "$...$" (and fail
    on a bad one, after the CSV was written); on a log axis its own tick labels still are."""
    svg = plot_patient(itp, tmp_path / "p.svg", title=name, log_igg=True).read_bytes()
    assert name.encode() in svg  # the SVG keeps text as text
    assert b"10" in svg  # the log axis' tick labels, drawn as formulas


def test_unknown_format_is_refused(tmp_path):
    from ivigsim.errors import InputError

    with pytest.raises(InputError, match="png or svg or pdf"):
        plot_attribution(_attribution((1.0, 1.0, 1.0, 1.0)), tmp_path / "a.jpg", "x")
    assert not (tmp_path / "a.jpg").exists()


# --- population figures ----------------------------------------------------------------------


def _courses(n: int = 21) -> pd.DataFrame:
    t = np.arange(0.0, 11.0)
    rows = [pd.DataFrame({"arm": arm, "patient": p, "time_day": t, "platelets_1e9_per_L": 20 + scale * (p + 1) * t,
                          "igg_total_g_per_L": 11.0 + t})
            for arm, scale in (("low", 1.0), ("high", 3.0)) for p in range(n)]
    return pd.concat(rows, ignore_index=True)


def test_bands_are_the_5_50_95_centiles_per_arm():
    courses = _courses()
    bands = bands_of_courses(courses, "platelets_1e9_per_L")
    assert [b.label for b in bands] == ["low", "high"] and [b.n for b in bands] == [21, 21]
    day5 = courses[(courses.arm == "high") & (courses.time_day == 5.0)]["platelets_1e9_per_L"]
    high = bands[1]
    assert (high.lower[5], high.middle[5], high.upper[5]) == pytest.approx(tuple(np.quantile(day5, [0.05, 0.5, 0.95])))
    fig = population_figure(bands, "platelets", observed=(np.array([2.0, 5.0]), np.array([40.0, 90.0])),
                            thresholds=get_disease("itp").readouts[0].thresholds, log=True)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert len(ax.collections) == 3  # two bands and the observed points
    assert list(ax.collections[2].get_offsets()[:, 1]) == [40.0, 90.0]
    assert {float(ln.get_ydata()[0]) for ln in ax.get_lines() if ln.get_label()[:3] in ("50:", "80:")} == {50.0, 80.0}


def test_band_of_an_ensemble_run(tmp_path):
    t = np.linspace(0.0, 10.0, 5)
    data = {f"igg_total_g_per_L_param_{k}": (("time", "patient"), (t + shift)[:, None])
            for k, shift in (("lower", -1.0), ("median", 0.0), ("upper", 1.0))}
    ds = xr.Dataset(data, coords={"time": t}, attrs={"parameter_uncertainty_level": 0.8})
    band = band_of_ensemble(ds, "igg_total_g_per_L")
    assert band.label.startswith("median, 80 % band")
    assert band.upper - band.lower == pytest.approx(np.full(5, 2.0))
    assert plot_population([band], tmp_path / "b.svg", "IgG (g/L)", observed=(t, t)).exists()


# --- the command line --------------------------------------------------------------------------


def _invoke(*args):
    return CliRunner().invoke(app, list(args))


def _trial_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "itp-trial"
    (folder / "trajectories").mkdir(parents=True)
    _courses().to_parquet(folder / "trajectories" / "chunk-000000000-000000021.parquet")
    (folder / "summary.json").write_text(json.dumps({"trial": "made-up ITP trial", "disease": "itp"}))
    return folder


def test_plot_trial_writes_the_population_figure(tmp_path):
    folder = _trial_folder(tmp_path)
    (tmp_path / "obs.csv").write_text("TIME,DV\n2,60\n5,150\n")
    result = _invoke("plot-trial", str(folder), "--observed", str(tmp_path / "obs.csv"))
    assert result.exit_code == 0, result.output
    assert (folder / "bands-platelets_1e9_per_L.png").read_bytes().startswith(b"\x89PNG")
    result = _invoke("plot-trial", str(folder), "--output", "igg_total_g_per_L", "--figure-format", "pdf", "--log")
    assert result.exit_code == 0, result.output
    assert (folder / "bands-igg_total_g_per_L.pdf").read_bytes().startswith(b"%PDF")
    again = _invoke("plot-trial", str(folder))
    assert again.exit_code == 2 and "--overwrite" in again.output


@pytest.mark.parametrize("args, named", [
    (("simulate", "examples/itp-standard.yaml", "--figure-format", "jpg"), "--figure-format"),
    (("explain", "examples/itp-standard.yaml", "--output", "x", "--figure-format", "gif"), "--figure-format"),
    (("plot-trial", "FOLDER", "--figure-format", "tiff"), "--figure-format"),
    (("plot-trial", "FOLDER", "--output", "nope"), "--output"),
    (("plot-trial", "EMPTY"), "FOLDER"),
])
def test_bad_figure_input_is_one_line_naming_the_option(tmp_path, args, named):
    folder = _trial_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    args = [str(folder) if a == "FOLDER" else str(tmp_path / "empty") if a == "EMPTY" else
            str(ROOT / a) if a.startswith("examples/") else a for a in args]
    result = _invoke(*args)
    assert result.exit_code == 2
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and named in lines[0], result.output
    assert "Traceback" not in result.output
