"""`ivigsim safety FILE`: the risk table, infection arithmetic and rate plan; bad input is
one line on stderr and exit status 2 (BRIEF s.5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ivigsim.cli import app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
runner = CliRunner()

FACTORS = {"migraine_history": True, "blood_group": "A", "prior_thrombosis": True}


def _invoke(*args):
    return runner.invoke(app, ["safety", *map(str, args)])


def _one_line_error(result, *pieces: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for piece in pieces:
        assert piece in lines[0], (piece, lines[0])
    assert result.stdout == ""


@pytest.mark.parametrize("name", ["kawasaki-child", "cidp-maintenance", "itp-standard"])
def test_safety_prints_tables_infection_and_rate_plan(name):
    result = _invoke(EXAMPLES / f"{name}.yaml")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for piece in ("probability per infusion", "per course", "headache", "haemolysis", "HIV-1",
                  "any of these pathogens", "fastest label-compliant", "slowest practicable"):
        assert piece in out, piece


def test_risk_factors_section_in_the_scenario_file(tmp_path):
    data = yaml.safe_load((EXAMPLES / "gbs-5-day-course.yaml").read_text())
    data["risk_factors"] = FACTORS
    path = tmp_path / "gbs-at-risk.yaml"
    path.write_text(yaml.safe_dump(data))
    result = _invoke(path)
    assert result.exit_code == 0, result.output
    assert "migraine history, prior thrombosis, blood group A" in result.stdout
    assert "warning: at risk of thrombosis (prior thrombosis" in result.stdout
    assert "warning: migraine history: aseptic meningitis" in result.stdout


def test_factors_file_and_json(tmp_path):
    factors = tmp_path / "factors.yaml"
    factors.write_text(yaml.safe_dump(FACTORS))
    result = _invoke(EXAMPLES / "gbs-5-day-course.yaml", "--factors", factors, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data["infusions"]) == 5
    assert 0 < data["course"]["aseptic_meningitis"]["probability"] < 1
    assert data["warnings"]
    assert set(data["rate_plan"]) == {"fastest label-compliant", "slowest practicable (<= 12 h)"}


def test_max_hours_changes_the_slowest_plan():
    result = _invoke(EXAMPLES / "kawasaki-child.yaml", "--max-hours", "16", "--json")
    assert result.exit_code == 0, result.output
    hours = json.loads(result.stdout)["rate_plan"]["slowest practicable (<= 16 h)"]["hours"]
    assert hours == [pytest.approx(16.0)]


def test_bad_risk_factor_is_one_line(tmp_path):
    data = yaml.safe_load((EXAMPLES / "kawasaki-child.yaml").read_text())
    data["risk_factors"] = {"blood_group": "C"}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    _one_line_error(_invoke(path), "risk_factors.blood_group", "'C'")


def test_unknown_risk_factor_is_one_line(tmp_path):
    factors = tmp_path / "f.yaml"
    factors.write_text("migrane: true\n")
    _one_line_error(_invoke(EXAMPLES / "kawasaki-child.yaml", "--factors", factors), "--factors.migrane", "no such field")


def test_both_factor_sources_is_one_line(tmp_path):
    data = yaml.safe_load((EXAMPLES / "kawasaki-child.yaml").read_text())
    data["risk_factors"] = FACTORS
    path = tmp_path / "both.yaml"
    path.write_text(yaml.safe_dump(data))
    factors = tmp_path / "f.yaml"
    factors.write_text(yaml.safe_dump(FACTORS))
    _one_line_error(_invoke(path, "--factors", factors), "--factors", "got both")


def test_missing_files_and_no_regimen_are_one_line(tmp_path):
    _one_line_error(_invoke(tmp_path / "nope.yaml"), "FILE")
    _one_line_error(_invoke(EXAMPLES / "kawasaki-child.yaml", "--factors", tmp_path / "nope.yaml"), "--factors")
    untreated = tmp_path / "untreated.yaml"
    untreated.write_text("name: nothing\ndisease: itp\n")
    _one_line_error(_invoke(untreated), "regimen")
    _one_line_error(_invoke(EXAMPLES / "kawasaki-child.yaml", "--max-hours", "0.1"), "--max-hours")


def test_bad_scenario_fields_are_still_named(tmp_path):
    data = yaml.safe_load((EXAMPLES / "kawasaki-child.yaml").read_text())
    data["patient"]["weight_kg"] = -3
    path = tmp_path / "neg.yaml"
    path.write_text(yaml.safe_dump(data))
    _one_line_error(_invoke(path), "patient.weight_kg")
    factors_list = tmp_path / "list.yaml"
    factors_list.write_text("- 1\n")
    _one_line_error(_invoke(EXAMPLES / "kawasaki-child.yaml", "--factors", factors_list), "--factors")


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_safety_report_runs_for_every_example(path):
    # The rate plan used to replace the infusion of every regimen part, plasma exchange included
    # (a traceback); comparator parts now run as written.
    result = CliRunner().invoke(app, ["safety", str(path)])
    assert result.exit_code == 0, result.output
    assert "rate plan" in result.output
