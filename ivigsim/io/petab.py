"""A NONMEM-style dataset and the model as a PEtab (v1) estimation problem.

PEtab is the table format that the standard tools for ODE model estimation read
(pyPESTO, AMICI, COPASI, Data2Dynamics, ...): an SBML model plus four tables. Exporting
to it lets a dataset that ivigsim simulates be fitted by those tools, and lets their
results be checked against ivigsim's own estimation. What becomes what:

- the model -> one SBML document, written by ``ivigsim.io.sbml``'s writer (so the same
  checked translation, units included), but *without* a regimen: PEtab has one model for
  every condition, so each subject's infusions must be parameters. Dose slot ``k`` (as
  many slots as the subject with most doses has doses) is three constant parameters,
  ``dose{k}_start_day``, ``dose{k}_end_day`` and ``dose{k}_rate_g_per_day`` (rate 0 in a
  slot a subject does not use), and the infusion input is the assignment rule
  ``sum_k piecewise(dose{k}_rate_g_per_day, dose{k}_start_day <= time < dose{k}_end_day, 0)``.
  A comparator's records (``CMT`` 2-5: subcutaneous IgG, an FcRn inhibitor, plasma exchange with
  albumin or donor plasma) drive their own inputs of the comparator model the same way, with
  slots of their own (``scig_dose{k}_...``, ``fcrn_inhibitor_dose{k}_...``, ``plex_dose{k}_...``,
  ``donor_plasma_dose{k}_...``; the rate in that input's unit, g/day or L/day): the export is then
  of the comparator model, as ``ivigsim fit`` fits such a dataset.
  One event at each start and end (assigning nothing) makes an integrator stop on the
  jump, as ivigsim's own solver lands on it, instead of stepping across a short infusion.
  Two choices make the file give the same answer whichever way a tool applies a
  condition, both found with libRoadRunner (``tests/test_petab.py``). The rate is not set
  by event assignments: after ``setValue`` and ``reset`` (what pyPESTO's roadrunner
  backend does) libRoadRunner may re-fire a trigger that was true at t = 0 in the previous
  simulation, so only a harmless event may depend on trigger bookkeeping. And the
  assignments that read parameters only (volumes, synthesis rates) are assignment rules,
  not the initial assignments of ``export_sbml``: libRoadRunner does not recompute a
  parameter's initial assignment when ``setValue`` changes body weight (it does when the
  value is set as ``init(body_weight_kg)``), while a rule always holds.
- each subject with at least one observation (DV) -> a condition (``subject_<ID>``): its
  body weight, baseline IgG, dose slots and, when parameters are estimated per subject,
  the names of its own copies of them;
- each model output observed -> an observable whose formula is the output's SBML id, with
  the declared residual error as its noise model (the noise parameters fixed at the
  declared standard deviations, so a user may free them in the parameter table);
- each observation record with a DV -> a measurement row (time in days);
- each parameter to estimate -> one row (``per_subject=False``: one value shared by all
  subjects, a naive pooled fit) or one row per subject (``<name>__<condition>``, mapped in
  the condition table) with the disease's between-subject variability as a normal prior
  on the log scale: a maximum a posteriori fit of each subject around the typical value,
  as ivigsim's own individual fits.

:func:`build_petab` is pure (tables and the SBML text); :func:`write_petab` writes them
with the problem's YAML file, each file atomically.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ivigsim.errors import InputError, ModelDefinitionError
from ivigsim.estimation.priors import Prior, build_priors
from ivigsim.estimation.residual import DEFAULT_ERRORS, ResidualError
from ivigsim.io.nonmem import NonmemDataset
from ivigsim.io.results import atomic_path
from ivigsim.io.sbml import (
    COMPARTMENT,
    EXTENT_UNIT,
    SBML_LEVEL,
    SBML_VERSION,
    _apply,
    _number,
    _notes,
    _sid,
    _time_node,
    _Writer,
    check_document,
    libsbml,
)
from ivigsim.model.comparators import DONOR_PLASMA_INPUT, EXCHANGE_INPUT, INHIBITOR_INPUT, SCIG_INPUT
from ivigsim.model.library import compiled_model, get_disease
from ivigsim.model.units import TIME_UNIT
from ivigsim.subjects import INFUSION_INPUT, LITRE_INPUTS, Subject, SubjectSetup

#: An error model as ``errors`` takes it: a ``ResidualError``, its text (``proportional:0.1``)
#: or (kind, additive SD, proportional SD).
ErrorSpec = ResidualError | str | tuple[str, float, float]
#: Estimated bounds: this factor either side of the typical value, within the declared bounds.
BOUND_FACTOR = 100.0
#: Upper bound of a share (declared logit-normal, bounded by 1) estimated on the log scale.
SHARE_UPPER = 1.0 - 1e-6
#: The dataset covariates every condition sets (the rest of a subject's column is the typical one).
COVARIATES = ("body_weight_kg", "body_mass_index_kg_per_m2", "baseline_igg_g_per_L")
#: File names inside the problem folder.
FILES = {"sbml": "model.xml", "conditions": "conditions.tsv", "observables": "observables.tsv",
         "measurements": "measurements.tsv", "parameters": "parameters.tsv", "yaml": "problem.yaml"}


@dataclass(frozen=True)
class PetabProblem:
    """The tables of a PEtab v1 problem (indexed as ``petab.v1`` reads them) and the SBML text."""

    sbml: str
    conditions: pd.DataFrame  # index conditionId
    observables: pd.DataFrame  # index observableId
    measurements: pd.DataFrame  # no index
    parameters: pd.DataFrame  # index parameterId
    #: Condition id of each exported subject (those with an observation), by subject ID.
    condition_of: Mapping[str, str]


def build_petab(
    dataset: NonmemDataset,
    *,
    disease: str | None = None,
    estimate: Sequence[str] = (),
    parameters: Mapping[str, float] | None = None,
    mechanisms: Mapping[str, bool | float] | None = None,
    errors: Mapping[str, ErrorSpec] | None = None,
    per_subject: bool = True,
    spreads: Mapping[str, float] | None = None,
) -> PetabProblem:
    """The PEtab problem of fitting ``estimate`` to the dataset's observations (pure).

    ``disease``, ``parameters`` and ``mechanisms`` fix the model and the typical values as
    ``simulate_dataset`` does; each subject's WT and BASEIGG go in its condition.
    ``errors`` maps an observed output to its residual error (``ivigsim.estimation.residual``:
    additive, proportional, combined or lognormal), as ``ivigsim fit`` takes it; outputs
    with a declared default (total IgG: 5 % proportional) may be left out. Per subject,
    each estimated parameter's prior is the one ``ivigsim fit`` uses
    (``ivigsim.estimation.priors``): the disease's between-subject variability, or
    ``spreads`` (a CV, or omega for a share), centred on the subject's own value.
    """
    model = compiled_model(disease, any(s.sessions for s in dataset.subjects))
    declared = model.model
    setup = SubjectSetup.create(dataset.subjects, disease, parameters=parameters, mechanisms=mechanisms,
                                model=model, source=dataset.source)
    subjects = [(i, s) for i, s in enumerate(dataset.subjects) if s.observations]
    if not subjects:
        raise InputError(f"{dataset.source} column DV", "at least one observation record (EVID 0) with a DV",
                         "none")
    names = list(declared.parameter_names)
    typical = declared.parameter_array({**get_disease(disease).defaults,
                                        **declared.switch_overrides(mechanisms or {}), **(parameters or {})})[:, 0]
    columns = setup.parameters[:, [i for i, _ in subjects]]
    estimated = _check_estimate(declared, estimate)
    priors: dict[str, Prior] = {}
    if per_subject and estimated:
        priors = {p.name: p for p in build_priors(declared, get_disease(disease), estimated, spreads)}
    elif spreads:
        raise InputError("spreads", "prior spreads only for parameters estimated per subject (a pooled fit has "
                         "no prior)", ", ".join(spreads))

    # Parameters the conditions set: the covariates, and any other that differs by subject.
    varying = [n for k, n in enumerate(names) if n in COVARIATES or np.any(columns[k] != typical[k])]
    for name in estimated:
        if not per_subject and name in varying:
            k = names.index(name)
            if np.any(columns[k] != typical[k]):
                raise InputError("estimate", f"a parameter the dataset does not set per subject when per_subject is "
                                 f"False ({name} is given per subject; estimate it per subject)", name)
            varying.remove(name)

    condition_of = _condition_ids([s for _, s in subjects], dataset.source)
    slots = {i: max(len(_events(s, i)) for _, s in subjects) for i in declared.input_names}
    slots = {i: n for i, n in slots.items() if n or i == INFUSION_INPUT}  # IVIG's slots always (maybe none)
    outputs = [o for o in declared.output_names if any(r.output == o for _, s in subjects for r in s.observations)]
    error_models = _error_models(declared.output_names, outputs, errors)

    sbml = _sbml(model, dict(zip(names, typical)), slots, dataset, len(subjects))
    conditions = _conditions(subjects, condition_of, names, columns, varying, estimated, per_subject, slots)
    observables, noise_rows, noise_of = _observables(outputs, error_models)
    measurements = _measurements(subjects, condition_of, noise_of, error_models, dataset.source)
    parameter_rows = _estimated_rows(declared, estimated, priors, typical, names, columns,
                                     [condition_of[s.id] for _, s in subjects])
    table = pd.DataFrame([*parameter_rows, *noise_rows]).set_index("parameterId")
    own = [i for i in table.index if per_subject or i not in estimated]  # pooled: the model's own parameter
    _check_ids_free(sbml, [*observables.index, *own, *conditions.index])
    return PetabProblem(sbml, conditions, observables, measurements, table, condition_of)


def write_petab(
    dataset: NonmemDataset,
    folder: str | Path,
    *,
    disease: str | None = None,
    estimate: Sequence[str] = (),
    parameters: Mapping[str, float] | None = None,
    mechanisms: Mapping[str, bool | float] | None = None,
    errors: Mapping[str, ErrorSpec] | None = None,
    per_subject: bool = True,
    spreads: Mapping[str, float] | None = None,
) -> Path:
    """Write :func:`build_petab`'s problem into ``folder`` (created if needed) and return
    the path of its YAML file, which ``petab.v1.Problem.from_yaml`` and pyPESTO read."""
    import yaml

    problem = build_petab(dataset, disease=disease, estimate=estimate, parameters=parameters,
                          mechanisms=mechanisms, errors=errors, per_subject=per_subject, spreads=spreads)
    folder = Path(folder)
    content = {
        FILES["sbml"]: problem.sbml,
        FILES["conditions"]: problem.conditions.to_csv(sep="\t"),
        FILES["observables"]: problem.observables.to_csv(sep="\t"),
        FILES["measurements"]: problem.measurements.to_csv(sep="\t", index=False),
        FILES["parameters"]: problem.parameters.to_csv(sep="\t"),
        FILES["yaml"]: yaml.safe_dump({
            "format_version": 1,
            "parameter_file": FILES["parameters"],
            "problems": [{
                "sbml_files": [FILES["sbml"]],
                "condition_files": [FILES["conditions"]],
                "measurement_files": [FILES["measurements"]],
                "observable_files": [FILES["observables"]],
            }],
        }, sort_keys=False),
    }
    try:
        for name, text in content.items():  # the YAML last: it names files that then exist
            with atomic_path(folder / name) as tmp:
                tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError("--out", "a folder where files can be written", f"{folder} ({exc.strerror or exc})") from None
    return folder / FILES["yaml"]


# -- checks of what the user asked for ----------------------------------------------------


def _check_estimate(declared, estimate: Sequence[str]) -> list[str]:
    """The parameters to estimate: known, each once, and quantities that may differ between
    patients (``build_priors`` checks the same, and the priors, when fitting per subject)."""
    if isinstance(estimate, str):
        estimate = [estimate]
    seen: list[str] = []
    for name in estimate:
        if name not in declared.parameter_names:
            raise InputError("estimate", "names of model parameters (see `ivigsim parameters`)", name)
        p = declared.parameter(name)
        if not p.may_vary:
            raise InputError(f"estimate {name}", "a parameter that may vary between patients (not a covariate, "
                             "switch or fixed constant)", f"{name} ({p.provenance})")
        if name in seen:
            raise InputError("estimate", "each parameter once", name)
        seen.append(name)
    return seen


def _error_models(known: Sequence[str], outputs: Sequence[str],
                  errors: Mapping[str, ErrorSpec] | None) -> dict[str, ResidualError]:
    """The checked error model of each observed output."""
    errors = dict(errors or {})
    for name in errors:
        if name not in known:
            raise InputError("errors", f"names of model outputs ({', '.join(known)})", name)
    result = {}
    for name in outputs:
        where = f"errors.{name}"
        spec = errors.get(name)
        if spec is None:
            if name not in DEFAULT_ERRORS:
                raise InputError(where, f"an error model for the observed output {name} (only "
                                 f"{', '.join(DEFAULT_ERRORS)} has a declared default)", "none")
            result[name] = DEFAULT_ERRORS[name][0]
            continue
        try:
            if isinstance(spec, ResidualError):
                result[name] = spec
            elif isinstance(spec, str):
                result[name] = ResidualError.parse(spec, where)
            else:
                kind, additive, proportional = spec
                result[name] = ResidualError(kind, float(additive), float(proportional))
        except InputError as exc:
            raise InputError(where, exc.expected, spec) from None
        except (TypeError, ValueError):
            raise InputError(where, "a ResidualError, its text (proportional:0.1) or (kind, additive SD, "
                             "proportional SD)", spec) from None
    return result


def _condition_ids(subjects: Sequence[Subject], source: str) -> dict[str, str]:
    """``subject_<ID>`` per subject, as a PEtab identifier (other characters become ``_``)."""
    ids: dict[str, str] = {}
    for s in subjects:
        cid = "subject_" + re.sub(r"[^A-Za-z0-9_]", "_", s.id)
        if cid in ids.values():
            raise InputError(f"{source} column ID", "subject IDs that stay distinct as PEtab identifiers "
                             "(letters, digits and _)", s.id)
        ids[s.id] = cid
    return ids


# -- the SBML model -------------------------------------------------------------------------


#: The prefix of each comparator input's dose slots (IVIG's have none: ``dose{k}_...``).
SLOT_PREFIXES = {SCIG_INPUT: "scig_", INHIBITOR_INPUT: "fcrn_inhibitor_", EXCHANGE_INPUT: "plex_",
                 DONOR_PLASMA_INPUT: "donor_plasma_"}


def dose_parameters(k: int, into: str = INFUSION_INPUT) -> tuple[str, str, str]:
    """SBML ids of dose slot ``k`` of the input ``into``: start (day), end (day), rate (the input's
    unit per day: g/day, or L/day for plasma exchanged and donor plasma returned)."""
    prefix = SLOT_PREFIXES.get(into, "")
    unit = "L" if into in LITRE_INPUTS else "g"
    return f"{prefix}dose{k}_start_day", f"{prefix}dose{k}_end_day", f"{prefix}dose{k}_rate_{unit}_per_day"


def _events(subject: Subject, into: str) -> list:
    """The subject's doses into the input ``into``, in time order."""
    given = subject.doses if into == INFUSION_INPUT else [d for d in subject.sessions if d.input == into]
    return sorted(given, key=lambda d: d.start_day)


