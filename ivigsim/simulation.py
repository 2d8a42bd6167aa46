"""Simulate scenarios: dosing compiled to inputs, solved by the batched engine,
returned as a labelled ``xarray.Dataset`` (dims ``patient`` x ``time``).

One patient is a batch of one: the same path serves trials.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
import numpy as np
import xarray as xr

from ivigsim import __version__
from ivigsim._xarray import defer_optional_array_probes
from ivigsim.dosing import InfusionPlan
from ivigsim.engine.schedule import InputSchedule, Window
from ivigsim.engine.outputs import observe_solution
from ivigsim.engine.solve import Problem, SaveAt, Solution, Status, solve_robustly
from ivigsim.errors import InputError
from ivigsim.model.compose import CompiledModel
from ivigsim.model.library import compiled_model, get_disease
from ivigsim.safety.factors import RiskFactors
from ivigsim.safety.report import EVENT_DIM, risk_table, simulated_source
from ivigsim.scenario import Scenario

defer_optional_array_probes()  # no dask or pint import to build a Dataset of NumPy arrays

INFUSION_INPUT = "ivig_infusion_g_per_day"


def output_times(days: float, every: float) -> np.ndarray:
    n = int(np.floor(days / every + 1e-9))
    ts = np.arange(n + 1) * every
    return ts if ts[-1] >= days - 1e-9 else np.append(ts, days)


def plan_schedule(model: CompiledModel, plans: Sequence[InfusionPlan | None]) -> InputSchedule:
    """The inputs' windows: IVIG infusions, and any comparator's sessions (plasma exchange,
    subcutaneous IgG, an FcRn inhibitor) on their own inputs (``ivigsim.dosing.comparators``)."""
    names = model.model.input_names
    index = names.index(INFUSION_INPUT)
    missing = sorted({w.input for plan in plans if plan for w in getattr(plan, "input_windows", ())} - set(names))
    if missing:
        # A caller passed a model without the comparators (compiled_model(disease, comparators=True) has them).
        written = {"plasma_exchange_L_per_day": "plasma_exchange", "donor_plasma_L_per_day": "plasma_exchange",
                   "scig_g_per_day": "scig", "fcrn_inhibitor_infusion_g_per_day": "fcrn_inhibitor"}
        raise InputError("regimen", "IVIG parts only here (this command or model does not take comparators yet; "
                         "simulate, explain, sensitivity, compare, trial and export-sbml do)",
                         written.get(missing[0], missing[0]))
    windows = [
        [Window(w.start_day, w.end_day, w.rate_g_per_day, index) for w in plan.windows]
        + [Window(w.start_day, w.end_day, w.rate, names.index(w.input)) for w in getattr(plan, "input_windows", ())]
        if plan else []
        for plan in plans
    ]
    return InputSchedule.from_windows(windows, len(names))


def scenario_parameters(model: CompiledModel, scenario: Scenario) -> dict[str, float]:
    """The parameter overrides a scenario implies: the disease's typical values, the
    patient, mechanism switches, then the user's own values."""
    overrides: dict[str, float] = dict(get_disease(scenario.disease).defaults)
    overrides.update(scenario.patient.covariate_parameters())
    overrides.update(model.model.switch_overrides(scenario.mechanisms))
    overrides.update(_regimen_parameters(scenario))
    overrides.update(scenario.parameters)
    return overrides


def _regimen_parameters(scenario: Scenario) -> dict[str, float]:
    """A user-defined FcRn inhibitor's own constants (``ivigsim.dosing.comparators.InhibitorKinetics``);
    the scenario's parameters may not set them too."""
    from ivigsim.dosing.comparators import inhibitor_parameters, inhibitor_setting

    own = inhibitor_parameters(scenario.regimen.parts) if scenario.regimen is not None else {}
    for name in own.keys() & scenario.parameters.keys():
        raise InputError(f"parameters.{name}", inhibitor_setting(scenario.regimen.parts), scenario.parameters[name])
    return own


