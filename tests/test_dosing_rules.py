"""Response-guided dosing: decisions at assessment visits (``rules`` on a trial arm).

Checked against independent answers: rules that never fire give the fixed regimen's results;
each patient's trajectory under rules equals a plain ``simulate`` (the NumPy engine, another
solver) of the doses the rules chose, written out as a fixed regimen, and those doses fall on
exactly the visits at which that plain simulation meets the criterion; tapering cuts at the
visits it should for patients forced stable (a relapse criterion nothing meets) and goes back
to the last effective dose on a forced relapse; the patients' numbers do not depend on the
chunk size or the thread count; the grams counted are the doses given; every mistake is one
line naming the field, exit 2. Tests use the core model (``disease: none``; IgG as readout) or
CIDP with criteria chosen from the run itself, so they hold whatever CIDP's parameter values.
"""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from ivigsim.cli import app
from ivigsim.dosing import Dose, Regimen, get_product
from ivigsim.engine.solver import Dopri5
from ivigsim.io.trial_file import parse_trial
from ivigsim.model.library import compiled_model
from ivigsim.population import CounterRNG, draw
from ivigsim.scenario import Scenario
from ivigsim.simulation import simulate
from ivigsim.trial.runner import run_chunk, run_trial, screen_trial

TOL = {"rtol": 1e-9, "atol": 1e-11}


def core_trial(rules: dict | None = None, size: int = 4, days: float = 252, **changes) -> dict:
    """Disease 'none': a maintenance arm of 1 g/kg every 21 days from day 0 under ``rules``."""
    arm = {"name": "rules", "rules": {"assess_every_days": 21, "readout": "igg_total_g_per_L",
                                       "relapse": "value >= 1000", "maintenance_g_per_kg": 1.0, **(rules or {})}}
    doc = {"name": "rules", "disease": "none", "seed": 11, "size": size,
           "regimens": {"fixed": {"maintenance": {"g_per_kg": 1.0, "every_days": 21, "start_day": 0,
                                                  "until_day": days - 1}}},
           "arms": [{"name": "fixed", "regimen": "fixed"}, arm],
           "endpoints": [{"name": "igg_day50", "output": "igg_total_g_per_L", "at_day": 50, "summary": "mean"},
                         {"name": "igg_end", "output": "igg_total_g_per_L", "at_day": days, "summary": "mean"},
                         {"name": "igg_mean", "output": "igg_total_g_per_L", "window": [0, days],
                          "over_window": "mean", "summary": "mean"}],
           "simulation": {"days": days, "output_every_days": 1, **TOL},
           "output": {"trajectories": size, "outputs": ["igg_total_g_per_L"]}}
    doc.update(changes)
    return doc


def doses_of(text: str) -> list[tuple[float, float]]:
    return [(float(d), float(g)) for d, g in (p.split(":") for p in text.split())]


def by_arm(table: pd.DataFrame) -> pd.DataFrame:
    return table.sort_values(["arm", "patient"], kind="stable").reset_index(drop=True)


def arm_rows(table: pd.DataFrame, arm: str) -> pd.DataFrame:
    return table[table["arm"] == arm].reset_index(drop=True)


def test_rules_that_never_fire_give_the_fixed_regimen():
    trial = parse_trial(core_trial({"on_relapse": {"dose_g_per_kg": 2.0, "over_days": 2},
                                    "taper": {"stable_visits": 100, "cut_fraction": 0.5}}))
    table = run_trial(trial).patients
    fixed, ruled = arm_rows(table, "fixed"), arm_rows(table, "rules")
    assert (ruled["rule_relapses"] == 0).all() and (ruled["rule_retreatments"] == 0).all()
    assert (ruled["rule_cuts"] == 0).all() and (ruled["ivig_infusions"] == 12).all()
    # Solved in 12 visit intervals instead of one span: equal to the solver's tolerance.
    for c in ("igg_day50", "igg_end", "igg_mean"):
        np.testing.assert_allclose(ruled[c], fixed[c], rtol=1e-7)
    # The same infusions: the same adverse-event draws and risks, exactly.
    for c in [c for c in table.columns if c.startswith("ae_")]:
        np.testing.assert_array_equal(ruled[c], fixed[c])
    grams = 12 * 1.0 * fixed["dosing_weight_kg"]
    np.testing.assert_allclose(ruled["ivig_g_in_trial"], grams, rtol=1e-14)


