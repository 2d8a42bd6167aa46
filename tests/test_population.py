"""Virtual populations: the counter-based stream, covariates, variability, screening."""

import numpy as np
import pytest
from scipy import special, stats

from ivigsim.errors import InputError
from ivigsim.model.library import compiled_core_model
from ivigsim.population import (
    BySex,
    CounterRNG,
    CovariateModel,
    CsvCovariates,
    Marginal,
    PopulationSpec,
    Variability,
    draw,
    screen,
)
from ivigsim.population.criteria import Criterion
from ivigsim.population.population import criterion_names


@pytest.fixture(scope="module")
def cm():
    return compiled_core_model()


def test_stream_is_addressed_by_patient_not_by_batch():
    rng = CounterRNG(42)
    all_at_once = rng.normal("eta", np.arange(1000), 5)
    pieces = np.concatenate([rng.normal("eta", np.arange(a, min(a + 137, 1000)), 5) for a in range(0, 1000, 137)])
    np.testing.assert_array_equal(all_at_once, pieces)
    shuffled = np.random.default_rng(0).permutation(1000)
    np.testing.assert_array_equal(rng.normal("eta", shuffled, 5), all_at_once[shuffled])
    # Offsets address later draws of the same patient.
    np.testing.assert_array_equal(rng.uniform("x", np.arange(10), 4)[:, 2:], rng.uniform("x", np.arange(10), 2, offset=2))


def test_streams_and_seeds_are_independent():
    a = CounterRNG(1).uniform("covariates", np.arange(20000), 2)
    b = CounterRNG(1).uniform("eta", np.arange(20000), 2)
    c = CounterRNG(2).uniform("covariates", np.arange(20000), 2)
    for other in (b, c):
        r = np.corrcoef(a[:, 0], other[:, 0])[0, 1]
        assert abs(r) < 4 / np.sqrt(20000)
    # Within a patient, successive draws are uncorrelated too.
    assert abs(np.corrcoef(a[:, 0], a[:, 1])[0, 1]) < 4 / np.sqrt(20000)


def test_uniforms_and_normals_have_the_right_distribution():
    rng = CounterRNG(12345)
    u = rng.uniform("u", np.arange(50000), 1)[:, 0]
    assert 0 < u.min() and u.max() < 1
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    z = rng.normal("z", np.arange(50000), 1)[:, 0]
    assert stats.kstest(z, "norm").pvalue > 1e-3


def test_bad_seed_is_refused():
    for seed in (-1, 1.5, "7", True, 2**63):
        with pytest.raises(InputError, match="seed"):
            CounterRNG(seed)


def test_covariates_reproduce_their_distributions(cm):
    """Means, spreads and correlation within sampling error (n = 40,000)."""
    model = CovariateModel(
        female_fraction=0.3,
        age_years=Marginal("normal", 50.0, 10.0, 0.0, 120.0),
        weight_kg=BySex(Marginal("lognormal", 70.0, 14.0, 1.0, 400.0), Marginal("lognormal", 85.0, 17.0, 1.0, 400.0)),
        height_cm=BySex(Marginal("normal", 160.0, 7.0, 100.0, 220.0), Marginal("normal", 175.0, 7.0, 100.0, 220.0)),
        correlations={("weight_kg", "height_cm"): 0.5, ("age_years", "weight_kg"): -0.2},
    )
    n = 40000
    cov = model.draw(CounterRNG(3), "", np.arange(n))
    female = cov.female
    p = female.mean()
    assert abs(p - 0.3) < 4 * np.sqrt(0.3 * 0.7 / n)
    age = cov.age_years
    assert abs(age.mean() - 50.0) < 4 * 10 / np.sqrt(n)
    assert abs(age.std() / 10.0 - 1) < 0.03
    men = cov.weight_kg[~female]
    assert abs(men.mean() - 85.0) < 4 * 17 / np.sqrt(men.size)
    assert abs(men.std() / 17.0 - 1) < 0.05
    # Correlation of normal scores (the copula's parameter): Spearman-like via ranks.
    h, w = cov.height_cm[~female], cov.weight_kg[~female]
    zs = stats.norm.ppf(stats.rankdata(h) / (h.size + 1)), stats.norm.ppf(stats.rankdata(w) / (w.size + 1))
    assert abs(np.corrcoef(*zs)[0, 1] - 0.5) < 0.03
    za = stats.norm.ppf(stats.rankdata(age) / (n + 1))
    zw = stats.norm.ppf(stats.rankdata(cov.weight_kg) / (n + 1))
    assert abs(np.corrcoef(za, zw)[0, 1] + 0.2) < 0.05  # weight mixes sexes: loose
    # Truncation holds.
    bounded = CovariateModel(age_years=Marginal("normal", 50, 30, 18, 65))
    a = bounded.draw(CounterRNG(3), "", np.arange(5000)).age_years
    assert a.min() >= 18 and a.max() <= 65


