"""Between-arm contrasts: each interval against an independent answer (a published worked
example, statsmodels or scipy), paired vs unpaired chosen from the design, the trial file's
contrasts section and its refusals."""

import json
import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.miscmodels.ordinal_model import OrderedModel
from statsmodels.stats.contingency_tables import Table2x2
from statsmodels.stats.proportion import confint_proportions_2indep
from typer.testing import CliRunner

from ivigsim.cli import app
from ivigsim.errors import InputError
from ivigsim.io.trial_file import parse_trial
from ivigsim.trial import contrast_statistics as cs
from ivigsim.trial.runner import run_trial
from tests.test_trial_file import small_trial

# --- intervals against published worked examples and libraries ------------------------

#: Newcombe RG, Stat Med 1998;17:873-890, Table II, method 10 (hybrid score), 95 %.
NEWCOMBE_1998A = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.0582, 0.8062)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
]


@pytest.mark.parametrize("counts, published", NEWCOMBE_1998A)
def test_risk_difference_matches_newcombe_1998_and_statsmodels(counts, published):
    e = cs.newcombe_difference(*counts)
    assert (e.lower, e.upper) == pytest.approx(published, abs=5e-5)
    lo, hi = confint_proportions_2indep(*counts, method="newcomb", compare="diff")
    assert (e.lower, e.upper) == pytest.approx((lo, hi), abs=1e-12)
    assert e.estimate == pytest.approx(counts[0] / counts[1] - counts[2] / counts[3])


def test_risk_ratio_is_katz_as_published_and_in_statsmodels():
    # Perondi 2004, 7/34 vs 1/34 (Fagerland, Lydersen & Laake 2017, ch. 4): Katz 0.9096 to 53.8695,
    # adjusted log (0.5 added) 0.9241 to 27.0523.
    e = cs.katz_ratio(7, 34, 1, 34)
    assert (e.estimate, e.lower, e.upper) == pytest.approx((7.0, 0.9096, 53.8695), abs=5e-5)
    assert (e.lower, e.upper) == pytest.approx(confint_proportions_2indep(7, 34, 1, 34, method="log", compare="ratio"))
    adjusted = cs.katz_ratio(7, 34, 1, 34, add=0.5)
    assert (adjusted.lower, adjusted.upper) == pytest.approx((0.9241, 27.0523), abs=5e-5)
    assert "0.5 added" in cs.katz_ratio(0, 16, 15, 72).method  # a zero count is corrected


@pytest.mark.parametrize("table", [(7, 34, 1, 34), (14, 40, 22, 41), (0, 16, 15, 72), (30, 30, 12, 40)])
def test_odds_ratio_is_woolf_with_half_added_to_a_zero_cell(table):
    x1, n1, x2, n2 = table
    e = cs.woolf_odds_ratio(*table)
    cells = np.array([[x1, n1 - x1], [x2, n2 - x2]], dtype=float)
    t = Table2x2(cells + 0.5 * (cells == 0).any(), shift_zeros=False)  # 0.5 added to every cell if one is 0
    assert e.estimate == pytest.approx(t.oddsratio, rel=1e-12)
    assert (e.lower, e.upper) == pytest.approx(t.oddsratio_confint(), rel=1e-12)


def test_zero_cell_odds_ratio_matches_gart_adjusted_logit():
    # (0, 16, 15, 57): Gart's adjusted logit 0.0064 to 1.9804 (Fagerland, Lydersen & Laake 2017, ch. 4)
    e = cs.woolf_odds_ratio(0, 16, 15, 72)
    assert (e.lower, e.upper) == pytest.approx((0.0064, 1.9804), abs=5e-5)


def test_paired_risk_difference_matches_the_published_example():
    # Cavo et al. 2012 as worked in Fagerland, Lydersen & Laake 2017, ch. 8 (Newcombe
    # square-and-add, paired): -0.0621 (95 % CI -0.1186 to -0.0046).
    e = cs.newcombe_paired_difference(59, 6, 16, 80)
    assert (e.estimate, e.lower, e.upper) == pytest.approx((-0.0621, -0.1186, -0.0046), abs=5e-5)


