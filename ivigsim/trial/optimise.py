"""The lowest IgG use that keeps a response: a regimen optimiser over a grid of maintenance
dose (g/kg) x interval (days), for stewardship (``ivigsim optimise``).

A trial file gives the virtual population and the endpoint (a ``fraction``: the share of
patients responding); one of its arms, the *template*, gives the regimen: its loading parts,
product, dosing weight and infusion settings are kept, and its one maintenance part (IVIG's
``Maintenance``, or subcutaneous IgG's ``SubcutaneousIgG``) is replaced by each candidate's
dose and interval, of the same kind. Each candidate is run as a one-arm trial with
the trial's seed (``run_trial``), so every candidate treats the same virtual patients (common
random numbers): the differences between candidates are the regimens', not sampling noise.

Per candidate: the response fraction with its Wilson interval (``ivigsim.trial.statistics``)
and the IgG per patient per year: IVIG from the stewardship code (``ivigsim.trial.stewardship``:
the regimen's first 365.25 days as written, loading included, times each patient's dosing
weight), plus, when the regimen gives subcutaneous IgG, its grams over the same year
(``ivigsim.trial.comparators``: the doses as written, before bioavailability, as they are
dispensed). Vials and cost count IVIG only, so they are left out of a regimen with SCIG. The
answer is the candidate with the lowest grams per year whose response (the point
estimate, or with ``conservative`` the lower end of its 95 % interval) is at least the target;
on equal grams (to 1e-9 relative), the higher response, then the longer interval (fewer
infusions). No candidate meeting it is an answer too (``Optimum.chosen is None``).

**The candidate's maintenance** starts on the template's ``start_day`` and runs to at least day
365 (to the template's own end when that is later), whatever the template's ``count`` or
``until_day``: so grams per year are a year of the regimen, and candidates with shorter
intervals are not cut short by a dose count written for another interval. The trial simulates
its own ``simulation.days`` of it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ivigsim.errors import InputError
from ivigsim.trial.spec import Arm, Trial
from ivigsim.trial.statistics import Estimate

#: The last day a candidate's maintenance reaches at least (doses on days up to 365 start
#: within the regimen's first 365.25 days, which is what grams per year count).
YEAR_END_DAY = 365.0
#: Most candidates one run takes (a bound that catches a typo in a grid).
MAX_CANDIDATES = 400
#: Longest interval between maintenance doses accepted, days.
MAX_INTERVAL_DAYS = 365.0
#: Grams per year this close (relative) are a tie.
TIE = 1e-9
#: Most IVIG a candidate may give, g/kg a week (assumption: twice the highest maintenance the
#: CIDP guidelines allow, 1 g/kg every 2 weeks, EAN/PNS 2021 in calibration-targets s.7; more is
#: a typo in a dose or an interval: 3 g/kg every day is 21 g/kg a week).
MAX_G_PER_KG_PER_WEEK = 1.0


@dataclass(frozen=True)
class Grid:
    """Maintenance doses (g/kg per infusion) and intervals (days) to try, every combination."""

    doses_g_per_kg: tuple[float, ...]
    intervals_days: tuple[float, ...]

    def __post_init__(self) -> None:
        from ivigsim.dosing.regimen import MAX_G_PER_KG_PER_INFUSION, MIN_G_PER_KG_PER_INFUSION
        from ivigsim.dosing.units import above_weekly_limit

        for option, values, low, high, expected in (
                ("--doses", self.doses_g_per_kg, MIN_G_PER_KG_PER_INFUSION, MAX_G_PER_KG_PER_INFUSION,
                 f"doses per infusion in g/kg from {MIN_G_PER_KG_PER_INFUSION:g} to {MAX_G_PER_KG_PER_INFUSION:g}"),
                ("--intervals", self.intervals_days, 0.0, MAX_INTERVAL_DAYS,
                 f"intervals in days above 0 and at most {MAX_INTERVAL_DAYS:g}")):
            what = expected.split(" ")[0]
            expected = f"a comma-separated list of {expected}"
            if not values:
                raise InputError(option, expected, "none")
            for v in values:
                if (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not low <= v <= high
                        or (option == "--intervals" and v == 0)):
                    raise InputError(option, expected, v)
            if len(set(values)) != len(values):
                raise InputError(option, f"each of the {what} once", ",".join(f"{v:g}" for v in values))
        n = len(self.doses_g_per_kg) * len(self.intervals_days)
        if n > MAX_CANDIDATES:
            raise InputError("--doses x --intervals", f"at most {MAX_CANDIDATES} candidates", n)
        for dose, interval in self.pairs():
            over = above_weekly_limit(dose, interval, MAX_G_PER_KG_PER_WEEK)
            if over is not None:
                raise InputError("--doses x --intervals", f"candidates of at most {MAX_G_PER_KG_PER_WEEK:g} g/kg a "
                                 f"week (a dose of {dose:g} g/kg every {over[1]:g} days or longer)",
                                 f"{dose:g} g/kg every {interval:g} days ({over[0]:.3g} g/kg a week)")

    @staticmethod
    def parse(doses: str, intervals: str) -> Grid:
        """From the command line's text: ``"0.4,0.6,1"`` and ``"14,21,28"``."""
        return Grid(_numbers(doses, "--doses", "doses per infusion in g/kg"),
                    _numbers(intervals, "--intervals", "intervals in days"))

    def pairs(self) -> list[tuple[float, float]]:
        return [(float(d), float(i)) for d in self.doses_g_per_kg for i in self.intervals_days]


