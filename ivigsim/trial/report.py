"""The contrasts and IVIG-use parts of a trial summary as printed tables and CSV files.

``contrasts.csv``: one row per contrast and measure (endpoint, arm, reference, paired,
measure, estimate, lower, upper, n, method). ``ivig_use.csv``: one row per arm (dosing
weight, grams per patient in the trial and per year, vials by size, cost when priced), then
one row per grams contrast (``arm`` vs ``reference``, the difference in grams per patient).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ivigsim.io.results import atomic_path

CONTRASTS_CSV = "contrasts.csv"
IVIG_USE_CSV = "ivig_use.csv"


def _num(v) -> str:
    return "n/a" if v is None else f"{v:.4g}"


#: Width of the parameter-uncertainty column (``trial --ensemble``) in printed tables.
BAND_WIDTH = 30


def parameter_header(summary: dict) -> str:
    """The printed tables' parameter-uncertainty column header ("" without ``--ensemble``)."""
    band = summary.get("parameter_uncertainty")
    if band is None:
        return ""
    title = f"param. {100 * band['level']:.0f} %: median [band]"
    return f" {title:>{BAND_WIDTH}s}"


def parameter_column(summary: dict, arm: str | None = None, endpoint: str | None = None, stat: str | None = None,
                     contrast: int | None = None, measure: str | None = None) -> str:
    """One cell of that column: the median [band] over the parameter vectors of an arm's endpoint
    statistic, or of contrast number ``contrast``'s ``measure``; "" without ``--ensemble``."""
    band = summary.get("parameter_uncertainty")
    if band is None:
        return ""
    try:
        if contrast is not None:
            b = band["contrasts"][contrast]["estimates"][measure]
        else:
            b = next(a for a in band["arms"] if a["arm"] == arm)["endpoints"][endpoint][stat]
    except (KeyError, IndexError, StopIteration):
        b = None
    text = ("n/a" if not b or b.get("median") is None
            else f"{_num(b['median'])} [{_num(b['lower'])}, {_num(b['upper'])}]")
    return f" {text:>{BAND_WIDTH}s}"


def contrast_rows(summary: dict) -> pd.DataFrame:
    rows = [{"endpoint": c["endpoint"], "arm": c["arm"], "reference": c["reference"], "paired": c["paired"],
             "measure": m, **{k: e[k] for k in ("estimate", "lower", "upper", "n", "method")}}
            for c in summary.get("contrasts", []) for m, e in c["estimates"].items()]
    columns = ["endpoint", "arm", "reference", "paired", "measure", "estimate", "lower", "upper", "n", "method"]
    band = summary.get("parameter_uncertainty")
    if band is not None:  # `trial --ensemble`: the median and band over the parameter vectors
        bands = [b for c in band["contrasts"] for b in c["estimates"].values()]
        for row, b in zip(rows, bands):
            row |= {"parameter_median": b["median"], "parameter_lower": b["lower"], "parameter_upper": b["upper"]}
        columns += ["parameter_median", "parameter_lower", "parameter_upper"]
    return pd.DataFrame(rows, columns=columns)


def use_rows(summary: dict) -> pd.DataFrame:
    rows = []
    for arm in summary["arms"]:
        u = arm.get("ivig_use")
        if u is None:
            continue
        row = {"row": "arm", "arm": arm["arm"], "reference": "", "dosing_weight": u["dosing_weight"]["kind"],
               "dosing_weight_mean_kg": u["dosing_weight"]["mean_kg"]["estimate"],
               "infusions_in_trial": u["infusions_in_trial"], "g_per_kg_in_trial": u["g_per_kg_in_trial"],
               "grams_per_patient_in_trial": u["grams_per_patient_in_trial"]["estimate"],
               "grams_per_patient_in_trial_lower": u["grams_per_patient_in_trial"]["lower"],
               "grams_per_patient_in_trial_upper": u["grams_per_patient_in_trial"]["upper"],
               "infusions_per_year": u["infusions_per_year"], "g_per_kg_per_year": u["g_per_kg_per_year"],
               "grams_per_patient_per_year": u["grams_per_patient_per_year"]["estimate"],
               "grams_per_patient_per_year_lower": u["grams_per_patient_per_year"]["lower"],
               "grams_per_patient_per_year_upper": u["grams_per_patient_per_year"]["upper"],
               "grams_total_in_trial": u["grams_total_in_trial"]}
        for size, v in u.get("vials", {}).get("per_patient_per_year", {}).items():
            row[f"vials_{size}g_per_patient_per_year"] = v
        for size, v in u.get("vials", {}).get("total_in_trial", {}).items():
            row[f"vials_{size}g_total_in_trial"] = v
        if "vials" in u:
            row["dispensed_g_per_patient_per_year"] = u["vials"]["dispensed_g_per_patient_per_year"]
        if "cost" in u:
            row |= {f"cost_{k}": v for k, v in u["cost"].items() if k.startswith(("per_", "total"))}
            row["currency"] = u["cost"]["currency"]
        rows.append(row)
    for c in summary.get("ivig_use_contrasts", []):
        row = {"row": "difference", "arm": c["arm"], "reference": c["reference"]}
        for key in ("grams_per_patient_in_trial", "grams_per_patient_per_year"):
            row |= {key: c[key]["estimate"], f"{key}_lower": c[key]["lower"], f"{key}_upper": c[key]["upper"]}
        rows.append(row)
    return pd.DataFrame(rows)


