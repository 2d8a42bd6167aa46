"""Conditional endpoints, change from a reference day, day of the maximum, restricted mean time
to event, adverse events per infusion, the serious-adverse-event composite and subgroups: each
checked against an independent computation on the per-patient table and the saved courses
(NumPy/pandas, statsmodels' SurvfuncRight and a cluster-robust Poisson GLM)."""

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import yaml
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight
from statsmodels.stats.proportion import proportion_confint
from typer.testing import CliRunner

from ivigsim.cli import app
from ivigsim.errors import InputError
from ivigsim.io.trial_file import parse_trial
from ivigsim.trial.adverse_rates import SERIOUS
from ivigsim.trial.runner import read_patients, run_trial, screen_trial, summarise, summarise_files, summary_columns
from tests.test_trial_file import small_trial

SIZE = 40
IGG = "igg_total_g_per_L"
TAU = 20.0


def _doc(**changes) -> dict:
    doc = small_trial(size=SIZE)
    doc["regimens"] = {"two": {"course": {"total_g_per_kg": 2.0, "days": 2}}}  # 2 infusions a patient
    doc["arms"] = [{"name": "none"}, {"name": "2 g/kg", "regimen": "two"}]
    doc["endpoints"] = [
        {"name": "high", "output": IGG, "window": [0, 14], "over_window": "any", "criterion": ">= 32",
         "summary": "fraction"},
        {"name": "igg0", "output": IGG, "at_day": 0, "summary": "median"},
        {"name": "low_late", "output": IGG, "window": [14, 28], "over_window": "any", "criterion": "< 16",
         "summary": "fraction", "given": "high"},
        {"name": "chg_ref", "output": IGG, "measure": "change", "reference_day": 7, "at_day": 21, "summary": "mean"},
        {"name": "peak_day", "output": IGG, "window": [0, 14], "summary": "day_of_max"},
        {"name": "trough_day", "output": IGG, "window": [3, 28], "summary": "day_of_min"},
        {"name": "blockade_gone", "output": "fcgr_blockade_fraction", "window": [2, 28], "criterion": "< 0.05",
         "summary": "time_to_event", "tau": TAU},
        {"name": "below_14", "output": IGG, "window": [3, 28], "criterion": "< 14", "summary": "time_to_event",
         "tau": TAU},
    ]
    doc["subgroups"] = [{"name": "age", "by": "age_years", "cut": [45, 60]}, {"name": "sex", "by": "sex"},
                        {"name": "baseline_igg", "by": "igg0", "cut": [10]}]
    doc["output"] = {"trajectories": SIZE, "outputs": [IGG, "fcgr_blockade_fraction"]}
    doc.update(changes)
    return doc


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    trial = parse_trial(_doc())
    out = tmp_path_factory.mktemp("more") / "out"
    result = run_trial(trial, out, chunk_size=16)  # 3 chunk files
    table = read_patients(out, trial)
    courses = pd.read_parquet(out / "trajectories")
    return trial, out, result.summary, table, courses


def _arm(summary, name):
    return next(a for a in summary["arms"] if a["arm"] == name)


def _wide(courses, arm, output):
    """(patients x days) of one output for one arm, rows in patient order."""
    rows = courses[courses["arm"] == arm]
    return rows.pivot(index="patient", columns="time_day", values=output).sort_index()


def test_change_from_a_reference_day(run):
    trial, out, summary, table, courses = run
    for arm in ("none", "2 g/kg"):
        wide = _wide(courses, arm, IGG)
        expected = (wide[21.0] - wide[7.0]).to_numpy()
        got = table[table["arm"] == arm].sort_values("patient")["chg_ref"].to_numpy()
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
        est = _arm(summary, arm)["endpoints"]["chg_ref"]["estimates"]["mean"]
        assert est["estimate"] == pytest.approx(expected.mean(), rel=1e-12)
        lo, hi = stats.t.interval(0.95, len(expected) - 1, expected.mean(), stats.sem(expected))
        assert (est["lower"], est["upper"]) == pytest.approx((lo, hi), rel=1e-9)
    assert "from day 7" in _arm(summary, "none")["endpoints"]["chg_ref"]["description"]


