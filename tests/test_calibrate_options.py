"""The joint calibration script's options that act on a result: the adoption rule of
``--by-block``, and bad input to ``--start``, ``--by-block`` and ``--rebase`` (one line, exit 2)."""

import pytest

from ivigsim.errors import InputError
from ivigsim.validation.calibrate import adoptable, main, parse_start


def _row(targets, checks):
    return {"targets": {"shipped": targets[0], "block_estimate": targets[1]},
            "checks": {"shipped": checks[0], "block_estimate": checks[1]}}


@pytest.mark.parametrize("targets, checks, adopt", [
    ((50.0, 36.0), (11.0, 12.0), True),     # targets gain 14, checks lose 1
    ((60.0, 55.0), (206.0, 218.0), False),  # targets gain 5, checks lose 12
    ((60.0, 55.0), (206.0, 200.0), True),   # both improve
    ((60.0, 61.0), (206.0, 200.0), False),  # the targets must improve
    ((60.0, 55.0), (206.0, 211.0), False),  # a loss equal to the gain is not less than it
])
def test_a_block_is_adopted_when_its_targets_gain_more_than_its_checks_lose(targets, checks, adopt):
    assert adoptable(_row(targets, checks)) is adopt


@pytest.mark.parametrize("text", ["[1]", "{}", "not json", '{"a": "x"}', '{"a": NaN}'])
def test_start_must_be_a_json_object_of_finite_numbers(text):
    with pytest.raises(InputError) as caught:
        parse_start(text)
    assert caught.value.field == "--start"


def test_start_values_are_read():
    assert parse_start('{"fcrn_km_g_per_L": 50}') == {"fcrn_km_g_per_L": 50.0}
    assert parse_start(None) is None


@pytest.mark.parametrize("argv", [["--joint", "--start", "[1]"], ["--by-block", "--out", "/nonexistent/j.json"],
                                  ["--rebase", "--out", "/nonexistent/j.json"]])
def test_bad_input_is_one_line_and_exit_status_2(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --")
