"""Comparators in the trial designs (issue 14 item 4): a run-in, response-guided rules, a crossover.

Each checked against an independent answer:

- run-in: a patient's course (run-in regimen, then the arm's, from randomisation) equals one plain
  ``simulate`` of the two regimens in sequence on the comparator model (the NumPy engine, the
  regimen compiled for the patient), a comparator in the run-in and in an arm; the run-in's use is
  counted by hand (Kaplan's plasma volume) and as the run-in's, not the arms';
- rules: an arm whose rule never fires equals the same arm without rules; a rule that always fires
  gives its doses (the use columns by hand), and the patient's course equals a plain ``simulate`` of
  the comparator parts with every IVIG dose the rules gave;
- crossover: period 1 equals the parallel-arm (paired) run of the same patients; period 2 equals one
  plain ``simulate`` of the two regimens in sequence; use columns per period by hand;
- the same numbers whatever the chunk size; what stays unsupported is one line, exit status 2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ivigsim.io.trial_file import parse_trial
from ivigsim.trial.runner import run_trial
from tests.comparator_trial_support import (OUTPUTS, TOL, arm_rows, kaplan_plasma_volume_L, same_course,
                                           refusal_line, run_example_small, simulate_candidate)

PLEX = {"days": [0, 2, 4], "plasma_volumes": 1.0, "duration_h": 2}
SCIG = {"g_per_kg": 0.1, "every_days": 7, "count": 4}


def _doc(**extra) -> dict:
    doc = {"name": "designs", "disease": "none", "seed": 11, "size": 20,
           "population": {"disease_variability": False},
           "endpoints": [{"name": "igg_day14", "output": "igg_total_g_per_L", "at_day": 14, "summary": "mean"},
                         {"name": "igg_day28", "output": "igg_total_g_per_L", "at_day": 28, "summary": "mean"}],
           "simulation": {"days": 28, "output_every_days": 1, **TOL},
           "output": {"trajectories": 20, "outputs": OUTPUTS}}
    doc.update(extra)
    return doc














# --- a run-in -------------------------------------------------------------------------------

RUN_IN_DAYS = 21.0


def _run_in_doc(**extra) -> dict:
    """Plasma exchange in the run-in (IgG lowered by >= 10 % on day 6 selects), then SCIG or nothing."""
    return _doc(run_in={"regimen": {"plasma_exchange": PLEX}, "days": RUN_IN_DAYS,
                        "select": [{"output": "igg_total_g_per_L", "measure": "percent_change", "at_day": 6,
                                    "criterion": "<= -10"}]},
                arms=[{"name": "scig", "regimen": {"scig": SCIG}}, {"name": "none"}], **extra)


@pytest.fixture(scope="module")
def run_in_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run-in") / "out"
    # A declared rate for the run-in's exchange (summary-only: no patient's number moves).
    trial = parse_trial(_run_in_doc(comparator_adverse_events={"plex_citrate_reaction": {"probability": 0.05}}))
    result = run_trial(trial, out)
    return trial, result, pd.read_parquet(out / "patients"), pd.read_parquet(out / "trajectories")


def test_run_in_then_comparator_arm_equals_one_simulation_of_both_regimens(run_in_run):
    trial, _, patients, traj = run_in_run
    for arm, whole in (("scig", {"plasma_exchange": PLEX, "scig": {**SCIG, "start_day": RUN_IN_DAYS}}),
                       ("none", {"plasma_exchange": PLEX})):
        for patient in (0, 7):
            row = patients[(patients["arm"] == arm) & (patients["patient"] == patient)].iloc[0]
            ds = simulate_candidate(trial, int(row.candidate), whole, RUN_IN_DAYS + 28)
            mine = traj[(traj["arm"] == arm) & (traj["patient"] == patient)].sort_values("time_day")
            same_course(mine, ds, RUN_IN_DAYS)
            igg = ds["igg_total_g_per_L"].sel(patient=0).values
            assert row.igg_day28 == pytest.approx(igg[np.searchsorted(ds.time.values, RUN_IN_DAYS + 28)], rel=1e-6)
    # the exchange did something, and SCIG raised IgG after randomisation
    by = patients.set_index(["arm", "patient"])
    assert (by.loc["scig", "igg_day28"].to_numpy() > by.loc["none", "igg_day28"].to_numpy()).all()


def test_run_in_use_is_the_run_ins_and_counted_by_hand(run_in_run):
    trial, result, patients, _ = run_in_run
    none = patients[patients["arm"] == "none"].sort_values("patient")
    litres = [3 * kaplan_plasma_volume_L(w, s) for w, s in zip(none["weight_kg"], none["sex"])]
    use = result.summary["run_in"]["arms"][0]["comparator_use"]
    assert use["plex_sessions"]["per_patient"]["estimate"] == 3
    assert use["plex_volume_L"]["per_patient"]["estimate"] == pytest.approx(np.mean(litres), rel=1e-12)
    assert use["plex_volume_L"]["total"] == pytest.approx(np.sum(litres), rel=1e-12)
    assert use["scig_doses"]["total"] == 0
    events = result.summary["run_in"]["arms"][0]["comparator_adverse_events"]["events"]
    assert events["plex_hypotension"]["exposure_per_patient"] == 3
    assert events["plex_hypotension"]["probability"] is None  # none declared: reported only
    # declared: three sessions, each an independent 5 % chance
    assert events["plex_citrate_reaction"]["expected_incidence"]["estimate"] == pytest.approx(1 - 0.95 ** 3)
    assert "citrate reaction 14.3 % of patients (5 % per session, declared" in result.text()
    # the arms count their own regimens from randomisation: no exchange, SCIG by hand
    assert (patients["plex_sessions"] == 0).all() and (patients["plex_volume_L"] == 0).all()
    scig = patients[patients["arm"] == "scig"]
    assert (scig["scig_doses"] == 4).all()
    np.testing.assert_allclose(scig["scig_g_in_trial"], 4 * 0.1 * scig["dosing_weight_kg"], rtol=1e-12)
    assert "run-in comparator use per patient: 3 exchange sessions" in result.text()


def test_run_in_with_comparators_is_the_same_whatever_the_chunk_size():
    trial = parse_trial(_run_in_doc(size=6, design="parallel", output={}))

    def rows(result):
        return result.patients.sort_values(["arm", "patient"], kind="stable").reset_index(drop=True)

    pd.testing.assert_frame_equal(rows(run_trial(trial, chunk_size=6)), rows(run_trial(trial, chunk_size=4)))


# --- response-guided rules ------------------------------------------------------------------

#: Exchanges with donor plasma (two inputs), an IVIG dose, weekly SCIG: every comparator input but one.
RULES_REGIMEN = {"plasma_exchange": {"days": [0, 2], "replacement": "plasma", "duration_h": 2},
                 "doses": [{"day": 4, "g_per_kg": 1.0}], "scig": {"g_per_kg": 0.1, "every_days": 7, "start_day": 7,
                                                                   "count": 3}}
RULE = {"assess_every_days": 14, "first_visit_day": 7, "readout": "igg_total_g_per_L",
        "on_relapse": {"dose_g_per_kg": 0.5, "over_days": 1}}


@pytest.fixture(scope="module")
def rules_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("rules") / "out"
    trial = parse_trial(_doc(regimens={"r": RULES_REGIMEN}, arms=[
        {"name": "fixed", "regimen": "r"},
        {"name": "never", "regimen": "r", "rules": {**RULE, "relapse": "value < 0"}},
        {"name": "always", "regimen": "r", "rules": {**RULE, "relapse": "value > 0"}}]))
    result = run_trial(trial, out)
    return trial, result, pd.read_parquet(out / "patients"), pd.read_parquet(out / "trajectories")





def test_rules_that_never_fire_in_a_comparator_arm_give_the_arm_without_rules(rules_run):
    _, result, patients, traj = rules_run
    fixed, never = arm_rows(patients, "fixed"), arm_rows(patients, "never")
    assert (never["rule_retreatments"] == 0).all() and (never["ivig_infusions"] == 1).all()
    for c in ("igg_day14", "igg_day28"):  # solved visit by visit: equal to the solver's tolerance
        np.testing.assert_allclose(never[c], fixed[c], rtol=1e-7)
    for name in OUTPUTS:
        np.testing.assert_allclose(arm_rows(traj, "never")[name], arm_rows(traj, "fixed")[name], rtol=1e-7, atol=1e-9)
    from ivigsim.trial.comparators import USE_COLUMNS

    for c in [*USE_COLUMNS, *[c for c in patients.columns if c.startswith("ae_")]]:
        np.testing.assert_array_equal(never[c], fixed[c])
    np.testing.assert_allclose(never["ivig_g_in_trial"], 1.0 * fixed["dosing_weight_kg"], rtol=1e-14)


def test_rules_that_fire_give_their_doses_while_the_comparators_run_as_scheduled(rules_run):
    trial, result, patients, traj = rules_run
    always, fixed = arm_rows(patients, "always"), arm_rows(patients, "fixed")
    w = always["dosing_weight_kg"].to_numpy()
    assert list(trial.arms[2].rules.visits(trial.days)) == [7.0, 21.0]
    assert (always["rule_retreatments"] == 2).all() and (always["ivig_infusions"] == 3).all()
    np.testing.assert_allclose(always["ivig_g_in_trial"], (1.0 + 2 * 0.5) * w, rtol=1e-14)
    for c in ("plex_sessions", "plex_volume_L", "scig_doses", "scig_g_in_trial"):  # as scheduled
        np.testing.assert_array_equal(always[c], fixed[c])
    assert (always["plex_sessions"] == 2).all() and (always["scig_doses"] == 3).all()
    by_arm = {a["arm"]: a for a in result.summary["arms"]}
    igg_year = by_arm["always"]["comparator_use"]["igg_g_per_year"]["per_patient"]["estimate"]
    assert igg_year == pytest.approx(np.mean(2.0 * w + always["scig_g_per_year"]), rel=1e-12)  # IVIG given + SCIG
    assert run_trial(trial).summary == result.summary  # summarised in memory or streamed from the files: the same
    # The course: one plain simulation of the comparator parts and every dose the rules gave.
    whole = {**RULES_REGIMEN, "doses": [{"day": 4, "g_per_kg": 1.0}, {"day": 7, "g_per_kg": 0.5},
                                        {"day": 21, "g_per_kg": 0.5}]}
    for patient in (0, 5):
        ds = simulate_candidate(trial, int(always.loc[patient, "candidate"]), whole, 28)
        same_course(arm_rows(traj, "always")[lambda d: d["patient"] == patient], ds, 0.0)



# --- a crossover ----------------------------------------------------------------------------

PERIOD, WASHOUT = 28.0, 7.0
IVIG_ARM = {"maintenance": {"g_per_kg": 0.4, "every_days": 14, "start_day": 0, "count": 2}}
SCIG_ARM = {"scig": SCIG}


def _crossover_doc(**extra) -> dict:
    doc = _doc(design="crossover", periods=[{"days": PERIOD}, {"days": PERIOD}], washout_days=WASHOUT, size=6,
               arms=[{"name": "ivig", "regimen": IVIG_ARM}, {"name": "scig", "regimen": SCIG_ARM}],
               output={"trajectories": 6, "outputs": OUTPUTS}, **extra)
    doc["simulation"] = {"output_every_days": 1, **TOL}
    return doc


@pytest.fixture(scope="module")
def crossover_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("xo") / "out"
    trial = parse_trial(_crossover_doc())
    result = run_trial(trial, out, chunk_size=4)
    return trial, result, pd.read_parquet(out / "patients"), pd.read_parquet(out / "trajectories")


def test_crossover_period_1_equals_the_parallel_arm_run(crossover_run):
    _, _, patients, _ = crossover_run
    doc = _doc(size=6, arms=[{"name": "ivig", "regimen": IVIG_ARM}, {"name": "scig", "regimen": SCIG_ARM}], output={})
    paired = run_trial(parse_trial(doc)).patients.set_index(["arm", "patient"])
    first = patients[patients["period"] == 1]
    assert set(first["arm"]) == {"ivig", "scig"}
    from ivigsim.trial.comparators import USE_COLUMNS

    for row in first.itertuples():
        other = paired.loc[(row.arm, row.patient)]
        assert other.candidate == row.candidate
        for c in ("igg_day14", "igg_day28"):
            assert getattr(row, c) == pytest.approx(other[c], rel=1e-9)
        for c in USE_COLUMNS:
            assert getattr(row, c) == other[c], c


@pytest.mark.slow  # 2 s or more (README run under 5 minutes): in CI and with --run-slow
def test_crossover_period_2_equals_one_simulation_of_both_regimens(crossover_run):
    trial, _, patients, traj = crossover_run
    shifted = {"ivig": {"maintenance": {**IVIG_ARM["maintenance"], "start_day": PERIOD + WASHOUT}},
               "scig": {"scig": {**SCIG, "start_day": PERIOD + WASHOUT}}}
    seen = set()
    for patient in range(4):
        rows = patients[patients["patient"] == patient].sort_values("period")
        first, second = rows["arm"].tolist()
        seen.add(first)
        ds = simulate_candidate(trial, int(rows["candidate"].iloc[0]), {**(IVIG_ARM if first == "ivig" else SCIG_ARM),
                                                                **shifted[second]}, 2 * PERIOD + WASHOUT)
        same_course(traj[traj["patient"] == patient].sort_values("time_day"), ds, 0.0)
        igg, t = ds["igg_total_g_per_L"].sel(patient=0).values, ds.time.values
        row2 = rows[rows["period"] == 2].iloc[0]
        assert row2.igg_day14 == pytest.approx(igg[np.searchsorted(t, PERIOD + WASHOUT + 14)], rel=1e-6)
        scig_row = rows[rows["arm"] == "scig"].iloc[0]  # 4 weekly doses in its period, on the dosing weight
        assert scig_row.scig_doses == 4
        assert scig_row.scig_g_in_trial == pytest.approx(0.4 * scig_row.dosing_weight_kg, rel=1e-12)
        assert rows[rows["arm"] == "ivig"].iloc[0].scig_doses == 0
    assert seen == {"ivig", "scig"}


def test_crossover_with_comparators_is_the_same_whatever_the_chunk_size(crossover_run):
    trial, _, patients, _ = crossover_run
    again = run_trial(trial, chunk_size=6).patients
    key = ["patient", "period"]
    pd.testing.assert_frame_equal(again.sort_values(key).reset_index(drop=True),
                                  patients.sort_values(key).reset_index(drop=True), check_dtype=False)


# --- nipocalimab (its own constants, model parameters) through a run-in and a crossover -----------

#: Shipped with its own constants (model parameters), like a user-defined drug with its kinetics:
#: a patient carries them through the trial (``ivigsim.trial.comparators.path_parameters``).
NIPOCALIMAB = {"drug": "nipocalimab", "days": [0], "mg_per_kg": 30}


def _inhibitor_run_in(tmp_path, inhibitor: dict, size: int):
    """A week's run-in of ``inhibitor``, then SCIG or nothing: the trial, its patients and trajectories."""
    doc = _run_in_doc()
    doc["run_in"]["regimen"] = {"fcrn_inhibitor": inhibitor}
    doc["run_in"]["days"] = 7.0
    doc["size"] = size
    trial = parse_trial(doc)
    run_trial(trial, tmp_path / "out")
    return trial, pd.read_parquet(tmp_path / "out" / "patients"), pd.read_parquet(tmp_path / "out" / "trajectories")


