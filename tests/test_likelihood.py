"""The joint calibration's likelihood (ivigsim.validation.likelihood) against scipy.stats."""

import math

import pytest
from scipy import stats

from ivigsim.validation import likelihood as lk
from ivigsim.validation.runner import ALL_TARGETS, Verdict
from ivigsim.validation.targets import Target

BY_ID = {t.id: t for t in ALL_TARGETS}


def test_counts_are_binomial_in_the_simulated_rate():
    t = BY_ID["kawasaki-caa-week2-aspirin"]  # 18/78
    assert t.counts == (18, 78)
    term = lk.term(t, 25.0)
    assert term.kind == "binomial"
    assert term.minus2_log_l == pytest.approx(-2 * stats.binom.logpmf(18, 78, 0.25), rel=1e-12)


def test_monte_carlo_error_makes_counts_beta_binomial_and_vanishes_with_it():
    t = BY_ID["cidp-responders-ivig"]  # 32/59
    p, se = 0.50, 0.02
    c = p * (1 - p) / se**2 - 1
    term = lk.term(t, 100 * p, 100 * se)
    assert term.kind == "beta-binomial"
    assert term.minus2_log_l == pytest.approx(-2 * stats.betabinom.logpmf(32, 59, p * c, (1 - p) * c), rel=1e-10)
    binomial = -2 * stats.binom.logpmf(32, 59, p)
    assert lk.term(t, 100 * p, 1e-5).minus2_log_l == pytest.approx(binomial, rel=1e-6)
    # the mixture is wider: a count far from the simulated rate becomes more likely
    far = lk.term(t, 20.0)
    assert lk.term(t, 20.0, 3.0).minus2_log_l < far.minus2_log_l


def test_simulated_rates_of_zero_or_one_are_clipped_not_infinite():
    t = BY_ID["kawasaki-caa-week7-aspirin"]
    for value in (0.0, 100.0):
        v = lk.term(t, value).minus2_log_l
        assert math.isfinite(v) and v > 50
    assert lk.term(t, 0.0).minus2_log_l == pytest.approx(-2 * stats.binom.logpmf(14, 79, lk.P_CLIP))


def test_a_published_interval_gives_a_normal_with_sd_width_over_3_92():
    t = BY_ID["mg-qmg-vs-placebo-day14"]  # -1.60 (-3.23 to 0.03)
    sd = (0.03 - -3.23) / 3.919928
    assert lk.published_sd(t) == pytest.approx(sd)
    term = lk.term(t, -1.0)
    assert term.kind == "normal"
    assert term.minus2_log_l == pytest.approx(-2 * stats.norm.logpdf(-1.0, -1.60, sd), rel=1e-12)
    # Monte Carlo variance adds to the published variance
    with_mc = lk.term(t, -1.0, 0.3)
    assert with_mc.minus2_log_l == pytest.approx(-2 * stats.norm.logpdf(-1.0, -1.60, math.hypot(sd, 0.3)), rel=1e-12)


def test_without_an_interval_the_default_band_is_read_as_a_95_percent_range():
    level = BY_ID["gbs-delta-igg-day14"]  # 7.8 g/L, +/-20 %
    assert lk.published_sd(level) == pytest.approx(0.2 * 7.8 / 1.959964)
    assert lk.term(level, 7.0).minus2_log_l == pytest.approx(
        -2 * stats.norm.logpdf(7.0, 7.8, 0.2 * 7.8 / 1.959964), rel=1e-12)
    rate = BY_ID["gbs-improved-week4"]  # 53 %, +/-10 points
    assert lk.published_sd(rate) == pytest.approx(10 / 1.959964)


