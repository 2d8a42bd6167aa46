"""IVIG use per arm: grams, vials and cost, for the people who manage IVIG stock.

Each arm's regimen is compiled once for 1 kg of dosing weight (as the runner does), so a
patient's grams are the regimen's g/kg times the patient's dosing weight (actual, ideal or
adjusted: ``ivigsim.dosing.weight``). Reported per arm:

- the dosing weight (its kind, and its mean, min and max over the arm's patients);
- grams per patient over the trial (infusions starting within the simulated span) and per
  year (infusions starting in the regimen's first 365.25 days, as written: a course given
  once counts once; a maintenance series counts its doses in that year), with t intervals;
- grams per course and per dose: each regimen part's g/kg per occurrence (a course's total,
  one dose, one maintenance dose) and its grams per patient;
- with ``vial_sizes_g``: vials per patient by size. Rounding rule, per infusion (an opened
  vial is not kept for the next infusion or patient): ``up`` (default), the smallest total of
  whole vials at or above the dose, no dose is cut; ``nearest``, the total of whole vials
  nearest the dose (ties go up; at least one vial). Among combinations with that total, the
  fewest vials. Vial sizes are an input: the product catalogue holds no sourced vial sizes;
- with ``price_per_g``: cost, price x grams (of whole vials when vial sizes are given, else of
  the prescribed grams). No price is assumed: without one, no cost is reported.

Only IVIG infusions count; subcutaneous IgG, plasma exchange and FcRn inhibitor sessions
do not.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from ivigsim.errors import InputError
from ivigsim.trial import contrast_statistics as cs
from ivigsim.trial.statistics import LEVEL, Estimate, mean_t, wilson

DAYS_PER_YEAR = 365.25
#: Vial sizes are whole multiples of this (g); vials are combined on this grid.
VIAL_GRID_G = 0.1
MAX_VIAL_G = 100.0
MAX_VIAL_SIZES = 12
#: Highest price per gram accepted (a bound that catches a price per vial or a typo).
MAX_PRICE_PER_G = 1e6
Rounding = Literal["up", "nearest"]


@dataclass(frozen=True)
class Stewardship:
    """What the stewardship table needs from the user: a price per gram, vial sizes, a rounding rule."""

    price_per_g: float | None = None
    currency: str = ""
    vial_sizes_g: tuple[float, ...] = ()
    vial_rounding: Rounding = "up"

    def __post_init__(self) -> None:
        p = self.price_per_g
        if p is not None and (isinstance(p, bool) or not isinstance(p, (int, float)) or not math.isfinite(p)
                              or not 0 <= p <= MAX_PRICE_PER_G):
            raise InputError("stewardship.price_per_g", f"a price per gram from 0 to {MAX_PRICE_PER_G:g}", p)
        sizes = tuple(self.vial_sizes_g)
        if len(sizes) > MAX_VIAL_SIZES:
            raise InputError("stewardship.vial_sizes_g", f"at most {MAX_VIAL_SIZES} vial sizes", list(sizes))
        for s in sizes:
            if (isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s)
                    or not VIAL_GRID_G <= s <= MAX_VIAL_G or abs(s / VIAL_GRID_G - round(s / VIAL_GRID_G)) > 1e-6):
                raise InputError("stewardship.vial_sizes_g", f"vial sizes in g from {VIAL_GRID_G:g} to {MAX_VIAL_G:g}, "
                                 f"in steps of {VIAL_GRID_G:g} g", s)
        if len(set(sizes)) != len(sizes):
            raise InputError("stewardship.vial_sizes_g", "each vial size once", list(sizes))
        object.__setattr__(self, "vial_sizes_g", tuple(sorted(float(s) for s in sizes)))
        if self.vial_rounding not in ("up", "nearest"):
            raise InputError("stewardship.vial_rounding", "up or nearest", self.vial_rounding)


@dataclass(frozen=True)
class RegimenUse:
    """An arm's regimen per kg of dosing weight."""

    dosing_weight: str
    product: str | None
    in_trial: tuple[float, ...]  # g/kg of each infusion starting within the trial
    first_year: tuple[float, ...]  # g/kg of each infusion starting in the regimen's first 365.25 days
    parts: tuple[tuple[str, float], ...]  # (description, g/kg per occurrence)


