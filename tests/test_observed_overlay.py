"""`ivigsim simulate --observed`: measurements read as written, overlaid, bad ones refused."""

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ivigsim.cli import app
from ivigsim.errors import InputError
from ivigsim.io.observed import read_observations
from ivigsim.plot import shown_outputs

ROOT = Path(__file__).resolve().parents[1]
ITP = ROOT / "examples" / "itp-standard.yaml"


def test_observations_are_grouped_by_output_and_hours_converted(tmp_path):
    path = tmp_path / "obs.csv"
    path.write_text("time,dv,output,note\n0,12,platelets_1e9_per_L,a\n72,60,platelets_1e9_per_L,b\n24,25,,c\n")
    found = read_observations(path, shown_outputs("itp"), time_unit="h")
    np.testing.assert_array_equal(found["platelets_1e9_per_L"][0], [0.0, 3.0])
    np.testing.assert_array_equal(found["platelets_1e9_per_L"][1], [12.0, 60.0])
    np.testing.assert_array_equal(found["igg_total_g_per_L"][0], [1.0])


@pytest.mark.parametrize("text, message", [
    ("TIME,DV\n1,x\n", "row 1 column DV: expected a number"),
    ("TIME,DV\n-1,3\n", "row 1 column TIME: expected a time from 0 to 50 years"),
    ("TIME,DV\n1e308,3\n", "row 1 column TIME: expected a time from 0 to 50 years"),  # overflowed the plot
    ("TIME,DV\n1,8_6\n", "row 1 column DV: expected a number, got '8_6'"),  # float() reads 86
    ("TIME,DV\n1,\u0668.\u0666\n", "row 1 column DV: expected a number"),  # Arabic-Indic digits
    ("TIME,DV\nnan,3\n", "row 1 column TIME: expected a number"),
    ("TIME\n1\n", "header: expected a DV column"),
    ("TIME,DV,OUTPUT\n1,3,qmg_score\n", "row 1 column OUTPUT: expected an output the plot shows"),
])
def test_bad_observations_are_refused_naming_row_and_column(tmp_path, text, message):
    path = tmp_path / "obs.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_observations(path, shown_outputs("itp"))


def test_cli_simulate_overlays_observations_and_refuses_bad_ones_before_writing(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("TIME,DV,OUTPUT\n0,12,platelets_1e9_per_L\n7,150,platelets_1e9_per_L\n14,16,\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["simulate", str(ITP), "-o", str(out), "--observed", str(good), "-q"])
    assert result.exit_code == 0, result.output
    assert (out / "itp-standard.png").stat().st_size > 10_000
    bad = tmp_path / "bad.csv"
    bad.write_text("TIME,DV,OUTPUT\n0,12,qmg_score\n")
    out2 = tmp_path / "out2"
    result = CliRunner().invoke(app, ["simulate", str(ITP), "-o", str(out2), "--observed", str(bad)])
    assert result.exit_code == 2 and result.output.startswith("error: bad.csv row 1 column OUTPUT")
    assert result.output.count("\n") == 1 and not out2.exists()