@pytest.mark.slow  # 2 s or more (README run under 5 minutes): in CI and with --run-slow
def test_nipocalimab_in_a_run_in_keeps_its_constants_after_randomisation(tmp_path):
    """The drug given in the run-in is still in the body in the arms: each patient's course equals one
    plain simulation of nipocalimab then the arm's regimen (with efgartigimod's constants, the
    default, the course would differ)."""
    trial, patients, traj = _inhibitor_run_in(tmp_path, NIPOCALIMAB, 6)
    for arm, whole in (("scig", {"fcrn_inhibitor": NIPOCALIMAB, "scig": {**SCIG, "start_day": 7.0}}),
                       ("none", {"fcrn_inhibitor": NIPOCALIMAB})):
        row = patients[(patients["arm"] == arm)].iloc[0]
        ds = simulate_candidate(trial, int(row.candidate), whole, 7.0 + 28)
        same_course(traj[(traj["arm"] == arm) & (traj["patient"] == row.patient)].sort_values("time_day"), ds, 7.0)


@pytest.mark.slow  # 4-17 s: in CI and with --run-slow (the README command stays under 5 minutes)
def test_a_user_defined_drugs_variability_is_each_patients_own_through_run_in_and_arm(tmp_path):
    """A user-defined inhibitor with between-patient CVs, given in the run-in: each patient's course
    equals one plain simulation with that patient's own constants (computed by hand), and differs
    from one with the drug's typical constants."""
    kinetics = {"kd_g_per_L": 0.006, "clearance_70kg_L_per_day": 0.6, "peripheral_volume_L_per_kg": 0.008,
                "distribution_clearance_70kg_L_per_day": 0.24, "target_g_per_L": 0.019,
                "internalisation_per_day": 60.0, "source": "assumption: test",
                "between_patient_cv": {"clearance_70kg_L_per_day": 0.5, "kd_g_per_L": 0.3}}
    drug = {"drug": "drug-x", "days": [0], "mg_per_kg": 20, "kinetics": kinetics}
    trial, patients, traj = _inhibitor_run_in(tmp_path, drug, 4)
    for _, row in patients[patients["arm"] == "none"].iterrows():
        mine = traj[(traj["arm"] == "none") & (traj["patient"] == row.patient)].sort_values("time_day")
        same_course(mine, simulate_candidate(trial, int(row.candidate), {"fcrn_inhibitor": drug}, 7.0 + 28), 7.0)
    typical = {**drug, "kinetics": {k: v for k, v in kinetics.items() if k != "between_patient_cv"}}
    with pytest.raises(AssertionError):
        same_course(mine, simulate_candidate(trial, int(row.candidate), {"fcrn_inhibitor": typical}, 7.0 + 28), 7.0)


