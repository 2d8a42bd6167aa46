"""Trial arms that give a comparator: plasma exchange, subcutaneous IgG, an FcRn inhibitor.

An arm's regimen may mix IVIG with the comparators of ``ivigsim.dosing.comparators`` (IVIG vs
plasma exchange; an FcRn inhibitor then IVIG). When any arm (or sub-population) of a trial gives
one, the whole trial runs on the comparator variant of its disease model
(``compiled_model(disease, comparators=True)``): every arm, also the IVIG-only and untreated ones,
so all arms share one model. The comparator modules are inert without their inputs (their states
stay 0, ``fcrn_inhibitor_occupancy`` is exactly 0), so an IVIG-only arm gives the same numbers on
either model up to the solver's tolerance (the error norm counts the extra states:
``tests/test_comparator_trials.py`` measures it). A trial without comparators runs exactly as
before, on the plain model, bit for bit.

Per patient (not per kg: a plasma volume is not proportional to weight, an inhibitor dose is
capped): each arm's sessions are compiled from the patient's own covariates by the same
``compile_sessions`` a scenario uses (Kaplan's plasma volume from weight, sex and haematocrit;
SCIG on the dosing weight; the inhibitor's mg/kg of actual weight, capped). The IVIG infusions are
the runner's per-kg windows times the dosing weight, as in every trial.

The designs work with them too: a run-in (a comparator in the run-in's regimen, or in the arms
after it: the run-in is solved on the same comparator model and every arm continues from its
state), response-guided rules (the rules decide IVIG doses as before; the arm's comparator parts
run as scheduled, ``ivigsim.trial.rules``) and a crossover (each period's comparator sessions
compiled per patient, ``ivigsim.trial.crossover``).

Also here: what each comparator arm used per patient (sessions, litres exchanged, grams of SCIG,
mg of inhibitor: ``use_columns``, summarised by ``summarise_use``; a run-in's own use:
``run_in_use``) and the refusals of what the runner does not support with comparators yet
(``check_supported``: two FcRn inhibitors with different constants in one patient's path, run-in
and arm or the arms of a crossover; ``path_parameters`` gives the one a patient carries).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ivigsim.dosing.comparators import (COMPARATOR_PARTS, INHIBITOR_CONSTANTS, INHIBITOR_TMDD_CONSTANTS,
                                        FcRnInhibitor, PlasmaExchange, SubcutaneousIgG, compile_sessions,
                                        inhibitor_parameters, inhibitor_setting)
from ivigsim.dosing.units import MG_PER_G
from ivigsim.engine.schedule import InputSchedule, Window
from ivigsim.errors import InputError
from ivigsim.trial.statistics import LEVEL, mean_t

#: A year, days (as ``ivigsim.trial.stewardship``: the regimen's first 365.25 days as written).
DAYS_PER_YEAR = 365.25

#: Per-patient columns a trial with comparators adds to every arm's rows (0 where an arm gives none).
USE_COLUMNS = ("plex_sessions", "plex_volume_L", "plex_plasma_volumes", "scig_doses", "scig_g_in_trial",
               "scig_g_per_year", "fcrn_inhibitor_infusions", "fcrn_inhibitor_mg_in_trial",
               "fcrn_inhibitor_mg_per_year")
#: What each column counts (summary descriptions; units in the name).
USE_DESCRIPTIONS = {
    "plex_sessions": "plasma-exchange sessions starting within the trial",
    "plex_volume_L": "plasma exchanged within the trial, litres (Kaplan's estimated plasma volume x volumes "
                     "per session)",
    "plex_plasma_volumes": "estimated plasma volumes exchanged within the trial (sessions x volumes per session)",
    "scig_doses": "subcutaneous IgG doses starting within the trial",
    "scig_g_in_trial": "subcutaneous IgG given within the trial, grams (on the dosing weight)",
    "scig_g_per_year": "subcutaneous IgG per year, grams (doses starting in the regimen's first 365.25 days)",
    "fcrn_inhibitor_infusions": "FcRn-inhibitor infusions starting within the trial",
    "fcrn_inhibitor_mg_in_trial": "FcRn inhibitor given within the trial, mg (actual weight, capped per infusion)",
    "fcrn_inhibitor_mg_per_year": "FcRn inhibitor per year, mg (infusions in the regimen's first 365.25 days)",
}


def regimen_has_comparators(regimen) -> bool:
    """Whether ``regimen`` (None: no treatment) has a comparator part."""
    return regimen is not None and any(isinstance(p, COMPARATOR_PARTS) for p in regimen.parts)


def rule_cycle(arm):
    """The arm's rules' ``ComparatorCycle`` (another comparator course on relapse), if any."""
    from ivigsim.trial.rules import ComparatorCycle

    rules = getattr(arm, "rules", None)
    cycle = rules.on_relapse if rules is not None else None
    return cycle if isinstance(cycle, ComparatorCycle) else None


def uses_comparators(trial) -> bool:
    """Whether any arm of ``trial`` (its regimen, or its rules' comparator cycle), or its run-in, gives
    a comparator (the trial then runs on the comparator model)."""
    run_in = getattr(trial, "run_in", None)
    return any(regimen_has_comparators(a.regimen) or rule_cycle(a) is not None for a in trial.arms) or (
        run_in is not None and regimen_has_comparators(run_in.regimen))


def _inhibitor(parts) -> FcRnInhibitor | None:
    """The FcRn inhibitor among a regimen's or a cycle's ``parts`` (one per regimen:
    ``inhibitor_parameters``), if any."""
    return next((part for part in parts if isinstance(part, FcRnInhibitor)), None)


def _parts(regimen) -> tuple:
    return regimen.parts if regimen is not None else ()


def _path(trial, arm) -> list[tuple[str, FcRnInhibitor]]:
    """The FcRn inhibitors a patient of ``arm`` may carry in the body, with where each is given: the
    run-in's, then the arm's and its rules' re-treatment cycle's, or in a crossover every arm's (each
    patient passes through all)."""
    run_in = getattr(trial, "run_in", None)
    out = []
    if run_in is not None and (given := _inhibitor(_parts(run_in.regimen))) is not None:
        out.append(("run_in.regimen.fcrn_inhibitor.drug", given))
    arms = trial.arms if getattr(trial, "crossover", None) is not None else (arm,)
    for a in arms:
        i = trial.arms.index(a)
        if (given := _inhibitor(_parts(a.regimen))) is not None:
            out.append((f"arms.{i}.regimen.fcrn_inhibitor.drug", given))
        cycle = rule_cycle(a)
        if cycle is not None and (given := _inhibitor(cycle.parts)) is not None:
            out.append((f"arms.{i}.rules.on_relapse", given))
    return out


def path_parameters(trial, arm) -> dict[str, float]:
    """The FcRn-inhibitor constants of ``arm``'s patients (``FcRnInhibitor.own_parameters``): those of
    the one inhibitor their path gives (``_path``), so that a drug given in the run-in or an earlier
    crossover period keeps its own constants while it is still in the body; none for efgartigimod or
    no inhibitor. ``check_supported`` refuses paths with two different inhibitors' constants."""
    given = _path(trial, arm)
    return given[0][1].own_parameters() if given else {}