def _numbers(text: str, option: str, what: str) -> tuple[float, ...]:
    items = [t.strip() for t in str(text).split(",")]
    if not any(items):
        raise InputError(option, f"a comma-separated list of {what}", repr(text))
    out = []
    for item in items:
        try:
            out.append(float(item))
        except ValueError:
            raise InputError(option, f"a comma-separated list of {what}", repr(item)) from None
    return tuple(out)


def check_target(target: float) -> float:
    """A response probability in [0, 1]: 0 is met by every candidate (the cheapest is chosen),
    1 only by a candidate to which every patient responds."""
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0.0 <= target <= 1.0:
        raise InputError("--target", "a response probability from 0 to 1 (0.8 = 80 % of patients)", target)
    return float(target)


@dataclass(frozen=True)
class Candidate:
    dose_g_per_kg: float
    interval_days: float
    response: Estimate  # the fraction responding, Wilson 95 % interval
    infusions_per_year: int  # IVIG infusions and SCIG doses in the first year
    g_per_kg_per_year: float  # IVIG and SCIG as written
    grams_per_year: Estimate  # per patient: mean over the patients' dosing weights, t interval
    failed: int  # patients whose solve failed (left out of the response, as in a trial)
    dispensed_g_per_year: float | None = None  # whole vials, when the trial gives vial sizes (IVIG only)
    cost_per_year: float | None = None  # when the trial gives a price (IVIG only)
    kind: str = "IVIG"  # the maintenance varied: "IVIG" or "SCIG"

    @property
    def label(self) -> str:
        return candidate_label(self.kind, self.dose_g_per_kg, self.interval_days)

    def basis(self, conservative: bool) -> float:
        """What is held against the target: the estimate, or the lower end of its interval."""
        return self.response.lower if conservative else self.response.estimate