@pytest.mark.slow  # 4-17 s: in CI and with --run-slow (the README command stays under 5 minutes)
def test_a_crossover_of_nipocalimab_and_ivig_carries_nipocalimabs_constants_into_the_ivig_period(tmp_path):
    doc = _crossover_doc()
    doc["arms"] = [{"name": "nipo", "regimen": {"fcrn_inhibitor": NIPOCALIMAB}}, {"name": "ivig", "regimen": IVIG_ARM}]
    doc["size"] = doc["output"]["trajectories"] = 4
    trial = parse_trial(doc)
    run_trial(trial, tmp_path / "out")
    patients, traj = pd.read_parquet(tmp_path / "out" / "patients"), pd.read_parquet(tmp_path / "out" / "trajectories")
    second = {"nipo": {"fcrn_inhibitor": {**NIPOCALIMAB, "days": [PERIOD + WASHOUT]}},
              "ivig": {"maintenance": {**IVIG_ARM["maintenance"], "start_day": PERIOD + WASHOUT}}}
    seen = set()
    for patient in range(4):
        rows = patients[patients["patient"] == patient].sort_values("period")
        first, then = rows["arm"].tolist()
        seen.add(first)
        whole = {**({"fcrn_inhibitor": NIPOCALIMAB} if first == "nipo" else IVIG_ARM), **second[then]}
        ds = simulate_candidate(trial, int(rows["candidate"].iloc[0]), whole, 2 * PERIOD + WASHOUT)
        same_course(traj[traj["patient"] == patient].sort_values("time_day"), ds, 0.0)
    assert seen == {"nipo", "ivig"}