def path_variability(trial, arm) -> dict[str, float]:
    """The between-patient CVs of the constants ``path_parameters`` sets (``FcRnInhibitor.own_variability``)."""
    given = _path(trial, arm)
    return given[0][1].own_variability() if given else {}


#: The inhibitor's own etas: one normal per constant, in this fixed order, on the patient's
#: stream (``INHIBITOR_ETA_STREAM`` after the population's): a constant's eta is the patient's
#: whatever else varies, in the run-in, every arm and every period alike.
INHIBITOR_ETA_ORDER = tuple(f"fcrn_inhibitor_{n}" for n in (*INHIBITOR_CONSTANTS, *INHIBITOR_TMDD_CONSTANTS))
INHIBITOR_ETA_STREAM = "fcrn_inhibitor/eta"


def individual_constants(params: np.ndarray, names: list[str], cvs: dict[str, float], rng, stream: str,
                         ids: np.ndarray) -> np.ndarray:
    """``params`` (parameters x patients, the drug's typical constants already set) with each
    constant in ``cvs`` drawn per patient: typical x exp(eta), eta ~ N(0, log(1 + CV^2))
    (log-normal, NONMEM's exponential model), from the counter stream, so a patient's value
    depends only on (seed, stream, patient)."""
    if not cvs:
        return params
    from ivigsim.population.variability import individual, omega

    z = rng.normal(f"{stream}{INHIBITOR_ETA_STREAM}", np.asarray(ids, dtype=np.int64), len(INHIBITOR_ETA_ORDER))
    out = params.copy()
    for name, cv in cvs.items():
        i = names.index(name)
        out[i] = individual(out[i], omega("log", cv) * z[:, INHIBITOR_ETA_ORDER.index(name)], "log")
    return out