def _sbml(model, values: Mapping[str, float], slots: Mapping[str, int], dataset: NonmemDataset,
          n_subjects: int) -> str:
    """The model with dose slots instead of a regimen, checked by libSBML as ``export_sbml`` is."""
    declared = model.model
    array = declared.parameter_array(values)
    constants = model.constants(array)
    initial = model.initial(array, constants)
    document = libsbml.SBMLDocument(SBML_LEVEL, SBML_VERSION)
    sbml = document.createModel()
    writer = _Writer(declared, sbml)
    writer.check_ids()
    taken = set(declared.parameter_names) | {n for m in declared.modules for n in m.symbols()}
    clash = taken & {n for into, count in slots.items() for k in range(count) for n in dose_parameters(k, into)}
    if clash:
        raise ModelDefinitionError(f"model names {sorted(clash)} clash with the PEtab export's dose slots")
    sbml.setId(_sid("ivigsim_petab_" + dataset.source))
    sbml.setName(f"ivigsim PEtab export: {dataset.source}")
    sbml.setTimeUnits(writer.declared_unit(TIME_UNIT))
    sbml.setExtentUnits(writer.declared_unit(EXTENT_UNIT))
    sbml.setSubstanceUnits(writer.declared_unit(EXTENT_UNIT))
    sbml.setNotes(_notes([
        f"Exported by ivigsim for PEtab from dataset {dataset.source!r}: {n_subjects} subject(s) with observations.",
        f"Infusions: {slots.get(INFUSION_INPUT, 0)} dose slot(s) (dose<k>_start_day, dose<k>_end_day, "
        "dose<k>_rate_g_per_day) that the condition table sets per subject; the infusion rate is the sum of the "
        "rates of the slots that are on." + "".join(
            f" {into}: {count} slot(s) ({SLOT_PREFIXES[into]}dose<k>_...), the same way."
            for into, count in slots.items() if into != INFUSION_INPUT),
        "Parameter values are the typical ones; each condition sets its subject's body weight and baseline IgG.",
        "Time in days, amounts in g, concentrations in g/L, volumes in L (canonical units).",
    ]))
    compartment = sbml.createCompartment()
    compartment.setId(COMPARTMENT)
    compartment.setName("bookkeeping container of size 1: volumes are the model's parameters")
    compartment.setSpatialDimensions(3)
    compartment.setSize(1.0)
    compartment.setUnits("dimensionless")
    compartment.setConstant(True)
    writer.parameters(dict(zip(declared.parameter_names, array[:, 0])))
    writer.assignments({})  # every assignment a rule: see the module docstring
    writer.states(dict(zip(declared.state_names, initial[:, 0])))
    writer.fluxes()
    _dose_slots(writer, slots)
    check_document(document)
    return libsbml.writeSBMLToString(document)