def needs_comparators(plan: InfusionPlan | None) -> bool:
    """Whether a compiled regimen gives a comparator (plasma exchange, SCIG, an FcRn inhibitor)."""
    return bool(getattr(plan, "sessions", ()))


def model_for(scenario: Scenario, plan: InfusionPlan | None, model: CompiledModel | None = None) -> CompiledModel:
    """The model a scenario runs on: the disease's IVIG model, or its comparator variant when the
    regimen gives a comparator (``ivigsim.model.library``). A caller's own model is kept, unless
    it is the library's IVIG model of the scenario's disease and the regimen needs comparators."""
    comparators = needs_comparators(plan)
    if model is None or (comparators and model is compiled_model(scenario.disease)):
        return compiled_model(scenario.disease, comparators)
    return model


@dataclass(frozen=True)
class ScenarioSetup:
    """A scenario made ready for the engine: its compiled regimen (``plan``), one parameter
    column per variant and the infusion schedule. ``simulate``, ``simulate_variants`` and
    the SBML export all start from it, so the three agree on what a scenario means."""

    model: CompiledModel
    plan: InfusionPlan | None
    parameters: np.ndarray  # (P, N)
    schedule: InputSchedule

    def problem(self) -> Problem:
        return Problem(self.model, self.parameters, self.schedule)


def setup_scenario(scenario: Scenario, model: CompiledModel | None = None,
                   variants: Sequence[dict[str, float]] | None = None) -> ScenarioSetup:
    """The scenario's parameters (once, or once per variant of overrides) and schedule."""
    plan = scenario.regimen.compile(scenario.patient, scenario.indication) if scenario.regimen else None
    model = model_for(scenario, plan, model)
    base = scenario_parameters(model, scenario)
    variants = [{}] if variants is None else list(variants)
    params = np.concatenate([model.model.parameter_array({**base, **v}) for v in variants], axis=1)
    return ScenarioSetup(model, plan, params, plan_schedule(model, [plan] * len(variants)))


def simulate_variants(
    scenario: Scenario, variants: Sequence[dict[str, float]], model: CompiledModel | None = None
) -> xr.Dataset:
    """The scenario's patient and regimen, once per variant of parameter overrides, in one batch.

    Used for mechanism attribution (each variant a set of switches) and sensitivity runs.
    Returns a Dataset whose ``patient`` dimension indexes the variants.
    """
    setup = setup_scenario(scenario, model, variants)
    grid = output_times(scenario.days, scenario.output_every_days)
    solution = solve_robustly(setup.problem(), SaveAt(grid), scenario.solver)
    ds = to_dataset(setup.model, setup.parameters, setup.schedule, solution)
    ds.attrs.update(scenario=scenario.name, disease=scenario.disease_name,
                    indication=scenario.indication or "none")
    label_readouts(ds, scenario)
    return ds


def simulate(scenario: Scenario, model: CompiledModel | None = None) -> xr.Dataset:
    """Simulate one scenario; returns a Dataset with one patient.

    The times are the regular output grid plus every infusion's start and end (within the
    span), so per-infusion troughs and peaks are exact, not sampled, and the results file
    and the plot agree with the summary.
    """
    setup = setup_scenario(scenario, model)
    ts = saved_times(scenario, setup.plan)
    solution = solve_robustly(setup.problem(), SaveAt(ts), scenario.solver)
    full = to_dataset(setup.model, setup.parameters, setup.schedule, solution)
    return finish_dataset(full, scenario, setup.plan)


def saved_times(scenario: Scenario, plan: InfusionPlan | None) -> np.ndarray:
    """The times ``simulate`` saves: the output grid plus every infusion's start and end
    (infusions ending within the span)."""
    grid = output_times(scenario.days, scenario.output_every_days)
    infusions = [inf for inf in (plan.infusions if plan else ()) if inf.end_day <= scenario.days]
    edges = np.array([t for inf in infusions for t in (inf.start_day, inf.end_day)])
    return np.union1d(grid, edges)