def check_supported(trial) -> None:
    """Refuse, in one line, what the runner does not do with comparators yet: an FcRn inhibitor's
    constants are model parameters, carried by a patient through the whole trial, so one patient's
    path (run-in, then arm; every arm of a crossover) may give only one inhibitor's constants:
    efgartigimod's (the model's own), nipocalimab's, or a user-defined drug's. The arm's own
    ``parameters`` may not set them again."""
    if not uses_comparators(trial):
        return
    for i, arm in enumerate(trial.arms):
        given = _path(trial, arm)
        for field, other in given[1:]:
            if other.own_parameters() != given[0][1].own_parameters():
                raise InputError(field, f"{given[0][1].drug} (one FcRn inhibitor's constants per patient: "
                                 f"{given[0][1].drug} is given at {given[0][0].removesuffix('.fcrn_inhibitor.drug')} "
                                 "and would still be in the body)", other.drug)
        for name in path_parameters(trial, arm).keys() & dict(arm.parameters).keys():
            raise InputError(f"arms.{i}.parameters.{name}", "not given twice: the FcRn inhibitor's constants set it",
                             arm.parameters[name])
        for name in sorted(path_parameters(trial, arm).keys() & _population_variability(trial)):
            raise InputError(f"population.variability.{name}", "no variability of a constant the FcRn inhibitor "
                             f"sets ({given[0][1].drug}'s own between-patient variability applies: "
                             "kinetics.between_patient_cv for a user-defined drug)", name)


def _population_variability(trial) -> set[str]:
    """Parameters any of the trial's populations gives a between-patient variability."""
    return {name for g in trial.groups() for name in g.population.variability.cv}


def check_arm_parameters(arm, where: str = "arms") -> None:
    """At parsing, an arm's own regimen: one FcRn inhibitor with one set of constants, which the
    arm's ``parameters`` may not set again (what the patients carry: ``path_parameters``)."""
    if arm.regimen is None:
        return
    try:
        own = inhibitor_parameters(arm.regimen.parts)
    except InputError as exc:
        raise InputError(f"{where}.regimen.{exc.field.removeprefix('regimen.')}", exc.expected, exc.got) from None
    for name in own.keys() & dict(arm.parameters).keys():
        raise InputError(f"{where}.parameters.{name}", inhibitor_setting(arm.regimen.parts), arm.parameters[name])


def patient_sessions(arm, patients, weights: np.ndarray) -> list[tuple]:
    """Each patient's comparator sessions (``ivigsim.dosing.comparators.Session``), all of them
    (also those after the trial's end: per-year counts need them). ``arm``: anything with a
    ``regimen`` (an arm, or the run-in)."""
    regimen = arm.regimen
    return [compile_sessions(regimen.parts, patients.patient(i), regimen.start_hour, float(weights[i]), ())
            for i in range(len(weights))]


def cycle_sessions(cycle, patients, weights: np.ndarray) -> list[tuple]:
    """Each patient's sessions of one comparator cycle (``ivigsim.trial.rules.ComparatorCycle``), days
    from the cycle's start: compiled from the patient's own covariates as an arm's sessions are."""
    return [compile_sessions(cycle.parts, patients.patient(i), cycle.start_hour, float(weights[i]), ())
            for i in range(len(weights))]


