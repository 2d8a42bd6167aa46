"""Pictures of a simulation: one patient over time, a mechanism attribution, validation
verdicts; as PNG, SVG or PDF (``FORMATS``: ``fmt``, or else the file's suffix).

Each figure is drawn by a ``*_figure`` function that returns the matplotlib ``Figure``
(what tests read back) and written by the matching ``plot_*`` function. Population bands
(a trial's arms, a parameter-uncertainty band): ``ivigsim.plot_population``. Matplotlib is
imported only when a plot is drawn.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import xarray as xr

from ivigsim.errors import InputError

#: Outputs the patient plot shows besides the disease readout, with the factor its axis
#: applies (fractions are drawn in %): what observations can be overlaid on.
PLOTTED = {"igg_total_g_per_L": 1.0, "autoantibody_fraction_of_baseline": 100.0, "fcrn_rescue_fraction": 100.0}

#: The formats a figure can be written in.
FORMATS = ("png", "svg", "pdf")
#: Resolution of PNG figures, dots per inch (sharp on a slide; SVG and PDF are vectors).
DPI = 150
#: Colours: infusions, a mechanism that raises the read-out, one that lowers it.
DOSE_COLOUR, RAISES, LOWERS = "#e6550d", "#31a354", "#d62728"
#: An infusion shorter than this share of the time axis is drawn as a line, not a band
#: (a 4-hour infusion on a one-year axis would be narrower than a pixel).
THIN_DOSE = 0.004


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _figure(**options):
    """A ``Figure`` drawn by Agg, made without pyplot: no global registry of figures (safe on
    the web server's threads), and pyplot's import spared (``ivigsim simulate``'s start-up)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**options)
    FigureCanvasAgg(fig)
    return fig


def figure_format(path: str | Path, fmt: str | None = None) -> str:
    """The format a figure is written in: ``fmt`` if given, else the path's suffix (PNG
    without one); anything but ``FORMATS`` is refused."""
    chosen = (fmt or Path(path).suffix.lstrip(".") or "png").lower()
    if chosen not in FORMATS:
        raise InputError("figure format", " or ".join(FORMATS), fmt or str(path))
    return chosen


def _literal_text(fig) -> None:
    """Draw every text already in the figure as written: titles, labels and legends carry
    names a user typed (a scenario's, an arm's), and matplotlib would read a ``$`` in them as
    the start of a formula (``a $\\frac{ b`` fails the whole figure). Ivigsim's own labels use
    no formulas; tick labels, which matplotlib writes as formulas on log axes, are set only
    when the figure is drawn, after this."""
    from matplotlib.text import Text

    for text in fig.findobj(Text):
        if "$" in text.get_text():
            text.set_parse_math(False)


def tight_layout(fig, **options) -> None:
    """``fig.tight_layout``, which measures (so parses) every text: the texts a user typed
    are made literal first (``_literal_text``)."""
    _literal_text(fig)
    fig.tight_layout(**options)


def save_figure(fig, path: str | Path, fmt: str | None = None) -> Path:
    """Write ``fig`` (and close it) as PNG, SVG or PDF; SVG and PDF carry no creation date,
    so the same figure gives the same bytes."""
    import matplotlib

    path = Path(path)
    kind = figure_format(path, fmt)
    metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(kind, {})
    _literal_text(fig)
    try:
        with matplotlib.rc_context({"svg.hashsalt": "ivigsim", "svg.fonttype": "none", "pdf.fonttype": 42}):
            fig.savefig(path, dpi=DPI, format=kind, metadata=metadata)
    finally:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:  # else no figure is in pyplot's registry (``_figure``'s never are)
            pyplot.close(fig)
    return path


def shown_outputs(disease) -> tuple[str, ...]:
    """The outputs ``plot_patient`` draws for a disease (a name or a ``Disease``; observations
    may be overlaid on these)."""
    from ivigsim.model.library import get_disease

    return (*get_disease(disease).readout_names[:1], *PLOTTED)


def axis_label(da: xr.DataArray, label: str | None = None, factor: float = 1.0) -> str:
    """A readable axis label from a variable's attributes: its label or long name, and its
    unit (% for a fraction drawn times 100)."""
    name = label or da.attrs.get("label") or da.attrs.get("long_name") or da.name
    units = "%" if factor == 100.0 else da.attrs.get("units", "")
    return f"{name}\n({units})" if units and units != "dimensionless" else str(name)


def draw_thresholds(ax, thresholds, factor: float = 1.0) -> None:
    """A labelled line at each of a readout's thresholds (``Threshold``: value and meaning)."""
    for k, threshold in enumerate(thresholds):
        ax.axhline(factor * threshold.value, color="#525252", lw=0.9, ls=("--", ":", "-.")[k % 3], zorder=2,
                   label=f"{threshold.value:g}: {threshold.meaning}")


def mark_doses(axes, starts, ends, span: float) -> None:
    """Infusions on every panel (a band, or a line where the band would be thinner than a
    pixel) and a triangle above the top panel at each start: visible on any time axis."""
    starts, ends = np.asarray(starts, dtype=float), np.asarray(ends, dtype=float)
    if not len(starts):
        return
    for ax in axes:
        for start, end in zip(starts, ends):
            if end - start >= THIN_DOSE * span:
                ax.axvspan(start, end, color=DOSE_COLOUR, alpha=0.2, lw=0, zorder=0)
            else:
                ax.axvline(0.5 * (start + end), color=DOSE_COLOUR, alpha=0.5, lw=0.8, zorder=0)
    top = axes[0]
    top.plot(starts, np.ones(len(starts)), "v", color=DOSE_COLOUR, ms=7, clip_on=False, zorder=6,
             transform=top.get_xaxis_transform(), label="IVIG infusion")


def _legends(axes, loc: str = "best") -> None:
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc=loc, fontsize=7, framealpha=0.85)


def _annotate(ax, x: float, y: float, text: str, t) -> None:
    """A dot at (x, y) and its text, to the left of it in the right part of the time axis ``t``."""
    left = x > t[0] + 0.6 * (t[-1] - t[0])
    ax.plot([x], [y], "o", color="black", ms=4, zorder=7)
    ax.annotate(text, (x, y), xytext=(-6 if left else 6, 4), textcoords="offset points", fontsize=8, zorder=7,
                ha="right" if left else "left")


def patient_figure(ds: xr.Dataset, patient: int = 0, title: str | None = None, observed: dict | None = None,
                   log_igg: bool = False, disease=None):
    """The ``Figure`` ``plot_patient`` writes: the disease readout (with its thresholds), total
    IgG by origin, autoantibody and FcRn rescue over time, infusions marked. The curves are the
    saved points (the grid plus every infusion's start and end), the points the summary reads,
    so the peak and best value written on the figure are the summary's. ``log_igg``: IgG on a
    log scale (each origin a line, not stacked). ``disease``: whose readouts and thresholds (a
    name or a ``Disease``; default the dataset's)."""
    from ivigsim.model.library import get_disease
    from ivigsim.summary import summarise

    one = ds.isel(patient=patient)
    t = one["time"].values
    readouts = [r for r in get_disease(ds.attrs.get("disease", "none") if disease is None else disease).readouts[:1]
                if r.name in one]
    rows = len(readouts) + 3
    fig = _figure(figsize=(8, 2.7 * rows))
    axes = fig.subplots(rows, 1, sharex=True, height_ratios=[1.4] * len(readouts) + [2, 1, 1])
    summary = summarise(ds, patient)
    best = {r.name: r for r in summary.readouts}
    for ax, readout in zip(axes, readouts):
        name = readout.name
        ax.plot(t, one[name].values, color="#6a3d9a", lw=1.6)
        ax.margins(y=0.15)  # room above the best value's label and the infusion markers
        ax.set_ylabel(axis_label(one[name], readout.label), fontsize=9)
        draw_thresholds(ax, readout.thresholds)  # the disease declares what its readout's levels mean
        if name in best:
            b = best[name]
            _annotate(ax, b.best_day, b.best, f"best {b.best:.3g} on day {b.best_day:.2f}", t)
    axes = axes[len(readouts):]
    ax = axes[0]
    species = (("igg_endogenous_g_per_L", "patient's own IgG", "#6baed6"), ("igg_ivig_g_per_L", "IVIG-derived IgG", "#fd8d3c"),
               ("autoantibody_g_per_L", "autoantibody", "#d62728"))
    if log_igg:  # stacked areas mislead on a log axis: one line per origin
        for name, label, colour in species:
            values = one[name].values.astype(float)
            ax.plot(t, np.where(values > 0, values, np.nan), color=colour, lw=1.3, label=label)
        ax.set_yscale("log")
    else:
        ax.stackplot(t, *(one[name].values for name, _, _ in species), labels=[s[1] for s in species],
                     colors=[s[2] for s in species], alpha=0.7)
    ax.plot(t, one["igg_total_g_per_L"].values, color="black", lw=1.3, label="total IgG")
    ax.set_ylabel("serum IgG\n(g/L" + (", log scale)" if log_igg else ")"))
    ax.margins(y=0.1)
    _annotate(ax, summary.peak_day, summary.peak_igg_g_per_L,
              f"peak {summary.peak_igg_g_per_L:.2f} g/L on day {summary.peak_day:.2f}", t)
    axes[1].plot(t, 100 * one["autoantibody_fraction_of_baseline"].values, color="#d62728")
    axes[1].axhline(100, color="grey", lw=0.6, ls=":")
    axes[1].set_ylabel("autoantibody\n(% of baseline)")
    axes[2].plot(t, 100 * one["fcrn_rescue_fraction"].values, color="#31a354")
    axes[2].set_ylabel("FcRn rescue\n(% of IgG recycled)")
    axes[2].set_xlabel("time (days)")
    panels = {**{r.name: (ax, 1.0) for ax, r in zip(fig.axes, readouts)},
              "igg_total_g_per_L": (axes[0], 1.0), "autoantibody_fraction_of_baseline": (axes[1], 100.0),
              "fcrn_rescue_fraction": (axes[2], 100.0)}
    level = ds.attrs.get("parameter_uncertainty_level")
    for name, (ax, factor) in panels.items():  # `simulate --ensemble`: the parameter-uncertainty band
        if f"{name}_param_lower" in one:
            ax.fill_between(t, factor * one[f"{name}_param_lower"].values, factor * one[f"{name}_param_upper"].values,
                            color="#636363", alpha=0.3, lw=0, zorder=3,
                            label=f"{100 * float(level):.0f} % band, parameter uncertainty")
    for name, (times, values) in (observed or {}).items():
        ax, factor = panels[name]
        ax.scatter(times, factor * np.asarray(values), color="black", s=18, zorder=5, label="observed")
    every = fig.axes
    if "infusion_start_day" in one:
        mark_doses(every, one["infusion_start_day"].values, one["infusion_end_day"].values, float(t[-1] - t[0]))
    for ax in every:
        ax.grid(alpha=0.3)
    _legends(every[:1] if readouts else [], "best")
    _legends(every[len(readouts):len(readouts) + 1], "upper right")
    _legends(every[len(readouts) + 1:], "best")
    fig.suptitle(title or str(ds.attrs.get("scenario", "ivigsim")))
    tight_layout(fig)
    return fig


def plot_patient(ds: xr.Dataset, path: str | Path, patient: int = 0, title: str | None = None,
                 observed: dict | None = None, *, log_igg: bool = False, fmt: str | None = None,
                 disease=None) -> Path:
    """Write ``patient_figure`` to ``path`` (PNG, SVG or PDF: ``fmt`` or the suffix);
    ``observed`` ({output: (times, values)}) overlaid as points on the output's panel."""
    figure_format(path, fmt)  # before drawing
    return save_figure(patient_figure(ds, patient, title, observed, log_igg, disease), path, fmt)


def mechanism_label(name: str, width: int = 14) -> str:
    """A mechanism's title from its module declaration, wrapped for a tick label."""
    from ivigsim.model.library import MECHANISMS

    titles = {m.name: m.title for m in MECHANISMS}
    short = {"fcrn_saturation": "FcRn saturation"}  # its module's title is a sentence
    return textwrap.fill(short.get(name) or titles.get(name) or name.replace("_", " "), width)


def attribution_figure(attribution, label: str, bands=None, units: str | None = None):
    """The ``Figure`` ``plot_attribution`` writes: one bar per mechanism, its Shapley value
    (green raises the read-out, red lowers it; the bars sum to the total effect), the value
    written on it, a line at zero, and the values with no mechanism and with all on in the
    title; with ``bands`` (``attribution.AttributionBand``), each value's parameter-uncertainty
    band as a whisker."""
    plt = _pyplot()
    names = list(attribution.mechanisms)
    values = np.array([attribution.shapley[n] for n in names], dtype=float)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(8, 4.8))
    ax.bar(x, values, width=0.65, color=[RAISES if v >= 0 else LOWERS for v in values], zorder=2)
    ax.axhline(0, color="black", lw=0.8, zorder=3)
    ends = [(v, v) for v in values]
    if bands is not None:
        for i, name in enumerate(names):
            _, lo, hi = bands.shapley(name)
            ax.plot([i, i], [lo, hi], color="black", lw=1.1, zorder=4)
            ax.plot([i, i], [lo, hi], "_", color="black", ms=9, mew=1.1, zorder=4)
            ends[i] = (min(lo, values[i]), max(hi, values[i]))
    low = min(0.0, *(a for a, _ in ends)) if len(ends) else 0.0
    high = max(0.0, *(b for _, b in ends)) if len(ends) else 0.0
    pad = 0.14 * (high - low) or 1.0
    noise = 1e-6 * max(abs(low), abs(high))  # a solver's rounding error (1e-10) is written as 0
    for i, v in enumerate(values):  # the value beyond the bar's end (and its whisker)
        a, b = ends[i]
        ax.annotate("0" if abs(v) <= noise else f"{v:+.3g}", (i, b if v >= 0 else a), xytext=(0, 3 if v >= 0 else -3), textcoords="offset points",
                    ha="center", va="bottom" if v >= 0 else "top", fontsize=8)
    ax.set_ylim(low - pad, high + pad)  # room for the values written beyond the bars' ends
    ax.set_xticks(x, [mechanism_label(n) for n in names], fontsize=8)
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylabel(f"Shapley value ({units})" if units else "Shapley value", fontsize=9)
    ax.set_title(f"What each mechanism carries: {label}\nno mechanism {attribution.none_on:.4g} -> all mechanisms "
                 f"{attribution.all_on:.4g} (total effect {attribution.total:+.4g}, the sum of the bars)"
                 + ("" if bands is None else f"; whiskers: {100 * bands.level:.0f} % band, parameter uncertainty"),
                 fontsize=9)
    ax.grid(axis="y", alpha=0.3, zorder=0)
    tight_layout(fig)
    return fig