def test_variability_is_log_normal_with_the_given_cv_and_correlation(cm):
    v = Variability({"baseline_igg_g_per_L": 0.3, "fcrn_igk": 0.2}, {("baseline_igg_g_per_L", "fcrn_igk"): 0.6})
    spec = PopulationSpec(variability=v)
    spec.check(cm)
    n = 40000
    vp = draw(spec, cm, CounterRNG(9), np.arange(n))
    names = cm.model.parameter_names
    igg = vp.parameters[names.index("baseline_igg_g_per_L")]
    igk = vp.parameters[names.index("fcrn_igk")]
    assert abs(np.median(igg) / 11.4 - 1) < 0.01  # the typical value is the median
    cv = igg.std() / igg.mean()
    assert abs(cv - 0.3) < 0.01
    r = np.corrcoef(np.log(igg), np.log(igk))[0, 1]
    assert abs(r - 0.6) < 0.02
    np.testing.assert_array_equal(vp.parameters[names.index("body_weight_kg")], vp.covariates.weight_kg)


def test_log_normal_populations_are_unchanged_by_the_logit_scale(cm):
    # Seeded regression: values drawn by commit 24bfce8, before parameters could vary on the
    # logit scale (same stream, same draw order, same Cholesky factor).
    v = Variability({"baseline_igg_g_per_L": 0.3, "fcrn_igk": 0.2}, {("baseline_igg_g_per_L", "fcrn_igk"): 0.6})
    vp = draw(PopulationSpec(variability=v), cm, CounterRNG(9), np.array([0, 1, 2, 1000, 123456]))
    names = cm.model.parameter_names
    np.testing.assert_allclose(vp.parameters[names.index("baseline_igg_g_per_L")],
                               [5.926425076848493, 16.291353273080322, 13.166221471933707, 7.976744527329546,
                                15.395452358854731], rtol=1e-12)
    np.testing.assert_allclose(vp.parameters[names.index("fcrn_igk")],
                               [3.617089622853808, 6.28595677322525, 5.053766069068224, 4.509967033636924,
                                6.491239551957478], rtol=1e-12)


LOGIT_N = 40000


