"""NONMEM-style datasets: same answers as the equivalent scenarios, and clear refusals.

The reference for every simulated DV is ivigsim's own scenario path
(``Regimen`` -> ``compile`` -> ``simulate``), one patient at a time, which shares the
engine but none of the dataset code: column parsing, unit conversion (hours, mg),
RATE vs DUR, ADDL/II expansion and the one-batch assembly of subjects are checked
against it.
"""

from __future__ import annotations

import csv
import math
import io
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ivigsim.cli import app
from ivigsim.dosing import Dose, InfusionSpec, Maintenance, Regimen, get_product
from ivigsim.engine.solver import Dopri5
from ivigsim.errors import InputError
from ivigsim.io.nonmem import parse_dataset, read_dataset, simulate_dataset, write_dataset
from ivigsim.model.patient import Patient
from ivigsim.scenario import Scenario
from ivigsim.simulation import simulate

TIGHT = Dopri5(rtol=1e-10, atol=1e-12)
HEADER = ["ID", "TIME", "AMT", "RATE", "DUR", "EVID", "CMT", "DV", "MDV", "II", "ADDL", "SS", "WT", "HT", "SEX", "AGE",
          "BASEIGG", "STUDY"]


def _dose(id_, time, amt, weight, rate=".", dur=".", ii=".", addl=".", **covariates):
    return {"ID": id_, "TIME": time, "AMT": amt, "RATE": rate, "DUR": dur, "EVID": 1, "CMT": 1, "DV": ".",
            "MDV": 1, "II": ii, "ADDL": addl, "WT": weight, **covariates}


def _obs(id_, time, weight, evid=0, **covariates):
    return {"ID": id_, "TIME": time, "AMT": ".", "EVID": evid, "DV": "0.5", "MDV": 0, "WT": weight, **covariates}


def _csv(rows, header=HEADER) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, restval=".", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


# Four subjects, times in hours, amounts in g:
#   1: 35 g at RATE 8.75 g/h (4 h) at 0 h; 35 g over DUR 3 h at 24 h; baseline IgG 9.5 g/L
#   2: 22 g over 2.5 h at 6 h, ADDL 3 every 24 h (four doses); model's baseline IgG
#   3: 90 g at RATE 12 g/h at 0 h, ADDL 2 every 504 h (three doses, every 21 days); a woman
#   4: no dose (placebo), one EVID 2 prediction record
ROWS = [
    _dose(1, 0, 35, 70, rate=8.75, BASEIGG=9.5, STUDY="A"),
    _obs(1, 12, 70, STUDY="A"),
    _dose(1, 24, 35, 70, dur=3, STUDY="A"),
    _obs(1, 24, 70), _obs(1, 36, 70), _obs(1, 72, 70), _obs(1, 168, 70), _obs(1, 336, 70),
    _obs(2, 0, 55),
    _dose(2, 6, 22, 55, dur=2.5, ii=24, addl=3),
    _obs(2, 48, 55), _obs(2, 96, 55), _obs(2, 240, 55),
    _obs(3, 0, 90, SEX="F", HT=170, AGE=50, BASEIGG=12),
    _dose(3, 0, 90, 90, rate=12, ii=504, addl=2, SEX="F", HT=170, AGE=50, BASEIGG=12),
    _obs(3, 168, 90), _obs(3, 504, 90), _obs(3, 1008, 90), _obs(3, 1200, 90),
    _obs(4, 0, 80), _obs(4, 60, 80, evid=2), _obs(4, 100, 80),
]

#: The same subjects as scenario regimens (doses in g/kg of actual weight, days).
_product = get_product("generic-10")
EQUIVALENT = {
    "1": (Patient(70.0), 9.5, (
        Dose(0.0, 35 / 70, InfusionSpec(rate_mg_per_kg_min=8.75 * 1000 / 60 / 70)),
        Dose(1.0, 35 / 70, InfusionSpec(duration_h=3.0)),
    )),
    "2": (Patient(55.0), None, (Maintenance(22 / 55, 1.0, 0.25, count=4, infusion=InfusionSpec(duration_h=2.5)),)),
    "3": (Patient(90.0, 170.0, "female", 50.0), 12.0, (
        Maintenance(1.0, 21.0, 0.0, count=3, infusion=InfusionSpec(rate_mg_per_kg_min=12 * 1000 / 60 / 90)),)),
    "4": (Patient(80.0), None, ()),
}