def _scenario(model, trial, candidate: int, days: float, doses, disease: str) -> Scenario:
    patients = draw(trial.population, model, CounterRNG(trial.seed), np.array([candidate]))
    params = dict(zip(model.model.parameter_names, patients.parameters[:, 0]))
    regimen = Regimen(tuple(Dose(d, g) for d, g in doses), get_product("generic-10"))
    return Scenario(patient=patients.patient(0), regimen=regimen, disease=disease, days=days, parameters=params,
                    solver=Dopri5(rtol=1e-10, atol=1e-12))


@pytest.mark.slow  # 4-17 s: in CI and with --run-slow (the README command stays under 5 minutes)
def test_doses_fall_where_a_plain_simulation_of_them_meets_the_criterion():
    """On-demand CIDP re-treatment (no maintenance): 1 g/kg whenever INCAT is at or above a level
    at a visit. The level is the median day-0 INCAT of the patients, so some are treated at once
    and some never; the plain simulation of each patient's chosen doses (NumPy engine) must give
    the same trajectory and meet the criterion exactly at the visits with a dose."""
    days = 126.0
    doc = {"name": "on demand", "disease": "cidp", "seed": 5, "size": 8,
           "population": {"parameters": {"incat_baseline": 4.5}, "variability": {"incat_baseline": 0.35},
                          "inclusion": ["incat_score >= 2", "incat_score <= 9"]},
           "arms": [{"name": "none"}],
           "endpoints": [{"name": "incat_0", "output": "incat_score", "at_day": 0, "summary": "median"}],
           "simulation": {"days": days, **TOL}}
    level = float(run_trial(parse_trial(doc)).patients["incat_0"].median())
    doc["arms"] = [{"name": "on demand", "rules": {
        "assess_every_days": 14, "readout": "incat_score", "relapse": f"value >= {level!r}",
        "on_relapse": {"dose_g_per_kg": 1.0}}}]
    doc["output"] = {"trajectories": 8, "outputs": ["incat_score"]}
    trial = parse_trial(doc)
    screening = screen_trial(trial)[0]
    table, traj = run_chunk(trial, 0, trial.size, [screening.candidates])
    model = compiled_model("cidp")
    visits = np.arange(0, days, 14.0)
    treated = 0
    for i, row in table.iterrows():
        doses = doses_of(row["rule_doses"])
        assert row["rule_retreatments"] == len(doses)
        if not doses:
            assert row["incat_0"] < level
            continue
        treated += 1
        ds = simulate(_scenario(model, trial, int(screening.candidates[i]), days, doses, "cidp"))
        t = ds.time.values
        incat = ds["incat_score"].sel(patient=0).values
        mine = traj[traj["patient"] == i]
        np.testing.assert_allclose(np.interp(mine["time_day"], t, incat), mine["incat_score"], rtol=1e-5, atol=1e-6)
        at_visits = incat[np.searchsorted(t, visits)]  # the value at the visit, before its dose
        margin = np.abs(at_visits - level)
        assert (margin > 1e-6).all(), "a visit too close to the threshold to decide independently"
        np.testing.assert_array_equal(visits[at_visits >= level], [d for d, _ in doses])
    assert 0 < treated < len(table)


