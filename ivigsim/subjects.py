"""Subjects with observed data: the one way a run is set up from patients, doses and records.

A ``Subject`` is what a NONMEM-style dataset describes for one ID (``ivigsim.io.nonmem``
reads it): a patient, infusions in canonical units (IVIG's, and any comparator's: subcutaneous
IgG, an FcRn inhibitor, plasma exchange), and records, each naming the model output it
observes at a time and, when it is an observation, the observed value. A subject with a
comparator runs on the comparator model (``ivigsim.model.library``), as a scenario does.

``SubjectSetup`` turns subjects into what the engine solves: one parameter column per
subject (the disease's typical values, the user's overrides and mechanism switches, then
the subject's own covariates) and one input schedule. ``SubjectSetup.predict`` is the
batched ``parameters -> outputs at the record times`` function that NONMEM-style
simulation and estimation (``ivigsim.estimation``) both call: it evaluates many parameter
vectors per subject in one engine call (a population, an optimiser's finite-difference
stencil, an MCMC ensemble).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ivigsim.engine.outputs import Observed, solve_outputs
from ivigsim.engine.schedule import InputSchedule, Window
from ivigsim.engine.solve import Problem, SaveAt
from ivigsim.errors import InputError
from ivigsim.model.comparators import DONOR_PLASMA_INPUT, EXCHANGE_INPUT
from ivigsim.model.compose import CompiledModel
from ivigsim.model.library import compiled_model, get_disease
from ivigsim.model.patient import Patient, known_bmi_or_reference

INFUSION_INPUT = "ivig_infusion_g_per_day"
#: The inputs whose doses count litres (plasma exchange); every other input counts grams.
LITRE_INPUTS = (EXCHANGE_INPUT, DONOR_PLASMA_INPUT)


@dataclass(frozen=True)
class DoseEvent:
    """One dose in canonical units: ``amount`` from ``start_day`` over ``duration_day``, into the
    model's ``input`` (IVIG's by default, or a comparator's). ``unit`` says what ``amount``
    counts: grams (IVIG, subcutaneous IgG, an FcRn inhibitor) or litres (plasma exchanged, donor
    plasma returned)."""

    row: int
    start_day: float
    amount: float
    duration_day: float
    input: str = INFUSION_INPUT

    @property
    def unit(self) -> str:
        return "L" if self.input in LITRE_INPUTS else "g"

    @property
    def rate_per_day(self) -> float:
        """The input's rate: ``amount`` (in ``unit``) per day."""
        return self.amount / self.duration_day

    @property
    def end_day(self) -> float:
        return self.start_day + self.duration_day


@dataclass(frozen=True)
class Record:
    """A non-dose record: where it is (row index, time in days), what it observes and, on an
    observation with a DV, the observed value (None: predict only)."""

    row: int
    number: int  # the data row as the user counts it (1-based, after the header)
    time_day: float
    output: str
    dv: float | None


@dataclass(frozen=True)
class Subject:
    """One ID: covariates, doses (ADDL expanded), and the records to predict at."""

    id: str
    patient: Patient
    baseline_igg_g_per_L: float | None
    doses: tuple[DoseEvent, ...]  # IVIG's infusions
    records: tuple[Record, ...]
    #: The comparators' events (``DoseEvent.input`` says which): they need the comparator model.
    sessions: tuple[DoseEvent, ...] = ()

    @property
    def predictions(self) -> tuple[tuple[int, float], ...]:
        """(row index, time in days) of every non-dose record."""
        return tuple((r.row, r.time_day) for r in self.records)

    @property
    def observations(self) -> tuple[Record, ...]:
        """The records with an observed DV (EVID 0, DV given)."""
        return tuple(r for r in self.records if r.dv is not None)


def infusion_windows(model: CompiledModel, doses: Sequence[DoseEvent]) -> list[Window]:
    names = model.model.input_names
    missing = sorted({d.input for d in doses} - set(names))
    if missing:
        raise InputError("model", f"a model with the input {missing[0]} (the comparator model: "
                         "compiled_model(disease, comparators=True))", "a model without it")
    return [Window(d.start_day, d.end_day, d.rate_per_day, names.index(d.input)) for d in doses]


