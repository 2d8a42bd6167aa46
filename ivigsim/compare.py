"""One patient under several regimens, side by side (``ivigsim compare``).

Each regimen is a scenario (``Scenario``): the same patient and disease are expected. What
differs besides the regimen (the patient, parameters, mechanisms, span, risk factors) is
reported as a note, not refused: a steward may want to see "70 kg on actual weight" next to
"the same patient at 90 kg". Scenarios of different diseases are refused: their readouts are
different quantities and cannot be overlaid.

Scenarios that run on the same compiled model with the same solver settings are solved in
one batch (one engine call; each patient has its own step size, so a batch gives each
scenario its own answer up to the solver's tolerance) and finished by ``simulate``'s own code
(``simulation.finish_dataset``), so every number here is what ``ivigsim simulate`` prints for
that file alone. Grams come from the regimen (``ivigsim.trial.stewardship.regimen_use``: g/kg
of each part, and of the regimen's first 365.25 days as written, times the dosing weight).

Pure: returns values (``Comparison``; its ``table()`` is a DataFrame); files are the CLI's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from ivigsim.errors import InputError
from ivigsim.scenario import Scenario

#: Most scenarios one comparison takes (a table wider than this is unreadable; the plot's colours repeat).
MAX_SCENARIOS = 10


@dataclass(frozen=True)
class Row:
    """One scenario's numbers (grams from the regimen, the rest from its simulation)."""

    label: str
    scenario: str
    disease: str
    patient: str
    regimen: str  # its parts in words ("course: 2 g/kg over 2 day(s); maintenance dose: ...")
    product: str | None
    dosing_weight: str | None  # actual, ideal, adjusted (None: no regimen)
    dosing_weight_kg: float | None
    course_g: float | None  # the loading course(s): total grams (None without a course)
    dose_g: float | None  # one maintenance dose, or else one single dose (None without either)
    infusions_per_year: int
    g_per_kg_per_year: float
    grams_per_year: float
    infused_g: float  # IVIG infused by the end of the simulated span (the summary's)
    baseline_igg_g_per_L: float
    peak_igg_g_per_L: float
    peak_day: float
    trough_igg_g_per_L: float
    trough_day: float
    #: Total IgG just before the last infusion within the span (a maintenance regimen's trough; None without one).
    last_pre_infusion_igg_g_per_L: float | None
    readout: str | None
    readout_label: str | None
    readout_baseline: float | None
    readout_best: float | None
    readout_best_day: float | None
    readout_final: float | None
    course_risks: tuple[tuple[str, float], ...] = ()
    #: The comparators' use in the regimen's first 365.25 days, as the trial summary counts it
    #: (``ivigsim.trial.comparators.use_columns``): subcutaneous IgG in grams on the dosing
    #: weight, plasma-exchange sessions, FcRn inhibitor in mg (actual weight, capped).
    scig_grams_per_year: float = 0.0
    plex_sessions_per_year: int = 0
    inhibitor_mg_per_year: float = 0.0
    gives_comparator: bool = False

    @property
    def igg_grams_per_year(self) -> float:
        """IgG given in the first year: IVIG as written plus subcutaneous IgG, grams."""
        return self.grams_per_year + self.scig_grams_per_year


