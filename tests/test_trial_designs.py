"""Trial designs: mixed populations (sub-populations with shares) and children's weight and
height from a growth reference, each against an independent answer."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom
from typer.testing import CliRunner

from ivigsim.errors import InputError
from ivigsim.io.trial_file import load_trial, parse_trial
from ivigsim.population import CounterRNG
from ivigsim.population.covariates import CovariateModel, Marginal
from ivigsim.population.growth import growth_reference
from ivigsim.trial.runner import read_patients, run_trial, screen_trial
from tests.test_trial_file import small_trial

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "trials" / "itp-adults-and-children-mixed.yaml"


def mixed_doc(**changes) -> dict:
    doc = small_trial(size=40, design="parallel", disease="none")
    doc["population"] = {"subpopulations": [
        {"name": "adults", "share": 0.6, "variability": {"fcrn_km_g_per_L": 0.2}, "inclusion": ["igg_total_g_per_L >= 6"]},
        {"name": "children", "share": 0.4, "disease": "itp",
         "covariates": {"growth_reference": "cdc2000", "age_years": {"distribution": "uniform", "lower": 2, "upper": 10}}},
    ]}
    doc.update(changes)
    return doc


# --- mixed populations ------------------------------------------------------------------------

def test_shares_of_the_trials_patients_are_binomial():
    """Each patient's sub-population is drawn with the shares, whatever inclusion excludes: the
    count is binomial(size, share); checked against its two-sided 99.9 % interval."""
    doc = mixed_doc(size=20_000, design="paired")
    doc["population"]["subpopulations"][0]["inclusion"] = ["igg_total_g_per_L >= 9"]  # excludes many adults
    trial = parse_trial(doc)
    screening = screen_trial(trial)[0]
    n_adults = int((screening.groups == 0).sum())
    lo, hi = binom.ppf([0.0005, 0.9995], 20_000, 0.6)
    assert lo <= n_adults <= hi, (n_adults, lo, hi)
    assert screening.counts() == [len(s.candidates) for s in screening.screenings]
    # each patient is the next included candidate of its own sub-population, in order
    for g, s in enumerate(screening.screenings):
        assert np.array_equal(screening.candidates[screening.groups == g], s.candidates)


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    trial = parse_trial(mixed_doc())
    out = tmp_path_factory.mktemp("mixed")
    result = run_trial(trial, out, chunk_size=40)
    return trial, read_patients(out, trial).sort_values(["arm", "patient"]).reset_index(drop=True), result.summary


@pytest.mark.parametrize("chunk_size", [7, 16])
def test_a_mixed_trial_does_not_depend_on_the_chunking(mixed_run, chunk_size, tmp_path):
    trial, patients, summary = mixed_run
    result = run_trial(trial, tmp_path, chunk_size=chunk_size)
    again = read_patients(tmp_path, trial).sort_values(["arm", "patient"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(again, patients, check_exact=True)
    assert result.summary == summary
    memory = run_trial(trial, None, chunk_size=chunk_size)
    assert memory.summary == summary


def test_each_patient_is_solved_with_its_sub_populations_disease(mixed_run):
    trial, patients, summary = mixed_run
    children = patients[patients["subpopulation"] == "children"]
    adults = patients[patients["subpopulation"] == "adults"]
    assert children["age_years"].between(2, 10).all() and adults["age_years"].min() >= 18
    assert len(children) + len(adults) == len(patients)
    # parallel design: each arm has its own patients
    a, b = (patients[patients["arm"] == arm.name]["weight_kg"].to_numpy() for arm in trial.arms)
    assert not np.array_equal(a, b)
    assert [s["disease"] for s in summary["subpopulations"]] == ["none", "itp"]


def test_summaries_per_sub_population_are_those_of_its_patients(mixed_run):
    """Independent answer: numpy on the per-patient table, sub-population by sub-population."""
    trial, patients, summary = mixed_run
    for arm in summary["arms"]:
        rows = patients[patients["arm"] == arm["arm"]]
        for sub in arm["subpopulations"]:
            mine = rows[rows["subpopulation"] == sub["subpopulation"]]
            assert sub["patients"] == len(mine)
            est = sub["endpoints"]
            assert est["igg_d7"]["estimates"]["median"]["estimate"] == pytest.approx(np.median(mine["igg_d7"]))
            assert est["high"]["estimates"]["fraction"]["estimate"] == pytest.approx(mine["high"].mean())
            assert est["change_d14"]["estimates"]["mean"]["estimate"] == pytest.approx(mine["change_d14"].mean())


def test_the_mixed_example_runs_and_reports_per_sub_population(tmp_path):
    trial = load_trial(EXAMPLE)
    assert [g.disease for g in trial.groups()] == ["itp", "itp-childhood"]
    result = run_trial(replace(trial, size=60), tmp_path / "out", chunk_size=32)
    for arm in result.summary["arms"]:
        assert arm["failed"] == 0
        assert sum(s["patients"] for s in arm["subpopulations"]) == 60


# --- children: the growth reference -------------------------------------------------------------

# Published CDC 2000 percentiles (wtage.csv / statage.csv, columns P3, P50, P97), as printed by
# the CDC, not computed from the LMS table: (measure, female, age in months, P3, P50, P97).
CDC_PERCENTILES = [
    ("weight_kg", False, 36.5, 11.81842214, 14.40262749, 18.04570363),
    ("weight_kg", False, 60.5, 14.85692044, 18.48592413, 24.46169255),
    ("weight_kg", False, 120.5, 24.19264433, 32.08799062, 49.41515104),
    ("weight_kg", True, 72.5, 16.01186303, 20.33635961, 28.92161906),
    ("weight_kg", True, 120.5, 23.99142774, 33.06392318, 51.42912799),
    ("height_cm", True, 120.5, 125.9599043, 138.2111552, 151.2919534),
]


@pytest.mark.parametrize("measure, female, months, p3, p50, p97", CDC_PERCENTILES)
def test_drawn_children_match_the_published_percentiles(measure, female, months, p3, p50, p97):
    """40,000 children of one age and sex: the sample 3rd, 50th and 97th percentiles must lie
    where the order statistics put the published ones (99.9 % distribution-free interval)."""
    n = 40_000
    age = months / 12
    model = CovariateModel(1.0 if female else 0.0, Marginal("uniform", lower=age, upper=age + 1e-9),
                           growth_reference="cdc2000")
    values = getattr(model.draw(CounterRNG(5), "", np.arange(n)), measure)
    ordered = np.sort(values)
    for p, published in ((0.03, p3), (0.5, p50), (0.97, p97)):
        lo, hi = binom.ppf([0.0005, 0.9995], n, p).astype(int)
        assert ordered[lo - 1] <= published <= ordered[hi], (measure, months, p, published)
        # and the reference's own quantile function gives the published number
        assert growth_reference("cdc2000").percentile(measure, age, female, p) == pytest.approx(published, rel=1e-7)


def test_children_in_a_trial_have_standard_normal_z_scores_tied_by_the_copula():
    """z-scores recomputed by the LMS formula z = ((X/M)^L - 1) / (L S) at each child's age
    are N(0, 1) for weight and height, with the covariate model's correlation (0.45)."""
    trial = parse_trial(mixed_doc(size=4000, design="paired"))
    sub = trial.groups()[1]
    cov = sub.population.covariates.draw(CounterRNG(trial.seed), "", np.arange(4000))
    ref = growth_reference("cdc2000")
    z = {}
    for measure, values in (("weight_kg", cov.weight_kg), ("height_cm", cov.height_cm)):
        out = np.empty(len(values))
        for sex, mask in (("female", cov.female), ("male", ~cov.female)):
            L, M, S = ref.tables[(measure, sex)].at(cov.age_years[mask] * 12)
            out[mask] = ((values[mask] / M) ** L - 1) / (L * S)
        z[measure] = out
        assert abs(out.mean()) < 4 / np.sqrt(4000) and abs(out.std() - 1) < 0.05
    r = np.corrcoef(z["weight_kg"], z["height_cm"])[0, 1]
    assert abs(r - 0.45) < 4 * (1 - 0.45**2) / np.sqrt(4000)