def write_tables(out: Path, summary: dict) -> None:
    """``contrasts.csv`` (when the trial asks for contrasts) and ``ivig_use.csv``, each atomically."""
    tables = [(IVIG_USE_CSV, use_rows(summary))]
    if summary.get("contrasts"):
        tables.insert(0, (CONTRASTS_CSV, contrast_rows(summary)))
    for name, table in tables:
        with atomic_path(Path(out) / name) as tmp:
            table.to_csv(tmp, index=False)


def format_extras(summary: dict) -> list[str]:
    """Lines for the printed summary: the contrasts, then IVIG use per arm and its contrasts."""
    lines: list[str] = []
    if summary.get("contrasts"):
        lines += ["", "contrasts (arm vs reference: difference arm - reference, ratio arm / reference; 95 % intervals)",
                  f"  {'endpoint':28s} {'arm vs reference':36s} {'measure':18s} {'estimate':>10s} "
                  f"{'95 % interval':>24s} {'pairing':>8s}{parameter_header(summary)}"]
        for j, c in enumerate(summary["contrasts"]):
            for measure, e in c["estimates"].items():
                interval = f"[{_num(e['lower'])}, {_num(e['upper'])}]"
                lines.append(f"  {c['endpoint']:28s} {c['arm'] + ' vs ' + c['reference']:36s} {measure:18s} "
                             f"{_num(e['estimate']):>10s} {interval:>24s} {'paired' if c['paired'] else 'unpaired':>8s}"
                             + parameter_column(summary, contrast=j, measure=measure))
    arms = [a for a in summary["arms"] if "ivig_use" in a]
    if not arms:
        return lines
    cost = summary.get("stewardship_inputs", {}).get("price_per_g") is not None
    currency = summary.get("stewardship_inputs", {}).get("currency") or ""
    lines += ["", "IVIG use per patient (grams: regimen g/kg x dosing weight; per year: the regimen's first 365.25 days)",
              f"  {'arm':28s} {'dosing weight':>22s} {'g in trial':>10s} {'g per year':>10s} {'vials per year':>24s}"
              + (f" {'cost per year ' + currency:>18s}" if cost else "")]
    for a in arms:
        u = a["ivig_use"]
        weight = f"{u['dosing_weight']['kind']} {_num(u['dosing_weight']['mean_kg']['estimate'])} kg"
        vials = ", ".join(f"{_num(v)} x {s} g" for s, v in u.get("vials", {}).get("per_patient_per_year", {}).items()
                          if v) or ("-" if "vials" not in u else "0")
        line = (f"  {a['arm']:28s} {weight:>22s} {_num(u['grams_per_patient_in_trial']['estimate']):>10s} "
                f"{_num(u['grams_per_patient_per_year']['estimate']):>10s} {vials:>24s}")
        if cost:
            line += f" {_num(u['cost']['per_patient_per_year']):>18s}"
        lines.append(line)
    for c in summary.get("ivig_use_contrasts", []):
        g = c["grams_per_patient_per_year"]
        lines.append(f"  {c['arm']} vs {c['reference']}: {_num(g['estimate'])} g per patient per year "
                     f"[{_num(g['lower'])}, {_num(g['upper'])}] ({'paired' if c['paired'] else 'unpaired'})")
    for a in arms:  # arms under response-guided rules (ivigsim.trial.rules): what the rules did
        r = a["ivig_use"].get("rules")
        if r:
            line = (f"  {a['arm']} (rules; grams as given): relapsed {_num(r['relapsed']['estimate'])}, "
                    f"re-treatments per patient {_num(r['retreatments_per_patient'])}, final maintenance "
                    f"{_num(r['final_g_per_kg_mean'])} g/kg (mean)")
            if "comparator_cycles_per_patient" in r:
                line += f", comparator cycles per patient {_num(r['comparator_cycles_per_patient'])}"
            if "stopped" in r:
                line += (f", stopped {_num(r['stopped']['estimate'])}, stopped without relapse "
                         f"{_num(r['stopped_without_relapse']['estimate'])} "
                         f"[{_num(r['stopped_without_relapse']['lower'])}, {_num(r['stopped_without_relapse']['upper'])}]")
            lines.append(line)
    return lines