def _dose_slots(writer: _Writer, slots: Mapping[str, int]) -> None:
    """The dose-slot parameters, each input a dataset drives as a piecewise rule of time, and
    one event at each start and end of a dose so an integrator stops on the jump.

    The rule alone defines the rate (an event assigns nothing that the model reads), so the
    result cannot depend on how a tool re-arms event triggers after parameters change:
    libRoadRunner, given new parameter values with ``setValue`` and ``reset`` as pyPESTO's
    roadrunner backend does, may fire a trigger that was true at t = 0 in the previous
    simulation (``tests/test_petab.py``). An event without assignments is legal SBML L3.
    """
    sbml, day = writer.sbml, writer.declared_unit(TIME_UNIT)
    terms: dict[str, list] = {}
    for into, count in slots.items():
        unit = next(i.unit for i in writer.model.inputs if i.name == into)
        rate_unit = writer.declared_unit(unit)
        what_dose = "infusion" if into == INFUSION_INPUT else f"{into} dose"
        for k in range(count):
            start, end, rate = dose_parameters(k, into)
            for name, u, what in ((start, day, "start"), (end, day, "end"), (rate, rate_unit, "rate")):
                p = sbml.createParameter()
                p.setId(name)
                p.setUnits(u)
                p.setConstant(True)
                p.setValue(0.0)
                p.setNotes(_notes([f"{what_dose} {k}: {what}, set per subject by the PEtab condition table "
                                   "(rate 0 in a slot the subject does not use)"]))
            running = _apply("AST_LOGICAL_AND", [_apply("AST_RELATIONAL_GEQ", [_time_node(), _name(start)]),
                                                 _apply("AST_RELATIONAL_LT", [_time_node(), _name(end)])])
            terms.setdefault(into, []).append(_apply("AST_FUNCTION_PIECEWISE", [_name(rate), running,
                                                                                 _number(0.0, rate_unit)]))
            for when, verb in ((start, "starts"), (end, "ends")):
                event = sbml.createEvent()
                event.setId(f"{SLOT_PREFIXES.get(into, '')}dose{k}_{verb}")
                event.setName(f"{what_dose} {k} {verb} (stops the integrator on the jump; assigns nothing)")
                event.setUseValuesFromTriggerTime(True)
                trigger = event.createTrigger()
                trigger.setInitialValue(False)
                trigger.setPersistent(True)
                trigger.setMath(_apply("AST_RELATIONAL_GEQ", [_time_node(), _name(when)]))
    for i in writer.model.inputs:
        p = sbml.createParameter()
        p.setId(i.name)
        p.setUnits(writer.declared_unit(i.unit))
        if i.name not in slots:  # no dataset record drives this input: it stays 0
            p.setConstant(True)
            p.setValue(0.0)
            continue
        p.setConstant(False)
        p.setNotes(_notes([i.description, "The sum of the rates of the dose slots running at the time."]))
        rule = sbml.createAssignmentRule()
        rule.setVariable(i.name)
        own = terms.get(i.name, [])
        total = own[0] if own else _number(0.0, writer.declared_unit(i.unit))
        for term in own[1:]:
            total = _apply("AST_PLUS", [total, term])
        rule.setMath(total)


