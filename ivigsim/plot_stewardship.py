"""Stewardship figures: several regimens for one patient overlaid (``ivigsim compare``), and a
regimen optimiser's response against grams per year (``ivigsim optimise``).

Drawn by ``*_figure`` functions that return the matplotlib ``Figure`` and written by the
matching ``plot_*`` functions in PNG, SVG or PDF (``ivigsim.plot.save_figure``), as the other
figures are.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ivigsim.plot import _pyplot, axis_label, draw_thresholds, figure_format, save_figure, tight_layout

#: One colour and line style per regimen (colour-blind-safe Okabe-Ito; styles tell them apart in grey).
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442", "#999999",
           "#882255")
STYLES = ("-", "--", "-.", ":")


def compare_figure(comparison, title: str | None = None):
    """The disease's readout (with its thresholds and label from the ``Readout`` declaration)
    and total IgG over time, one line per scenario; each scenario's infusions as triangles of
    its colour above the top panel; the peak IgG (the summary's) as a dot."""
    plt = _pyplot()
    first = comparison.rows[0]
    names = ([first.readout] if first.readout is not None else []) + ["igg_total_g_per_L"]
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 3.0 * len(names) + 0.4), sharex=True, squeeze=False)
    axes = axes[:, 0]
    from ivigsim.model.library import get_disease

    disease = get_disease(comparison.disease)
    for k, (row, ds) in enumerate(zip(comparison.rows, comparison.datasets)):
        one = ds.isel(patient=0)
        t = one["time"].values
        colour, style = COLOURS[k % len(COLOURS)], STYLES[k % len(STYLES)]
        for ax, name in zip(axes, names):
            ax.plot(t, one[name].values, color=colour, ls=style, lw=1.6, label=row.label)
        axes[-1].plot([row.peak_day], [row.peak_igg_g_per_L], "o", color=colour, ms=4)
        if "infusion_start_day" in one:
            starts = one["infusion_start_day"].values
            axes[0].plot(starts, np.full(len(starts), 1.0 + 0.025 * k), "v", color=colour, ms=6, clip_on=False,
                         transform=axes[0].get_xaxis_transform())
    for ax, name in zip(axes, names):
        da = comparison.datasets[0][name]
        readout = disease.readout(name) if name == first.readout else None
        ax.set_ylabel(axis_label(da, readout.label if readout else "total IgG"), fontsize=9)
        if readout is not None:
            draw_thresholds(ax, readout.thresholds)
        ax.grid(alpha=0.3)
        ax.margins(y=0.12)
    axes[0].legend(loc="best", fontsize=7, framealpha=0.85)
    axes[-1].text(0.99, 0.97, "dots: IgG peaks; triangles above the top panel: infusions", fontsize=7,
                  ha="right", va="top", transform=axes[-1].transAxes)
    axes[-1].set_xlabel("time (days)")
    fig.suptitle(title or f"{len(comparison.rows)} regimens, one patient", fontsize=10)
    tight_layout(fig)
    return fig


def plot_compare(comparison, path: str | Path, title: str | None = None, *, fmt: str | None = None) -> Path:
    """Write ``compare_figure`` to ``path`` (PNG, SVG or PDF: ``fmt`` or the suffix)."""
    figure_format(path, fmt)
    return save_figure(compare_figure(comparison, title), path, fmt)


def optimise_figure(result):
    """Each candidate's response (with its Wilson interval) against grams per patient per year,
    one marker and colour per interval, the dose written next to it; the target as a line; the
    chosen candidate circled."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    intervals = sorted({c.interval_days for c in result.candidates})
    markers = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")
    for k, interval in enumerate(intervals):
        group = sorted((c for c in result.candidates if c.interval_days == interval), key=lambda c: c.grams_per_year.estimate)
        x = np.array([c.grams_per_year.estimate for c in group])
        y = np.array([c.response.estimate for c in group])
        lo = np.array([c.response.lower for c in group])
        hi = np.array([c.response.upper for c in group])
        colour = COLOURS[k % len(COLOURS)]
        ax.errorbar(x, y, yerr=[y - lo, hi - y], fmt=markers[k % len(markers)] + "-", color=colour, ms=5, lw=1.0,
                    capsize=2, label=f"every {interval:g} days")
        for c in group:
            ax.annotate(f"{c.dose_g_per_kg:g}", (c.grams_per_year.estimate, c.response.estimate), xytext=(4, -10),
                        textcoords="offset points", fontsize=7, color=colour)
    ax.axhline(result.target, color="#525252", ls="--", lw=1.0,
               label=f"target {result.target:g}" + (" (lower 95 % bound)" if result.conservative else ""))
    if result.chosen is not None:
        c = result.chosen
        ax.plot([c.grams_per_year.estimate], [c.response.estimate], "o", ms=16, mfc="none", mec="black", mew=1.5,
                label=f"chosen: {c.label}")
    scig = any(x.kind == "SCIG" for x in result.candidates)
    ax.set_xlabel("IgG (IVIG and SCIG) per patient per year (g; loading included; labels: g/kg per SCIG dose)"
                  if scig else "IVIG per patient per year (g; loading included; labels: g/kg per dose)")
    ax.set_ylabel(f"{result.endpoint}\n(fraction of patients; 95 % Wilson interval)", fontsize=9)
    ends = [v for c in result.candidates for v in (c.response.lower, c.response.upper) if np.isfinite(v)]
    low, high = min([*ends, result.target]), max([*ends, result.target])
    pad = max(0.05, 0.1 * (high - low))  # the candidates' spread, not 0-1: they often differ by a few points
    ax.set_ylim(max(-0.02, low - pad), min(1.02, high + pad))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=7, framealpha=0.85)
    # The trial's name on a line of its own: a long name would push the rest off the figure.
    ax.set_title(f"{result.trial}\n{result.size} virtual patients per candidate (the same ones), seed {result.seed}",
                 fontsize=9)
    tight_layout(fig)
    return fig


def plot_optimise(result, path: str | Path, *, fmt: str | None = None) -> Path:
    """Write ``optimise_figure`` to ``path`` (PNG by default)."""
    figure_format(path, fmt)
    return save_figure(optimise_figure(result), path, fmt)