def test_tapering_cuts_at_the_right_visits_when_forced_stable():
    steps = {"stable_visits": 2, "steps": [0.75, 0.5, 0.25, 0.0], "start_stable": True}
    table = arm_rows(run_trial(parse_trial(core_trial({"taper": steps}))).patients, "rules")
    expected = "0:0.75 21:0.75 42:0.5 63:0.5 84:0.25 105:0.25"
    assert (table["rule_doses"] == expected).all(), table["rule_doses"].tolist()
    assert (table["rule_cuts"] == 4).all() and (table["rule_final_g_per_kg"] == 0).all()
    np.testing.assert_allclose(table["ivig_g_in_trial"], 3.0 * table["dosing_weight_kg"], rtol=1e-14)

    fraction = {"stable_visits": 3, "cut_fraction": 0.5, "floor_g_per_kg": 0.25}
    table = arm_rows(run_trial(parse_trial(core_trial({"taper": fraction}))).patients, "rules")
    expected = " ".join(f"{21 * k}:{g:g}" for k, g in enumerate([1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25,
                                                                 0.25, 0.25, 0.25, 0.25]))
    assert (table["rule_doses"] == expected).all(), table["rule_doses"].tolist()
    assert (table["rule_cuts"] == 2).all() and (table["rule_final_g_per_kg"] == 0.25).all()


def test_a_forced_relapse_goes_back_to_the_last_effective_dose():
    """1 g/kg on day 0, then visits from day 21, tapering at once. Stable first; then the relapse
    level is set between the IgG at the visit of day 147 (after three cuts) and the lowest IgG at
    the visits before, so the first relapse is on day 147, whatever the model's IgG values: the
    dose goes back to the one before the last cut, and stays there."""
    taper = {"stable_visits": 2, "steps": [0.75, 0.5, 0.25, 0.0], "start_stable": True}

    def doc_with(rules: dict, size: int = 3) -> dict:
        doc = core_trial({"taper": taper, "first_visit_day": 21, **rules}, size=size)
        doc["arms"][1]["regimen"] = {"doses": [{"day": 0, "g_per_kg": 1.0}]}
        return doc

    trial = parse_trial(doc_with({}))
    screening = screen_trial(trial)[0]
    table, traj = run_chunk(trial, 0, trial.size, [screening.candidates, screening.candidates])
    stable = "0:1 21:0.75 42:0.75 63:0.5 84:0.5 105:0.25 126:0.25"
    assert (arm_rows(table, "rules")["rule_doses"] == stable).all()
    traj = traj[traj["arm"] == "rules"]
    at = traj.pivot(index="patient", columns="time_day", values="igg_total_g_per_L")
    x = at[np.arange(21, 252, 21.0)].to_numpy()
    earlier = x[:, :6].min(axis=1)
    assert (x[:, 6] < earlier).all()  # IgG falls as the dose is cut
    for i in range(trial.size):  # per patient its own level (a trial each)
        level = float((x[i, 6] + earlier[i]) / 2)
        row = arm_rows(run_trial(parse_trial(doc_with({"relapse": f"value < {level!r}"}))).patients, "rules").iloc[i]
        # Day 147 relapses on 0.25 g/kg (cut on day 105): back to 0.5, the last effective dose, for good.
        expected = stable + " " + " ".join(f"{d}:0.5" for d in range(147, 252, 21))
        assert row["rule_doses"] == expected, row["rule_doses"]
        assert row["rule_relapses"] >= 1 and row["rule_cuts"] == 3 and row["rule_final_g_per_kg"] == 0.5


@pytest.mark.parametrize("chunk", [1, 3])
def test_the_same_patients_whatever_the_chunk_size(chunk):
    doc = core_trial({"relapse": "value < 12", "on_relapse": {"dose_g_per_kg": 2.0, "over_days": 2},
                      "taper": {"stable_visits": 2, "cut_fraction": 0.4}}, size=7, days=168)
    whole = run_trial(parse_trial(doc), chunk_size=7).patients
    cut = run_trial(parse_trial(doc), chunk_size=chunk).patients
    pd.testing.assert_frame_equal(by_arm(whole), by_arm(cut))


