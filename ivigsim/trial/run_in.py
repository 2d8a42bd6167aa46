"""A run-in before randomisation, and selection on each patient's state at its end.

A ``RunIn`` is a phase every screened candidate goes through before randomisation: a
regimen (or none: an observation period) over ``days``, and ``select``, criteria on the
candidate's outputs during the run-in (shaped like fraction endpoints: a measure of an
output at a day or over a window, with a criterion; all must hold). Enrichment ("responders
at week 12 are randomised") and randomised withdrawal (responders to open-label IVIG are
randomised to continue or to stop) are run-ins.

``select_patients`` is the pass between screening and the chunks: it solves the screened
candidates' run-ins in fixed blocks, in candidate order, and trial patient *i* is the *i*-th
candidate meeting the criteria. Each patient's state at the end of the run-in is kept and
the chunks continue every arm from it (``Problem(t0=days, y0=state)``), so each run-in is
solved once. Everything is a pure function of (seed, stream, candidate number) and each
candidate is solved on its own, so the selected patients and their states do not depend on
the block, the chunk size or the thread count.

Time: the run-in is days 0 to ``days``; randomisation is at ``days``. Arms' regimens,
endpoint days and saved times count from randomisation (the engine runs in absolute time,
so models whose equations read ``t`` continue their course). An endpoint's baseline (change,
percent change, fold change) is the value at randomisation; a selection criterion's baseline
is the value at the start of the run-in.

Comparators (plasma exchange, SCIG, an FcRn inhibitor): in the run-in's regimen, each candidate's
sessions are compiled from its covariates (``ivigsim.trial.comparators``); with a comparator in the
run-in or in any arm, the run-in is solved on the comparator model, so every arm continues from a
state of that model. The selected patients' run-in comparator use is reported as the run-in's
(``RunInSelection.comparator_use``), not counted in any arm's use columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from ivigsim.dosing import Regimen
from ivigsim.errors import InputError
from ivigsim.trial.endpoints import Endpoint

if TYPE_CHECKING:
    from ivigsim.population import Screening
    from ivigsim.trial.spec import Trial

#: Candidates whose run-ins are solved at once (fixed, so which candidates are solved does
#: not depend on the chunk size; each is solved alone, so neither do their numbers).
RUN_IN_BLOCK = 1024
#: A run-in is refused when none of the first this-many candidates, or fewer than
#: ``MIN_SELECTED_SHARE`` of them after that, meet its criteria (as screening refuses criteria).
RUN_IN_FIRST = 1000
MIN_SELECTED_SHARE = 0.001


@dataclass(frozen=True)
class RunIn:
    """``regimen`` (None: no treatment) over days 0 to ``days``; patients are those meeting every
    criterion of ``select`` (fraction-style ``Endpoint``s read on the run-in, days from its start)."""

    regimen: Regimen | None
    days: float
    select: tuple[Endpoint, ...]
    regimen_name: str = ""  # as the file names it (for the summary)

    def check(self, outputs, max_days: float) -> None:
        if not (isinstance(self.days, (int, float)) and 0 < self.days <= max_days):
            raise InputError("run_in.days", f"a run-in length in days in (0, {max_days:g}]", self.days)
        if not self.select:
            raise InputError("run_in.select", "at least one criterion (who is randomised)", [])
        for i, e in enumerate(self.select):
            where = f"run_in.select.{i}"
            if e.per_patient_column:
                raise InputError(f"{where}.output", f"one of the model's outputs ({', '.join(outputs)})", e.output)
            if e.at_day is not None and not 0 <= e.at_day <= self.days:
                raise InputError(f"{where}.at_day", f"a day within the run-in, 0 to {self.days:g}", e.at_day)
            if e.window is not None and not 0 <= e.window[0] < e.window[1] <= self.days:
                raise InputError(f"{where}.window", f"[first day, last day] within the run-in, 0 to {self.days:g}",
                                 list(e.window))
            e.check(where, outputs, self.days)

    def criteria(self) -> list[str]:
        """Each criterion in words ('change in incat_score <= -1 on day 84')."""
        return [e.describe().removeprefix("fraction of ") for e in self.select]

    def output_times(self, every: float) -> np.ndarray:
        """Saved times of the run-in: the grid, the criteria's days, and its end (the state kept)."""
        n = int(np.floor(self.days / every + 1e-9))
        grid = np.arange(n + 1) * every
        extra = [t for e in self.select for t in e.times(self.days)]
        return np.union1d(np.union1d(grid, extra), [self.days])

    def outputs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(e.output for e in self.select))