@dataclass(frozen=True)
class Comparison:
    rows: tuple[Row, ...]
    datasets: tuple[xr.Dataset, ...] = field(repr=False)
    #: What differs between the scenarios besides the regimen, one line each.
    notes: tuple[str, ...] = ()
    #: Engine calls made (1 when every scenario shared a model and solver settings).
    engine_calls: int = 1

    @property
    def disease(self) -> str:
        return self.rows[0].disease

    def table(self) -> pd.DataFrame:
        """One row per scenario; adverse events as ``risk_<event>`` (probability over the course)."""
        records = []
        events = list(dict.fromkeys(e for r in self.rows for e, _ in r.course_risks))
        for r in self.rows:
            record = {"key": _key(len(records))}
            record |= {k: getattr(r, k) for k in Row.__dataclass_fields__ if k != "course_risks"}
            record["igg_grams_per_year"] = r.igg_grams_per_year
            risks = dict(r.course_risks)
            record |= {f"risk_{e}": risks.get(e, np.nan) for e in events}
            records.append(record)
        return pd.DataFrame.from_records(records)

    def lines(self) -> list[str]:
        """The table as text: a key (A, B, ...: each scenario's name and regimen), then one column
        per scenario and one row per quantity."""
        def num(v, digits: int = 4) -> str:
            return "-" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{digits}g}"

        def day(v) -> str:
            return "-" if v is None else f"day {v:.2f}"

        keys = [_key(k) for k in range(len(self.rows))]
        out = [f"{key}: {r.label} ({r.regimen}{'' if r.product is None else ', ' + r.product})"
               for key, r in zip(keys, self.rows)]
        rows: list[tuple[str, list[str]]] = [
            ("", keys),
            ("dosing weight", ["-" if r.dosing_weight is None else f"{r.dosing_weight} {r.dosing_weight_kg:.4g} kg"
                               for r in self.rows]),
            ("course (g)", [num(r.course_g) for r in self.rows]),
            ("dose (g)", [num(r.dose_g) for r in self.rows]),
            ("infusions, first year", [str(r.infusions_per_year) for r in self.rows]),
            ("g/kg, first year", [num(r.g_per_kg_per_year) for r in self.rows]),
            ("grams, first year", [num(r.grams_per_year) for r in self.rows]),
        ]
        if any(r.gives_comparator for r in self.rows):
            rows += [
                ("SCIG grams, first year", [num(r.scig_grams_per_year) for r in self.rows]),
                ("IgG grams (IVIG + SCIG), first year", [num(r.igg_grams_per_year) for r in self.rows]),
                ("plasma exchanges, first year", [str(r.plex_sessions_per_year) for r in self.rows]),
                ("FcRn inhibitor mg, first year", [num(r.inhibitor_mg_per_year) for r in self.rows]),
            ]
        rows += [
            ("IVIG infused (g)", [num(r.infused_g) for r in self.rows]),
            ("IgG peak (g/L)", [num(r.peak_igg_g_per_L) for r in self.rows]),
            ("  on", [day(r.peak_day) for r in self.rows]),
            ("IgG trough (g/L)", [num(r.trough_igg_g_per_L) for r in self.rows]),
            ("  on", [day(r.trough_day) for r in self.rows]),
            ("IgG before last infusion", [num(r.last_pre_infusion_igg_g_per_L) for r in self.rows]),
        ]
        first = self.rows[0]
        if first.readout is not None:
            rows += [(f"{first.readout_label}: before", [num(r.readout_baseline) for r in self.rows]),
                     ("  best", [num(r.readout_best) for r in self.rows]),
                     ("  on", [day(r.readout_best_day) for r in self.rows]),
                     ("  at the end", [num(r.readout_final) for r in self.rows])]
        events = list(dict.fromkeys(e for r in self.rows for e, _ in r.course_risks))
        if events:
            rows.append(("adverse events, course (%)", ["" for _ in self.rows]))
            for e in events:
                rows.append((f"  {e.replace('_', ' ')}",
                             [num(100 * dict(r.course_risks)[e], 3) if e in dict(r.course_risks) else "-"
                              for r in self.rows]))
        head = max(len(name) for name, _ in rows) + 2
        width = max(14, *(len(v) + 2 for _, values in rows for v in values))
        out += [f"{name:<{head}}" + "".join(f"{v:>{width}}" for v in values) for name, values in rows]
        out += [f"note: {n}" for n in self.notes]
        return out


def _key(k: int) -> str:
    return chr(ord("A") + k)


def labels_for(scenarios: Sequence[Scenario], files: Sequence[str] | None = None) -> list[str]:
    """Each scenario's name, or, where names repeat, its file's name (or A, B, ...)."""
    names = [s.name for s in scenarios]
    if len(set(names)) == len(names):
        return names
    if files is not None and len(set(files)) == len(files):
        return list(files)
    return [f"{chr(65 + k)}: {n}" for k, n in enumerate(names)]


def differences(scenarios: Sequence[Scenario], labels: Sequence[str]) -> list[str]:
    """What differs besides the regimen, one line per kind (empty: one patient, as expected)."""
    notes = []
    checks = (("patients differ", lambda s: describe_patient(s)),
              ("parameters differ", lambda s: dict(sorted(s.parameters.items())) or "none set"),
              ("mechanisms differ", lambda s: dict(sorted(s.mechanisms.items())) or "all on"),
              ("indications differ", lambda s: s.indication or "none"),
              ("risk factors differ", lambda s: s.risk_factors),
              ("simulated spans differ", lambda s: f"{s.days:g} days"))
    for what, of in checks:
        values = [of(s) for s in scenarios]
        if any(v != values[0] for v in values[1:]):
            notes.append(f"{what}: " + "; ".join(f"{label}: {v}" for label, v in zip(labels, values)))
    return notes


def describe_patient(s: Scenario) -> str:
    p = s.patient
    height = "" if p.height_cm is None else f", {p.height_cm:g} cm"
    return f"{p.weight_kg:g} kg{height}, {p.sex}, {p.age_years:g} y"