def regimen_use(regimen, indication, days: float) -> RegimenUse:
    """``regimen`` (None: no treatment) compiled for 1 kg; ``days``: the trial's span."""
    if regimen is None:
        return RegimenUse("actual", None, (), (), ())
    from ivigsim.dosing.regimen import Course, Dose, Maintenance
    from ivigsim.model.patient import Patient

    plan = replace(regimen, dosing_weight="actual").compile(Patient(weight_kg=1.0), indication)
    parts = []
    for part in regimen.parts:
        if isinstance(part, Course):
            parts.append((f"course: {part.total_g_per_kg:g} g/kg over {part.days} day(s)", part.total_g_per_kg))
        elif isinstance(part, Maintenance):
            parts.append((f"maintenance dose: {part.g_per_kg:g} g/kg every {part.every_days:g} days", part.g_per_kg))
        elif isinstance(part, Dose):
            parts.append((f"dose: {part.g_per_kg:g} g/kg on day {part.day:g}", part.g_per_kg))
    return RegimenUse(regimen.dosing_weight, regimen.product.name,
                      tuple(i.g_per_kg for i in plan.infusions if i.start_day < days),
                      tuple(i.g_per_kg for i in plan.infusions if i.start_day < DAYS_PER_YEAR), tuple(parts))


def _scaled(e: Estimate, factor: float) -> dict:
    return Estimate(e.estimate * factor, e.lower * factor, e.upper * factor, e.n, e.method).as_dict()


class VialTable:
    """Whole-vial totals reachable with ``sizes`` (g), the fewest vials for each, and the rounding rule."""

    def __init__(self, sizes: tuple[float, ...], rounding: Rounding, largest_dose_g: float) -> None:
        self.sizes = sizes
        self.rounding = rounding
        units = [int(round(s / VIAL_GRID_G)) for s in sizes]
        top = int(math.ceil(largest_dose_g / VIAL_GRID_G + 1e-6)) + max(units)
        best = np.full(top + 1, np.iinfo(np.int64).max, dtype=np.int64)
        counts = np.zeros((top + 1, len(sizes)), dtype=np.int64)
        best[0] = 0
        order = sorted(range(len(units)), key=lambda j: -units[j])  # larger vials first on ties: deterministic
        for t in range(1, top + 1):
            for j in order:
                u = units[j]
                if u <= t and best[t - u] != np.iinfo(np.int64).max and best[t - u] + 1 < best[t]:
                    best[t] = best[t - u] + 1
                    counts[t] = counts[t - u]
                    counts[t, j] += 1
        reachable = np.flatnonzero(best != np.iinfo(np.int64).max)
        self.totals = reachable[reachable > 0]  # grid units, ascending
        self.counts = counts[self.totals]

    def vials(self, doses_g: np.ndarray) -> np.ndarray:
        """(n, sizes) whole vials per dose by the rounding rule."""
        exact = np.asarray(doses_g, dtype=float) / VIAL_GRID_G
        need = np.ceil(exact - 1e-6)
        hi = np.searchsorted(self.totals, need, side="left")
        if self.rounding == "nearest":
            lo = np.searchsorted(self.totals, exact + 1e-6, side="right") - 1  # largest total at or below the dose
            use_lo = (lo >= 0) & (exact - self.totals[np.maximum(lo, 0)] < self.totals[hi] - exact - 1e-9)
            hi = np.where(use_lo, lo, hi)
        return self.counts[hi]