def _shift(session, days: float):
    return replace(session, start_day=session.start_day + days, end_day=session.end_day + days,
                   windows=tuple(replace(w, start_day=w.start_day + days, end_day=w.end_day + days)
                                 for w in session.windows))


def with_cycles(sessions: list[tuple] | None, templates: list[tuple], starts: np.ndarray) -> list[tuple]:
    """Each patient's sessions (``sessions``; None: none) and those of the comparator cycles the rules
    started (``templates``: one cycle per patient, ``cycle_sessions``; ``starts``: (n, C) start days,
    NaN-padded), each started cycle whole (its later sessions too, as a regimen's are listed)."""
    out = []
    for i, own in enumerate(templates):
        extra = [_shift(s, float(d)) for d in starts[i][np.isfinite(starts[i])] for s in own]
        out.append(tuple(sessions[i] if sessions is not None else ()) + tuple(extra))
    return out


def cycle_plasma_volumes(cycle, starts: np.ndarray, days: float) -> np.ndarray:
    """Estimated plasma volumes the exchanges of the started cycles remove within ``days``, per
    patient (session times do not depend on the patient)."""
    out = np.zeros(len(starts))
    for part in cycle.parts:
        if isinstance(part, PlasmaExchange):
            hour = cycle.start_hour if part.start_hour is None else part.start_hour
            rel = np.asarray(part.days, dtype=float) + hour / 24.0
            known = np.isfinite(starts)[..., None]
            within = known & (np.where(np.isfinite(starts), starts, 0.0)[..., None] + rel < days)
            out += part.plasma_volumes * within.sum(axis=(1, 2))
    return out


def schedule(model, trial, plan, sessions: list[tuple], weights: np.ndarray,
             days: float | None = None) -> InputSchedule:
    """Each patient's inputs: the arm's IVIG windows for 1 kg (``plan``) times the dosing weight,
    and the patient's own comparator windows, those starting within the trial (``days``: within
    its first ``days`` instead: a run-in, a crossover period)."""
    names = model.model.input_names
    from ivigsim.simulation import INFUSION_INPUT

    days = trial.days if days is None else days
    ivig = names.index(INFUSION_INPUT)
    per_kg = [w for w in plan.windows if w.start_day < days] if plan is not None else []
    windows = []
    for i, own in enumerate(sessions):
        w_i = [Window(w.start_day, w.end_day, w.rate_g_per_day * weights[i], ivig) for w in per_kg]
        w_i += [Window(x.start_day, x.end_day, x.rate, names.index(x.input))
                for s in own if s.start_day < days for x in s.windows]
        windows.append(w_i)
    return InputSchedule.from_windows(windows, len(names))


def window_table(model, sessions: list[tuple], days: float) -> np.ndarray:
    """Each patient's comparator windows of the sessions starting within ``days``, as an array
    (patients x windows x 4: start day, end day, rate, input index; NaN-padded): the form the
    rules' schedules take them in (``ivigsim.trial.rules``)."""
    names = model.model.input_names
    rows = [[(x.start_day, x.end_day, x.rate, names.index(x.input)) for s in own if s.start_day < days
             for x in s.windows] for own in sessions]
    out = np.full((len(rows), max([1, *(len(r) for r in rows)]), 4), np.nan)
    for i, r in enumerate(rows):
        if r:
            out[i, :len(r)] = r
    return out