def test_day_of_max_and_min(run):
    trial, out, summary, table, courses = run
    arm = "2 g/kg"
    wide = _wide(courses, arm, IGG)
    rows = table[table["arm"] == arm].sort_values("patient")
    peak = wide.loc[:, [c for c in wide.columns if c <= 14]].idxmax(axis=1).to_numpy()  # first day of the max
    trough = wide.loc[:, [c for c in wide.columns if c >= 3]].idxmin(axis=1).to_numpy()
    np.testing.assert_array_equal(rows["peak_day"].to_numpy(), peak)
    np.testing.assert_array_equal(rows["trough_day"].to_numpy(), trough)
    assert peak.min() >= 1 and trough.min() > 14  # a real peak after the infusions, a trough later on
    est = _arm(summary, arm)["endpoints"]["peak_day"]["estimates"]
    assert est["median_day"]["estimate"] == np.median(peak) and est["mean_day"]["estimate"] == pytest.approx(peak.mean())


def test_conditional_fraction_has_the_conditions_denominator(run):
    trial, out, summary, table, courses = run
    for arm in ("none", "2 g/kg"):
        wide = _wide(courses, arm, IGG)
        responders = (wide.loc[:, [c for c in wide.columns if c <= 14]] >= 32).any(axis=1).to_numpy()
        later_low = (wide.loc[:, [c for c in wide.columns if 14 <= c <= 28]] < 16).any(axis=1).to_numpy()
        est = _arm(summary, arm)["endpoints"]["low_late"]["estimates"]["fraction"]
        assert est["n"] == responders.sum()  # the denominator: patients meeting `high`
        rows = table[table["arm"] == arm].sort_values("patient")
        assert np.isnan(rows["low_late"].to_numpy()[~responders]).all()
        k = int(later_low[responders].sum())
        if responders.any():
            assert est["estimate"] == pytest.approx(k / responders.sum())
            lo, hi = proportion_confint(k, int(responders.sum()), method="wilson")
            assert (est["lower"], est["upper"]) == pytest.approx((lo, hi), abs=1e-12)
        else:
            assert est["estimate"] is None
    treated = _arm(summary, "2 g/kg")["endpoints"]["low_late"]["estimates"]["fraction"]
    assert 0 < treated["n"] < SIZE and 0 < treated["estimate"] < 1  # a condition that bites, an outcome that varies


def _rmst_by_statsmodels(time, event, tau):
    """The area under statsmodels' Kaplan-Meier step function from 0 to tau."""
    sf = SurvfuncRight(time, event)
    knots = np.concatenate([[0.0], sf.surv_times[sf.surv_times < tau], [tau]])
    heights = np.concatenate([[1.0], sf.surv_prob[sf.surv_times < tau]])
    return float(np.sum(np.diff(knots) * heights))


@pytest.mark.parametrize("endpoint", ["blockade_gone", "below_14"])
def test_restricted_mean_time_equals_the_area_under_statsmodels_km(run, endpoint):
    trial, out, summary, table, courses = run
    censored_somewhere = False
    for arm in ("none", "2 g/kg"):
        rows = table[(table["arm"] == arm) & table[endpoint].notna()]
        time, event = rows[endpoint].to_numpy(), rows[f"{endpoint}_event"].to_numpy()
        censored_somewhere |= bool((event == 0).any())
        est = _arm(summary, arm)["endpoints"][endpoint]["estimates"]
        assert est["restricted_mean_time_day"]["estimate"] == pytest.approx(_rmst_by_statsmodels(time, event, TAU),
                                                                           rel=1e-12)
        mean = est["mean_time_day"]["estimate"]
        assert mean == (pytest.approx(time.mean()) if (event == 1).all() else None)
    if endpoint == "below_14":
        assert censored_somewhere  # the restricted mean is exercised with censoring


def test_adverse_events_per_infusion_match_a_cluster_robust_poisson_glm(run):
    trial, out, summary, table, courses = run
    rows = table[table["arm"] == "2 g/kg"]
    infusions = np.full(len(rows), 2.0)  # 2 g/kg over 2 days: two infusions each
    arm = _arm(summary, "2 g/kg")
    assert arm["adverse_event_rates"]["infusions"] == 2 * SIZE
    checked = 0
    for event, est in arm["adverse_event_rates"]["per_infusion"].items():
        counts = rows[f"ae_{event}_events"].to_numpy(float)
        assert est["estimate"] == pytest.approx(counts.sum() / infusions.sum(), rel=1e-12)
        if counts.sum() > 0 and (counts > 0).sum() < len(counts):
            fit = sm.GLM(counts, np.ones((len(counts), 1)), family=sm.families.Poisson(), exposure=infusions).fit(
                cov_type="cluster", cov_kwds={"groups": np.arange(len(counts))})
            lo, hi = np.exp(fit.conf_int()[0])
            assert (est["lower"], est["upper"]) == pytest.approx((lo, hi), rel=1e-6)
            checked += 1
        elif counts.sum() == 0:
            assert est["upper"] == pytest.approx(-np.log(0.025) / infusions.sum())
    assert checked >= 2
    untreated = _arm(summary, "none")["adverse_event_rates"]
    assert untreated["infusions"] == 0 and untreated["per_infusion"]["headache"]["estimate"] is None


