"""What response-guided dosing gives per patient, counted and read like any other result.

Vials of a rules arm (each patient's own doses, rounded per infusion) against an independent
brute-force count of the doses in ``rule_doses``, and against a fixed arm's count when the rules
never fire; endpoints on the rule outcomes (``rule_relapses``, grams, ...) against NumPy on the
patient table, in contrasts and subgroups; the streamed summary against the whole table's; such
an endpoint in a trial without rules refused in one line.
"""

import itertools
import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from ivigsim.cli import app
from ivigsim.io.trial_file import parse_trial
from ivigsim.trial.runner import read_patients, run_trial, screen_trial, summarise, summarise_files, summary_columns
from tests.test_dosing_rules import arm_rows, core_trial, doses_of

SIZES = (5.0, 10.0, 20.0)
PRICE = 60.0
#: Rules that fire: a rescue below 12 g/L and a taper by 40 % a cut (doses such as 0.216 g/kg).
FIRING = {"relapse": "value < 12", "on_relapse": {"dose_g_per_kg": 2.0, "over_days": 2},
          "taper": {"stable_visits": 2, "cut_fraction": 0.4}}
ENDPOINTS = [{"name": "relapsed", "output": "rule_relapses", "criterion": ">= 1", "summary": "fraction"},
             {"name": "retreatments", "output": "rule_retreatments", "summary": "mean"},
             {"name": "final_dose", "output": "rule_final_g_per_kg", "summary": "median"},
             {"name": "grams_per_year", "output": "ivig_g_per_year", "summary": "mean"}]


