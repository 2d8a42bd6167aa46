"""NONMEM-style dose/observation datasets: read, simulate every subject in one batch, write back.

The dataset is a CSV table in the column convention pharmacometric tools share
(NONMEM, nlmixr2, Monolix, mrgsolve): one record per row, sorted by time within each ID.

============  =====================================================================
column        meaning (units are declared by the caller, never guessed)
============  =====================================================================
``ID``        subject; records of one subject are contiguous (required)
``TIME``      time of the record, in the declared time unit (hours or days), >= 0 (required)
``EVID``      0 observation, 1 dose, 2 other (a prediction time); 3/4 (reset) refused.
              Without the column: a record with AMT > 0 is a dose, else an observation
``AMT``       dose amount in the declared amount unit (g or mg)
``RATE``      infusion rate, amount unit per time unit; or
``DUR``       infusion duration in the time unit (give one of RATE and DUR on a dose:
              IVIG is always infused, so a bolus is refused)
``CMT``       dose compartment: 1 or missing (IVIG into plasma); the comparators
              (docs/comparators.md; the subject then runs on the comparator model):
              2 subcutaneous IgG (into its depot; AMT in the amount unit),
              3 FcRn inhibitor (into plasma; AMT in the amount unit; the model's
              constants, efgartigimod's, unless the run's parameters give another drug's),
              4 plasma exchange with albumin and 5 with donor plasma (**AMT in litres** of
              plasma exchanged, RATE in litres per time unit; at most 3 estimated plasma
              volumes per session, Kaplan's from WT and SEX, haematocrit 0.45 in men,
              0.40 in women, and at most 12 h)
``II, ADDL``  ADDL further doses every II after this one
``SS``        steady-state dosing: refused (write the doses out with ADDL and II)
``DV``        the observed value on an observation record (EVID 0), in the output's unit; kept
              as given. Missing on an observation: a prediction-only record
``OUTPUT``    the model output a record observes or predicts (``igg_total_g_per_L``,
              ``platelets_1e9_per_L``, ``qmg_score``, ...: ``ivigsim`` docs/outputs.md);
              missing: the default output (``--output``, total IgG)
``MDV``       1 where DV is missing or the record is a dose; set on output
``WT``        body weight, kg (required; one value per ID)
``HT``        height, cm; ``AGE`` years; ``SEX`` M or F (optional, one value per ID)
``BASEIGG``   the subject's baseline serum IgG, g/L (optional; default: the model's)
============  =====================================================================

``.`` or an empty cell is missing. Other columns pass through unchanged. Every subject is
simulated in one batch of the engine (their body weights and baseline IgG as a parameter
array). Observed data stay observed: the written dataset is the input with DV as given and
PRED (the typical patient's prediction, with the subject's covariates) and RES = DV - PRED
added at every observation (EVID 0) and prediction (EVID 2) record; an individual fit
(``ivigsim.estimation``) adds IPRED, IRES = DV - IPRED and weighted residuals.
A problem in the dataset is one ``InputError`` naming the data row (1-based, counted
after the header) and the column.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from ivigsim.errors import InputError
from ivigsim.io.observed import MAX_TIME_DAYS, NON_NEGATIVE_UNITS
from ivigsim.io.quantities import plain_float
from ivigsim.io.text import read_text
from ivigsim.io.results import atomic_path
from ivigsim.model.patient import Patient
from ivigsim.dosing.comparators import MAX_INHIBITOR_MG_PER_KG, MAX_SESSION_H
from ivigsim.model.comparators import DONOR_PLASMA_INPUT, EXCHANGE_INPUT, INHIBITOR_INPUT, SCIG_INPUT
from ivigsim.subjects import INFUSION_INPUT, DoseEvent, Record, Subject, SubjectSetup

if TYPE_CHECKING:
    from ivigsim.engine.solver import Dopri5
    from ivigsim.model.compose import CompiledModel

TimeUnit = Literal["h", "d"]
AmountUnit = Literal["g", "mg"]
#: Days per declared time unit, grams per declared amount unit.
DAYS_PER: Mapping[str, float] = {"h": 1.0 / 24.0, "d": 1.0}
GRAMS_PER: Mapping[str, float] = {"g": 1.0, "mg": 1e-3}
DEFAULT_OUTPUT = "igg_total_g_per_L"

# Column names (the convention's spelling; matched case-insensitively).
ID, TIME, EVID, AMT, RATE, DUR, CMT = "ID", "TIME", "EVID", "AMT", "RATE", "DUR", "CMT"
II, ADDL, SS, DV, MDV = "II", "ADDL", "SS", "DV", "MDV"
WT, HT, AGE, SEX, BASEIGG = "WT", "HT", "AGE", "SEX", "BASEIGG"
OUTPUT = "OUTPUT"
PRED, IPRED, RES, IRES = "PRED", "IPRED", "RES", "IRES"
#: The residual column written beside each prediction column.
RESIDUAL_OF: Mapping[str, str] = {PRED: RES, IPRED: IRES}
NUMERIC = (ID, TIME, EVID, AMT, RATE, DUR, CMT, II, ADDL, SS, DV, MDV, WT, HT, AGE, BASEIGG)
MISSING = ("", ".")

OBSERVATION, DOSE, OTHER = 0, 1, 2
#: Plausibility limits, so nonsense is refused at once instead of failing after minutes
#: (or exhausting memory): a record time up to 50 years (``observed.MAX_TIME_DAYS``); a dose
#: up to 2 kg of IgG (5 g/kg at 400 kg, 2.5 times the largest course given in one go); an
#: infusion from 1 minute to 7 days; at most 10,000 additional doses (weekly for 190 years).
MAX_DOSE_G = 2000.0
MIN_DURATION_DAYS, MAX_DURATION_DAYS = 1.0 / 1440.0, 7.0
#: A plasma-exchange session at most as long as a regimen file's (``MAX_SESSION_H``).
MAX_EXCHANGE_DAYS = MAX_SESSION_H / 24.0
MAX_ADDL = 10_000
#: Most records to predict at per ID (a measurement a day for 5 years): the fit's weighted
#: residuals decorrelate a subject's records through a dense n x n covariance (20,000 records:
#: 3.2 GB, and minutes).
MAX_RECORDS_PER_ID = 2_000
_EVIDS = "0 (observation), 1 (dose) or 2 (other event); 3 and 4 (reset) are not supported"
#: Dose compartments: CMT -> the model inputs a dose there drives (docs above).
COMPARTMENTS: Mapping[int, tuple[str, ...]] = {
    1: (INFUSION_INPUT,), 2: (SCIG_INPUT,), 3: (INHIBITOR_INPUT,),
    4: (EXCHANGE_INPUT,), 5: (EXCHANGE_INPUT, DONOR_PLASMA_INPUT),
}
_CMTS = ("1 (IVIG) or missing, 2 (subcutaneous IgG), 3 (FcRn inhibitor), 4 (plasma exchange with albumin) or "
         "5 (plasma exchange with donor plasma)")
#: Plasma exchange in a dataset: AMT in litres, the session at most 12 h and 3 estimated plasma
#: volumes (the limits a regimen file's ``plasma_exchange`` has).
EXCHANGE_CMTS = (4, 5)
#: The most FcRn inhibitor one record may give, grams: 100 mg/kg (``MAX_INHIBITOR_MG_PER_KG``) at 400 kg.
MAX_INHIBITOR_DOSE_G = MAX_INHIBITOR_MG_PER_KG * 400.0 / 1000.0
#: Patient fields filled from covariate columns.
_PATIENT_FIELDS = {WT: "weight_kg", HT: "height_cm", AGE: "age_years", SEX: "sex"}
_SEXES = {"M": "male", "MALE": "male", "F": "female", "FEMALE": "female"}


@dataclass(frozen=True)
class NonmemDataset:
    """A checked dataset: the table as written (strings) and what it means."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    evids: tuple[int, ...]
    subjects: tuple[Subject, ...]
    time_unit: TimeUnit
    amount_unit: AmountUnit
    source: str


