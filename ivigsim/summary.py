"""The few numbers a pharmacologist reads first, computed from a simulation result.

Pure: takes the Dataset ``ivigsim.simulation.simulate`` returns, gives plain values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

#: Days after the last infusion before fitting the terminal slope: distribution
#: between plasma and tissue takes about a week to settle (half-life ~1 day with the
#: shipped parameters, so 7 days leaves < 1 % of the distribution phase).
DISTRIBUTION_DAYS = 7.0
#: Shortest stretch on which a half-life is estimated.
MIN_FIT_DAYS = 7.0
#: Ranges outside which an output is physiologically implausible: a simulation that leaves
#: them is shown with a warning (the model still computes it; the input is likely wrong).
PLAUSIBLE: dict[str, tuple[float, float, str]] = {
    "igg_total_g_per_L": (0.5, 80.0, "assumption: the model's peak after 2 g/kg in one day is about 45 g/L; "
                          "80 g/L is almost twice the largest dose given"),
    "platelets_1e9_per_L": (0.0, 1500.0, "platelets: above 1,500 x 10^9/L is extreme thrombocytosis"),
}


@dataclass(frozen=True)
class ReadoutSummary:
    """A disease readout: where it started, its best value and when, where it ended."""

    name: str
    baseline: float
    best: float
    best_day: float
    final: float

    def line(self) -> str:
        return (f"{self.name}: {self.baseline:.3g} before, best {self.best:.3g} on day {self.best_day:.2f}, "
                f"{self.final:.3g} at the end")


@dataclass(frozen=True)
class Summary:
    baseline_igg_g_per_L: float
    peak_igg_g_per_L: float
    peak_day: float
    trough_igg_g_per_L: float
    trough_day: float
    ivig_half_life_days: float | None  # None when the span after the last dose is too short
    half_life_window_days: tuple[float, float] | None
    autoantibody_nadir_fraction: float
    autoantibody_nadir_day: float
    autoantibody_final_fraction: float
    endogenous_igg_nadir_fraction: float
    infused_g: float
    #: What lowered the patient's own IgG, in words, as the scenario gave it: infused IgG
    #: saturating FcRn, an FcRn inhibitor, plasma exchange (empty: none of them).
    endogenous_igg_lowered_by: tuple[str, ...] = ()
    readouts: tuple[ReadoutSummary, ...] = ()
    #: Probability of each adverse event over the course (event -> probability), if computed.
    course_risks: tuple[tuple[str, float], ...] = ()

    #: Outputs that left their plausible range (``PLAUSIBLE``): (name, extreme value, why).
    implausible: tuple[tuple[str, float, str], ...] = ()
    #: Comparators (None without them): IgG removed by plasma exchange, all of it and the
    #: IVIG-derived part; IgG absorbed into plasma from subcutaneous doses. Grams, by the end.
    exchanged_igg_g: float | None = None
    exchanged_ivig_g: float | None = None
    scig_absorbed_g: float | None = None
    #: The comparators' own adverse events, one line (``ivigsim.safety.comparators``): the risk of
    #: those the scenario declares a rate for, the others named; empty without a comparator.
    comparator_events: str = ""

    def warnings(self) -> list[str]:
        return [f"{name} reached {value:.4g}, outside the plausible range {PLAUSIBLE[name][0]:g}-"
                f"{PLAUSIBLE[name][1]:g} ({why}): check the dose and the parameters"
                for name, value, why in self.implausible]

    def lines(self) -> list[str]:
        out = [r.line() for r in self.readouts] + [
            f"total IgG: baseline {self.baseline_igg_g_per_L:.2f} g/L, peak {self.peak_igg_g_per_L:.2f} g/L "
            f"on day {self.peak_day:.2f}, trough {self.trough_igg_g_per_L:.2f} g/L on day {self.trough_day:.2f}",
        ]
        if self.ivig_half_life_days is not None and self.half_life_window_days is not None:
            a, b = self.half_life_window_days
            out.append(f"half-life of infused IgG: {self.ivig_half_life_days:.1f} days (fitted on days {a:g}-{b:g})")
        else:
            out.append(f"half-life of infused IgG: not estimated (needs {DISTRIBUTION_DAYS + MIN_FIT_DAYS:g} days after the last infusion)")
        out.append(
            f"autoantibody: nadir {100 * self.autoantibody_nadir_fraction:.0f} % of baseline on day "
            f"{self.autoantibody_nadir_day:.1f}, {100 * self.autoantibody_final_fraction:.0f} % at the end"
        )
        causes = "; ".join(self.endogenous_igg_lowered_by)  # none given: no cause to name
        out.append(f"patient's own IgG: nadir {100 * self.endogenous_igg_nadir_fraction:.0f} % of baseline"
                   + (f" ({causes})" if causes else ""))
        out.append(f"IVIG infused: {self.infused_g:.1f} g")
        if self.scig_absorbed_g is not None:
            out.append(f"IgG absorbed from SCIG: {self.scig_absorbed_g:.1f} g")
        if self.exchanged_igg_g is not None:
            out.append(f"IgG removed by plasma exchange: {self.exchanged_igg_g:.1f} g "
                       f"(of it IVIG-derived {self.exchanged_ivig_g:.1f} g)")
        if self.course_risks:
            risks = ", ".join(f"{name.replace('_', ' ')} {100 * p:.2g} %" for name, p in self.course_risks)
            out.append(f"adverse events over the course (probability): {risks}")
        if self.comparator_events:
            out.append(f"adverse events of the comparators: {self.comparator_events}")
        return out


def summarise_readouts(ds: xr.Dataset, patient: int = 0) -> tuple[ReadoutSummary, ...]:
    """The disease's readouts (``ds.attrs['disease']``), best meaning higher or lower as the disease says."""
    from ivigsim.model.library import get_disease

    disease = get_disease(ds.attrs.get("disease", "none"))
    one = ds.isel(patient=patient)
    t = one["time"].values
    out = []
    for readout in disease.readouts:
        name = readout.name
        if name not in one or readout.higher_is_better is None:  # not an outcome (IgG without a disease)
            continue
        series = one[name].values
        i = int(np.nanargmax(series) if readout.higher_is_better else np.nanargmin(series))
        out.append(ReadoutSummary(name, float(series[0]), float(series[i]), float(t[i]), float(series[-1])))
    return tuple(out)