def plot_attribution(attribution, path: str | Path, label: str, bands=None, *, fmt: str | None = None,
                     units: str | None = None) -> Path:
    """Write ``attribution_figure`` (a labelled bar chart of the Shapley values) to ``path``;
    ``label`` names the read-out, ``units`` its unit (the y axis)."""
    figure_format(path, fmt)
    return save_figure(attribution_figure(attribution, label, bands, units), path, fmt)


def output_label(name: str, disease=None) -> tuple[str, str]:
    """A readable name and the unit of a model output (a disease readout's label, or else
    the output's description when it is short), for axis labels: ("platelet count", "10^9/L")."""
    from ivigsim.model.library import build_model, get_disease

    readout = get_disease(disease).readout(name) if disease is not None else None
    model = build_model(disease)
    found = {a.name: (a.description, a.unit) for a in model.assignments} | {s.name: (s.description, s.unit)
                                                                           for s in model.states}
    description, unit = found.get(name, (name, ""))
    readable = readout.label if readout is not None else (description if 0 < len(description) <= 48 else name)
    if name.endswith("_fraction_of_baseline") or name.endswith("_fraction"):
        unit = "fraction" if unit == "dimensionless" else unit
    return readable, "" if unit == "dimensionless" else unit


#: Verdict colours: pass, identity (holds by construction), documented gap, unexpected failure.
_VERDICT_COLOURS = {"pass": "#31a354", "IDENTITY": "#6baed6", "GAP": "#fd8d3c", "FAIL": "#d62728"}