def _scenario_dv(subject: str, times_day: np.ndarray, output: str) -> np.ndarray:
    patient, baseline, parts = EQUIVALENT[subject]
    regimen = Regimen(parts, _product, allow_above_label=True) if parts else None
    scenario = Scenario(patient=patient, regimen=regimen, days=float(times_day.max()), output_every_days=0.5,
                        parameters={} if baseline is None else {"baseline_igg_g_per_L": baseline}, solver=TIGHT)
    ds = simulate(scenario)
    return ds[output].sel(time=times_day).values[0]


@pytest.fixture(scope="module")
def simulated():
    return simulate_dataset(parse_dataset(_csv(ROWS), "h", "g"), solver=TIGHT)


def _by_subject(result, rows):
    """{ID: (times in days, simulated DV)} over non-dose rows."""
    out: dict[str, tuple[list, list]] = {}
    for row, value in zip(rows, result.pred):
        if row["EVID"] != 1:
            times, values = out.setdefault(str(row["ID"]), ([], []))
            times.append(row["TIME"] / 24)
            values.append(value)
    return {k: (np.array(t), np.array(v)) for k, (t, v) in out.items()}


# -- same answers as the scenario path -------------------------------------------------


def test_dataset_matches_equivalent_scenarios(simulated):
    for subject, (times, values) in _by_subject(simulated, ROWS).items():
        np.testing.assert_allclose(values, _scenario_dv(subject, times, "igg_total_g_per_L"), rtol=1e-6,
                                   err_msg=f"ID {subject}")
    assert simulated.failed_ids == ()


def test_a_chosen_output_matches_too():
    result = simulate_dataset(parse_dataset(_csv(ROWS), "h", "g", default_output="autoantibody_fraction_of_baseline"),
                              solver=TIGHT)
    times, values = _by_subject(result, ROWS)["3"]
    np.testing.assert_allclose(values, _scenario_dv("3", times, "autoantibody_fraction_of_baseline"), rtol=1e-6)


def test_doses_change_the_prediction(simulated):
    """A check that the comparison above has teeth: dosed subjects rise above baseline."""
    by = _by_subject(simulated, ROWS)
    assert by["1"][1][0] > 9.5 + 5 and by["2"][1][1] > 11.4 + 5 and by["3"][1][1] > 12 + 2
    np.testing.assert_allclose(by["4"][1], 11.4, rtol=1e-6)  # placebo stays at the model's baseline


def test_addl_equals_the_doses_written_out():
    written_out = [r for r in ROWS if r["ID"] != 2 or r["EVID"] != 1] + [
        _dose(2, 6 + 24 * k, 22, 55, dur=2.5) for k in range(4)]
    written_out.sort(key=lambda r: (r["ID"], r["TIME"], -r["EVID"]))
    ordered = sorted(ROWS, key=lambda r: (r["ID"], r["TIME"], -r["EVID"]))
    a = simulate_dataset(parse_dataset(_csv(ordered), "h", "g"))
    b = simulate_dataset(parse_dataset(_csv(written_out), "h", "g"))
    np.testing.assert_allclose(_by_subject(a, ordered)["2"][1], _by_subject(b, written_out)["2"][1], rtol=1e-9)


def test_days_and_milligrams_give_the_same_answer(simulated):
    def converted(row):
        row = dict(row)
        for column in ("TIME", "DUR", "II"):
            if row.get(column, ".") != ".":
                row[column] = row[column] / 24
        if row["AMT"] != ".":
            row["AMT"] = row["AMT"] * 1000
        if row.get("RATE", ".") != ".":
            row["RATE"] = row["RATE"] * 1000 * 24
        return row

    result = simulate_dataset(parse_dataset(_csv([converted(r) for r in ROWS]), "d", "mg"), solver=TIGHT)
    np.testing.assert_allclose(result.pred, simulated.pred, rtol=1e-9)