def test_serious_composite(run):
    trial, out, summary, table, courses = run
    rows = table[table["arm"] == "2 g/kg"]
    p = np.column_stack([rows[f"ae_{e}_probability"] for e in SERIOUS])
    k = np.column_stack([rows[f"ae_{e}_events"] for e in SERIOUS])
    s = _arm(summary, "2 g/kg")["serious_adverse_events"]
    assert s["events"] == list(SERIOUS) and "declared grouping" in s["grouping"]
    assert s["expected_incidence"]["estimate"] == pytest.approx(np.mean(1 - np.prod(1 - p, axis=1)), rel=1e-12)
    assert s["observed_incidence"]["estimate"] == pytest.approx(np.mean(k.sum(axis=1) > 0))
    assert s["events_per_infusion"]["estimate"] == pytest.approx(k.sum() / (2 * len(rows)))


def test_subgroup_estimates_are_the_endpoint_on_the_strata_rows(run):
    trial, out, summary, table, courses = run
    endpoints = {e.name: e for e in trial.endpoints}
    for arm in ("none", "2 g/kg"):
        rows = table[table["arm"] == arm]
        groups = {g["subgroup"]: g for g in _arm(summary, arm)["subgroups"]}
        age = rows["age_years"].to_numpy()
        masks = {"age": [age < 45, (age >= 45) & (age < 60), age >= 60],
                 "sex": [rows["sex"].to_numpy() == "female", rows["sex"].to_numpy() == "male"],
                 "baseline_igg": [rows["igg0"].to_numpy() < 10, rows["igg0"].to_numpy() >= 10]}
        for name, strata in masks.items():
            got = groups[name]["strata"]
            assert [s["patients"] for s in got] == [int(m.sum()) for m in strata]
            assert sum(s["patients"] for s in got) == len(rows)
            for s, mask in zip(got, strata):
                part = rows[mask]
                if not len(part):
                    continue
                # independently: the median, the share and the mean of the stratum's rows
                assert s["endpoints"]["igg0"]["median"]["estimate"] == pytest.approx(np.median(part["igg0"]))
                assert s["endpoints"]["high"]["fraction"]["estimate"] == pytest.approx(part["high"].mean())
                assert s["endpoints"]["chg_ref"]["mean"]["estimate"] == pytest.approx(part["chg_ref"].mean())
                # and every statistic as the endpoint's own summary of those rows
                for e_name, e in endpoints.items():
                    want = {k2: v.as_dict() for k2, v in e.summarise(
                        {c: part[c].to_numpy(float) for c in e.columns()}).items()}
                    assert s["endpoints"][e_name] == want
    assert len({s["patients"] for s in groups["age"]["strata"]}) > 1


def test_streamed_summary_equals_the_in_memory_summary(run):
    trial, out, summary, table, courses = run
    whole = summarise(trial, read_patients(out, trial, summary_columns(trial)), screen_trial(trial))
    assert json.dumps(whole) == json.dumps(summary)
    files = sorted((out / "patients").glob("chunk-*.parquet"))
    assert json.dumps(summarise_files(trial, files, screen_trial(trial), buffer_bytes=1)) == json.dumps(summary)


def test_conditional_contrasts_are_unpaired(tmp_path):
    doc = _doc(contrasts=[{"arms": ["2 g/kg", "none"], "endpoints": ["high", "below_14"]}],
               subgroups=[], output={})
    doc["endpoints"][6]["given"] = "high"  # blockade_gone among responders (a time to event, conditional)
    result = run_trial(parse_trial(doc), None)
    paired = {c["endpoint"]: c["paired"] for c in result.summary["contrasts"]}
    assert paired == {"high": True, "below_14": True}
    t = parse_trial(doc)
    assert t.endpoints[6].given == "high"
    assert t.fingerprint() != parse_trial(_doc(subgroups=[], output={})).fingerprint()


