"""Run-in, enrichment and randomised withdrawal (``run_in`` in the trial file).

Checked against independent answers: the randomised patients are exactly the screened candidates
that meet the criterion at the selection day in a plain ``simulate`` of the run-in (the NumPy
engine, the regimen compiled for the patient); an arm that continues the run-in's regimen equals
one ``simulate`` of that regimen over the whole span; the patients and their numbers do not depend
on the chunk size or the thread count; and every mistake is one line naming the field, exit 2.
"""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from ivigsim.cli import app
from ivigsim.engine.solver import Dopri5
from ivigsim.errors import InputError
from ivigsim.io.trial_file import load_trial, parse_trial
from ivigsim.model.library import compiled_model
from ivigsim.population import CounterRNG, draw, screen
from ivigsim.scenario import Scenario
from ivigsim.simulation import simulate
from ivigsim.trial.runner import run_trial

EXAMPLE = Path(__file__).parent.parent / "examples" / "trials" / "cidp-ivig-withdrawal.yaml"
RUN_IN = 84.0
#: The run-in's regimen as a whole: 2 g/kg over 2 days, then 1 g/kg every 21 days to day 147.
WHOLE = {"course": {"total_g_per_kg": 2.0, "days": 2},
         "maintenance": {"g_per_kg": 1.0, "every_days": 21, "start_day": 21, "until_day": 147}}


def withdrawal(**changes) -> dict:
    """A small CIDP withdrawal trial: responders at day 84 (INCAT improved by >= 1 point) continue
    (the same maintenance, from randomisation) or stop."""
    doc = {
        "name": "withdrawal", "disease": "cidp", "seed": 7, "size": 6,
        "population": {"parameters": {"incat_baseline": 4.5, "cidp_remission": 0.165},
                       "variability": {"incat_baseline": 0.35, "cidp_remission": 1.4},
                       "inclusion": ["incat_score >= 2", "incat_score <= 9"]},
        "regimens": {"whole": WHOLE,
                     "continue": {"maintenance": {"g_per_kg": 1.0, "every_days": 21, "start_day": 0, "until_day": 63}}},
        "run_in": {"regimen": "whole", "days": RUN_IN,
                   "select": [{"output": "incat_score", "measure": "change", "criterion": "<= -1"}]},
        "arms": [{"name": "continue", "regimen": "continue"}, {"name": "stop"}],
        "endpoints": [
            {"name": "relapse", "output": "incat_score", "measure": "change", "window": [0, 84], "over_window": "any",
             "criterion": ">= 1", "summary": "fraction"},
            {"name": "incat_end", "output": "incat_score", "at_day": 84, "summary": "mean"},
        ],
        "simulation": {"days": 84, "output_every_days": 1, "rtol": 1e-9, "atol": 1e-11},
        "output": {"trajectories": 6, "outputs": ["incat_score", "igg_total_g_per_L"]},
    }
    doc.update(changes)
    return doc


def _scenario(model, trial, candidate: int, days: float, regimen) -> Scenario:
    """A plain scenario of candidate ``candidate``: its drawn covariates and parameters."""
    patients = draw(trial.population, model, CounterRNG(trial.seed), np.array([candidate]))
    params = dict(zip(model.model.parameter_names, patients.parameters[:, 0]))
    return Scenario(patient=patients.patient(0), regimen=regimen, disease="cidp", days=days, parameters=params,
                    solver=Dopri5(rtol=1e-9, atol=1e-11))


@pytest.mark.slow  # 4-17 s: in CI and with --run-slow (the README command stays under 5 minutes)
def test_selected_patients_are_those_meeting_the_criterion_in_a_plain_simulation():
    trial = parse_trial(withdrawal())
    result = run_trial(trial)
    model = compiled_model("cidp")
    eligible = screen(trial.population, model, CounterRNG(trial.seed), 40).candidates
    expected, margins = [], []
    for j in eligible:
        ds = simulate(_scenario(model, trial, int(j), RUN_IN, trial.run_in.regimen))
        incat = ds["incat_score"].sel(patient=0).values
        change = incat[np.searchsorted(ds.time.values, RUN_IN)] - incat[0]
        margins.append(abs(change + 1.0))
        if change <= -1.0:
            expected.append(int(j))
        if len(expected) == trial.size:
            break
    assert len(expected) == trial.size
    assert min(margins) > 1e-4  # no candidate so near the threshold that the solvers' error could decide
    got = result.patients
    for arm in ("continue", "stop"):
        assert got[got["arm"] == arm]["candidate"].tolist() == expected
    entered = int(np.searchsorted(eligible, expected[-1])) + 1
    r = result.summary["run_in"]["arms"][0]
    assert (r["entered"], r["selected"]) == (entered, trial.size)
    assert r["not_meeting"] == {"change in incat_score <= -1 on day 84": entered - trial.size}
    assert r["adverse_events"]["headache"]["expected_incidence"]["n"] == trial.size