# --- bad input -----------------------------------------------------------------------------------

def _sub(i, **changes):
    def change(doc):
        doc["population"]["subpopulations"][i].update(changes)
        return doc
    return change


BAD = [
    ("shares not summing to 1", _sub(1, share=0.3), "population.subpopulations.share: expected shares that sum to 1, got '0.6 + 0.3 = 0.9'"),
    ("unknown disease", _sub(1, disease="flu"), "population.subpopulations.1.disease: expected one of the diseases"),
    ("age outside the reference", _sub(1, covariates={"growth_reference": "cdc2000",
                                                       "age_years": {"distribution": "uniform", "lower": 1, "upper": 10}}),
     "population.subpopulations.1.covariates.age_years: expected ages within the growth reference's range, 2 to 20 years"),
    ("adult ages by default", _sub(1, covariates={"growth_reference": "cdc2000"}),
     "population.subpopulations.1.covariates.age_years: expected ages within the growth reference's range"),
    ("weight beside a reference", _sub(1, covariates={"growth_reference": "cdc2000", "weight_kg": {"mean": 20, "sd": 3},
                                                       "age_years": {"distribution": "uniform", "lower": 2, "upper": 10}}),
     "population.subpopulations.1.covariates.weight_kg: expected no distribution with growth_reference"),
    ("unknown reference", _sub(1, covariates={"growth_reference": "who"}), "population.subpopulations.1.covariates.growth_reference"),
    ("bad inclusion", _sub(0, inclusion=["platelets_1e9_per_L < 50"]), "population.subpopulations.0.inclusion.0"),
    ("duplicate names", _sub(1, name="adults"), "population.subpopulations: expected sub-populations with different names"),
]


@pytest.mark.parametrize("label, change, message", BAD, ids=[b[0] for b in BAD])
def test_bad_mixed_populations_give_one_clear_line(label, change, message):
    with pytest.raises(InputError) as info:
        parse_trial(change(mixed_doc()))
    assert message in str(info.value), str(info.value)
    assert "\n" not in str(info.value)


def test_an_output_missing_from_one_sub_populations_model_is_refused():
    doc = mixed_doc(endpoints=[{"name": "p", "output": "platelets_1e9_per_L", "at_day": 7, "summary": "median"}])
    with pytest.raises(InputError, match=r"^endpoints.0.output: expected one of the model's outputs"):
        parse_trial(doc)


def test_population_fields_beside_subpopulations_are_refused():
    doc = mixed_doc()
    doc["population"]["inclusion"] = ["igg_total_g_per_L >= 6"]
    with pytest.raises(InputError, match=r"^population.inclusion: expected only risk_factors beside subpopulations"):
        parse_trial(doc)


def test_the_cli_refuses_shares_not_summing_to_1_with_exit_status_2(tmp_path):
    import yaml

    from ivigsim.cli import app

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_sub(0, share=0.7)(mixed_doc())))
    result = CliRunner().invoke(app, ["trial", str(path), "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 2
    assert result.output.strip() == ("error: population.subpopulations.share: expected shares that sum to 1, "
                                     "got '0.7 + 0.4 = 1.1'"), result.output