# --- what stays unsupported -----------------------------------------------------------------


def _refused_crossover_inhibitor(d):  # two inhibitors' constants would meet in each patient
    d["arms"][0]["regimen"] = {"fcrn_inhibitor": {"days": [0, 7]}}
    d["arms"][1]["regimen"] = {"fcrn_inhibitor": NIPOCALIMAB}


def _refused_run_in_inhibitor(d):  # nipocalimab still in the body when efgartigimod starts
    d["run_in"]["regimen"] = {"fcrn_inhibitor": NIPOCALIMAB}
    d["arms"][0]["regimen"] = {"fcrn_inhibitor": {"days": [0, 7]}}


def _refused_after_run_in_inhibitor(d):
    d["run_in"]["regimen"] = {"fcrn_inhibitor": {"days": [0, 7]}}
    d["arms"][0]["regimen"] = {"fcrn_inhibitor": NIPOCALIMAB}


def _refused_session_at_randomisation(d):
    d["run_in"]["days"] = 4.05  # the third exchange runs on day 4.0-4.083
    d["run_in"]["select"][0]["at_day"] = 3


def _refused_rule_dose_on_an_exchange(d):
    d.pop("run_in")
    d["arms"][0] = {"name": "plex", "regimen": {"plasma_exchange": PLEX},
                    "rules": {**RULE, "first_visit_day": 2, "relapse": "value > 0"}}


