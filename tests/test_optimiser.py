"""``ivigsim optimise``: the lowest grams per year that keeps a response probability.

The independent answer is a brute force: every candidate written out as its own trial file
(the maintenance dose and interval spelled out as YAML, as a user would), run by
``run_trial`` with the same seed, and the cheapest candidate meeting the target picked by
sorting those runs; grams per year are also worked out by hand from the dose count.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from ivigsim.cli import app
from ivigsim.errors import InputError
from ivigsim.io.trial_file import parse_trial
from ivigsim.trial.optimise import Grid, candidate_trials, choose, optimise
from ivigsim.trial.runner import run_trial

DOSES = (0.4, 1.0)
INTERVALS = (21.0, 28.0)
START = 21.0
ROOT = Path(__file__).resolve().parents[1]
ENDPOINT = "responder_kept_to_week24"


def trial_doc(maintenance: dict | None = None, size: int = 40) -> dict:
    """The ICE population (examples/trials/cidp-ice-2008.yaml), small, for 24 weeks."""
    return {
        "name": "optimiser test", "disease": "cidp", "seed": 5, "size": size,
        "population": {"parameters": {"incat_baseline": 4.5, "cidp_remission": 0.25},
                       "variability": {"incat_baseline": 0.35, "cidp_remission": 1.4},
                       "inclusion": ["incat_score >= 2", "incat_score <= 9"]},
        "regimens": {"template": {"course": {"total_g_per_kg": 2, "days": 2},
                                  "maintenance": maintenance or {"g_per_kg": 1.0, "every_days": 21, "start_day": START,
                                                                 "count": 7}}},
        "arms": [{"name": "placebo"}, {"name": "maintenance", "regimen": "template"}],
        "endpoints": [
            {"name": ENDPOINT, "output": "incat_score", "measure": "change", "window": [42, 168],
             "over_window": "all", "criterion": "<= -1", "summary": "fraction"},
            {"name": "incat_change", "output": "incat_score", "measure": "change", "at_day": 168, "summary": "mean"}],
        "contrasts": [{"reference": "placebo"}],
        "simulation": {"days": 168, "output_every_days": 1},
    }


def run_alone(make_doc, doses, intervals, grams) -> dict:
    """Each candidate run alone from its own trial document (``make_doc(maintenance)``, the
    maintenance spelled out as YAML): (dose, interval) -> (response, grams/yr read by ``grams``
    from the arm's summary, patients)."""
    out = {}
    for dose in doses:
        for interval in intervals:
            doc = make_doc({"g_per_kg": dose, "every_days": interval, "start_day": START, "until_day": 365})
            doc["arms"] = [{"name": "candidate", "regimen": "template"}]
            doc.pop("contrasts")
            result = run_trial(parse_trial(doc))
            arm = result.summary["arms"][0]
            out[dose, interval] = (arm["endpoints"][ENDPOINT]["estimates"]["fraction"], grams(arm), result.patients)
    return out


@pytest.fixture(scope="module")
def brute():
    """Each candidate run alone from its own trial document: (dose, interval) -> (response, grams/yr, patients)."""
    return run_alone(trial_doc, DOSES, INTERVALS, lambda arm: arm["ivig_use"]["grams_per_patient_per_year"]["estimate"])


@pytest.fixture(scope="module")
def by_target(brute):
    """The optimiser at three targets (one run each)."""
    trial = parse_trial(trial_doc())
    responses = sorted({v[0]["estimate"] for v in brute.values()})
    middle = responses[len(responses) // 2]  # met by some candidates, not by the cheapest alone (checked below)
    return {t: optimise(trial, ENDPOINT, t, Grid(DOSES, INTERVALS)) for t in (0.0, middle, 1.0)}, middle


def _pick(brute, target: float, key: str = "estimate"):
    """The brute-force answer: sort by grams per year (then higher response, then longer interval)."""
    meeting = [(g, -r["estimate"], -i, d) for (d, i), (r, g, _) in brute.items() if r[key] >= target]
    return None if not meeting else (min(meeting)[3], -min(meeting)[2])


def test_every_candidate_equals_its_own_trial_run(by_target, brute):
    results, _ = by_target
    for c in results[0.0].candidates:
        response, grams, _ = brute[c.dose_g_per_kg, c.interval_days]
        assert (c.response.estimate, c.response.lower, c.response.upper, c.response.n) == (
            response["estimate"], response["lower"], response["upper"], response["n"])
        assert c.grams_per_year.estimate == pytest.approx(grams, rel=1e-12)


def test_grams_per_year_by_hand(by_target, brute):
    results, _ = by_target
    weights = brute[DOSES[0], INTERVALS[0]][2]["dosing_weight_kg"].to_numpy()
    for c in results[0.0].candidates:
        # Loading 2 g/kg, then a dose on days 21, 21 + interval, ... up to day 365 (all start in the first 365.25 days).
        doses = math.floor((365 - START) / c.interval_days) + 1
        assert c.infusions_per_year == 2 + doses
        assert c.g_per_kg_per_year == pytest.approx(2 + doses * c.dose_g_per_kg, rel=1e-12)
        assert c.grams_per_year.estimate == pytest.approx(weights.mean() * (2 + doses * c.dose_g_per_kg), rel=1e-12)


def test_every_candidate_treats_the_same_virtual_patients(brute):
    tables = [v[2] for v in brute.values()]
    for t in tables[1:]:
        for column in ("candidate", "weight_kg", "height_cm", "dosing_weight_kg"):
            np.testing.assert_array_equal(t[column].to_numpy(), tables[0][column].to_numpy())


def test_chosen_equals_the_brute_force_pick(by_target, brute):
    results, middle = by_target
    cheapest = min(brute, key=lambda k: brute[k][1])
    assert brute[cheapest][0]["estimate"] < middle  # the target is not met by the cheapest: a real choice
    chosen = results[middle].chosen
    assert chosen is not None and (chosen.dose_g_per_kg, chosen.interval_days) == _pick(brute, middle)


def test_conservative_holds_the_lower_bound_to_the_target(by_target, brute):
    results, middle = by_target
    lower = sorted(v[0]["lower"] for v in brute.values())[-1]  # reachable by the lower bound of one candidate at least
    picked = choose(results[0.0].candidates, lower, conservative=True)
    assert picked is not None and (picked.dose_g_per_kg, picked.interval_days) == _pick(brute, lower, "lower")
    assert picked.response.lower >= lower


def test_target_zero_picks_the_cheapest_and_an_unreachable_one_picks_none(by_target, brute):
    results, _ = by_target
    cheapest = min(brute, key=lambda k: brute[k][1])
    assert (results[0.0].chosen.dose_g_per_kg, results[0.0].chosen.interval_days) == cheapest
    assert max(v[0]["estimate"] for v in brute.values()) < 1.0  # not every patient responds to any candidate
    assert results[1.0].chosen is None
    assert "no candidate reaches responder_kept_to_week24 >= 1" in "\n".join(results[1.0].lines())


def test_table_lists_every_candidate_cheapest_first(by_target):
    results, middle = by_target
    table = results[middle].table()
    assert len(table) == len(DOSES) * len(INTERVALS)
    assert table["grams_per_year"].is_monotonic_increasing
    assert table["chosen"].sum() == 1
    assert list(table["meets_target"]) == list(table["response"] >= middle)


def _write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "trial.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _args(path: Path, out: Path, **changes) -> list[str]:
    options = {"--endpoint": ENDPOINT, "--target": "0.2", "--doses": "0.4,1", "--intervals": "21,28"} | changes
    return ["optimise", str(path), "-o", str(out), *[x for kv in options.items() for x in kv]]


def test_cli_writes_table_json_and_figure(tmp_path, by_target, brute):
    _, middle = by_target
    out = tmp_path / "out"
    result = CliRunner().invoke(app, _args(_write(tmp_path, trial_doc()), out, **{"--target": repr(middle)}))
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "candidates.csv")
    row = table[table["chosen"]].iloc[0]
    assert (row["dose_g_per_kg"], row["interval_days"]) == _pick(brute, middle)
    saved = json.loads((out / "optimum.json").read_text())
    assert saved["chosen"]["dose_g_per_kg"] == row["dose_g_per_kg"] and saved["size_per_candidate"] == 40
    assert (out / "response-vs-grams.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "lowest IVIG use meeting the target" in result.output


def test_cli_unreachable_target_exits_1_with_its_table(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, _args(_write(tmp_path, trial_doc()), out, **{"--target": "1"}))
    assert result.exit_code == 1, result.output
    assert "no candidate reaches responder_kept_to_week24 >= 1" in result.output
    assert len(pd.read_csv(out / "candidates.csv")) == 4 and not pd.read_csv(out / "candidates.csv")["chosen"].any()


BAD = [
    ({"--endpoint": "nope"}, "--endpoint: expected an endpoint of this trial with summary fraction"),
    ({"--endpoint": "incat_change"}, "--endpoint: expected an endpoint of this trial with summary fraction"),
    ({"--target": "1.5"}, "--target: expected a response probability from 0 to 1"),
    ({"--target": "-0.1"}, "--target: expected a response probability from 0 to 1"),
    ({"--target": "most"}, "--target: expected a response probability from 0 to 1"),
    ({"--target": "nan"}, "--target: expected a response probability from 0 to 1"),
    ({"--doses": ""}, "--doses: expected a comma-separated list of doses"),
    ({"--doses": "0.4,-1"}, "--doses: expected a comma-separated list of doses per infusion in g/kg from 0.001 to 3"),
    ({"--doses": "0.4,x"}, "--doses: expected a comma-separated list of doses"),
    ({"--doses": "0.4,0.4"}, "--doses: expected each of the doses once"),
    ({"--intervals": " , "}, "--intervals: expected a comma-separated list of intervals"),
    ({"--intervals": "0,21"}, "--intervals: expected a comma-separated list of intervals in days above 0"),
    ({"--intervals": "21,400"}, "--intervals: expected a comma-separated list of intervals in days above 0"),
    ({"--arm": "placebo"}, "--arm: expected an arm whose regimen has exactly one maintenance part"),
    ({"--arm": "other"}, "--arm: expected an arm of this trial (placebo, maintenance)"),
    ({"--size": "0"}, "--size: expected a whole number of patients per candidate >= 1"),
]


@pytest.mark.parametrize("changes, message", BAD, ids=[m.split(":")[0] + "-" + "-".join(c.values()) for c, m in BAD])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, changes, message):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, _args(_write(tmp_path, trial_doc()), out, **changes))
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {message}"), result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not out.exists()