def _name(text: str):
    node = libsbml.ASTNode(libsbml.AST_NAME)
    node.setName(text)
    return node


def _check_ids_free(sbml_text: str, ids: Sequence[str]) -> None:
    """PEtab's own ids (observables, estimated copies, noise parameters, conditions) must not
    shadow a model entity."""
    document = libsbml.readSBMLFromString(sbml_text)
    taken = [i for i in ids if document.getModel().getElementBySId(i) is not None]
    if taken:
        raise ModelDefinitionError(f"PEtab ids {taken} shadow model entities")


# -- the tables ----------------------------------------------------------------------------


def _conditions(subjects, condition_of, names, columns, varying, estimated, per_subject, slots) -> pd.DataFrame:
    rows = []
    for j, (_, s) in enumerate(subjects):
        cid = condition_of[s.id]
        row: dict[str, object] = {"conditionId": cid, "conditionName": f"ID {s.id}"}
        for name in varying:
            row[name] = float(columns[names.index(name), j])
        if per_subject:
            for name in estimated:
                row[name] = f"{name}__{cid}"
        for into, count in slots.items():
            given = _events(s, into)
            for k in range(count):
                start, end, rate = dose_parameters(k, into)
                dose = given[k] if k < len(given) else None
                row[start] = dose.start_day if dose else 0.0
                row[end] = dose.end_day if dose else 0.0
                row[rate] = dose.rate_per_day if dose else 0.0
        rows.append(row)
    return pd.DataFrame(rows).set_index("conditionId")


