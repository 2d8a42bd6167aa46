"""Parameter uncertainty carried to answers (``ivigsim.uncertainty``; issue #12 item 2).

Each check is against something computed another way: the joint calibration's own stored
ensemble and Laplace SDs/correlations, separate simulations at the parameters' quantiles, the
point simulation itself, and the CLI's one-line refusals.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from ivigsim import uncertainty as u
from ivigsim.attribution import attribute, attribute_ensemble, readout
from ivigsim.cli import app
from ivigsim.io.scenario_file import load_scenario
from ivigsim.simulation import simulate, simulate_with_band
from tests.test_cli import ITP, ROOT

runner = CliRunner()
STORED = json.loads(u.CALIBRATION_FILE.read_text(encoding="utf-8"))
FLAT = "achr_antibody_k"  # an MG parameter: not declared by the ITP model


def _short_itp(days: float = 10.0):
    return dataclasses.replace(load_scenario(ITP), days=days, output_every_days=1.0)


def _zeros(n: int, names=None) -> u.Ensemble:
    """An ensemble whose every vector is the shipped point."""
    lap = u.load()
    names = tuple(names or lap.names)
    scales = tuple(lap.scales[lap.names.index(n)] for n in names)
    return u.Ensemble(names, scales, np.zeros((n, len(names))))


# --- the ensemble -----------------------------------------------------------------------------


def test_same_approximation_as_the_joint_calibration():
    """Centred on the joint estimate, with the batch the calibration script used, the draws
    are the shipped ensemble's vectors: the same normal, floor and box (joint.Laplace.ensemble)."""
    from ivigsim.validation import joint

    lap = u.load()
    assert lap.names == tuple(STORED["ensemble"]["names"])
    assert (u.FLAT_SD, u.LOG_SPAN, u.LOGIT_SPAN) == (joint.FLAT_SD, joint.LOG_SPAN, joint.LOGIT_SPAN)
    # The stored draws were truncated to the box around the values the calibration ran with
    # (``fit_centre`` once estimates were adopted since; the answers' fresh draws use today's).
    centres = [r.get("fit_centre", r["shipped"]) for r in STORED["parameters"]]
    fit_box = [u.search_box(c, s, b) for c, s, b in zip(centres, lap.scales, lap.bounds)]
    for name, centre, box in zip(lap.names, centres, fit_box):
        assert joint.fit_parameter(name, centre).box(0.0) == pytest.approx(box, rel=1e-12)
    lo, hi = (np.array(side) for side in zip(*fit_box))
    n = len(STORED["ensemble"]["vectors"])
    z = u.draw(lap.x(lap.estimate), lap.precision(), lo, hi, n, seed=0, batch=max(n, 64))
    values = np.array([[min(max(u.from_x(x, s), b[0]), b[1]) for x, s, b in zip(row, lap.scales, lap.bounds)]
                       for row in z])
    np.testing.assert_allclose(values, np.array(STORED["ensemble"]["vectors"]), rtol=1e-12)


def test_recentred_ensemble_has_the_laplace_covariance():
    """Deviations of 1,000 vectors around the shipped values follow the stored Laplace normal
    (half the stored Hessian as precision, eigenvalues floored at 1/FLAT_SD^2: flat and negative
    directions, where the estimate is not a minimum, get SD FLAT_SD) truncated to the search box.
    The reference is drawn independently (numpy's multivariate_normal on the covariance matrix,
    another seed, 40,000 draws, rejection to the box). Tolerances: 4.5 Monte Carlo SEs of the
    difference (mean; SD: SD/sqrt(2n); correlation: 1/sqrt(n) + 0.001), every parameter and pair."""
    e = u.ensemble(u.MAX_SIZE, seed=0)
    n = len(e)
    dev = e.deviations
    lap = u.load()
    h = np.array(STORED["hessian"])
    w, v = np.linalg.eigh(0.5 * (h + h.T) / 2)
    cov = (v / np.maximum(w, 1.0 / u.FLAT_SD**2)) @ v.T
    lo, hi = lap.box()
    centre = lap.x(lap.shipped)
    rng = np.random.default_rng(12345)
    ref = rng.multivariate_normal(np.zeros(len(centre)), cov, size=200_000)
    ref = ref[((ref >= lo - centre) & (ref <= hi - centre)).all(axis=1)][:40_000]
    m = len(ref)
    assert m == 40_000
    sd, ref_sd = dev.std(axis=0, ddof=1), ref.std(axis=0, ddof=1)
    assert np.all(np.abs(dev.mean(axis=0) - ref.mean(axis=0)) <= 4.5 * ref_sd * math.sqrt(1 / n + 1 / m))
    assert np.all(np.abs(sd / ref_sd - 1) <= 4.5 * math.sqrt(1 / (2 * n) + 1 / (2 * m)))
    z = np.abs(np.corrcoef(dev.T) - np.corrcoef(ref.T)) / (1 / math.sqrt(n) + 1e-3)
    assert z.max() <= 4.5
    # Centred on the shipped values: the shipped point is the ensemble's centre, not the estimate.
    km = e.names.index("fcrn_km_g_per_L")
    assert e.values({"fcrn_km_g_per_L": 50.0})[0]["fcrn_km_g_per_L"] == pytest.approx(50.0 * math.exp(dev[0, km]))