def test_written_dataset_keeps_dv_and_adds_pred_and_res(simulated, tmp_path):
    """Observed data stay observed: DV as given, PRED the simulation, RES = DV - PRED."""
    path = write_dataset(simulated, tmp_path / "sim.csv")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [*HEADER, "PRED", "RES"] and len(rows) == len(ROWS)
    for original, written, value in zip(ROWS, rows, simulated.pred):
        assert written["STUDY"] == str(original.get("STUDY", "."))  # other columns pass through
        assert written["DV"] == str(original["DV"])  # never overwritten
        if original["EVID"] == 1:
            assert written["MDV"] == "1" and written["PRED"] == "." and written["AMT"] == str(original["AMT"])
        else:
            assert float(written["PRED"]) == pytest.approx(value, rel=1e-11)
            assert written["MDV"] == ("0" if original["EVID"] == 0 else "1")
        if original["EVID"] == 0:
            assert float(written["RES"]) == pytest.approx(float(original["DV"]) - value, rel=1e-11, abs=1e-12)
        else:
            assert written["RES"] == "."


def test_dv_and_mdv_are_added_when_absent():
    header = ["ID", "TIME", "AMT", "DUR", "WT"]
    text = _csv([{"ID": 1, "TIME": 0, "AMT": 10, "DUR": 2, "WT": 60}, {"ID": 1, "TIME": 24, "WT": 60}], header)
    result = simulate_dataset(parse_dataset(text, "h", "g"))
    assert result.header == (*header, "DV", "MDV", "PRED", "RES")
    # No DV: the record is predicted (PRED) but not observed (MDV 1, no residual).
    assert result.rows[1][-4:-2] == (".", "1") and float(result.rows[1][-2]) > 11.4 and result.rows[1][-1] == "."


def test_each_record_observes_the_output_it_names():
    rows = [dict(r, OUTPUT="autoantibody_fraction_of_baseline") if r["ID"] == 3 and r["EVID"] != 1 else r
            for r in ROWS]
    result = simulate_dataset(parse_dataset(_csv(rows, [*HEADER, "OUTPUT"]), "h", "g"), solver=TIGHT)
    by = _by_subject(result, rows)
    np.testing.assert_allclose(by["3"][1], _scenario_dv("3", by["3"][0], "autoantibody_fraction_of_baseline"),
                               rtol=1e-6)
    np.testing.assert_allclose(by["1"][1], _scenario_dv("1", by["1"][0], "igg_total_g_per_L"), rtol=1e-6)


def test_solver_failures_are_reported_not_fatal():
    result = simulate_dataset(parse_dataset(_csv(ROWS), "h", "g"), solver=Dopri5(max_steps=3))
    assert result.failed_ids == ("1", "2", "3", "4")
    after_start = [row for row, original in zip(result.rows, ROWS) if original["TIME"] > 0]
    assert all(row[len(HEADER)] == "." for row in after_start)  # PRED is NaN after the failure


# -- comparators: SCIG, an FcRn inhibitor, plasma exchange ------------------------------


