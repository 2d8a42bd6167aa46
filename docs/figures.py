"""Draw the figures of docs/comparators.md: `python docs/figures.py [FOLDER]` (default docs/figures).

Each figure is the model's curves for the treatments of the comparator tables (the same
scenarios as `docs/generate.py`'s `comparator_checks_markdown` and
`ivigsim.validation.fcrn_blockade`), with the published figures they are read against drawn
as bands or marks. PNG, 110 dpi. Not compared byte for byte by the tests (a new matplotlib
draws differently); `tests/test_fcrn_blockade.py` draws one into a temporary folder.
"""

from __future__ import annotations

import sys
from pathlib import Path


DOCS = Path(__file__).parent
DPI = 110


def _target(target_id: str):
    """The published figure a curve is read against (``ivigsim.validation.targets``), so a
    figure's band is the validation's own, not a copy of it."""
    from ivigsim.validation.targets import COMPARATOR_TARGETS

    return next(t for t in COMPARATOR_TARGETS if t.id == target_id)


def _run(regimen: dict, days: float, every: float, output: str = "igg_total_g_per_L", **extra):
    from ivigsim.io.scenario_file import parse_scenario
    from ivigsim.simulation import simulate

    ds = simulate(parse_scenario({"regimen": regimen, "simulation": {"days": days, "output_every_days": every},
                                  **extra}))
    return ds.time.values, ds[output].values[0]


def plasma_exchange(ax) -> None:
    """Total IgG around one albumin exchange of 1 and 1.5 Kaplan plasma volumes (2 h, day 1)."""
    for pv, colour in ((1.0, "tab:blue"), (1.5, "tab:red")):
        t, c = _run({"plasma_exchange": {"days": [1], "plasma_volumes": pv, "duration_h": 2}}, 8.0, 1 / 48)
        ax.plot(t, 100 * c / c[0], color=colour, label=f"{pv:g} plasma volume{'' if pv == 1 else 's'}")
    end = 1 + 2 / 24
    just_after = _target("plex-1pv-just-after").acceptance
    rebound = _target("plex-1pv-re-equilibrated").acceptance
    not_recovered = _target("plex-not-recovered-72h").acceptance[1]
    ax.fill_between([end - 0.15, end + 0.15], *just_after, color="grey", alpha=0.35,
                    label="1/3-1/4 just after (Hanafusa 2014)")
    ax.fill_between([end + 1.8, end + 2.2], *rebound, color="tab:green", alpha=0.3,
                    label="about 1/2 re-equilibrated (48 h, our reading)")
    ax.plot([end + 3], [not_recovered], marker="v", color="k", linestyle="none",
            label=f"below {not_recovered:g} % at 72 h (Blood 1980)")
    ax.set(xlabel="day", ylabel="total IgG, % of baseline", ylim=(0, 105),
           title="One plasma exchange (albumin): the rebound from tissue")
    ax.legend(fontsize=7, loc="lower right")


def fcrn_inhibitors(ax) -> None:
    """Total IgG under efgartigimod (healthy, gMG) and nipocalimab (gMG)."""
    arms = (("efgartigimod, 1 dose (healthy)", {"fcrn_inhibitor": {"days": [0]}}, {}),
            ("efgartigimod, weekly x 4 (healthy)", {"fcrn_inhibitor": {"days": [0, 7, 14, 21]}}, {}),
            ("efgartigimod, weekly x 4 (gMG)", {"fcrn_inhibitor": {"days": [0, 7, 14, 21]}}, {"disease": "mg"}),
            ("nipocalimab 60 mg/kg every 2 weeks x 4 (gMG)",
             {"fcrn_inhibitor": {"drug": "nipocalimab", "days": [0, 14, 28, 42], "mg_per_kg": 60}}, {"disease": "mg"}))
    for label, regimen, extra in arms:
        t, c = _run(regimen, 112.0, 0.25, **extra)
        ax.plot(t, 100 * c / c[0], label=label)
    one_dose, repeated = (100 - _target(i).published for i in ("efgartigimod-single-dose", "efgartigimod-repeated"))
    ax.axhline(one_dose, color="grey", linestyle=":", linewidth=1)
    ax.axhline(repeated, color="grey", linestyle="--", linewidth=1)
    ax.text(112, one_dose + 1, "up to 50 % lower, one dose", fontsize=7, ha="right", va="bottom", color="grey")
    ax.text(112, repeated + 1, "about 75 % lower, repeated doses", fontsize=7, ha="right", va="bottom", color="grey")
    ax.plot([21 + 56], [100], marker="o", color="k", linestyle="none",
            label="Ulrichts 2018 (healthy): back to baseline 8 weeks after the last dose")
    ax.plot([21], [100 - _target("efgartigimod-gmg-lowering").published], marker="s", color="tab:purple", linestyle="none", label="ADAPT+ mean lowering, gMG")
    ax.set(xlabel="day", ylabel="total IgG, % of baseline", ylim=(0, 110),
           title="FcRn inhibitors: IgG lowering and recovery")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)