def summarise_use(use: RegimenUse, weights: np.ndarray, spec: Stewardship, level: float = LEVEL,
                  given: dict | None = None) -> dict:
    """The arm's IVIG use from its patients' dosing weights (kg). ``given``: for an arm under
    response-guided rules (``ivigsim.trial.rules``), each patient's grams actually given
    (``ivig_g_in_trial``, ``ivig_g_per_year``) and infusions (``ivig_infusions``), counted instead
    of the regimen as written."""
    if given is not None:
        return _given_use(use, weights, spec, level, given)
    w = np.asarray(weights, dtype=float)
    w = w[np.isfinite(w)]
    g_trial, g_year = float(sum(use.in_trial)), float(sum(use.first_year))
    weight = mean_t(w, level)
    out: dict = {
        "regimen": "no IVIG" if use.product is None else use.product,
        "dosing_weight": {"kind": use.dosing_weight, "mean_kg": weight.as_dict(),
                          "min_kg": float(w.min()) if w.size else None, "max_kg": float(w.max()) if w.size else None},
        "infusions_in_trial": len(use.in_trial), "g_per_kg_in_trial": g_trial,
        "infusions_per_year": len(use.first_year), "g_per_kg_per_year": g_year,
        "grams_per_patient_in_trial": _scaled(weight, g_trial),
        "grams_per_patient_per_year": _scaled(weight, g_year),
        "grams_total_in_trial": float(np.sum(w) * g_trial),
        "parts": [{"part": text, "g_per_kg": g, "grams_per_patient": _scaled(weight, g)} for text, g in use.parts],
    }
    basis_trial, basis_year = out["grams_per_patient_in_trial"]["estimate"], out["grams_per_patient_per_year"]["estimate"]
    if spec.vial_sizes_g:
        vials = _vials(use, w, spec)
        out["vials"] = vials
        basis_trial, basis_year = vials["dispensed_g_per_patient_in_trial"], vials["dispensed_g_per_patient_per_year"]
    if spec.price_per_g is not None:
        out["cost"] = {"price_per_g": spec.price_per_g, "currency": spec.currency,
                       "basis": "whole vials dispensed" if spec.vial_sizes_g else "grams prescribed",
                       "per_patient_in_trial": _num(basis_trial * spec.price_per_g),
                       "per_patient_per_year": _num(basis_year * spec.price_per_g),
                       "total_in_trial": _num(basis_trial * spec.price_per_g * w.size)}
    return out


