"""Trial arms that give comparators (issue 14 item 4; ``ivigsim.trial.comparators``).

- a one-patient arm equals ``simulate`` of the same scenario file (independent path: the scenario
  compiles the regimen for the patient and solves with the NumPy engine; the trial compiles IVIG
  per kg, sessions per patient, and solves with the compiled engine), for each comparator;
- an IVIG-only arm on the comparator model equals the same arm on the plain model (the comparator
  modules are inert when unused);
- sessions, litres, grams and mg per patient counted by hand;
- the same patients' numbers whatever the chunk size;
- bad input: one line naming the field, exit status 2.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ivigsim.cli import app
from ivigsim.errors import InputError
from ivigsim.io.scenario_file import parse_scenario
from ivigsim.io.trial_file import parse_trial
from ivigsim.simulation import simulate
from ivigsim.trial.runner import run_trial

#: Both engines run at rtol 1e-6 (the scenario's default and the trial's); their difference after
#: a few hundred steps is of the order of 1e-5 relative, so 1e-4 is a justified bound for
#: "the same patient and regimen".
RTOL = 1e-4

PATIENT = {"weight_kg": 80.0, "height_cm": 170.0, "sex": "female", "age_years": 50.0}

REGIMENS = {
    "plasma_exchange": {"plasma_exchange": {"days": [0, 2, 4], "plasma_volumes": 1.5, "duration_h": 2}},
    "plasma_exchange_then_ivig": {"plasma_exchange": {"days": [0, 2]},
                                  "course": {"total_g_per_kg": 2.0, "days": 2, "start_day": 4}},
    "scig": {"scig": {"g_per_kg": 0.1, "every_days": 7, "count": 60}},
    "fcrn_inhibitor_then_ivig": {"fcrn_inhibitor": {"days": [0, 7, 14, 21]},
                                 "doses": [{"day": 28, "g_per_kg": 1.0}]},
}
DAYS = 42


def _trial_doc(tmp_path, regimens: dict, size: int = 1, patient: dict | None = PATIENT, **extra) -> dict:
    """A trial of ``size`` copies of ``patient`` (a one-row table, resampled), or, with
    ``patient=None``, of the default adult population."""
    population: dict = {"disease_variability": False}
    if patient is not None:
        csv = tmp_path / "patients.csv"
        pd.DataFrame([patient]).to_csv(csv, index=False)
        population["covariates"] = {"csv": {"path": str(csv), "sampling": "resample"}}
    doc = {
        "name": "comparator trial", "disease": "none", "seed": 7, "size": size, "population": population,
        "arms": [{"name": name, "regimen": r} for name, r in regimens.items()],
        "endpoints": [{"name": "igg_day10", "output": "igg_total_g_per_L", "at_day": 10, "summary": "mean"}],
        "simulation": {"days": DAYS, "output_every_days": 1},
        "output": {"trajectories": size, "outputs": ["igg_total_g_per_L"]},
    }
    doc.update(extra)
    return doc


def _run(tmp_path, doc: dict, name: str = "out", chunk_size: int = 4096):
    trial = parse_trial(copy.deepcopy(doc), base=tmp_path)
    out = tmp_path / name
    result = run_trial(trial, out, chunk_size=chunk_size)
    patients = pd.read_parquet(out / "patients")
    trajectories = pd.read_parquet(out / "trajectories")
    return result, patients, trajectories


@pytest.fixture(scope="module")
def one_patient(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("one")
    return _run(tmp_path, _trial_doc(tmp_path, REGIMENS))


@pytest.mark.parametrize("arm", list(REGIMENS))
def test_one_patient_arm_equals_simulate(one_patient, arm):
    _, _, trajectories = one_patient
    scenario = parse_scenario({"patient": PATIENT, "regimen": REGIMENS[arm],
                               "simulation": {"days": DAYS, "output_every_days": 1}})
    ds = simulate(scenario)
    grid = np.arange(DAYS + 1.0)
    expected = ds["igg_total_g_per_L"].sel(time=grid).values[0]
    got = trajectories[trajectories["arm"] == arm].sort_values("time_day")
    assert np.array_equal(got["time_day"].to_numpy(), grid)
    np.testing.assert_allclose(got["igg_total_g_per_L"].to_numpy(), expected, rtol=RTOL)
    # and the comparator did something (not a trivially equal baseline)
    assert np.ptp(expected) > 1.0


def test_ivig_only_arm_is_the_same_on_the_comparator_model(tmp_path):
    ivig = {"IVIG": {"course": {"total_g_per_kg": 2.0, "days": 2}}}
    plain_doc = _trial_doc(tmp_path, {**ivig, "none": None}, size=3, patient=None)
    mixed_doc = _trial_doc(tmp_path, {**ivig, "none": None, **{"plex": REGIMENS["plasma_exchange"]}}, size=3,
                           patient=None)
    plain_doc["arms"][1] = {"name": "none"}
    mixed_doc["arms"][1] = {"name": "none"}
    from ivigsim.trial.comparators import uses_comparators

    plain_trial, mixed_trial = parse_trial(copy.deepcopy(plain_doc), base=tmp_path), parse_trial(
        copy.deepcopy(mixed_doc), base=tmp_path)
    assert not uses_comparators(plain_trial) and uses_comparators(mixed_trial)
    _, p_plain, t_plain = _run(tmp_path, plain_doc, "plain")
    _, p_mixed, t_mixed = _run(tmp_path, mixed_doc, "mixed")
    for arm in ("IVIG", "none"):
        a = t_plain[t_plain["arm"] == arm]["igg_total_g_per_L"].to_numpy()
        b = t_mixed[t_mixed["arm"] == arm]["igg_total_g_per_L"].to_numpy()
        # Inert modules: the two models agree to within the solvers' global error at rtol 1e-6 (a few times
        # the local tolerance over months: each integrates only the states its outputs read, not the same set)
        np.testing.assert_allclose(b, a, rtol=5e-6)
        pa, pb = p_plain[p_plain["arm"] == arm], p_mixed[p_mixed["arm"] == arm]
        for c in [c for c in pa.columns if c.startswith("ae_")] + ["dosing_weight_kg", "candidate"]:
            assert np.array_equal(pa[c].to_numpy(), pb[c].to_numpy()), c  # the same patients, the same draws
    assert "plex_sessions" not in p_plain.columns  # a trial without comparators is as before
    assert (p_mixed[p_mixed["arm"] == "IVIG"]["plex_sessions"] == 0).all()


def test_sessions_litres_grams_and_mg_by_hand(one_patient, tmp_path):
    result, patients, _ = one_patient
    row = patients.set_index("arm")
    # Kaplan, woman of 80 kg, haematocrit 0.40: 0.6 x (864 + 47.2 x 80) mL = 2.784 L; 1.5 volumes a session
    assert row.loc["plasma_exchange", "plex_sessions"] == 3
    assert row.loc["plasma_exchange", "plex_volume_L"] == pytest.approx(3 * 1.5 * 2.784, rel=1e-12)
    assert row.loc["plasma_exchange", "plex_plasma_volumes"] == pytest.approx(4.5)
    # 1.0 volume (default) twice: 2 x 2.784 L
    assert row.loc["plasma_exchange_then_ivig", "plex_volume_L"] == pytest.approx(2 * 2.784, rel=1e-12)
    # SCIG 0.1 g/kg x 80 kg = 8 g weekly: days 0..35 in a 42-day trial (6 doses), days 0..364 in a year (53)
    assert row.loc["scig", "scig_doses"] == 6
    assert row.loc["scig", "scig_g_in_trial"] == pytest.approx(48.0)
    assert row.loc["scig", "scig_g_per_year"] == pytest.approx(53 * 8.0)
    # efgartigimod 10 mg/kg x 80 kg = 800 mg (under the 1200-mg cap), 4 infusions
    assert row.loc["fcrn_inhibitor_then_ivig", "fcrn_inhibitor_infusions"] == 4
    assert row.loc["fcrn_inhibitor_then_ivig", "fcrn_inhibitor_mg_in_trial"] == pytest.approx(3200.0)
    by_arm = {a["arm"]: a for a in result.summary["arms"]}
    use = by_arm["scig"]["comparator_use"]
    assert use["scig_g_per_year"]["per_patient"]["estimate"] == pytest.approx(424.0)
    assert use["igg_g_per_year"]["per_patient"]["estimate"] == pytest.approx(424.0)
    # IVIG as written plus SCIG: the IVIG-then-inhibitor arm's 1 g/kg is 80 g a year
    assert by_arm["fcrn_inhibitor_then_ivig"]["comparator_use"]["igg_g_per_year"]["per_patient"]["estimate"] == \
        pytest.approx(80.0)
    # the exchange's own adverse events: declared, exposure counted, no probability
    events = by_arm["plasma_exchange"]["comparator_adverse_events"]["events"]
    assert set(events) == {"plex_hypotension", "plex_citrate_reaction", "plex_line_complication"}
    assert all(e["probability"] is None and e["exposure_per_patient"] == 3 for e in events.values())
    # no IVIG infusion in the exchange-only arm: none of IVIG's adverse events
    assert by_arm["plasma_exchange"]["adverse_events"]["headache"]["expected_incidence"]["estimate"] == 0


def test_capped_inhibitor_dose_by_hand(tmp_path):
    doc = _trial_doc(tmp_path, {"efg": {"fcrn_inhibitor": {"days": [0, 7]}}},
                     patient={**PATIENT, "weight_kg": 130.0})
    _, patients, _ = _run(tmp_path, doc)
    assert patients["fcrn_inhibitor_mg_in_trial"].iloc[0] == pytest.approx(2 * 1200.0)  # label cap, 1300 -> 1200 mg


def test_the_same_whatever_the_chunk_size(tmp_path):
    doc = _trial_doc(tmp_path, {"plex": REGIMENS["plasma_exchange_then_ivig"], "efg": REGIMENS["fcrn_inhibitor_then_ivig"]},
                     size=3, patient=None)
    _, whole, t_whole = _run(tmp_path, doc, "whole", chunk_size=3)
    _, cut, t_cut = _run(tmp_path, doc, "cut", chunk_size=1)
    key = ["arm", "patient"]
    pd.testing.assert_frame_equal(whole.sort_values(key).reset_index(drop=True), cut.sort_values(key).reset_index(drop=True))
    key = ["arm", "patient", "time_day"]
    pd.testing.assert_frame_equal(t_whole.sort_values(key).reset_index(drop=True),
                                  t_cut.sort_values(key).reset_index(drop=True))
    # patients differ: plasma volumes differ by weight and sex
    assert len(set(whole[whole["arm"] == "plex"]["plex_volume_L"].round(9))) == 3


def _cli(tmp_path, doc: dict):
    import yaml

    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(doc))
    return CliRunner().invoke(app, ["trial", str(path), "--out", str(tmp_path / "cli-out"), "--quiet"])


@pytest.mark.parametrize("volumes", [0, 3.5])
def test_bad_exchange_volume_in_a_trial_arm(tmp_path, volumes):
    doc = _trial_doc(tmp_path, {"plex": {"plasma_exchange": {"days": [0, 2], "plasma_volumes": volumes}}})
    result = _cli(tmp_path, doc)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "arms.0.regimen.plasma_exchange.plasma_volumes" in lines[0], result.output


@pytest.mark.parametrize("change, field", [
    # a comparator output read in a trial none of whose arms gives a comparator: its model lacks it
    (lambda d: d.update(arms=[{"name": "ivig", "regimen": {"course": {"total_g_per_kg": 2.0, "days": 2}}}],
                        endpoints=[{"name": "x", "output": "igg_exchanged_g", "at_day": 10, "summary": "mean"}]),
     "endpoints.0.output"),
    # a comparator parameter set on an arm of such a trial
    (lambda d: d.update(arms=[{"name": "ivig", "regimen": {"course": {"total_g_per_kg": 2.0, "days": 2}},
                               "parameters": {"scig_bioavailability": 0.5}}]), "arms.0.parameters"),
    # a user-defined inhibitor in a run-in, then nipocalimab in an arm: two drugs' constants in one
    # patient (other comparators in a run-in: tests/test_comparator_trial_designs.py)
    (lambda d: d.update(run_in={"regimen": {"fcrn_inhibitor": {
        "drug": "drug-x", "days": [0], "mg_per_kg": 30, "kinetics": {
            "kd_g_per_L": 0.001, "clearance_70kg_L_per_day": 5, "peripheral_volume_L_per_kg": 0.05,
            "distribution_clearance_70kg_L_per_day": 10, "source": "assumption: test"}}}, "days": 14,
        "select": [{"output": "igg_total_g_per_L", "criterion": ">= 0"}]},
        arms=[{"name": "nipo", "regimen": {"fcrn_inhibitor": {"drug": "nipocalimab", "days": [0], "mg_per_kg": 30}}}]),
     "arms.0.regimen.fcrn_inhibitor.drug"),
    # nipocalimab in a run-in, its constant set again on an arm
    (lambda d: d.update(run_in={"regimen": {"fcrn_inhibitor": {"drug": "nipocalimab", "days": [0], "mg_per_kg": 30}},
                                "days": 14, "select": [{"output": "igg_total_g_per_L", "criterion": ">= 0"}]},
                        arms=[{"name": "none", "parameters": {"fcrn_inhibitor_target_g_per_L": 0.0}}]),
     "arms.0.parameters.fcrn_inhibitor_target_g_per_L"),
    # a user-defined inhibitor's constant given twice
    (lambda d: d.update(arms=[{"name": "x", "parameters": {"fcrn_inhibitor_kd_g_per_L": 0.01}, "regimen": {
        "fcrn_inhibitor": {"drug": "drug-x", "days": [0], "mg_per_kg": 30, "kinetics": {
            "kd_g_per_L": 0.001, "clearance_70kg_L_per_day": 5, "peripheral_volume_L_per_kg": 0.05,
            "distribution_clearance_70kg_L_per_day": 10, "source": "assumption: test"}}}}]),
     "arms.0.parameters.fcrn_inhibitor_kd_g_per_L"),
    # nipocalimab's shipped constant given twice
    (lambda d: d.update(arms=[{"name": "nipo", "parameters": {"fcrn_inhibitor_kd_g_per_L": 0.01}, "regimen": {
        "fcrn_inhibitor": {"drug": "nipocalimab", "days": [0], "mg_per_kg": 30}}}]),
     "arms.0.parameters.fcrn_inhibitor_kd_g_per_L"),
])
def test_bad_comparator_trials_are_one_line_naming_the_field(tmp_path, change, field):
    doc = _trial_doc(tmp_path, {"plex": REGIMENS["plasma_exchange"]})
    change(doc)
    result = _cli(tmp_path, doc)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and field in lines[0], result.output
    with pytest.raises(InputError):
        parse_trial(copy.deepcopy(doc), base=tmp_path)


def test_example_runs_small(tmp_path):
    """The shipped example (examples/trials/gbs-plasma-exchange-vs-ivig.yaml), 30 patients per arm."""
    from pathlib import Path

    import yaml

    path = Path(__file__).resolve().parents[1] / "examples" / "trials" / "gbs-plasma-exchange-vs-ivig.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["size"] = 30
    result = run_trial(parse_trial(doc, base=path.parent))
    by_arm = {a["arm"]: a for a in result.summary["arms"]}
    assert by_arm["plasma exchange 4 x 2 PV"]["comparator_use"]["plex_sessions"]["per_patient"]["estimate"] == 4
    low = by_arm["plasma exchange 4 x 2 PV"]["endpoints"]["igg_day7"]["estimates"]["mean"]["estimate"]
    assert low < by_arm["supportive care"]["endpoints"]["igg_day7"]["estimates"]["mean"]["estimate"] / 2


def test_explain_across_treatments_shapley_adds_up():
    """Plasma exchange then IVIG in GBS: the exchange is a player beside the mechanisms; Shapley
    values add up to the total; the coalition values equal independent simulations."""
    from ivigsim.attribution import TREATMENT_PLAYERS, attribute, readout, treatment_players

    regimen = {"plasma_exchange": {"days": [0, 2]}, "course": {"total_g_per_kg": 2.0, "days": 2, "start_day": 4}}
    base = {"patient": PATIENT, "disease": "gbs", "simulation": {"days": 14, "output_every_days": 1}}
    scenario = parse_scenario({**base, "regimen": regimen})
    assert treatment_players(scenario) == ["plasma_exchange"]
    read = readout("autoantibody_fraction_of_baseline", 14.0)
    players = ["fcrn_saturation", "anti_idiotype", "plasma_exchange"]
    result = attribute(scenario, read, players)
    assert result.mechanisms == tuple(players)
    assert sum(result.shapley.values()) == pytest.approx(result.total, rel=1e-12, abs=1e-15)
    assert result.shapley["plasma_exchange"] < 0  # the exchange lowers the autoantibody

    def value(doc: dict) -> float:
        ds = simulate(parse_scenario(doc))
        return float(ds["autoantibody_fraction_of_baseline"].sel(time=14.0).values[0])

    assert result.all_on == pytest.approx(value({**base, "regimen": regimen}), rel=RTOL)
    ivig_only = {k: v for k, v in regimen.items() if k != "plasma_exchange"}
    assert result.knockout["plasma_exchange"] == pytest.approx(
        result.all_on - value({**base, "regimen": ivig_only}), rel=1e-3, abs=1e-6)
    # none on: no exchange, the two mechanisms off (IVIG still given, the other mechanisms as written)
    off = {"fcrn_saturation": False, "anti_idiotype": False}
    assert result.none_on == pytest.approx(value({**base, "regimen": ivig_only, "mechanisms": off}), rel=RTOL)
    # without comparators, nothing changes: no treatment player
    assert treatment_players(parse_scenario({**base, "regimen": ivig_only})) == []
    assert set(TREATMENT_PLAYERS) == {"plasma_exchange", "scig", "fcrn_inhibitor"}


# -- the comparators' adverse events with a declared rate (ivigsim.safety.comparators) ----------

DECLARED = {"plex_hypotension": {"probability": 0.02, "source": "our unit's audit"},
            "scig_site_reaction": {"probability": 0.3}}


@pytest.fixture(scope="module")
def declared_run(tmp_path_factory):
    """The exchange (3 sessions) and SCIG (6 doses in the 42 days) arms, 20 patients, with and
    without declared rates."""
    tmp_path = tmp_path_factory.mktemp("declared")
    regimens = {"plasma_exchange": REGIMENS["plasma_exchange"], "scig": REGIMENS["scig"]}
    plain = _run(tmp_path, _trial_doc(tmp_path, regimens, size=20, patient=None), "plain")
    declared = _run(tmp_path, _trial_doc(tmp_path, regimens, size=20, patient=None,
                                         comparator_adverse_events=DECLARED), "declared")
    return plain, declared


def test_a_declared_rate_gives_the_incidence_of_independent_sessions(declared_run):
    _, (result, patients, _) = declared_run
    by_arm = {a["arm"]: a for a in result.summary["arms"]}
    events = by_arm["plasma_exchange"]["comparator_adverse_events"]["events"]
    hypotension = events["plex_hypotension"]
    assert hypotension["probability"] == 0.02 and hypotension["source"] == "our unit's audit"
    sessions = patients.loc[patients["arm"] == "plasma_exchange", "plex_sessions"].to_numpy()
    assert (sessions == 3).all()
    # Independent of the formula the module uses: 400,000 patients of 3 sessions, each session a
    # 2 % chance, drawn; the share with at least one event brackets the expected incidence.
    rng = np.random.default_rng(1)
    drawn = (rng.random((400_000, 3)) < 0.02).any(axis=1).mean()
    se = np.sqrt(drawn * (1 - drawn) / 400_000)
    assert hypotension["expected_incidence"]["estimate"] == pytest.approx(drawn, abs=4 * se)
    assert hypotension["expected_events_per_patient"]["estimate"] == pytest.approx(3 * 0.02)
    # events without a declared rate stay reported, not modelled
    assert events["plex_citrate_reaction"]["probability"] is None
    assert "expected_incidence" not in events["plex_citrate_reaction"]
    site = by_arm["scig"]["comparator_adverse_events"]["events"]["scig_site_reaction"]
    doses = patients.loc[patients["arm"] == "scig", "scig_doses"].to_numpy()
    assert site["expected_incidence"]["estimate"] == pytest.approx(np.mean(1 - 0.7 ** doses), rel=1e-12)
    assert "hypotension 5.88 % of patients (2 % per session, declared: our unit's audit)" in result.text()
    assert "citrate reaction, line complication: reported, not modelled" in result.text()


def test_a_declared_rate_changes_no_patients_numbers(declared_run):
    (_, plain, _), (_, declared, _) = declared_run
    pd.testing.assert_frame_equal(plain, declared)


@pytest.mark.parametrize("rates, field", [
    ({"plex_hypotension": {"probability": 1.5}}, "comparator_adverse_events.plex_hypotension.probability"),
    ({"plex_hypotension": {"probability": -0.1}}, "comparator_adverse_events.plex_hypotension.probability"),
    ({"plex_hypotension": {"probability": "often"}}, "comparator_adverse_events.plex_hypotension.probability"),
    ({"plex_hypotension": {"probability": 0.1, "source": ""}}, "comparator_adverse_events.plex_hypotension.source"),
    ({"plex_hypotension": {}}, "comparator_adverse_events.plex_hypotension.probability"),
    ({"plex_hypotension": {"probability": 0.1, "per": "day"}}, "comparator_adverse_events.plex_hypotension.per"),
    ({"headache": {"probability": 0.1}}, "comparator_adverse_events"),
])
def test_bad_declared_rates_are_one_line_naming_the_field(tmp_path, rates, field):
    doc = _trial_doc(tmp_path, {"plex": REGIMENS["plasma_exchange"]}, comparator_adverse_events=rates)
    result = _cli(tmp_path, doc)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and field in lines[0], result.output
    assert not (tmp_path / "cli-out").exists()


def test_the_declared_risk_example_runs():
    import doctest

    import ivigsim.safety.comparators as module

    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_declared_rates_are_summary_only_so_a_run_resumes_with_other_rates(tmp_path):
    """The rates change no patient's number, so they are left out of the trial's fingerprint (as
    contrasts and stewardship): --resume with other rates reuses the chunks and summarises anew."""
    regimens = {"plex": REGIMENS["plasma_exchange"]}
    plain = parse_trial(_trial_doc(tmp_path, regimens), base=tmp_path)
    declared = parse_trial(_trial_doc(tmp_path, regimens, comparator_adverse_events=DECLARED), base=tmp_path)
    assert plain.fingerprint() == declared.fingerprint()
    out = tmp_path / "out"
    run_trial(plain, out)
    result = run_trial(declared, out, resume=True)
    events = result.summary["arms"][0]["comparator_adverse_events"]["events"]
    assert events["plex_hypotension"]["expected_incidence"]["estimate"] == pytest.approx(1 - 0.98 ** 3)


# -- the same declared rates for one patient (``ivigsim simulate``) ------------------------------


def _scenario_doc(rates: dict | None = None) -> dict:
    doc = {"name": "exchanges", "patient": {"weight_kg": 70, "sex": "male"},
           "regimen": {"plasma_exchange": {"days": [0, 2, 4], "plasma_volumes": 1.0}, "scig": {"g_per_kg": 0.1,
                                                                                              "count": 2}},
           "simulation": {"days": 14}}
    if rates is not None:
        doc["comparator_adverse_events"] = rates
    return doc


def test_simulate_gives_each_declared_events_risk_over_the_patients_sessions():
    ds = simulate(parse_scenario(_scenario_doc(DECLARED)))
    from ivigsim.summary import summarise

    line = summarise(ds).comparator_events
    # three sessions, each a 2 % chance: 1 - 0.98^3; two SCIG doses, each 30 %: 1 - 0.7^2
    assert f"hypotension {100 * (1 - 0.98 ** 3):.3g} % over 3 sessions (2 % per session, declared: our unit's audit)" \
        in line
    assert f"site reaction {100 * (1 - 0.7 ** 2):.3g} % over 2 doses (30 % per dose" in line
    assert line.endswith("citrate reaction, line complication: reported, not modelled (no sourced incidence)")
    plain = summarise(simulate(parse_scenario(_scenario_doc()))).comparator_events
    assert plain.startswith("hypotension, citrate reaction, line complication, site reaction: reported, not modelled")


@pytest.mark.parametrize("rates, field", [
    ({"plex_hypotension": {"probability": 2}}, "comparator_adverse_events.plex_hypotension.probability"),
    ({"hypotension": {"probability": 0.1}}, "comparator_adverse_events"),
])
def test_bad_declared_rates_in_a_scenario_are_one_line_naming_the_field(tmp_path, rates, field):
    import yaml

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(_scenario_doc(rates)))
    result = CliRunner().invoke(app, ["simulate", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and field in lines[0], result.output
    assert not (tmp_path / "out").exists()