def use_columns(trial, arm, sessions: list[tuple] | None, n: int, days: float | None = None,
                cycle_starts: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The ``USE_COLUMNS`` of one arm's patients (zeros for an arm without comparators); ``days``:
    what counts as "in the trial" (default the trial's span; a crossover period's length).
    ``cycle_starts``: under rules that start comparator cycles, when each patient's began (their
    sessions are in ``sessions``: ``with_cycles``)."""
    out = {c: np.zeros(n) for c in USE_COLUMNS}
    if sessions is None:
        return out
    days = trial.days if days is None else days
    out["plex_plasma_volumes"][:] = plasma_volumes_in_trial(trial, arm, days)
    if cycle_starts is not None:
        out["plex_plasma_volumes"] += cycle_plasma_volumes(rule_cycle(arm), cycle_starts, days)
    for i, own in enumerate(sessions):
        year = first_year_use(own)
        out["scig_g_per_year"][i] = year["scig_g_per_year"]
        out["fcrn_inhibitor_mg_per_year"][i] = year["fcrn_inhibitor_mg_per_year"]
        for s in own:
            if s.start_day >= days:
                continue
            if s.kind == "plasma_exchange":
                out["plex_sessions"][i] += 1
                out["plex_volume_L"][i] += s.amount
            elif s.kind == "scig":
                out["scig_doses"][i] += 1
                out["scig_g_in_trial"][i] += s.amount
            elif s.kind == "fcrn_inhibitor":
                out["fcrn_inhibitor_infusions"][i] += 1
                out["fcrn_inhibitor_mg_in_trial"][i] += MG_PER_G * s.amount
    return out


def first_year_use(sessions) -> dict[str, float]:
    """One patient's comparator use in the regimen's first 365.25 days (``DAYS_PER_YEAR``), from
    its sessions (``ivigsim.dosing.comparators.Session``): plasma-exchange sessions, grams of
    SCIG, mg of FcRn inhibitor. What the trial summary's per-year columns and ``ivigsim
    compare`` report."""
    year = [s for s in sessions if s.start_day < DAYS_PER_YEAR]
    return {"plex_sessions_per_year": sum(s.kind == "plasma_exchange" for s in year),
            "scig_g_per_year": sum((s.amount for s in year if s.kind == "scig"), 0.0),
            "fcrn_inhibitor_mg_per_year": sum((MG_PER_G * s.amount for s in year if s.kind == "fcrn_inhibitor"), 0.0)}


def plasma_volumes_in_trial(trial, arm, days: float | None = None) -> float:
    """Estimated plasma volumes an arm's exchanges remove within the trial, or within its first
    ``days`` (the same for every patient)."""
    if arm.regimen is None:
        return 0.0
    days = trial.days if days is None else days
    total = 0.0
    for part in arm.regimen.parts:
        if isinstance(part, PlasmaExchange):
            hour = arm.regimen.start_hour if part.start_hour is None else part.start_hour
            total += part.plasma_volumes * sum(1 for d in part.days if d + hour / 24.0 < days)
    return total


def describe_parts(arm) -> list[str]:
    """The arm's comparator parts in words (summary)."""
    out = []
    for part in (arm.regimen.parts if arm.regimen is not None else ()):
        if isinstance(part, PlasmaExchange):
            out.append(f"plasma exchange: {len(part.days)} session(s) of {part.plasma_volumes:g} plasma volumes "
                       f"({part.replacement}) on days {', '.join(f'{d:g}' for d in part.days)}")
        elif isinstance(part, SubcutaneousIgG):
            out.append(f"subcutaneous IgG: {part.g_per_kg:g} g/kg every {part.every_days:g} days x {len(part.days)}")
        elif isinstance(part, FcRnInhibitor):
            out.append(f"{part.drug}: {part.mg_per_kg:g} mg/kg on days {', '.join(f'{d:g}' for d in part.days)}")
    cycle = rule_cycle(arm)
    if cycle is not None:
        out.append(f"rules: on relapse {cycle.describe()}")
    return out


