"""Population figures: the 5th, 50th and 95th centiles of an output over time, one band per
group (a trial's arms, or a parameter-uncertainty band), with observations overlaid.

A band is data (``Band``); where it comes from is a separate function: a trial's saved
per-patient courses (``bands_of_courses``, ``trial_bands``) or the band variables that
``simulate --ensemble`` writes (``band_of_ensemble``). ``population_figure`` draws any of them;
``plot_population`` writes it as PNG, SVG or PDF; ``plot_trial`` does all of it for a trial
folder (``ivigsim plot-trial``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ivigsim.errors import InputError
from ivigsim.plot import _legends, _pyplot, draw_thresholds, figure_format, output_label, save_figure

#: The centiles a population figure shows: 5th, 50th (the line) and 95th (the band's edges).
QUANTILES = (0.05, 0.5, 0.95)
#: Band colours, one per group in order.
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


@dataclass(frozen=True)
class Band:
    """One group's band over time: the lower and upper edges and the middle line, and how
    many courses it summarises (None for a band computed elsewhere)."""

    label: str
    times: np.ndarray
    lower: np.ndarray
    middle: np.ndarray
    upper: np.ndarray
    n: int | None = None


def bands_of_courses(courses, output: str, by: str = "arm", time: str = "time_day",
                     quantiles: Sequence[float] = QUANTILES) -> list[Band]:
    """The centiles of ``output`` over the courses at each time, one band per value of ``by``
    (in order of appearance): from a table with one row per course and time, such as a
    trial's ``trajectories/`` (columns ``arm``, ``patient``, ``time_day`` and the outputs)."""
    if output not in courses.columns:
        raise InputError("--output", f"one of the saved outputs ({', '.join(_outputs(courses, by, time))})", output)
    bands = []
    for label, rows in courses.groupby(by, sort=False):
        by_time = rows.groupby(time, sort=True)[output]
        lower, middle, upper = (by_time.quantile(q).to_numpy(dtype=float) for q in quantiles)
        times = np.asarray(sorted(rows[time].unique()), dtype=float)
        bands.append(Band(str(label), times, lower, middle, upper,
                          int(rows["patient"].nunique()) if "patient" in rows else None))
    return bands


def band_of_ensemble(ds, name: str, patient: int = 0) -> Band:
    """The parameter-uncertainty band ``simulate --ensemble`` wrote for output ``name``
    (``NAME_param_median``, ``_lower``, ``_upper``; its level in ``parameter_uncertainty_level``)."""
    if f"{name}_param_median" not in ds:
        raise InputError("output", "an output with a parameter-uncertainty band (simulate --ensemble N)", name)
    one = ds.isel(patient=patient)
    level = float(ds.attrs.get("parameter_uncertainty_level", 0.9))
    return Band(f"median, {100 * level:.0f} % band (parameter uncertainty)", one["time"].values,
                one[f"{name}_param_lower"].values, one[f"{name}_param_median"].values,
                one[f"{name}_param_upper"].values, None)