def finish_dataset(full: xr.Dataset, scenario: Scenario, plan: InfusionPlan | None) -> xr.Dataset:
    """``simulate``'s result from the one-patient Dataset solved at ``saved_times`` (``to_dataset``):
    per-infusion peaks and troughs, readout metadata, adverse-event risks. Split from ``simulate``
    so that several scenarios solved in one batch (``ivigsim.compare``) are finished by the same code."""
    ts = full["time"].values
    infusions = [inf for inf in (plan.infusions if plan else ()) if inf.end_day <= scenario.days]
    # The saved times are the grid plus every infusion's start and end, so the file and the
    # plot hold the peaks and troughs the summary prints (an end falls between grid points).
    ds = full
    if infusions:
        at = lambda times: full["igg_total_g_per_L"].isel(time=np.searchsorted(ts, times)).values  # noqa: E731
        starts = np.array([inf.start_day for inf in infusions])
        ends = np.array([inf.end_day for inf in infusions])
        ds = ds.assign(
            infusion_start_day=("infusion", starts, {"units": "day"}),
            infusion_end_day=("infusion", ends, {"units": "day"}),
            infusion_amount_g=("infusion", np.array([inf.amount_g for inf in infusions]), {"units": "g"}),
            igg_total_pre_infusion_g_per_L=(("patient", "infusion"), at(starts),
                                            {"units": "g/L", "long_name": "total IgG just before the infusion (trough)"}),
            igg_total_post_infusion_g_per_L=(("patient", "infusion"), at(ends),
                                             {"units": "g/L", "long_name": "total IgG at the infusion's end (peak)"}),
        )
    ds.attrs.update(scenario=scenario.name, disease=scenario.disease_name,
                    indication=scenario.indication or "none")
    label_readouts(ds, scenario)
    if plan is not None:
        ds = attach_risks(ds, scenario, scenario.risk_factors)
        ds.attrs["infusions"] = _describe_infusions(plan)
        ds.attrs["dosing_weight_kg"] = plan.dosing_weight_kg
        if plan.infusions:  # a regimen of comparators only has none
            ds.attrs["last_infusion_end_day"] = max(inf.end_day for inf in plan.infusions)
        if getattr(plan, "sessions", ()):
            ds.attrs["sessions"] = "; ".join(s.label for s in plan.sessions)
            ds.attrs["comparator_adverse_events"] = _comparator_events(plan, scenario)
    return ds


def _comparator_events(plan, scenario: Scenario) -> str:
    """The comparators' own adverse events over the sessions that start within the span: the
    risk of each one the scenario declares a rate for, the others named (``ivigsim.safety.comparators``)."""
    from ivigsim.safety.comparators import SESSION_EXPOSURES, patient_events_note

    counts = {column: 0 for column in SESSION_EXPOSURES.values()}
    for s in plan.sessions:
        if s.start_day < scenario.days:
            counts[SESSION_EXPOSURES[s.kind]] += 1
    return patient_events_note(counts, scenario.comparator_event_rates)


def simulated_igg_rises(plan: InfusionPlan, dataset: xr.Dataset) -> np.ndarray:
    """Rise in total IgG at each infusion's end over the pre-treatment value, from ``simulate``'s
    result: the exposure the thrombosis models read (``ivigsim.safety.exposure``).

    NaN for infusions the result does not cover (they end after the simulated span).
    """
    rises = np.full(len(plan.infusions), np.nan)
    if "igg_total_post_infusion_g_per_L" not in dataset:
        return rises
    baseline = float(dataset["igg_total_g_per_L"].isel(patient=0, time=0))
    starts = dataset["infusion_start_day"].values
    post = dataset["igg_total_post_infusion_g_per_L"].isel(patient=0).values
    for k, infusion in enumerate(plan.infusions):
        match = np.flatnonzero(np.isclose(starts, infusion.start_day, rtol=0, atol=1e-9))
        if match.size:
            rises[k] = post[match[0]] - baseline
    return rises