def test_comparator_records_match_the_same_treatments_written_as_a_regimen():
    """A 70-kg man's dataset in days: subcutaneous IgG (CMT 2, 14 g over 1 h on days 0 and 7),
    efgartigimod (CMT 3, 0.7 g over 1 h on day 3), one exchange with albumin (CMT 4, one Kaplan
    plasma volume, 2.42 L, over 2 h on day 10) and one with donor plasma (CMT 5, day 14). PRED
    equals ``simulate`` of the same treatments written as regimen parts, compiled by the dosing
    layer's own code (g/kg, mg/kg, plasma volumes); an IVIG-only subject in the same batch is
    unchanged by its neighbour's comparators."""
    from ivigsim.dosing.comparators import FcRnInhibitor, PlasmaExchange, SubcutaneousIgG

    pv = 2.42  # Kaplan, 70 kg, male, haematocrit 0.45: (1 - 0.45)(1530 + 41 x 70) mL
    dose = lambda t, amt, cmt, dur: {"ID": 1, "TIME": t, "AMT": amt, "DUR": dur, "EVID": 1, "CMT": cmt, "DV": ".",  # noqa: E731
                                     "MDV": 1, "WT": 70, "SEX": "M"}
    rows = [dose(0, 14, 2, 1 / 24), dose(3, 0.7, 3, 1 / 24), dose(7, 14, 2, 1 / 24), dose(10, pv, 4, 2 / 24),
            dose(14, pv, 5, 2 / 24)]
    rows += [{"ID": 1, "TIME": t, "EVID": 2, "MDV": 1, "WT": 70, "SEX": "M"} for t in range(1, 21)]
    rows.sort(key=lambda r: r["TIME"])  # records by time within the ID (a dose before a record at its time)
    predicted = [i for i, r in enumerate(rows) if r["EVID"] == 2]
    rows += [_dose(2, 0, 35, 70, dur=3 / 24), *({"ID": 2, "TIME": t, "EVID": 2, "MDV": 1, "WT": 70} for t in range(1, 21))]
    dataset = parse_dataset(_csv(rows), "d", "g")
    (one, two) = dataset.subjects
    assert [d.input for d in one.sessions] == ["scig_g_per_day", "fcrn_inhibitor_infusion_g_per_day", "scig_g_per_day",
                                               "plasma_exchange_L_per_day", "plasma_exchange_L_per_day",
                                               "donor_plasma_L_per_day"]
    assert [(d.amount, d.unit) for d in one.sessions] == [(14, "g"), (0.7, "g"), (14, "g"), (pv, "L"), (pv, "L"),
                                                          (pv, "L")]
    assert one.doses == () and not two.sessions and {d.unit for d in two.doses} == {"g"}
    result = simulate_dataset(dataset, solver=TIGHT)
    parts = (SubcutaneousIgG(0.2, every_days=7.0, count=2, duration_h=1.0, start_hour=0.0),
             FcRnInhibitor(days=(3.0,), mg_per_kg=10.0, duration_h=1.0, start_hour=0.0),
             PlasmaExchange((10.0,), 1.0, duration_h=2.0, start_hour=0.0),
             PlasmaExchange((14.0,), 1.0, duration_h=2.0, replacement="plasma", start_hour=0.0))
    ds = simulate(Scenario(patient=Patient(70.0), regimen=Regimen(parts, _product), days=20.0, solver=TIGHT))
    np.testing.assert_allclose(result.pred[predicted], ds["igg_total_g_per_L"].sel(time=np.arange(1, 21)).values[0],
                               rtol=1e-6)
    alone = simulate_dataset(parse_dataset(_csv(rows[25:]), "d", "g"), solver=TIGHT)
    np.testing.assert_allclose(result.pred[26:], alone.pred[1:], rtol=1e-6)


# -- refusals ---------------------------------------------------------------------------


def _replace(index, **changes):
    rows = [dict(r) for r in ROWS]
    rows[index].update(changes)
    return rows


