"""Two-period crossover (``design: crossover``; ``ivigsim.trial.crossover``).

Checked against independent answers: a patient's two periods equal one plain ``simulate`` of the
two regimens in sequence (the NumPy engine, one solve over the whole span, no restart); the
within-patient difference and its interval equal scipy's paired t on the per-patient table; the
period-adjusted difference and the period effect equal statsmodels OLS with patient, period and
treatment on the per-period table, the carry-over OLS on the per-patient period sums by sequence
(Jones & Kenward 2014, ch. 2); the patients and numbers do not depend on the chunk size; and
every mistake is one line naming the field, exit status 2.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats
from typer.testing import CliRunner

from ivigsim.cli import app
from ivigsim.engine.solver import Dopri5
from ivigsim.errors import InputError
from ivigsim.io.scenario_file import RegimenFile
from ivigsim.io.trial_file import load_trial, parse_trial
from ivigsim.model.library import compiled_model
from ivigsim.population import CounterRNG, draw
from ivigsim.scenario import Scenario
from ivigsim.simulation import simulate
from ivigsim.trial.crossover import sequences, two_by_two
from ivigsim.trial.runner import run_trial

EXAMPLE = Path(__file__).parent.parent / "examples" / "trials" / "cidp-crossover-half-dose.yaml"
PERIOD, WASHOUT = 84.0, 14.0
USUAL = {"g_per_kg": 1.0, "every_days": 21, "start_day": 0, "count": 4}
HALF = {"g_per_kg": 0.5, "every_days": 10.5, "start_day": 0, "count": 8}


def crossover(**changes) -> dict:
    """A small CIDP crossover: 1 g/kg every 21 days (A) vs 0.5 g/kg every 10.5 days (B), 84-day
    periods with a 14-day washout, from untreated patients (so the period effect is large)."""
    doc = {
        "name": "crossover", "disease": "cidp", "seed": 11, "size": 8, "design": "crossover",
        "periods": [{"days": PERIOD}, {"days": PERIOD}], "washout_days": WASHOUT,
        "population": {"parameters": {"incat_baseline": 4.5, "cidp_remission": 0.25},
                       "variability": {"incat_baseline": 0.35, "cidp_remission": 1.4},
                       "inclusion": ["incat_score >= 2", "incat_score <= 9"]},
        "regimens": {"usual": {"maintenance": USUAL}, "half": {"maintenance": HALF}},
        "arms": [{"name": "usual", "regimen": "usual"}, {"name": "half", "regimen": "half"}],
        "endpoints": [
            {"name": "incat_change", "output": "incat_score", "measure": "change", "at_day": 84, "summary": "mean"},
            {"name": "igg_min", "output": "igg_total_g_per_L", "window": [42, 84], "over_window": "min",
             "summary": "mean"},
            {"name": "worse", "output": "incat_score", "measure": "change", "window": [0, 84], "over_window": "any",
             "criterion": ">= 1", "summary": "fraction"},
        ],
        "simulation": {"output_every_days": 1, "rtol": 1e-9, "atol": 1e-11},
        "output": {"trajectories": 4, "outputs": ["incat_score", "igg_total_g_per_L"]},
    }
    doc.update(changes)
    return doc


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("xo") / "out"
    trial = parse_trial(crossover())
    result = run_trial(trial, out, chunk_size=3)
    return trial, out, result


@pytest.mark.slow  # 3 s or more (README run under 5 minutes): in CI and with --run-slow
def test_a_patients_two_periods_equal_one_plain_simulation_of_the_regimens_in_sequence(small):
    trial, out, _ = small
    traj = pd.read_parquet(out / "trajectories")
    patients = pd.read_parquet(out / "patients")
    model = compiled_model("cidp")
    parts = {"usual": USUAL, "half": HALF}
    seen = set()
    for patient in range(4):
        rows = patients[patients["patient"] == patient].sort_values("period")
        first, second = rows["arm"].tolist()
        seen.add(first)
        regimen = RegimenFile.model_validate({"maintenance": [
            parts[first], {**parts[second], "start_day": PERIOD + WASHOUT}]}).build()
        p = draw(trial.population, model, CounterRNG(trial.seed), np.array([int(rows["candidate"].iloc[0])]))
        ds = simulate(Scenario(patient=p.patient(0), regimen=regimen, disease="cidp", days=2 * PERIOD + WASHOUT,
                               parameters=dict(zip(model.model.parameter_names, p.parameters[:, 0])),
                               solver=Dopri5(rtol=1e-9, atol=1e-11)))
        mine = traj[traj["patient"] == patient]
        assert mine[mine["period"] == 2]["time_day"].iloc[0] == PERIOD + WASHOUT  # days from day 0
        at = np.searchsorted(ds.time.values, mine["time_day"].to_numpy())
        for name in ("incat_score", "igg_total_g_per_L"):
            reference = ds[name].sel(patient=0).values
            np.testing.assert_allclose(mine[name].to_numpy(), reference[at], rtol=0,
                                       atol=1e-6 * (np.ptp(reference) + 1e-12))
        # Endpoint days count from each period's start; change is from the period's first day.
        incat = ds["incat_score"].sel(patient=0).values
        t = ds.time.values
        for period, start in ((1, 0.0), (2, PERIOD + WASHOUT)):
            row = rows[rows["period"] == period].iloc[0]
            expected = incat[np.searchsorted(t, start + 84)] - incat[np.searchsorted(t, start)]
            assert row.incat_change == pytest.approx(expected, abs=1e-6)
    assert seen == {"usual", "half"}  # both sequences among the patients checked


def test_sequences_are_balanced_permuted_blocks_and_rows_are_per_patient_and_period(small):
    trial, out, result = small
    patients = pd.read_parquet(out / "patients")
    assert len(patients) == 2 * trial.size
    assert set(patients.groupby("patient")["period"].apply(tuple)) == {(1, 2)}
    seq = sequences(trial.seed, np.arange(100))
    assert (seq[0::2] + seq[1::2] == 1).all()  # each block of two: one AB, one BA
    first = patients[patients["period"] == 1].sort_values("patient")
    assert first["arm"].tolist() == ["usual" if s == 0 else "half" for s in seq[:trial.size]]
    assert first["sequence"].tolist() == ["AB" if s == 0 else "BA" for s in seq[:trial.size]]
    assert result.summary["crossover"]["patients_per_sequence"] == {"AB": 4, "BA": 4}
    for arm in result.summary["arms"]:
        assert arm["patients"] == trial.size


def _wide(patients: pd.DataFrame, column: str) -> pd.DataFrame:
    return patients.pivot(index="patient", columns="arm", values=column)


def test_within_patient_difference_and_interval_equal_a_paired_t(small):
    trial, out, result = small
    patients = pd.read_parquet(out / "patients")
    contrasts = {c["endpoint"]: c for c in result.summary["contrasts"]}
    for name in ("incat_change", "igg_min"):
        w = _wide(patients, name)
        d = (w["half"] - w["usual"]).to_numpy()
        ci = stats.ttest_rel(w["half"], w["usual"]).confidence_interval(0.95)
        est = contrasts[name]["estimates"]["mean_difference"]
        assert contrasts[name]["arm"] == "half" and contrasts[name]["reference"] == "usual"
        assert contrasts[name]["paired"] is True
        assert est["estimate"] == pytest.approx(d.mean(), rel=1e-12)
        assert (est["lower"], est["upper"]) == pytest.approx((ci.low, ci.high), rel=1e-10)


def test_period_and_carry_over_equal_statsmodels_ols_on_the_per_period_table(small):
    import statsmodels.formula.api as smf

    trial, out, result = small
    patients = pd.read_parquet(out / "patients")
    contrasts = {c["endpoint"]: c for c in result.summary["contrasts"]}
    for name in ("incat_change", "igg_min"):
        df = patients[["patient", "period", "arm", "sequence", name]].rename(columns={name: "y"})
        fit = smf.ols("y ~ C(patient) + C(period) + C(arm, Treatment('usual'))", data=df).fit()
        ci = fit.conf_int(0.05)
        est = contrasts[name]["estimates"]
        for key, term in (("period_adjusted_difference", "C(arm, Treatment('usual'))[T.half]"),
                          ("period_effect", "C(period)[T.2]")):
            assert est[key]["estimate"] == pytest.approx(fit.params[term], rel=1e-8, abs=1e-10)
            assert (est[key]["lower"], est[key]["upper"]) == pytest.approx(tuple(ci.loc[term]), rel=1e-8, abs=1e-10)
        # Carry-over (lambda_half - lambda_usual): between patients, on each patient's period sum;
        # the sequence in which 'half' comes first is HALF-USUAL (BA).
        totals = df.groupby("patient").agg(t=("y", "sum"), sequence=("sequence", "first")).reset_index()
        fit = smf.ols("t ~ C(sequence, Treatment('AB'))", data=totals).fit()
        term = "C(sequence, Treatment('AB'))[T.BA]"
        assert est["carry_over"]["estimate"] == pytest.approx(fit.params[term], rel=1e-8)
        assert (est["carry_over"]["lower"], est["carry_over"]["upper"]) == pytest.approx(
            tuple(fit.conf_int(0.05).loc[term]), rel=1e-8)


def test_two_by_two_by_hand():
    # Sequence XR: (10, 8), (12, 9); sequence RX: (7, 11), (9, 12). d = y1 - y2: XR 2, 3; RX -4, -3.
    # tau = ((2.5) - (-3.5)) / 2 = 3; period (2 - 1) = -(2.5 - 3.5) / 2 = 0.5; s2_d = (0.5 + 0.5) / 2 = 0.5,
    # se = sqrt(0.5 / 4 * (1/2 + 1/2)) = 0.35355; T: XR 18, 21; RX 18, 21 -> carry-over 0, s2_T = 4.5, se 2.1213.
    out = two_by_two(np.array([10, 12, 7, 9.]), np.array([8, 9, 11, 12.]), np.array([True, True, False, False]))
    q = stats.t.ppf(0.975, 2)
    assert out["period_adjusted_difference"].estimate == pytest.approx(3.0)
    assert out["period_adjusted_difference"].upper == pytest.approx(3.0 + q * np.sqrt(0.125))
    assert out["period_effect"].estimate == pytest.approx(0.5)
    assert out["carry_over"].estimate == pytest.approx(0.0, abs=1e-12)
    assert out["carry_over"].upper == pytest.approx(q * np.sqrt(4.5))


def test_the_same_numbers_whatever_the_chunk_size():
    doc = crossover(size=10, output={}, simulation={"output_every_days": 2})
    trial = parse_trial(doc)
    a = run_trial(trial, chunk_size=10)
    b = run_trial(trial, chunk_size=3)
    key = ["patient", "period"]
    pd.testing.assert_frame_equal(a.patients.sort_values(key).reset_index(drop=True),
                                  b.patients.sort_values(key).reset_index(drop=True))
    assert a.summary["contrasts"] == b.summary["contrasts"]


def test_a_run_in_then_crossover_starts_from_the_selected_state():
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc.update(size=4, periods=[{"days": 42}, {"days": 42}], simulation={"output_every_days": 3},
               regimens={"usual": {"maintenance": {**USUAL, "count": 2}},
                         "half_half": {"maintenance": {**HALF, "count": 4}}})
    doc["endpoints"] = [{"name": "incat_change", "output": "incat_score", "measure": "change", "at_day": 42,
                         "summary": "mean"}]
    result = run_trial(parse_trial(doc))
    assert "run_in" in result.summary and len(result.patients) == 8
    assert result.patients["solver_status"].eq("SUCCESS").all()


@pytest.mark.parametrize("changes, field", [
    ({"arms": [{"name": "usual", "regimen": "usual"}]}, "arms"),
    ({"periods": [{"days": 0}, {"days": 84}]}, "periods.0.days"),
    ({"periods": [{"days": 84}]}, "periods"),
    ({"washout_days": -1}, "washout_days"),
    ({"design": "paired"}, "periods"),
    ({"simulation": {"days": 84}}, "simulation.days"),
    ({"endpoints": [{"name": "late", "output": "incat_score", "at_day": 100, "summary": "mean"}]}, "endpoints.0.at_day"),
    ({"arms": [{"name": "usual", "regimen": "usual"}, {"name": "half", "regimen": "half", "rules": {
        "assess_every_days": 21, "readout": "incat_score", "relapse": "change >= 1", "maintenance_g_per_kg": 1.0}}]},
     "arms.1.rules"),
    ({"regimens": {"usual": {"maintenance": USUAL}, "half": {"doses": [{"day": 83.95, "g_per_kg": 1.0}]}}},
     "periods.0.days"),  # an infusion running at a period's end
])
def test_bad_input_is_one_line_naming_the_field(changes, field):
    with pytest.raises(InputError) as exc:
        parse_trial(crossover(**changes))
    assert exc.value.field == field


def test_bad_input_on_the_command_line_exits_2(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(crossover(periods=[{"days": 84}, {"days": 0}])))
    result = CliRunner().invoke(app, ["trial", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "periods.1.days" in result.output and len(result.output.strip().splitlines()) == 1


def test_the_example_loads():
    trial = load_trial(EXAMPLE)
    assert trial.design == "crossover" and trial.crossover.periods == (168.0, 168.0)