BAD = [
    ("given unknown", lambda d: d["endpoints"][2].update(given="responders"), "endpoints.2.given"),
    ("given later", lambda d: d["endpoints"][0].update(given="low_late"), "endpoints.0.given"),
    ("given not 0/1", lambda d: d["endpoints"][2].update(given="igg0"), "endpoints.2.given"),
    ("tau zero", lambda d: d["endpoints"][6].update(tau=0), "endpoints.6.tau"),
    ("tau negative", lambda d: d["endpoints"][6].update(tau=-3), "endpoints.6.tau"),
    ("tau past the window", lambda d: d["endpoints"][6].update(tau=40), "endpoints.6.tau"),
    ("tau on a mean", lambda d: d["endpoints"][3].update(tau=5), "endpoints.3.tau"),
    ("reference day on a value", lambda d: d["endpoints"][1].update(reference_day=3), "endpoints.1.reference_day"),
    ("reference day past the span", lambda d: d["endpoints"][3].update(reference_day=90), "endpoints.3.reference_day"),
    ("day_of_max with a criterion", lambda d: d["endpoints"][4].update(criterion="> 3"), "endpoints.4.criterion"),
    ("day_of_max at a day", lambda d: d["endpoints"][4].update(at_day=3, window=None), "endpoints.4.at_day"),
    ("subgroup on an unknown covariate", lambda d: d["subgroups"][0].update(by="bmi"), "subgroups.0.by"),
    ("subgroup on a later value", lambda d: d["subgroups"][2].update(by="chg_ref"), "subgroups.2.by"),
    ("subgroup without cut points", lambda d: d["subgroups"][0].update(cut=[]), "subgroups.0.cut"),
    ("subgroup cut not increasing", lambda d: d["subgroups"][0].update(cut=[60, 45]), "subgroups.0.cut"),
    ("subgroup sex with cut points", lambda d: d["subgroups"][1].update(cut=[1]), "subgroups.1.cut"),
]


@pytest.mark.parametrize("label, change, field", BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_the_field(label, change, field):
    doc = _doc()
    change(doc)
    with pytest.raises(InputError) as info:
        parse_trial(doc)
    assert info.value.field == field


@pytest.mark.parametrize("label, change, field", [BAD[0], BAD[3], BAD[11]], ids=[BAD[i][0] for i in (0, 3, 11)])
def test_bad_input_is_one_line_and_exit_2(tmp_path, label, change, field):
    doc = _doc()
    change(doc)
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = CliRunner().invoke(app, ["trial", str(path), "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}:") and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_serious_composite_accumulated_equals_the_stacked_table_bit_for_bit_with_nan_rows_left_out():
    from ivigsim.trial.adverse_rates import serious, serious_parts

    rng = np.random.default_rng(3)
    n = 500
    cols = {}
    for e in SERIOUS:
        cols[f"ae_{e}_probability"] = rng.uniform(0, 0.2, n)
        cols[f"ae_{e}_events"] = (rng.random(n) < 0.1).astype(float)
    cols[f"ae_{SERIOUS[1]}_probability"][[4, 40]] = np.nan  # a failed patient's rows
    cols[f"ae_{SERIOUS[3]}_events"][7] = np.nan
    infusions = np.full(n, 2.0)
    p = np.column_stack([cols[f"ae_{e}_probability"] for e in SERIOUS])
    k = np.column_stack([cols[f"ae_{e}_events"] for e in SERIOUS])
    ok = np.isfinite(p).all(axis=1) & np.isfinite(k).all(axis=1)
    s = serious(serious_parts(cols), infusions)
    assert ok.sum() == n - 3
    assert s["expected_incidence"]["estimate"] == np.mean(1.0 - np.prod(1.0 - p[ok], axis=1))
    assert s["observed_incidence"]["estimate"] == np.mean(k[ok].sum(axis=1) > 0)
    assert s["events_per_infusion"]["estimate"] == pytest.approx(k[ok].sum() / (2.0 * ok.sum()), rel=1e-12)


def test_the_composite_columns_endpoints_read_are_the_stacked_sums_and_products():
    from ivigsim.trial.adverse_rates import composite_column

    rng = np.random.default_rng(4)
    cols = {}
    for e in SERIOUS:
        cols[f"ae_{e}_probability"] = rng.uniform(0, 0.2, 50)
        cols[f"ae_{e}_events"] = (rng.random(50) < 0.2).astype(float)
    events = np.sum([cols[f"ae_{e}_events"] for e in SERIOUS], axis=0)
    probability = 1.0 - np.prod([1.0 - cols[f"ae_{e}_probability"] for e in SERIOUS], axis=0)
    assert np.array_equal(composite_column(cols, "ae_serious_events"), events)
    assert np.array_equal(composite_column(cols, "ae_serious_probability"), probability)
