"""Global sensitivity analysis against independent answers.

- The estimators (``analyse``) against closed forms: a linear function of independent
  uniform inputs (S1 = ST = each term's share of the variance; every Morris elementary
  effect is slope x range, so mu* is exact and sigma 0) and the Ishigami function
  (analytical S1 and ST, with an interaction).
- The model path (ranges, batched engine, read-outs): in the healthy model the day-0 total
  IgG is the steady state set by ``baseline_igg_g_per_L`` alone, so its S1 = ST = 1 and
  every other index is 0; after a dose, the AUC of infused IgG has ST > 0 for FcRn and
  volume parameters and ST ~ 0 for every parameter that the IgG equations cannot reach,
  found here from the declarations (expression symbols), not by simulation; the typical
  value matches ``simulate`` (the NumPy solver); Morris and Sobol' agree on the top
  parameter.
- Refusals name the field.
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ivigsim.engine.solver import Dopri5
from ivigsim.errors import InputError
from ivigsim.io.scenario_file import load_scenario
from ivigsim.model.library import DISEASES, build_model, core_model
from ivigsim.scenario import Scenario
from ivigsim.sensitivity import analyse, parameter_ranges, sensitivity
from ivigsim.simulation import simulate

ROOT = Path(__file__).resolve().parents[1]
HEALTHY = ROOT / "examples" / "healthy-0.2-g-per-kg.yaml"


@pytest.fixture(scope="module")
def healthy() -> Scenario:
    return load_scenario(HEALTHY)


def reachable_parameters(model, output: str) -> set[str]:
    """Parameters ``output`` can depend on, following expressions, fluxes and initial values."""
    reads = {a.name: a.parsed.symbols for a in model.assignments}
    for s in model.states:
        reads[s.name] = set(s.initial_expression.symbols)
    for f in model.fluxes:
        for end in (f.source, f.target):
            if end is not None:
                reads[end] = reads[end] | f.parsed.symbols
    seen, stack = set(), [output]
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(reads.get(name, ()))
    return seen & set(model.parameter_names)


# -- the estimators against closed forms ------------------------------------------------
SLOPES = np.array([1.0, -2.0, 0.5, 0.0])
BOUNDS = [(0.0, 1.0), (-1.0, 2.0), (1.0, 5.0), (0.0, 3.0)]


def linear(x: np.ndarray) -> np.ndarray:
    return x @ SLOPES


def linear_shares() -> np.ndarray:
    widths = np.array([hi - lo for lo, hi in BOUNDS])
    v = (SLOPES * widths) ** 2 / 12.0  # variance of a * U(lo, hi)
    return v / v.sum()


def test_sobol_of_a_linear_function_is_each_terms_share_of_the_variance():
    result = analyse(linear, ["a", "b", "c", "d"], BOUNDS, method="sobol", n=1024, seed=1)
    exact = linear_shares()
    for key in ("S1", "ST"):
        est, conf = result.columns[key], result.columns[f"{key}_conf"]
        assert np.all(np.abs(est - exact) <= np.maximum(conf, 0.02)), (key, est, exact, conf)
    assert result.columns["ST"][3] == 0.0 and result.columns["S1"][3] == 0.0  # no slope: exactly nothing
    assert result.n_evaluations == 1024 * (4 + 2) and result.n_failed == 0


def test_morris_of_a_linear_function_is_exact():
    result = analyse(linear, ["a", "b", "c", "d"], BOUNDS, method="morris", n=16, seed=3)
    widths = np.array([hi - lo for lo, hi in BOUNDS])
    np.testing.assert_allclose(result.columns["mu_star"], np.abs(SLOPES) * widths, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result.columns["mu"], SLOPES * widths, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result.columns["sigma"], 0.0, atol=1e-9)


@pytest.mark.slow  # 4-17 s: in CI and with --run-slow (the README command stays under 5 minutes)
def test_sobol_of_the_ishigami_function_matches_its_analytical_indices():
    a, b = 7.0, 0.1  # Ishigami & Homma 1990; indices from Sobol' & Levitan 1999
    pi = math.pi
    v1 = 0.5 * (1 + b * pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    s1 = np.array([v1, v2, 0.0]) / v
    st = np.array([v1 + v13, v2, v13]) / v

    def ishigami(x):
        return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])

    result = analyse(ishigami, ["x1", "x2", "x3"], [(-pi, pi)] * 3, method="sobol", n=4096, seed=0)
    for key, exact in (("S1", s1), ("ST", st)):
        est, conf = result.columns[key], result.columns[f"{key}_conf"]
        assert np.all(np.abs(est - exact) <= np.maximum(conf, 0.02)), (key, est, exact, conf)


def test_failures_are_counted_and_their_groups_left_out():
    d, n = 4, 256
    bad_rows = {5, 6, 40, 41 + 3 * (d + 2)}  # two in one base sample: three base samples lost

    def flaky(x):
        y = linear(x)
        y[list(bad_rows)] = np.nan
        return y

    result = analyse(flaky, ["a", "b", "c", "d"], BOUNDS, method="sobol", n=n, seed=1)
    assert result.n_failed == len(bad_rows)
    assert result.n_dropped == len({r // (d + 2) for r in bad_rows}) and result.n_kept == n - result.n_dropped
    exact = linear_shares()
    assert np.all(np.abs(result.columns["ST"] - exact) <= np.maximum(result.columns["ST_conf"], 0.03))

    with pytest.raises(InputError, match="simulation.*solves failed"):
        analyse(lambda x: np.where(np.arange(len(x)) % 3 == 0, np.nan, linear(x)),
                ["a", "b", "c", "d"], BOUNDS, method="sobol", n=64, seed=1)


# -- the model path -------------------------------------------------------------------
def test_ranges_follow_the_stated_rules(healthy):
    ranges, held = parameter_ranges(healthy)
    by_name = {r.name: r for r in ranges}
    model = build_model(None)
    eligible = {p.name for p in model.parameters
                if p.may_vary and p.provenance in ("source", "calibrated", "derived", "assumption")}
    assert set(by_name) | {n for n, _ in held} == eligible
    assert dict(held).keys() == {"fcrn_blockade"}  # a share at 0 cannot move on the logit scale

    # Declared variability (healthy adults: CV 0.219), centred on the scenario's own value.
    base = by_name["baseline_igg_g_per_L"]
    omega = math.sqrt(math.log(1 + DISEASES["none"].variability["baseline_igg_g_per_L"] ** 2))
    assert base.typical == 10.7
    assert (base.low, base.high) == pytest.approx((10.7 * math.exp(-2 * omega), 10.7 * math.exp(2 * omega)))
    # Assumed: a factor of 2 either way; a logit share +/- 1; clipped to bounds.
    km = by_name["fcrn_km_g_per_L"]
    km0 = core_model().parameter("fcrn_km_g_per_L").value
    assert (km.low, km.high) == pytest.approx((km0 / 2, km0 * 2))
    share = by_name["b_cell_inhibition_max"]  # 0.5, logit scale
    assert (share.low, share.high) == pytest.approx((1 / (1 + math.e), math.e / (1 + math.e)))
    fraction = by_name["intravascular_fraction"]  # 0.44 x 2 would pass its bound of 0.8
    assert (fraction.low, fraction.high) == pytest.approx((0.22, 0.8)) and "clipped" in fraction.basis
    # A wider assumed factor widens only the assumed ranges.
    wide = {r.name: r for r in parameter_ranges(healthy, spread=3.0)[0]}
    assert wide["fcrn_km_g_per_L"].high == pytest.approx(km0 * 3) and wide["baseline_igg_g_per_L"].high == base.high


def test_day0_igg_depends_on_baseline_igg_alone(healthy):
    result = sensitivity(healthy, "igg_total_g_per_L", day=0.0, n=256, seed=0)
    s = {row["parameter"]: row for row in result.rows()}
    top = s["baseline_igg_g_per_L"]
    assert abs(top["S1"] - 1) <= max(top["S1_conf"], 0.05) and abs(top["ST"] - 1) <= max(top["ST_conf"], 0.05)
    others = [row for name, row in s.items() if name != "baseline_igg_g_per_L"]
    assert len(others) == len(result.ranges) - 1 > 20
    assert max(abs(row["S1"]) for row in others) < 1e-9 and max(row["ST"] for row in others) < 1e-9
    assert result.rows()[0]["parameter"] == "baseline_igg_g_per_L"
    assert result.typical_value == pytest.approx(10.7) and result.n_failed == 0


def test_ivig_exposure_depends_on_fcrn_and_volume_and_not_on_what_igg_cannot_reach(healthy):
    model = build_model(None)
    reach = reachable_parameters(model, "igg_ivig_g_per_L")
    unreachable = {r.name for r in parameter_ranges(healthy)[0]} - reach
    assert {"cytokine_turnover_per_day", "cytokine_neutralisation_k_g_per_L", "complement_ic50_g_per_L"} <= unreachable

    result = sensitivity(healthy, "igg_ivig_g_per_L", summary="auc", n=128, seed=0)
    s = {row["parameter"]: row for row in result.rows()}
    for name in ("fcrn_igk", "reference_igg_g_per_L", "plasma_volume_L_per_kg"):
        assert s[name]["ST"] - s[name]["ST_conf"] > 0, name  # non-zero within its interval
    for name in unreachable:
        assert abs(s[name]["ST"]) < 1e-6 and abs(s[name]["S1"]) < 1e-6, name  # solver noise at most
    assert result.unit == "g/L x day" and result.day == healthy.days

    # (b) Morris, an independent design, finds the same most important parameter.
    morris = sensitivity(healthy, "igg_ivig_g_per_L", summary="auc", method="morris", n=16, seed=0)
    assert morris.rows()[0]["parameter"] == result.rows()[0]["parameter"]
    m = {row["parameter"]: row for row in morris.rows()}
    assert all(m[name]["mu_star"] < 1e-3 * morris.rows()[0]["mu_star"] for name in unreachable)


def test_typical_value_matches_the_numpy_solver(healthy):
    ds = simulate(healthy)
    for summary, day, expected in (
        ("day", 30.0, float(ds["igg_total_g_per_L"].sel(time=30.0).values[0])),
        ("peak", None, float(ds["igg_total_post_infusion_g_per_L"].values.max())),  # exact at the infusion end
        ("nadir", None, float(ds["igg_total_g_per_L"].values.min())),
    ):
        result = sensitivity(healthy, "igg_total_g_per_L", summary=summary, day=day,
                             parameters=["fcrn_km_g_per_L"], method="morris", n=4)
        assert result.typical_value == pytest.approx(expected, rel=1e-5), summary


def test_results_are_deterministic_sorted_and_serialisable(healthy):
    kw = dict(summary="peak", parameters=["fcrn_km_g_per_L", "plasma_volume_L_per_kg", "cytokine_turnover_per_day"],
              n=32, seed=7)
    first, again = sensitivity(healthy, "igg_total_g_per_L", **kw), sensitivity(healthy, "igg_total_g_per_L", **kw)
    assert first.as_dict() == again.as_dict()
    st = [row["ST"] for row in first.rows()]
    assert st == sorted(st, reverse=True) and first.rows()[0]["parameter"] == "plasma_volume_L_per_kg"
    json.dumps(first.as_dict())
    table = first.table_markdown()
    assert table.index("plasma_volume_L_per_kg") < table.index("cytokine_turnover_per_day")
    assert "ST (95 % CI)" in table and "seed 7" in table and "0 failed" in table
    assert sensitivity(healthy, "igg_total_g_per_L", **{**kw, "seed": 8}).as_dict() != first.as_dict()


def test_failed_solves_are_reported_not_used(healthy):
    starved = replace(healthy, solver=Dopri5(max_steps=5))  # no patient gets through 120 days
    with pytest.raises(InputError, match="simulation") as err:
        sensitivity(starved, "igg_total_g_per_L", summary="auc", parameters=["fcrn_km_g_per_L"], n=16)
    assert "failed" in str(err.value)


# -- refusals ---------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, field", [
    (dict(output="platelets_1e9_per_L", day=7.0), "--output"),  # not an output of the healthy model
    (dict(output="igg_total_g_per_L"), "--day"),  # 'day' read-out without a day
    (dict(output="igg_total_g_per_L", day=121.0), "--day"),  # outside the 120-day span
    (dict(output="igg_total_g_per_L", day=-1.0), "--day"),
    (dict(output="igg_total_g_per_L", summary="auc", day=0.0), "--day"),  # an empty window
    (dict(output="igg_total_g_per_L", summary="mean", day=3.0), "--summary"),
    (dict(output="igg_total_g_per_L", day=3.0, method="fast"), "--method"),
    (dict(output="igg_total_g_per_L", day=3.0, n=100), "--n"),  # not a power of two
    (dict(output="igg_total_g_per_L", day=3.0, n=8), "--n"),  # too small
    (dict(output="igg_total_g_per_L", day=3.0, method="morris", n=2), "--n"),
    (dict(output="igg_total_g_per_L", day=3.0, n=2**20), "--n"),  # millions of solves
    (dict(output="igg_total_g_per_L", day=3.0, parameters=["no_such"]), "--parameters"),
    (dict(output="igg_total_g_per_L", day=3.0, parameters=["fcrn_saturation_strength"]), "--parameters"),
    (dict(output="igg_total_g_per_L", day=3.0, parameters=["body_weight_kg"]), "--parameters"),
    (dict(output="igg_total_g_per_L", day=3.0, parameters=["fcrn_blockade"]), "--parameters"),  # at 0
    (dict(output="igg_total_g_per_L", day=3.0, parameters=["fcrn_igk", "fcrn_igk"]), "--parameters"),
    (dict(output="igg_total_g_per_L", day=3.0, parameters=[]), "--parameters"),
    (dict(output="igg_total_g_per_L", day=3.0, spread=1.0), "--spread"),
    (dict(output="igg_total_g_per_L", day=3.0, seed=-1), "--seed"),
])
def test_bad_input_is_refused_naming_the_field(healthy, kwargs, field):
    output = kwargs.pop("output")
    with pytest.raises(InputError) as err:
        sensitivity(healthy, output, **kwargs)
    assert err.value.field == field


def test_baseline_parameters_vary_only_when_named():
    itp = load_scenario(ROOT / "examples" / "itp-standard.yaml")
    ranges, _ = parameter_ranges(itp)
    assert "platelet_baseline_1e9_per_L" not in {r.name for r in ranges}
    (named,), _ = parameter_ranges(itp, ["platelet_baseline_1e9_per_L"])
    assert named.typical == 12.0 and (named.low, named.high) == pytest.approx((6.0, 24.0))


def test_docs_have_a_block_for_every_table():
    sys.path.insert(0, str(ROOT / "docs"))
    import sensitivity_tables

    text = (ROOT / "docs" / "sensitivity.md").read_text()
    names = set(re.findall(r"<!-- BEGIN sensitivity:([\w-]+) -->", text))
    assert names == {"settings", "ranges", *(c.name for c in sensitivity_tables.CASES)}
    for case in sensitivity_tables.CASES:
        assert (ROOT / "examples" / case.example).exists()
        assert case.output in build_model(load_scenario(ROOT / "examples" / case.example).disease).output_names


def test_cli_sensitivity_prints_the_table_and_refuses_bad_input_in_one_line():
    from pathlib import Path

    from typer.testing import CliRunner

    from ivigsim.cli import app

    example = Path(__file__).resolve().parents[1] / "examples" / "itp-standard.yaml"
    result = CliRunner().invoke(app, ["sensitivity", str(example), "--output", "platelets_1e9_per_L", "--day", "7",
                                      "--method", "morris", "--n", "4", "--top", "3", "--json"])
    assert result.exit_code == 0, result.output
    assert '"method": "morris"' in result.output or "morris" in result.output
    for args, field in ((["--output", "platelets", "--day", "7"], "--output"), (["--output", "platelets_1e9_per_L"], "--day")):
        bad = CliRunner().invoke(app, ["sensitivity", str(example), *args])
        assert bad.exit_code == 2 and bad.output.startswith(f"error: {field}") and bad.output.count("\n") == 1


# -- a regimen with a comparator ------------------------------------------------------------------


def test_a_plasma_exchange_scenario_runs_on_the_comparator_model():
    """examples/gbs-plasma-exchange.yaml (five exchanges, then IVIG): the analysis solves the
    comparator model, so its typical value is what ``simulate`` gives for the same read-out (on
    the IVIG model the exchanges would not happen and IgG would not fall to a third); the
    parameters of the comparators the regimen does not give are held, with the reason, and
    refused when named; the exchange's own are varied."""
    scenario = replace(load_scenario(ROOT / "examples" / "gbs-plasma-exchange.yaml"), days=16.0)
    ds = simulate(scenario)
    expected = float(ds["igg_total_g_per_L"].sel(time=9.0).values[0])
    assert expected < 0.5 * float(ds["igg_total_g_per_L"].values[0, 0])  # the exchanges took IgG down
    result = sensitivity(scenario, "igg_total_g_per_L", day=9.0, method="morris", n=4,
                         parameters=["distribution_clearance_70kg_L_per_day", "complement_recovery_per_day"])
    assert result.typical_value == pytest.approx(expected, rel=1e-5) and result.n_failed == 0
    ranges, held = parameter_ranges(scenario)
    varied, why = {r.name for r in ranges}, dict(held)
    assert "complement_recovery_per_day" in varied and "distribution_clearance_70kg_L_per_day" in varied
    assert why["scig_bioavailability"] == "its treatment (scig) is not in the regimen"
    assert why["fcrn_inhibitor_kd_g_per_L"] == "its treatment (fcrn inhibitor) is not in the regimen"
    with pytest.raises(InputError) as err:
        parameter_ranges(scenario, ["scig_bioavailability"])
    assert err.value.field == "--parameters" and "not in the regimen" in str(err.value.got)
