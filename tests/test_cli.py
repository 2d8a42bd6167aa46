"""The command line: help, schema, parameters, output formats, and bad input.

BRIEF s.5 (Reliability): bad input gets one clear line naming the field, what was
expected and what was got, exit status 2, never a traceback, and nothing written.
Most runs are in-process (``typer.testing.CliRunner``); two go through a real
subprocess to prove what a terminal sees.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer.main
import xarray as xr
import yaml
from typer.testing import CliRunner

from ivigsim.cli import app
from ivigsim.model.library import core_model

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
ITP = ROOT / "examples" / "itp-standard.yaml"

runner = CliRunner()


def _invoke(*args: str):
    return runner.invoke(app, list(args))


def _no_traceback(result) -> None:
    """In-process, an escaped exception shows as result.exception (exit 1), not as text."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("ivigsim")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from ivigsim.cli import main; main()"]


# -- help ---------------------------------------------------------------------------

PROMISED_COMMANDS = ["simulate", "demo", "schema", "parameters"]
REGISTERED = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def test_app_help():
    result = _invoke("--help")
    assert result.exit_code == 0
    assert "Usage" in result.stdout
    for command in PROMISED_COMMANDS:
        assert command in result.stdout


def test_no_arguments_shows_help_not_a_traceback():
    result = _invoke()
    _no_traceback(result)
    assert "Usage" in result.output


