"""Endpoints: what is read off each patient's trajectory, and how an arm summarises it.

An endpoint names an ``output``, a ``measure`` of it (the value, the change from
baseline, the percent change, or the fold change; baseline = the value at t = 0, before
treatment),
*when* (``at_day`` or a ``window`` of days; saved times inside the window count) and a
``summary``:

- ``fraction``: the share of patients meeting ``criterion`` (at the day; or, in a
  window, at ``any`` saved time or at ``all`` of them);
- ``mean``, ``median``, ``quantile``: of the value at the day, or of the window's
  ``mean``, ``min`` or ``max`` per patient;
- ``time_to_event``: the first saved time in the window at which ``criterion`` holds,
  censored at the window's end; with ``tau``, also the restricted mean time to event
  (the area under the Kaplan-Meier curve up to ``tau``) and the mean time (when no patient
  is censored);
- ``day_of_max``, ``day_of_min``: each patient's (first) saved day at which the measure is
  largest or smallest, over a window or the whole trial.

``reference_day`` moves the baseline of ``change``, ``percent_change`` and ``fold_change``
from day 0 to that day ("change from week 12"). ``given`` makes an endpoint conditional on
an earlier fraction or time-to-event endpoint: patients not meeting it get NaN, so the
arm's denominator is the patients who meet it ("relapse among responders"; the runner
applies the mask, ``ivigsim.trial.runner``).

A fraction's criterion may need ``also`` conditions on other measures of the same output,
met at the same time: "> 80 x 10^9/L and at least twice baseline" (Godeau 1999) is
``criterion: "> 80"`` with ``also: {measure: fold_change, criterion: ">= 2"}``.

Per patient an endpoint gives one number (``name``: the value, 0/1, or the event
time) and, for time to event, an event flag (``name_event``).

**Soft criteria** (``softness`` > 0; only the joint calibration's objective sets it,
``ivigsim.validation.joint``): a fraction's criterion, its ``also`` conditions and a
duration's criterion are read as degrees in (0, 1) (``Threshold.soft``: logistic in the
distance to the threshold over ``softness`` x |threshold|) instead of 0/1, so a simulated
rate moves smoothly with the model's parameters rather than a whole patient at a time
(McFadden 1989's logit-smoothed accept-reject simulator). Time to event, ``duration_if_met``'s
membership and per-patient columns stay hard. A trial file cannot set it: ``softness`` is 0
in every trial a user runs, and ``ivigsim validate`` runs them so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from ivigsim.errors import InputError
from ivigsim.population.criteria import Threshold
from ivigsim.safety.events import EVENTS
from ivigsim.trial import statistics

Measure = Literal["value", "change", "percent_change", "fold_change"]
#: Window summaries that count days meeting the criterion (``duration_if_met``: among
#: patients who meet it at all, e.g. the duration of response among responders).
DURATIONS = ("duration", "duration_if_met")

#: Per-patient adverse-event columns an endpoint may read (``ivigsim.safety.trial``):
#: ``ae_<event>_events`` (sampled count), ``ae_<event>_probability``, ``ae_<event>_expected``.
#: ``ae_serious_events`` and ``ae_serious_probability``: the serious composite per patient
#: (``ivigsim.trial.adverse_rates``), derived from those columns when an endpoint reads it.
SAFETY_OUTPUTS = frozenset(
    f"ae_{event.name}_{what}" for event in EVENTS for what in ("events", "probability", "expected")) | frozenset(
    ("ae_serious_events", "ae_serious_probability"))
#: Per-patient outcomes of response-guided dosing an endpoint may read (``ivigsim.trial.rules``;
#: only in a trial with an arm under rules). Grams are also defined in an arm without rules
#: (its regimen as written x dosing weight, as the IVIG-use table counts them); the rule
#: counters and the final dose are not (NaN there: no visits, nothing decided).
RULE_OUTPUTS = ("rule_relapses", "rule_retreatments", "rule_cuts", "rule_final_g_per_kg", "rule_cycles",
                "ivig_g_in_trial", "ivig_g_per_year")
GRAM_OUTPUTS = ("ivig_g_in_trial", "ivig_g_per_year")
Summary = Literal["fraction", "mean", "median", "quantile", "time_to_event", "day_of_max", "day_of_min"]
#: Summaries whose per-patient value is a day (the saved time of the measure's extreme).
DAY_OF = ("day_of_max", "day_of_min")
#: Summaries a ``given`` condition may name: one 0/1 per patient (met, or had the event).
CONDITIONS = ("fraction", "time_to_event")
OverWindow = Literal["any", "all", "mean", "min", "max", "duration", "duration_if_met"]


@dataclass(frozen=True)
class Endpoint:
    name: str
    output: str
    summary: Summary
    measure: Measure = "value"
    at_day: float | None = None
    window: tuple[float, float] | None = None
    over_window: OverWindow | None = None
    criterion: Threshold | None = None
    quantiles: tuple[float, ...] = ()
    also: tuple[tuple[Measure, Threshold], ...] = ()
    # Added later, so kept out of ``repr``: the fingerprint of a trial without them stays as it
    # was (``Trial.fingerprint`` adds them when given; a trial file's text covers them anyway).
    #: Baseline day of change, percent_change and fold_change (None: day 0).
    reference_day: float | None = field(default=None, repr=False)
    #: Time to event: the horizon of the restricted mean time (None: not reported).
    tau: float | None = field(default=None, repr=False)
    #: The name of an earlier fraction or time-to-event endpoint the patient must meet.
    given: str | None = field(default=None, repr=False)
    #: Soft criteria (see the module's docstring): 0, hard, in every trial a user runs. Set
    #: only by ``soft_endpoints``, for the joint calibration's objective. It is a field of
    #: the endpoint, not a setting of the process, so that it travels with the trial (to a
    #: Dask worker too) and reaches only the endpoints it was given to, never a run-in's
    #: selection criteria (``ivigsim.trial.run_in``), which must stay 0/1.
    softness: float = field(default=0.0, repr=False)

    def options(self) -> tuple:
        """The later fields, for the fingerprint (all None: nothing to add). ``softness`` is
        added only when it is not 0, so a hard trial's fingerprint is as it was."""
        return (self.reference_day, self.tau, self.given) + ((self.softness,) if self.softness else ())

    @property
    def per_patient_column(self) -> bool:
        """An endpoint on a per-patient result (an adverse-event column, an outcome of the rules),
        not a trajectory."""
        return self.output in SAFETY_OUTPUTS or self.output in RULE_OUTPUTS

    def check(self, field: str, outputs: Sequence[str], days: float) -> None:
        if not self.name.isidentifier():
            raise InputError(f"{field}.name", "a name of letters, digits and underscores (a column name)", self.name)
        thresholds = [(f"{field}.criterion", self.criterion),
                      *((f"{field}.also.{j}.criterion", c) for j, (_, c) in enumerate(self.also))]
        for where, threshold in thresholds:  # as inclusion criteria: '>= 1e999' is no threshold
            if threshold is not None and not np.isfinite(threshold.value):
                raise InputError(where, "a finite number", threshold.text)
        if self.per_patient_column:
            if self.at_day is not None or self.window is not None or self.measure != "value" or self.also:
                raise InputError(field, f"no at_day, window, measure or also for {self.output} (one number per "
                                 "patient over the regimen)", self.output)
            if self.summary == "time_to_event" or self.summary in DAY_OF:
                raise InputError(f"{field}.summary", f"fraction, mean, median or quantile for {self.output} (one "
                                 "number per patient)", self.summary)
            if self.reference_day is not None or self.tau is not None:
                raise InputError(f"{field}.reference_day" if self.reference_day is not None else f"{field}.tau",
                                 f"nothing for {self.output} (one number per patient over the regimen)",
                                 self.reference_day if self.reference_day is not None else self.tau)
            if (self.summary == "fraction") != (self.criterion is not None):
                raise InputError(f"{field}.criterion", "a criterion (e.g. '>= 1') exactly for summary: fraction",
                                 self.criterion.text if self.criterion else None)
            return
        if self.output not in outputs:
            raise InputError(f"{field}.output", f"one of the model's outputs ({', '.join(outputs)})", self.output)
        if self.summary == "time_to_event" or self.summary in DAY_OF:
            if self.at_day is not None:
                raise InputError(f"{field}.at_day", f"a window (or nothing: the whole trial) for {self.summary}",
                                 self.at_day)
        elif (self.at_day is None) == (self.window is None):
            raise InputError(field, "exactly one of at_day and window", f"at_day={self.at_day}, window={self.window}")
        if self.at_day is not None and not 0 <= self.at_day <= days:
            raise InputError(f"{field}.at_day", f"a day in [0, {days:g}] (the simulated span)", self.at_day)
        if self.window is not None:
            a, b = self.window
            if not 0 <= a < b <= days:
                raise InputError(f"{field}.window", f"[first day, last day] with 0 <= first < last <= {days:g}", list(self.window))
        if self.reference_day is not None:
            if self.measure == "value" and all(m == "value" for m, _ in self.also):
                raise InputError(f"{field}.reference_day", "a reference day only with measure change, percent_change "
                                 "or fold_change", self.reference_day)
            if not (isinstance(self.reference_day, (int, float)) and 0 <= self.reference_day <= days):
                raise InputError(f"{field}.reference_day", f"a day in [0, {days:g}] (the simulated span)",
                                 self.reference_day)
        if self.tau is not None:
            end = self.window[1] if self.window is not None else days
            if self.summary != "time_to_event":
                raise InputError(f"{field}.tau", "tau only with summary: time_to_event", self.tau)
            if not (isinstance(self.tau, (int, float)) and 0 < self.tau <= end):
                raise InputError(f"{field}.tau", f"a horizon in days in (0, {end:g}] (the window's end: the "
                                 "Kaplan-Meier curve is not known after it)", self.tau)
        needs_criterion = self.summary in ("fraction", "time_to_event") or self.over_window in DURATIONS
        if needs_criterion and self.criterion is None:
            raise InputError(f"{field}.criterion", f"a criterion such as '>= 50' for summary {self.summary}", None)
        if not needs_criterion and self.criterion is not None:
            raise InputError(f"{field}.criterion", f"no criterion for summary {self.summary} (use summary: fraction)", self.criterion.text)
        allowed = {"fraction": ("any", "all"), "time_to_event": (None,)}.get(
            self.summary, ("mean", "min", "max", *DURATIONS))
        if self.window is not None and self.summary != "time_to_event" and self.summary not in DAY_OF:
            if self.over_window not in allowed:
                raise InputError(f"{field}.over_window", f"one of {', '.join(allowed)} for summary {self.summary} in a window",
                                 self.over_window)
        elif self.over_window is not None:
            raise InputError(f"{field}.over_window", "nothing (over_window applies to a window, not to at_day or time to event)",
                             self.over_window)
        if self.also and self.summary != "fraction":
            raise InputError(f"{field}.also", "also-conditions only with summary: fraction", self.summary)
        if self.summary == "quantile":
            if not self.quantiles or not all(0 < q < 1 for q in self.quantiles):
                raise InputError(f"{field}.quantiles", "a list of quantiles in (0, 1), such as [0.1, 0.9]", list(self.quantiles))
        elif self.quantiles:
            raise InputError(f"{field}.quantiles", "quantiles only with summary: quantile", list(self.quantiles))

    def from_column(self, column: np.ndarray) -> dict[str, np.ndarray]:
        """Per-patient value of an endpoint on a per-patient column (0/1 with a criterion)."""
        column = np.asarray(column, dtype=float)
        out = self.criterion.holds(column).astype(float) if self.criterion is not None else column
        return {self.name: np.where(np.isfinite(column), out, np.nan)}

    def times(self, days: float) -> tuple[float, ...]:
        """Times the output grid must contain for this endpoint."""
        if self.per_patient_column:
            return (0.0,)
        ref = () if self.reference_day is None else (self.reference_day,)
        if self.at_day is not None:
            return (0.0, *ref, self.at_day)
        a, b = self.window if self.window is not None else (0.0, days)
        return (0.0, *ref, a, b)

    def columns(self) -> tuple[str, ...]:
        return (self.name, f"{self.name}_event") if self.summary == "time_to_event" else (self.name,)

    def condition_met(self, columns) -> np.ndarray:
        """Per patient, whether this (fraction or time-to-event) endpoint is met: the ``given``
        of a conditional endpoint. Failed patients (NaN) do not meet it. With soft criteria
        a degree above one half counts as met (the hard decision, except where ``also``
        conditions each hold only narrowly)."""
        x = np.asarray(columns[f"{self.name}_event" if self.summary == "time_to_event" else self.name], dtype=float)
        return x > 0.5

    def per_patient(self, ts: np.ndarray, values: np.ndarray, days: float) -> dict[str, np.ndarray]:
        """``values``: (n_patients, n_times) of the output on ``ts``; returns the column(s)."""
        raw = values
        ref = 0.0 if self.reference_day is None else self.reference_day
        values = _measure(raw, ts, self.measure, ref)
        failed = ~np.isfinite(values).all(axis=1)
        also = [(criterion, _measure(raw, ts, measure, ref)) for measure, criterion in self.also]
        softness = self.softness

        def holds(v: np.ndarray, columns) -> np.ndarray:
            hit = self.criterion.holds(v)
            for criterion, measured in also:
                hit = hit & criterion.holds(measured[:, columns])
            return hit

        def degree(v: np.ndarray, columns) -> np.ndarray:
            """``holds`` as a float: 0/1, or with soft criteria the product of the degrees."""
            if not softness:
                return holds(v, columns).astype(float)
            met = self.criterion.soft(v, softness)
            for criterion, measured in also:
                met = met * criterion.soft(measured[:, columns], softness)
            return met

        if self.at_day is not None:
            column = int(np.searchsorted(ts, self.at_day))
            v = values[:, column]
            out = degree(v, column) if self.criterion is not None else v.astype(float)
            return {self.name: np.where(failed, np.nan, out)}
        a, b = self.window if self.window is not None else (0.0, days)
        inside = (ts >= a - 1e-12) & (ts <= b + 1e-12)
        w, tw = values[:, inside], ts[inside]
        if self.summary == "time_to_event":
            hit = self.criterion.holds(w)
            event = hit.any(axis=1) & ~failed
            first = np.where(event, tw[np.argmax(hit, axis=1)], b)
            return {self.name: np.where(failed, np.nan, first), f"{self.name}_event": np.where(failed, np.nan, event.astype(float))}
        if self.summary in DAY_OF:  # the first saved day of the extreme (argmax/argmin: first occurrence)
            pick = np.argmax if self.summary == "day_of_max" else np.argmin
            day = tw[pick(np.where(failed[:, None], 0.0, w), axis=1)]
            return {self.name: np.where(failed, np.nan, day)}
        if self.summary == "fraction":
            if softness:  # any: the largest degree over the window's times; all: the smallest
                met = degree(w, inside)
                out = met.max(axis=1) if self.over_window == "any" else met.min(axis=1)
            else:
                hit = holds(w, inside)
                out = (hit.any(axis=1) if self.over_window == "any" else hit.all(axis=1)).astype(float)
        elif self.over_window in DURATIONS:
            # Days in the window meeting the criterion: each saved interval counts by the
            # share of its two ends that meet it (trapezoid rule on the indicator; with soft
            # criteria, on the degrees).
            hit = holds(w, inside).astype(float)
            out = (0.5 * (hit[:, 1:] + hit[:, :-1]) * np.diff(tw)).sum(axis=1)
            if softness:
                met = degree(w, inside)
                soft = (0.5 * (met[:, 1:] + met[:, :-1]) * np.diff(tw)).sum(axis=1)
            if self.over_window == "duration_if_met":  # only patients who ever met it (hard) count
                out = np.where(out > 0, soft if softness else out, np.nan)
                return {self.name: np.where(failed, np.nan, out)}
            if softness:
                out = soft
        else:
            out = {"mean": np.mean, "min": np.min, "max": np.max}[self.over_window](w, axis=1)
        return {self.name: np.where(failed, np.nan, out)}

    def summarise(self, columns: dict[str, np.ndarray], level: float = statistics.LEVEL) -> dict[str, statistics.Estimate]:
        """Arm-level estimates from the per-patient columns (failed patients, NaN, excluded)."""
        x = np.asarray(columns[self.name], dtype=float)
        ok = np.isfinite(x)
        if self.summary == "fraction":
            # The count as a float: with soft criteria it is a sum of degrees, not whole patients.
            return {"fraction": statistics.wilson(float(x[ok].sum()), int(ok.sum()), level)}
        if self.summary == "mean":
            return {"mean": statistics.mean_t(x[ok], level)}
        if self.summary == "median":
            return {"median": statistics.quantile_interval(x[ok], 0.5, level)}
        if self.summary == "quantile":
            return {f"q{q:g}": statistics.quantile_interval(x[ok], q, level) for q in self.quantiles}
        if self.summary in DAY_OF:
            return {"median_day": statistics.quantile_interval(x[ok], 0.5, level), "mean_day": statistics.mean_t(x[ok], level)}
        event = np.asarray(columns[f"{self.name}_event"], dtype=float)
        out = statistics.time_to_event(x[ok], event[ok] > 0.5, level)
        if self.tau is not None:
            out |= statistics.mean_times(x[ok], event[ok] > 0.5, self.tau, level)
        return out

    def describe(self) -> str:
        what = {"value": self.output, "change": f"change in {self.output}",
                "percent_change": f"% change in {self.output}",
                "fold_change": f"fold change in {self.output}"}[self.measure]
        if self.reference_day is not None:
            what += f" from day {self.reference_day:g}"
        when = (f"on day {self.at_day:g}" if self.at_day is not None else
                f"{self.over_window or ''} in days {self.window[0]:g}-{self.window[1]:g}".strip() if self.window else "")
        crit = f" {self.criterion.text}" if self.criterion else ""
        crit += "".join(f" and {m.replace('_', ' ')} {c.text}" for m, c in self.also)
        given = f" among patients meeting {self.given}" if self.given else ""
        tau = f" (restricted mean to day {self.tau:g})" if self.tau is not None else ""
        return (f"{self.summary.replace('_', ' ')} of {what}{crit} {when}".strip() + tau + given).strip()