@dataclass(frozen=True)
class RunInSelection:
    """One arm's patients after the run-in: their candidate numbers (as a ``Screening``'s), their
    states at randomisation (``states``: patients x states) and how many were not selected and why."""

    candidates: np.ndarray
    states: np.ndarray
    screening: Screening
    entered: int  # candidates whose run-in was solved, up to the last one selected
    not_meeting: dict[str, int] = field(default_factory=dict)  # criterion -> candidates failing it
    solve_failed: int = 0  # run-in solves that failed (not selected)
    adverse_events: dict = field(default_factory=dict)  # the selected patients' run-in adverse events
    #: With a comparator in the run-in's regimen: the selected patients' use of it during the run-in
    #: (``ivigsim.trial.comparators.run_in_use``, and the comparators' declared adverse events).
    comparator_use: dict = field(default_factory=dict)

    # What a ``Screening`` says, for code that reads either: the screening of the run-in's entrants.
    @property
    def screened(self) -> int:
        return self.screening.screened

    @property
    def out_of_bounds(self) -> int:
        return self.screening.out_of_bounds

    @property
    def failed(self) -> dict[str, int]:
        return self.screening.failed

    def describe(self) -> str:
        parts = [self.screening.describe(),
                 f"run-in: {len(self.candidates)} of {self.entered} selected"]
        parts += [f"{n} not meeting '{text}'" for text, n in self.not_meeting.items() if n]
        if self.solve_failed:
            parts.append(f"{self.solve_failed} run-in solves failed")
        return "; ".join(parts)

    def as_dict(self) -> dict:
        out = {"entered": self.entered, "selected": int(len(self.candidates)), "not_meeting": dict(self.not_meeting),
               "solve_failed": self.solve_failed, "adverse_events": self.adverse_events}
        if self.comparator_use:  # only when the run-in gives a comparator (otherwise as before)
            out |= self.comparator_use
        return out


def run_in_plan(trial: Trial):
    """The run-in's infusions for 1 kg of dosing weight (those starting before randomisation)."""
    r = trial.run_in
    if r.regimen is None:
        return None
    from ivigsim.model.patient import Patient

    plan = replace(r.regimen, dosing_weight="actual").compile(Patient(weight_kg=1.0), trial.indication)
    return replace(plan, infusions=tuple(i for i in plan.infusions if i.start_day < r.days))


def check_plan(regimen: Regimen | None, days: float, indication: str | None, field_name: str = "run_in.days") -> None:
    """An infusion running at randomisation would be cut in two (its rest belongs to no arm): refused.
    So is a comparator session (an exchange, a subcutaneous dose, an inhibitor infusion) running
    then: their times do not depend on the patient, so one compilation decides for all."""
    if regimen is None:
        return
    from ivigsim.model.patient import Patient

    plan = replace(regimen, dosing_weight="actual").compile(Patient(weight_kg=1.0), indication)
    for i in plan.infusions:
        if i.start_day < days < i.end_day:
            raise InputError(field_name, "a randomisation day on which no run-in infusion is running",
                             f"{days:g} (an infusion runs from day {i.start_day:g} to {i.end_day:g})")
    for s in getattr(plan, "sessions", ()):
        if s.start_day < days < s.end_day:
            raise InputError(field_name, "a randomisation day on which no run-in session is running",
                             f"{days:g} (a {s.kind.replace('_', ' ')} session runs from day {s.start_day:g} to "
                             f"{s.end_day:g})")