def test_a_trial_without_maintenance_names_the_arm_option():
    doc = trial_doc()
    doc["regimens"]["template"].pop("maintenance")
    with pytest.raises(InputError, match="^--arm: expected a trial with an arm whose regimen has one maintenance"):
        candidate_trials(parse_trial(doc), ENDPOINT, Grid(DOSES, INTERVALS))


def test_a_candidate_the_regimen_cannot_give_is_refused_before_running():
    # 0.005 g/kg every 0.05 days is 0.7 g/kg a week, but 7,300 infusions a year: more than
    # one regimen part may give, named as a candidate.
    with pytest.raises(InputError, match=r"^--doses/--intervals: .* got '0.005 g/kg every 0.05 days'"):
        candidate_trials(parse_trial(trial_doc()), ENDPOINT, Grid((0.005,), (0.05,)))


@pytest.mark.parametrize("doses, intervals, got", [
    ((3.0,), (1.0,), "3 g/kg every 1 days (21 g/kg a week)"),
    ((0.4, 2.0), (7.0, 21.0), "2 g/kg every 7 days (2 g/kg a week)"),
])
def test_a_grid_with_a_candidate_above_a_gram_per_kilogram_a_week_is_refused(doses, intervals, got):
    """Every combination of the grid is run: 3 g/kg every day is a typo, 2 g/kg every week four
    times the highest maintenance the CIDP guidelines allow (1 g/kg every 2 weeks)."""
    with pytest.raises(InputError, match=r"^--doses x --intervals: expected candidates of at most 1 g/kg a week"
                                         rf".* got '{re.escape(got)}'"):
        Grid(doses, intervals)
    assert Grid((2.0, 0.4), (14.0, 21.0)).pairs()[0] == (2.0, 14.0)  # 1 g/kg a week: the limit itself


