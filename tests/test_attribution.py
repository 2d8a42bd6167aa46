"""Mechanism attribution: Shapley values add up, and equal knock-outs without interaction."""

import itertools
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from ivigsim.attribution import attribute, readout, shapley_values
from ivigsim.cli import app
from ivigsim.dosing import get_regimen
from ivigsim.errors import InputError
from ivigsim.model.library import MECHANISMS
from ivigsim.scenario import Scenario


def _game(value_of, n):
    return {c: value_of(c) for c in itertools.product((False, True), repeat=n)}


def test_shapley_of_an_additive_game_is_each_players_weight():
    weights = [3.0, -1.0, 0.5, 2.0]
    values = _game(lambda c: sum(w for w, on in zip(weights, c) if on), 4)
    assert shapley_values(values, 4) == pytest.approx(weights, abs=1e-12)


def test_shapley_of_a_pure_interaction_is_split_equally():
    """v = 1 only when players 0 and 1 are both in: each gets 1/2, the others 0."""
    values = _game(lambda c: float(c[0] and c[1]), 3)
    assert shapley_values(values, 3) == pytest.approx([0.5, 0.5, 0.0], abs=1e-12)


def test_shapley_matches_the_permutation_definition():
    rng = np.random.default_rng(7)
    n = 4
    values = _game(lambda c: 0.0, n)
    values = {c: (0.0 if not any(c) else float(rng.normal())) for c in values}
    by_orders = np.zeros(n)
    for order in itertools.permutations(range(n)):
        coalition = [False] * n
        for i in order:
            before = values[tuple(coalition)]
            coalition[i] = True
            by_orders[i] += values[tuple(coalition)] - before
    np.testing.assert_allclose(shapley_values(values, n), by_orders / math.factorial(n), atol=1e-12)


@pytest.fixture(scope="module")
def itp_attribution():
    scenario = Scenario(regimen=get_regimen("itp"), days=28.0)
    return attribute(scenario, readout("autoantibody_fraction_of_baseline", 14.0))


def test_shapley_values_sum_to_the_total_effect(itp_attribution):
    a = itp_attribution
    assert a.mechanisms == tuple(m.name for m in MECHANISMS)
    assert sum(a.shapley.values()) == pytest.approx(a.total, rel=1e-9)
    assert a.total < 0  # IVIG lowers the autoantibody
    assert a.none_on == pytest.approx(1.0, rel=1e-6)  # nothing on: untouched
    # FcRn saturation carries the largest share of the fall
    assert max(a.shapley, key=lambda m: -a.shapley[m]) == "fcrn_saturation"


def test_shapley_equals_knockout_when_mechanisms_do_not_interact():
    """Complement and Fc-receptor blockade act on separate outputs: their sum is additive."""
    scenario = Scenario(regimen=get_regimen("itp"), days=14.0)
    both = ("complement_scavenging", "fcgr_blockade")
    complement = readout("complement_activity_fraction_of_baseline", 7.0)
    blockade = readout("fcgr_blockade_fraction", 7.0)
    a = attribute(scenario, lambda ds: complement(ds) + blockade(ds), mechanisms=both)
    # Exact in the model; the solver couples patients' step sizes to all their states, so
    # agreement is to solver tolerance (rtol 1e-6 here), not to round-off.
    for m in both:
        assert a.shapley[m] == pytest.approx(a.knockout[m], rel=1e-6)
    assert abs(a.interaction) < 1e-6 * abs(a.total)
    assert a.shapley["complement_scavenging"] < 0 < a.shapley["fcgr_blockade"]


def test_mechanisms_switched_off_in_the_scenario_take_no_part():
    scenario = Scenario(regimen=get_regimen("itp"), days=14.0, mechanisms={"anti_idiotype": False})
    a = attribute(scenario, readout("autoantibody_fraction_of_baseline", 7.0))
    assert "anti_idiotype" not in a.mechanisms and len(a.mechanisms) == len(MECHANISMS) - 1


def test_readout_errors_name_the_option():
    with pytest.raises(InputError, match="--day"):
        readout("igg_total_g_per_L", None, "value")
    with pytest.raises(InputError, match="--summary"):
        readout("igg_total_g_per_L", 3.0, "mean")


def test_explain_command_prints_table_and_writes_waterfall(tmp_path):
    scenario = tmp_path / "itp.yaml"
    scenario.write_text("name: itp\nregimen: {standard: itp}\nsimulation: {days: 28}\n")
    result = CliRunner().invoke(app, ["explain", str(scenario), "--output", "autoantibody_fraction_of_baseline",
                                      "--day", "14", "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "fcrn_saturation" in result.output and "Shapley" in result.output
    assert (tmp_path / "out" / "itp-explain-autoantibody_fraction_of_baseline.png").stat().st_size > 1000
    bad = CliRunner().invoke(app, ["explain", str(scenario), "--output", "platelets", "--day", "14", "--no-plot"])
    assert bad.exit_code == 2 and "--output" in bad.output and "Traceback" not in bad.output
