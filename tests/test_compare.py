"""``ivigsim compare``: one patient under several regimens, side by side.

Every number of the table is checked against an independent path: each scenario simulated
alone by ``simulate`` and summarised by ``summarise`` (the batch saves at the union of the
scenarios' times, so the solver's steps differ: agreement to rtol 1e-5, the Dormand-Prince
solver runs at rtol 1e-6), and the grams against the regimen worked out by hand.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ivigsim.cli import app
from ivigsim.compare import compare
from ivigsim.io.scenario_file import load_scenario, parse_scenario
from ivigsim.model.patient import Patient
from ivigsim.simulation import simulate
from ivigsim.summary import summarise

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
RTOL = 1e-5


def _itp(name: str, regimen: dict, weight: float = 70.0, days: float = 28.0) -> dict:
    return {"name": name, "patient": {"weight_kg": weight, "height_cm": 172, "sex": "female", "age_years": 38},
            "disease": "itp", "parameters": {"platelet_baseline_1e9_per_L": 12}, "regimen": regimen,
            "simulation": {"days": days, "output_every_days": 0.25}}


TWO_DAYS = {"course": {"total_g_per_kg": 2, "days": 2}, "product": "privigen", "start_hour": 9}
ONE_DOSE = {"doses": [{"day": 0, "g_per_kg": 1.0}], "product": "privigen"}
ADJUSTED = {"course": {"total_g_per_kg": 2, "days": 2}, "product": "privigen", "dosing_weight": "adjusted"}


@pytest.fixture(scope="module")
def three():
    scenarios = [parse_scenario(_itp("2 g/kg over 2 days", TWO_DAYS)),
                 parse_scenario(_itp("1 g/kg once", ONE_DOSE)),
                 parse_scenario(_itp("2 g/kg, adjusted weight", ADJUSTED, days=21.0))]
    return scenarios, compare(scenarios)


def test_table_equals_each_scenario_simulated_alone(three):
    scenarios, comparison = three
    assert comparison.engine_calls == 1  # one model, one solver setting: one batch
    for scenario, row, ds in zip(scenarios, comparison.rows, comparison.datasets):
        alone = simulate(scenario)
        s = summarise(alone)
        np.testing.assert_array_equal(ds["time"].values, alone["time"].values)  # its own saved times
        for got, want in ((row.peak_igg_g_per_L, s.peak_igg_g_per_L), (row.trough_igg_g_per_L, s.trough_igg_g_per_L),
                          (row.baseline_igg_g_per_L, s.baseline_igg_g_per_L), (row.infused_g, s.infused_g),
                          (row.readout_best, s.readouts[0].best), (row.readout_final, s.readouts[0].final)):
            assert got == pytest.approx(want, rel=RTOL)
        assert (row.peak_day, row.trough_day, row.readout_best_day) == (s.peak_day, s.trough_day, s.readouts[0].best_day)
        assert [e for e, _ in row.course_risks] == [e for e, _ in s.course_risks]
        np.testing.assert_allclose([p for _, p in row.course_risks], [p for _, p in s.course_risks], rtol=RTOL)
        np.testing.assert_allclose(ds["platelets_1e9_per_L"].values, alone["platelets_1e9_per_L"].values,
                                   rtol=RTOL, atol=1e-6)


def test_grams_and_dosing_weight_by_hand(three):
    _, comparison = three
    two, one, adjusted = comparison.rows
    assert (two.dosing_weight, two.dosing_weight_kg, two.course_g, two.dose_g) == ("actual", 70.0, 140.0, None)
    assert (two.grams_per_year, two.infusions_per_year, two.g_per_kg_per_year) == (140.0, 2, 2.0)
    assert (one.course_g, one.dose_g, one.grams_per_year, one.infusions_per_year) == (None, 70.0, 70.0, 1)
    # Devine ideal weight of a 172-cm woman: 45.5 + 2.3 x (172 / 2.54 - 60); adjusted: + 0.4 x the excess.
    ideal = 45.5 + 2.3 * (172 / 2.54 - 60)
    weight = ideal + 0.4 * (70 - ideal)
    assert adjusted.dosing_weight == "adjusted"
    assert adjusted.dosing_weight_kg == pytest.approx(weight, rel=1e-12)
    assert adjusted.grams_per_year == pytest.approx(2 * weight, rel=1e-12)
    assert adjusted.infused_g == pytest.approx(2 * weight, rel=1e-6)


def test_what_differs_besides_the_regimen_is_said(three):
    _, comparison = three
    assert comparison.notes == ("simulated spans differ: 2 g/kg over 2 days: 28 days; 1 g/kg once: 28 days; "
                                "2 g/kg, adjusted weight: 21 days",)
    heavier = replace(three[0][1], patient=Patient(weight_kg=90.0, height_cm=172, sex="female", age_years=38))
    notes = compare([three[0][0], heavier]).notes
    assert notes[0].startswith("patients differ: ") and "90 kg" in notes[0]


def test_scenarios_on_different_models_are_solved_one_call_each():
    # Plasma exchange runs on the comparator model: a batch of its own.
    scenarios = [load_scenario(EXAMPLES / "gbs-5-day-course.yaml"), load_scenario(EXAMPLES / "gbs-plasma-exchange.yaml")]
    scenarios = [replace(s, days=20.0) for s in scenarios]
    comparison = compare(scenarios)
    assert comparison.engine_calls == 2
    for scenario, row in zip(scenarios, comparison.rows):
        s = summarise(simulate(scenario))
        assert row.peak_igg_g_per_L == pytest.approx(s.peak_igg_g_per_L, rel=1e-9)  # the same path, alone
        assert row.readout_best == pytest.approx(s.readouts[0].best, rel=1e-9)
    assert comparison.rows[1].course_g == pytest.approx(2 * 80)


def _write(tmp_path: Path, name: str, doc: dict) -> Path:
    import yaml

    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return path


def test_cli_writes_the_table_and_the_figure(tmp_path):
    a = _write(tmp_path, "a.yaml", _itp("2 g/kg over 2 days", TWO_DAYS, days=14.0))
    b = _write(tmp_path, "b.yaml", _itp("1 g/kg once", ONE_DOSE, days=14.0))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["compare", str(a), str(b), "-o", str(out), "--figure-format", "svg"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "compare.csv")
    assert list(table["label"]) == ["2 g/kg over 2 days", "1 g/kg once"]
    assert list(table["grams_per_year"]) == [140.0, 70.0]
    alone = summarise(simulate(load_scenario(b)))
    assert table["peak_igg_g_per_L"][1] == pytest.approx(alone.peak_igg_g_per_L, rel=RTOL)
    assert {"risk_headache", "readout_best_day", "dosing_weight_kg"} <= set(table.columns)
    assert (out / "compare.svg").read_text().lstrip().startswith("<?xml")
    assert "grams, first year" in result.output and "platelet count" in result.output
    again = CliRunner().invoke(app, ["compare", str(a), str(b), "-o", str(out), "--figure-format", "svg"])
    assert again.exit_code == 2 and again.output.startswith("error: --out:")


def _one_line(result, start: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {start}"), result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_cli_refusals_are_one_line_and_write_nothing(tmp_path):
    a = _write(tmp_path, "a.yaml", _itp("2 g/kg over 2 days", TWO_DAYS, days=14.0))
    out = tmp_path / "out"
    runner = CliRunner()
    _one_line(runner.invoke(app, ["compare", str(a), "-o", str(out)]), "FILES: expected 2 to 10 scenario files")
    _one_line(runner.invoke(app, ["compare", str(a), str(EXAMPLES / "cidp-maintenance.yaml"), "-o", str(out)]),
              "FILES: expected scenarios of one disease")
    _one_line(runner.invoke(app, ["compare", str(a), str(tmp_path / "missing.yaml"), "-o", str(out)]),
              f"{tmp_path / 'missing.yaml'}: FILE")
    bad = _write(tmp_path, "bad.yaml", _itp("bad", {"course": {"total_g_per_kg": -2, "days": 2}}))
    _one_line(runner.invoke(app, ["compare", str(a), str(bad), "-o", str(out)]), f"{bad}: regimen.course")
    assert not out.exists()


def test_shipped_comparison_runs_and_its_grams_are_the_regimens(tmp_path):
    # examples/compare/ (docs/stewardship.md): a 120-kg, 170-cm woman, 2 g/kg loading, then a year of maintenance.
    files = [EXAMPLES / "compare" / f"cidp-{stem}.yaml" for stem in ("q3w-actual", "q3w-adjusted", "q2w-half-dose")]
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["compare", *map(str, files), "-o", str(out), "--no-plot", "--quiet"])
    assert result.exit_code == 0 and result.output == "", result.output
    table = pd.read_csv(out / "compare.csv").set_index("key")
    ideal = 45.5 + 2.3 * (170 / 2.54 - 60)
    adjusted = ideal + 0.4 * (120 - ideal)
    # q3w: days 0, 1 (1 g/kg each), then 21, 42, ..., 357 (17 doses): 19 g/kg; q2w: 14, ..., 364 (26 x 0.5): 15 g/kg.
    np.testing.assert_allclose(table["grams_per_year"], [120 * 19, adjusted * 19, 120 * 15], rtol=1e-12)
    np.testing.assert_allclose(table["infusions_per_year"], [19, 19, 28])
    np.testing.assert_allclose(table["infused_g"], table["grams_per_year"], rtol=1e-6)  # all given within the year
    assert list(table["dosing_weight"]) == ["actual", "adjusted", "actual"]
    assert not (out / "compare.png").exists()


def _mg(name: str, regimen: dict) -> dict:
    return {"name": name, "patient": {"weight_kg": 70.0, "height_cm": 170, "sex": "male", "age_years": 50},
            "disease": "mg", "regimen": regimen, "simulation": {"days": 56.0, "output_every_days": 0.5}}


def test_comparators_use_is_counted_beside_ivig(tmp_path):
    """IVIG, SCIG, plasma exchange and an FcRn inhibitor side by side: each one's use in its
    first year, worked out by hand (SCIG on the dosing weight, the inhibitor on actual weight,
    sessions counted), and the IgG given (IVIG + SCIG) in grams."""
    docs = [_mg("IVIG 2 g/kg", {"course": {"total_g_per_kg": 2, "days": 5}}),
            _mg("SCIG 0.1 g/kg weekly", {"scig": {"g_per_kg": 0.1, "every_days": 7, "count": 8}}),
            _mg("5 exchanges", {"plasma_exchange": {"days": [0, 2, 4, 6, 8], "plasma_volumes": 1.0}}),
            _mg("efgartigimod", {"fcrn_inhibitor": {"drug": "efgartigimod", "days": [0, 7, 14, 21],
                                                    "mg_per_kg": 10}})]
    paths = [_write(tmp_path, f"{k}.yaml", d) for k, d in enumerate(docs)]
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["compare", *map(str, paths), "-o", str(out), "--figure-format", "svg"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "compare.csv")
    assert list(table["grams_per_year"]) == [140.0, 0.0, 0.0, 0.0]
    assert list(table["scig_grams_per_year"]) == pytest.approx([0.0, 8 * 0.1 * 70, 0.0, 0.0], rel=1e-12)
    assert list(table["igg_grams_per_year"]) == pytest.approx([140.0, 56.0, 0.0, 0.0], rel=1e-12)
    assert list(table["plex_sessions_per_year"]) == [0, 0, 5, 0]
    assert list(table["inhibitor_mg_per_year"]) == pytest.approx([0.0, 0.0, 0.0, 4 * 10 * 70], rel=1e-12)
    for name in ("SCIG grams, first year", "IgG grams (IVIG + SCIG), first year", "plasma exchanges, first year",
                 "FcRn inhibitor mg, first year"):
        assert name in result.output
    alone = summarise(simulate(load_scenario(paths[1])))  # the SCIG arm's IgG, as simulate reads it
    assert table["peak_igg_g_per_L"][1] == pytest.approx(alone.peak_igg_g_per_L, rel=RTOL)


def test_an_ivig_only_comparison_shows_no_comparator_rows(three):
    assert not any("SCIG" in line or "plasma exchanges" in line for line in three[1].lines())