def test_one_sided_targets_are_a_one_sided_penalty():
    t = BY_ID["mg-benefit-day28"]  # difference <= 0
    sd = 0.2 * 1.6 / 1.959964
    for value in (-3.0, -0.1, 0.0, 0.4):
        term = lk.term(t, value)
        assert term.kind == "one-sided"
        assert term.minus2_log_l == pytest.approx(-2 * stats.norm.logcdf((0.0 - value) / sd), rel=1e-10)
    assert lk.term(t, -3.0).minus2_log_l < 1e-6  # well inside: no penalty
    assert lk.term(t, 0.0).minus2_log_l == pytest.approx(2 * math.log(2))  # at the bound
    lower = Target("x", "q", 5.0, "day", "s", "abstract", "check", interval=(3.0, None))
    assert lk.term(lower, 2.0).minus2_log_l == pytest.approx(-2 * stats.norm.logcdf((2.0 - 3.0) / (1.0 / 1.959964)))


def test_a_direction_published_without_a_size_reads_its_stated_band():
    onset = BY_ID["mg-onset-plex-before-ivig"]  # published 0 (a direction): +/-20 % of it would be 0
    assert onset.band == 2.0 and onset.published == 0.0
    sd = 2.0 / 1.959964
    for value in (-1.0, 0.0, 0.9):
        assert lk.term(onset, value).minus2_log_l == pytest.approx(-2 * stats.norm.logcdf((0.0 - value) / sd),
                                                                   rel=1e-10)
    assert math.isfinite(lk.term(onset, 5.0).minus2_log_l)
    # Without the band the same figure would have a zero-width band (an infinite penalty past 0).
    bare = Target("y", "q", 0.0, "points", "s", "abstract", "check", interval=(None, 0.0))
    assert lk.default_band(bare) == 0.0


def test_identities_are_excluded_and_the_total_is_the_sum():
    identity = BY_ID["igg-baseline-steady"]
    with pytest.raises(ValueError):
        lk.term(identity, 11.4)
    verdicts = [Verdict(identity, 11.4), Verdict(BY_ID["gbs-delta-igg-day14"], 7.5),
                Verdict(BY_ID["kawasaki-caa-week2-aspirin"], 20.0, 18.0, 22.0)]
    b = lk.breakdown(verdicts)
    assert [t.target for t in b.terms] == ["gbs-delta-igg-day14", "kawasaki-caa-week2-aspirin"]
    assert b.total == pytest.approx(sum(t.minus2_log_l for t in b.terms))
    assert b.by_target["kawasaki-caa-week2-aspirin"] == pytest.approx(lk.term(verdicts[2].target, 20.0, 4 / 3.919928).minus2_log_l)
    assert "total" in b.table() and b.as_dict()["total"] == b.total


def test_simulated_se_comes_from_the_verdicts_interval():
    assert lk.simulated_se(10.0, 13.919928) == pytest.approx(1.0)
    assert lk.simulated_se(float("nan"), float("nan")) == 0.0


def test_a_perfect_hit_is_more_likely_than_a_miss_and_residuals_say_which_way():
    for tid, hit, miss in (("mg-qmg-vs-placebo-day14", -1.6, -0.5), ("kawasaki-caa-week2-aspirin", 100 * 18 / 78, 35.0),
                           ("gbs-improved-week4", 53.0, 40.0)):
        t = BY_ID[tid]
        assert lk.term(t, hit).minus2_log_l < lk.term(t, miss).minus2_log_l
        assert abs(lk.term(t, hit).residual) < 1e-6
        assert math.copysign(1, lk.term(t, miss).residual) == math.copysign(1, miss - hit)
    # a normal term's residual squared is its excess over a perfect hit
    t = BY_ID["gbs-delta-igg-day14"]
    assert lk.term(t, 7.0).residual ** 2 == pytest.approx(lk.term(t, 7.0).minus2_log_l - lk.term(t, 7.8).minus2_log_l)


def test_a_failed_simulation_is_infinitely_unlikely():
    for tid in ("mg-qmg-vs-placebo-day14", "kawasaki-caa-week2-aspirin", "mg-benefit-day28"):
        assert lk.term(BY_ID[tid], float("nan")).minus2_log_l == math.inf