@dataclass(frozen=True)
class SubjectSetup:
    """Subjects made ready for the engine: the model, a parameter column per subject and the
    schedule of their infusions.

    ``overrides`` apply to every subject (the disease's typical values first, then the
    caller's ``parameters`` and mechanism switches); each subject's body weight and, when
    given, baseline IgG override them.
    """

    model: CompiledModel
    subjects: tuple[Subject, ...]
    parameters: np.ndarray  # (P, N)
    windows: tuple[tuple[Window, ...], ...]
    solver: object = field(default=None, repr=False)
    source_name: str = "dataset"

    @classmethod
    def create(cls, subjects: Sequence[Subject], disease: str | None = None, *,
               parameters: Mapping[str, float] | None = None,
               mechanisms: Mapping[str, bool | float] | None = None,
               model: CompiledModel | None = None, solver=None, source: str = "dataset") -> SubjectSetup:
        comparators = any(s.sessions for s in subjects)
        if model is None or (comparators and model is compiled_model(disease)):
            model = compiled_model(disease, comparators)
        declared = model.model
        overrides: dict[str, float | np.ndarray] = {**get_disease(disease).defaults,
                                                    **declared.switch_overrides(mechanisms or {}),
                                                    **(parameters or {})}
        default_igg = overrides.get("baseline_igg_g_per_L", declared.parameter("baseline_igg_g_per_L").value)
        weights = np.array([s.patient.weight_kg for s in subjects])
        heights = np.array([np.nan if s.patient.height_cm is None else s.patient.height_cm for s in subjects])
        overrides["body_weight_kg"] = weights
        overrides["body_mass_index_kg_per_m2"] = known_bmi_or_reference(declared, weights, heights)
        overrides["baseline_igg_g_per_L"] = np.array(
            [default_igg if s.baseline_igg_g_per_L is None else s.baseline_igg_g_per_L for s in subjects])
        params = declared.parameter_array(overrides, len(subjects))
        windows = tuple(tuple(infusion_windows(model, (*s.doses, *s.sessions))) for s in subjects)
        setup = cls(model, tuple(subjects), params, windows, solver, source)
        setup.check_outputs(source)
        return setup

    def check_outputs(self, source: str = "dataset") -> None:
        """Every record names one of the model's outputs (an InputError naming the row)."""
        known = self.model.model.output_names
        for subject in self.subjects:
            for record in subject.records:
                if record.output not in known:
                    raise InputError(f"{source} row {record.number} column OUTPUT",
                                     f"one of the model's outputs ({', '.join(known)})", record.output)

    @property
    def outputs(self) -> tuple[str, ...]:
        """The outputs any record names, in the model's order."""
        named = {r.output for s in self.subjects for r in s.records}
        return tuple(n for n in self.model.model.output_names if n in named)

    def schedule(self, subject_index: Sequence[int] | np.ndarray,
                 extra: Sequence[Sequence[Window]] | None = None) -> InputSchedule:
        """The schedule of the given subjects (one column each, repeats allowed), with
        optional extra windows per column (a forecast's next dose)."""
        rows = [list(self.windows[i]) + (list(extra[k]) if extra is not None else [])
                for k, i in enumerate(subject_index)]
        return InputSchedule.from_windows(rows, len(self.model.model.input_names))

    def solve(self, parameters: np.ndarray, subject_index: Sequence[int] | np.ndarray, times: np.ndarray,
              outputs: Sequence[str], extra: Sequence[Sequence[Window]] | None = None) -> Observed:
        """Outputs at ``times`` (days) for parameter columns ``parameters`` (P, K), column k
        being subject ``subject_index[k]``: one engine call for the whole batch."""
        from ivigsim.engine.compiled import Auto

        problem = Problem(self.model, parameters, self.schedule(subject_index, extra))
        return solve_outputs(problem, SaveAt(np.asarray(times, dtype=float)), self.solver or Auto(), outputs)

    def predict(self, parameters: np.ndarray | None = None,
                subject_index: Sequence[int] | np.ndarray | None = None) -> tuple[list[np.ndarray], np.ndarray]:
        """Each column's prediction at its subject's records, in record order.

        ``parameters`` (P, K), default the subjects' own columns; ``subject_index`` says which
        subject each column is (default 0..N-1). Returns K arrays (one value per record; NaN
        after a failed solve) and the solver status of each column (0: success).
        """
        if parameters is None:
            parameters, subject_index = self.parameters, np.arange(len(self.subjects))
        subject_index = np.asarray(subject_index if subject_index is not None else np.arange(parameters.shape[1]))
        times = np.unique([r.time_day for i in set(subject_index.tolist()) for r in self.subjects[i].records])
        if times.size == 0:
            return [np.zeros(0) for _ in subject_index], np.zeros(len(subject_index), dtype=np.int8)
        outputs = self.outputs
        observed = self.solve(parameters, subject_index, times, outputs)
        result = []
        for k, i in enumerate(subject_index):
            records = self.subjects[i].records
            t_at = np.searchsorted(times, [r.time_day for r in records])
            o_at = [outputs.index(r.output) for r in records]
            result.append(observed.values[k, o_at, t_at])
        return result, observed.status