@dataclass(frozen=True)
class Optimum:
    trial: str
    endpoint: str
    target: float
    conservative: bool
    template: str  # the arm whose regimen the candidates vary
    seed: int
    size: int
    candidates: tuple[Candidate, ...]  # in grid order (dose, then interval)
    chosen: Candidate | None
    currency: str = ""

    def meets(self, c: Candidate) -> bool:
        return bool(np.isfinite(c.basis(self.conservative)) and c.basis(self.conservative) >= self.target)

    def table(self) -> pd.DataFrame:
        """Every candidate, cheapest first: dose, interval, response and interval, grams per year."""
        rows = []
        for c in ranked(self.candidates):
            row = {"maintenance": c.kind, "dose_g_per_kg": c.dose_g_per_kg, "interval_days": c.interval_days,
                   "response": c.response.estimate, "response_lower": c.response.lower,
                   "response_upper": c.response.upper, "n": c.response.n, "failed": c.failed,
                   "infusions_per_year": c.infusions_per_year, "g_per_kg_per_year": c.g_per_kg_per_year,
                   "grams_per_year": c.grams_per_year.estimate, "grams_per_year_lower": c.grams_per_year.lower,
                   "grams_per_year_upper": c.grams_per_year.upper}
            if any(x.dispensed_g_per_year is not None for x in self.candidates):
                row["dispensed_g_per_year"] = c.dispensed_g_per_year
            if any(x.cost_per_year is not None for x in self.candidates):
                row["cost_per_year"] = c.cost_per_year
            row["meets_target"] = self.meets(c)
            row["chosen"] = c is self.chosen
            rows.append(row)
        return pd.DataFrame.from_records(rows)

    def as_dict(self) -> dict:
        def candidate(c: Candidate | None):
            if c is None:
                return None
            return {"maintenance": c.kind, "dose_g_per_kg": c.dose_g_per_kg, "interval_days": c.interval_days,
                    "response": c.response.as_dict(), "infusions_per_year": c.infusions_per_year,
                    "g_per_kg_per_year": c.g_per_kg_per_year, "grams_per_year": c.grams_per_year.as_dict(),
                    "failed": c.failed, "dispensed_g_per_year": c.dispensed_g_per_year,
                    "cost_per_year": c.cost_per_year, "meets_target": self.meets(c)}

        return {"trial": self.trial, "endpoint": self.endpoint, "target": self.target,
                "conservative": self.conservative, "template_arm": self.template, "seed": self.seed,
                "size_per_candidate": self.size, "currency": self.currency, "chosen": candidate(self.chosen),
                "candidates": [candidate(c) for c in ranked(self.candidates)]}

    def lines(self) -> list[str]:
        basis = "lower end of the 95 % interval" if self.conservative else "estimate"
        scig = any(c.kind == "SCIG" for c in self.candidates)
        varied = " (its subcutaneous IgG maintenance; grams per year count IVIG and SCIG)" if scig else ""
        out = [f"{self.trial}: {len(self.candidates)} candidates on arm '{self.template}'{varied}, {self.size} virtual "
               f"patients each (the same ones, seed {self.seed}); target: {self.endpoint} >= {self.target:g} "
               f"({basis})"]
        money = any(c.cost_per_year is not None for c in self.candidates)
        out.append(f"  {'dose g/kg':>9} {'every':>7} {'response':>9} {'95 % interval':>17} {'inf./yr':>7} "
                   f"{'g/kg/yr':>8} {'g per year':>11}" + (f" {'cost/yr ' + self.currency:>14}" if money else "")
                   + "  meets")
        for c in ranked(self.candidates):
            interval = f"[{c.response.lower:.3f}, {c.response.upper:.3f}]"
            cost = f" {c.cost_per_year:>14.4g}" if money and c.cost_per_year is not None else (" " * 15 if money else "")
            mark = ("yes" if self.meets(c) else "no") + ("  <- chosen" if c is self.chosen else "")
            out.append(f"  {c.dose_g_per_kg:>9g} {c.interval_days:>5g} d {c.response.estimate:>9.3f} {interval:>17} "
                       f"{c.infusions_per_year:>7d} {c.g_per_kg_per_year:>8.4g} {c.grams_per_year.estimate:>11.5g}"
                       f"{cost}  {mark}")
        if self.chosen is None:
            best = max(self.candidates, key=lambda c: (c.basis(self.conservative), -c.grams_per_year.estimate))
            out.append(f"no candidate reaches {self.endpoint} >= {self.target:g} ({basis}); the best is "
                       f"{best.label} at {best.basis(self.conservative):.3f}: try higher doses or shorter intervals")
        else:
            c = self.chosen
            what, given = ("IgG", "infusions and SCIG doses") if c.kind == "SCIG" else ("IVIG", "infusions")
            out.append(f"lowest {what} use meeting the target: {c.label}: {c.grams_per_year.estimate:.5g} g per patient "
                       f"per year [{c.grams_per_year.lower:.5g}, {c.grams_per_year.upper:.5g}], {c.g_per_kg_per_year:g} "
                       f"g/kg, {c.infusions_per_year} {given}; response {c.response.estimate:.3f} "
                       f"[{c.response.lower:.3f}, {c.response.upper:.3f}] (Wilson 95 %)")
        return out