def test_subgroups_are_left_out_of_the_candidates_and_a_crossover_is_refused():
    """A subgroup by another endpoint (baseline INCAT) refused every candidate, blaming the grid;
    the candidates read the whole population, so subgroups are dropped. A crossover's two periods
    cannot be one candidate's arm: refused naming the design, not a candidate."""
    doc = trial_doc(size=20)
    doc["endpoints"].append({"name": "incat_at_start", "output": "incat_score", "at_day": 0, "summary": "median"})
    doc["subgroups"] = [{"name": "baseline_incat", "by": "incat_at_start", "cut": [4]}]
    trials = candidate_trials(parse_trial(doc), ENDPOINT, Grid((0.4, 1.0), (21.0,)))
    assert [t.subgroups for t in trials] == [(), ()]
    crossover = yaml.safe_load((ROOT / "examples" / "trials" / "cidp-crossover-half-dose.yaml").read_text())
    fraction = next(e["name"] for e in crossover["endpoints"] if e.get("summary") == "fraction")
    with pytest.raises(InputError, match="^design: expected a paired or parallel trial .* got 'crossover'"):
        candidate_trials(parse_trial(crossover, base=ROOT / "examples" / "trials"), fraction, Grid((0.4,), (21.0,)))


def test_a_conditional_endpoint_keeps_its_condition():
    # "kept to week 24 among those improved at week 6": the candidate trials keep the condition too.
    doc = trial_doc(size=30)
    doc["endpoints"] = [
        {"name": "improved_week6", "output": "incat_score", "measure": "change", "at_day": 42, "criterion": "<= -1",
         "summary": "fraction"},
        {"name": "kept_among_improved", "output": "incat_score", "measure": "change", "window": [42, 168],
         "over_window": "all", "criterion": "<= -1", "summary": "fraction", "given": "improved_week6"}]
    doc.pop("contrasts")
    trial = parse_trial(doc)
    result = optimise(trial, "kept_among_improved", 0.0, Grid((1.0,), (21.0,)))
    plain = run_trial(candidate_trials(trial, "improved_week6", Grid((1.0,), (21.0,)))[0]).patients
    assert result.chosen.response.n == int(plain["improved_week6"].sum())  # the denominator: those improved