def summarise_use(trial, arm, columns: dict[str, np.ndarray], weights: np.ndarray, ivig_g_per_kg_per_year: float,
                  level: float = LEVEL, ivig_g_per_year: np.ndarray | None = None) -> dict:
    """One arm's comparator use: per column, the mean per patient with a t interval, and the total;
    and IgG per patient per year, IVIG (as written, on the dosing weight; under rules
    ``ivig_g_per_year``, each patient's IVIG given) plus SCIG."""
    out: dict = {"parts": describe_parts(arm)}
    w = np.asarray(weights, dtype=float)
    ok = np.isfinite(w)
    for c in USE_COLUMNS:
        v = np.asarray(columns[c], dtype=float)[ok]
        out[c] = {"description": USE_DESCRIPTIONS[c], "per_patient": mean_t(v, level).as_dict(),
                  "total": float(v.sum())}
    if ivig_g_per_year is None:
        ivig, how = w[ok] * ivig_g_per_kg_per_year, "IVIG as written"
    else:
        ivig, how = np.asarray(ivig_g_per_year, dtype=float)[ok], "IVIG given under the rules"
    igg_year = ivig + np.asarray(columns["scig_g_per_year"], dtype=float)[ok]
    out["igg_g_per_year"] = {"description": f"IgG per patient per year, grams: {how} plus subcutaneous IgG",
                             "per_patient": mean_t(igg_year, level).as_dict(), "total": float(igg_year.sum())}
    return out


#: What a run-in's comparator use reports: its sessions, litres, grams and mg within the run-in
#: (counted as the run-in's, not as any arm's; no per-year figures for a phase of fixed length).
RUN_IN_USE_COLUMNS = ("plex_sessions", "plex_volume_L", "plex_plasma_volumes", "scig_doses", "scig_g_in_trial",
                      "fcrn_inhibitor_infusions", "fcrn_inhibitor_mg_in_trial")


def run_in_use(run_in, columns: dict[str, np.ndarray], level: float = LEVEL) -> dict:
    """The selected patients' comparator use during the run-in (``columns``: ``use_columns`` with the
    run-in's days): per column the mean per patient with a t interval, and the total."""
    out: dict = {"parts": describe_parts(run_in)}
    for c in RUN_IN_USE_COLUMNS:
        v = np.asarray(columns[c], dtype=float)
        out[c] = {"description": USE_DESCRIPTIONS[c].replace("within the trial", "within the run-in"),
                  "per_patient": mean_t(v, level).as_dict(), "total": float(v.sum())}
    return out


def format_run_in_use(entry: dict) -> str:
    """One printed line: the selected patients' comparator use during the run-in (``entry``: a run-in
    arm entry of the summary with ``comparator_use``)."""
    u = entry["comparator_use"]

    def mean(c: str) -> str:
        e = u[c]["per_patient"]["estimate"]
        return "n/a" if e is None else f"{e:.4g}"

    text = (f"run-in comparator use per patient: {mean('plex_sessions')} exchange sessions "
            f"({mean('plex_volume_L')} L), "
            f"{mean('scig_g_in_trial')} g SCIG, {mean('fcrn_inhibitor_mg_in_trial')} mg FcRn inhibitor")
    events = entry.get("comparator_adverse_events")
    return text + (f"; adverse events of its comparators: {events['note']}" if events else "")


def format_use(summary: dict) -> list[str]:
    """The printed table of comparator use (empty for a trial without comparators)."""
    arms = [a for a in summary.get("arms", []) if "comparator_use" in a]
    if not arms:
        return []

    def cell(entry: dict) -> str:
        e = entry["per_patient"]
        return "n/a" if e["estimate"] is None else f"{e['estimate']:.4g}"

    lines = ["", "comparator use per patient (plasma exchange, subcutaneous IgG, FcRn inhibitor; IgG per year: "
             "IVIG as written + SCIG)",
             f"  {'arm':34s} {'PLEX sessions':>13s} {'litres':>8s} {'SCIG g/year':>11s} {'inhibitor mg':>12s} "
             f"{'IgG g/year':>10s}"]
    for a in arms:
        u = a["comparator_use"]
        lines.append(f"  {a['arm']:34s} {cell(u['plex_sessions']):>13s} {cell(u['plex_volume_L']):>8s} "
                     f"{cell(u['scig_g_per_year']):>11s} {cell(u['fcrn_inhibitor_mg_in_trial']):>12s} "
                     f"{cell(u['igg_g_per_year']):>10s}")
        events = a.get("comparator_adverse_events")
        if events:
            lines.append(f"    adverse events of its comparators: {events['note']}")
    return lines