def population_figure(bands: Sequence[Band], ylabel: str, title: str | None = None, thresholds=(),
                      observed: tuple | None = None, log: bool = False, factor: float = 1.0,
                      caption: str | None = None):
    """Each band's middle line and shaded edges; a disease's ``thresholds`` labelled;
    ``observed`` ((times, values) or {label: (times, values)}) as black points; ``log``: a log
    y axis. ``factor`` scales every value (100 for a fraction drawn in %)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.6))
    for k, band in enumerate(bands):
        colour = COLOURS[k % len(COLOURS)]
        n = "" if band.n is None else f" (n = {band.n})"
        ax.fill_between(band.times, factor * band.lower, factor * band.upper, color=colour, alpha=0.2, lw=0)
        ax.plot(band.times, factor * band.middle, color=colour, lw=1.8, label=f"{band.label}{n}")
    draw_thresholds(ax, thresholds, factor)
    if observed is not None:
        groups = observed if isinstance(observed, dict) else {"observed": observed}
        for k, (label, (times, values)) in enumerate(groups.items()):
            ax.scatter(times, factor * np.asarray(values, dtype=float), color="black", s=18, zorder=5,
                       marker="osD^v"[k % 5], label=label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("time (days)")
    ax.set_ylabel(ylabel + (" (log scale)" if log else ""))
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title + (f"\n{caption}" if caption else ""), fontsize=10)
    _legends([ax], "best")
    fig.tight_layout()
    return fig


def plot_population(bands: Sequence[Band], path: str | Path, ylabel: str, *, fmt: str | None = None, **options) -> Path:
    """Write ``population_figure(bands, ylabel, **options)`` to ``path`` (PNG, SVG or PDF)."""
    figure_format(path, fmt)
    return save_figure(population_figure(bands, ylabel, **options), path, fmt)


def _outputs(courses, *skip: str) -> list[str]:
    return [c for c in courses.columns if c not in (*skip, "patient", "time_day", "arm")]


def read_trial(folder: str | Path):
    """A trial folder's saved courses (``trajectories/``) and its summary (``summary.json``)."""
    import pandas as pd

    from ivigsim.trial.store import SUMMARY, TRAJECTORIES

    folder = Path(folder)
    if not (folder / TRAJECTORIES).is_dir() or not any((folder / TRAJECTORIES).glob("*.parquet")):
        raise InputError("FOLDER", "a trial's output folder with saved courses (`output: {trajectories: N}` in "
                         "the trial file)", f"{folder} (no {TRAJECTORIES}/*.parquet)")
    try:
        summary = json.loads((folder / SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        summary = {}
    courses = pd.read_parquet(folder / TRAJECTORIES)
    return courses, summary if isinstance(summary, dict) else {}


def trial_bands(folder: str | Path, output: str | None = None):
    """``(bands, output, disease, trial name)`` of a trial folder: each arm's centiles of
    ``output`` (default: the disease's readout if its courses were saved, else the first saved
    output)."""
    courses, summary = read_trial(folder)
    disease = summary.get("disease") or "none"
    if output is None:
        from ivigsim.model.library import get_disease

        saved = _outputs(courses, "candidate", "subpopulation")
        readouts = [r for r in get_disease(disease).readout_names if r in saved]
        output = (readouts or saved or [""])[0]
    return bands_of_courses(courses, output), output, disease, str(summary.get("trial") or Path(folder).name)


def trial_figure(bands: Sequence[Band], output: str, disease: str, title: str, observed: tuple | None = None,
                 log: bool = False):
    """The population figure of ``trial_bands``: the output's readable name and unit, the
    disease's thresholds for a readout, fractions drawn in %."""
    from ivigsim.model.library import get_disease

    name, unit = output_label(output, disease)
    readout = get_disease(disease).readout(output)
    factor = 100.0 if unit == "fraction" else 1.0
    ylabel = f"{name} ({'%' if factor == 100.0 else unit})" if unit else name
    sizes = {b.n for b in bands}
    caption = "median (line) and 5th-95th centiles (band)" + (f" of {sizes.pop()} patients per arm" if len(sizes) == 1
                                                               else " of each arm's patients")
    return population_figure(bands, ylabel, title=title, caption=caption,
                             thresholds=readout.thresholds if readout is not None else (),
                             observed=observed, log=log, factor=factor)


def plot_trial(folder: str | Path, path: str | Path | None = None, output: str | None = None,
               observed: tuple | None = None, log: bool = False, fmt: str | None = None) -> Path:
    """Each arm's 5th, 50th and 95th centiles of ``output`` over time from a trial folder's
    saved courses, the disease's thresholds labelled, ``observed`` points overlaid; written to
    ``path`` (default ``FOLDER/bands-OUTPUT.FMT``)."""
    kind = figure_format(path or f"x.{fmt or 'png'}", fmt)
    bands, output, disease, title = trial_bands(folder, output)
    path = Path(path) if path is not None else Path(folder) / f"bands-{output}.{kind}"
    return save_figure(trial_figure(bands, output, disease, title, observed, log), path, kind)