@pytest.mark.parametrize("typical, omega", [(0.3, 1.2), (0.5, 0.4), (0.97, 2.0)])
def test_logit_variability_is_logit_normal_with_the_given_omega(cm, typical, omega):
    share = "b_cell_inhibition_max"  # a share bounded by [0, 1], declared to vary on the logit scale
    assert cm.model.parameter(share).variability_scale == "logit"
    spec = PopulationSpec(variability=Variability({share: omega}), parameters={share: typical})
    spec.check(cm)
    vp = draw(spec, cm, CounterRNG(21), np.arange(LOGIT_N))
    x = vp.parameters[cm.model.parameter_names.index(share)]
    assert vp.in_bounds.all() and (x > 0).all() and (x < 1).all()
    eta = special.logit(x) - special.logit(typical)
    # Sampling tolerances, 4 standard errors: mean omega/sqrt(n), SD omega/sqrt(2n), median 1.25 omega/sqrt(n).
    assert abs(eta.mean()) < 4 * omega / np.sqrt(LOGIT_N)
    assert abs(eta.std() - omega) < 4 * omega / np.sqrt(2 * LOGIT_N)
    assert abs(special.logit(np.median(x)) - special.logit(typical)) < 4 * 1.2533 * omega / np.sqrt(LOGIT_N)
    # The whole distribution against the logit-normal CDF, Phi((logit(x) - logit(typical)) / omega).
    cdf = lambda v: stats.norm.cdf((special.logit(v) - special.logit(typical)) / omega)  # noqa: E731
    assert stats.kstest(x, cdf).pvalue > 1e-3
    # The log-normal of the same typical value and spread would be a different distribution.
    log_normal = lambda v: stats.norm.cdf(np.log(v / typical) / omega)  # noqa: E731
    assert stats.kstest(x, log_normal).pvalue < 1e-6


def test_etas_correlate_across_the_log_and_logit_scales(cm):
    v = Variability({"b_cell_inhibition_max": 1.0, "fcrn_igk": 0.3}, {("b_cell_inhibition_max", "fcrn_igk"): -0.5})
    spec = PopulationSpec(variability=v)
    spec.check(cm)
    vp = draw(spec, cm, CounterRNG(4), np.arange(LOGIT_N))
    names = cm.model.parameter_names
    share, igk = vp.parameters[names.index("b_cell_inhibition_max")], vp.parameters[names.index("fcrn_igk")]
    r = np.corrcoef(special.logit(share), np.log(igk))[0, 1]
    assert abs(r + 0.5) < 0.02
    assert abs(np.log(igk).std() - np.sqrt(np.log1p(0.3**2))) < 0.01  # the log-scale number is still a CV


@pytest.mark.parametrize("spread, typical, field, expected", [
    (0.5, None, "population.variability.fcrn_blockade", "strictly between 0 and 1"),  # default typical 0
    (0.5, 1.0, "population.parameters.fcrn_blockade", "strictly between 0 and 1"),
    (0.5, 0.0, "population.parameters.fcrn_blockade", "strictly between 0 and 1"),
    (30.0, 0.5, "population.variability.fcrn_blockade", "omega, the SD of eta on the logit scale"),
    (-0.1, 0.5, "population.variability.fcrn_blockade", "omega, the SD of eta on the logit scale"),
])
def test_logit_variability_refuses_typical_values_of_0_or_1_and_absurd_omegas(cm, spread, typical, field, expected):
    parameters = {} if typical is None else {"fcrn_blockade": typical}
    spec = PopulationSpec(variability=Variability({"fcrn_blockade": spread}), parameters=parameters)
    with pytest.raises(InputError) as info:
        spec.check(cm)
    assert str(info.value).startswith(f"{field}: expected") and expected in str(info.value), str(info.value)


def test_a_share_without_variability_may_sit_at_its_bound(cm):
    PopulationSpec(variability=Variability({"fcrn_blockade": 0.0}), parameters={"fcrn_blockade": 1.0}).check(cm)


def test_patient_is_the_same_whatever_the_batch(cm):
    spec = PopulationSpec(variability=Variability({"baseline_igg_g_per_L": 0.25}))
    rng = CounterRNG(5)
    whole = draw(spec, cm, rng, np.arange(300))
    part = draw(spec, cm, rng, np.arange(150, 160))
    np.testing.assert_array_equal(whole.parameters[:, 150:160], part.parameters)
    np.testing.assert_array_equal(whole.covariates.weight_kg[150:160], part.covariates.weight_kg)