def test_serial_and_parallel_kernels_agree():
    """A chunk of 70 runs the kernel in parallel (numba prange), chunks of 10 serially."""
    doc = core_trial({"relapse": "value < 12", "on_relapse": {"dose_g_per_kg": 2.0, "over_days": 2},
                      "taper": {"stable_visits": 2, "cut_fraction": 0.4}}, size=70, days=105)
    doc["output"] = {}
    a = run_trial(parse_trial(doc), chunk_size=70).patients
    b = run_trial(parse_trial(doc), chunk_size=10).patients
    pd.testing.assert_frame_equal(by_arm(a), by_arm(b))


def test_grams_counted_are_the_doses_given():
    doc = core_trial({"relapse": "value < 12", "on_relapse": {"dose_g_per_kg": 2.0, "over_days": 2},
                      "taper": {"stable_visits": 2, "cut_fraction": 0.4}}, size=12, days=168)
    doc["contrasts"] = [{"reference": "fixed", "endpoint": "igg_end"}]
    result = run_trial(parse_trial(doc))
    rows = arm_rows(result.patients, "rules")
    grams = np.array([sum(g for _, g in doses_of(t)) for t in rows["rule_doses"]]) * rows["dosing_weight_kg"]
    np.testing.assert_allclose(rows["ivig_g_in_trial"], grams, rtol=1e-12)
    use = {a["arm"]: a["ivig_use"] for a in result.summary["arms"]}
    assert use["rules"]["grams_per_patient_in_trial"]["estimate"] == pytest.approx(grams.mean(), rel=1e-12)
    assert use["rules"]["grams_per_patient_per_year"]["estimate"] == pytest.approx(grams.mean(), rel=1e-12)
    fixed = arm_rows(result.patients, "fixed")
    fixed_grams = 8 * fixed["dosing_weight_kg"]
    assert use["fixed"]["grams_per_patient_in_trial"]["estimate"] == pytest.approx(fixed_grams.mean(), rel=1e-12)
    contrast = result.summary["ivig_use_contrasts"][0]
    assert contrast["grams_per_patient_in_trial"]["estimate"] == pytest.approx((grams - fixed_grams).mean(), rel=1e-9)
    assert rows["rule_retreatments"].sum() > 0  # the rescue fired: doses differ between patients


BAD = [
    ("interval 0", {"assess_every_days": 0}, "arms.1.rules.assess_every_days: expected a visit interval in days > 0"),
    ("interval negative", {"assess_every_days": -7}, "arms.1.rules.assess_every_days: expected a visit interval"),
    ("unknown readout", {"readout": "platelets"}, "arms.1.rules.readout: expected one of the model's outputs"),
    ("cut fraction above 1", {"taper": {"stable_visits": 2, "cut_fraction": 1.5}},
     "arms.1.rules.taper.cut_fraction: expected a fraction of the current dose in (0, 1]"),
    ("cut fraction 0", {"taper": {"stable_visits": 2, "cut_fraction": 0}},
     "arms.1.rules.taper.cut_fraction: expected a fraction of the current dose in (0, 1]"),
    ("bad relapse", {"relapse": "worse by 1"}, "arms.1.rules.relapse: expected a measure"),
    ("steps not decreasing", {"taper": {"stable_visits": 2, "steps": [0.5, 0.75]}}, "arms.1.rules.taper.steps: expected"),
    ("rescue too big", {"on_relapse": {"dose_g_per_kg": 8}}, "arms.1.rules.on_relapse.dose_g_per_kg: expected"),
]


@pytest.mark.parametrize("rules, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_mistakes_are_one_line_exit_2(tmp_path, rules, message):
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(core_trial(rules)))
    result = CliRunner().invoke(app, ["trial", str(path), "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 2, result.output
    assert result.output.strip().startswith(f"error: {message}"), result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "patients").exists()


def test_fingerprint_changes_with_the_rules_only_when_given():
    a = parse_trial(core_trial())
    b = parse_trial(core_trial({"relapse": "value >= 999"}))
    assert a.fingerprint() != b.fingerprint()
    plain = core_trial()
    plain["arms"] = plain["arms"][:1]
    assert "rules" not in repr(parse_trial(plain).arms[0])
    assert replace(a.arms[1], rules=None) != a.arms[1]