def summarise(ds: xr.Dataset, patient: int = 0) -> Summary:
    one = ds.isel(patient=patient)
    t = one["time"].values
    total = one["igg_total_g_per_L"].values
    i_peak = int(np.nanargmax(total))
    peak, peak_day = float(total[i_peak]), float(t[i_peak])
    if "igg_total_post_infusion_g_per_L" in one:  # exact values at infusion ends
        post = one["igg_total_post_infusion_g_per_L"].values
        k = int(np.nanargmax(post))
        if post[k] >= peak:
            peak, peak_day = float(post[k]), float(one["infusion_end_day"].values[k])
    i_trough = i_peak + int(np.nanargmin(total[i_peak:]))

    infused, scig_absorbed = _ivig_and_scig_g(ds, one)
    exchanged = None
    if "igg_exchanged_g" in one and one["igg_exchanged_g"].values[-1] > 0:  # an exchange took place
        exchanged = (float(one["igg_exchanged_g"].values[-1]), float(one["ivig_exchanged_g"].values[-1]))
    half_life, window = None, None
    last_end = float(ds.attrs.get("last_infusion_end_day", np.nan))
    if np.isfinite(last_end):
        start = last_end + DISTRIBUTION_DAYS
        fit = (t >= start) & (one["igg_ivig_g_per_L"].values > 0)
        if fit.sum() >= 3 and t[fit][-1] - t[fit][0] >= MIN_FIT_DAYS:
            slope = np.polyfit(t[fit], np.log(one["igg_ivig_g_per_L"].values[fit]), 1)[0]
            if slope < 0:
                half_life, window = float(np.log(2) / -slope), (float(t[fit][0]), float(t[fit][-1]))

    auto = one["autoantibody_fraction_of_baseline"].values
    i_nadir = int(np.nanargmin(auto))
    endo = one["igg_endogenous_g_per_L"].values
    return Summary(
        baseline_igg_g_per_L=float(total[0]),
        peak_igg_g_per_L=peak,
        peak_day=peak_day,
        trough_igg_g_per_L=float(total[i_trough]),
        trough_day=float(t[i_trough]),
        ivig_half_life_days=half_life,
        half_life_window_days=window,
        autoantibody_nadir_fraction=float(auto[i_nadir]),
        autoantibody_nadir_day=float(t[i_nadir]),
        autoantibody_final_fraction=float(auto[-1]),
        endogenous_igg_nadir_fraction=float(np.nanmin(endo) / endo[0]),
        infused_g=infused,
        endogenous_igg_lowered_by=_lowered_by(one, infused, scig_absorbed, exchanged),
        readouts=summarise_readouts(ds, patient),
        course_risks=tuple(
            (str(e), float(p)) for e, p in zip(ds["event"].values, ds["adverse_event_course_probability"].values[patient])
        ) if "adverse_event_course_probability" in ds else (),
        implausible=implausible(one),
        exchanged_igg_g=exchanged[0] if exchanged else None,
        exchanged_ivig_g=exchanged[1] if exchanged else None,
        scig_absorbed_g=scig_absorbed,
        comparator_events=str(ds.attrs.get("comparator_adverse_events", "")),
    )