def _measure(values: np.ndarray, ts: np.ndarray, measure: str, reference_day: float = 0.0) -> np.ndarray:
    """The value, change, percent change or fold change from baseline (the value on
    ``reference_day``, default t = 0; ``Endpoint.times`` puts that day on the grid)."""
    baseline = values[:, [int(np.searchsorted(ts, reference_day))]]
    with np.errstate(all="ignore"):
        if measure == "change":
            return values - baseline
        if measure == "percent_change":
            return 100.0 * (values - baseline) / baseline
        if measure == "fold_change":
            return values / baseline
    return values


def check_softness(softness: object, field: str = "softness") -> float:
    """``softness`` as a float, refused (one line) unless it is a number in [0, 1)."""
    if isinstance(softness, bool) or not isinstance(softness, (int, float)) or not 0 <= softness < 1:
        raise InputError(field, "a share of the threshold in [0, 1), e.g. 0.05 (0: hard criteria)", softness)
    return float(softness)


def soft_endpoints(endpoints: Sequence[Endpoint], softness: float) -> tuple[Endpoint, ...]:
    """``endpoints`` with soft criteria of ``softness`` (a share of each threshold, in [0, 1);
    0: the endpoints as they are). For the joint calibration's objective only."""
    softness = check_softness(softness)
    if not softness:
        return tuple(endpoints)
    return tuple(replace(e, softness=softness) for e in endpoints)