def ivig_during_blockade(ax, arms=None) -> None:
    """The infused IgG of 0.4 g/kg IVIG on day 14, alone or during an inhibitor (log scale)."""
    from ivigsim.validation import fcrn_blockade

    arms = fcrn_blockade.table() if arms is None else arms
    for a in arms:
        keep = a.time >= fcrn_blockade.IVIG_DAY
        ax.semilogy(a.time[keep], a.ivig_g_per_L[keep], label=f"{a.label}: half-life {a.half_life_days:.1f} days")
    lo, hi = fcrn_blockade.window()
    ax.axvspan(lo, hi, color="grey", alpha=0.15, label="the half-life's window")
    ax.set(xlabel="day", ylabel="IgG from the infused product, g/L (log)",
           title="IVIG given during FcRn blockade is cleared faster (a prediction)")
    ax.legend(fontsize=7, loc="lower left")


def scig_vs_ivig(ax) -> None:
    """A PID patient's last 8 weeks of a year on 0.4 g/kg a month, IVIG every 4 weeks or SCIG weekly."""
    pid = {"patient": {"weight_kg": 62, "sex": "female"}, "indication": "pid",
           "parameters": {"baseline_igg_g_per_L": 3.0}}
    ivig = {"maintenance": {"g_per_kg": 0.4, "every_days": 28, "start_day": 0, "count": 13,
                            "infusion": {"rate_mg_per_kg_min": 4}}}
    scig = {"scig": {"g_per_kg": 0.1, "every_days": 7, "count": 52}}
    for label, regimen in (("IVIG 0.4 g/kg every 4 weeks", ivig), ("SCIG 0.1 g/kg weekly", scig)):
        t, c = _run(regimen, 364.0, 0.125, **pid)
        keep = t >= 308.0
        ax.plot(t[keep], c[keep], label=label)
    ax.axhline(3.0, color="grey", linestyle=":", linewidth=1, label="the patient's own IgG")
    ax.set(xlabel="day", ylabel="total IgG, g/L", ylim=(0, None),
           title="Primary immunodeficiency: the same monthly dose, two routes")
    ax.legend(fontsize=7, loc="lower right")


FIGURES = {"comparators-plasma-exchange.png": plasma_exchange, "comparators-fcrn-inhibitors.png": fcrn_inhibitors,
           "comparators-ivig-during-fcrn-blockade.png": ivig_during_blockade,
           "comparators-scig-vs-ivig.png": scig_vs_ivig}


def draw(folder: Path, names=None) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw_one in FIGURES.items():
        if names is not None and name not in names:
            continue
        fig, ax = plt.subplots(figsize=(7.0, 5.0 if draw_one is fcrn_inhibitors else 4.2))
        draw_one(ax)
        fig.tight_layout()
        path = folder / name
        fig.savefig(path, dpi=DPI)
        plt.close(fig)
        written.append(path)
    return written


if __name__ == "__main__":
    for p in draw(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS / "figures"):
        print(f"wrote {p}")