def _pairs(a, b, c, d):
    y1 = np.r_[np.ones(a), np.ones(b), np.zeros(c), np.zeros(d)]
    y2 = np.r_[np.ones(a), np.zeros(b), np.ones(c), np.zeros(d)]
    return y1, y2


@pytest.mark.parametrize("table", [(59, 6, 16, 80), (30, 12, 4, 54), (5, 9, 2, 84)])
def test_paired_ratios_are_the_delta_method_on_the_marginals(table):
    a, b, c, d = table
    y1, y2 = _pairs(*table)
    assert cs.paired_table(y1, y2) == table
    n = y1.size
    cov = np.cov(np.vstack([y1, y2]), ddof=0) / n  # covariance of the two sample means
    p = np.array([y1.mean(), y2.mean()])
    z = stats.norm.ppf(0.975)
    for fn, g, grad in ((cs.paired_ratio, np.log, lambda p: 1 / p), (cs.paired_odds_ratio,
                        lambda p: np.log(p / (1 - p)), lambda p: 1 / (p * (1 - p)))):
        gradient = np.array([grad(p[0]), -grad(p[1])])
        se = math.sqrt(gradient @ cov @ gradient)
        centre = g(p[0]) - g(p[1])
        e = fn(*table)
        assert (e.estimate, e.lower, e.upper) == pytest.approx(
            (math.exp(centre), math.exp(centre - z * se), math.exp(centre + z * se)), rel=1e-10)
    # the ratio's variance in closed form, (b + c) / ((a + b)(a + c)) (Fagerland et al. 2017, ch. 8)
    e = cs.paired_ratio(*table)
    se = math.sqrt((b + c) / ((a + b) * (a + c)))
    assert e.upper == pytest.approx((a + b) / (a + c) * math.exp(z * se), rel=1e-10)


def test_mean_differences_are_welch_and_paired_t_as_in_scipy():
    rng = np.random.default_rng(3)
    x, y = rng.normal(10, 2, 40), rng.normal(9, 4, 55)
    e = cs.welch_difference(x, y)
    ci = stats.ttest_ind(x, y, equal_var=False).confidence_interval()
    assert (e.lower, e.upper) == pytest.approx((ci.low, ci.high), rel=1e-12)
    y = x + rng.normal(0.5, 1, 40)
    e = cs.paired_mean_difference(x, y)
    ci = stats.ttest_rel(x, y).confidence_interval()
    assert (e.estimate, e.lower, e.upper) == pytest.approx((np.mean(x - y), ci.low, ci.high), rel=1e-12)


def test_common_odds_ratio_from_counts_equals_the_fit_on_every_patient():
    rng = np.random.default_rng(5)
    a = rng.integers(0, 7, 150)
    b = np.clip(rng.integers(0, 7, 170) + 1, 0, 6)
    e = cs.common_odds_ratio(cs.grade_counts(a), cs.grade_counts(b))
    y = np.r_[a, b]
    x = np.r_[np.ones(a.size), np.zeros(b.size)][:, None]
    fit = OrderedModel(y, x, distr="logit").fit(method="bfgs", disp=False, maxiter=1000, gtol=1e-8)
    lo, hi = np.exp(np.asarray(fit.conf_int())[0])
    assert (e.estimate, e.lower, e.upper) == pytest.approx((math.exp(fit.params[0]), lo, hi), rel=1e-4)
    assert e.n == 320


def test_common_odds_ratio_of_two_grades_is_the_woolf_odds_ratio():
    # With two grades the proportional-odds model is the 2 x 2 table: MLE = sample odds ratio,
    # standard error = Woolf's.
    e = cs.common_odds_ratio({0.0: 20, 1.0: 14}, {0.0: 30, 1.0: 10})
    w = cs.woolf_odds_ratio(14, 34, 10, 40)
    assert (e.estimate, e.lower, e.upper) == pytest.approx((w.estimate, w.lower, w.upper), rel=1e-6)