def select_patients(trial: Trial, model, stream: str = "") -> RunInSelection:
    """Solve screened candidates' run-ins in blocks of ``RUN_IN_BLOCK`` in candidate order until
    ``trial.size`` meet every criterion (see the module docstring)."""
    from ivigsim.population import CounterRNG, screen

    r = trial.run_in
    rng = CounterRNG(trial.seed)
    size = trial.size
    target = size
    eligible = screen(trial.population, model, rng, target, stream).candidates
    ts = r.output_times(trial.output_every_days)
    plan = run_in_plan(trial)
    kept_ids: list[np.ndarray] = []
    kept_states: list[np.ndarray] = []
    flags: list[np.ndarray] = []  # per solved candidate: which criteria hold (n x criteria), then failed
    n_selected = solved = 0
    while n_selected < size:
        if solved == len(eligible):  # more candidates: screen further (cheap, no ODE; same order)
            target = max(2 * target, solved + RUN_IN_BLOCK)
            eligible = screen(trial.population, model, rng, target, stream).candidates
        # A small trial needs few run-ins: the first block is twice the size (blocks change
        # which candidates beyond the last one selected are solved, never who is selected).
        block = RUN_IN_BLOCK if solved else min(RUN_IN_BLOCK, max(64, 2 * size))
        ids = eligible[solved:solved + block]
        holds, ok, states = _solve_block(trial, model, rng, ids, ts, plan, stream)
        chosen = np.flatnonzero(holds.all(axis=1) & ok)[:size - n_selected]
        kept_ids.append(ids[chosen])
        kept_states.append(states[chosen])
        flags.append(np.column_stack([holds, ~ok]))
        n_selected += len(chosen)
        solved += len(ids)
        if n_selected < size and solved >= RUN_IN_FIRST and n_selected < max(1.0, MIN_SELECTED_SHARE * solved):
            texts = [f"'{text}'" for text in r.criteria()]
            raise InputError("run_in.select", "criteria that some patients meet at the end of their run-in "
                             f"(at least {MIN_SELECTED_SHARE:.1%})",
                             f"{n_selected} of {solved} candidates met {' and '.join(texts)}")
    candidates = np.concatenate(kept_ids)
    states = np.concatenate(kept_states)
    # Counts up to the last candidate selected, so they do not depend on the block size.
    entered = int(np.searchsorted(eligible, candidates[-1])) + 1
    table = np.concatenate(flags)[:entered]
    failed = table[:, -1]
    not_meeting = {text: int((~table[:, j].astype(bool) & ~failed.astype(bool)).sum())
                   for j, text in enumerate(r.criteria())}
    screening = screen(trial.population, model, rng, entered, stream)
    events = _run_in_adverse_events(trial, model, rng, candidates, plan, stream)
    use = _run_in_comparator_use(trial, model, rng, candidates, stream)
    return RunInSelection(candidates, states, screening, entered, not_meeting, int(failed.sum()), events, use)


def _solve_block(trial: Trial, model, rng, ids: np.ndarray, ts: np.ndarray, plan, stream: str):
    """Candidates ``ids``' run-ins: each criterion's verdict (n x criteria), whether the solve
    succeeded, and the state at the run-in's end (n x states)."""
    from ivigsim.dosing.comparators import inhibitor_parameters, inhibitor_variability
    from ivigsim.engine.outputs import solve_outputs_and_state
    from ivigsim.engine.solve import Problem, SaveAt, Status
    from ivigsim.population import draw
    from ivigsim.trial.comparators import individual_constants

    r = trial.run_in
    patients = draw(trial.population, model, rng, ids, stream)
    schedule = _schedule(trial, model, plan, patients)
    params = patients.parameters
    if (own := inhibitor_parameters(r.regimen.parts) if r.regimen is not None else {}):  # nipocalimab's, a user's
        params = params.copy()
        for name, value in own.items():
            params[model.model.parameter_names.index(name)] = value
        params = individual_constants(params, model.model.parameter_names, inhibitor_variability(r.regimen.parts),
                                      rng, stream, ids)
    observed, state = solve_outputs_and_state(Problem(model, params, schedule), SaveAt(ts),
                                              trial.solver, r.outputs())
    ok = (observed.status == Status.SUCCESS) & np.isfinite(state).all(axis=0)
    holds = np.column_stack([e.per_patient(ts, observed.output(e.output), r.days)[e.name] == 1.0 for e in r.select])
    return holds, ok, state.T