def test_ensemble_is_seeded_and_nested():
    small, big = u.ensemble(10, seed=3), u.ensemble(200, seed=3)
    np.testing.assert_array_equal(small.deviations, big.deviations[:10])
    assert not np.array_equal(small.deviations, u.ensemble(10, seed=4).deviations)
    only = big.only({"fcrn_km_g_per_L", "axonal_share", "not_a_parameter"})
    assert only.names == ("fcrn_km_g_per_L", "axonal_share")
    np.testing.assert_array_equal(only.deviations[:, 0], big.deviations[:, big.names.index("fcrn_km_g_per_L")])


def test_band_ends_are_symmetric_order_statistics():
    values = np.arange(101.0)[::-1]
    median, lo, hi = u.band(values, 0.9)
    assert (median, lo, hi) == (50.0, 5.0, 95.0)
    assert u.band_indices(4, 0.9) == (0, 3)  # too few vectors: their range (and said so)
    assert "whole range" in u.describe(4, 0.9)


# --- simulate ---------------------------------------------------------------------------------


def test_band_of_identical_vectors_is_the_point_simulation():
    scenario = _short_itp()
    ds, members = simulate_with_band(scenario, _zeros(5), 0.9)
    point = simulate(scenario)
    assert ds.attrs["parameter_uncertainty_vectors"] == 5
    for name in ("platelets_1e9_per_L", "igg_total_g_per_L", "fcrn_rescue_fraction"):
        for part in ("median", "lower", "upper"):
            np.testing.assert_array_equal(ds[f"{name}_param_{part}"].values, point[name].values)
        np.testing.assert_array_equal(ds[name].values, point[name].values)  # the point itself unchanged


def test_monotone_output_band_is_the_output_at_the_parameter_band():
    """One parameter (FcRn's Km) varies: total IgG at any time moves monotonically with it, so
    the band's ends are the outputs simulated, separately, at the Km band's ends."""
    scenario = dataclasses.replace(load_scenario(ROOT / "examples" / "healthy-0.2-g-per-kg.yaml"),
                                   days=21.0, output_every_days=1.0)
    name = "fcrn_km_g_per_L"
    dev = np.random.default_rng(7).normal(0.0, 0.3, size=(21, 1))
    ensemble = u.Ensemble((name,), ("log",), dev)
    ds, _ = simulate_with_band(scenario, ensemble, 0.8)
    k_lo, k_hi = u.band_indices(len(dev), 0.8)
    from ivigsim.model.library import compiled_model

    assert name not in scenario.parameters
    km = compiled_model(scenario.disease).model.parameter(name).value * np.exp(np.sort(dev[:, 0]))
    ends = [simulate(dataclasses.replace(scenario, parameters={**scenario.parameters, name: float(km[k])}))[
        "igg_total_g_per_L"].values[0] for k in (k_lo, k_hi)]
    assert not np.allclose(ends[0], ends[1])  # Km does move IgG
    np.testing.assert_allclose(ds["igg_total_g_per_L_param_lower"].values[0], np.minimum(*ends), rtol=1e-9)
    np.testing.assert_allclose(ds["igg_total_g_per_L_param_upper"].values[0], np.maximum(*ends), rtol=1e-9)


