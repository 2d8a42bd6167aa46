"""Response-guided dosing: decisions at assessment visits (re-treatment, rescue, tapering).

IVIG is managed at visits: at each maintenance infusion the neurologist reads INCAT or grip
strength, the haematologist a platelet count, and decides the next dose. An arm's ``Rules``
say how: visits every ``assess_every_days`` from ``first_visit_day`` (days from randomisation,
or day 0); at each visit the ``readout`` (any model output) is read and compared with
``relapse`` (a measure of it against the patient's value on day 0, or the value itself), and

- a patient who meets ``relapse`` is re-treated (``on_relapse``: ``g_per_kg`` over ``over_days``
  daily infusions, in place of that visit's maintenance dose: a relapse-triggered re-treatment in
  CIDP, a rescue dose in ITP). Every visit at which the criterion holds gives one; a *relapse* is
  counted when it holds and did not at the visit before;
- otherwise the visit's maintenance dose (``maintenance_g_per_kg``; 0: on demand only) is given;
- with ``taper``: after ``stable_visits`` visits in a row without relapse on the current dose,
  the dose is cut (by ``cut_fraction`` of the current dose, or to the next of ``steps``, fractions
  of the starting dose), never below ``floor_g_per_kg`` (a cut to less than the smallest
  infusion, 0.001 g/kg, stops it); on a relapse after a cut, the dose goes back to the last
  effective one (the dose before that cut) and tapering stops: the patient's lowest effective
  dose is found.

How it is solved: every patient of a chunk advances together from visit to visit, one batched
engine call per interval between visits (``Problem(t0=visit, y0=state)``: the compiled kernel,
patients in parallel), and each patient's next doses are decided from its own readout, as
arrays (NumPy), then written into its own infusion schedule. The loop is over visits, never
over patients, and each patient is still solved on its own, so its numbers do not depend on
the chunk, the batch or the thread count. Threshold-crossing events inside the kernel (a root
finder on the readout) would decide at the crossing instant rather than at the next visit;
clinically the decision waits for a visit, so visits are the model of practice, not an
approximation of it.

With comparators (``ivigsim.trial.comparators``): the plasma exchanges, SCIG doses and inhibitor
infusions of the arm's regimen run as scheduled whatever the rules decide, their windows carried
into each interval's schedule on their own inputs (``solve_with_rules(sessions=...)``). The
re-treatment may instead be another comparator cycle (``ComparatorCycle``: the arm regimen's own
comparator part, or a regimen of comparators named under ``regimens``): at a visit where the
criterion holds, no cycle is running and at least ``min_interval_days`` have passed since the
previous cycle's start (the arm's own part as scheduled is the first cycle), the cycle starts at
the visit, in place of the visit's maintenance dose. Its sessions are compiled once per patient from
the patient's covariates (``compile_sessions``, the cycle's days counted from its first) and shifted
to the visit; a cycle still running at the next visit continues.

Outputs per patient (``columns``): the infusions given, grams in the trial and per year (the
stewardship table counts these, not the regimen as written), relapses, re-treatments, cuts,
the final maintenance dose, and the doses themselves (``rule_doses``: ``day:g/kg`` pairs, each
number reading back to the float given: ``parse_doses``; the stewardship table counts their
vials from them). Endpoints may read the counters and grams (``endpoints.RULE_OUTPUTS``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

import numpy as np

from ivigsim.errors import InputError
from ivigsim.population.criteria import Threshold

if TYPE_CHECKING:
    from ivigsim.dosing import Regimen

Measure = Literal["value", "change", "percent_change", "fold_change"]
MEASURES = ("value", "change", "percent_change", "fold_change")
#: Most visits per patient (a bound that catches a visit interval in hours written as days).
MAX_VISITS = 2000
#: Most taper steps.
MAX_STEPS = 50
DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class Retreatment:
    """A re-treatment or rescue: ``g_per_kg`` in all, over ``over_days`` daily infusions."""

    g_per_kg: float
    over_days: int = 1


@dataclass(frozen=True)
class ComparatorCycle:
    """Another comparator course as the re-treatment: ``parts`` (``PlasmaExchange``,
    ``SubcutaneousIgG``, ``FcRnInhibitor``) with their days counted from the cycle's first day, which
    is the visit; sessions at ``start_hour`` (the regimen's). ``name``: the arm regimen's part
    (``fcrn_inhibitor``, ``plasma_exchange``, ``scig``; ``own``: its course as scheduled, from
    ``first_day`` to ``end_day``, is the first cycle) or a regimen under ``regimens``. A cycle starts
    only when none is running and ``min_interval_days`` have passed since the previous one started."""

    name: str
    parts: tuple
    min_interval_days: float
    start_hour: float = 0.0
    own: bool = False
    #: The arm's own part as scheduled (``own``): its first day and the end of its last session.
    first_day: float | None = None
    end_day: float | None = None

    def describe(self) -> str:
        from ivigsim.trial.comparators import describe_parts

        what = "; ".join(describe_parts(_holding(self.parts)))
        return (f"another cycle of {self.name} ({what}; from the visit) at least {self.min_interval_days:g} days "
                f"after the previous cycle's start, none running")


def _holding(parts: tuple):
    """Something with a ``regimen`` holding ``parts`` (for ``describe_parts``)."""
    from types import SimpleNamespace

    return SimpleNamespace(regimen=SimpleNamespace(parts=parts))


@dataclass(frozen=True)
class Taper:
    """Cut the maintenance dose after ``stable_visits`` stable visits on it; exactly one of
    ``cut_fraction`` (of the current dose, in (0, 1]) and ``steps`` (fractions of the starting
    dose, in order, each in [0, 1)). ``start_stable``: patients enter stable on the starting dose
    (after a run-in that selected them), so the first cut is at the first visit."""

    stable_visits: int
    cut_fraction: float | None = None
    steps: tuple[float, ...] = ()
    floor_g_per_kg: float = 0.0
    start_stable: bool = False


@dataclass(frozen=True)
class Rules:
    """Decisions at visits (see the module docstring). ``relapse`` holds for ``measure`` of the
    ``readout`` (against the patient's day-0 value, except ``value``)."""

    assess_every_days: float
    readout: str
    relapse: Threshold
    measure: Measure = "change"
    maintenance_g_per_kg: float = 0.0
    on_relapse: Retreatment | ComparatorCycle | None = None
    taper: Taper | None = None
    first_visit_day: float = 0.0
    #: The rule doses' product (None: the arm regimen's, else generic-10). Dosing weight, start
    #: hour, label check and premedication are the arm regimen's (no regimen: actual weight).
    product: str | None = None

    def check(self, where: str, outputs, days: float) -> None:
        """Every field, named ``where.FIELD`` (``arms.1.rules.assess_every_days``)."""
        from ivigsim.dosing.regimen import MAX_G_PER_KG_PER_INFUSION, MIN_G_PER_KG_PER_INFUSION

        e = self.assess_every_days
        if isinstance(e, bool) or not isinstance(e, (int, float)) or not math.isfinite(e) or not 0 < e:
            raise InputError(f"{where}.assess_every_days", "a visit interval in days > 0", e)
        f = self.first_visit_day
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 <= f < days:
            raise InputError(f"{where}.first_visit_day", f"a day in [0, {days:g}) (days from day 0 or randomisation)", f)
        if self.n_visits(days) > MAX_VISITS:
            raise InputError(f"{where}.assess_every_days", f"at most {MAX_VISITS} visits over the trial's "
                             f"{days:g} days", e)
        if self.readout not in outputs:
            raise InputError(f"{where}.readout", f"one of the model's outputs ({', '.join(outputs)})", self.readout)
        if self.measure not in MEASURES:
            raise InputError(f"{where}.relapse", f"a measure ({', '.join(MEASURES)}) and a comparison, such as "
                             "'change >= 1'", self.measure)
        if not math.isfinite(self.relapse.value):
            raise InputError(f"{where}.relapse", "a finite number", self.relapse.text)
        m = self.maintenance_g_per_kg
        if isinstance(m, bool) or not isinstance(m, (int, float)) or not (
                m == 0 or MIN_G_PER_KG_PER_INFUSION <= m <= MAX_G_PER_KG_PER_INFUSION):
            raise InputError(f"{where}.maintenance_g_per_kg", f"0 (on demand only) or a dose from "
                             f"{MIN_G_PER_KG_PER_INFUSION:g} to {MAX_G_PER_KG_PER_INFUSION:g} g/kg", m)
        r = self.on_relapse
        if isinstance(r, ComparatorCycle):
            k = r.min_interval_days
            if isinstance(k, bool) or not isinstance(k, (int, float)) or not math.isfinite(k) or not 0 < k:
                raise InputError(f"{where}.on_relapse.min_interval_days", "days from the previous cycle's start "
                                 "before another may start, > 0", k)
        elif r is not None:
            if isinstance(r.over_days, bool) or not isinstance(r.over_days, int) or not 1 <= r.over_days <= 10:
                raise InputError(f"{where}.on_relapse.over_days", "a whole number of days from 1 to 10", r.over_days)
            g = r.g_per_kg
            if isinstance(g, bool) or not isinstance(g, (int, float)) or not (
                    MIN_G_PER_KG_PER_INFUSION <= g / r.over_days <= MAX_G_PER_KG_PER_INFUSION):
                raise InputError(f"{where}.on_relapse.dose_g_per_kg", f"a total dose giving {MIN_G_PER_KG_PER_INFUSION:g}"
                                 f" to {MAX_G_PER_KG_PER_INFUSION:g} g/kg a day over {r.over_days} day(s)", g)
        t = self.taper
        if t is not None:
            if m == 0:
                raise InputError(f"{where}.taper", "a maintenance_g_per_kg above 0 to taper", m)
            if isinstance(t.stable_visits, bool) or not isinstance(t.stable_visits, int) or not 1 <= t.stable_visits <= 100:
                raise InputError(f"{where}.taper.stable_visits", "a whole number of visits from 1 to 100", t.stable_visits)
            if (t.cut_fraction is None) == (not t.steps):
                raise InputError(f"{where}.taper", "exactly one of cut_fraction and steps",
                                 f"cut_fraction={t.cut_fraction}, steps={list(t.steps)}")
            c = t.cut_fraction
            if c is not None and (isinstance(c, bool) or not isinstance(c, (int, float)) or not 0 < c <= 1):
                raise InputError(f"{where}.taper.cut_fraction", "a fraction of the current dose in (0, 1]", c)
            if t.steps:
                s = list(t.steps)
                if len(s) > MAX_STEPS or any(not (isinstance(x, (int, float)) and 0 <= x < 1) for x in s) or any(
                        b >= a for a, b in zip(s, s[1:])):
                    raise InputError(f"{where}.taper.steps", f"at most {MAX_STEPS} decreasing fractions of the "
                                     "starting dose, each in [0, 1)", s)
            fl = t.floor_g_per_kg
            if isinstance(fl, bool) or not isinstance(fl, (int, float)) or not 0 <= fl <= m:
                raise InputError(f"{where}.taper.floor_g_per_kg", f"a dose from 0 to the maintenance dose {m:g} g/kg", fl)

    def n_visits(self, days: float) -> int:
        return max(0, int(math.floor((days - self.first_visit_day) / self.assess_every_days - 1e-9)) + 1)

    def visits(self, days: float) -> np.ndarray:
        """Visit days (from day 0 or randomisation) before the end of the trial."""
        return self.first_visit_day + np.arange(self.n_visits(days)) * self.assess_every_days

    def describe(self) -> str:
        parts = [f"visits every {self.assess_every_days:g} days from day {self.first_visit_day:g}",
                 f"relapse: {self.measure.replace('_', ' ')} in {self.readout} {self.relapse.text}"]
        if self.maintenance_g_per_kg:
            parts.append(f"maintenance {self.maintenance_g_per_kg:g} g/kg at each visit")
        if isinstance(self.on_relapse, ComparatorCycle):
            parts.append(f"on relapse {self.on_relapse.describe()}")
        elif self.on_relapse:
            parts.append(f"on relapse {self.on_relapse.g_per_kg:g} g/kg over {self.on_relapse.over_days} day(s)")
        if self.taper:
            t = self.taper
            how = (f"cut by {t.cut_fraction:g}" if t.cut_fraction is not None
                   else "steps " + "/".join(f"{x:g}" for x in t.steps))
            parts.append(f"taper after {t.stable_visits} stable visits ({how}), back to the last effective dose on relapse")
        return "; ".join(parts)


def check_cycle(rules: Rules, field: str, days: float, regimen, base: Regimen, indication) -> None:
    """A ``ComparatorCycle`` that could start at some visit must overlap nothing it may not (as a
    scenario refuses: a plasma exchange overlaps no IVIG infusion, inhibitor infusion or other
    exchange; inhibitor infusions do not overlap): the arm regimen's sessions and infusions, and the
    rule doses of the later visits while it runs. Session and infusion times do not depend on the
    patient, and the visit's starting maintenance dose is its longest, so one check covers every
    patient. Visits where no cycle can start (the arm's own course running, or before the minimum
    interval after it) are not checked; the rest are, whether or not a cycle will start there."""
    from ivigsim.dosing import Dose
    from ivigsim.dosing.comparators import compile_sessions
    from ivigsim.errors import DosingError
    from ivigsim.model.patient import Patient

    cycle = rules.on_relapse
    patient = Patient(weight_kg=70.0)
    try:
        one = compile_sessions(cycle.parts, patient, cycle.start_hour, 70.0, ())
    except DosingError as exc:
        raise InputError(field, exc.expected, exc.got) from None
    span = max(x.end_day for x in one)
    fixed = replace(regimen, dosing_weight="actual").compile(patient, indication) if regimen is not None else None
    # (kind, label, start, end): what a cycle's sessions may meet
    others = [("ivig", i.label, min(w.start_day for w in i.windows), max(w.end_day for w in i.windows))
              for i in (fixed.infusions if fixed is not None else ())]
    others += [(x.kind, x.label, x.start_day, x.end_day) for x in getattr(fixed, "sessions", ())]
    dose = None
    if rules.maintenance_g_per_kg:
        plan = replace(base, parts=(Dose(0.0, rules.maintenance_g_per_kg),), dosing_weight="actual").compile(
            patient, indication)
        dose = [(min(w.start_day for w in i.windows), max(w.end_day for w in i.windows), i.label)
                for i in plan.infusions]
    visits = rules.visits(days)
    earliest = (max(cycle.end_day, cycle.first_day + cycle.min_interval_days) if cycle.own else -math.inf)
    for v in visits[visits >= earliest - 1e-9]:
        met = list(others)
        if dose is not None:
            met += [("ivig", f"the rule's maintenance dose at the visit on day {u:g}", u + a, u + b)
                    for u in visits[(visits > v) & (visits < v + span)] for a, b, _ in dose]
        for x in one:
            a, b = v + x.start_day, v + x.end_day
            if a >= days:
                continue
            for kind, label, c, d in met:
                clash = ((x.kind == "plasma_exchange" and kind != "scig")
                         or (kind == "plasma_exchange" and x.kind == "fcrn_inhibitor")
                         or (x.kind == kind == "fcrn_inhibitor"))
                if clash and a < d - 1e-9 and c < b - 1e-9:
                    raise InputError(field, "a cycle that, started at any visit allowed, overlaps no IVIG infusion, "
                                     "plasma-exchange session or inhibitor infusion (exchanges: none of them; "
                                     "inhibitor infusions: no other)",
                                     f"started at the visit on day {v:g}, {x.label} overlaps {label}")


def parse_relapse(text: object, field: str) -> tuple[str, Threshold]:
    """``'change >= 1'`` -> ('change', Threshold('>=', 1)); a bare comparison is a ``value``."""
    if not isinstance(text, str) or len(text) > 80:
        raise InputError(field, "a measure and a comparison, such as 'change >= 1' or 'value < 30'", text)
    words = text.strip().split(None, 1)
    if words and words[0] in MEASURES:
        measure, rest = words[0], (words[1] if len(words) > 1 else "")
    else:
        measure, rest = "value", text
    try:
        threshold = Threshold.parse(rest.strip(), field)
    except InputError:
        raise InputError(field, f"a measure ({', '.join(MEASURES)}) and a comparison with a number, such as "
                         "'change >= 1' or 'value < 30'", text) from None
    if not math.isfinite(threshold.value):
        raise InputError(field, "a finite number", text)
    return measure, threshold


# --- the doses ------------------------------------------------------------------------------


@dataclass
class _Doses:
    """Compiled per-kg infusions, one registry per arm and chunk: id -> ``Infusion``."""

    regimen: Regimen  # product, dosing weight, start hour, label check, premedication of rule doses
    indication: str | None
    infusions: list = field(default_factory=list)
    _cache: dict = field(default_factory=dict)

    def add(self, infusion) -> int:
        self.infusions.append(infusion)
        return len(self.infusions) - 1

    def course(self, day: float, g_per_kg: float, days: int) -> tuple[int, ...]:
        """Ids of the infusions of ``g_per_kg`` in all over ``days`` daily infusions from ``day``."""
        key = (float(day), float(g_per_kg), int(days))
        if key not in self._cache:
            from ivigsim.dosing import Course, Dose
            from ivigsim.model.patient import Patient

            part = Dose(float(day), float(g_per_kg)) if days == 1 else Course(float(g_per_kg), int(days), float(day))
            plan = replace(self.regimen, parts=(part,), dosing_weight="actual").compile(Patient(weight_kg=1.0),
                                                                                        self.indication)
            self._cache[key] = tuple(self.add(i) for i in plan.infusions)
        return self._cache[key]


def dose_regimen(arm) -> Regimen:
    """A regimen carrying what rule doses share with the arm's regimen (product, dosing weight,
    start hour, label check, premedication); its parts are replaced per dose."""
    from ivigsim.dosing import Dose, Regimen, get_product

    rules = arm.rules
    base = arm.regimen
    product = get_product(rules.product) if rules.product else (base.product if base else get_product("generic-10"))
    if base is None:
        return Regimen((Dose(0.0, 1.0),), product)
    return replace(base, parts=(Dose(0.0, 1.0),), product=product)


def use_parts(use, arm):
    """``RegimenUse`` of an arm with its rule doses added to the parts (the stewardship table)."""
    rules = arm.rules
    if rules is None:
        return use
    parts = list(use.parts)
    if rules.maintenance_g_per_kg:
        parts.append((f"rules: maintenance {rules.maintenance_g_per_kg:g} g/kg at each visit"
                      + (" (start of the taper)" if rules.taper else ""), float(rules.maintenance_g_per_kg)))
    if isinstance(rules.on_relapse, Retreatment):
        parts.append((f"rules: re-treatment {rules.on_relapse.g_per_kg:g} g/kg over {rules.on_relapse.over_days} day(s)",
                      float(rules.on_relapse.g_per_kg)))
    product = use.product or (rules.product or "generic-10")
    return replace(use, parts=tuple(parts), product=product)


def _level_ids(doses: _Doses, day: float, g: np.ndarray, days: int) -> tuple[np.ndarray, int]:
    """Per patient, the infusion ids of a course of ``g[i]`` g/kg at ``day`` (n, width), -1 padded
    (0 or NaN: none)."""
    n = len(g)
    levels = {float(x) for x in g[np.isfinite(g) & (g > 0)]}
    per = {x: doses.course(day, x, days) for x in sorted(levels)}
    width = max([0, *(len(v) for v in per.values())])
    out = np.full((n, width), -1, dtype=np.int64)
    for x, ids in per.items():
        out[np.ix_(np.flatnonzero(g == x), np.arange(len(ids)))] = ids
    return out, width


def _running_after(doses: _Doses, ids: np.ndarray, t: float) -> np.ndarray:
    """``ids`` (n, K; -1 none) without the infusions that ended by day ``t``, columns that hold
    none dropped: a solve from ``t`` on needs no earlier edges, and the schedule's rate after an
    ended infusion is exactly what it was before it (0 + r - r = 0), so the input over [t, ...) is
    the same, while the schedule is built from a few columns instead of every visit's."""
    if ids.size == 0:
        return ids
    ends = np.array([max(w.end_day for w in inf.windows) for inf in doses.infusions])
    live = (ids >= 0) & (ends[np.maximum(ids, 0)] > t)
    ids = np.where(live, ids, -1)
    columns = live.any(axis=0)
    return ids[:, columns] if columns.any() else ids[:, :1]


def _schedule(doses: _Doses, ids: np.ndarray, weights: np.ndarray, n_inputs: int, index: int, offset: float,
              days: float, extra: np.ndarray | None = None):
    """The engine's schedule for each patient's infusions ``ids`` (n, K; -1 none), windows starting
    before ``days`` (as the runner's fixed schedule), times + ``offset``, built as arrays.

    Edges sorted by time, ends before starts at a shared time, and the rate after each edge the
    running sum of +rate/-rate: with infusions that do not overlap this is exactly the rate
    ``InputSchedule.from_windows`` gives (0 + r - r = 0, then + r' = r', in floating point).

    ``extra``: each patient's comparator windows (n, M, 4: start, end, rate, input; NaN-padded;
    ``ivigsim.trial.comparators.window_table``), given as scheduled: their own inputs, their own
    running sums (absolute rates, not per kg)."""
    from ivigsim.engine.schedule import InputSchedule

    n = ids.shape[0]
    if extra is not None and np.isfinite(extra[..., 0]).any():
        return _schedule_with(doses, ids, weights, n_inputs, index, offset, days, extra)
    if not (ids >= 0).any():
        return InputSchedule.empty(n, n_inputs)
    table = _dose_table(doses, days)
    rows = np.where(ids >= 0, ids, len(table) - 1)
    w = table[rows].reshape(n, -1, 3)  # (n, K * per, 3)
    valid = np.isfinite(w[..., 0])
    start = np.where(valid, w[..., 0], np.inf)
    end = np.where(valid, w[..., 1], np.inf)
    rate = np.where(valid, w[..., 2], 0.0)
    times = np.concatenate([start, end], axis=1)
    delta = np.concatenate([rate, -rate], axis=1)
    is_start = np.concatenate([np.ones_like(start), np.zeros_like(end)], axis=1)
    order = np.lexsort((is_start, times), axis=1)
    times = np.take_along_axis(times, order, axis=1)
    value = np.cumsum(np.take_along_axis(delta, order, axis=1), axis=1)
    keep = np.isfinite(times)
    keep[:, :-1] &= times[:, :-1] != times[:, 1:]  # one edge per time: the rate after all its events
    pack = np.argsort(~keep, axis=1, kind="stable")
    times = np.where(np.take_along_axis(keep, pack, axis=1), np.take_along_axis(times, pack, axis=1), np.inf)
    value = np.where(np.isfinite(times), np.take_along_axis(value, pack, axis=1), 0.0)
    width = max(1, int(np.isfinite(times).sum(axis=1).max(initial=0)))
    times, value = times[:, :width], value[:, :width]
    values = np.zeros((n, width, n_inputs))
    values[:, :, index] = value
    return InputSchedule(times + offset if offset else times, values * weights[:, None, None])


def _dose_table(doses: _Doses, days: float) -> np.ndarray:
    """The doses' windows starting before ``days`` as a table (dose, window, [start, end, rate
    per kg]), NaN-padded, with a last row of no infusion (for patients given none)."""
    wins = [[(w.start_day, w.end_day, w.rate_g_per_day) for w in inf.windows if w.start_day < days]
            for inf in doses.infusions]
    table = np.full((len(wins) + 1, max([1, *(len(w) for w in wins)]), 3), np.nan)
    for k, w in enumerate(wins):
        if w:
            table[k, :len(w)] = w
    return table


def _schedule_with(doses: _Doses, ids: np.ndarray, weights: np.ndarray, n_inputs: int, index: int, offset: float,
                   days: float, extra: np.ndarray):
    """``_schedule`` with comparator windows ``extra`` on their inputs (see there): the same edges,
    one running sum per input; the IVIG column is the per-kg sum times the dosing weight."""
    from ivigsim.engine.schedule import InputSchedule

    n = ids.shape[0]
    table = _dose_table(doses, days)
    rows = np.where(ids >= 0, ids, len(table) - 1) if ids.size else np.full((n, 1), len(table) - 1)
    w = table[rows].reshape(n, -1, 3)
    valid = np.isfinite(w[..., 0])
    x_valid = np.isfinite(extra[..., 0])
    start = np.concatenate([np.where(valid, w[..., 0], np.inf), np.where(x_valid, extra[..., 0], np.inf)], axis=1)
    end = np.concatenate([np.where(valid, w[..., 1], np.inf), np.where(x_valid, extra[..., 1], np.inf)], axis=1)
    rate = np.concatenate([np.where(valid, w[..., 2], 0.0), np.where(x_valid, extra[..., 2], 0.0)], axis=1)
    column = np.concatenate([np.full(w.shape[:2], index), np.where(x_valid, extra[..., 3], index).astype(np.int64)],
                            axis=1)
    times = np.concatenate([start, end], axis=1)
    delta = np.zeros((*times.shape, n_inputs))
    edge = np.arange(times.shape[1])[None, :]
    col = np.concatenate([column, column], axis=1)
    delta[np.arange(n)[:, None], edge, col] = np.concatenate([rate, -rate], axis=1)
    is_start = np.concatenate([np.ones_like(start), np.zeros_like(end)], axis=1)
    order = np.lexsort((is_start, times), axis=1)
    times = np.take_along_axis(times, order, axis=1)
    value = np.cumsum(np.take_along_axis(delta, order[..., None], axis=1), axis=1)
    value[..., index] *= weights[:, None]  # IVIG per kg -> g/day; the comparators' rates are absolute
    keep = np.isfinite(times)
    keep[:, :-1] &= times[:, :-1] != times[:, 1:]  # one edge per time: the rates after all its events
    pack = np.argsort(~keep, axis=1, kind="stable")
    times = np.where(np.take_along_axis(keep, pack, axis=1), np.take_along_axis(times, pack, axis=1), np.inf)
    value = np.where(np.isfinite(times)[..., None], np.take_along_axis(value, pack[..., None], axis=1), 0.0)
    width = max(1, int(np.isfinite(times).sum(axis=1).max(initial=0)))
    return InputSchedule(times[:, :width] + offset if offset else times[:, :width], value[:, :width])


def _extra_after(extra: np.ndarray | None, t: float) -> np.ndarray | None:
    """Comparator windows (``window_table``) that have not ended by day ``t`` (as ``_running_after``)."""
    if extra is None:
        return None
    return np.where((extra[..., 1] > t)[..., None], extra, np.nan)


# --- the visits -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleResult:
    """One arm's patients under rules: the infusions given (ids into ``infusions``), counters."""

    infusions: tuple  # per-kg ``Infusion``s
    given: np.ndarray  # (n, K) ids, -1 padded, in time order
    relapses: np.ndarray
    retreatments: np.ndarray
    cuts: np.ndarray
    final_g_per_kg: np.ndarray
    #: (n, C) the days (from day 0 or randomisation) the comparator cycles the rules started began,
    #: NaN-padded (None: the rules start none).
    cycle_starts: np.ndarray | None = None

    def cycles(self) -> np.ndarray:
        """Comparator cycles the rules started, per patient."""
        if self.cycle_starts is None:
            return np.zeros(len(self.relapses), dtype=np.int64)
        return np.isfinite(self.cycle_starts).sum(axis=1).astype(np.int64)

    def g_per_kg(self) -> np.ndarray:
        """(n, K) g/kg of each infusion given (NaN: none)."""
        g = np.array([i.g_per_kg for i in self.infusions] + [np.nan])
        return g[np.where(self.given >= 0, self.given, len(self.infusions))]

    def start_days(self) -> np.ndarray:
        s = np.array([i.start_day for i in self.infusions] + [np.nan])
        return s[np.where(self.given >= 0, self.given, len(self.infusions))]

    def columns(self, weights: np.ndarray, days: float) -> dict[str, np.ndarray]:
        """Per patient: infusions, grams in the trial and per year, relapses, re-treatments, cuts,
        final maintenance dose, and the doses as text (``day:g/kg`` pairs, days from day 0)."""
        g, s = self.g_per_kg(), self.start_days()
        given = np.isfinite(g) & (s < days)
        g_trial = np.where(given, g, 0.0).sum(axis=1)
        # Per year: the first 365.25 days; in a shorter trial its doses only (later ones are not
        # known), as a fixed regimen that ends with the trial counts.
        g_year = np.where(given & (s < DAYS_PER_YEAR), g, 0.0).sum(axis=1)
        text = np.array([" ".join(f"{_exact(d)}:{_exact(x)}" for d, x, ok in zip(sr, gr, kr) if ok)
                         for sr, gr, kr in zip(s, g, given)], dtype=object)
        return {"ivig_infusions": given.sum(axis=1).astype(np.int64), "ivig_g_in_trial": g_trial * weights,
                "ivig_g_per_year": g_year * weights, "rule_relapses": self.relapses.astype(np.int64),
                "rule_retreatments": self.retreatments.astype(np.int64), "rule_cuts": self.cuts.astype(np.int64),
                "rule_final_g_per_kg": self.final_g_per_kg.astype(float), "rule_cycles": self.cycles(),
                "rule_doses": text}

    def safety_columns(self, regimen: Regimen, indication, covariates: dict, rng, ids: np.ndarray, prevalence,
                       stream: str, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Adverse events over the infusions each patient actually got: patients grouped by their
        infusions, each group's per-kg plan through ``safety_columns`` (draws are per patient, so
        the grouping changes no number)."""
        from ivigsim.dosing import InfusionPlan
        from ivigsim.safety.trial import safety_columns

        groups, plans = self.plans(lambda infusions: InfusionPlan(infusions, 1.0, regimen.product, indication,
                                                                  premedication=regimen.premedication))
        out: dict[str, np.ndarray] = {}
        for rows, plan in zip(groups, plans):
            part = safety_columns(plan if plan.infusions else None, {k: np.asarray(v)[rows] for k, v in covariates.items()},
                                  rng, ids[rows], prevalence, stream=stream, dosing_weight_kg=weights[rows])
            for k, v in part.items():
                if k not in out:
                    out[k] = np.zeros(len(ids), dtype=np.asarray(v).dtype)
                out[k][rows] = v
        return out

    def plans(self, plan_of) -> tuple[list, list]:
        """Patients grouped by the infusions they got: (row indices, per-kg plan) per group."""
        key = np.where(self.given >= 0, self.given, -1)
        unique, inverse = np.unique(key, axis=0, return_inverse=True)
        inverse = np.asarray(inverse).reshape(-1)
        groups, plans = [], []
        for u in range(len(unique)):
            ids = [int(x) for x in unique[u] if x >= 0]
            groups.append(np.flatnonzero(inverse == u))
            plans.append(plan_of(tuple(self.infusions[x] for x in ids)))
        return groups, plans


def _exact(x: float) -> str:
    """``x`` as short text that reads back to the same float (``rule_doses`` is counted in vials
    from its text: ``0.6 ** 3`` is not ``0.216``)."""
    text = f"{x:g}"
    return text if float(text) == x else repr(float(x))


def parse_doses(texts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``rule_doses`` texts back to numbers: per patient its number of infusions, then every
    patient's infusions in order, their days and g/kg (a missing text: none)."""
    texts = [t if isinstance(t, str) else "" for t in texts]
    counts = np.array([t.count(":") for t in texts], dtype=np.int64)
    pairs = np.asarray(" ".join(texts).replace(":", " ").split(), dtype=float).reshape(-1, 2)
    return counts, pairs[:, 0], pairs[:, 1]


def solve_with_rules(trial, arm, model, params: np.ndarray, weights: np.ndarray, ts: np.ndarray,
                     indication: str | None, fixed_plan, states: np.ndarray | None = None,
                     sessions: list[tuple] | None = None, cycle_sessions: list[tuple] | None = None):
    """Patients (``params``, P x n) of a rules arm from day 0 (or randomisation: ``states``, n x S)
    to ``trial.days``, visit by visit. Returns the ``Observed`` outputs on ``ts`` (days from day 0)
    and a ``RuleResult``. ``fixed_plan``: the arm regimen's per-kg plan (given as written).
    ``sessions``: each patient's comparator sessions (``ivigsim.trial.comparators``), given as
    scheduled whatever the rules decide. ``cycle_sessions``: under a ``ComparatorCycle``, each
    patient's sessions of one cycle from day 0 (``ivigsim.trial.comparators.cycle_sessions``),
    shifted to each visit that starts one."""
    from ivigsim.engine.outputs import Observed, solve_outputs_and_state
    from ivigsim.engine.solve import Problem, SaveAt, Status
    from ivigsim.simulation import INFUSION_INPUT

    rules = arm.rules
    days = trial.days
    n = params.shape[1]
    offset = trial.run_in.days if states is not None else 0.0
    m = model.model
    n_inputs, index = len(m.input_names), m.input_names.index(INFUSION_INPUT)
    names = tuple(dict.fromkeys((*trial.needed_outputs(), rules.readout)))
    r_col = names.index(rules.readout)
    doses = _Doses(dose_regimen(arm), indication)
    fixed = [doses.add(i) for i in (fixed_plan.infusions if fixed_plan is not None else ())]
    given = [np.broadcast_to(np.array(fixed, dtype=np.int64), (n, len(fixed))).copy()]
    extra = None
    if sessions is not None:
        from ivigsim.trial.comparators import window_table

        extra = window_table(model, sessions, days)
    cycle = rules.on_relapse if isinstance(rules.on_relapse, ComparatorCycle) else None
    if cycle is not None:
        from ivigsim.trial.comparators import window_table

        template = window_table(model, cycle_sessions, math.inf)  # (n, M, 4), days from the cycle's start
        cycle_span = np.nanmax(np.where(np.isfinite(template[..., 1]), template[..., 1], -np.inf), axis=1)
        if extra is None:
            extra = np.full((n, 1, 4), np.nan)
        last_start = np.full(n, -np.inf if not cycle.own else float(cycle.first_day))
        running_until = np.full(n, -np.inf if not cycle.own else float(cycle.end_day))
        begun: list[np.ndarray] = []

    values = np.full((n, len(names), len(ts)), np.nan)
    status = np.zeros(n, dtype=np.int8)
    n_steps = np.zeros(n, dtype=np.int64)
    n_rejected = np.zeros(n, dtype=np.int64)
    y = None if states is None else np.asarray(states, dtype=float).T.copy()
    t = 0.0

    def advance(to: float) -> np.ndarray:
        """Solve [t, to] for every patient; fill the outputs saved in [t, to) (and ``to`` at the
        end); return the readout at ``to``."""
        nonlocal y, status
        ids = _running_after(doses, np.concatenate(given, axis=1), t)
        schedule = _schedule(doses, ids, weights, n_inputs, index, offset, days, _extra_after(extra, t))
        inside = (ts >= t) & (ts < to) if to < days else (ts >= t)
        save = np.union1d(ts[inside], [to])
        y0 = y
        if y0 is not None:  # a failed patient carries on from a finite stand-in (its outputs stay NaN)
            bad = ~np.isfinite(y0).all(axis=0)
            if bad.any():
                y0 = y0.copy()
                y0[:, bad] = 0.0
        problem = Problem(model, params, schedule, t0=offset + t, y0=y0)
        observed, state = solve_outputs_and_state(problem, SaveAt(save + offset), trial.solver, names)
        failed = status != Status.SUCCESS
        status = np.maximum(status, observed.status.astype(np.int8))
        n_steps[:] += observed.n_steps
        n_rejected[:] += observed.n_rejected
        cols = np.searchsorted(save, ts[inside])
        values[:, :, np.flatnonzero(inside)] = observed.values[:, :, cols]
        failed |= status != Status.SUCCESS
        values[np.ix_(failed, np.arange(len(names)), np.flatnonzero(inside))] = np.nan
        state = np.asarray(state, dtype=float).copy()
        state[:, failed] = np.nan
        y = state
        readout = observed.values[:, r_col, -1].copy()
        readout[failed] = np.nan
        return readout

    visits = rules.visits(days)
    start = float(rules.maintenance_g_per_kg)
    dose = np.full(n, start)
    last_effective = dose.copy()
    taper = rules.taper
    stable = np.full(n, taper.stable_visits if (taper and taper.start_stable) else 0, dtype=np.int64)
    step = np.zeros(n, dtype=np.int64)
    tapering = np.full(n, taper is not None)
    held_before = np.zeros(n, dtype=bool)
    relapses = np.zeros(n, dtype=np.int64)
    retreatments = np.zeros(n, dtype=np.int64)
    cuts = np.zeros(n, dtype=np.int64)
    reference = None
    from ivigsim.dosing.regimen import MIN_G_PER_KG_PER_INFUSION

    for v in visits:
        x = advance(float(v)) if v > t else _readout_now(model, params, y, offset + t, weights, doses, given, n_inputs,
                                                         index, offset, days, trial.solver, rules.readout, extra)
        if reference is None:  # the day-0 value (the first visit is day 0, or the first solve began there)
            reference = x if v == 0 else values[:, r_col, int(np.searchsorted(ts, 0.0))]
        t = float(v)
        measured = _measure(x, reference, rules.measure)
        ok = np.isfinite(measured)
        holds = rules.relapse.holds(measured) & ok
        relapses += holds & ~held_before
        held_before = holds
        # A relapse after a cut: back to the last effective dose; tapering stops.
        back = holds & tapering & (cuts > 0)
        dose = np.where(back, last_effective, dose)
        tapering &= ~back
        stable = np.where(holds, 0, stable + ok)
        if taper is not None:
            cut = ~holds & ok & tapering & (stable >= taper.stable_visits) & (dose > 0)
            if taper.cut_fraction is not None:
                new = dose * (1.0 - taper.cut_fraction)
            else:
                nxt = np.minimum(step, len(taper.steps) - 1)
                new = np.asarray(taper.steps, dtype=float)[nxt] * start
                cut &= step < len(taper.steps)
            new = np.maximum(new, taper.floor_g_per_kg)
            new = np.where(new < MIN_G_PER_KG_PER_INFUSION, 0.0, new)
            cut &= new < dose
            last_effective = np.where(cut, dose, last_effective)
            dose = np.where(cut, new, dose)
            step += cut
            cuts += cut
            stable = np.where(cut, 0, stable)
        if cycle is not None:  # another cycle: none running, the interval since the last start passed
            rescue = holds & (running_until <= v + 1e-9) & (v - last_start >= cycle.min_interval_days - 1e-9)
            if rescue.any():
                shifted = template.copy()
                shifted[..., :2] += v
                shifted[~rescue] = np.nan
                shifted[shifted[..., 0] >= days] = np.nan  # sessions starting within the trial
                extra = _extra_after(extra, float(v))
                extra = np.concatenate([extra, shifted], axis=1)
                extra = extra[:, np.isfinite(extra[..., 0]).any(axis=0)] if np.isfinite(extra[..., 0]).any() else (
                    extra[:, :1])
                last_start = np.where(rescue, float(v), last_start)
                running_until = np.where(rescue, v + cycle_span, running_until)
                begun.append(np.where(rescue, float(v), np.nan))
        else:
            rescue = holds if rules.on_relapse is not None else np.zeros(n, dtype=bool)
        retreatments += rescue
        maintenance = np.where(rescue | ~ok, 0.0, dose)
        ids, _ = _level_ids(doses, float(v), maintenance, 1)
        given.append(ids)
        if isinstance(rules.on_relapse, Retreatment) and rescue.any():
            g = np.where(rescue, float(rules.on_relapse.g_per_kg), 0.0)
            ids, _ = _level_ids(doses, float(v), g, rules.on_relapse.over_days)
            given.append(ids)
    advance(days)
    all_ids = np.concatenate(given, axis=1)
    starts = np.array([i.start_day for i in doses.infusions] + [np.inf])
    order = np.argsort(starts[np.where(all_ids >= 0, all_ids, len(doses.infusions))], axis=1, kind="stable")
    all_ids = np.take_along_axis(all_ids, order, axis=1)
    width = max(1, int((all_ids >= 0).sum(axis=1).max(initial=0)))
    observed = Observed(ts, names, values, status, n_steps, n_rejected)
    cycle_starts = None
    if cycle is not None:
        cycle_starts = np.stack(begun, axis=1) if begun else np.full((n, 0), np.nan)
        packed = np.argsort(~np.isfinite(cycle_starts), axis=1, kind="stable")  # each patient's starts first
        cycle_starts = np.take_along_axis(cycle_starts, packed, axis=1)
        cycle_starts = cycle_starts[:, :int(np.isfinite(cycle_starts).sum(axis=1).max(initial=0))]
    result = RuleResult(tuple(doses.infusions), all_ids[:, :width], relapses, retreatments, cuts,
                        np.where(np.isfinite(dose), dose, np.nan), cycle_starts)
    return observed, result


def _readout_now(model, params, y, t_abs, weights, doses, given, n_inputs, index, offset, days, solver, readout,
                 extra=None):
    """The readout at the current time, before anything more is decided (a visit on day 0)."""
    from ivigsim.engine.outputs import solve_outputs_and_state
    from ivigsim.engine.solve import Problem, SaveAt

    schedule = _schedule(doses, np.concatenate(given, axis=1), weights, n_inputs, index, offset, days, extra)
    y0 = y
    if y0 is not None:
        y0 = np.where(np.isfinite(y0), y0, 0.0)
    observed, _ = solve_outputs_and_state(Problem(model, params, schedule, t0=t_abs, y0=y0), SaveAt([t_abs]), solver,
                                          (readout,))
    x = observed.values[:, 0, 0].copy()
    if y is not None:
        x[~np.isfinite(y).all(axis=0)] = np.nan
    return x


def _measure(x: np.ndarray, reference: np.ndarray, measure: str) -> np.ndarray:
    """As endpoints measure: the value, or its change, percent or fold change from day 0."""
    with np.errstate(all="ignore"):
        if measure == "change":
            return x - reference
        if measure == "percent_change":
            return 100.0 * (x - reference) / reference
        if measure == "fold_change":
            return x / reference
    return x