def plot_validation(verdicts, path: str | Path, title: str, *, fmt: str = "png") -> Path:
    """Simulated vs published, one row per target on its own axis and unit: the accepted
    range (grey), the published value (black diamond), the simulated value with its 95 %
    interval where it has one (coloured by verdict: pass green, IDENTITY blue, GAP orange,
    FAIL red). Written as ``fmt`` whatever the path's suffix (the CLI writes to a temporary
    ``.part`` file)."""
    import math

    figure_format(path, fmt)
    plt = _pyplot()
    verdicts = list(verdicts)
    fig, axes = plt.subplots(len(verdicts), 1, figsize=(9, 0.2 + 0.62 * len(verdicts)), squeeze=False)
    for ax, v in zip(axes[:, 0], verdicts):
        t = v.target
        lo, hi = t.acceptance
        shown = [x for x in (t.published, v.simulated, v.lower, v.upper, lo, hi) if math.isfinite(x) and abs(x) < 1e6]
        left, right = min(shown), max(shown)
        pad = 0.12 * (right - left) or 0.1 * abs(right) or 1.0
        left, right = left - pad, right + pad
        ax.axvspan(max(lo, left), min(hi, right), color="#d9d9d9", zorder=0)
        colour = _VERDICT_COLOURS[v.label]
        if math.isfinite(v.lower):
            ax.plot([v.lower, v.upper], [0, 0], color=colour, lw=2.5, zorder=2)
        ax.plot(v.simulated, 0, "o", color=colour, ms=7, zorder=3)
        ax.plot(t.published, 0, "D", color="black", ms=6, mfc="none", mew=1.5, zorder=4)
        ax.set_xlim(left, right)
        ax.set_yticks([])
        ax.tick_params(axis="x", labelsize=7, pad=1)
        ax.set_ylabel(t.id, rotation=0, ha="right", va="center", fontsize=8)
        ax.text(1.01, 0.5, f"{v.label}\n{t.unit}", transform=ax.transAxes, fontsize=7, va="center", color=colour)
    fig.suptitle(f"{title}: simulated (dot, 95 % interval) vs published (diamond, accepted range grey)", fontsize=9)
    tight_layout(fig, rect=(0, 0, 0.95, 1))
    return save_figure(fig, path, fmt)