@pytest.mark.parametrize("command", sorted(set(PROMISED_COMMANDS) | set(REGISTERED)))
def test_command_help(command):
    result = _invoke(command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.stdout and command in result.stdout
    _no_traceback(result)


# -- schema -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> dict:
    result = _invoke("schema")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_schema_is_a_valid_draft_2020_12_schema(schema):
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert schema.get("additionalProperties") is False
    for field in ("name", "patient", "regimen", "simulation", "parameters", "mechanisms"):
        assert field in schema["properties"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_schema_accepts_every_example(schema, path):
    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def test_schema_accepts_the_demo(schema):
    from ivigsim.cli import DEMO

    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(DEMO.read_text(encoding="utf-8")))


def _all_errors(errors):
    for e in errors:
        yield e
        yield from _all_errors(e.context or ())


@pytest.mark.parametrize(
    ("document", "where", "unknown"),
    [
        ({"nmae": "typo", "regimen": {"standard": "itp"}}, [], "nmae"),
        ({"patient": {"wieght_kg": 70}}, ["patient"], "wieght_kg"),
        ({"regimen": {"standard": "itp", "prodcut": "privigen"}}, ["regimen"], "prodcut"),
        ({"regimen": {"course": {"total_g_per_kg": 2, "days": 2, "dayz": 3}}}, ["regimen", "course"], "dayz"),
        ({"regimen": {"doses": [{"day": 0, "g_per_kg": 1, "infusion": {"rate": 2}}]}},
         ["regimen", "doses", 0, "infusion"], "rate"),
        ({"simulation": {"days": 30, "step": 1}}, ["simulation"], "step"),
    ],
    ids=["top-level", "patient", "regimen", "course", "dose-infusion", "simulation"],
)
def test_schema_rejects_unknown_fields(schema, document, where, unknown):
    validator = jsonschema.Draft202012Validator(schema)
    assert not validator.is_valid(document), "an unknown field was accepted"
    found = [e for e in _all_errors(validator.iter_errors(document))
             if e.validator == "additionalProperties" and list(e.absolute_path) == where]
    assert found and repr(unknown) in found[0].message, [e.message for e in _all_errors(validator.iter_errors(document))]


def test_schema_rejects_wrong_types(schema):
    validator = jsonschema.Draft202012Validator(schema)
    assert not validator.is_valid({"regimen": {"course": {"total_g_per_kg": 2, "days": 2.5}}})
    assert not validator.is_valid({"patient": {"sex": "F"}})
    assert not validator.is_valid({"patient": {"weight_kg": [70]}})
    assert not validator.is_valid(["a", "list"])
    assert validator.is_valid({"patient": {"weight_kg": "154 lb"}})  # units in strings are allowed


# -- parameters ---------------------------------------------------------------------


def test_parameters_lists_every_model_parameter_with_a_source():
    result = _invoke("parameters")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    by_name = {line.split()[0]: line for line in lines if line.strip()}
    names = [p.name for p in core_model().parameters]
    assert len(names) >= 10
    assert sorted(by_name) == sorted(names)
    for p in core_model().parameters:
        assert p.source.strip(), p.name
        assert p.source.strip()[:20] in by_name[p.name]


def test_parameters_json_lists_every_model_parameter_with_a_source():
    result = _invoke("parameters", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert isinstance(rows, list)
    model = {p.name: p for p in core_model().parameters}
    assert sorted(r["name"] for r in rows) == sorted(model)
    for r in rows:
        assert isinstance(r["source"], str) and r["source"].strip(), r["name"]
        assert r["unit"], r["name"]
        assert r["value"] == pytest.approx(model[r["name"]].value)
        lo, hi = r["bounds"]
        assert lo <= r["value"] <= hi, r["name"]
        p = model[r["name"]]
        assert r["variability_scale"] == (p.variability_scale if p.may_vary else None), r["name"]


@pytest.mark.parametrize("disease", ["none", "cidp", "kawasaki"])
def test_parameters_say_what_a_number_under_variability_means(disease):
    from ivigsim.model.library import build_model

    result = _invoke("parameters", "--disease", disease)
    assert result.exit_code == 0, result.output
    by_name = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    model = build_model(disease)
    assert sorted(by_name) == sorted(model.parameter_names)
    for p in model.parameters:
        meaning = ("-" if not p.may_vary else "omega (logit-normal)" if p.variability_scale == "logit"
                   else "CV (log-normal)")
        assert f" {meaning} " in by_name[p.name], by_name[p.name]
    assert "omega (logit-normal)" in by_name["fcrn_blockade"] and " - " in by_name["body_weight_kg"]


def test_parameters_of_an_unknown_disease_give_one_line_and_exit_2():
    result = _invoke("parameters", "--disease", "flu")
    assert result.exit_code == 2 and "disease: expected one of" in result.output


# -- output formats and where output goes -------------------------------------------


@pytest.fixture(scope="module")
def itp_runs(tmp_path_factory) -> dict[str, Path]:
    """The ITP example written once in each format (no plots: they are tested elsewhere)."""
    paths = {}
    for fmt, suffix in (("csv", ".csv"), ("parquet", ".parquet"), ("netcdf", ".nc")):
        out = tmp_path_factory.mktemp(fmt)
        result = _invoke("simulate", str(ITP), "-o", str(out), "--format", fmt, "--no-plot", "--quiet")
        assert result.exit_code == 0, (fmt, result.output, result.exception)
        assert sorted(p.name for p in out.iterdir()) == [f"itp-standard{suffix}"]
        paths[fmt] = out / f"itp-standard{suffix}"
    return paths


def test_parquet_matches_csv(itp_runs):
    csv = pd.read_csv(itp_runs["csv"])
    parquet = pd.read_parquet(itp_runs["parquet"])
    assert list(parquet.columns) == list(csv.columns)
    assert len(parquet) == len(csv) > 56 * 4 + 1  # the grid plus the infusions' starts and ends
    for column in ("time_day", "igg_total_g_per_L", "autoantibody_fraction_of_baseline"):
        # CSV keeps 10 significant digits; Parquet keeps every bit.
        np.testing.assert_allclose(parquet[column], csv[column], rtol=1e-9, atol=1e-12)


def test_netcdf_matches_csv_and_keeps_units_and_per_infusion_values(itp_runs):
    csv = pd.read_csv(itp_runs["csv"])
    with xr.open_dataset(itp_runs["netcdf"], engine="scipy") as ds:
        ds.load()
    assert ds["igg_total_g_per_L"].dims == ("patient", "time")
    assert ds["igg_total_g_per_L"].attrs["units"] == "g/L"
    np.testing.assert_allclose(ds["time"].values, csv["time_day"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ds["igg_total_g_per_L"].isel(patient=0).values, csv["igg_total_g_per_L"], rtol=1e-9)
    # Two infusions (1 g/kg on day 0 and day 1), each with an exact trough and peak.
    assert ds.sizes["infusion"] == 2
    np.testing.assert_allclose(ds["infusion_amount_g"].values, [70.0, 70.0], rtol=1e-12)
    pre = ds["igg_total_pre_infusion_g_per_L"].isel(patient=0).values
    post = ds["igg_total_post_infusion_g_per_L"].isel(patient=0).values
    assert (post > pre + 10).all()  # 70 g into ~3 L of plasma raises IgG by well over 10 g/L


def test_unknown_format_is_refused_without_writing(tmp_path):
    out = tmp_path / "out"
    result = _invoke("simulate", str(ITP), "-o", str(out), "--format", "xlsx")
    assert result.exit_code == 2
    _no_traceback(result)
    assert "format" in result.output
    assert not out.exists()


def test_output_goes_to_the_out_folder_only(tmp_path, monkeypatch):
    cwd, out = tmp_path / "cwd", tmp_path / "out"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    examples_before = sorted(p.name for p in (ROOT / "examples").iterdir())
    result = _invoke("simulate", str(ITP), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert list(cwd.iterdir()) == []
    assert sorted(p.name for p in out.iterdir()) == ["itp-standard.csv", "itp-standard.png"]  # no .part left
    assert sorted(p.name for p in (ROOT / "examples").iterdir()) == examples_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd", "out"]


def test_default_output_folder_is_named_after_the_file(tmp_path, monkeypatch):
    """Without -o, results go to one folder FILE-results and nowhere else."""
    src, cwd = tmp_path / "in", tmp_path / "cwd"
    src.mkdir()
    cwd.mkdir()
    scenario = src / "mine.yaml"
    shutil.copy(ITP, scenario)
    monkeypatch.chdir(cwd)
    result = _invoke("simulate", str(scenario), "--no-plot", "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # --quiet
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written in (
        ["cwd/mine-results/mine.csv", "in/mine.yaml"],
        ["in/mine-results/mine.csv", "in/mine.yaml"],
    )


def test_one_patient_from_the_cli_in_a_subprocess(tmp_path):
    """A real process, start-up included: it finishes and writes the CSV (no timing asserted)."""
    out = tmp_path / "out"
    proc = subprocess.run(
        [*_cli(), "simulate", "examples/itp-standard.yaml", "-o", str(out), "--no-plot"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["itp-standard.csv"]
    table = pd.read_csv(out / "itp-standard.csv")
    assert len(table) > 56 * 4 + 1  # the 6-hourly grid plus the infusions' starts and ends
    assert "IVIG infused: 140.0 g" in proc.stdout
    # The printed peak is in the file (it falls at an infusion's end, between grid points).
    import re

    peak = float(re.search(r"peak ([0-9.]+) g/L", proc.stdout).group(1))
    assert table["igg_total_g_per_L"].max() == pytest.approx(peak, abs=0.006)


def test_bad_file_in_a_subprocess_prints_one_line_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("patient:\n  weight_kg: 70 cm\nregimen: {standard: itp}\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.run([*_cli(), "simulate", str(bad), "-o", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: patient.weight_kg: expected ")
    assert "70 cm" in lines[0]
    assert not out.exists()


# -- bad input, exhaustively -------------------------------------------------------------

ITP_REGIMEN = "regimen: {standard: itp}\n"


def _case(case_id, text, field, got, *marks):
    return pytest.param(text, field, got, id=case_id, marks=marks)



BAD_INPUT = [
    # schema: unknown fields
    _case("unknown-top-level-field", "nmae: typo\n" + ITP_REGIMEN, "nmae", "typo"),
    _case("unknown-nested-field", "patient: {wieght_kg: 70}\n" + ITP_REGIMEN, "patient.wieght_kg", "70"),
    _case("unknown-regimen-field", "regimen: {standard: itp, prodcut: privigen}\n", "regimen.prodcut", "privigen"),
    # patient
    _case("negative-weight", "patient: {weight_kg: -70}\n" + ITP_REGIMEN, "patient.weight_kg", "-70"),
    _case("weight-wrong-dimension", "patient: {weight_kg: 70 cm}\n" + ITP_REGIMEN, "patient.weight_kg", "70 cm"),
    _case("weight-not-a-number", "patient: {weight_kg: abc}\n" + ITP_REGIMEN, "patient.weight_kg", "abc"),
    _case("weight-absurd", "patient: {weight_kg: 7000}\n" + ITP_REGIMEN, "patient.weight_kg", "7000"),
    _case("weight-infinite", "patient: {weight_kg: .inf}\n" + ITP_REGIMEN, "patient.weight_kg", "inf"),
    _case("height-absurd", "patient: {height_cm: 1000}\n" + ITP_REGIMEN, "patient.height_cm", "1000"),
    _case("sex-unknown", "patient: {sex: F}\n" + ITP_REGIMEN, "patient.sex", "F"),
    _case("patient-not-a-mapping", "patient: heavy\n" + ITP_REGIMEN, "patient", "heavy"),
    # doses
    _case("dose-zero", "regimen: {doses: [{day: 0, g_per_kg: 0}]}\n", "g_per_kg", "0"),
    _case("dose-negative", "regimen: {doses: [{day: 0, g_per_kg: -1 g/kg}]}\n", "g_per_kg", "-1"),
    _case("dose-5-g-per-kg", "regimen: {doses: [{day: 0, g_per_kg: 5}]}\n", "g_per_kg", "5"),
    _case("dose-nan", "regimen: {doses: [{day: 0, g_per_kg: .nan}]}\n", "g_per_kg", "nan"),
    _case("dose-wrong-dimension", "regimen: {doses: [{day: 0, g_per_kg: 2 kg}]}\n", "g_per_kg", "2 kg"),
    _case("dose-day-negative", "regimen: {doses: [{day: -1, g_per_kg: 1}]}\n", "day", "-1"),
    _case("doses-not-a-list", "regimen: {doses: {day: 0, g_per_kg: 1}}\n", "regimen.doses", "g_per_kg"),
    _case("course-days-0", "regimen: {course: {total_g_per_kg: 2, days: 0}}\n", "regimen.course.days", "0"),
    _case("course-days-2.5", "regimen: {course: {total_g_per_kg: 2, days: 2.5}}\n", "regimen.course.days", "2.5"),
    _case("course-6-g-per-kg-in-one-day", "regimen: {course: {total_g_per_kg: 6, days: 1}}\n",
          "regimen.course.total_g_per_kg", "6"),
    # infusions and labels
    _case("duration-and-rate",
          "regimen: {doses: [{day: 0, g_per_kg: 1, infusion: {duration_h: 4, rate_mg_per_kg_min: 2}}]}\n",
          "infusion", "duration_h"),
    _case("rate-above-label",
          "regimen: {product: generic-10, doses: [{day: 0, g_per_kg: 1, infusion: {rate_mg_per_kg_min: 20}}]}\n",
          "infusion", "20"),
    _case("rate-above-privigen-itp-label",
          "indication: itp\nregimen: {product: privigen, course: {total_g_per_kg: 2, days: 2,"
          " infusion: {rate_mg_per_kg_min: 6}}}\n", "infusion", "6"),
    _case("duration-too-short-for-label",
          "regimen: {doses: [{day: 0, g_per_kg: 2, infusion: {duration_h: 1}}]}\n", "infusion", "33.3"),
    _case("duration-negative", "regimen: {doses: [{day: 0, g_per_kg: 1, infusion: {duration_h: -2}}]}\n",
          "duration_h", "-2"),
    _case("titration-max-below-start",
          "regimen: {doses: [{day: 0, g_per_kg: 1, infusion: {titration: "
          "{start_mg_per_kg_min: 4, step_minutes: 30, max_mg_per_kg_min: 2}}}]}\n", "titration", "2"),
    _case("overlapping-infusions",
          "regimen: {doses: [{day: 0, g_per_kg: 2, infusion: {duration_h: 30}}, {day: 1, g_per_kg: 1}]}\n",
          "regimen", "overlaps"),
    _case("start-hour-30", "regimen: {standard: itp, start_hour: 30}\n", "regimen.start_hour", "30"),
    # catalogue names
    _case("unknown-product", "regimen: {standard: itp, product: gammagard}\n", "regimen.product", "gammagard"),
    _case("unknown-standard-regimen", "regimen: {standard: itp-triple}\n", "regimen", "itp-triple"),
    _case("unknown-indication", "indication: lupus\n" + ITP_REGIMEN, "indication", "lupus"),
    _case("indication-wrong-case", "indication: ITP\n" + ITP_REGIMEN, "indication", "ITP"),
    _case("unknown-dosing-weight", "regimen: {standard: itp, dosing_weight: lean}\n", "regimen.dosing_weight", "lean"),
    # regimen structure
    _case("standard-and-course", "regimen: {standard: itp, course: {total_g_per_kg: 2, days: 2}}\n",
          "regimen", "standard"),
    _case("empty-regimen", "regimen: {}\n", "regimen", "{}"),
    _case("maintenance-count-and-until-day",
          "regimen: {maintenance: {g_per_kg: 1, every_days: 21, start_day: 0, count: 3, until_day: 60}}\n",
          "regimen.maintenance", "count"),
    _case("maintenance-neither-count-nor-until-day",
          "regimen: {maintenance: {g_per_kg: 1, every_days: 21, start_day: 0}}\n", "regimen.maintenance", "None"),
    _case("maintenance-every-0-days",
          "regimen: {maintenance: {g_per_kg: 1, every_days: 0, start_day: 0, count: 2}}\n", "every_days", "0"),
    _case("maintenance-a-billion-doses",
          "regimen: {maintenance: {g_per_kg: 1, every_days: 21, start_day: 0, count: 1000000000}}\n",
          "regimen.maintenance", "1000000000"),
    _case("maintenance-until-before-start",
          "regimen: {maintenance: {g_per_kg: 1, every_days: 21, start_day: 30, until_day: 10}}\n",
          "regimen.maintenance.until_day", "10"),
    # simulation span
    _case("days-0", "simulation: {days: 0}\n" + ITP_REGIMEN, "simulation.days", "0"),
    _case("days-negative", "simulation: {days: -5}\n" + ITP_REGIMEN, "simulation.days", "-5"),
    _case("days-1e9", "simulation: {days: 1e9}\n" + ITP_REGIMEN, "simulation.days", "1000000000"),
    _case("days-wrong-dimension", "simulation: {days: 3 kg}\n" + ITP_REGIMEN, "simulation.days", "3 kg"),
    _case("output-every-longer-than-days", "simulation: {days: 10, output_every_days: 20}\n" + ITP_REGIMEN,
          "simulation.output_every_days", "20"),
    _case("rtol-above-0.1", "simulation: {rtol: 10}\n" + ITP_REGIMEN, "rtol", "10"),
    # mechanisms and parameters
    _case("unknown-mechanism", "mechanisms: {fcrn_saturatoin: false}\n" + ITP_REGIMEN, "mechanisms", "fcrn_saturatoin"),
    _case("mechanism-negative-strength", "mechanisms: {fcrn_saturation: -1}\n" + ITP_REGIMEN,
          "mechanisms.fcrn_saturation", "-1"),
    _case("unknown-parameter", "parameters: {baseline_igg: 10}\n" + ITP_REGIMEN, "parameters", "baseline_igg"),
    _case("parameter-out-of-bounds", "parameters: {baseline_igg_g_per_L: -3}\n" + ITP_REGIMEN,
          "parameters.baseline_igg_g_per_L", "-3"),
    _case("parameter-not-a-number", "parameters: {baseline_igg_g_per_L: lots}\n" + ITP_REGIMEN,
          "parameters.baseline_igg_g_per_L", "lots"),
    _case("adjusted-weight-without-height", "patient: {weight_kg: 130}\nregimen: {standard: itp, dosing_weight: adjusted}\n",
          "patient.height_cm", "None"),
    # the file itself
    _case("yaml-tab-indent", "patient:\n\tweight_kg: 70\n", "scenario.yaml", "line 2"),
    _case("yaml-bad-indent", "patient:\n  weight_kg: 70\n sex: male\n", "scenario.yaml", "line 3"),
    _case("yaml-unclosed-bracket", "regimen: {standard: itp\n", "scenario.yaml", "line"),
    _case("yaml-python-tag", "name: !!python/object/apply:os.system ['true']\n", "scenario.yaml", "python"),
    _case("yaml-is-a-list", "- patient\n- regimen\n", "scenario.yaml", "list"),
    _case("yaml-is-a-string", "just some text\n", "scenario.yaml", "str"),
    _case("empty-file", "", "scenario.yaml", "None"),
    _case("nul-bytes", "\x00\x01\x02 patient\n", "scenario.yaml", "character"),
    # inputs that once escaped as tracebacks (pint arithmetic, YAML depth, union error paths)
    _case("weight-divide-by-zero", "patient: {weight_kg: '1/0 kg'}\n" + ITP_REGIMEN, "patient.weight_kg", "1/0"),
    _case("weight-overflow", "patient: {weight_kg: '2**2000 kg'}\n" + ITP_REGIMEN, "patient.weight_kg", "2**2000"),
    _case("dose-day-1e300", "regimen: {doses: [{day: 1e300, g_per_kg: 1}]}\n", "day", "1e+300"),
    _case("yaml-nested-5000-deep", "patient: " + "[" * 5000 + "]" * 5000 + "\n", "scenario.yaml", "",
          pytest.mark.slow),  # 8 s: in CI and with --run-slow
    _case("yaml-5000-digit-integer", "patient: {weight_kg: " + "9" * 5000 + "}\n", "", ""),
    _case("maintenance-single-mapping-typo-hidden",
          "regimen: {maintenance: {g_per_kg: 1, every_days: 21, start_day: 0, cuont: 2}}\n",
          "regimen.maintenance.cuont", "2"),
]


@pytest.mark.parametrize(("text", "field", "got"), BAD_INPUT)
def test_bad_scenario_file(tmp_path, text, field, got):
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    result = _invoke("simulate", str(scenario), "-o", str(out))
    _assert_one_line_error(result, field, got)
    assert not out.exists() or not any(out.iterdir()), sorted(out.rglob("*"))


def _assert_one_line_error(result, field: str, got: str) -> str:
    _no_traceback(result)
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("error: ")
    assert ": expected " in line and ", got " in line, line
    assert field in line, f"field {field!r} not named in: {line}"
    assert got in line, f"value {got!r} not shown in: {line}"
    return line


def test_error_line_names_the_field_first(tmp_path):
    """'error: FIELD: expected WHAT, got VALUE' (errors.InputError's format)."""
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("regimen: {course: {total_g_per_kg: 2, days: 0}}\n", encoding="utf-8")
    result = _invoke("simulate", str(scenario), "-o", str(tmp_path / "out"))
    line = _assert_one_line_error(result, "regimen.course.days", "0")
    assert re.fullmatch(r"error: regimen\.course\.days: expected .+, got 0", line), line


def test_missing_file(tmp_path):
    out = tmp_path / "out"
    result = _invoke("simulate", str(tmp_path / "nope.yaml"), "-o", str(out))
    _assert_one_line_error(result, "FILE", "nope.yaml")
    assert not out.exists()


def test_binary_garbage_file(tmp_path):
    garbage = tmp_path / "garbage.yaml"
    garbage.write_bytes(bytes(range(256)) * 16)  # not UTF-8
    out = tmp_path / "out"
    result = _invoke("simulate", str(garbage), "-o", str(out))
    _assert_one_line_error(result, "FILE", "garbage.yaml")
    assert not out.exists()


def test_directory_instead_of_file(tmp_path):
    out = tmp_path / "out"
    result = _invoke("simulate", str(tmp_path), "-o", str(out))
    _assert_one_line_error(result, "FILE", str(tmp_path))
    assert not out.exists()


def test_existing_out_folder_keeps_its_files_on_bad_input(tmp_path):
    """A failed run adds nothing to, and removes nothing from, an existing folder."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("regimen: {doses: [{day: 0, g_per_kg: 1, infusion: {rate_mg_per_kg_min: 20}}]}\n",
                        encoding="utf-8")
    result = _invoke("simulate", str(scenario), "-o", str(out))
    _assert_one_line_error(result, "infusion", "20")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_out_is_an_existing_file(tmp_path):
    not_a_folder = tmp_path / "out"
    not_a_folder.write_text("", encoding="utf-8")
    result = _invoke("simulate", str(ITP), "-o", str(not_a_folder), "--no-plot")
    _assert_one_line_error(result, "out", str(not_a_folder))


def test_allow_above_label_lets_a_fast_rate_through(tmp_path):
    """The refusal above is a label check, not a crash: the documented override works."""
    scenario = tmp_path / "fast.yaml"
    scenario.write_text(
        "regimen:\n  allow_above_label: true\n  doses: [{day: 0, g_per_kg: 1, infusion: {rate_mg_per_kg_min: 20}}]\n"
        "simulation: {days: 10}\n", encoding="utf-8")
    result = _invoke("simulate", str(scenario), "-o", str(tmp_path / "out"), "--no-plot")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "out" / "fast.csv")
    assert table["ivig_infusion_g_per_day"].iloc[0] == pytest.approx(20 * 70 * 1.44)  # 20 mg/kg/min x 70 kg


@pytest.mark.slow  # 2 s or more (README run under 5 minutes): in CI and with --run-slow
def test_validate_writes_the_table_as_json_markdown_and_a_figure_per_group(tmp_path):
    from matplotlib.image import imread

    from ivigsim.validation.runner import ALL_TARGETS, GROUPS, group_of
    from ivigsim.validation.trial_targets import READOUTS

    # The file writing is what is tested here, on one target per group (a deterministic one where
    # the group has it); the whole run is the validation's own tests (tests/test_validation_*.py).
    # Identities are not drawn, so each group's pick is a target that is.
    picked = {}
    for t in sorted((t for t in ALL_TARGETS if t.role != "identity"), key=lambda t: t.id in READOUTS):
        picked.setdefault(group_of(t), t)
    ids = [t.id for t in ALL_TARGETS if t in picked.values()]
    md, figures = tmp_path / "validation.md", tmp_path / "figures"
    result = CliRunner().invoke(app, ["validate", "--fast", "--json", "--markdown", str(md), "--figures",
                                      str(figures), "--only", ",".join(ids[:-1]), "--only", ids[-1]])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)  # pure JSON; the summary line goes to standard error
    assert "targets pass" in result.stderr
    assert [r["target"] for r in rows] == ids
    assert {r["group"] for r in rows} == set(GROUPS)
    table = md.read_text(encoding="utf-8")
    assert all(f"| {i} |" in table for i in ids)
    for group in GROUPS:
        image = imread(figures / f"validation-{group}.png")
        assert image.shape[0] > 100 and image.shape[1] > 500
    assert not list(figures.glob("*.part"))


@pytest.mark.slow  # 3 s or more (README run under 5 minutes): in CI and with --run-slow
def test_validate_only_takes_a_group_and_refuses_an_unknown_name():
    result = CliRunner().invoke(app, ["validate", "--fast", "--json", "--only", "pk"])
    assert result.exit_code == 0, result.output
    from ivigsim.validation.runner import ALL_TARGETS, group_of

    assert [r["target"] for r in json.loads(result.stdout)] == [t.id for t in ALL_TARGETS if group_of(t) == "pk"]
    result = CliRunner().invoke(app, ["validate", "--only", "pk,no-such-target"])
    assert result.exit_code == 2 and result.output.startswith("error: --only: expected target ids or groups")
    assert result.output.strip().count("\n") == 0 and "no-such-target" in result.output


@pytest.mark.parametrize("option, target", [("--figures", "taken"), ("--markdown", "taken/table.md")])
def test_validate_refuses_an_unwritable_destination_before_simulating(tmp_path, option, target):
    (tmp_path / "taken").write_text("x")  # a file where a folder is needed
    result = CliRunner().invoke(app, ["validate", "--fast", option, str(tmp_path / target)])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and option in result.output
    assert "Traceback" not in result.output