def attach_risks(dataset: xr.Dataset, scenario: Scenario, factors: RiskFactors | None = None) -> xr.Dataset:
    """``simulate``'s result with the risks of its infusions added (dims patient x infusion x event),
    from the IgG rises it holds (``ivigsim.safety.report.risk_table``, called down into).

    Only infusions that end within the simulated span are included, as in ``simulate``'s
    per-infusion peaks; the course is those infusions.
    """
    if scenario.regimen is None:
        return dataset
    plan = scenario.regimen.compile(scenario.patient, scenario.indication)
    plan = replace(plan, infusions=tuple(i for i in plan.infusions if i.end_day <= scenario.days))
    if not plan.infusions:
        return dataset
    rises = simulated_igg_rises(plan, dataset)
    risks = risk_table(plan, scenario.patient, factors, rises, simulated_source(rises), scenario.name)
    return dataset.assign_coords(event=risks[EVENT_DIM].values).assign(
        adverse_event_probability=(("patient", "infusion", "event"), risks["probability"].values[None],
                                   {"units": "1", "long_name": "probability of the adverse event at the infusion"}),
        adverse_event_course_probability=(("patient", "event"), risks["course_probability"].values[None],
                                          {"units": "1", "long_name": "probability of at least one event over the infusions"}),
    )


def label_readouts(ds: xr.Dataset, scenario: Scenario) -> None:
    """Write each readout's metadata from its disease declaration (label, clinical scale,
    which way is better, thresholds: ``Readout.attrs``) into its variable's attributes, so a
    results file carries how to read it."""
    disease = get_disease(scenario.disease)
    for readout in disease.readouts:
        if readout.name in ds:
            ds[readout.name].attrs.update(readout.attrs(disease.name))


def _describe_infusions(plan: InfusionPlan) -> str:
    return "; ".join(
        f"day {inf.start_day:g}-{inf.end_day:.3f}: {inf.amount_g:.4g} g" for inf in plan.infusions
    )


def to_dataset(model: CompiledModel, params: np.ndarray, schedule: InputSchedule, solution: Solution) -> xr.Dataset:
    """States, outputs and inputs as variables with units, dims (patient, time)."""
    ts = solution.ts
    n = params.shape[1]
    t_grid = np.broadcast_to(ts[:, None], (len(ts), n))
    y = solution.ys.transpose(1, 0, 2)  # (S, T, N)
    u = schedule.value_at(t_grid)
    outputs = observe_solution(Problem(model, params, schedule), solution)

    m = model.model
    units = {a.name: a.unit for a in m.assignments} | {s.name: s.unit for s in m.states} | {
        i.name: i.unit for i in m.inputs
    }
    descriptions = {a.name: a.description for a in m.assignments} | {
        s.name: s.description for s in m.states
    } | {i.name: i.description for i in m.inputs}
    data = {name: outputs[name] for name in m.output_names}
    data |= {name: y[i] for i, name in enumerate(m.state_names)}
    data |= {name: u[i] for i, name in enumerate(m.input_names)}
    variables = {
        name: (("time", "patient"), np.asarray(value, dtype=float),
               {"units": units[name], "long_name": descriptions[name]})
        for name, value in data.items()
    }
    ds = xr.Dataset(
        variables,
        coords={
            "time": ("time", ts, {"units": "day"}),
            "patient": ("patient", np.arange(n)),
        },
        attrs={"ivigsim_version": __version__},
    ).transpose("patient", "time")
    ds["solver_status"] = ("patient", solution.status.astype(int), {"flag_meanings": " ".join(s.name for s in Status)})
    ds["solver_steps"] = ("patient", solution.n_steps)
    return ds


# --- parameter uncertainty (ivigsim.uncertainty) ----------------------------------------------