def _weights(trial: Trial, patients) -> np.ndarray:
    from ivigsim.trial.runner import _dosing_weights
    from ivigsim.trial.spec import Arm

    try:
        return _dosing_weights(Arm("run-in", trial.run_in.regimen), patients)
    except InputError as exc:
        raise InputError("run_in.regimen.dosing_weight", exc.expected, exc.got) from None


def _schedule(trial: Trial, model, plan, patients):
    from ivigsim.engine.schedule import InputSchedule, Window
    from ivigsim.simulation import INFUSION_INPUT
    from ivigsim.trial import comparators as comp

    n_inputs = len(model.model.input_names)
    n = len(patients)
    if plan is None:
        return InputSchedule.empty(n, n_inputs)
    if comp.regimen_has_comparators(trial.run_in.regimen):  # each patient's own sessions (trial.comparators)
        weights = _weights(trial, patients)
        sessions = comp.patient_sessions(trial.run_in, patients, weights)
        return comp.schedule(model, trial, plan, sessions, weights, trial.run_in.days)
    index = model.model.input_names.index(INFUSION_INPUT)
    windows = [Window(w.start_day, w.end_day, w.rate_g_per_day, index) for w in plan.windows
               if w.start_day < trial.run_in.days]
    base = InputSchedule.from_windows([windows], n_inputs)
    weights = _weights(trial, patients)
    return InputSchedule(np.broadcast_to(base.times, (n, base.times.shape[1])).copy(),
                         base.values * weights[:, None, None])


def _run_in_adverse_events(trial: Trial, model, rng, candidates: np.ndarray, plan, stream: str) -> dict:
    """The selected patients' adverse events during the run-in (the arms report their own from
    randomisation on), from their own counter stream; summarised as an arm's are."""
    from ivigsim.population import draw
    from ivigsim.safety.trial import safety_columns
    from ivigsim.trial.safety_summary import summarise_safety

    parts = []
    for a in range(0, len(candidates), RUN_IN_BLOCK):
        ids = candidates[a:a + RUN_IN_BLOCK]
        patients = draw(trial.population, model, rng, ids, stream)
        covariates = patients.covariates.as_columns() | {"female": patients.covariates.female}
        weights = _weights(trial, patients) if plan is not None else None
        parts.append(safety_columns(plan, covariates, rng, ids, trial.risk_factors, stream=f"safety/run-in/{stream}",
                                    dosing_weight_kg=weights))
    columns = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return summarise_safety(columns)


def _run_in_comparator_use(trial: Trial, model, rng, candidates: np.ndarray, stream: str) -> dict:
    """The selected patients' comparator use during the run-in (none: {}), and the comparators'
    adverse events (``ivigsim.trial.safety_summary.summarise_comparator_events``). Counted as
    the run-in's: the arms' use columns count their own regimens from randomisation."""
    from ivigsim.population import draw
    from ivigsim.trial.safety_summary import summarise_comparator_events
    from ivigsim.trial import comparators as comp

    r = trial.run_in
    if not comp.regimen_has_comparators(r.regimen):
        return {}
    parts = []
    for a in range(0, len(candidates), RUN_IN_BLOCK):
        patients = draw(trial.population, model, rng, candidates[a:a + RUN_IN_BLOCK], stream)
        weights = _weights(trial, patients)
        sessions = comp.patient_sessions(r, patients, weights)
        parts.append(comp.use_columns(trial, r, sessions, len(weights), r.days))
    columns = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    out = {"comparator_use": comp.run_in_use(r, columns)}
    events = summarise_comparator_events(columns, trial.comparator_event_rates)
    if events:
        out["comparator_adverse_events"] = events
    return out
