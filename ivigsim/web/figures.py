"""The one figure the page needs that ``ivigsim.plot`` does not draw: two runs overlaid
(two regimens, or all mechanisms against some switched off), readout and IgG on one page."""

from __future__ import annotations

import xarray as xr


def compare_png(a: xr.Dataset, b: xr.Dataset, labels: tuple[str, str], readouts: list[str], title: str,
                fmt: str = "png") -> bytes:
    """The overlay as PNG, SVG or PDF (``fmt``), written by ``ivigsim.plot.save_figure``."""
    from ivigsim.plot import _pyplot
    from ivigsim.web.service import figure_bytes

    plt = _pyplot()

    names = [r for r in readouts[:1] if r in a and r in b] + ["igg_total_g_per_L", "autoantibody_fraction_of_baseline"]
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 2.6 * len(names)), sharex=True)
    for ax, name in zip(axes, names):
        scale = 100.0 if name.endswith("fraction_of_baseline") else 1.0
        for ds, label, colour, style in ((a, labels[0], "#1f77b4", "-"), (b, labels[1], "#d62728", "--")):
            one = ds.isel(patient=0)
            ax.plot(one["time"].values, scale * one[name].values, color=colour, ls=style, lw=1.6, label=label)
        units = "%" if scale == 100.0 else a[name].attrs.get("units", "")
        ax.set_ylabel(f"{a[name].attrs.get('long_name') or name}\n({units})", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="best", fontsize=8)
    axes[-1].set_xlabel("time (days)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return figure_bytes(fig, fmt)