def test_screening_keeps_candidates_in_order_and_counts_exclusions(cm):
    spec = PopulationSpec(
        variability=Variability({"baseline_igg_g_per_L": 0.3}),
        inclusion=(Criterion.parse("igg_total_g_per_L >= 11.4", "inclusion.0", criterion_names(cm)),
                   Criterion.parse("sex == female", "inclusion.1", criterion_names(cm))),
    )
    s = screen(spec, cm, CounterRNG(1), 500)
    assert len(s.candidates) == 500 and np.all(np.diff(s.candidates) > 0)
    vp = draw(spec, cm, CounterRNG(1), s.candidates)
    assert vp.covariates.female.all()
    assert (vp.parameters[cm.model.parameter_names.index("baseline_igg_g_per_L")] >= 11.4 * (1 - 1e-12)).all()
    # About a quarter qualify (half are women, half of those above the median IgG).
    assert 0.2 < 500 / s.screened < 0.3
    assert sum(s.failed.values()) >= s.screened - 500
    # The kept list does not depend on the screening block size.
    small = screen(spec, cm, CounterRNG(1), 500, block=97)
    np.testing.assert_array_equal(small.candidates, s.candidates)
    assert small.screened == s.screened and small.failed == s.failed


def test_criteria_nobody_meets_are_refused(cm):
    spec = PopulationSpec(inclusion=(Criterion.parse("age_years > 200", "population.inclusion.0", criterion_names(cm)),))
    with pytest.raises(InputError, match="population.inclusion: expected criteria some candidates meet"):
        screen(spec, cm, CounterRNG(1), 10)


@pytest.mark.parametrize("text", ["igg >= 5", "igg_total_g_per_L => 5", "igg_total_g_per_L >= five", "sex > female", 3])
def test_bad_criteria_are_refused(cm, text):
    with pytest.raises(InputError, match="inclusion"):
        Criterion.parse(text, "inclusion.0", criterion_names(cm))


def test_variability_on_unknown_or_fixed_parameters_is_refused(cm):
    for cv, match in (({"nope": 0.2}, "names of model parameters"), ({"body_weight_kg": 0.2}, "may vary"),
                      ({"fcrn_igk": -0.1}, "coefficient of variation")):
        with pytest.raises(InputError, match=match):
            Variability(cv).check(cm.model)
    with pytest.raises(InputError, match="positive-definite"):
        Variability({"fcrn_igk": 0.2, "baseline_igg_g_per_L": 0.2, "fcrn_km_g_per_L": 0.2},
                    {("fcrn_igk", "baseline_igg_g_per_L"): 0.95, ("fcrn_igk", "fcrn_km_g_per_L"): 0.95,
                     ("baseline_igg_g_per_L", "fcrn_km_g_per_L"): -0.95}).check(cm.model)


def test_csv_covariates_resample_and_in_order(tmp_path):
    path = tmp_path / "patients.csv"
    path.write_text("weight_kg,sex,age_years,height_cm\n60,female,30,165\n90,male,60,\n75,female,45,170\n")
    table = CsvCovariates.read(path)
    cov = table.draw(CounterRNG(1), "", np.arange(3000))
    assert set(np.unique(cov.weight_kg)) == {60.0, 75.0, 90.0}
    counts = np.array([(cov.weight_kg == w).sum() for w in (60.0, 75.0, 90.0)])
    assert (abs(counts - 1000) < 4 * np.sqrt(3000 * (1 / 3) * (2 / 3))).all()
    in_order = CsvCovariates.read(path, "in_order").draw(CounterRNG(1), "", np.arange(3))
    np.testing.assert_array_equal(in_order.weight_kg, [60.0, 90.0, 75.0])
    assert np.isnan(in_order.height_cm[1])
    bad = tmp_path / "bad.csv"
    bad.write_text("weight_kg,sex\n60,female\n900,male\n")
    with pytest.raises(InputError, match="row 3 weight_kg"):
        CsvCovariates.read(bad)
