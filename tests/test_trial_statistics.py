"""Endpoint statistics against hand computation, and interval coverage by simulation."""

import numpy as np
import pytest
from scipy import stats

from ivigsim.population.criteria import Threshold
from ivigsim.trial import statistics
from ivigsim.trial.endpoints import Endpoint


def test_wilson_against_hand_computation():
    # k = 7 of n = 20, z = 1.959964: centre (0.35 + z^2/40) / (1 + z^2/20), Wilson (1927).
    e = statistics.wilson(7, 20)
    z = stats.norm.ppf(0.975)
    centre = (0.35 + z * z / 40) / (1 + z * z / 20)
    half = z / (1 + z * z / 20) * np.sqrt(0.35 * 0.65 / 20 + z * z / 1600)
    assert e.estimate == pytest.approx(0.35)
    assert (e.lower, e.upper) == pytest.approx((centre - half, centre + half), rel=1e-12)
    assert (e.lower, e.upper) == pytest.approx((0.1812, 0.5671), abs=1e-4)  # published tables
    assert statistics.wilson(0, 10).lower == 0.0 and statistics.wilson(10, 10).upper == 1.0


def test_mean_t_against_hand_computation():
    x = np.array([2.0, 4.0, 4.0, 5.0, 7.0, 8.0])
    e = statistics.mean_t(x)
    half = stats.t.ppf(0.975, 5) * np.std(x, ddof=1) / np.sqrt(6)
    assert e.estimate == pytest.approx(5.0)
    assert (e.lower, e.upper) == pytest.approx((5.0 - half, 5.0 + half))


def test_median_interval_is_the_order_statistic_interval():
    x = np.arange(1.0, 21.0)[::-1]  # 20 values, unsorted
    e = statistics.quantile_interval(x, 0.5)
    assert e.estimate == pytest.approx(10.5)
    # For n = 20, q = 0.5 the 95 % distribution-free interval is (x(6), x(15)) (Hahn & Meeker, Table A.15).
    assert (e.lower, e.upper) == (6.0, 15.0)
    tiny = statistics.quantile_interval(np.array([1.0, 2.0, 3.0]), 0.5)
    assert np.isnan(tiny.lower) and np.isnan(tiny.upper)


def test_time_to_event_median_and_not_reached():
    times = np.array([1.0, 2.0, 3.0, 28.0, 28.0])
    event = np.array([True, True, True, False, False])
    out = statistics.time_to_event(times, event)
    assert out["median_time_day"].estimate == 3.0
    assert out["fraction_with_event"].estimate == pytest.approx(0.6)
    few = statistics.time_to_event(times, np.array([True, False, False, False, False]))
    assert np.isnan(few["median_time_day"].estimate)


def test_endpoint_per_patient_values_by_hand():
    ts = np.arange(0.0, 6.0)
    v = np.array([[10.0, 12.0, 15.0, 14.0, 11.0, 10.0],
                  [20.0, 19.0, 18.0, 17.0, 16.0, 15.0],
                  [5.0, 5.0, 5.0, 5.0, 5.0, np.nan]])
    at = Endpoint("e", "x", "mean", measure="change", at_day=2.0)
    np.testing.assert_array_equal(at.per_patient(ts, v, 5.0)["e"], [5.0, -2.0, np.nan])
    frac = Endpoint("f", "x", "fraction", window=(1.0, 3.0), over_window="any", criterion=Threshold.parse(">= 18.5", "c"))
    np.testing.assert_array_equal(frac.per_patient(ts, v, 5.0)["f"], [0.0, 1.0, np.nan])
    every = Endpoint("g", "x", "fraction", window=(1.0, 3.0), over_window="all", criterion=Threshold.parse(">= 14.5", "c"))
    np.testing.assert_array_equal(every.per_patient(ts, v, 5.0)["g"], [0.0, 1.0, np.nan])
    pct = Endpoint("p", "x", "median", measure="percent_change", window=(0.0, 5.0), over_window="min")
    np.testing.assert_allclose(pct.per_patient(ts, v[:2], 5.0)["p"], [0.0, -25.0])
    tte = Endpoint("t", "x", "time_to_event", window=(0.0, 5.0), criterion=Threshold.parse("<= 17", "c"))
    out = tte.per_patient(ts, v[:2], 5.0)
    np.testing.assert_array_equal(out["t"], [0.0, 3.0])  # patient 0 meets '<= 17' at baseline
    np.testing.assert_array_equal(out["t_event"], [1.0, 1.0])
    s = frac.summarise({"f": np.array([1.0, 0.0, np.nan, 1.0])})["fraction"]  # noqa
    assert (s.estimate, s.n) == (pytest.approx(2 / 3), 3)  # the failed patient (NaN) is left out


def _coverage(draw_sample, truth, estimate, replicates=400):
    hits = 0
    for r in range(replicates):
        e = estimate(draw_sample(r))
        hits += e.lower <= truth <= e.upper
    return hits / replicates


@pytest.mark.parametrize("kind", ["fraction", "mean", "median"])
def test_interval_coverage_by_simulation(kind):
    """On a case with a known answer (a log-normal endpoint, median 11.4, CV 21.9 %), each
    95 % interval covers the truth in about 95 % of 400 replicate trials of 60 patients.

    400 replicates put the observed coverage within +/- 2.2 points (1 s.d.) of the true one;
    we accept 0.91 to 0.99 (about 2 s.d. around 0.95, and order-statistic intervals are
    conservative)."""
    from ivigsim.population import CounterRNG

    omega = np.sqrt(np.log1p(0.219 ** 2))

    def sample(r):
        z = CounterRNG(1000 + r).normal("eta", np.arange(60), 1)[:, 0]
        return 11.4 * np.exp(omega * z)

    if kind == "fraction":
        cov = _coverage(sample, 0.5, lambda x: statistics.wilson(int((x >= 11.4).sum()), x.size))
    elif kind == "mean":
        cov = _coverage(sample, 11.4 * np.exp(omega ** 2 / 2), statistics.mean_t)
    else:
        cov = _coverage(sample, 11.4, lambda x: statistics.quantile_interval(x, 0.5))
    assert 0.91 <= cov <= 0.99, cov


def test_duration_endpoint_against_hand_computation():
    """Days meeting a criterion, trapezoid on the indicator; duration_if_met drops never-met patients."""
    from ivigsim.population.criteria import Threshold
    from ivigsim.trial.endpoints import Endpoint

    ts = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    values = np.array([[10.0, 60.0, 70.0, 40.0, 30.0],    # met at days 1 and 2: 0.5 + 1 + 0.5 = 2 days
                       [60.0, 60.0, 60.0, 60.0, 60.0],    # always: 4 days
                       [10.0, 10.0, 10.0, 10.0, 10.0]])   # never
    crit = Threshold.parse(">= 50", "c")
    total = Endpoint("d", "x", "median", window=(0.0, 4.0), over_window="duration", criterion=crit)
    np.testing.assert_allclose(total.per_patient(ts, values, 4.0)["d"], [2.0, 4.0, 0.0])
    met = Endpoint("d", "x", "median", window=(0.0, 4.0), over_window="duration_if_met", criterion=crit)
    out = met.per_patient(ts, values, 4.0)["d"]
    np.testing.assert_allclose(out[:2], [2.0, 4.0])
    assert np.isnan(out[2])