def _noise_ids(output: str) -> tuple[str, str, str]:
    """Noise parameters of an output: additive SD, proportional SD, SD of log DV."""
    return f"sd_additive_{output}", f"sd_proportional_{output}", f"sd_log_{output}"


def _observables(outputs, error_models) -> tuple[pd.DataFrame, list[dict], dict[str, str]]:
    """Observable rows, the (fixed) noise-parameter rows, and each output's noiseParameters."""
    rows, noise_rows, noise_of = [], [], {}
    for output in outputs:
        error = error_models[output]
        kind, additive, proportional = error.kind, error.additive, error.proportional
        oid = f"obs_{output}"
        sd_a, sd_p, sd_log = _noise_ids(output)
        p1, p2 = f"noiseParameter1_{oid}", f"noiseParameter2_{oid}"
        row = {"observableId": oid, "observableName": output, "observableFormula": output,
               "observableTransformation": "lin", "noiseDistribution": "normal"}
        if kind == "additive":
            row["noiseFormula"], used = p1, [(sd_a, additive)]
        elif kind == "proportional":
            row["noiseFormula"], used = f"{p1} * {output}", [(sd_p, proportional)]
        elif kind == "combined":
            row["noiseFormula"] = f"sqrt({p1}^2 + ({p2} * {output})^2)"
            used = [(sd_a, additive), (sd_p, proportional)]
        else:  # log DV ~ N(log f, sigma^2): PEtab's log transformation with a normal noise
            row["observableTransformation"], row["noiseFormula"], used = "log", p1, [(sd_log, proportional)]
        rows.append(row)
        noise_of[output] = ";".join(name for name, _ in used)
        for name, sd in used:
            # Fixed at the declared SD; bounds (around it, log10 scale) so a user may free it.
            noise_rows.append({"parameterId": name, "parameterName": f"residual SD of {output}",
                               "parameterScale": "log10", "lowerBound": sd / BOUND_FACTOR,
                               "upperBound": sd * BOUND_FACTOR, "nominalValue": sd, "estimate": 0})
    return pd.DataFrame(rows).set_index("observableId"), noise_rows, noise_of