@dataclass(frozen=True)
class SimulatedDataset:
    """The dataset with PRED (and RES) added; ``pred`` is NaN on dose rows and failed subjects."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    pred: np.ndarray
    failed_ids: tuple[str, ...]


# -- reading -------------------------------------------------------------------------


def read_dataset(path: str | Path, time_unit: TimeUnit, amount_unit: AmountUnit,
                 default_output: str = DEFAULT_OUTPUT) -> NonmemDataset:
    """Read and check a CSV dataset; TIME/II/DUR are in ``time_unit``, AMT in ``amount_unit``;
    records without an OUTPUT observe ``default_output``."""
    path = Path(path)
    text = read_text(path, "DATA", "dataset file (CSV)", encoding="utf-8-sig")
    return parse_dataset(text, time_unit, amount_unit, source=path.name, default_output=default_output)


def parse_dataset(text: str, time_unit: TimeUnit, amount_unit: AmountUnit, source: str = "dataset",
                  default_output: str = DEFAULT_OUTPUT) -> NonmemDataset:
    """Check a dataset given as CSV text (see the module docstring for the convention)."""
    if time_unit not in DAYS_PER:
        raise InputError("time unit", "h or d (the unit of TIME, II and DUR; it is never guessed)", time_unit)
    if amount_unit not in GRAMS_PER:
        raise InputError("amount unit", "g or mg (the unit of AMT; it is never guessed)", amount_unit)
    try:
        table = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise InputError(source, "a CSV table", str(exc)) from None
    if not table or not any(cell.strip() for cell in table[0]):
        raise InputError(f"{source} header", "a header row naming the columns (ID, TIME, AMT, ...)", "an empty file")
    header = tuple(cell.strip() for cell in table[0])
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        if name.upper() in columns:
            raise InputError(f"{source} header", "each column once", name)
        columns[name.upper()] = index
    for required in (ID, TIME, WT):
        if required not in columns:
            raise InputError(f"{source} header", f"a {required} column ({_required_why(required)})",
                             ", ".join(header))
    rows = [(number, tuple(r)) for number, r in enumerate(table[1:], start=1) if any(c.strip() for c in r)]
    if not rows:
        raise InputError(source, "at least one record below the header", "a header only")
    for number, cells in rows:
        if len(cells) != len(header):
            raise InputError(f"{source} row {number}", f"{len(header)} cells like the header", len(cells))
    reader = _Reader(columns, time_unit, amount_unit, source, default_output)
    records = [reader.record(number, cells) for number, cells in rows]
    subjects = _subjects(records, reader)
    return NonmemDataset(header, tuple(cells for _, cells in rows), tuple(r.evid for r in records), subjects,
                         time_unit, amount_unit, source)


@dataclass(frozen=True)
class _Record:
    number: int  # 1-based data row
    id: str
    id_value: float
    time_text: str
    time_day: float
    evid: int
    doses: tuple[DoseEvent, ...]
    covariates: dict[str, float | str | None]  # as read: numbers, SEX upper-cased
    output: str
    dv: float | None  # on an observation record (EVID 0) only


@dataclass(frozen=True)
class _Reader:
    """Checks one row at a time, naming row and column in every refusal."""

    columns: Mapping[str, int]
    time_unit: str
    amount_unit: str
    source: str
    default_output: str = DEFAULT_OUTPUT

    def where(self, number: int, column: str) -> str:
        return f"{self.source} row {number} column {column}"

    def text(self, cells: Sequence[str], column: str) -> str | None:
        index = self.columns.get(column)
        if index is None:
            return None
        value = cells[index].strip()
        return None if value in MISSING else value

    def number(self, number: int, cells: Sequence[str], column: str) -> float | None:
        text = self.text(cells, column)
        if text is None:
            return None
        try:
            return plain_float(text)
        except ValueError:
            raise InputError(self.where(number, column), "a number ('.' or empty for missing)", text) from None

    def record(self, number: int, cells: Sequence[str]) -> _Record:
        for column in NUMERIC:
            self.number(number, cells, column)  # every numeric cell parses
        get = lambda column: self.number(number, cells, column)  # noqa: E731
        where = lambda column: self.where(number, column)  # noqa: E731
        subject = get(ID)
        if subject is None:
            raise InputError(where(ID), "a subject ID", "a missing value")
        time = get(TIME)
        if time is None or time < 0:
            raise InputError(where(TIME), f"a time >= 0 in {self.time_unit}", self.text(cells, TIME) or "a missing value")
        if time * DAYS_PER[self.time_unit] > MAX_TIME_DAYS:
            raise InputError(where(TIME), f"a time within 50 years ({MAX_TIME_DAYS / DAYS_PER[self.time_unit]:g} "
                             f"{self.time_unit})", self.text(cells, TIME))
        amount, rate = get(AMT), get(RATE)
        if amount is not None and amount < 0:
            raise InputError(where(AMT), f"a dose amount >= 0 in {self.amount_unit}", self.text(cells, AMT))
        if rate is not None and rate != 0 and not amount:
            raise InputError(where(RATE), "a RATE only on a dose record with AMT > 0",
                             f"RATE {self.text(cells, RATE)} with AMT {self.text(cells, AMT) or 'missing'}")
        if get(MDV) not in (None, 0, 1):
            raise InputError(where(MDV), "0 (DV observed) or 1 (DV missing), or empty", self.text(cells, MDV))
        evid = self._evid(number, cells, amount)
        if (get(SS) or 0) != 0:
            raise InputError(where(SS), "0 or missing: steady-state dosing (SS) is not supported; write the doses "
                             "leading to steady state with ADDL and II", self.text(cells, SS))
        doses = self._doses(number, cells, time) if evid == DOSE else ()
        if evid != DOSE and amount:
            raise InputError(where(AMT), "0 or missing on a record that is not a dose (EVID 0 or 2)", self.text(cells, AMT))
        covariates = {column: get(column) for column in (WT, HT, AGE, BASEIGG)}
        covariates[SEX] = (self.text(cells, SEX) or "").upper() or None
        output = self.text(cells, OUTPUT) or self.default_output
        dv = get(DV) if evid == OBSERVATION and get(MDV) != 1 else None
        if dv is not None and dv < 0 and output.endswith(NON_NEGATIVE_UNITS):
            raise InputError(where(DV), f"an observed {output} >= 0 (a concentration or count)", self.text(cells, DV))
        return _Record(number, self.text(cells, ID) or "", subject, self.text(cells, TIME) or "",
                       time * DAYS_PER[self.time_unit], evid, doses, covariates, output, dv)

    def _evid(self, number: int, cells: Sequence[str], amount: float | None) -> int:
        evid = self.number(number, cells, EVID)
        if evid is None:
            if EVID in self.columns:
                raise InputError(self.where(number, EVID), _EVIDS, "a missing value")
            mdv = self.number(number, cells, MDV)
            return DOSE if amount else (OTHER if mdv == 1 else OBSERVATION)
        if evid not in (OBSERVATION, DOSE, OTHER):
            raise InputError(self.where(number, EVID), _EVIDS, self.text(cells, EVID))
        return int(evid)

    def _doses(self, number: int, cells: Sequence[str], time: float) -> tuple[DoseEvent, ...]:
        get = lambda column: self.number(number, cells, column)  # noqa: E731
        where = lambda column: self.where(number, column)  # noqa: E731
        amount, rate, duration = get(AMT), get(RATE), get(DUR)
        cmt = get(CMT) or 1
        if cmt not in COMPARTMENTS:
            raise InputError(where(CMT), _CMTS, self.text(cells, CMT))
        cmt = int(cmt)
        exchange = cmt in EXCHANGE_CMTS
        unit = "L" if exchange else self.amount_unit
        if not amount:
            raise InputError(where(AMT), f"a dose amount > 0 in {unit} on a dose record (EVID 1)",
                             self.text(cells, AMT) or "a missing value")
        rate, duration = rate or None, duration or None  # 0 means "not given"
        if rate is not None and duration is not None:
            raise InputError(where(DUR), "only one of RATE and DUR on a dose", f"RATE {rate:g} and DUR {duration:g}")
        if rate is None and duration is None:
            raise InputError(where(RATE), "a RATE > 0 or a DUR > 0 (IVIG is infused; a bolus is not supported)",
                             "neither")
        if rate is not None and rate < 0:
            raise InputError(where(RATE), f"a rate > 0 in {unit}/{self.time_unit} (modelled rates "
                             "RATE -1/-2 are not supported)", self.text(cells, RATE))
        if duration is not None and duration < 0:
            raise InputError(where(DUR), f"a duration > 0 in {self.time_unit}", self.text(cells, DUR))
        days, canonical = DAYS_PER[self.time_unit], (1.0 if exchange else GRAMS_PER[self.amount_unit])
        most, why = (MAX_INHIBITOR_DOSE_G, "100 mg/kg at 400 kg") if cmt == 3 else (MAX_DOSE_G, "5 g/kg at 400 kg")
        if not exchange and amount * canonical > most:
            raise InputError(where(AMT),
                             f"a dose of at most {most / canonical:g} {self.amount_unit} ({most:g} g: {why})",
                             self.text(cells, AMT))
        length = duration if duration is not None else amount / rate
        if exchange:
            longest, what = MAX_EXCHANGE_DAYS, f"a plasma-exchange session lasting 1 minute to {MAX_SESSION_H:g} hours"
        else:
            longest, what = MAX_DURATION_DAYS, "an infusion lasting 1 minute to 7 days"
        if not MIN_DURATION_DAYS <= length * days <= longest:
            column = DUR if duration is not None else RATE
            raise InputError(where(column), f"{what} (got {length * days * 24:.3g} h from AMT and {column})",
                             self.text(cells, column))
        additional, interval = get(ADDL) or 0.0, get(II) or 0.0
        if additional < 0 or additional != int(additional) or additional > MAX_ADDL:
            raise InputError(where(ADDL), f"a whole number of additional doses from 0 to {MAX_ADDL:,}",
                             self.text(cells, ADDL))
        if interval < 0:
            raise InputError(where(II), f"an interval >= 0 in {self.time_unit}", self.text(cells, II))
        if additional and not interval:
            raise InputError(where(II), f"an interval II > 0 for ADDL {additional:g} additional doses",
                             self.text(cells, II) or "a missing value")
        return tuple(
            DoseEvent(number, (time + k * interval) * days, amount * canonical, length * days, into)
            for k in range(int(additional) + 1)
            if (time + k * interval) * days <= MAX_TIME_DAYS
            for into in COMPARTMENTS[cmt]
        )


def _required_why(column: str) -> str:
    return {ID: "the subject of each record", TIME: "the time of each record",
            WT: "body weight in kg, which the model needs"}[column]


def _subjects(records: Sequence[_Record], reader: _Reader) -> tuple[Subject, ...]:
    """Group contiguous records by ID, checking time order and one covariate value per ID."""
    groups: list[list[tuple[int, _Record]]] = []
    seen: dict[float, int] = {}
    for index, record in enumerate(records):
        if groups and groups[-1][0][1].id_value == record.id_value:
            previous = groups[-1][-1][1]
            if record.time_day < previous.time_day:
                raise InputError(reader.where(record.number, TIME),
                                 f"records sorted by time within ID {record.id}: a time >= that of row "
                                 f"{previous.number}", record.time_text)
            groups[-1].append((index, record))
            continue
        if record.id_value in seen:
            raise InputError(reader.where(record.number, ID),
                             f"the records of each ID together (ID {record.id} also at row {seen[record.id_value]})",
                             record.id)
        seen[record.id_value] = record.number
        groups.append([(index, record)])
    return tuple(_subject(group, reader) for group in groups)


def _subject(group: Sequence[tuple[int, _Record]], reader: _Reader) -> Subject:
    values: dict[str, tuple[int, float | str]] = {}
    for _, record in group:
        for column, value in record.covariates.items():
            if value is None:
                continue
            # An impossible size is named on its own row, before a later row's different value is.
            if column in (WT, HT) and isinstance(value, float) and value <= 0:
                raise InputError(reader.where(record.number, column),
                                 f"a {'weight in kg' if column == WT else 'height in cm'} > 0", value)
            if column in values and values[column][1] != value:
                row, first = values[column]
                shown = f"{first:g}" if isinstance(first, float) else first
                raise InputError(reader.where(record.number, column),
                                 f"one {column} per ID (covariates are constant per patient; row {row} has {shown})",
                                 value)
            values.setdefault(column, (record.number, value))
    first = group[0][1]
    predicted = [record for _, record in group if record.evid != DOSE]
    if len(predicted) > MAX_RECORDS_PER_ID:
        raise InputError(reader.where(predicted[MAX_RECORDS_PER_ID].number, ID),
                         f"at most {MAX_RECORDS_PER_ID:,} observation and other records per ID (a measurement a day "
                         f"for 5 years)", f"{len(predicted):,} for ID {first.id}")
    if WT not in values:
        raise InputError(reader.where(first.number, WT), f"a body weight in kg for ID {first.id}", "a missing value")
    fields: dict[str, object] = {}
    for column, name in _PATIENT_FIELDS.items():
        if column in values:
            row, value = values[column]
            fields[name] = _sex(str(value), reader.where(row, SEX)) if column == SEX else value
    try:
        patient = Patient(**fields)  # type: ignore[arg-type]
    except InputError as exc:
        column = next(c for c, n in _PATIENT_FIELDS.items() if exc.field == f"patient.{n}")
        raise InputError(reader.where(values[column][0], column), exc.expected, exc.got) from None
    baseline = None
    if BASEIGG in values:
        row, value = values[BASEIGG]
        baseline = _baseline_igg(float(value), reader.where(row, BASEIGG))
    # Doses after the last record change no prediction: ADDL is cut at the simulated span.
    last = max((r.time_day for _, r in group if r.evid != DOSE), default=math.inf)
    given = [dose for _, record in group for dose in record.doses if dose.start_day <= last]
    _check_exchanges(given, patient, first.id, reader)
    return Subject(
        id=first.id,
        patient=patient,
        baseline_igg_g_per_L=baseline,
        doses=tuple(d for d in given if d.input == INFUSION_INPUT),
        records=tuple(Record(index, record.number, record.time_day, record.output, record.dv)
                      for index, record in group if record.evid != DOSE),
        sessions=tuple(d for d in given if d.input != INFUSION_INPUT),
    )


def _check_exchanges(doses: Sequence[DoseEvent], patient: Patient, subject: str, reader: _Reader) -> None:
    """Each plasma-exchange record exchanges at most ``MAX_PLASMA_VOLUMES`` of the subject's
    estimated plasma volume (Kaplan's, from WT and SEX, with the typical haematocrit): the
    limit a regimen file's ``plasma_exchange.plasma_volumes`` has."""
    from ivigsim.dosing.comparators import MAX_PLASMA_VOLUMES, TYPICAL_HAEMATOCRIT, estimated_plasma_volume_L

    volume = estimated_plasma_volume_L(patient.weight_kg, patient.sex, TYPICAL_HAEMATOCRIT[patient.sex])
    for d in doses:
        if d.input == EXCHANGE_INPUT and d.amount > MAX_PLASMA_VOLUMES * volume * (1 + 1e-12):
            most = MAX_PLASMA_VOLUMES * volume
            raise InputError(reader.where(d.row, AMT),
                             f"at most {MAX_PLASMA_VOLUMES:g} estimated plasma volumes per exchange ({most:.3g} L for "
                             f"ID {subject}: Kaplan's {volume:.3g} L from WT and SEX, haematocrit "
                             f"{TYPICAL_HAEMATOCRIT[patient.sex]:g})", f"{d.amount:g} L")


def _sex(text: str, where: str) -> str:
    try:
        return _SEXES[text.upper()]
    except KeyError:
        raise InputError(where, "M or F (numeric SEX codes differ between datasets, so they are not guessed)",
                         text) from None


def _baseline_igg(value: float, where: str) -> float:
    from ivigsim.model.library import core_model

    lo, hi = core_model().parameter("baseline_igg_g_per_L").bounds
    if not lo <= value <= hi:
        raise InputError(where, f"a baseline serum IgG in [{lo:g}, {hi:g}] g/L", value)
    return value


# -- simulating ----------------------------------------------------------------------


def simulate_dataset(
    dataset: NonmemDataset,
    *,
    disease: str | None = None,
    model: CompiledModel | None = None,
    solver: Dopri5 | None = None,
    parameters: Mapping[str, float] | None = None,
    mechanisms: Mapping[str, bool | float] | None = None,
) -> SimulatedDataset:
    """Simulate every subject in one batch: PRED at each non-dose record, of the output the
    record names (its OUTPUT, else the dataset's default).

    ``disease`` picks the model and its typical parameter values (as a scenario's
    ``disease`` does); ``parameters`` and ``mechanisms`` apply to every subject, as in a
    scenario file; WT and BASEIGG set each subject's own body weight and baseline IgG.
    """
    setup = SubjectSetup.create(dataset.subjects, disease, parameters=parameters, mechanisms=mechanisms,
                                model=model, solver=solver, source=dataset.source)
    pred = np.full(len(dataset.rows), np.nan)
    failed: tuple[str, ...] = ()
    if dataset.subjects:
        values, status = setup.predict()
        for subject, column in zip(dataset.subjects, values):
            for record, value in zip(subject.records, column):
                pred[record.row] = value
        failed = tuple(dataset.subjects[p].id for p in np.flatnonzero(status != 0))
    header, rows = fill_columns(dataset, {PRED: pred})
    return SimulatedDataset(header, rows, pred, failed)


def observed_dv(dataset: NonmemDataset) -> np.ndarray:
    """DV per row as a number (NaN on dose records and records without an observation)."""
    dv = np.full(len(dataset.rows), np.nan)
    for subject in dataset.subjects:
        for record in subject.observations:
            dv[record.row] = record.dv
    return dv


def fill_columns(dataset: NonmemDataset, predictions: Mapping[str, np.ndarray]) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """The input table, DV kept, MDV set, and one column per prediction (PRED, IPRED, ...),
    each followed by its residual DV - prediction (RES after PRED, IRES after IPRED) and any
    other given columns (IWRES, WRES); existing columns of those names are replaced."""
    dv = observed_dv(dataset)
    columns: dict[str, np.ndarray] = {}
    for name, values in predictions.items():
        columns[name] = values
        residual = RESIDUAL_OF.get(name)
        if residual is not None and residual not in predictions:
            columns[residual] = dv - values
    header = list(dataset.header)
    upper = [h.upper() for h in header]
    for column in (DV, MDV, *columns):
        if column not in upper:
            header.append(column)
            upper.append(column)
    at = {column: upper.index(column) for column in (DV, MDV, *columns)}
    rows = []
    for index, (cells, evid) in enumerate(zip(dataset.rows, dataset.evids)):
        out = list(cells) + [""] * (len(header) - len(cells))
        if not out[at[DV]].strip():
            out[at[DV]] = "."
        out[at[MDV]] = "0" if not math.isnan(dv[index]) else "1"
        for column, values in columns.items():
            value = values[index]
            out[at[column]] = "." if evid == DOSE or math.isnan(value) else f"{value:.12g}"
        rows.append(tuple(out))
    return tuple(header), tuple(rows)


# -- writing -------------------------------------------------------------------------


def write_dataset(result: SimulatedDataset, path: str | Path) -> Path:
    """Write the simulated dataset as CSV, atomically (all or nothing)."""
    path = Path(path)
    try:
        with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(result.header)
            writer.writerows(result.rows)
    except OSError as exc:
        raise InputError("--out", "a path where a file can be written", f"{path} ({exc.strerror or exc})") from None
    return path
