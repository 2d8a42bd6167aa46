"""IVIG use per arm: grams per patient (per course and per year), vials and cost, checked
against hand arithmetic from the regimen (the 130-kg patient dosed on actual or adjusted
weight), a brute-force vial count, and bad input refused as one line."""

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ivigsim.cli import app
from ivigsim.errors import InputError
from ivigsim.io.trial_file import parse_trial
from ivigsim.trial.runner import run_trial
from ivigsim.trial.stewardship import Stewardship, VialTable
from tests.test_trial_file import small_trial

PRICE = 60.0  # a price chosen for the test (an input: ivigsim assumes none)
MAINTENANCE = {"g_per_kg": 1.0, "every_days": 21, "start_day": 21, "until_day": 364}


def _doc_130kg(tmp_path) -> dict:
    (tmp_path / "patient.csv").write_text("weight_kg,sex,age_years,height_cm\n130,male,55,170\n")
    regimen = {"course": {"total_g_per_kg": 2, "days": 2}, "maintenance": MAINTENANCE}
    return {
        "name": "130 kg, actual vs adjusted", "seed": 1, "size": 1,
        "population": {"covariates": {"csv": {"path": "patient.csv", "sampling": "resample"}}},
        "regimens": {"actual": {**regimen, "dosing_weight": "actual"}, "adjusted": {**regimen, "dosing_weight": "adjusted"}},
        "arms": [{"name": "actual", "regimen": "actual"}, {"name": "adjusted", "regimen": "adjusted"}],
        "endpoints": [{"name": "igg_d364", "output": "igg_total_g_per_L", "at_day": 364, "summary": "mean"}],
        "contrasts": [{"reference": "actual"}],
        "stewardship": {"price_per_g": PRICE, "currency": "AUD", "vial_sizes_g": [5, 10, 20]},
        "simulation": {"days": 365, "output_every_days": 7},
    }