def _lowered_by(one: xr.Dataset, infused_g: float, scig_absorbed_g: float | None,
                exchanged: tuple[float, float] | None) -> tuple[str, ...]:
    """What in the scenario lowered the patient's own IgG. Each cause is named only when the
    scenario gave it: infused (or absorbed subcutaneous) IgG saturating FcRn, so that more of
    every IgG is catabolised; an FcRn inhibitor occupying FcRn; plasma exchange removing it
    (with the grams of the patient's IgG removed, autoantibody and immune complexes included)."""
    causes = []
    if infused_g > 0 or (scig_absorbed_g or 0.0) > 0:
        causes.append("FcRn saturated by the infused IgG" if not scig_absorbed_g else
                      "FcRn saturated by the infused and absorbed IgG")
    if "fcrn_inhibitor_occupancy" in one and float(np.nanmax(one["fcrn_inhibitor_occupancy"].values)) > 0:
        causes.append("FcRn occupied by the FcRn inhibitor")
    if exchanged is not None and exchanged[0] - exchanged[1] > 0:
        causes.append(f"plasma exchange removed {exchanged[0] - exchanged[1]:.1f} g of the patient's IgG")
    return tuple(causes)


def _ivig_and_scig_g(ds: xr.Dataset, one: xr.Dataset) -> tuple[float, float | None]:
    """IVIG infused by the end, grams, and IgG absorbed from SCIG (None without SCIG).

    Absorbed SCIG joins the IVIG-derived species, so the IVIG-derived IgG accounted for (in the
    body, catabolised, removed by exchange) is IVIG infused + SCIG absorbed. Without SCIG that
    sum is IVIG infused (as before); with it, IVIG infused is read from the infusions (each
    counted in proportion to the part of it given by the end) and SCIG absorbed is the rest.
    """
    names = ("ivig_central_g", "ivig_peripheral_g", "ivig_catabolised_g", "ivig_exchanged_g")
    accounted = float(sum(one[n].values[-1] for n in names if n in one))
    if "scig_depot_g" not in one:  # the IVIG model: no SCIG
        return accounted, None
    end = float(one["time"].values[-1])
    infused = 0.0
    if "infusion_amount_g" in ds:
        start, stop = ds["infusion_start_day"].values, ds["infusion_end_day"].values
        given = np.clip((end - start) / np.maximum(stop - start, 1e-12), 0.0, 1.0)
        infused = float(np.sum(ds["infusion_amount_g"].values * given))
    absorbed = accounted - infused
    # Without SCIG the difference is the solver's error (far below 0.1 % of the IgG accounted for).
    if np.nanmax(one["scig_depot_g"].values) <= 0 and absorbed < 1e-3 * max(1.0, accounted):
        return accounted, None
    return infused, max(0.0, absorbed)


def implausible(one: xr.Dataset) -> tuple[tuple[str, float, str], ...]:
    """Outputs of one patient that left their plausible range, with the extreme value."""
    out = []
    for name, (low, high, why) in PLAUSIBLE.items():
        if name in one:
            values = one[name].values
            if np.nanmax(values) > high:
                out.append((name, float(np.nanmax(values)), why))
            elif np.nanmin(values) < low:
                out.append((name, float(np.nanmin(values)), why))
    return tuple(out)