def _given_use(use: RegimenUse, weights: np.ndarray, spec: Stewardship, level: float, given: dict) -> dict:
    """``summarise_use`` of the doses each patient actually got (a rules arm): grams are the
    patients' own, their mean with a t interval; per year: those given in the first 365.25 days
    (in a shorter trial, the trial's: later doses are not known). Vials: ``given["vials"]``, the
    patients' whole vials by size summed (``vials_given``, by the same rule per infusion as a fixed
    regimen); cost is then of the vials dispensed, else of grams given."""
    w = np.asarray(weights, dtype=float)
    ok = np.isfinite(w)
    g_trial = np.asarray(given["ivig_g_in_trial"], dtype=float)[ok]
    g_year = np.asarray(given["ivig_g_per_year"], dtype=float)[ok]
    infusions = np.asarray(given["ivig_infusions"], dtype=float)[ok]
    w = w[ok]
    n = max(w.size, 1)
    per_trial, per_year = mean_t(g_trial, level), mean_t(g_year, level)
    with np.errstate(all="ignore"):
        out: dict = {
            "regimen": use.product or "generic-10",
            "basis": "doses given under the arm's rules",
            "dosing_weight": {"kind": use.dosing_weight, "mean_kg": mean_t(w, level).as_dict(),
                              "min_kg": float(w.min()) if w.size else None, "max_kg": float(w.max()) if w.size else None},
            "infusions_in_trial": float(infusions.sum() / n), "g_per_kg_in_trial": _num(float(np.mean(g_trial / w))),
            "infusions_per_year": None, "g_per_kg_per_year": _num(float(np.mean(g_year / w))),
            "grams_per_patient_in_trial": per_trial.as_dict(),
            "grams_per_patient_per_year": per_year.as_dict(),
            "grams_total_in_trial": float(np.sum(g_trial)),
            "parts": [{"part": text, "g_per_kg": g, "grams_per_patient": _scaled(mean_t(w, level), g)}
                      for text, g in use.parts],
        }
    relapses = np.asarray(given["rule_relapses"], dtype=float)[ok]
    final = np.asarray(given["rule_final_g_per_kg"], dtype=float)[ok]
    known = np.isfinite(relapses) & np.isfinite(final)
    stopped = known & (final == 0)
    out["rules"] = {  # what the rules did, per patient (failed solves left out)
        "relapsed": wilson(int((known & (relapses > 0)).sum()), int(known.sum()), level).as_dict(),
        "retreatments_per_patient": _num(float(np.nanmean(np.asarray(given["rule_retreatments"], float)[ok][known])))
        if known.any() else None,
        "final_g_per_kg_mean": _num(float(final[known].mean())) if known.any() else None,
        "comparator_cycles_per_patient": _num(float(np.nanmean(np.asarray(given["rule_cycles"], float)[ok][known])))
        if known.any() and "rule_cycles" in given else None,
        "stopped": wilson(int(stopped.sum()), int(known.sum()), level).as_dict(),
        "stopped_without_relapse": wilson(int((stopped & (relapses == 0)).sum()), int(known.sum()), level).as_dict(),
    }
    basis_trial, basis_year, basis = per_trial.estimate, per_year.estimate, "grams given"
    total = float(np.sum(g_trial))
    if spec.vial_sizes_g and given.get("vials") is not None:
        vials = _vials_entry(spec, np.asarray(given["vials"]["in_trial"]), np.asarray(given["vials"]["per_year"]),
                             int(given["vials"]["patients"]))
        out["vials"] = vials
        basis_trial, basis_year = vials["dispensed_g_per_patient_in_trial"], vials["dispensed_g_per_patient_per_year"]
        basis = "whole vials dispensed"
        total = float(np.asarray(given["vials"]["in_trial"]) @ np.asarray(spec.vial_sizes_g))
    if spec.price_per_g is not None:
        out["cost"] = {"price_per_g": spec.price_per_g, "currency": spec.currency, "basis": basis,
                       "per_patient_in_trial": _num(basis_trial * spec.price_per_g),
                       "per_patient_per_year": _num(basis_year * spec.price_per_g),
                       "total_in_trial": _num(total * spec.price_per_g)}
    return out


def vials_given(counts: np.ndarray, days: np.ndarray, g_per_kg: np.ndarray, weights: np.ndarray, spec: Stewardship,
                trial_days: float) -> tuple[np.ndarray, np.ndarray]:
    """Each patient's whole vials by size (patients x sizes, in the trial and in its first
    365.25 days) of the infusions it was given: ``counts[i]`` infusions for patient i, then every
    patient's infusions in order (``days``, ``g_per_kg``: ``ivigsim.trial.rules.parse_doses``),
    each of g/kg x dosing weight grams, rounded per infusion as a fixed regimen's
    (``VialTable``). A patient without a finite dosing weight gets none (as its grams)."""
    n, sizes = len(counts), spec.vial_sizes_g
    owner = np.repeat(np.arange(n), np.asarray(counts, dtype=np.int64))
    grams = np.asarray(g_per_kg, dtype=float) * np.asarray(weights, dtype=float)[owner]
    days = np.asarray(days, dtype=float)
    counted = np.isfinite(grams) & (grams > 0) & (days < trial_days)
    in_trial, per_year = np.zeros((n, len(sizes)), dtype=np.int64), np.zeros((n, len(sizes)), dtype=np.int64)
    if counted.any():
        table = VialTable(sizes, spec.vial_rounding, float(grams[counted].max()))
        v = table.vials(grams[counted])
        np.add.at(in_trial, owner[counted], v)
        year = days[counted] < DAYS_PER_YEAR
        np.add.at(per_year, owner[counted][year], v[year])
    return in_trial, per_year


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _vials_entry(spec: Stewardship, in_trial: np.ndarray, per_year: np.ndarray, patients: int) -> dict:
    """The ``vials`` entry from whole vials by size summed over ``patients`` (a rules arm)."""
    grams = np.asarray(spec.vial_sizes_g)
    n = max(patients, 1)
    label = [f"{s:g}" for s in spec.vial_sizes_g]
    return {"sizes_g": list(spec.vial_sizes_g), "rounding": spec.vial_rounding,
            "per_patient_in_trial": dict(zip(label, (in_trial / n).tolist())),
            "per_patient_per_year": dict(zip(label, (per_year / n).tolist())),
            "total_in_trial": dict(zip(label, in_trial.astype(int).tolist())),
            "dispensed_g_per_patient_in_trial": float(in_trial @ grams / n),
            "dispensed_g_per_patient_per_year": float(per_year @ grams / n)}


