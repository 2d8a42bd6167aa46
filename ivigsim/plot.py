"""Pictures of a simulation (PNG). Matplotlib is imported only when a plot is drawn."""

from __future__ import annotations

from pathlib import Path

import xarray as xr


#: Outputs the patient plot shows besides the disease readout, with the factor its axis
#: applies (fractions are drawn in %): what observations can be overlaid on.
PLOTTED = {"igg_total_g_per_L": 1.0, "autoantibody_fraction_of_baseline": 100.0, "fcrn_rescue_fraction": 100.0}


def shown_outputs(disease: str | None) -> tuple[str, ...]:
    """The outputs ``plot_patient`` draws for a disease (observations may be overlaid on these)."""
    from ivigsim.model.library import get_disease

    return (*get_disease(disease).readouts[:1], *PLOTTED)


def plot_patient(ds: xr.Dataset, path: str | Path, patient: int = 0, title: str | None = None,
                 observed: dict | None = None) -> Path:
    """Total IgG by origin, autoantibody and FcRn rescue over time, infusions shaded;
    ``observed`` ({output: (times, values)}) overlaid as points on the output's panel."""
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
    panels = {**{name: (ax, 1.0) for ax, name in zip(fig.axes, readouts)},
              "igg_total_g_per_L": (axes[0], 1.0), "autoantibody_fraction_of_baseline": (axes[1], 100.0),
              "fcrn_rescue_fraction": (axes[2], 100.0)}
    for name, (times, values) in (observed or {}).items():
        ax, factor = panels[name]
        ax.scatter(times, factor * values, color="black", s=18, zorder=5, label="observed")
        ax.legend(loc="upper right", fontsize=8)
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


#: Verdict colours: pass, identity (holds by construction), documented gap, unexpected failure.
_VERDICT_COLOURS = {"pass": "#31a354", "IDENTITY": "#6baed6", "GAP": "#fd8d3c", "FAIL": "#d62728"}


def plot_validation(verdicts, path: str | Path, title: str) -> Path:
    """Simulated vs published, one row per target on its own axis and unit: the accepted
    range (grey), the published value (black diamond), the simulated value with its 95 %
    interval where it has one (coloured by verdict: pass green, IDENTITY blue, GAP orange,
    FAIL red)."""
    import math

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    fig.tight_layout(rect=(0, 0, 0.95, 1))
    path = Path(path)
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
    return path