BAD = {
    "negative AMT": (_replace(0, AMT=-35), r"row 1 column AMT: expected a dose amount >= 0 in g"),
    "RATE with no AMT": (_replace(1, RATE=5), r"row 2 column RATE: expected a RATE only on a dose record"),
    "unsorted TIME": (_replace(4, TIME=20), r"row 5 column TIME: expected records sorted by time within ID 1"),
    "unknown EVID": (_replace(1, EVID=7), r"row 2 column EVID: expected 0 \(observation\), 1 \(dose\) or 2"),
    "reset EVID": (_replace(1, EVID=3), r"row 2 column EVID: .*3 and 4 \(reset\) are not supported"),
    "non-numeric TIME": (_replace(3, TIME="1:00"), r"row 4 column TIME: expected a number"),
    "non-numeric DV": (_replace(3, DV="BQL"), r"row 4 column DV: expected a number"),
    "ADDL without II": (_replace(9, II="."), r"row 10 column II: expected an interval II > 0 for ADDL 3"),
    "steady state": (_replace(0, SS=1), r"row 1 column SS: expected 0 or missing: steady-state dosing"),
    "bolus": (_replace(0, RATE="."), r"row 1 column RATE: expected a RATE > 0 or a DUR > 0"),
    "RATE and DUR": (_replace(0, DUR=4), r"row 1 column DUR: expected only one of RATE and DUR"),
    "modelled rate": (_replace(0, RATE=-2), r"row 1 column RATE: expected a rate > 0 in g/h"),
    "dose CMT": (_replace(0, CMT=6), r"row 1 column CMT: expected 1 \(IVIG\) or missing, 2 \(subcutaneous IgG\)"),
    "exchange above 3 plasma volumes": (_replace(0, CMT=4, AMT=7.5, RATE=".", DUR=2),
                                        r"row 1 column AMT: expected at most 3 estimated plasma volumes per exchange "
                                        r"\(7.26 L for ID 1"),
    "exchange over 12 h": (_replace(0, CMT=4, AMT=2, RATE=".", DUR=13), r"row 1 column DUR: expected a plasma-exchange "
                           r"session lasting 1 minute to 12 hours"),
    "inhibitor above 40 g": (_replace(0, CMT=3, AMT=41, RATE=".", DUR=1), r"row 1 column AMT: expected a dose of at "
                             r"most 40 g \(40 g: 100 mg/kg at 400 kg\)"),
    "AMT on an observation": (_replace(1, AMT=3), r"row 2 column AMT: expected 0 or missing on a record that is not"),
    "missing ID": (_replace(1, ID="."), r"row 2 column ID: expected a subject ID"),
    "ID not contiguous": (ROWS + [_obs(1, 400, 70)], r"row 23 column ID: expected the records of each ID together"),
    "WT varies": (_replace(3, WT=71), r"row 4 column WT: expected one WT per ID"),
    "absurd WT": ([{**r, "WT": 900} if r["ID"] == 4 else r for r in ROWS], r"row 20 column WT: expected a body weight"),
    "numeric SEX": ([{**r, "SEX": 1} if r["ID"] == 3 and "SEX" in r else r for r in ROWS], r"row 14 column SEX: expected M or F"),
    "absurd BASEIGG": (_replace(0, BASEIGG=114), r"row 1 column BASEIGG: expected a baseline serum IgG in \[1, 40\]"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_dataset_is_refused_naming_row_and_column(case):
    rows, message = BAD[case]
    with pytest.raises(InputError, match=rf"^bad\.csv {message}"):
        parse_dataset(_csv(rows), "h", "g", source="bad.csv")


@pytest.mark.parametrize("column", ["ID", "TIME", "WT"])
def test_a_missing_required_column_is_named(column):
    rows = [{k: v for k, v in r.items() if k != column} for r in ROWS]
    text = _csv(rows, [h for h in HEADER if h != column])
    with pytest.raises(InputError, match=rf"^bad\.csv header: expected a {column} column"):
        parse_dataset(text, "h", "g", source="bad.csv")


def test_units_are_declared_never_guessed():
    with pytest.raises(InputError, match="time unit: expected h or d"):
        parse_dataset(_csv(ROWS), "hours", "g")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="amount unit: expected g or mg"):
        parse_dataset(_csv(ROWS), "h", "kg")  # type: ignore[arg-type]


def test_unknown_output_is_refused_naming_the_row():
    rows = [dict(r, OUTPUT="platelets") if i == 4 else r for i, r in enumerate(ROWS)]
    with pytest.raises(InputError, match=r"^bad\.csv row 5 column OUTPUT: expected one of the model's outputs"):
        simulate_dataset(parse_dataset(_csv(rows, [*HEADER, "OUTPUT"]), "h", "g", source="bad.csv"))
    with pytest.raises(InputError, match=r"row 2 column OUTPUT: expected one of the model's outputs"):
        simulate_dataset(parse_dataset(_csv(ROWS), "h", "g", default_output="platelets"))


# -- the command line ---------------------------------------------------------------------


def test_cli_nonmem_writes_the_simulated_dataset(tmp_path: Path):
    data = tmp_path / "data.csv"
    data.write_text(_csv(ROWS))
    out = tmp_path / "simulated.csv"
    result = CliRunner().invoke(app, ["nonmem", str(data), "--time-unit", "h", "--amount-unit", "g", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "simulated 4 subject(s)" in result.output
    expected = simulate_dataset(read_dataset(data, "h", "g"))
    with out.open(newline="") as handle:
        written = list(csv.reader(handle))
    assert written == [list(expected.header), *map(list, expected.rows)]


def test_cli_nonmem_bad_dataset_exits_2_with_one_line_and_writes_nothing(tmp_path: Path):
    data = tmp_path / "data.csv"
    data.write_text(_csv(BAD["negative AMT"][0]))
    out = tmp_path / "simulated.csv"
    result = CliRunner().invoke(app, ["nonmem", str(data), "--time-unit", "h", "--amount-unit", "g", "-o", str(out)])
    assert result.exit_code == 2
    assert result.output.startswith("error: data.csv row 1 column AMT:") and result.output.count("\n") == 1
    assert not out.exists() and list(tmp_path.iterdir()) == [data]


def test_cli_nonmem_requires_the_units(tmp_path: Path):
    data = tmp_path / "data.csv"
    data.write_text(_csv(ROWS))
    result = CliRunner().invoke(app, ["nonmem", str(data), "--amount-unit", "g"])
    assert result.exit_code == 2 and "--time-unit" in result.output


def test_cli_nonmem_unwritable_out_is_one_line(tmp_path: Path):
    data = tmp_path / "data.csv"
    data.write_text(_csv(ROWS))
    folder = tmp_path / "a-folder"
    folder.mkdir()
    result = CliRunner().invoke(app, ["nonmem", str(data), "--time-unit", "h", "--amount-unit", "g", "-o", str(folder)])
    assert result.exit_code == 2 and result.output.startswith("error: --out:") and result.output.count("\n") == 1
    assert list(folder.iterdir()) == []


#: Each shipped example dataset with the units its README declares.
EXAMPLE_UNITS = {"igg-three-subjects.csv": ("h", "g"), "igg-cidp-patient.csv": ("d", "g"),
                 "igg-population.csv": ("d", "g")}
EXAMPLE_DATASETS = sorted((Path(__file__).resolve().parents[1] / "examples" / "nonmem").glob("*.csv"))


@pytest.mark.parametrize("path", EXAMPLE_DATASETS, ids=[p.name for p in EXAMPLE_DATASETS])
def test_example_datasets_run(path: Path, tmp_path: Path):
    time_unit, amount_unit = EXAMPLE_UNITS[path.name]  # a new example must declare its units here
    out = tmp_path / "simulated.csv"
    result = CliRunner().invoke(app, ["nonmem", str(path), "--time-unit", time_unit, "--amount-unit", amount_unit,
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    predicted = [r for r in rows if r["EVID"] != "1"]
    assert predicted and all(5 < float(r["PRED"]) < 60 for r in predicted)  # g/L of total IgG, plausibly
    assert all(r["MDV"] == "1" for r in rows if r["EVID"] != "0")


def test_a_fit_through_plasma_exchanges_recovers_the_distribution_clearance():
    """Observations around two exchanges of an 80-kg man, simulated at a distribution clearance of
    5 L/day (2.5 times the typical 2) and written back as DV without noise: the individual fit
    (a wide prior, CV 3, so that the data decide) moves from the typical value to it (the
    rebound after each exchange is the tissue's return), and its interval contains it."""
    from ivigsim.estimation.fit import fit_dataset

    obs = lambda t: {"ID": 1, "TIME": t, "EVID": 0, "DV": "1", "MDV": 0, "WT": 80, "SEX": "M"}  # noqa: E731
    ex = lambda t: {"ID": 1, "TIME": t, "AMT": 2.6, "DUR": 2 / 24, "EVID": 1, "CMT": 4, "DV": ".", "MDV": 1,  # noqa: E731
                    "WT": 80, "SEX": "M"}
    rows = [obs(0), ex(1), obs(1.1), obs(1.5), obs(2), obs(3), ex(3.1), obs(3.2), obs(3.6), obs(4.5), obs(6), obs(10)]
    truth = 5.0
    made = simulate_dataset(parse_dataset(_csv(rows), "d", "g"), solver=TIGHT,
                            parameters={"distribution_clearance_70kg_L_per_day": truth})
    for row, value in zip(rows, made.pred):
        if row["EVID"] == 0:
            row["DV"] = f"{value:.6f}"
    fit = fit_dataset(parse_dataset(_csv(rows), "d", "g"), ["distribution_clearance_70kg_L_per_day"],
                      priors={"distribution_clearance_70kg_L_per_day": 3.0}).fits[0]  # a wide prior: the data decide
    assert fit.lower[0] <= truth <= fit.upper[0]
    assert abs(math.log(fit.estimate[0] / truth)) < 0.1  # within 10 %, from the typical 2 L/day
