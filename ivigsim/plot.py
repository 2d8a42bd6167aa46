"""Pictures of a simulation (PNG). Matplotlib is imported only when a plot is drawn."""

from __future__ import annotations

from pathlib import Path

import xarray as xr


def plot_patient(ds: xr.Dataset, path: str | Path, patient: int = 0, title: str | None = None) -> Path:
    """Total IgG by origin, autoantibody and FcRn rescue over time, infusions shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ivigsim.model.library import get_disease

    one = ds.isel(patient=patient)
    t = one["time"].values
    readouts = [r for r in get_disease(ds.attrs.get("disease", "none")).readouts[:1] if r in one]
    rows = len(readouts) + 3
    fig, axes = plt.subplots(rows, 1, figsize=(8, 2.7 * rows), sharex=True,
                             height_ratios=[1.4] * len(readouts) + [2, 1, 1])
    for ax, name in zip(axes, readouts):
        ax.plot(t, one[name], color="#6a3d9a", lw=1.6)
        ax.set_ylabel(f"{one[name].attrs.get('long_name') or name}\n({one[name].attrs.get('units', '')})", fontsize=9)
        if name == "platelets_1e9_per_L":
            ax.axhline(50, color="grey", lw=0.6, ls="--")
    axes = axes[len(readouts):]
    ax = axes[0]
    ax.stackplot(t, one["igg_endogenous_g_per_L"], one["igg_ivig_g_per_L"], one["autoantibody_g_per_L"],
                 labels=["patient's own IgG", "IVIG-derived IgG", "autoantibody"],
                 colors=["#9ecae1", "#fd8d3c", "#d62728"], alpha=0.8)
    ax.plot(t, one["igg_total_g_per_L"], color="black", lw=1.2, label="total IgG")
    ax.set_ylabel("serum IgG (g/L)")
    ax.legend(loc="upper right", fontsize=8)
    axes[1].plot(t, 100 * one["autoantibody_fraction_of_baseline"], color="#d62728")
    axes[1].axhline(100, color="grey", lw=0.6, ls=":")
    axes[1].set_ylabel("autoantibody\n(% of baseline)")
    axes[2].plot(t, 100 * one["fcrn_rescue_fraction"], color="#31a354")
    axes[2].set_ylabel("FcRn rescue (%)")
    axes[2].set_xlabel("time (days)")
    every = fig.axes
    spans = zip(one["infusion_start_day"].values, one["infusion_end_day"].values) if "infusion_start_day" in one else ()
    for start, end in spans:
        for ax in every:
            ax.axvspan(start, end, color="orange", alpha=0.25, lw=0)
    for ax in every:
        ax.grid(alpha=0.3)
    fig.suptitle(title or str(ds.attrs.get("scenario", "ivigsim")))
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path




def plot_attribution(attribution, path: str | Path, label: str) -> Path:
    """Waterfall: from no mechanism to all mechanisms, one bar per Shapley value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(attribution.mechanisms)
    values = [attribution.shapley[n] for n in names]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    level = attribution.none_on
    ax.bar(0, level, color="#bdbdbd")
    for i, v in enumerate(values, start=1):
        ax.bar(i, v, bottom=level, color="#31a354" if v >= 0 else "#d62728")
        level += v
    ax.bar(len(values) + 1, attribution.all_on, color="#636363")
    ax.set_xticks(range(len(values) + 2), ["no mechanism", *[n.replace("_", "\n") for n in names], "all on"],
                  fontsize=7)
    ax.set_ylabel(label)
    ax.set_title("What each mechanism carries (Shapley values)")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