# -- a subcutaneous maintenance: the candidates vary the SCIG dose and interval ------------------

SCIG_DOSES = (0.1, 0.2)
SCIG_INTERVALS = (7.0, 14.0)


def scig_doc(scig: dict | None = None) -> dict:
    """The same population: 2 g/kg IVIG over 2 days, then weekly subcutaneous IgG from day 21."""
    doc = trial_doc()
    doc["regimens"]["template"] = {"course": {"total_g_per_kg": 2, "days": 2},
                                   "scig": scig or {"g_per_kg": 0.2, "every_days": 7, "start_day": START, "count": 10}}
    return doc


@pytest.mark.slow  # 3 s or more (README run under 5 minutes)
def test_a_scig_maintenance_is_optimised_against_each_candidate_run_alone(tmp_path):
    """Each SCIG candidate written out as its own trial (the subcutaneous dose spelled out as YAML)
    and run alone gives the optimiser's response and IgG per year (IVIG as written plus SCIG, from
    the arm's comparator use); grams by hand from the dose count; the choice is the brute-force
    pick; the CLI says it varied the subcutaneous maintenance."""
    brute = run_alone(scig_doc, SCIG_DOSES, SCIG_INTERVALS,
                      lambda arm: arm["comparator_use"]["igg_g_per_year"]["per_patient"]["estimate"])
    weights = next(iter(brute.values()))[2]["dosing_weight_kg"].to_numpy()
    target = sorted(v[0]["estimate"] for v in brute.values())[2]
    optimum = optimise(parse_trial(scig_doc()), ENDPOINT, target, Grid(SCIG_DOSES, SCIG_INTERVALS))
    for c in optimum.candidates:
        response, grams, _ = brute[c.dose_g_per_kg, c.interval_days]
        assert c.kind == "SCIG" and c.response.estimate == response["estimate"] and c.response.n == response["n"]
        assert c.grams_per_year.estimate == pytest.approx(grams, rel=1e-12)
        doses = math.floor((365 - START) / c.interval_days) + 1  # days 21, 21 + interval, ... up to 365
        assert c.infusions_per_year == 2 + doses
        assert c.g_per_kg_per_year == pytest.approx(2 + doses * c.dose_g_per_kg, rel=1e-12)
        assert c.grams_per_year.estimate == pytest.approx(weights.mean() * (2 + doses * c.dose_g_per_kg), rel=1e-9)
        assert c.dispensed_g_per_year is None and c.cost_per_year is None  # vials and prices are IVIG's
    chosen = optimum.chosen
    assert chosen is not None and (chosen.dose_g_per_kg, chosen.interval_days) == _pick(brute, target)
    assert f"lowest IgG use meeting the target: SCIG {chosen.dose_g_per_kg:g} g/kg every" in "\n".join(optimum.lines())
    out = tmp_path / "out"
    cli = CliRunner().invoke(app, _args(_write(tmp_path, scig_doc()), out, **{
        "--target": repr(target), "--doses": "0.1,0.2", "--intervals": "7,14"}))
    assert cli.exit_code == 0, cli.output
    assert "its subcutaneous IgG maintenance" in cli.output
    assert set(pd.read_csv(out / "candidates.csv")["maintenance"]) == {"SCIG"}