def candidate_label(kind: str, dose_g_per_kg: float, interval_days: float) -> str:
    """How a candidate is named (its arm in the candidate's trial, the printed answer): IVIG's as
    before, subcutaneous IgG's with "SCIG" in front."""
    prefix = "SCIG " if kind == "SCIG" else ""
    return f"{prefix}{dose_g_per_kg:g} g/kg every {interval_days:g} days"


def ranked(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Cheapest first; on equal grams per year, higher response, then longer interval."""
    return sorted(candidates, key=lambda c: (c.grams_per_year.estimate, -_finite(c.response.estimate),
                                             -c.interval_days, c.dose_g_per_kg))


def _finite(v: float) -> float:
    return v if np.isfinite(v) else -np.inf


def choose(candidates: Sequence[Candidate], target: float, conservative: bool = False) -> Candidate | None:
    """The cheapest candidate whose response (estimate, or lower bound) is at least ``target``."""
    meeting = [c for c in candidates if np.isfinite(c.basis(conservative)) and c.basis(conservative) >= target]
    if not meeting:
        return None
    cheapest = min(c.grams_per_year.estimate for c in meeting)
    ties = [c for c in meeting if c.grams_per_year.estimate <= cheapest * (1 + TIE) + TIE]
    return ranked(ties)[0]


def _is_maintenance(part) -> bool:
    """A part the candidates may vary: IVIG's ``Maintenance`` or a repeated subcutaneous dose."""
    from ivigsim.dosing.comparators import SubcutaneousIgG
    from ivigsim.dosing.regimen import Maintenance

    return isinstance(part, (Maintenance, SubcutaneousIgG))


def maintenance_kind(regimen) -> str:
    """"SCIG" when the regimen's maintenance part is subcutaneous IgG, else "IVIG"."""
    from ivigsim.dosing.comparators import SubcutaneousIgG

    return "SCIG" if any(isinstance(p, SubcutaneousIgG) for p in regimen.parts if _is_maintenance(p)) else "IVIG"


def template_arm(trial: Trial, name: str | None = None) -> Arm:
    """The arm whose regimen the candidates vary: ``name``, or the first arm whose regimen has
    one maintenance part (IVIG ``maintenance`` or ``scig``)."""

    def maintenance_parts(arm: Arm) -> int:
        return 0 if arm.regimen is None else sum(_is_maintenance(p) for p in arm.regimen.parts)

    if name is None:
        arm = next((a for a in trial.arms if maintenance_parts(a) == 1), None)
        if arm is None:
            raise InputError("--arm", "a trial with an arm whose regimen has one maintenance part (IVIG maintenance or "
                             "scig; the candidates vary its dose and interval)", "none in this trial")
    else:
        arm = next((a for a in trial.arms if a.name == name), None)
        if arm is None:
            raise InputError("--arm", f"an arm of this trial ({', '.join(a.name for a in trial.arms)})", name)
        if maintenance_parts(arm) != 1:
            raise InputError("--arm", "an arm whose regimen has exactly one maintenance part (IVIG maintenance or "
                             "scig)", f"{name} ({maintenance_parts(arm)})")
    if arm.rules is not None:
        raise InputError("--arm", "an arm without response-guided rules (its grams depend on each patient's "
                         "course; not supported by the optimiser yet)", arm.name)
    return arm


def response_endpoint(trial: Trial, name: str):
    """The trial's endpoint ``name``; it must be a fraction (the share responding)."""
    fractions = [e.name for e in trial.endpoints if e.summary == "fraction"]
    endpoint = next((e for e in trial.endpoints if e.name == name), None)
    if endpoint is None or endpoint.summary != "fraction":
        raise InputError("--endpoint", f"an endpoint of this trial with summary fraction "
                         f"({', '.join(fractions) or 'none in this trial'})", name)
    return endpoint


def candidate_regimen(regimen, dose_g_per_kg: float, interval_days: float):
    """``regimen`` with its maintenance part at this dose and interval, from its start day to at
    least day ``YEAR_END_DAY`` (see the module's docstring); a subcutaneous part keeps its
    duration and start hour."""
    from ivigsim.dosing.comparators import SubcutaneousIgG
    from ivigsim.dosing.regimen import Maintenance

    parts = []
    for part in regimen.parts:
        if _is_maintenance(part):
            end = part.until_day if part.until_day is not None else part.start_day + (part.count - 1) * part.every_days
            until = max(float(end), YEAR_END_DAY, part.start_day)
            if isinstance(part, Maintenance):
                part = Maintenance(float(dose_g_per_kg), float(interval_days), part.start_day, until_day=until,
                                   infusion=part.infusion)
            elif isinstance(part, SubcutaneousIgG):
                part = SubcutaneousIgG(float(dose_g_per_kg), float(interval_days), part.start_day, until_day=until,
                                       duration_h=part.duration_h, start_hour=part.start_hour)
        parts.append(part)
    return replace(regimen, parts=tuple(parts))


def scig_g_per_kg_per_year(regimen, indication) -> tuple[int, float]:
    """Subcutaneous doses starting in the regimen's first 365.25 days and their g/kg, as written:
    the regimen compiled for 1 kg, counted by the trial's own rule
    (``ivigsim.trial.comparators.first_year_use``, a dose's start hour included)."""
    from ivigsim.model.patient import Patient
    from ivigsim.trial.comparators import DAYS_PER_YEAR, first_year_use

    plan = replace(regimen, dosing_weight="actual").compile(Patient(weight_kg=1.0), indication)
    sessions = getattr(plan, "sessions", ())
    doses = sum(s.kind == "scig" and s.start_day < DAYS_PER_YEAR for s in sessions)
    return int(doses), float(first_year_use(sessions)["scig_g_per_year"])


def candidate_trial(trial: Trial, arm: Arm, endpoint, dose_g_per_kg: float, interval_days: float) -> Trial:
    """The one-arm trial of one candidate: the trial's population, seed and size, the template
    arm with this maintenance, only ``endpoint`` (and the endpoints it is conditional on,
    ``given``); no contrasts (there is no other arm) and no subgroups (the answer reads the
    whole population's response; a subgroup by another endpoint would lose that endpoint)."""
    name = candidate_label(maintenance_kind(arm.regimen), dose_g_per_kg, interval_days)
    candidate = replace(arm, name=name, regimen=candidate_regimen(arm.regimen, dose_g_per_kg, interval_days))
    by_name = {e.name: e for e in trial.endpoints}
    needed, e = {endpoint.name}, endpoint
    while getattr(e, "given", None):  # "relapse among responders" needs "responders"
        needed.add(e.given)
        e = by_name[e.given]
    return replace(trial, arms=(candidate,), endpoints=tuple(x for x in trial.endpoints if x.name in needed),
                   contrasts=(), subgroups=(), trajectories=0, trajectory_outputs=())


def candidate_trials(trial: Trial, endpoint_name: str, grid: Grid, arm_name: str | None = None) -> list[Trial]:
    """Every candidate's trial, each regimen compiled once (for 1 kg) so a candidate the
    product's label or the regimen rules refuse is refused before anything runs."""
    from ivigsim.model.patient import Patient

    if trial.design == "crossover":
        raise InputError("design", "a paired or parallel trial (each candidate is a one-arm trial; a crossover "
                         "has two arms in two periods)", trial.design)
    endpoint = response_endpoint(trial, endpoint_name)
    arm = template_arm(trial, arm_name)
    trials = []
    for dose, interval in grid.pairs():
        try:
            t = candidate_trial(trial, arm, endpoint, dose, interval)
            replace(t.arms[0].regimen, dosing_weight="actual").compile(Patient(weight_kg=1.0), trial.indication)
        except InputError as exc:
            raise InputError("--doses/--intervals", f"candidates the regimen can give ({exc.field}: expected "
                             f"{exc.expected})", f"{dose:g} g/kg every {interval:g} days") from None
        trials.append(t)
    return trials


def optimise(trial: Trial, endpoint: str, target: float, grid: Grid, conservative: bool = False,
             arm: str | None = None, size: int | None = None,
             on_candidate: Callable[[Candidate], None] | None = None) -> Optimum:
    """Run every candidate of ``grid`` on ``trial``'s population (``size``: patients per candidate,
    default the trial's) and choose the cheapest meeting ``target``."""
    from ivigsim.trial.runner import run_trial

    target = check_target(target)
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise InputError("--size", "a whole number of patients per candidate >= 1", size)
        trial = replace(trial, size=size)
    template = template_arm(trial, arm)
    trials = candidate_trials(trial, endpoint, grid, arm)
    candidates = []
    for (dose, interval), t in zip(grid.pairs(), trials):
        summary = run_trial(t).summary
        candidates.append(_candidate(dose, interval, summary["arms"][0], endpoint, t.arms[0].regimen, t.indication))
        if on_candidate is not None:
            on_candidate(candidates[-1])
    chosen = choose(candidates, target, conservative)
    return Optimum(trial.name, endpoint, target, conservative, template.name, trial.seed, trial.size,
                   tuple(candidates), chosen, trial.stewardship.currency)


def _candidate(dose: float, interval: float, arm: dict, endpoint: str, regimen, indication) -> Candidate:
    """One candidate from its one-arm trial's summary (``arm``) and its regimen: with subcutaneous
    IgG, grams per year are the IgG the arm's comparator use counts (IVIG as written plus SCIG),
    and infusions and g/kg add the SCIG doses of the first year to IVIG's."""
    def estimate(d: dict) -> Estimate:
        return Estimate(*(np.nan if d[k] is None else d[k] for k in ("estimate", "lower", "upper")), d["n"], d["method"])

    use = arm["ivig_use"]
    doses, scig_g_per_kg = scig_g_per_kg_per_year(regimen, indication)
    with_scig = doses > 0
    grams = arm["comparator_use"]["igg_g_per_year"]["per_patient"] if with_scig else use["grams_per_patient_per_year"]
    return Candidate(
        dose_g_per_kg=dose, interval_days=interval,
        response=estimate(arm["endpoints"][endpoint]["estimates"]["fraction"]),
        infusions_per_year=int(use["infusions_per_year"]) + doses,
        g_per_kg_per_year=float(use["g_per_kg_per_year"]) + scig_g_per_kg,
        grams_per_year=estimate(grams), failed=int(arm["failed"]),
        dispensed_g_per_year=None if with_scig else use.get("vials", {}).get("dispensed_g_per_patient_per_year"),
        cost_per_year=None if with_scig else use.get("cost", {}).get("per_patient_per_year"),
        kind=maintenance_kind(regimen),
    )