def test_user_set_parameters_are_not_moved():
    scenario = dataclasses.replace(_short_itp(), parameters={**_short_itp().parameters, "fcrn_km_g_per_L": 50.0})
    from ivigsim.model.library import compiled_model
    from ivigsim.simulation import ensemble_variants

    vectors = ensemble_variants(scenario, u.ensemble(5), compiled_model("itp"))
    assert all("fcrn_km_g_per_L" not in v for v in vectors)
    assert all("phagocytosis_cooperativity" in v and FLAT not in v for v in vectors)  # ITP's own, not MG's


# --- explain ----------------------------------------------------------------------------------


@pytest.mark.slow  # 2 s or more (README run under 5 minutes): in CI and with --run-slow
def test_attribution_share_intervals_contain_the_point_shares():
    scenario = _short_itp(7.0)
    read = readout("platelets_1e9_per_L", 7.0)
    bands = attribute_ensemble(scenario, read, u.ensemble(15, seed=1), 0.9)
    point = attribute(scenario, read)
    assert bands.point == point and len(bands.members) == 15
    for m in point.mechanisms:
        median, lo, hi = bands.share(m)
        assert lo - 1e-12 <= point.share(m) <= hi + 1e-12, m
        assert lo <= median <= hi
    for a in bands.members:  # Shapley values still add up to each member's total effect
        assert sum(a.shapley.values()) == pytest.approx(a.total, rel=1e-9, abs=1e-9)
    same = attribute_ensemble(scenario, read, _zeros(3), 0.9)
    assert all(a == point for a in same.members)


def _mg_with_exchange(days: float = 16.0):
    """A gMG patient: 2 g/kg IVIG from day 0, then two plasma exchanges (days 8 and 10)."""
    from ivigsim.dosing import Dose, Regimen, get_product
    from ivigsim.dosing.comparators import PlasmaExchange
    from ivigsim.scenario import Scenario

    return Scenario(disease="mg", days=days, output_every_days=1.0,
                    regimen=Regimen((Dose(0.0, 2.0), PlasmaExchange((8.0, 10.0))), get_product("generic-10")))


@pytest.mark.slow  # 3 s or more (README run under 5 minutes): in CI and with --run-slow
def test_attribution_across_treatments_under_parameter_uncertainty():
    """Each member of the band equals ``attribute`` run apart on the scenario with that vector's
    values written into its parameters (another path: the user's own values, every coalition
    simulated again); the treatment is a player in every member; Shapley values add up; a
    vector of zeros gives the point."""
    from ivigsim.model.library import compiled_model
    from ivigsim.simulation import ensemble_variants

    scenario = _mg_with_exchange()
    read = readout("autoantibody_fraction_of_baseline", 12.0)
    players = ["fcrn_saturation", "anti_idiotype", "plasma_exchange"]
    ensemble = u.ensemble(4, seed=3)
    bands = attribute_ensemble(scenario, read, ensemble, 0.9, players)
    assert bands.failed == 0 and len(bands.members) == 4
    assert bands.point == attribute(scenario, read, players)
    vectors = ensemble_variants(scenario, ensemble, compiled_model("mg", comparators=True))
    for member, vector in zip(bands.members, vectors):
        apart = attribute(dataclasses.replace(scenario, parameters={**scenario.parameters, **vector}), read, players)
        assert member.mechanisms == apart.mechanisms == ("fcrn_saturation", "anti_idiotype", "plasma_exchange")
        assert member.total == pytest.approx(apart.total, rel=1e-9, abs=1e-12)
        for m in member.mechanisms:
            assert member.shapley[m] == pytest.approx(apart.shapley[m], rel=1e-9, abs=1e-12), m
        assert sum(member.shapley.values()) == pytest.approx(member.total, rel=1e-9, abs=1e-12)
    assert len({round(a.shapley["plasma_exchange"], 12) for a in bands.members}) > 1  # the vectors move it
    same = attribute_ensemble(scenario, read, _zeros(2), 0.9, players)
    assert all(a == bands.point for a in same.members)


