"""Hostile input across verbs: one line, exit status 2, nothing written, quickly and in
bounded memory. (Trial files, resume and locks: tests/test_trial_hostile.py.)"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ivigsim.cli import app
from ivigsim.errors import MAX_QUOTED, InputError

ROOT = Path(__file__).resolve().parents[1]
ITP = ROOT / "examples" / "itp-standard.yaml"

BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
    for prev, name in zip([None, *"abcdefgh"], "abcdefghi"))


def _one_line_refusal(result, starts: str = "error: ") -> None:
    assert result.exit_code == 2, result.output
    assert result.output.startswith(starts), result.output
    assert result.output.count("\n") == 1, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("verb", [["simulate"], ["trial"], ["explain", "--output", "platelets_1e9_per_L", "--day", "7"],
                                  ["safety"], ["export-sbml"]])
def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path, verb):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    start = time.perf_counter()
    result = CliRunner().invoke(app, [verb[0], str(path), *verb[1:], "-o", str(tmp_path / "out")]
                                if verb[0] != "safety" else [verb[0], str(path)])
    assert time.perf_counter() - start < 20  # generous: the point is not minutes or gigabytes
    _one_line_refusal(result)
    assert "aliases" in result.output
    assert not (tmp_path / "out").exists()


def test_an_endless_file_is_refused_not_read_to_the_end():
    result = CliRunner().invoke(app, ["simulate", "/dev/zero"])
    _one_line_refusal(result, "error: FILE: expected a scenario file of at most 64 MiB")


def test_a_huge_value_is_quoted_short():
    message = str(InputError("weight_kg", "a number", "9" * 50_000_000))
    assert len(message) < 3 * MAX_QUOTED


def test_a_numpy_scalar_is_quoted_as_the_number_it_is():
    import numpy as np

    assert str(InputError("DV", "a DV > 0", np.float64(0.0))) == "DV: expected a DV > 0, got 0.0"
    assert str(InputError("n", "a count", np.int64(3))).endswith("got 3")


def test_terminal_escape_sequences_are_not_echoed_raw():
    message = str(InputError("name", "printable text", "\x1b[2J\x1b[31mgotcha"))
    assert "\x1b" not in message and "\\x1b" in message


def test_a_structure_that_expands_exponentially_is_not_printed():
    nested: list = [1]
    for _ in range(40):
        nested = [nested, nested]
    assert "too large to quote" in str(InputError("field", "something", nested))


@pytest.mark.parametrize("args, message", [
    (["simulate", str(ITP), "--format", "xlsx"], "error: Invalid value for '--format'"),
    (["nonmem", "data.csv", "--amount-unit", "g"], "error: Missing option '--time-unit'"),
    (["frobnicate"], "error: No such command 'frobnicate'"),
])
def test_bad_options_are_one_line_like_every_other_refusal(args, message):
    _one_line_refusal(CliRunner().invoke(app, args), message)


NONMEM_HEADER = "ID,TIME,AMT,DUR,II,ADDL,EVID,DV,WT\n"
NONMEM_BAD = {
    "ADDL a billion": ("1,0,35,0.2,1,1000000000,1,.,70\n1,5,.,.,.,.,0,12,70\n", "row 1 column ADDL"),
    "AMT 1e12 g": ("1,0,1e12,0.2,.,.,1,.,70\n1,5,.,.,.,.,0,12,70\n", "row 1 column AMT: expected a dose of at most"),
    "a duration of 1e-12 days": ("1,0,10,1e-12,.,.,1,.,70\n1,5,.,.,.,.,0,12,70\n", "row 1 column DUR: expected an infusion"),
    "a duration of 1e12 days": ("1,0,10,1e12,.,.,1,.,70\n1,5,.,.,.,.,0,12,70\n", "row 1 column DUR: expected an infusion"),
    "TIME 1e9": ("1,0,10,0.2,.,.,1,.,70\n1,1e9,.,.,.,.,0,12,70\n", "row 2 column TIME: expected a time within 50 years"),
    "a header only": ("", "data.csv: expected at least one record below the header"),
    "a negative weight on the first row only": ("1,0,10,0.2,.,.,1,.,-70\n1,5,.,.,.,.,0,12,70\n",
                                                 "row 1 column WT: expected a weight in kg > 0"),
    # Python's float() reads "8_6" as 86 and digits of other scripts: a typo fitted as data
    "digits grouped by an underscore": ("1,0,10,0.2,.,.,1,.,70\n1,5,.,.,.,.,0,8_6,70\n",
                                        "row 2 column DV: expected a number ('.' or empty for missing), got '8_6'"),
    # the weighted residuals' dense covariance: 20,000 records of one ID took minutes and gigabytes
    "2,001 records of one ID": ("1,0,10,0.2,.,.,1,.,70\n" + "".join(f"1,{k},.,.,.,.,0,12,70\n" for k in range(2001)),
                                "row 2002 column ID: expected at most 2,000 observation and other records per ID"),
    "Arabic-Indic digits": ("1,0,10,0.2,.,.,1,.,70\n1,5,.,.,.,.,0,\u0668.\u0666,70\n", "row 2 column DV: expected a number"),
}


@pytest.mark.parametrize("case", sorted(NONMEM_BAD))
def test_absurd_nonmem_records_are_refused_at_once(tmp_path, case):
    rows, message = NONMEM_BAD[case]
    data = tmp_path / "data.csv"
    data.write_text(NONMEM_HEADER + rows)
    out = tmp_path / "out.csv"
    start = time.perf_counter()
    result = CliRunner().invoke(app, ["nonmem", str(data), "--time-unit", "d", "--amount-unit", "g", "-o", str(out)])
    assert time.perf_counter() - start < 20
    _one_line_refusal(result, f"error: {message}" if message.startswith("data.csv") else "error: data.csv ")
    assert message in result.output
    assert not out.exists()


def test_addl_is_cut_at_the_last_record(tmp_path):
    from ivigsim.io.nonmem import parse_dataset

    dataset = parse_dataset(NONMEM_HEADER + "1,0,35,0.2,1,9000,1,.,70\n1,5,.,.,.,.,0,12,70\n", "d", "g")
    assert len(dataset.subjects[0].doses) == 6  # days 0-5, not 9,001 doses


@pytest.mark.parametrize("verb", ["validate --only pk --markdown {long}.md", "validate --only pk --figures {long}",
                                  "plot-trial {long} -o x.png", "nonmem {data} --time-unit d --amount-unit g -o {long}.csv"])
def test_a_file_name_longer_than_the_file_system_takes_is_one_line(tmp_path, verb):
    data = tmp_path / "d.csv"
    data.write_text(NONMEM_HEADER + "1,0,35,0.2,.,.,1,.,70\n1,5,.,.,.,.,0,12,70\n")
    args = verb.format(long=tmp_path / ("a" * 300), data=data).split()
    _one_line_refusal(CliRunner().invoke(app, args), "error: path: expected a path the file system can look up")


@pytest.mark.parametrize("error, message", [
    ("additive:1e160", "expected a number > 0 and at most 1e+06, got 'additive:1e160'"),  # its square overflowed
    ("proportional:1e300", "expected a number > 0 and at most 10, got 'proportional:1e300'"),
])
def test_an_absurd_residual_sd_is_refused_before_fitting(tmp_path, error, message):
    data = tmp_path / "d.csv"
    data.write_text(NONMEM_HEADER + "1,0,35,0.2,.,.,1,.,70\n1,5,.,.,.,.,0,12,70\n")
    result = CliRunner().invoke(app, ["fit", str(data), "--time-unit", "d", "--amount-unit", "g", "-e",
                                      "baseline_igg_g_per_L", "--no-plot", "-q", "-o", str(tmp_path / "out"),
                                      "--error", f"igg_total_g_per_L={error}"])
    _one_line_refusal(result, "error: --error igg_total_g_per_L: expected")
    assert message in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("dv", ["1e300", "1e6"])
def test_an_absurd_dv_is_named_not_blamed_on_the_solver(tmp_path, dv):
    """A DV the model cannot come near printed an overflow warning and then 'a failed solve at every
    point the optimiser tried' (the solves had all succeeded); now one line naming the DV."""
    import warnings

    data = tmp_path / "d.csv"
    data.write_text(NONMEM_HEADER + f"1,0,35,0.2,.,.,1,.,70\n1,0.25,.,.,.,.,0,{dv},70\n1,5,.,.,.,.,0,12,70\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning would now be a traceback
        result = CliRunner().invoke(app, ["fit", str(data), "--time-unit", "d", "--amount-unit", "g", "-e",
                                          "baseline_igg_g_per_L", "--no-plot", "-q", "-o", str(tmp_path / "out")])
    _one_line_refusal(result, "error: subject 1 DV: expected observations the model can come near")
    assert f"got 'DV {float(dv):.4g} where the typical parameters predict" in result.output
    assert not (tmp_path / "out").exists()


def test_a_prior_too_tight_to_be_a_prior_is_refused(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text(NONMEM_HEADER + "1,0,35,0.2,.,.,1,.,70\n1,5,.,.,.,.,0,12,70\n")
    result = CliRunner().invoke(app, ["fit", str(data), "--time-unit", "d", "--amount-unit", "g", "-e",
                                      "baseline_igg_g_per_L", "--no-plot", "-q", "-o", str(tmp_path / "out"),
                                      "--prior", "baseline_igg_g_per_L=1e-300"])
    _one_line_refusal(result, "error: prior baseline_igg_g_per_L: expected a CV (0.3 = 30 %) from 0.001 to 3")


def test_export_sbml_never_writes_over_its_scenario(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(BASE)
    link = tmp_path / "link.xml"
    link.symlink_to(scenario)
    for out in (scenario, link):
        result = CliRunner().invoke(app, ["export-sbml", str(scenario), "-o", str(out)])
        _one_line_refusal(result, "error: --out: expected a path other than the input scenario")
    assert scenario.read_text() == BASE


def test_export_petab_never_writes_over_its_dataset(tmp_path):
    folder = tmp_path / "problem"
    folder.mkdir()
    data = folder / "measurements.tsv"  # the name of one of the problem's own tables
    text = NONMEM_HEADER + "1,0,35,0.2,.,.,1,.,70\n1,5,.,.,.,.,0,12,70\n"
    data.write_text(text)
    result = CliRunner().invoke(app, ["export-petab", str(data), "--time-unit", "d", "--amount-unit", "g", "-e",
                                      "baseline_igg_g_per_L", "-o", str(folder)])
    _one_line_refusal(result, "error: --out: expected a path other than the input dataset")
    assert data.read_text() == text


def test_nonmem_never_writes_over_its_input(tmp_path):
    data = tmp_path / "d.csv"
    text = NONMEM_HEADER + "1,0,35,0.2,.,.,1,.,70\n1,5,.,.,.,.,0,12,70\n"
    data.write_text(text)
    result = CliRunner().invoke(app, ["nonmem", str(data), "--time-unit", "d", "--amount-unit", "g", "-o", str(data)])
    _one_line_refusal(result, "error: --out: expected a path other than the input dataset")
    assert data.read_text() == text


# -- scenario files and results folders ---------------------------------------------------------


def _scenario(tmp_path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return path


BASE = ITP.read_text()


@pytest.mark.parametrize("text, message", [
    (BASE.replace('name: "ITP, standard 1 g/kg/day on two days (Privigen)"', 'name: "a\\x1b[2Jb"'),
     "error: name: expected printable text"),
    (BASE.replace("  weight_kg: 70", "  weight_kg: \"__import__('os')\""),
     "error: patient.weight_kg: expected a number in kg or a quantity such as '154 lb'"),
    (BASE.replace("  days: 56 ", "  days: 0.2 "), "error: simulation.days: expected a span that reaches the first infusion"),
    # an infusion rate beside a shipped regimen was read and silently ignored
    (BASE.replace("  start_hour: 9 ", "  infusion: {rate_mg_per_kg_min: 50}\n  start_hour: 9 "),
     "error: regimen.infusion: expected no 'infusion' with a 'standard' regimen"),
    # YAML reads yes/true/on as a boolean, which a plain number field took as 1 (01:00, 1 x 10^9/L)
    (BASE.replace("  start_hour: 9 ", "  start_hour: yes "), "error: regimen.start_hour: expected a number, got True"),
    (BASE.replace("per_L: 12 ", "per_L: true "),
     "error: parameters.platelet_baseline_1e9_per_L: expected a number, got True"),
    (BASE.replace("  days: 56 ", "  days: 56\n  rtol: on "), "error: simulation.rtol: expected a number, got True"),
    # float() and pint read "1_0" as 10
    (BASE.replace("  weight_kg: 70", "  weight_kg: \"7_0 kg\""),
     "error: patient.weight_kg: expected a number in kg or a quantity such as '154 lb', got '7_0 kg'"),
    # a key that is a list or a mapping raised TypeError (unhashable) in the duplicate-key check
    (BASE + "? [a, b]\n: 1\n", "error: {path}: expected valid YAML, got 'a key that is a list or a mapping"),
    (BASE + "{a: 1}: 2\n", "error: {path}: expected valid YAML, got 'a key that is a list or a mapping"),
    # an SCIG interval of 1e15 days left no room for a 1-h dose (ZeroDivisionError)
    (BASE.replace("regimen:", "regimen:\n  scig: {g_per_kg: 0.2, every_days: 1e15, count: 2}"),
     "error: regimen.scig.every_days: expected an interval up to 36500 days"),
])
def test_bad_scenarios_are_one_line_naming_the_right_field(tmp_path, text, message):
    path = _scenario(tmp_path, text)
    result = CliRunner().invoke(app, ["simulate", str(path), "-o", str(tmp_path / "out")])
    _one_line_refusal(result, message.replace("{path}", str(path)))
    assert not (tmp_path / "out").exists()


def test_a_trial_span_error_is_blamed_on_the_span_not_an_endpoint(tmp_path):
    trial = (ROOT / "examples" / "trials" / "cidp-dose-comparison.yaml").read_text().replace("  days: 180", "  days: -1")
    path = tmp_path / "trial.yaml"
    path.write_text(trial)
    _one_line_refusal(CliRunner().invoke(app, ["trial", str(path), "-o", str(tmp_path / "out")]),
                      "error: simulation.days: expected a span in days")


def test_a_trial_name_with_escape_sequences_is_refused(tmp_path):
    trial = (ROOT / "examples" / "trials" / "cidp-dose-comparison.yaml").read_text()
    path = tmp_path / "trial.yaml"
    path.write_text("name: \"x\\x07y\"\n" + "\n".join(l for l in trial.splitlines() if not l.startswith("name:")))
    _one_line_refusal(CliRunner().invoke(app, ["trial", str(path), "-o", str(tmp_path / "out")]),
                      "error: name: expected printable text")


def test_an_implausible_course_is_simulated_with_a_warning(tmp_path):
    text = ("name: three 3 g/kg doses within five hours\npatient: {weight_kg: 70}\nregimen:\n"
            "  doses: [{day: 0, g_per_kg: 3, infusion: {duration_h: 2}}, {day: 0.1, g_per_kg: 3, infusion: "
            "{duration_h: 2}}, {day: 0.2, g_per_kg: 3, infusion: {duration_h: 2}}]\n  allow_above_label: true\n"
            "simulation: {days: 10}\n")
    result = CliRunner().invoke(app, ["simulate", str(_scenario(tmp_path, text)), "-o", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 0
    assert "warning: igg_total_g_per_L reached" in result.output and "outside the plausible range" in result.output


def test_a_rerun_into_the_same_folder_is_refused_unless_overwrite(tmp_path):
    out = tmp_path / "out"
    first = CliRunner().invoke(app, ["simulate", str(ITP), "-o", str(out), "-q", "--no-plot"])
    assert first.exit_code == 0
    before = (out / "itp-standard.csv").read_bytes()
    again = CliRunner().invoke(app, ["simulate", str(ITP), "-o", str(out), "-q", "--no-plot"])
    _one_line_refusal(again, "error: --out: expected a folder without this run's files (or --overwrite")
    assert (out / "itp-standard.csv").read_bytes() == before
    replaced = CliRunner().invoke(app, ["simulate", str(ITP), "-o", str(out), "-q", "--no-plot", "--overwrite"])
    assert replaced.exit_code == 0


def test_a_folder_another_run_holds_is_refused(tmp_path):
    import json
    import os
    import socket

    out = tmp_path / "out"
    out.mkdir()
    (out / ".lock").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    _one_line_refusal(CliRunner().invoke(app, ["simulate", str(ITP), "-o", str(out), "-q"]),
                      "error: --out: expected a folder no other run is writing to")
    assert sorted(p.name for p in out.iterdir()) == [".lock"]


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_explain_checks_its_destination_before_the_attribution(tmp_path, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    out = blocker if where == "a file" else blocker / "sub"
    result = CliRunner().invoke(app, ["explain", str(ITP), "--output", "platelets_1e9_per_L", "--day", "7",
                                      "-o", str(out)])
    _one_line_refusal(result, "error: --out: expected a folder")
    assert blocker.read_text() == "x"


def test_explain_without_a_day_says_none_was_given(tmp_path):
    result = CliRunner().invoke(app, ["explain", str(ITP), "--output", "platelets_1e9_per_L", "-o", str(tmp_path / "x")])
    _one_line_refusal(result, "error: --day: expected a day for the 'value' read-out, got 'none'")


def test_explain_refuses_a_day_with_a_peak():
    result = CliRunner().invoke(app, ["explain", str(ITP), "--output", "platelets_1e9_per_L", "--summary", "peak",
                                      "--day", "3"])
    _one_line_refusal(result, "error: --day: expected no --day with --summary peak")


def test_an_infusion_error_names_the_infusion_once(tmp_path):
    text = BASE.replace("  standard: itp ", "  course: {total_g_per_kg: 2, days: 2}  #").replace(
        "  start_hour: 9", "  start_hour: 9\n  infusion: {titration: {start_mg_per_kg_min: 1, step_minutes: 30, "
        "max_mg_per_kg_min: 4, factor: -2}}")
    result = CliRunner().invoke(app, ["simulate", str(_scenario(tmp_path, text)), "-o", str(tmp_path / "out")])
    _one_line_refusal(result, "error: regimen.infusion.titration.factor: expected a factor above 1")


@pytest.mark.slow  # 2 s or more (README run under 5 minutes): in CI and with --run-slow
def test_two_simulate_runs_into_one_folder_leave_one_runs_files_whole(tmp_path):
    """Started together: one writes its CSV and PNG; the other is refused (the folder is
    locked, or already holds the scenario's results) and writes nothing."""
    import subprocess
    import sys

    out = tmp_path / "out"
    command = [sys.executable, "-m", "ivigsim.cli", "simulate", str(ITP), "-o", str(out), "-q"]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in runs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, err in results if code == 2)
    assert refused.startswith("error: --out:") and refused.count("\n") == 1
    assert sorted(p.name for p in out.iterdir()) == ["itp-standard.csv", "itp-standard.png"]


def test_a_trial_tolerance_error_names_the_field_as_written(tmp_path):
    trial = (ROOT / "examples" / "trials" / "cidp-dose-comparison.yaml").read_text().replace("  rtol: 1.0e-6", "  rtol: -1")
    path = tmp_path / "trial.yaml"
    path.write_text(trial)
    _one_line_refusal(CliRunner().invoke(app, ["trial", str(path), "-o", str(tmp_path / "out")]),
                      "error: simulation.rtol: expected a relative tolerance")


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_honour_the_umask(tmp_path, umask):
    # Results were created 0600 by the atomic-write helper whatever the user's umask.
    import os

    from ivigsim.io.results import atomic_path

    previous = os.umask(umask)
    try:
        with atomic_path(tmp_path / "out.csv") as tmp:
            tmp.write_text("a\n")
    finally:
        os.umask(previous)
    assert (tmp_path / "out.csv").stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("total", [1e-17, 0.0009])
def test_a_vanishing_dose_is_refused_not_divided_by_zero(tmp_path, total):
    # Hypothesis found course total 1e-17 g/kg raising ZeroDivisionError in the rate compiler.
    text = BASE.replace("  standard: itp ", f"  course: {{total_g_per_kg: {total}, days: 1}}\n  #")
    result = CliRunner().invoke(app, ["simulate", str(_scenario(tmp_path, text)), "-o", str(tmp_path / "out")])
    _one_line_refusal(result, "error: regimen.course.total_g_per_kg: expected a total that gives a dose per infusion "
                              "from 0.001 to 3 g/kg")


# -- where results go: never over a device, a pipe or a folder ---------------------------------------------------


@pytest.mark.parametrize("verb", [["export-sbml", str(ITP)],
                                  ["nonmem", str(ROOT / "examples" / "nonmem" / "igg-cidp-patient.csv"),
                                   "--time-unit", "d", "--amount-unit", "g"]])
def test_a_pipe_at_the_output_path_is_refused_not_replaced(tmp_path, verb):
    import os
    import stat

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    result = CliRunner().invoke(app, [*verb, "-o", str(pipe)])
    _one_line_refusal(result, "error: --out: expected a path for an ordinary file")
    assert stat.S_ISFIFO(pipe.stat().st_mode)  # still the pipe: a rename would have made it an ordinary file


def test_a_symbolic_link_at_the_output_path_is_written_through(tmp_path):
    link = tmp_path / "model.xml"
    link.symlink_to(tmp_path / "target.xml")
    result = CliRunner().invoke(app, ["export-sbml", str(ITP), "-o", str(link)])
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and (tmp_path / "target.xml").read_text().startswith("<?xml")


def test_a_folder_where_a_result_file_goes_is_refused_before_any_file_is_written(tmp_path):
    out = tmp_path / "out"
    (out / "itp-standard.png").mkdir(parents=True)
    result = CliRunner().invoke(app, ["simulate", str(ITP), "-o", str(out), "--overwrite", "-q"])
    _one_line_refusal(result, "error: --out: expected a path for an ordinary file")
    assert sorted(p.name for p in out.iterdir()) == ["itp-standard.png"]  # no CSV left behind


def test_validate_checks_its_markdown_path_before_the_run(tmp_path):
    folder = tmp_path / "table.md"
    folder.mkdir()
    result = CliRunner().invoke(app, ["validate", "--only", "igg-baseline-steady", "--markdown", str(folder)])
    _one_line_refusal(result, "error: --markdown: expected a path for an ordinary file")


# -- doses the simulation would never reach ---------------------------------------------------------------------


def test_a_regimen_part_that_begins_after_the_simulation_is_refused_naming_the_part(tmp_path):
    text = (ROOT / "examples" / "safety-cidp-at-risk.yaml").read_text()
    assert "start_day: 21" in text
    path = tmp_path / "late.yaml"
    path.write_text(text.replace("start_day: 21", "start_day: 500"))
    result = CliRunner().invoke(app, ["simulate", str(path), "-o", str(tmp_path / "out")])
    _one_line_refusal(result, "error: regimen.maintenance: expected a part that begins within the simulation")
    assert not (tmp_path / "out").exists()


OVERLAPPING_EXCHANGES = "{plasma_exchange: [{days: [0, 2], plasma_volumes: 1.5}, {days: [0], plasma_volumes: 1}]}"


def test_overlapping_parts_are_named_as_written_not_by_the_library_s_index(tmp_path):
    """Both parts of an overlap are named as the file writes them (plasma_exchange.0 and .1),
    never as the compiled regimen's parts[k]."""
    path = _scenario(tmp_path, f"disease: gbs\nregimen: {OVERLAPPING_EXCHANGES}\nsimulation: {{days: 28}}\n")
    result = CliRunner().invoke(app, ["simulate", str(path), "-o", str(tmp_path / "out")])
    _one_line_refusal(result, "error: regimen.plasma_exchange.1.days: expected plasma-exchange sessions that overlap")
    assert "got 'plasma_exchange.0 plasma exchange session 1 of 2" in result.output, result.output
    assert "overlaps plasma_exchange.1 plasma exchange" in result.output and "parts[" not in result.output


def test_a_part_that_begins_inside_and_runs_past_the_end_is_simulated(tmp_path):
    """An ongoing prescription seen through the simulation's window is not an error."""
    text = (ROOT / "examples" / "safety-cidp-at-risk.yaml").read_text().replace("days: 27 weeks", "days: 60")
    path = tmp_path / "window.yaml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["simulate", str(path), "-o", str(tmp_path / "out"), "-q", "--no-plot"])
    assert result.exit_code == 0, result.output


# -- observations that cannot be ---------------------------------------------------------------------------------


@pytest.mark.parametrize("csv, message", [
    ("TIME,DV,DV,OUTPUT\n1,10,11,igg_total_g_per_L\n", "header: expected one DV column"),
    ("TIME,DV,OUTPUT\n1,-30,igg_total_g_per_L\n", "row 1 column DV: expected an observed igg_total_g_per_L >= 0"),
])
def test_impossible_observations_for_the_overlay_are_refused(tmp_path, csv, message):
    observed = tmp_path / "observed.csv"
    observed.write_text(csv)
    result = CliRunner().invoke(app, ["simulate", str(ITP), "-o", str(tmp_path / "out"), "--observed", str(observed)])
    _one_line_refusal(result)
    assert message in result.output, result.output
    assert not (tmp_path / "out").exists()


def test_a_risk_factors_file_that_is_not_text_is_named_as_the_factors_option(tmp_path):
    factors = tmp_path / "factors.yaml"
    factors.write_bytes(b"\xff\xfe\x00\x01binary")
    result = CliRunner().invoke(app, ["safety", str(ITP), "--factors", str(factors)])
    _one_line_refusal(result, "error: --factors: expected a readable UTF-8 risk-factors file")


def test_explain_without_a_regimen_is_refused_not_shown_as_nan_shares(tmp_path):
    path = tmp_path / "untreated.yaml"
    path.write_text("name: untreated\ndisease: itp\npatient: {weight_kg: 70}\nsimulation: {days: 30}\n")
    result = CliRunner().invoke(app, ["explain", str(path), "--output", "platelets_1e9_per_L", "--day", "7",
                                      "-o", str(tmp_path / "out")])
    _one_line_refusal(result, "error: regimen: expected a regimen whose effect to attribute")
    assert not (tmp_path / "out").exists()


def test_an_arm_without_a_name_is_refused(tmp_path):
    text = (ROOT / "examples" / "trials" / "itp-godeau-1999.yaml").read_text()
    import yaml

    doc = yaml.safe_load(text)
    doc["arms"][1]["name"] = ""
    path = tmp_path / "trial.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = CliRunner().invoke(app, ["trial", str(path), "-o", str(tmp_path / "out")])
    _one_line_refusal(result, "error: arms.1.name: expected a name that is not empty")


@pytest.mark.parametrize("option, value", [("--ensemble-level", "7"), ("--ensemble-seed", "-3"),
                                           ("--observed-time-unit", "years")])
def test_a_bad_value_of_an_option_that_qualifies_another_is_refused_even_without_it(tmp_path, option, value):
    result = CliRunner().invoke(app, ["simulate", str(ITP), "-o", str(tmp_path / "out"), option, value])
    _one_line_refusal(result, f"error: {option}: expected")
    assert not (tmp_path / "out").exists()


def test_a_figure_name_whose_suffix_is_not_the_figure_format_is_refused(tmp_path):
    result = CliRunner().invoke(app, ["plot-trial", str(tmp_path), "-o", str(tmp_path / "bands.svg")])
    _one_line_refusal(result, "error: --out: expected a file name ending in .png")


@pytest.mark.parametrize("verb", [["nonmem"], ["fit", "-e", "fcrn_igk"], ["fit-population", "-e", "fcrn_igk"]])
def test_an_unknown_default_output_is_blamed_on_the_output_option_not_a_row(tmp_path, verb):
    data = ROOT / "examples" / "nonmem" / "igg-cidp-patient.csv"
    result = CliRunner().invoke(app, [verb[0], str(data), "--time-unit", "d", "--amount-unit", "g", *verb[1:],
                                      "--output", "nope", "-o", str(tmp_path / "out")])
    _one_line_refusal(result, "error: --output: expected one of the model's outputs")
    assert not (tmp_path / "out").exists()


def test_a_rate_error_in_the_regimens_infusion_names_that_section_not_the_part(tmp_path):
    text = (ROOT / "examples" / "safety-cidp-at-risk.yaml").read_text()
    assert "max_mg_per_kg_min: 8" in text  # the regimen's own infusion: section, which every part uses
    path = tmp_path / "fast.yaml"
    path.write_text(text.replace("max_mg_per_kg_min: 8", "max_mg_per_kg_min: 1000"))
    result = CliRunner().invoke(app, ["simulate", str(path), "-o", str(tmp_path / "out")])
    _one_line_refusal(result, "error: regimen.infusion: expected a rate at or below")


@pytest.mark.parametrize("written", ["60 kg/kg", "60 dimensionless", "60 mol/mol"])
def test_units_that_cancel_are_refused_not_read_as_the_fields_unit(written):
    """'60 kg/kg' is a pure number (pint cancels it), not 60 mg/kg: refused, naming the
    field, where a bare '60' means the field's own unit."""
    from ivigsim.io.scenario_file import parse_scenario

    doc = {"disease": "mg", "patient": {"weight_kg": 70, "sex": "female", "age_years": 45},
           "regimen": {"fcrn_inhibitor": {"drug": "efgartigimod", "days": [0], "mg_per_kg": written}},
           "simulation": {"days": 14}}
    with pytest.raises(InputError) as caught:
        parse_scenario(doc)
    assert caught.value.field == "regimen.fcrn_inhibitor.mg_per_kg"
    assert "expected a quantity in mg/kg" in str(caught.value)
    doc["regimen"]["fcrn_inhibitor"]["mg_per_kg"] = "10"
    assert parse_scenario(doc).regimen is not None


@pytest.mark.parametrize("where", ["named", "inline"])
def test_a_trial_arm_whose_treatment_begins_after_the_trial_ends_is_refused(tmp_path, where):
    """As a scenario refuses it: an exchange on day 300 of a 180-day trial does nothing (the arm
    would be reported as treated), so it is a mistyped day, refused naming the arm's regimen."""
    import yaml

    from ivigsim.io.trial_file import load_trial

    root = Path(__file__).resolve().parents[1]
    doc = yaml.safe_load((root / "examples" / "trials" / "gbs-plasma-exchange-vs-ivig.yaml").read_text())
    late = {"plasma_exchange": {"days": [300], "plasma_volumes": 2.0}}
    if where == "named":
        doc["regimens"]["plasma exchange"] = late
    else:
        doc["arms"][1]["regimen"] = late
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(InputError) as caught:
        load_trial(tmp_path / "t.yaml")
    assert caught.value.field == "arms.1.regimen.plasma_exchange"  # the part, as written
    assert "begins within the simulation (before day 180" in str(caught.value) and "day 300" in str(caught.value)


@pytest.mark.parametrize("drug", ["probe\x1b[31mmab", "\ud800mab", "x" * 300])
def test_a_user_defined_inhibitors_name_is_checked_like_a_name(drug):
    """The drug's name is printed and written into files (a NetCDF attribute could not hold a
    lone surrogate): printable text of at most 200 characters, as every name."""
    from ivigsim.io.scenario_file import parse_scenario

    kinetics = {"kd_g_per_L": 0.02, "clearance_70kg_L_per_day": 2.6, "peripheral_volume_L_per_kg": 0.2,
                "distribution_clearance_70kg_L_per_day": 20, "source": "assumption: an illustration"}
    with pytest.raises(InputError) as caught:
        parse_scenario({"disease": "mg", "regimen": {"fcrn_inhibitor": {"drug": drug, "days": [0],
                                                                        "kinetics": kinetics}}})
    assert caught.value.field == "regimen.fcrn_inhibitor.drug"
    with pytest.raises(InputError) as caught:
        parse_scenario({"disease": "mg", "regimen": {"fcrn_inhibitor": {"drug": "newmab", "days": [0], "kinetics": {
            **kinetics, "source": "a\x00b"}}}})
    assert caught.value.field == "regimen.fcrn_inhibitor.kinetics.source"


def test_yaml_merge_keys_work_and_a_written_key_overrides_the_merged_one(tmp_path):
    """YAML 1.1 merge keys (``<<: *defaults``) were refused as invalid YAML; a key the mapping
    writes itself overrides the merged one, and a key written twice is still refused."""
    from ivigsim.io.scenario_file import read_yaml

    path = tmp_path / "m.yaml"
    path.write_text("base: &b {weight_kg: 70, sex: female}\npatient: {<<: *b, weight_kg: 80}\n")
    assert read_yaml(path)["patient"] == {"weight_kg": 80, "sex": "female"}
    path.write_text("base: &b {weight_kg: 70}\npatient: {<<: *b, sex: male, sex: female}\n")
    with pytest.raises(InputError, match="given twice"):
        read_yaml(path)


def _trial(**changes):
    from tests.test_trial_file import small_trial

    doc = small_trial()
    for path, value in changes.items():
        *parents, last = path.split("/")
        node = doc
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
        node[last] = value
    return doc


@pytest.mark.parametrize("changes, field, expected", [
    # the model's own field names came back without the section they sit under
    ({"population/parameters": {"fcrn_km_g_per_L": -5}}, "population.parameters.fcrn_km_g_per_L", "a value in"),
    ({"population/parameters": {"bogus": 1}}, "population.parameters", "names of model parameters"),
    ({"arms/1/mechanisms": {"bogus": False}}, "arms.1.mechanisms", "one of"),
    # an empty endpoints list was blamed on measures
    ({"contrasts": [{"reference": "none", "endpoints": []}]}, "contrasts.0.endpoints", "at least one endpoint"),
])
def test_trial_errors_name_the_field_as_written(changes, field, expected):
    from ivigsim.io.trial_file import parse_trial

    with pytest.raises(InputError) as caught:
        parse_trial(_trial(**changes))
    assert caught.value.field == field and caught.value.expected.startswith(expected), str(caught.value)


@pytest.mark.parametrize("regimen, field, expected", [
    # the section itself was named twice (regimen.infusion.infusion)
    ({"doses": [{"day": 0, "g_per_kg": 1}], "infusion": {"duration_h": 5, "rate_mg_per_kg_min": 2}},
     "regimen.infusion", "at most one of duration_h"),
    # a maintenance interval past 100 years was blamed on regimen.dose.day
    ({"maintenance": {"g_per_kg": 0.4, "every_days": 1e12, "start_day": 0, "count": 2}},
     "regimen.maintenance.every_days", "an interval up to 36500 days"),
    ({"maintenance": {"g_per_kg": 0.4, "every_days": 20000, "start_day": 0, "count": 3}},
     "regimen.maintenance", "doses on days up to 36500"),
    # nipocalimab's constants are its own, not a kinetics block the file does not have
    ({"fcrn_inhibitor": {"drug": "nipocalimab", "days": [0], "mg_per_kg": 30}}, "parameters.fcrn_inhibitor_kd_g_per_L",
     "not given twice: the regimen's fcrn_inhibitor (nipocalimab) comes with its own constants"),
])
def test_regimen_errors_name_the_field_and_the_reason(regimen, field, expected):
    from ivigsim.io.scenario_file import parse_scenario
    from ivigsim.simulation import simulate

    doc = {"disease": "mg", "regimen": regimen, "simulation": {"days": 28},
           "parameters": {"fcrn_inhibitor_kd_g_per_L": 0.02} if "fcrn_inhibitor" in regimen else {}}
    with pytest.raises(InputError) as caught:
        simulate(parse_scenario(doc))
    assert caught.value.field == field and caught.value.expected.startswith(expected), str(caught.value)