def ensemble_variants(scenario: Scenario, ensemble, model: CompiledModel) -> list[dict[str, float]]:
    """One override dict per vector of ``ensemble`` (an ``ivigsim.uncertainty.Ensemble``): each
    calibrated parameter the model declares, moved from the value this scenario runs with (the
    declared one, or the disease's typical value) by the vector's deviation. Parameters the
    scenario's file sets itself stay as set: the user chose them. So do an FcRn inhibitor's own
    constants (nipocalimab's, or a user-defined drug's ``kinetics``): the ensemble's uncertainty on
    the inhibitor's affinity was fitted for efgartigimod (the parameter's own value, Ulrichts
    2018's lowering), and says nothing of another drug's."""
    m = model.model
    base = scenario_parameters(model, scenario)
    own = set(scenario.parameters) | set(_regimen_parameters(scenario))
    names = [n for n in ensemble.names if n in m.parameter_names and n not in own]
    centre = {n: float(base.get(n, m.parameter(n).value)) for n in names}
    return ensemble.only(names).values(centre, {n: tuple(m.parameter(n).bounds) for n in names})


def simulate_members(scenario: Scenario, ensemble, times: np.ndarray | None = None,
                     model: CompiledModel | None = None) -> xr.Dataset:
    """The scenario once per parameter vector of ``ensemble``, in one engine batch; ``patient``
    indexes the vectors. ``times``: where to save (``simulate``'s times, so a band lines up
    with the point simulation)."""
    plan = scenario.regimen.compile(scenario.patient, scenario.indication) if scenario.regimen else None
    model = model_for(scenario, plan, model)
    setup = setup_scenario(scenario, model, ensemble_variants(scenario, ensemble, model))
    ts = output_times(scenario.days, scenario.output_every_days) if times is None else np.asarray(times, dtype=float)
    solution = solve_robustly(setup.problem(), SaveAt(ts), scenario.solver)
    ds = to_dataset(setup.model, setup.parameters, setup.schedule, solution)
    ds.attrs.update(scenario=scenario.name, disease=scenario.disease_name)
    if plan is not None and plan.infusions:
        ds.attrs["last_infusion_end_day"] = max(inf.end_day for inf in plan.infusions)
    return ds


def with_band(point: xr.Dataset, members: xr.Dataset, level: float, names: Sequence[str]) -> xr.Dataset:
    """``point`` (a one-patient ``simulate`` result) plus, for each of ``names``,
    ``<name>_param_median``, ``<name>_param_lower`` and ``<name>_param_upper``: the median and
    the ``level`` band over the members whose solve succeeded (``ivigsim.uncertainty.band``).
    The point simulation's own variables are unchanged (the median is not the point)."""
    from ivigsim.uncertainty import SOURCE, band, describe

    ok = members["solver_status"].values == 0
    if not ok.any():
        raise InputError("--ensemble", "parameter vectors the solver can run", "every vector's solve failed")
    added = {}
    for name in names:
        median, lower, upper = band(members[name].values[ok], level, axis=0)
        attrs = point[name].attrs
        for part, values, what in (("median", median, "median"),
                                   ("lower", lower, f"lower end of the {100 * level:.0f} % band"),
                                   ("upper", upper, f"upper end of the {100 * level:.0f} % band")):
            added[f"{name}_param_{part}"] = (("patient", "time"), values[None, :],
                                             {"units": attrs.get("units", ""), "spread": SOURCE,
                                              "long_name": f"{attrs.get('long_name') or name}: {what} over the "
                                                           f"parameter ensemble ({SOURCE})"})
    out = point.assign(added)
    out.attrs.update(parameter_uncertainty=describe(int(ok.sum()), level, int((~ok).sum())),
                     parameter_uncertainty_level=level, parameter_uncertainty_vectors=int(ok.sum()),
                     parameter_uncertainty_failed=int((~ok).sum()))
    return out


def simulate_with_band(scenario: Scenario, ensemble, level: float,
                       model: CompiledModel | None = None) -> tuple[xr.Dataset, xr.Dataset]:
    """``simulate(scenario)`` with a parameter-uncertainty band on every model output (not the
    states: the outputs are what is reported; ``with_band``), and the members themselves (one
    per vector, for summaries)."""
    point = simulate(scenario, model)
    members = simulate_members(scenario, ensemble, point["time"].values, model)
    setup = setup_scenario(scenario, model)
    names = [n for n in setup.model.model.output_names if n in point]
    return with_band(point, members, level, names), members
