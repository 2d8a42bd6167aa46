"""Every scenario file shipped in ``examples/`` runs through the CLI (BRIEF s.6; STYLE 13).

Each example is simulated once, in-process, with ``ivigsim simulate FILE -o DIR``;
the tests then read what it wrote. Besides "it ran", the results are checked against
numbers worked out by hand from the file (grams infused, infusion rates), so an example
that silently stops meaning what its comments say fails here.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ivigsim.cli import DEMO, app
from ivigsim.io.scenario_file import load_scenario

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = ROOT / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.yaml"))
OUTPUTS_DOC = ROOT / "docs" / "outputs.md"

#: The examples the project promises (README, BRIEF): deleting one is a failure, not a skip.
REQUIRED = {
    "itp-standard",
    "gbs-5-day-course",
    "kawasaki-child",
    "cidp-maintenance",
    "obese-adjusted-weight",
    "healthy-0.2-g-per-kg",
    "fcrn-saturation-off",
}

#: Columns every results table has, whatever the model grows (docs/outputs.md).
CORE_COLUMNS = [
    "patient",
    "time_day",
    "igg_total_g_per_L",
    "igg_ivig_g_per_L",
    "igg_endogenous_g_per_L",
    "autoantibody_fraction_of_baseline",
    "fcrn_rescue_fraction",
    "ivig_central_g",
    "ivig_peripheral_g",
    "ivig_catabolised_g",
    "ivig_infusion_g_per_day",
]

LB_KG = 0.45359237  # exact, by definition of the pound


def _devine_adjusted_kg(weight_kg: float, height_cm: float, female: bool) -> float:
    """NBA adjusted weight, written out independently of ivigsim.dosing.weight."""
    ideal = (45.5 if female else 50.0) + 2.3 * (height_cm / 2.54 - 60.0)
    return ideal + 0.4 * (weight_kg - ideal) if weight_kg > ideal else weight_kg


#: Grams of IgG each example infuses, worked out by hand from its file.
EXPECTED_INFUSED_G = {
    "itp-standard": 2.0 * 70,  # 1 g/kg x 2 days, 70 kg
    "gbs-5-day-course": 2.0 * 80,  # 0.4 g/kg x 5 days, 80 kg
    "kawasaki-child": 2.0 * 20,  # 2 g/kg once, 20 kg
    "cidp-maintenance": (2.0 + 8 * 1.0) * 75,  # loading 2 g/kg + 8 x 1 g/kg, 75 kg
    "obese-adjusted-weight": 2.0 * _devine_adjusted_kg(286 * LB_KG, 165.0, female=True),  # ~172 g
    "healthy-0.2-g-per-kg": 0.2 * 75,
    "fcrn-saturation-off": 2.0 * 80,  # standard gbs, 80 kg
    "pid-replacement": 6 * 0.4 * 62,  # days 0, 28, ..., 140
    "safety-cidp-at-risk": (2.0 + 8 * 1.0) * 75,  # the CIDP example with risk factors
    "gbs-plasma-exchange": 2.0 * 80,
    "itp-childhood-acute": 0.8 * 20,  # a single 0.8 g/kg (TIKI), 20 kg  # 0.4 g/kg x 5 days from day 10, 80 kg; the exchanges before remove no IVIG
}


def _documented_outputs() -> list[str]:
    """Output names listed in the generated table of docs/outputs.md."""
    text = OUTPUTS_DOC.read_text(encoding="utf-8")
    block = text.split("<!-- BEGIN generated:outputs -->")[1].split("<!-- END generated:outputs -->")[0]
    return re.findall(r"^\| `([A-Za-z0-9_]+)` \|", block, flags=re.MULTILINE)


class Run:
    def __init__(self, path: Path, out: Path, result):
        self.path, self.out, self.result = path, out, result
        self.csv = out / f"{path.stem}.csv"
        self.png = out / f"{path.stem}.png"
        self._table = None

    @property
    def table(self) -> pd.DataFrame:
        if self._table is None:
            self._table = pd.read_csv(self.csv)
        return self._table


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Run]:
    """Simulate every example once through the CLI; tests share what it wrote."""
    runner = CliRunner()
    done = {}
    for path in EXAMPLES:
        out = tmp_path_factory.mktemp(path.stem) / "out"
        result = runner.invoke(app, ["simulate", str(path), "-o", str(out)])
        done[path.stem] = Run(path, out, result)
    return done


def _ok(run: Run) -> Run:
    r = run.result
    assert r.exit_code == 0, f"{run.path.name}: exit {r.exit_code}\nstderr: {r.stderr}\nexception: {r.exception!r}"
    return run


def test_the_promised_examples_are_shipped():
    assert REQUIRED <= {p.stem for p in EXAMPLES}, sorted(REQUIRED - {p.stem for p in EXAMPLES})


def test_every_example_has_a_hand_computed_dose():
    """A new example must say here how many grams it gives (an independent check)."""
    assert {p.stem for p in EXAMPLES} <= set(EXPECTED_INFUSED_G)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs_and_writes_csv_and_png(runs, path):
    run = _ok(runs[path.stem])
    assert run.result.stderr == ""
    assert sorted(p.name for p in run.out.iterdir()) == sorted([run.csv.name, run.png.name])
    assert run.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run.png.stat().st_size > 10_000  # a drawn figure, not an empty canvas
    scenario = load_scenario(path)
    assert scenario.name in run.result.stdout
    assert str(run.csv) in run.result.stdout


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_csv_has_the_documented_columns(runs, path):
    run = _ok(runs[path.stem])
    columns = list(run.table.columns)
    assert len(columns) == len(set(columns))
    missing_core = [c for c in CORE_COLUMNS if c not in columns]
    assert not missing_core
    documented = _documented_outputs()
    assert len(documented) >= 10  # the table was found and parsed
    assert not set(documented) - set(columns), "outputs listed in docs/outputs.md are missing from the CSV"
    doc = OUTPUTS_DOC.read_text(encoding="utf-8")
    undocumented = [c for c in columns if c != "patient" and f"`{c}`" not in doc]
    assert not undocumented, "CSV columns not listed in docs/outputs.md (BRIEF s.6)"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_csv_values_are_finite_on_the_requested_grid(runs, path):
    run = _ok(runs[path.stem])
    table = run.table
    numeric = table.select_dtypes("number")
    assert list(numeric.columns) == list(table.columns)  # nothing came out as text
    assert np.isfinite(numeric.to_numpy()).all()
    assert (table["patient"] == 0).all()

    scenario = load_scenario(path)
    t = table["time_day"].to_numpy()
    n = math.floor(scenario.days / scenario.output_every_days + 1e-9)
    grid = np.append(np.arange(n + 1) * scenario.output_every_days, scenario.days)
    assert np.all(np.isclose(grid[:, None], t[None, :], rtol=0, atol=1e-6).any(axis=1))  # the whole grid
    assert t[0] == 0.0 and np.all(np.diff(t) > 0)
    assert t[-1] == pytest.approx(scenario.days, rel=1e-9)
    # (atol: the CSV keeps 10 significant digits.) Besides the grid, only the infusions' starts and ends (where the peaks and troughs are).
    plan = scenario.regimen.compile(scenario.patient, scenario.indication)
    edges = np.array([e for inf in plan.infusions if inf.end_day <= scenario.days for e in (inf.start_day, inf.end_day)])
    extra = t[~np.isclose(t[:, None], grid[None, :], rtol=0, atol=1e-6).any(axis=1)]
    assert np.isclose(extra[:, None], edges[None, :], rtol=0, atol=1e-6).any(axis=1).all()

    for name in ("igg_total_g_per_L", "igg_ivig_g_per_L", "igg_endogenous_g_per_L", "ivig_catabolised_g"):
        assert (table[name] >= -1e-9).all(), name
    assert (table["igg_total_g_per_L"] >= table["igg_ivig_g_per_L"]).all()
    assert (table["fcrn_rescue_fraction"].between(0, 1)).all()
    # Every example treats: IgG rises well above where it started.
    assert table["igg_total_g_per_L"].max() > 1.2 * table["igg_total_g_per_L"].iloc[0]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_infuses_the_hand_computed_amount(runs, path):
    """Mass balance: IVIG in plasma + tissue + degraded at the end = the grams prescribed."""
    run = _ok(runs[path.stem])
    last = run.table.iloc[-1]
    infused = last["ivig_central_g"] + last["ivig_peripheral_g"] + last["ivig_catabolised_g"]
    assert infused == pytest.approx(EXPECTED_INFUSED_G[path.stem], rel=1e-4)
    assert f"IVIG infused: {EXPECTED_INFUSED_G[path.stem]:.1f} g" in run.result.stdout


# -- what particular examples are there to show ------------------------------------


def test_kawasaki_runs_at_a_constant_rate_for_eleven_hours(runs):
    table = _ok(runs["kawasaki-child"]).table
    t, rate = table["time_day"].to_numpy(), table["ivig_infusion_g_per_day"].to_numpy()
    end = 11.0 / 24.0
    expected = 2.0 * 20 / end  # 40 g over 11 h = 87.3 g/day (3.03 mg/kg/min)
    during, after = t < end - 1e-6, t > end + 1e-6
    assert during.sum() == 11  # hourly output: hours 0..10
    np.testing.assert_allclose(rate[during], expected, rtol=1e-9)
    assert (rate[after] == 0).all()


def test_itp_starts_at_nine_and_is_capped_at_privigens_itp_rate(runs):
    """Privigen in ITP: at most 4 mg/kg/min; infusions start at 09:00 (start_hour)."""
    table = _ok(runs["itp-standard"]).table.set_index("time_day")
    rate = table["ivig_infusion_g_per_day"]
    cap = 4.0 * 70 * 1440 / 1000  # 4 mg/kg/min x 70 kg in g/day = 403.2
    assert rate.max() <= cap * (1 + 1e-9)
    assert rate[0.25] == 0  # 06:00 on day 0: not started yet
    # 12:00, three hours in: the label titration (0.5, 1, 2 mg/kg/min for 30 min each)
    # has reached the 4 mg/kg/min cap, and 1 g/kg takes 5.2 h at these rates.
    assert rate[0.5] == pytest.approx(cap, rel=1e-9)
    assert rate[1.5] == pytest.approx(cap, rel=1e-9)  # day 1, same time
    assert rate[2.5] == 0


def test_healthy_volunteer_starts_at_the_baseline_given_in_parameters(runs):
    table = _ok(runs["healthy-0.2-g-per-kg"]).table
    assert table["igg_total_g_per_L"].iloc[0] == pytest.approx(10.7, rel=1e-9)
    assert load_scenario(runs["healthy-0.2-g-per-kg"].path).indication is None


def test_fcrn_saturation_off_leaves_the_patients_own_igg_alone(runs):
    """Same course as the GBS example; only the switch differs (README, docs/model.md)."""
    off = _ok(runs["fcrn-saturation-off"]).table["igg_endogenous_g_per_L"]
    on = _ok(runs["gbs-5-day-course"]).table["igg_endogenous_g_per_L"]
    assert off.min() / off.iloc[0] > 0.999
    assert on.min() / on.iloc[0] < 0.9
    assert on.iloc[0] == pytest.approx(off.iloc[0], rel=1e-12)


def test_obese_example_doses_on_adjusted_not_actual_weight(runs):
    run = _ok(runs["obese-adjusted-weight"])
    last = run.table.iloc[-1]
    infused = last["ivig_central_g"] + last["ivig_peripheral_g"] + last["ivig_catabolised_g"]
    actual = 2.0 * 286 * LB_KG
    assert infused < 0.7 * actual  # 172 g rather than 259 g


def test_pid_trough_rises_above_the_low_baseline(runs):
    table = _ok(runs["pid-replacement"]).table.set_index("time_day")["igg_total_g_per_L"]
    assert table[0.0] == pytest.approx(3.0, rel=1e-9)
    # Trough just before the last dose (day 140) is above the ~5 g/L replacement target.
    assert table[139.0] > 5.0


# -- the built-in demo ------------------------------------------------------------


def test_demo_runs_end_to_end(tmp_path):
    out = tmp_path / "demo-out"
    result = CliRunner().invoke(app, ["demo", "-o", str(out)])
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert sorted(p.name for p in out.iterdir()) == ["demo.csv", "demo.png"]
    assert "standard: itp" in result.stdout  # the scenario is shown before it runs
    assert "IVIG infused: 140.0 g" in result.stdout  # 2 g/kg x 70 kg
    table = pd.read_csv(out / "demo.csv")
    assert set(CORE_COLUMNS) <= set(table.columns)
    assert np.isfinite(table.select_dtypes("number").to_numpy()).all()
    assert table["time_day"].iloc[-1] == pytest.approx(load_scenario(DEMO).days, rel=1e-12)