def test_common_odds_ratio_grades_and_refuses_what_it_cannot_estimate():
    assert cs.grade_counts(np.array([0.4, 0.6, 2.49, np.nan])) == {0.0: 1, 1.0: 1, 2.0: 1}
    assert cs.grade_counts(np.array([1.0, 5.0, 9.0]), (2.0, 5.0)) == {0.0: 1, 2.0: 2}
    assert math.isnan(cs.common_odds_ratio({1.0: 5}, {1.0: 7}).estimate)  # one grade
    assert "do not overlap" in cs.common_odds_ratio({3.0: 5}, {1.0: 7}).method
    assert "grades" in cs.common_odds_ratio({float(g): 1 for g in range(60)}, {0.0: 2}).method


# --- in a trial ----------------------------------------------------------------------------

CONTRASTS = [{"reference": "none"},
             {"arms": ["1 g/kg", "none"], "endpoint": "igg_d7", "measures": ["common_odds_ratio"],
              "cutpoints": [10, 12, 14, 16, 18]}]


@pytest.fixture(scope="module", params=["paired", "parallel"])
def design_run(request):
    doc = small_trial(size=60, design=request.param, contrasts=CONTRASTS)
    trial = parse_trial(doc)
    result = run_trial(trial)
    return request.param, trial, result


def _arms(result, endpoint_columns):
    t = result.patients
    return [{c: t[t["arm"] == a][c].to_numpy(dtype=float) for c in endpoint_columns} for a in ("1 g/kg", "none")]


def test_trial_contrasts_equal_the_intervals_on_the_per_patient_results(design_run):
    design, trial, result = design_run
    contrasts = {(c["endpoint"], m): (c, e) for c in result.summary["contrasts"] for m, e in c["estimates"].items()}
    assert all(c["paired"] == (design == "paired") for c, _ in contrasts.values())
    assert all(c["arm"] == "1 g/kg" and c["reference"] == "none" for c, _ in contrasts.values())
    treated, control = _arms(result, ["igg_d7", "change_d14", "high", "blockade_gone_event"])
    # mean difference: scipy's paired t or Welch
    _, e = contrasts[("change_d14", "mean_difference")]
    ci = (stats.ttest_rel(treated["change_d14"], control["change_d14"]) if design == "paired" else
          stats.ttest_ind(treated["change_d14"], control["change_d14"], equal_var=False)).confidence_interval()
    assert (e["lower"], e["upper"]) == pytest.approx((ci.low, ci.high), rel=1e-10)
    # risk difference: statsmodels' Newcombe (parallel) or the paired table's Newcombe interval
    _, e = contrasts[("high", "risk_difference")]
    x, y = treated["high"], control["high"]
    if design == "parallel":
        expected = confint_proportions_2indep(int(x.sum()), x.size, int(y.sum()), y.size, method="newcomb")
    else:
        ref = cs.newcombe_paired_difference(*cs.paired_table(x, y))
        expected = (ref.lower, ref.upper)
    assert (e["lower"], e["upper"]) == pytest.approx(expected, rel=1e-10)
    assert e["estimate"] == pytest.approx(x.mean() - y.mean())
    # time to event: the fraction with the event
    assert ("blockade_gone", "odds_ratio") in contrasts
    # the ordinal shift, graded at the cut points
    c, e = contrasts[("igg_d7", "common_odds_ratio")]
    grades = [np.searchsorted([10, 12, 14, 16, 18], v, side="right") for v in (treated["igg_d7"], control["igg_d7"])]
    fit = OrderedModel(np.r_[grades[0], grades[1]], np.r_[np.ones(60), np.zeros(60)][:, None],
                       distr="logit").fit(method="bfgs", disp=False, maxiter=1000, gtol=1e-8)
    assert e["estimate"] == pytest.approx(math.exp(fit.params[0]), rel=1e-4)
    assert e["estimate"] > 1  # IVIG raises IgG: higher grades in the treated arm