def _measurements(subjects, condition_of, noise_of, error_models, source) -> pd.DataFrame:
    rows = []
    for _, s in subjects:
        for r in s.observations:
            if error_models[r.output].log_scale and not r.dv > 0:
                raise InputError(f"{source} row {r.number} column DV",
                                 f"a DV > 0 (the error model of {r.output} is log-normal)", r.dv)
            rows.append({"observableId": f"obs_{r.output}", "simulationConditionId": condition_of[s.id],
                         "measurement": float(r.dv), "time": float(r.time_day), "noiseParameters": noise_of[r.output]})
    return pd.DataFrame(rows)


def _estimated_rows(declared, estimated, priors, typical, names, columns, condition_ids) -> list[dict]:
    """Rows of the parameters to estimate: log scale, bounds around the typical value and,
    per subject (``priors`` given), a normal prior on the log scale centred on the
    subject's own value.

    PEtab v1 has no logit scale, so a share whose variability is logit-normal is estimated
    on the log scale with an upper bound just below 1, and its omega (the SD of eta on the
    logit scale) becomes an SD on the log scale by the delta method at the subject's value:
    d log(x) / d logit(x) = 1 - x.
    """
    rows = []
    for name in estimated:
        p, k = declared.parameter(name), names.index(name)
        if priors:
            copies = [(f"{name}__{cid}", float(columns[k, j])) for j, cid in enumerate(condition_ids)]
        else:
            copies = [(name, float(typical[k]))]
        for pid, value in copies:
            if not value > 0:
                raise InputError(f"estimate {name}", "a parameter with a typical value > 0 (PEtab estimates it on the "
                                 "log scale; set another with `parameters`)", value)
            lower, upper = _bounds(p, value)
            row = {"parameterId": pid, "parameterName": name, "parameterScale": "log", "lowerBound": lower,
                   "upperBound": upper, "nominalValue": value, "estimate": 1}
            if priors:
                prior = priors[name]
                sd = prior.omega * (1.0 - value) if prior.scale == "logit" else prior.omega
                text = f"{math.log(value)!r};{sd!r}"
                # The population distribution is both the prior and where multistarts begin.
                row.update(objectivePriorType="parameterScaleNormal", objectivePriorParameters=text,
                           initializationPriorType="parameterScaleNormal", initializationPriorParameters=text)
            rows.append(row)
    return rows


def _bounds(p, value: float) -> tuple[float, float]:
    """``value`` / 100 .. ``value`` x 100 within the declared bounds (below 1 for a share)."""
    lo, hi = p.bounds
    upper = min(hi, value * BOUND_FACTOR)
    if p.variability_scale == "logit":
        upper = min(upper, SHARE_UPPER)
    return max(lo, value / BOUND_FACTOR), upper