def _refused_scig_at_period_end(d):  # the last dose runs from day 27.98 to 28.02
    d["arms"][1]["regimen"] = {"scig": {**SCIG, "start_day": 6, "start_hour": 23.5}}


@pytest.mark.parametrize("doc, change, field", [
    (_crossover_doc, _refused_crossover_inhibitor, "arms.1.regimen.fcrn_inhibitor.drug"),
    (_run_in_doc, _refused_run_in_inhibitor, "arms.0.regimen.fcrn_inhibitor.drug"),
    (_run_in_doc, _refused_after_run_in_inhibitor, "arms.0.regimen.fcrn_inhibitor.drug"),
    (_run_in_doc, _refused_session_at_randomisation, "run_in.days"),
    (_run_in_doc, _refused_rule_dose_on_an_exchange, "arms.0.rules.assess_every_days"),
    (_crossover_doc, _refused_scig_at_period_end, "periods.0.days"),
])
def test_unsupported_combinations_are_one_line_exit_2(tmp_path, doc, change, field):
    d = doc()
    change(d)
    line = refusal_line(tmp_path, d)
    assert line.count(field) >= 1, line


def test_the_example_runs_small():
    """examples/trials-comparators/cidp-path-ivig-run-in-then-scig.yaml, 20 patients per arm."""
    result = run_example_small("cidp-path-ivig-run-in-then-scig.yaml")
    by_arm = {a["arm"]: a for a in result.summary["arms"]}
    assert result.summary["run_in"]["arms"][0]["selected"] == 20
    for name, arm in by_arm.items():
        weekly = arm["comparator_use"]["scig_doses"]["per_patient"]["estimate"]
        assert weekly == (0 if name.startswith("placebo") else 24), name
    ep = "relapse_by_week24"
    placebo = by_arm["placebo (stop IgG)"]["endpoints"][ep]["estimates"]["fraction"]["estimate"]
    assert placebo >= by_arm["SCIG 0.4 g/kg weekly"]["endpoints"][ep]["estimates"]["fraction"]["estimate"]