def test_parallel_arms_treat_other_patients_and_paired_arms_the_same(design_run):
    design, trial, result = design_run
    t = result.patients
    w = [t[t["arm"] == a]["dosing_weight_kg"].to_numpy() for a in ("none", "1 g/kg")]
    assert (design == "paired") == np.array_equal(w[0], w[1])  # the same patients, or each arm its own


def test_contrasts_are_written_and_printed(tmp_path):
    doc = small_trial(size=12, contrasts=[{"arms": ["1 g/kg", "none"], "endpoint": "high"}])
    path = tmp_path / "t.yaml"
    path.write_text(json.dumps(doc))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["trial", str(path), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    import pandas as pd

    table = pd.read_csv(out / "contrasts.csv")
    assert list(table["measure"]) == ["risk_difference", "risk_ratio", "odds_ratio"]
    summary = json.loads((out / "summary.json").read_text())
    assert table["estimate"].tolist() == pytest.approx(
        [summary["contrasts"][0]["estimates"][m]["estimate"] for m in table["measure"]])
    printed = CliRunner().invoke(app, ["trial", str(path), "--out", str(out)])  # reuses the chunks
    assert printed.exit_code == 0 and "1 g/kg vs none" in printed.output and "risk_ratio" in printed.output


def test_contrasts_and_prices_leave_the_fingerprint_alone():
    plain = parse_trial(small_trial())
    asked = parse_trial(small_trial(contrasts=[{"reference": "none"}], stewardship={"price_per_g": 50}))
    assert plain.fingerprint() == asked.fingerprint()
    assert len(asked.contrasts) == 4  # one per endpoint


BAD = [
    ("unknown arm", [{"arms": ["1 g/kg", "placebo"], "endpoint": "high"}],
     "contrasts.0.arms: expected arms of this trial (none, 1 g/kg), got 'placebo'"),
    ("unknown reference", [{"reference": "placebo"}], "contrasts.0.reference: expected an arm of this trial"),
    ("unknown endpoint", [{"arms": ["1 g/kg", "none"], "endpoint": "response"}],
     "contrasts.0.endpoint: expected an endpoint of this trial (igg_d7, high, change_d14, blockade_gone), got 'response'"),
    ("measure for another summary", [{"arms": ["1 g/kg", "none"], "endpoint": "high", "measures": ["mean_difference"]}],
     "contrasts.0.measures: expected for a fraction endpoint one of risk_difference, risk_ratio, odds_ratio"),
    ("unknown measure", [{"reference": "none", "measures": ["hazard_ratio"]}], "contrasts.0.measures: expected some of"),
    ("same arm twice", [{"arms": ["none", "none"], "endpoint": "high"}], "contrasts.0.arms: expected two different arms"),
    ("three arms", [{"arms": ["none", "1 g/kg", "none"]}], "contrasts.0.arms: expected two arm names"),
    ("both arms and reference", [{"arms": ["none", "1 g/kg"], "reference": "none"}],
     "contrasts.0: expected exactly one of arms"),
    ("cutpoints not increasing", [{"arms": ["1 g/kg", "none"], "endpoint": "igg_d7", "measures": ["common_odds_ratio"],
                                   "cutpoints": [3, 2]}], "contrasts.0.cutpoints: expected finite, strictly increasing"),
]


@pytest.mark.parametrize("label, contrasts, message", BAD, ids=[b[0] for b in BAD])
def test_bad_contrasts_are_one_line_naming_the_field(label, contrasts, message):
    with pytest.raises(InputError) as exc:
        parse_trial(small_trial(contrasts=contrasts))
    assert str(exc.value).startswith(message), str(exc.value)


def test_cli_refuses_a_contrast_between_arms_that_do_not_exist(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(json.dumps(small_trial(contrasts=[{"arms": ["high dose", "none"], "endpoint": "high"}])))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["trial", str(path), "--out", str(out)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "contrasts.0.arms: expected arms of this trial" in lines[0] and "'high dose'" in lines[0]
    assert "Traceback" not in result.output and not out.exists()