def test_an_fcrn_inhibitors_own_constants_are_not_moved_by_the_ensemble():
    """The ensemble's uncertainty on the inhibitor's affinity was fitted for efgartigimod (the
    parameter's own value): it moves efgartigimod's affinity, not nipocalimab's published Kss."""
    from ivigsim.dosing import Regimen, get_product
    from ivigsim.dosing.comparators import FcRnInhibitor
    from ivigsim.model.library import compiled_model
    from ivigsim.scenario import Scenario
    from ivigsim.simulation import ensemble_variants

    model = compiled_model("mg", comparators=True)
    kd = "fcrn_inhibitor_kd_g_per_L"
    for drug, moved in (("efgartigimod", True), ("nipocalimab", False)):
        scenario = Scenario(disease="mg", days=20.0, regimen=Regimen((FcRnInhibitor(drug=drug),), get_product("generic-10")))
        vectors = ensemble_variants(scenario, u.ensemble(5), model)
        assert all((kd in v) == moved for v in vectors), drug
        assert all("fcrn_km_g_per_L" in v for v in vectors)  # the IgG core's parameters still move
    nipocalimab = load_scenario(ROOT / "examples" / "comparators" / "mg-nipocalimab.yaml")
    assert all(kd not in v for v in ensemble_variants(nipocalimab, u.ensemble(5), model))


# --- validate ---------------------------------------------------------------------------------


@pytest.mark.slow  # 3 s or more (README run under 5 minutes): in CI and with --run-slow
def test_validate_parameter_intervals_collapse_and_show_beside_the_sampling_interval():
    from ivigsim.validation.runner import ALL_TARGETS, parameter_intervals, run_targets, verdict_markdown, verdict_rows

    targets = [t for t in ALL_TARGETS if t.id in ("bt511-peak", "treg-day7")]
    verdicts = run_targets(targets)
    same = parameter_intervals(targets, _zeros(2), 0.9)
    for v in verdicts:
        assert same.values[v.target.id] == (v.simulated,) * 3
    moved = parameter_intervals(targets, u.ensemble(5), 0.9)
    rows = verdict_rows(verdicts, moved)
    assert all("parameter_interval" in r and r["parameter_interval"] != "-" for r in rows)
    assert [r["verdict"] for r in rows] == [r["verdict"] for r in verdict_rows(verdicts)]  # verdicts unchanged
    assert "parameter_interval" not in verdict_rows(verdicts)[0]  # a plain run's rows as before
    table = verdict_markdown(verdicts, moved)
    assert "parameter-uncertainty 90 % interval" in table and "simulated 95 % interval" in table


# --- the command line -------------------------------------------------------------------------


def test_simulate_with_ensemble_writes_band_plot_and_says_its_source(tmp_path):
    spec = yaml.safe_load(ITP.read_text(encoding="utf-8"))
    spec["simulation"] = {"days": 10, "output_every_days": 1}
    path = tmp_path / "itp.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    result = runner.invoke(app, ["simulate", str(path), "-o", str(tmp_path / "out"), "--ensemble", "8", "--no-explain"])
    assert result.exit_code == 0, result.output
    assert "parameter uncertainty, median (90 % band) over 8 parameter vectors" in result.output
    import pandas as pd

    table = pd.read_csv(tmp_path / "out" / "itp.csv")
    assert {"platelets_1e9_per_L_param_lower", "platelets_1e9_per_L_param_upper",
            "platelets_1e9_per_L_param_median"} <= set(table.columns)
    assert (table["platelets_1e9_per_L_param_lower"] <= table["platelets_1e9_per_L_param_upper"]).all()
    assert (tmp_path / "out" / "itp.png").stat().st_size > 0


@pytest.mark.parametrize("command", [["simulate", str(ITP)],
                                     ["explain", str(ITP), "--output", "platelets_1e9_per_L", "--day", "7"],
                                     ["validate"]])
@pytest.mark.parametrize("option, value, expected", [
    ("--ensemble", "0", f"from 1 to {u.MAX_SIZE}"),
    ("--ensemble", "-3", f"from 1 to {u.MAX_SIZE}"),
    ("--ensemble", str(u.MAX_SIZE + 1), f"from 1 to {u.MAX_SIZE}"),
    ("--ensemble", "ten", f"from 1 to {u.MAX_SIZE}"),
    ("--ensemble-seed", "-1", "seed >= 0"),
    ("--ensemble-level", "1.5", "[0.5, 1)"),
])
def test_bad_ensemble_options_one_line_exit_2_nothing_written(tmp_path, command, option, value, expected):
    out = tmp_path / "out"
    extra = ["-o", str(out)] if command[0] != "validate" else ["--markdown", str(out / "v.md")]
    args = [*command, *extra, option, value] + (["--ensemble", "5"] if option != "--ensemble" else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and option in lines[0] and expected in lines[0]
    assert value in lines[0]
    assert not out.exists() or not any(out.iterdir())