def compare(scenarios: Sequence[Scenario], labels: Sequence[str] | None = None) -> Comparison:
    """Simulate ``scenarios`` (one engine batch per shared model and solver) and tabulate them."""
    from ivigsim.engine.solve import Problem, SaveAt, solve_robustly
    from ivigsim.simulation import finish_dataset, plan_schedule, saved_times, setup_scenario, to_dataset

    scenarios = list(scenarios)
    if not 2 <= len(scenarios) <= MAX_SCENARIOS:
        raise InputError("FILES", f"2 to {MAX_SCENARIOS} scenario files", f"{len(scenarios)}")
    labels = list(labels) if labels is not None else labels_for(scenarios)
    diseases = [s.disease_name for s in scenarios]
    if len(set(diseases)) > 1:
        raise InputError("FILES", "scenarios of one disease (one patient under several regimens: readouts of "
                         "different diseases cannot be overlaid)",
                         ", ".join(f"{d} ({label})" for d, label in zip(diseases, labels)))
    setups = [setup_scenario(s) for s in scenarios]
    groups: dict[tuple, list[int]] = {}
    for k, (s, setup) in enumerate(zip(scenarios, setups)):
        groups.setdefault((id(setup.model), s.solver), []).append(k)
    datasets: list[xr.Dataset | None] = [None] * len(scenarios)
    for members in groups.values():
        model = setups[members[0]].model
        own = [saved_times(scenarios[k], setups[k].plan) for k in members]
        ts = own[0]
        for t in own[1:]:
            ts = np.union1d(ts, t)
        params = np.concatenate([setups[k].parameters for k in members], axis=1)
        schedule = plan_schedule(model, [setups[k].plan for k in members])
        solution = solve_robustly(Problem(model, params, schedule), SaveAt(ts), scenarios[members[0]].solver)
        full = to_dataset(model, params, schedule, solution)
        for j, k in enumerate(members):
            # Each scenario keeps its own saved times (a subset of the batch's), so its peaks,
            # troughs and best day are read where simulate alone would read them.
            one = full.isel(patient=[j], time=np.searchsorted(ts, own[j])).assign_coords(patient=[0])
            datasets[k] = finish_dataset(one, scenarios[k], setups[k].plan)
    rows = tuple(_row(label, s, setup.plan, ds) for label, s, setup, ds in zip(labels, scenarios, setups, datasets))
    failed = [label for label, ds in zip(labels, datasets) if int(ds["solver_status"].values[0]) != 0]
    if failed:
        raise InputError("FILES", "scenarios the solver can run (try a tighter simulation.rtol)",
                         f"the solve failed for {', '.join(failed)}")
    return Comparison(rows, tuple(datasets), tuple(differences(scenarios, labels)), len(groups))


def _row(label: str, scenario: Scenario, plan, ds: xr.Dataset) -> Row:
    from ivigsim.dosing.regimen import Course, Dose, Maintenance
    from ivigsim.model.library import get_disease
    from ivigsim.summary import summarise
    from ivigsim.trial.stewardship import regimen_use

    summary = summarise(ds)
    use = regimen_use(scenario.regimen, scenario.indication, scenario.days)
    weight = plan.dosing_weight_kg if plan is not None else None
    course_g = dose_g = None
    if scenario.regimen is not None:
        parts = scenario.regimen.parts
        courses = [p.total_g_per_kg for p in parts if isinstance(p, Course)]
        doses = ([p.g_per_kg for p in parts if isinstance(p, Maintenance)]
                 or [p.g_per_kg for p in parts if isinstance(p, Dose)])
        course_g = sum(courses) * weight if courses else None
        dose_g = doses[0] * weight if doses else None
    g_per_kg_year = float(sum(use.first_year))
    disease = get_disease(scenario.disease)
    readout = next((r for r in disease.readouts if r.higher_is_better is not None), None)
    best = next((b for b in summary.readouts if readout is not None and b.name == readout.name), None)
    return Row(
        label=label, scenario=scenario.name, disease=scenario.disease_name, patient=describe_patient(scenario),
        regimen="no IVIG" if scenario.regimen is None else "; ".join(text for text, _ in use.parts) or "comparator only",
        product=use.product, dosing_weight=None if plan is None else scenario.regimen.dosing_weight,
        dosing_weight_kg=weight, course_g=course_g, dose_g=dose_g, infusions_per_year=len(use.first_year),
        g_per_kg_per_year=g_per_kg_year, grams_per_year=g_per_kg_year * (weight or 0.0),
        infused_g=summary.infused_g, baseline_igg_g_per_L=summary.baseline_igg_g_per_L,
        peak_igg_g_per_L=summary.peak_igg_g_per_L, peak_day=summary.peak_day,
        trough_igg_g_per_L=summary.trough_igg_g_per_L, trough_day=summary.trough_day,
        last_pre_infusion_igg_g_per_L=(float(ds["igg_total_pre_infusion_g_per_L"].values[0, -1])
                                       if "igg_total_pre_infusion_g_per_L" in ds else None),
        readout=None if best is None else best.name, readout_label=None if readout is None else readout.label,
        readout_baseline=None if best is None else best.baseline, readout_best=None if best is None else best.best,
        readout_best_day=None if best is None else best.best_day, readout_final=None if best is None else best.final,
        course_risks=summary.course_risks, **_comparator_use(plan),
    )


def _comparator_use(plan) -> dict:
    """The Row's comparator fields from the plan's sessions (``TreatmentPlan.sessions``), counted
    as a trial's summary counts them (``trial.comparators.first_year_use``)."""
    from ivigsim.trial.comparators import first_year_use

    sessions = getattr(plan, "sessions", ())
    year = first_year_use(sessions)
    return {"scig_grams_per_year": year["scig_g_per_year"], "plex_sessions_per_year": year["plex_sessions_per_year"],
            "inhibitor_mg_per_year": year["fcrn_inhibitor_mg_per_year"], "gives_comparator": bool(sessions)}