@pytest.mark.slow  # 4-17 s: in CI and with --run-slow (the README command stays under 5 minutes)
def test_an_arm_continuing_the_run_in_regimen_equals_one_whole_span_simulation(tmp_path):
    trial = parse_trial(withdrawal())
    run_trial(trial, tmp_path / "out")
    traj = pd.read_parquet(tmp_path / "out" / "trajectories")
    patients = pd.read_parquet(tmp_path / "out" / "patients")
    model = compiled_model("cidp")
    whole = load_regimen(WHOLE)
    for i, row in patients[patients["arm"] == "continue"].iterrows():
        ds = simulate(_scenario(model, trial, int(row.candidate), RUN_IN + 84.0, whole))
        mine = traj[(traj["arm"] == "continue") & (traj["patient"] == row.patient)]
        at = np.searchsorted(ds.time.values, RUN_IN + mine["time_day"].to_numpy())
        for name in ("incat_score", "igg_total_g_per_L"):
            reference = ds[name].sel(patient=0).values
            scale = np.ptp(reference) + 1e-12
            np.testing.assert_allclose(mine[name].to_numpy(), reference[at], rtol=0, atol=1e-6 * scale)
        # Endpoint days count from randomisation; 'change' is from the value at randomisation.
        incat = ds["incat_score"].sel(patient=0).values
        assert row.incat_end == pytest.approx(incat[np.searchsorted(ds.time.values, RUN_IN + 84)], abs=1e-6)
    stop = traj[(traj["arm"] == "stop") & (traj["time_day"] == 0)]
    cont = traj[(traj["arm"] == "continue") & (traj["time_day"] == 0)]
    np.testing.assert_array_equal(stop["incat_score"].to_numpy(), cont["incat_score"].to_numpy())  # the same state


def load_regimen(doc):
    from ivigsim.io.scenario_file import RegimenFile

    return RegimenFile.model_validate(doc).build()


@pytest.mark.parametrize("design", ["paired", "parallel"])
def test_the_same_patients_whatever_the_chunk_size_and_threads(design):
    from ivigsim.engine.compiled import Auto

    trial = parse_trial(withdrawal(size=70, design=design, output={},
                                   simulation={"days": 84, "output_every_days": 2}))
    def rows(result):  # rows come chunk by chunk; compare them arm by arm, patient by patient
        return result.patients.sort_values(["arm", "patient"], kind="stable").reset_index(drop=True)

    a = rows(run_trial(trial, chunk_size=70))
    b = rows(run_trial(replace(trial, solver=Auto(threads=1)), chunk_size=9))
    pd.testing.assert_frame_equal(a, b)
    if design == "parallel":  # each arm its own candidates and run-ins
        assert a[a["arm"] == "continue"]["candidate"].tolist() != a[a["arm"] == "stop"]["candidate"].tolist()


BAD = [
    ("selection day after the run-in",
     {"select": [{"output": "incat_score", "at_day": 100, "criterion": "<= 3"}]},
     "run_in.select.0.at_day: expected a day within the run-in, 0 to 84, got 100"),
    ("window beyond the run-in",
     {"select": [{"output": "incat_score", "window": [42, 90], "over_window": "all", "criterion": "<= 3"}]},
     "run_in.select.0.window: expected [first day, last day] within the run-in"),
    ("unknown readout",
     {"select": [{"output": "platelets", "criterion": "<= 3"}]},
     "run_in.select.0.output: expected one of the model's outputs"),
    ("bad criterion", {"select": [{"output": "incat_score", "criterion": "about 3"}]},
     "run_in.select.0.criterion: expected a comparison with a number"),
    ("no criteria", {"select": []}, "run_in.select: expected at least one criterion"),
    ("unknown regimen", {"regimen": "nope"}, "run_in.regimen: expected a regimen defined under 'regimens'"),
    ("infusion at randomisation", {"days": 21.1}, "run_in.days: expected a randomisation day on which no run-in "
                                                  "infusion is running"),
    ("negative days", {"days": -3}, "run_in.days: expected a run-in length in days"),
    ("nobody selected", {"select": [{"output": "incat_score", "measure": "change", "criterion": "<= -30"}]},
     "run_in.select: expected criteria that some patients meet at the end of their run-in"),
]


@pytest.mark.parametrize("run_in, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_mistakes_are_one_line_exit_2(tmp_path, run_in, message):
    doc = withdrawal()
    doc["run_in"] = {**doc["run_in"], **run_in}
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = CliRunner().invoke(app, ["trial", str(path), "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 2, result.output
    assert result.output.strip().startswith(f"error: {message}"), result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "patients").exists()


def test_run_in_with_a_mixed_population_is_refused():
    doc = withdrawal()
    pop = doc.pop("population")
    doc["population"] = {"subpopulations": [{"name": "all", "share": 1.0, **pop}]}
    with pytest.raises(InputError) as err:
        parse_trial(doc)
    assert err.value.field == "run_in"


def test_the_example_parses_and_counts_from_randomisation():
    trial = load_trial(EXAMPLE)
    assert trial.run_in.days == 168 and trial.days == 168
    assert trial.fingerprint() != replace(trial, run_in=replace(trial.run_in, days=147)).fingerprint()


def test_an_interrupted_run_resumes_to_the_same_patients(tmp_path):
    """--resume selects the same patients again (the run-in is a pure function of the seed) and
    keeps the finished chunks: the files equal an uninterrupted run's."""
    trial = parse_trial(withdrawal(size=12, output={}))

    def stop_after_first(job):
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        run_trial(trial, tmp_path / "a", chunk_size=5, on_chunk=stop_after_first)
    assert len(list((tmp_path / "a" / "patients").glob("chunk-*.parquet"))) == 1
    run_trial(trial, tmp_path / "a", chunk_size=5, resume=True)
    run_trial(trial, tmp_path / "b", chunk_size=5)
    for path in sorted((tmp_path / "b" / "patients").glob("chunk-*.parquet")):
        assert (tmp_path / "a" / "patients" / path.name).read_bytes() == path.read_bytes()