def test_a_scig_candidate_its_part_cannot_give_is_refused_before_running():
    """A candidate every 6 h (a year of it is over 1,000 doses, and each dose lasts 12 h here) is
    refused by the subcutaneous part's own rules, naming the candidate, before any run."""
    doc = scig_doc({"g_per_kg": 0.1, "every_days": 7, "start_day": START, "count": 10, "duration_h": 12})
    with pytest.raises(InputError) as err:
        candidate_trials(parse_trial(doc), ENDPOINT, Grid((0.02,), (7.0, 0.25)))
    assert err.value.field == "--doses/--intervals" and err.value.got == "0.02 g/kg every 0.25 days"
    assert "regimen.scig" in err.value.expected


def test_the_shipped_scig_example_runs_from_the_cli(tmp_path):
    """examples/trials-comparators/cidp-scig-maintenance-optimise.yaml as the docs run it, 30
    patients per candidate and two candidates: every SCIG dose it writes starts in the year."""
    path = ROOT / "examples" / "trials-comparators" / "cidp-scig-maintenance-optimise.yaml"
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["optimise", str(path), "--endpoint", "responder_kept_to_week52", "--target", "0",
                                      "--doses", "0.2", "--intervals", "7,14", "--size", "30", "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "candidates.csv").set_index("interval_days")
    assert list(table["maintenance"]) == ["SCIG", "SCIG"]
    assert table.loc[7.0, "infusions_per_year"] == 2 + 50 and table.loc[14.0, "infusions_per_year"] == 2 + 25