@pytest.fixture(scope="module")
def run_130kg(tmp_path_factory):
    folder = tmp_path_factory.mktemp("steward")
    path = folder / "trial.yaml"
    path.write_text(json.dumps(_doc_130kg(folder)))
    out = folder / "out"
    result = CliRunner().invoke(app, ["trial", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return json.loads((out / "summary.json").read_text()), out, result.output


def test_grams_per_year_for_130_kg_on_actual_and_adjusted_weight(run_130kg):
    summary, _, _ = run_130kg
    # By hand: Devine ideal weight, man of 170 cm: 50 + 2.3 x (170 / 2.54 - 60) kg; adjusted =
    # ideal + 0.4 x (130 - ideal). Infusions in the first year: 2 of the loading course (1 g/kg
    # each) and maintenance on days 21, 42, ..., 357 (17): 19 g/kg.
    ideal = 50 + 2.3 * (170 / 2.54 - 60)
    adjusted = ideal + 0.4 * (130 - ideal)
    assert adjusted == pytest.approx(91.562, abs=1e-3)
    per_kg_year = 2 + len(range(21, 365, 21))
    assert per_kg_year == 19
    use = {a["arm"]: a["ivig_use"] for a in summary["arms"]}
    assert use["actual"]["dosing_weight"]["kind"] == "actual"
    assert use["adjusted"]["dosing_weight"]["mean_kg"]["estimate"] == pytest.approx(adjusted, rel=1e-12)
    assert use["actual"]["g_per_kg_per_year"] == pytest.approx(19)
    assert use["actual"]["grams_per_patient_per_year"]["estimate"] == pytest.approx(130 * 19, rel=1e-12)  # 2470 g
    assert use["adjusted"]["grams_per_patient_per_year"]["estimate"] == pytest.approx(adjusted * 19, rel=1e-12)  # 1739.7 g
    assert use["actual"]["grams_per_patient_in_trial"]["estimate"] == pytest.approx(2470, rel=1e-12)  # 365 days
    parts = {p["part"]: p["grams_per_patient"]["estimate"] for p in use["adjusted"]["parts"]}
    assert parts == pytest.approx({"course: 2 g/kg over 2 day(s)": 2 * adjusted,
                                   "maintenance dose: 1 g/kg every 21 days": adjusted})
    difference = summary["ivig_use_contrasts"][0]
    assert (difference["arm"], difference["reference"], difference["paired"]) == ("adjusted", "actual", True)
    assert difference["grams_per_patient_per_year"]["estimate"] == pytest.approx((adjusted - 130) * 19)  # -730.3 g
    assert difference["cost_per_patient_per_year"]["estimate"] == pytest.approx((adjusted - 130) * 19 * PRICE)


def test_vials_and_cost_for_130_kg(run_130kg):
    summary, out, printed = run_130kg
    use = {a["arm"]: a["ivig_use"] for a in summary["arms"]}
    # 130 g an infusion = 6 x 20 + 1 x 10 g exactly; 91.56 g rounds up to 95 g = 4 x 20 + 10 + 5.
    assert use["actual"]["vials"]["per_patient_per_year"] == {"5": 0, "10": 19, "20": 114}
    assert use["adjusted"]["vials"]["per_patient_per_year"] == {"5": 19, "10": 19, "20": 76}
    assert use["adjusted"]["vials"]["dispensed_g_per_patient_per_year"] == pytest.approx(95 * 19)
    assert use["actual"]["cost"]["per_patient_per_year"] == pytest.approx(2470 * PRICE)
    assert use["adjusted"]["cost"] == {"price_per_g": PRICE, "currency": "AUD", "basis": "whole vials dispensed",
                                       "per_patient_in_trial": pytest.approx(1805 * PRICE),
                                       "per_patient_per_year": pytest.approx(1805 * PRICE),
                                       "total_in_trial": pytest.approx(1805 * PRICE)}
    table = pd.read_csv(out / "ivig_use.csv")
    assert table.loc[table["arm"] == "adjusted", "grams_per_patient_per_year"].iloc[0] == pytest.approx(
        use["adjusted"]["grams_per_patient_per_year"]["estimate"])
    assert "IVIG use per patient" in printed and "adjusted 91.56 kg" in printed and "1740" in printed


def _brute_force(dose: float, sizes, rounding: str):
    best = None
    for counts in itertools.product(*(range(int(dose // s) + 3) for s in sizes)):
        total = sum(c * s for c, s in zip(counts, sizes))
        if total == 0 or (rounding == "up" and total < dose - 1e-9):
            continue
        key = (total - dose if rounding == "up" else (abs(total - dose), -total), sum(counts))
        if best is None or key < best[0]:
            best = (key, total)
    return best[1]


@pytest.mark.parametrize("rounding", ["up", "nearest"])
def test_vial_counts_match_a_brute_force_search(rounding):
    sizes = (2.5, 5.0, 10.0, 20.0)
    doses = np.array([0.3, 2.5, 7.4, 12.4, 12.5, 44.9, 91.56, 130.0, 61.2])
    table = VialTable(sizes, rounding, float(doses.max()))
    vials = table.vials(doses)
    for dose, counts in zip(doses, vials):
        assert float(counts @ np.asarray(sizes)) == pytest.approx(_brute_force(dose, sizes, rounding)), dose
        assert counts.sum() >= 1


def test_arm_without_ivig_uses_none():
    trial = parse_trial(small_trial(size=5))
    summary = run_trial(trial).summary
    none = summary["arms"][0]["ivig_use"]
    assert none["grams_per_patient_per_year"]["estimate"] == 0 and none["regimen"] == "no IVIG"
    one = summary["arms"][1]["ivig_use"]
    weights = summary["arms"][1]["ivig_use"]["dosing_weight"]["mean_kg"]["estimate"]
    assert one["grams_per_patient_in_trial"]["estimate"] == pytest.approx(weights * 1.0)
    assert "cost" not in one and "vials" not in one  # no price, no vial sizes: no invented numbers


BAD = [
    ({"price_per_g": -5}, "stewardship.price_per_g: expected a price per gram from 0 to 1e+06, got -5"),
    ({"price_per_g": float("nan")}, "stewardship.price_per_g: expected a price per gram"),
    ({"vial_sizes_g": [10, 0]}, "stewardship.vial_sizes_g: expected vial sizes in g from 0.1 to 100"),
    ({"vial_sizes_g": [10, 10]}, "stewardship.vial_sizes_g: expected each vial size once"),
    ({"vial_rounding": "down"}, "stewardship.vial_rounding"),
    ({"currency": "\x1b[31m"}, "stewardship.currency: expected a label"),
]


@pytest.mark.parametrize("stewardship, message", BAD, ids=[b[1][:40] for b in BAD])
def test_bad_stewardship_inputs_name_the_field(stewardship, message):
    with pytest.raises(InputError) as exc:
        parse_trial(small_trial(stewardship=stewardship))
    assert str(exc.value).startswith(message), str(exc.value)


def test_cli_refuses_a_negative_price_in_one_line(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("stewardship: {price_per_g: -60}\n" + "\n".join(
        f"{k}: {json.dumps(v)}" for k, v in small_trial().items()))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["trial", str(path), "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert lines == ["ivigsim: stewardship.price_per_g: expected a price per gram from 0 to 1e+06, got -60.0"] or (
        len(lines) == 1 and "stewardship.price_per_g: expected a price per gram" in lines[0] and "-60" in lines[0])
    assert not out.exists()


def test_library_refuses_a_negative_price():
    with pytest.raises(InputError, match="stewardship.price_per_g"):
        Stewardship(price_per_g=-1.0)
    assert math.isclose(Stewardship(price_per_g=0).price_per_g, 0)
