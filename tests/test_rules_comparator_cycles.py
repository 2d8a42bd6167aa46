"""Response-guided rules that start another comparator cycle (issue 14): ``on_relapse:
{comparator_cycle: ..., min_interval_days: ...}`` (``ivigsim.trial.rules.ComparatorCycle``).

Each checked against an independent answer:

- a rule whose criterion never holds gives the arm without the rule;
- a rule that always holds, with the minimum interval the cycle's period, gives exactly the
  sessions of the fixed schedule of repeated cycles (a named cycle, and the arm's own part as the
  first cycle), and each patient's course equals one plain ``simulate`` of that fixed schedule;
- the minimum interval and "no cycle while one runs" hold (cycles counted by hand);
- the use columns count the cycles given: inhibitor mg by hand (weight x 10 mg/kg, capped at the
  label's 1200 mg), exchange sessions, litres (Kaplan) and plasma volumes by hand;
- bad input is one line naming the field, exit status 2;
- the example trial runs at small size.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ivigsim.dosing.comparators import EFGARTIGIMOD_MAX_MG
from ivigsim.io.trial_file import parse_trial
from ivigsim.trial.comparators import USE_COLUMNS
from ivigsim.trial.runner import run_trial
from tests.comparator_trial_support import (OUTPUTS, TOL, arm_rows, kaplan_plasma_volume_L, same_course,
                                           refusal_line, run_example_small, simulate_candidate)


DAYS = 84
CYCLE = {"fcrn_inhibitor": {"days": [0, 7, 14, 21]}}
FIXED = {"fcrn_inhibitor": {"days": [0, 7, 14, 21, 28, 35, 42, 49, 56, 63, 70, 77]}}  # a cycle every 28 days
PLEX = {"plasma_exchange": {"days": [0, 2, 4], "plasma_volumes": 1.0, "duration_h": 2}}
ALWAYS, NEVER = "value > 0", "value < 0"  # total IgG is always above 0











def _rule(relapse: str, cycle: str, interval: float, first: float = 0.0) -> dict:
    return {"assess_every_days": 7, "first_visit_day": first, "readout": "igg_total_g_per_L", "relapse": relapse,
            "on_relapse": {"comparator_cycle": cycle, "min_interval_days": interval}}


def _doc(arms: list[dict], size: int = 20) -> dict:
    return {"name": "cycles", "disease": "none", "seed": 14, "size": size,
            "population": {"disease_variability": False,  # heavy patients too: the label's cap bites above 120 kg
                           "covariates": {"weight_kg": {"mean": 105, "sd": 25, "lower": 50, "upper": 160}}},
            "regimens": {"efg cycle": CYCLE, "efg fixed": FIXED, "plex course": PLEX},
            "arms": arms,
            "endpoints": [{"name": "igg_day84", "output": "igg_total_g_per_L", "at_day": DAYS, "summary": "mean"}],
            "simulation": {"days": DAYS, "output_every_days": 1, **TOL},
            "output": {"trajectories": size, "outputs": OUTPUTS}}


ARMS = [
    {"name": "fixed", "regimen": "efg fixed"},
    {"name": "one cycle", "regimen": "efg cycle"},
    {"name": "never", "regimen": "efg cycle", "rules": _rule(NEVER, "fcrn_inhibitor", 28, first=7)},
    {"name": "named", "rules": _rule(ALWAYS, "efg cycle", 28)},  # no regimen: every cycle from the rules
    {"name": "own", "regimen": "efg cycle", "rules": _rule(ALWAYS, "fcrn_inhibitor", 28, first=7)},
    {"name": "interval 35", "rules": _rule(ALWAYS, "efg cycle", 35)},
    {"name": "interval 10", "rules": _rule(ALWAYS, "efg cycle", 10)},  # the running cycle decides
    {"name": "plex", "rules": _rule(ALWAYS, "plex course", 28)},
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cycles") / "out"
    trial = parse_trial(_doc(ARMS))
    result = run_trial(trial, out)
    return trial, result, pd.read_parquet(out / "patients"), pd.read_parquet(out / "trajectories")





def test_a_rule_that_never_holds_gives_the_arm_without_it(run):
    _, _, patients, traj = run
    never, one = arm_rows(patients, "never"), arm_rows(patients, "one cycle")
    assert (never["rule_cycles"] == 0).all() and (never["rule_retreatments"] == 0).all()
    for c in USE_COLUMNS:
        np.testing.assert_array_equal(never[c], one[c])
    assert (never["fcrn_inhibitor_infusions"] == 4).all()
    np.testing.assert_allclose(never["igg_day84"], one["igg_day84"], rtol=1e-7)
    for name in OUTPUTS:
        np.testing.assert_allclose(arm_rows(traj, "never")[name], arm_rows(traj, "one cycle")[name], rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("arm, by_rules", [("named", 3), ("own", 2), ("interval 10", 3)])
@pytest.mark.slow  # 3 s or more (README run under 5 minutes): in CI and with --run-slow
def test_a_rule_that_always_holds_gives_the_fixed_schedule_of_cycles(run, arm, by_rules):
    trial, _, patients, traj = run
    mine, fixed = arm_rows(patients, arm), arm_rows(patients, "fixed")
    assert (mine["rule_cycles"] == by_rules).all() and (mine["rule_retreatments"] == by_rules).all()
    for c in USE_COLUMNS:  # exactly the sessions of the fixed schedule
        np.testing.assert_array_equal(mine[c], fixed[c], err_msg=c)
    np.testing.assert_allclose(mine["igg_day84"], fixed["igg_day84"], rtol=1e-7)
    # The independent check: one plain simulation of the fixed schedule of cycles per patient.
    for patient in (0, 9):
        ds = simulate_candidate(trial, int(mine.loc[patient, "candidate"]), FIXED, DAYS)
        same_course(arm_rows(traj, arm)[lambda d: d["patient"] == patient], ds)


def test_the_minimum_interval_and_a_running_cycle_hold_cycles_back(run):
    _, _, patients, _ = run
    # Visits every 7 days from day 0, the criterion always met. Interval 35: starts on days 0, 35, 70
    # (day 28 too soon); the last cycle's infusions on days 70 and 77 fall in the 84 days.
    mine = arm_rows(patients, "interval 35")
    assert (mine["rule_cycles"] == 3).all()
    assert (mine["fcrn_inhibitor_infusions"] == 4 + 4 + 2).all()
    # Interval 10: a cycle runs to day 21 + 1 h, so the visits on days 14 and 21 start none: 0, 28, 56.
    assert (arm_rows(patients, "interval 10")["fcrn_inhibitor_infusions"] == 12).all()


def test_use_columns_count_the_cycles_given_by_hand(run):
    _, result, patients, _ = run
    mine = arm_rows(patients, "named")
    w = mine["weight_kg"].to_numpy()
    per_infusion = np.minimum(10.0 * w, EFGARTIGIMOD_MAX_MG)  # mg/kg of actual weight, the label's cap
    assert (10.0 * w > EFGARTIGIMOD_MAX_MG).any() and (10.0 * w < EFGARTIGIMOD_MAX_MG).any()
    np.testing.assert_allclose(mine["fcrn_inhibitor_mg_in_trial"], 12 * per_infusion, rtol=1e-12)
    np.testing.assert_allclose(mine["fcrn_inhibitor_mg_per_year"], 12 * per_infusion, rtol=1e-12)
    assert (mine["plex_sessions"] == 0).all() and (mine["scig_doses"] == 0).all()
    plex = arm_rows(patients, "plex")  # three courses of three exchanges: days 0, 28, 56
    assert (plex["rule_cycles"] == 3).all() and (plex["plex_sessions"] == 9).all()
    np.testing.assert_allclose(plex["plex_plasma_volumes"], 9.0, rtol=1e-14)
    epv = np.array([kaplan_plasma_volume_L(x, s) for x, s in zip(plex["weight_kg"], plex["sex"])])
    np.testing.assert_allclose(plex["plex_volume_L"], 9 * epv, rtol=1e-12)
    by_arm = {a["arm"]: a for a in result.summary["arms"]}
    assert by_arm["named"]["ivig_use"]["rules"]["comparator_cycles_per_patient"] == 3
    assert by_arm["never"]["ivig_use"]["rules"]["comparator_cycles_per_patient"] == 0
    assert by_arm["named"]["comparator_use"]["fcrn_inhibitor_mg_in_trial"]["per_patient"]["estimate"] == \
        pytest.approx(np.mean(12 * per_infusion), rel=1e-12)
    parts = by_arm["named"]["comparator_use"]["parts"]
    assert any(p.startswith("rules: on relapse another cycle of efg cycle") for p in parts), parts


def _set(path: list, value):
    def change(d):
        x = d
        for k in path[:-1]:
            x = x[k]
        if value is KeyError:
            x.pop(path[-1])
        else:
            x[path[-1]] = value
    return change


ON = ["arms", 0, "rules", "on_relapse"]


def _maintenance_on_exchanges(d):  # visits every 2 days: a maintenance dose on a later exchange's day
    d["arms"][0]["rules"] |= {"maintenance_g_per_kg": 0.4, "assess_every_days": 2}


def _exchanges_on_the_inhibitor(d):  # a course could start on day 7, over the arm's own infusions
    d["arms"][0]["rules"]["first_visit_day"] = 7


@pytest.mark.parametrize("change, field", [
    (_set([*ON, "comparator_cycle"], "efgartigimod cycle"), "arms.0.rules.on_relapse.comparator_cycle"),
    (_set([*ON, "comparator_cycle"], "plasma_exchange"), "arms.0.rules.on_relapse.comparator_cycle"),
    (_set([*ON, "comparator_cycle"], "ivig"), "arms.0.rules.on_relapse.comparator_cycle"),
    (_set([*ON, "min_interval_days"], 0), "arms.0.rules.on_relapse.min_interval_days"),
    (_set([*ON, "min_interval_days"], -7), "arms.0.rules.on_relapse.min_interval_days"),
    (_set([*ON, "min_interval_days"], KeyError), "arms.0.rules.on_relapse.min_interval_days"),
    (_set([*ON, "dose_g_per_kg"], 1.0), "arms.0.rules.on_relapse"),
    (_set([*ON, "over_days"], 2), "arms.0.rules.on_relapse.over_days"),
    (_maintenance_on_exchanges, "arms.0.rules.on_relapse.comparator_cycle"),
    (_exchanges_on_the_inhibitor, "arms.0.rules.on_relapse.comparator_cycle"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, change, field):
    """Unknown cycle, a part the arm does not give, a regimen with IVIG, interval <= 0 or missing, both
    actions, over_days with a cycle, a cycle that could overlap a maintenance dose or the arm's own
    infusions."""
    # The arm's own regimen gives an inhibitor (days 0-21); its rule repeats a named exchange course
    # from day 28.
    d = _doc([{"name": "a", "regimen": "efg cycle", "rules": _rule(ALWAYS, "plex course", 28, first=28)}])
    d["regimens"]["ivig"] = {"doses": [{"day": 0, "g_per_kg": 1.0}]}
    change(d)
    line = refusal_line(tmp_path, d)
    assert line.split(": ")[1] == field, line


def test_the_example_runs_small():
    """examples/trials-comparators/mg-efgartigimod-cycles-by-qmg.yaml, 20 patients per arm."""
    result = run_example_small("mg-efgartigimod-cycles-by-qmg.yaml")
    p = result.patients
    guided = p[p["arm"] == "efgartigimod, cycles on QMG worsening"]
    # the first cycle as scheduled, then 4 infusions per cycle the rule started (those within the trial)
    assert (guided["fcrn_inhibitor_infusions"] >= 4).all()
    assert (guided["fcrn_inhibitor_infusions"] <= 4 + 4 * guided["rule_cycles"]).all()
    assert (p[p["arm"] == "efgartigimod every 8 weeks"]["fcrn_inhibitor_infusions"] == 16).all()
    assert (p[p["arm"].str.startswith("IVIG")]["fcrn_inhibitor_infusions"] == 0).all()


@pytest.mark.slow  # 4-17 s: in CI and with --run-slow (the README command stays under 5 minutes)
def test_a_named_cycle_of_nipocalimab_runs_on_nipocalimabs_constants(tmp_path):
    """A rule's cycle of a drug with its own constants (nipocalimab): the patients carry them from the
    start (``ivigsim.trial.comparators.path_parameters``), so cycles every 28 days equal one plain
    simulation of the fixed schedule."""
    nipo = {"drug": "nipocalimab", "mg_per_kg": 15}
    doc = _doc([{"name": "named", "rules": _rule(ALWAYS, "nipo cycle", 28)}], size=3)
    doc["regimens"] = {"nipo cycle": {"fcrn_inhibitor": {**nipo, "days": [0, 14]}}}
    trial = parse_trial(doc)
    run_trial(trial, tmp_path / "out")
    patients, traj = pd.read_parquet(tmp_path / "out" / "patients"), pd.read_parquet(tmp_path / "out" / "trajectories")
    mine = arm_rows(patients, "named")
    assert (mine["rule_cycles"] == 3).all() and (mine["fcrn_inhibitor_infusions"] == 6).all()
    fixed = {"fcrn_inhibitor": {**nipo, "days": [0, 14, 28, 42, 56, 70]}}
    for patient in (0, 2):
        ds = simulate_candidate(trial, int(mine.loc[patient, "candidate"]), fixed, DAYS)
        same_course(arm_rows(traj, "named")[lambda d: d["patient"] == patient], ds)
