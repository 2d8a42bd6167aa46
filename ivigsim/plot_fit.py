"""Pictures of a fit (PNG, SVG or PDF: ``fmt`` or the suffix): goodness of fit, individual
fits with posterior bands, forecasts.

Matplotlib is imported only when a plot is drawn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ivigsim.plot import _pyplot, save_figure, tight_layout


def plot_goodness_of_fit(dv: np.ndarray, pred: np.ndarray, ipred: np.ndarray, cwres: np.ndarray,
                         time: np.ndarray, path: str | Path, label: str = "", *, fmt: str | None = None) -> Path:
    """The four standard panels: DV vs PRED, DV vs IPRED, CWRES vs time, CWRES vs PRED."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(9, 8))
    for ax, x, name in ((axes[0, 0], pred, "PRED"), (axes[0, 1], ipred, "IPRED")):
        ax.scatter(x, dv, s=14, color="#1f78b4", alpha=0.8)
        ends = np.array([np.nanmin([x.min(), dv.min()]), np.nanmax([x.max(), dv.max()])])
        ax.plot(ends, ends, color="black", lw=0.8)
        ax.set_xlabel(f"{name} {label}")
        ax.set_ylabel(f"DV (observed) {label}")
        ax.set_title(f"observed vs {name}", fontsize=10)
    for ax, x, name in ((axes[1, 0], time, "time (day)"), (axes[1, 1], pred, f"PRED {label}")):
        ax.scatter(x, cwres, s=14, color="#33a02c", alpha=0.8)
        ax.axhline(0, color="black", lw=0.8)
        for level in (-2, 2):
            ax.axhline(level, color="grey", lw=0.6, ls="--")
        ax.set_xlabel(name)
        ax.set_ylabel("CWRES")
    tight_layout(fig)
    return save_figure(fig, path, fmt)


def plot_individual_fits(panels: Sequence[dict], path: str | Path, ylabel: str, *, fmt: str | None = None) -> Path:
    """One panel per subject: observations, the typical prediction, the fit and its band.

    Each panel: ``id``, ``times``, ``median``, ``lower``, ``upper``, ``pred`` (dense, eta 0),
    ``obs_time``, ``obs``, ``doses`` (start days), ``level``.
    """
    plt = _pyplot()
    n = len(panels)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, p in zip(axes.flat, panels):
        ax.fill_between(p["times"], p["lower"], p["upper"], color="#fdbf6f", alpha=0.6,
                        label=f"{100 * p['level']:.0f} % posterior band")
        ax.plot(p["times"], p["median"], color="#e31a1c", lw=1.4, label="individual fit (median)")
        ax.plot(p["times"], p["pred"], color="grey", lw=1.0, ls="--", label="typical patient (PRED)")
        ax.scatter(p["obs_time"], p["obs"], color="black", s=16, zorder=3, label="observed")
        for start in p["doses"]:
            ax.axvline(start, color="#1f78b4", lw=0.6, alpha=0.5)
        ax.set_title(f"ID {p['id']}", fontsize=10)
        ax.set_xlabel("time (day)")
        ax.set_ylabel(ylabel, fontsize=9)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="best")
    tight_layout(fig)
    return save_figure(fig, path, fmt)


def plot_forecast(forecast, obs_time: np.ndarray, obs: np.ndarray, path: str | Path, ylabel: str, *,
                  fmt: str | None = None) -> Path:
    """The forecast band over history and the next dose, the observations and the target."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.2))
    ax.fill_between(forecast.times, forecast.lower, forecast.upper, color="#a6cee3", alpha=0.7,
                    label=f"{100 * forecast.level:.0f} % band (parameter uncertainty)")
    ax.plot(forecast.times, forecast.median, color="#1f78b4", lw=1.5, label="median")
    ax.scatter(obs_time, obs, color="black", s=16, zorder=3, label="observed")
    dose = forecast.next_dose
    ax.axvspan(dose.start_day, dose.start_day + max(dose.duration_day, 0.05), color="#fb9a99", alpha=0.8,
               label=f"next dose {dose.amount_g:.3g} g, day {dose.start_day:g}")
    if forecast.target is not None:
        ax.axhline(forecast.target.value, color="#e31a1c", lw=1, ls="--", label=f"target {forecast.target}")
    ax.set_xlabel("time (day)")
    ax.set_ylabel(ylabel)
    ax.set_title(f"ID {forecast.subject_id}: forecast", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    tight_layout(fig)
    return save_figure(fig, path, fmt)