def _vials(use: RegimenUse, w: np.ndarray, spec: Stewardship) -> dict:
    sizes = spec.vial_sizes_g
    per_trial, per_year = Counter(use.in_trial), Counter(use.first_year)
    largest = max([0.0, *per_year, *per_trial]) * (float(w.max()) if w.size else 0.0)
    table = VialTable(sizes, spec.vial_rounding, largest)
    trial_vials = np.zeros((w.size, len(sizes)))
    year_vials = np.zeros((w.size, len(sizes)))
    for g_per_kg in set(per_trial) | set(per_year):
        v = table.vials(g_per_kg * w)
        trial_vials += per_trial[g_per_kg] * v
        year_vials += per_year[g_per_kg] * v
    grams = np.asarray(sizes)
    n = max(w.size, 1)
    label = [f"{s:g}" for s in sizes]
    return {"sizes_g": list(sizes), "rounding": spec.vial_rounding,
            "per_patient_in_trial": dict(zip(label, (trial_vials.sum(axis=0) / n).tolist())),
            "per_patient_per_year": dict(zip(label, (year_vials.sum(axis=0) / n).tolist())),
            "total_in_trial": dict(zip(label, trial_vials.sum(axis=0).astype(int).tolist())),
            "dispensed_g_per_patient_in_trial": float((trial_vials @ grams).sum() / n),
            "dispensed_g_per_patient_per_year": float((year_vials @ grams).sum() / n)}


def grams_contrast(arm: str, reference: str, use_a: RegimenUse, use_b: RegimenUse, w_a: np.ndarray, w_b: np.ndarray,
                   paired: bool, spec: Stewardship, level: float = LEVEL, given_a: dict | None = None,
                   given_b: dict | None = None) -> dict:
    """Difference in grams per patient (arm - reference), in the trial and per year (``given_*``:
    a rules arm's grams actually given, as ``summarise_use``)."""
    out = {"arm": arm, "reference": reference, "paired": bool(paired)}
    for key, a, b in (("grams_per_patient_in_trial", sum(use_a.in_trial), sum(use_b.in_trial)),
                      ("grams_per_patient_per_year", sum(use_a.first_year), sum(use_b.first_year))):
        x, y = a * np.asarray(w_a, dtype=float), b * np.asarray(w_b, dtype=float)
        column = "ivig_g_in_trial" if key.endswith("in_trial") else "ivig_g_per_year"
        if given_a is not None:
            x = np.where(np.isfinite(w_a), np.asarray(given_a[column], dtype=float), np.nan)
        if given_b is not None:
            y = np.where(np.isfinite(w_b), np.asarray(given_b[column], dtype=float), np.nan)
        if paired:
            both = np.isfinite(x) & np.isfinite(y)
            est = cs.paired_mean_difference(x[both], y[both], level)
        else:
            est = cs.welch_difference(x[np.isfinite(x)], y[np.isfinite(y)], level)
        out[key] = est.as_dict()
        if spec.price_per_g is not None:
            out[key.replace("grams", "cost")] = _scaled(est, spec.price_per_g)
    return out
