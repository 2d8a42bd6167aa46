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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ivigsim.errors import InputError
from ivigsim.plot import _legends, _pyplot, draw_thresholds, figure_format, output_label, save_figure, tight_layout

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
    tight_layout(fig)
    return fig


def plot_population(bands: Sequence[Band], path: str | Path, ylabel: str, *, fmt: str | None = None, **options) -> Path:
    """Write ``population_figure(bands, ylabel, **options)`` to ``path`` (PNG, SVG or PDF)."""
    figure_format(path, fmt)
    return save_figure(population_figure(bands, ylabel, **options), path, fmt)


def _outputs(courses, *skip: str) -> list[str]:
    return [c for c in courses.columns if c not in (*skip, "patient", "time_day", "arm")]


@contextmanager
def _intact(folder: str | Path, option: str):
    """Reading a trial folder's files: a damaged file (a truncated or corrupt Parquet chunk, a
    summary.json of another shape) is refused in one line, naming ``option``, not a traceback."""
    try:
        yield
    except InputError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:  # pyarrow's errors included
        detail = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise InputError(option, "a trial's output folder as `ivigsim trial` wrote it (run the trial again)",
                         f"{folder}: {exc.__class__.__name__}: {detail}") from None


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
    with _intact(folder, "FOLDER"):
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


#: Measures drawn on a log axis around 1 (the others on a linear axis around 0).
RATIO_MEASURES = ("risk_ratio", "odds_ratio", "common_odds_ratio")


def read_summary(folder: str | Path, option: str) -> dict:
    """A trial folder's ``summary.json`` (refused, naming ``option``, when there is none)."""
    from ivigsim.trial.store import SUMMARY

    path = Path(folder) / SUMMARY
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise InputError(option, "a finished trial's output folder (with summary.json)", str(folder)) from None
    if not isinstance(summary, dict):
        raise InputError(option, "a trial's summary.json (a mapping)", str(path))
    return summary


def forest_rows(summary: dict) -> dict[str, list[tuple[str, float | None, float | None, float | None]]]:
    """Per measure, in the summary's order: (``endpoint: arm vs reference``, estimate, lower, upper)."""
    rows: dict[str, list] = {}
    with _intact("summary.json", "--forest"):
        for c in summary.get("contrasts") or []:
            label = f"{c['endpoint']}: {c['arm']} vs {c['reference']}"
            for measure, e in c["estimates"].items():
                rows.setdefault(measure, []).append((label, e.get("estimate"), e.get("lower"), e.get("upper")))
    return rows


def forest_figure(summary: dict, title: str | None = None):
    """One panel per measure: each contrast's estimate (point) and 95 % interval (line), the
    line of no difference (0; 1 on a log axis for ratios). A contrast the trial could not
    estimate is listed with "n/a"."""
    rows = forest_rows(summary)
    if not rows:
        raise InputError("--forest", "a trial run with contrasts (a `contrasts:` section in the trial file)",
                         "no contrasts in summary.json")
    plt = _pyplot()
    heights = [max(1, len(r)) * 0.38 + 0.9 for r in rows.values()]
    fig, axes = plt.subplots(len(rows), 1, figsize=(8, sum(heights) + 0.6), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for ax, (measure, entries) in zip(axes[:, 0], rows.items()):
        ratio = measure in RATIO_MEASURES
        y = np.arange(len(entries))[::-1].astype(float)
        shown = [(yy, e) for yy, e in zip(y, entries) if e[1] is not None]
        for yy, (_, est, lo, hi) in shown:
            if lo is not None and hi is not None:
                ax.hlines(yy, lo, hi, color="black", lw=1.4)
        ax.plot([e[1] for _, e in shown], [yy for yy, _ in shown], "s", color=COLOURS[0], ms=6, gid="estimates",
                label=measure)
        ax.axvline(1.0 if ratio else 0.0, color="grey", lw=0.8, ls="--")
        if ratio:
            ax.set_xscale("log")
        ax.set_yticks(y)
        ax.set_yticklabels([label if est is not None else f"{label} (n/a)" for label, est, _, _ in entries], fontsize=8)
        ax.set_ylim(-0.7, len(entries) - 0.3)
        ax.set_xlabel(measure.replace("_", " ") + (" (log scale)" if ratio else ""), fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[0, 0].set_title((title or str(summary.get("trial", "trial"))) +
                         "\ncontrasts: estimate and 95 % interval (arm vs reference)", fontsize=10)
    tight_layout(fig)
    return fig


def km_curves(folder: str | Path, endpoint: str) -> tuple[dict, dict]:
    """Per arm, statsmodels' Kaplan-Meier estimate (``SurvfuncRight``) of a time-to-event
    endpoint from the trial's per-patient files (patients with the event at their event day,
    the others censored at the window's end; failed patients, NaN, left out), and the
    endpoint's summary entry (its description)."""
    summary = read_summary(folder, "--km")
    with _intact(folder, "--km"):
        return _km_curves(folder, endpoint, summary)


def _km_curves(folder: str | Path, endpoint: str, summary: dict) -> tuple[dict, dict]:
    import pandas as pd
    import pyarrow.parquet as pq
    from statsmodels.duration.survfunc import SurvfuncRight

    from ivigsim.trial.store import PATIENTS

    files = sorted((Path(folder) / PATIENTS).glob("chunk-*.parquet"))
    names = [n for n in pq.read_schema(files[0]).names] if files else []
    tte = [n.removesuffix("_event") for n in names if n.endswith("_event") and n.removesuffix("_event") in names]
    if endpoint not in tte:
        raise InputError("--km", f"a time_to_event endpoint of this trial ({', '.join(tte) or 'none'})", endpoint)
    table = pd.concat([pd.read_parquet(f, columns=["arm", endpoint, f"{endpoint}_event"]) for f in files],
                      ignore_index=True)
    order = [a["arm"] for a in summary.get("arms", [])] or list(dict.fromkeys(table["arm"]))
    curves = {}
    for arm in order:
        rows = table[(table["arm"] == arm) & table[endpoint].notna()]
        if len(rows):
            curves[arm] = SurvfuncRight(rows[endpoint].to_numpy(float), rows[f"{endpoint}_event"].to_numpy(float))
    entry = next((a["endpoints"].get(endpoint, {}) for a in summary.get("arms", [])), {})
    return curves, {"trial": summary.get("trial"), "description": entry.get("description", endpoint)}


def km_figure(curves: dict, endpoint: str, info: dict):
    """Each arm's Kaplan-Meier curve (the share without the event), a step function from 1 at
    day 0, ending at the last follow-up time (the window's end, where the others are censored)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.6))
    for k, (arm, sf) in enumerate(curves.items()):
        end = float(np.max(sf.time)) if len(sf.time) else 0.0
        x = np.concatenate([[0.0], sf.surv_times, [end]])
        y = np.concatenate([[1.0], sf.surv_prob, [sf.surv_prob[-1] if len(sf.surv_prob) else 1.0]])
        ax.step(x, y, where="post", color=COLOURS[k % len(COLOURS)], lw=1.8, gid=f"km:{arm}",
                label=f"{arm} (n = {len(sf.time)}, events {int(np.sum(sf.status))})")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("time (days)")
    ax.set_ylabel("share without the event")
    ax.grid(alpha=0.3)
    import textwrap

    caption = textwrap.fill(f"{info.get('description', '')}; Kaplan-Meier, censored at the window's end", 100)
    ax.set_title(f"{info.get('trial') or ''}: {endpoint}\n{caption}", fontsize=9)
    _legends([ax], "best")
    tight_layout(fig)
    return fig