def _fewest_vials(dose: float, rounding: str) -> tuple[int, ...]:
    """Every combination of whole vials: the total by the rule, then the fewest vials."""
    best = None
    for counts in itertools.product(*(range(int(dose // s) + 3) for s in SIZES)):
        total = sum(c * s for c, s in zip(counts, SIZES))
        if total == 0 or (rounding == "up" and total < dose - 1e-9):
            continue
        key = (total - dose if rounding == "up" else (abs(total - dose), -total), sum(counts))
        if best is None or key < best[0]:
            best = (key, counts)
    return best[1]


def _trial(rules: dict, rounding: str = "up", size: int = 10, days: float = 168, **changes):
    doc = core_trial(rules, size=size, days=days, **changes)
    doc["stewardship"] = {"vial_sizes_g": list(SIZES), "vial_rounding": rounding, "price_per_g": PRICE}
    return doc


@pytest.mark.parametrize("rounding", ["up", "nearest"])
def test_vials_of_a_rules_arm_are_a_brute_force_count_of_its_doses(rounding):
    result = run_trial(parse_trial(_trial(FIRING, rounding)))
    rows = arm_rows(result.patients, "rules")
    assert rows["rule_retreatments"].sum() > 0 and rows["rule_cuts"].sum() > 0  # doses differ between patients
    per_size = np.zeros(len(SIZES), dtype=int)
    for text, weight in zip(rows["rule_doses"], rows["dosing_weight_kg"]):
        for _, g in doses_of(text):
            per_size += _fewest_vials(g * weight, rounding)
    use = {a["arm"]: a["ivig_use"] for a in result.summary["arms"]}["rules"]
    vials = use["vials"]
    assert vials["total_in_trial"] == dict(zip(("5", "10", "20"), per_size.tolist()))
    dispensed = float(per_size @ np.asarray(SIZES)) / len(rows)
    assert vials["dispensed_g_per_patient_in_trial"] == pytest.approx(dispensed, rel=1e-12)
    assert vials["dispensed_g_per_patient_per_year"] == pytest.approx(dispensed, rel=1e-12)  # a 168-day trial
    if rounding == "up":  # no dose is cut
        assert dispensed >= rows["ivig_g_in_trial"].mean()
    assert use["cost"]["basis"] == "whole vials dispensed"
    assert use["cost"]["per_patient_in_trial"] == pytest.approx(dispensed * PRICE, rel=1e-12)
    assert use["cost"]["total_in_trial"] == pytest.approx(dispensed * PRICE * len(rows), rel=1e-12)
    assert "vials_note" not in use


def test_vials_of_rules_that_never_fire_are_the_fixed_arms():
    never = {"on_relapse": {"dose_g_per_kg": 2.0, "over_days": 2}, "taper": {"stable_visits": 100, "cut_fraction": 0.5}}
    result = run_trial(parse_trial(_trial(never, size=6, days=252)))
    use = {a["arm"]: a["ivig_use"] for a in result.summary["arms"]}
    fixed, ruled = use["fixed"]["vials"], use["rules"]["vials"]
    for key in ("total_in_trial", "per_patient_in_trial", "per_patient_per_year", "sizes_g", "rounding"):
        assert ruled[key] == fixed[key], key
    for key in ("dispensed_g_per_patient_in_trial", "dispensed_g_per_patient_per_year"):
        assert ruled[key] == pytest.approx(fixed[key], rel=1e-13)
    assert use["rules"]["cost"]["per_patient_per_year"] == pytest.approx(use["fixed"]["cost"]["per_patient_per_year"],
                                                                          rel=1e-13)


@pytest.fixture(scope="module")
def outcome_trial():
    doc = _trial(FIRING, size=14)
    doc["arms"].append({"name": "on demand", "rules": {"assess_every_days": 21, "readout": "igg_total_g_per_L",
                                                      "relapse": "value < 12", "on_relapse": {"dose_g_per_kg": 1.0}}})
    doc["endpoints"] += ENDPOINTS
    doc["contrasts"] = [{"arms": ["rules", "on demand"], "endpoint": "relapsed"},
                        {"arms": ["rules", "on demand"], "endpoint": "retreatments"},
                        {"reference": "fixed", "endpoint": "grams_per_year"}]
    doc["subgroups"] = [{"name": "sex", "by": "sex"}]
    return parse_trial(doc)


@pytest.fixture(scope="module")
def outcome_run(outcome_trial, tmp_path_factory):
    out = tmp_path_factory.mktemp("rules-outputs")
    return out, run_trial(outcome_trial, out, chunk_size=5)


def test_endpoints_on_rule_outcomes_are_numpy_on_the_patient_table(outcome_trial, outcome_run):
    out, result = outcome_run
    table = read_patients(out, outcome_trial)
    arms = {a["arm"]: a for a in result.summary["arms"]}
    for name in ("rules", "on demand"):
        rows = arm_rows(table, name)
        relapsed = rows["rule_relapses"].to_numpy() >= 1
        est = arms[name]["endpoints"]["relapsed"]["estimates"]["fraction"]
        assert est["n"] == len(rows) and est["estimate"] == pytest.approx(relapsed.mean(), rel=1e-15)
        est = arms[name]["endpoints"]["retreatments"]["estimates"]["mean"]
        assert est["estimate"] == pytest.approx(rows["rule_retreatments"].mean(), rel=1e-15)
        assert arms[name]["endpoints"]["grams_per_year"]["estimates"]["mean"]["estimate"] == pytest.approx(
            rows["ivig_g_per_year"].mean(), rel=1e-14)
        for stratum in arms[name]["subgroups"][0]["strata"]:
            female = stratum["stratum"].endswith("female")
            part = relapsed[(rows["sex"] == "female").to_numpy() == female]
            got = stratum["endpoints"]["relapsed"]["fraction"]
            assert got["n"] == part.size and got["estimate"] == pytest.approx(part.mean(), rel=1e-15)
    median = arms["rules"]["endpoints"]["final_dose"]["estimates"]["median"]["estimate"]
    assert median == pytest.approx(np.median(arm_rows(table, "rules")["rule_final_g_per_kg"]), rel=1e-15)
    # An arm without rules: grams of its regimen as written, nothing decided (n = 0, not 0).
    fixed = arm_rows(table, "fixed")
    assert arms["fixed"]["endpoints"]["relapsed"]["estimates"]["fraction"]["n"] == 0
    np.testing.assert_allclose(fixed["grams_per_year"], 8 * fixed["dosing_weight_kg"], rtol=1e-14)
    # Contrasts: paired, on the per-patient values.
    a, b = (arm_rows(table, n)["rule_relapses"].to_numpy() >= 1 for n in ("rules", "on demand"))
    by = {(c["endpoint"], c["arm"], c["reference"]): c for c in result.summary["contrasts"]}
    rd = by[("relapsed", "rules", "on demand")]["estimates"]["risk_difference"]
    assert rd["estimate"] == pytest.approx(a.mean() - b.mean(), abs=1e-15) and rd["n"] == len(a)
    md = by[("retreatments", "rules", "on demand")]["estimates"]["mean_difference"]
    diff = arm_rows(table, "rules")["rule_retreatments"].to_numpy() - arm_rows(table, "on demand")[
        "rule_retreatments"].to_numpy()
    assert md["estimate"] == pytest.approx(diff.mean(), abs=1e-12)
    grams = by[("grams_per_year", "rules", "fixed")]["estimates"]["mean_difference"]
    use = next(c for c in result.summary["ivig_use_contrasts"] if (c["arm"], c["reference"]) == ("rules", "fixed"))
    for k in ("estimate", "lower", "upper"):  # the IVIG-use table's grams contrast, the same numbers
        assert grams[k] == pytest.approx(use["grams_per_patient_per_year"][k], rel=1e-12)


@pytest.mark.parametrize("buffer_bytes", [None, 1])
def test_streamed_summary_equals_the_whole_table_summary(outcome_trial, outcome_run, buffer_bytes):
    out, result = outcome_run
    files = sorted((out / "patients").glob("chunk-*.parquet"))
    assert len(files) == 3
    whole = summarise(outcome_trial, read_patients(out, outcome_trial, summary_columns(outcome_trial)),
                      screen_trial(outcome_trial))
    assert "vials" in whole["arms"][1]["ivig_use"] and "vials" in whole["arms"][2]["ivig_use"]
    streamed = (result.summary if buffer_bytes is None else
                summarise_files(outcome_trial, files, screen_trial(outcome_trial), buffer_bytes=buffer_bytes))
    assert json.dumps(streamed) == json.dumps(whole)


def test_the_doses_read_back_exactly():
    """``rule_doses`` is counted from its text: each dose reads back to the float given."""
    from ivigsim.trial.rules import _exact, parse_doses

    values = [1.0, 0.6, 0.6 * 0.6 * 0.6 * 0.6, 1 / 3, 21.0, 105.5, 1e-3]
    assert [float(_exact(x)) for x in values] == values
    counts, days, g = parse_doses(["0:1 21:0.6", float("nan"), "", f"42:{_exact(1 / 3)}"])
    assert counts.tolist() == [2, 0, 0, 1] and days.tolist() == [0, 21, 42] and g.tolist() == [1, 0.6, 1 / 3]


BAD = [
    ("no rules", {"name": "relapsed", "output": "rule_relapses", "criterion": ">= 1", "summary": "fraction"}, False,
     "endpoints.3.output: expected an arm under rules for rule_relapses"),
    ("grams, no rules", {"name": "grams", "output": "ivig_g_per_year", "summary": "mean"}, False,
     "endpoints.3.output: expected an arm under rules for ivig_g_per_year"),
    ("time to event", {"name": "t", "output": "rule_cuts", "criterion": ">= 1", "summary": "time_to_event"}, True,
     "endpoints.3.summary: expected fraction, mean, median or quantile for rule_cuts"),
    ("a day", {"name": "t", "output": "rule_relapses", "at_day": 10, "summary": "mean"}, True,
     "endpoints.3: expected no at_day, window, measure or also for rule_relapses"),
]


@pytest.mark.parametrize("endpoint, rules, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_mistakes_are_one_line_exit_2(tmp_path, endpoint, rules, message):
    doc = core_trial(FIRING)
    if not rules:
        doc["arms"] = doc["arms"][:1]
    doc["endpoints"] = [*doc["endpoints"], endpoint]
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = CliRunner().invoke(app, ["trial", str(path), "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 2, result.output
    assert result.output.strip().startswith(f"error: {message}"), result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "patients").exists()


def test_no_vial_sizes_no_vials_and_cost_of_grams_given():
    doc = core_trial(FIRING, size=3, days=84)
    doc["stewardship"] = {"price_per_g": PRICE}
    result = run_trial(parse_trial(doc))
    use = {a["arm"]: a["ivig_use"] for a in result.summary["arms"]}["rules"]
    assert "vials" not in use and use["cost"]["basis"] == "grams given"
    grams = arm_rows(result.patients, "rules")["ivig_g_in_trial"]
    assert use["cost"]["total_in_trial"] == pytest.approx(grams.sum() * PRICE, rel=1e-14)
