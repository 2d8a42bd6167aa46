"""Individual estimation: recovery with calibrated intervals, the same optimum by an
independent route (libRoadRunner + Nelder-Mead), MCMC against Laplace, residuals against
their definitions, forecasts and the dose for a target, and refusals of bad input."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize, stats
from typer.testing import CliRunner

from ivigsim.cli import app
from ivigsim.errors import InputError
from ivigsim.estimation.fit import fit_dataset
from ivigsim.estimation.forecast import NextDose, Target, forecast
from ivigsim.estimation.residual import ResidualError
from ivigsim.io.nonmem import parse_dataset, read_dataset
from ivigsim.subjects import SubjectSetup

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "nonmem" / "igg-cidp-patient.csv"
ESTIMATE = ["baseline_igg_g_per_L", "fcrn_igk", "plasma_volume_L_per_kg"]
PRIORS = {"plasma_volume_L_per_kg": 0.2}  # the one without a declared variability (an assumption here)
PROPORTIONAL = ResidualError("proportional", proportional=0.05)

#: One design for simulated patients: 78 kg, 78 g over 4 h every 21 days (three doses),
#: ten IgG levels (troughs, peaks and between), days.
DOSES = (0.0, 21.0, 42.0)
OBSERVED = (0.0, 0.25, 2.0, 7.0, 20.9, 21.25, 28.0, 41.9, 42.25, 62.9)


def design(dv_by_subject: list[list[float]], weight: float = 78.0) -> str:
    rows = ["ID,TIME,AMT,DUR,EVID,DV,WT"]
    for i, dvs in enumerate(dv_by_subject, start=1):
        events = [(t, 1, None) for t in DOSES] + [(t, 0, v) for t, v in zip(OBSERVED, dvs)]
        for t, evid, v in sorted(events, key=lambda e: (e[0], e[1])):  # a trough before its dose
            rows.append(f"{i},{t:g},78,{4 / 24:.6f},1,.,{weight:g}" if evid else f"{i},{t:g},.,.,0,{v:.6g},{weight:g}")
    return "\n".join(rows) + "\n"


def simulated_patients(etas: np.ndarray, seed: int) -> str:
    """Patients with known etas (rows) on the three estimated parameters, with 5 % noise."""
    placeholder = parse_dataset(design([[1.0] * len(OBSERVED)] * len(etas)), "d", "g")
    setup = SubjectSetup.create(placeholder.subjects)
    names = setup.model.model.parameter_names
    params = setup.parameters.copy()
    for k, name in enumerate(ESTIMATE):
        params[names.index(name)] *= np.exp(etas[:, k])
    predictions, status = setup.predict(params)
    assert (status == 0).all()
    rng = np.random.default_rng(seed)
    return design([PROPORTIONAL.sample(p, rng) for p in predictions])


# -- recovery ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recovery():
    """100 replicates, each a patient whose parameters are drawn from the prior (so the
    posterior's intervals should contain the truth at their nominal rate)."""
    rng = np.random.default_rng(20261201)
    omegas = np.array([math.sqrt(math.log1p(cv ** 2)) for cv in (0.219, 0.263, 0.2)])
    truth = rng.standard_normal((100, 3)) * omegas
    dataset = parse_dataset(simulated_patients(truth, seed=7), "d", "g")
    result = fit_dataset(dataset, ESTIMATE, priors=PRIORS)
    return truth, result


def test_fit_recovers_known_parameters_with_calibrated_90_percent_intervals(recovery):
    truth, result = recovery
    typical = result.fits[0].typical
    values = typical * np.exp(truth)
    lower = np.array([f.lower for f in result.fits])
    upper = np.array([f.upper for f in result.fits])
    inside = (lower <= values) & (values <= upper)
    coverage = inside.mean()
    # 300 intervals at 90 %: the binomial 99 % range is about 85-94 %; the issue asks 80-97 %.
    assert 0.80 <= coverage <= 0.97, f"coverage {coverage:.3f} per parameter {inside.mean(axis=0)}"
    assert all(f.converged for f in result.fits)
    # The data carry information: estimates are closer to the truth than the prior's centre
    # (IgK least: ten IgG levels say little about FcRn rescue at these doses).
    estimates = np.array([f.eta for f in result.fits])
    error = np.sqrt(np.mean((estimates - truth) ** 2, axis=0))
    spread = np.sqrt(np.mean(truth ** 2, axis=0))
    assert (error < 0.75 * spread).all() and error[0] < 0.25 * spread[0], (error, spread)


def test_an_individual_fit_is_fast_enough_to_run_a_hundred_in_the_suite(recovery):
    """Not a timing test: the fits take few objective evaluations (each a batch of 7)."""
    assert all(f.converged for f in recovery[1].fits)


# -- the same optimum by an independent route ---------------------------------------------------


def _roadrunner_objective(dataset, errors_sd: float):
    """-2 log posterior computed from libRoadRunner simulations of the exported SBML, with
    the prior and likelihood written out here from their textbook formulas."""
    import roadrunner

    from ivigsim.dosing import Dose, InfusionSpec, Regimen, get_product
    from ivigsim.io.sbml import export_sbml
    from ivigsim.scenario import Scenario

    subject = dataset.subjects[0]
    weight = subject.patient.weight_kg
    regimen = Regimen(tuple(Dose(d.start_day, d.amount / weight, InfusionSpec(duration_h=d.duration_day * 24))
                            for d in subject.doses), get_product("generic-10"), allow_above_label=True)
    scenario = Scenario(patient=subject.patient, regimen=regimen, days=max(r.time_day for r in subject.records))
    rr = roadrunner.RoadRunner(export_sbml(scenario))
    rr.integrator.relative_tolerance, rr.integrator.absolute_tolerance = 1e-10, 1e-12
    times = np.array([r.time_day for r in subject.observations])
    dv = np.array([r.dv for r in subject.observations])
    grid = np.unique(np.r_[0.0, times])
    typical = np.array([11.4, 5.08, 0.042])
    omega = np.sqrt(np.log1p(np.array([0.219, 0.263, 0.2]) ** 2))

    def objective(eta):
        for name, value in zip(ESTIMATE, typical * np.exp(eta)):
            rr.setValue(f"init({name})", float(value))
        rr.reset(roadrunner.SelectionRecord.ALL)
        result = rr.simulate(times=grid, selections=["time", "igg_total_g_per_L"])
        f = np.interp(times, result[:, 0], result[:, 1])
        sd = errors_sd * f
        return float(np.sum(((dv - f) / sd) ** 2 + 2 * np.log(sd) + np.log(2 * np.pi))
                     + np.sum((eta / omega) ** 2 + np.log(2 * np.pi * omega ** 2)))

    return objective


@pytest.mark.slow  # tens of seconds: runs in CI (.ci/run) and with --run-slow
def test_map_agrees_with_scipy_on_a_libroadrunner_objective():
    """Independent in everything but the optimiser's family: the model from the SBML file,
    solved by CVODE, the posterior from textbook formulas, gradients by scipy's own finite
    differences. (About 100 evaluations at 0.4 s each: setting init() values in
    libRoadRunner is the slow part.)"""
    dataset = read_dataset(EXAMPLE, "d", "g")
    ours = fit_dataset(dataset, ESTIMATE, priors=PRIORS).fits[0]
    objective = _roadrunner_objective(dataset, 0.05)
    theirs = optimize.minimize(objective, np.zeros(3), method="L-BFGS-B", options={"eps": 1e-6, "ftol": 1e-12})
    # L-BFGS-B may stop on a failed line search ("ABNORMAL") once CVODE's noise exceeds the last
    # decrease: what counts is that it stopped at a stationary point.
    assert theirs.success or np.max(np.abs(theirs.jac)) < 1e-3, theirs
    np.testing.assert_allclose(ours.eta, theirs.x, atol=2e-3)
    assert ours.objective == pytest.approx(theirs.fun, abs=1e-3)
    # ... and the optimum is a real one: the Laplace SDs are those of Nelder-Mead's curvature.
    assert objective(ours.eta) == pytest.approx(ours.objective, abs=1e-3)


# -- posterior ---------------------------------------------------------------------------------


def test_mcmc_agrees_with_the_laplace_approximation_where_the_posterior_is_near_normal():
    dataset = read_dataset(EXAMPLE, "d", "g")
    laplace = fit_dataset(dataset, ESTIMATE, priors=PRIORS).fits[0]
    mcmc = fit_dataset(dataset, ESTIMATE, priors=PRIORS, mcmc_samples=3000, seed=3).fits[0]
    assert mcmc.method == "mcmc" and 0.2 < mcmc.acceptance < 0.9
    sd = laplace.sd
    np.testing.assert_allclose(np.median(mcmc.draws, axis=0), laplace.eta, atol=0.3 * sd.max())
    np.testing.assert_allclose(mcmc.draws.std(axis=0), sd, rtol=0.3)


def test_the_example_patient_is_recovered():
    """The shipped example was simulated (examples/nonmem/README.md) with IgG 9.0 g/L,
    IgK 4.0 and plasma volume 0.047 L/kg; each lies inside its 90 % interval."""
    fit = fit_dataset(read_dataset(EXAMPLE, "d", "g"), ESTIMATE, priors=PRIORS).fits[0]
    for value, lo, hi in zip((9.0, 4.0, 0.047), fit.lower, fit.upper):
        assert lo < value < hi


# -- residuals --------------------------------------------------------------------------------


@pytest.mark.parametrize("error", ["additive:0.7", "proportional:0.1", "combined:0.5,0.05", "lognormal:0.2"])
def test_likelihood_is_the_textbook_density(error):
    model = ResidualError.parse(error)
    f = np.array([5.0, 12.0, 30.0])
    y = np.array([5.5, 11.0, 33.0])
    if model.kind == "lognormal":
        expected = stats.lognorm.logpdf(y, s=0.2, scale=f).sum()
    else:
        sd = np.sqrt(model.additive ** 2 + (model.proportional * f) ** 2)
        expected = stats.norm.logpdf(y, loc=f, scale=sd).sum()
    assert model.neg2_log_likelihood(y, f) == pytest.approx(-2 * expected, rel=1e-12)


def test_a_one_observation_wres_is_the_closed_form():
    """One observation, one parameter: WRES = (DV - PRED) / sqrt((dPRED/deta)^2 omega^2 + sd^2)."""
    text = "ID,TIME,AMT,DUR,EVID,DV,WT\n1,0,70,0.2,1,.,70\n1,7,.,.,0,18,70\n"
    dataset = parse_dataset(text, "d", "g")
    result = fit_dataset(dataset, ["baseline_igg_g_per_L"])
    columns = result.columns(len(dataset.rows))
    pred = columns["PRED"][1]
    posterior = result.posteriors[0]
    h = 1e-5
    up, down = posterior.predict(np.array([[h], [-h]]))[0][:, 0]
    slope = (up - down) / (2 * h)
    omega = posterior.omegas[0]
    assert columns["WRES"][1] == pytest.approx((18 - pred) / math.sqrt((slope * omega) ** 2 + (0.05 * pred) ** 2),
                                               rel=1e-4)
    ipred = columns["IPRED"][1]
    assert columns["IWRES"][1] == pytest.approx((18 - ipred) / (0.05 * ipred), rel=1e-9)


def test_a_fit_stopped_while_computing_its_residuals_writes_no_file(tmp_path, monkeypatch):
    """The weighted residuals are the slow part of writing (a dense covariance per subject): a
    run stopped there (here: interrupted) must leave no estimates without their dataset."""
    from ivigsim.io import fit_results

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(fit_results, "fitted_dataset", interrupted)
    out = tmp_path / "fit"
    result = CliRunner().invoke(app, ["fit", str(EXAMPLE), "--time-unit", "d", "--amount-unit", "g",
                                      "-e", ",".join(ESTIMATE), "--prior", "plasma_volume_L_per_kg=0.2",
                                      "-o", str(out), "--no-plot"])
    assert result.exit_code != 0
    assert not out.exists() or not any(out.iterdir())


def test_cli_fit_writes_dv_unchanged_and_consistent_residuals(tmp_path):
    out = tmp_path / "fit"
    result = CliRunner().invoke(app, ["fit", str(EXAMPLE), "--time-unit", "d", "--amount-unit", "g",
                                      "-e", ",".join(ESTIMATE), "--prior", "plasma_volume_L_per_kg=0.2",
                                      "-o", str(out), "--no-plot"])
    assert result.exit_code == 0, result.output
    with EXAMPLE.open(newline="") as handle:
        original = list(csv.DictReader(handle))
    with (out / "igg-cidp-patient-fit.csv").open(newline="") as handle:
        written = list(csv.DictReader(handle))
    assert len(written) == len(original)
    for before, after in zip(original, written):
        assert after["DV"] == before["DV"]
        if before["EVID"] == "0":
            dv = float(before["DV"])
            assert float(after["RES"]) == pytest.approx(dv - float(after["PRED"]), abs=1e-9)
            assert float(after["IRES"]) == pytest.approx(dv - float(after["IPRED"]), abs=1e-9)
            assert float(after["IWRES"]) == pytest.approx(float(after["IRES"]) / (0.05 * float(after["IPRED"])), rel=1e-6)
        else:
            assert after["PRED"] == after["IPRED"] == "."
    estimates = json.loads((out / "fit.json").read_text())["subjects"][0]["parameters"]
    assert set(estimates) == set(ESTIMATE)
    assert "baseline_igg_g_per_L" in result.output


# -- forecast -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example_fit():
    result = fit_dataset(read_dataset(EXAMPLE, "d", "g"), ESTIMATE, priors=PRIORS)
    return result.posteriors[0], result.fits[0]


def test_forecast_band_contains_the_truths_next_trough(example_fit):
    """The example's true parameters, simulated through a fourth dose, give a day-84 trough
    inside the forecast's 90 % band (which carries parameter uncertainty only)."""
    posterior, fit = example_fit
    result = forecast(posterior, fit, "igg_total_g_per_L", NextDose(63.0, 78.0, 4 / 24), 21.0)
    truth = np.log(np.array([9.0, 4.0, 0.047]) / fit.typical)
    trajectory = posterior.setup.solve(posterior.parameters(truth), [0], result.times, ("igg_total_g_per_L",),
                                       extra=[[NextDose(63.0, 78.0, 4 / 24).window(posterior)]]).values[0, 0]
    assert result.lower[-1] <= trajectory[-1] <= result.upper[-1]
    assert result.lower[-1] < result.median[-1] < result.upper[-1]


@pytest.mark.slow  # 2 s or more (README run under 5 minutes): in CI and with --run-slow
def test_dose_for_target_is_the_smallest_meeting_the_probability(example_fit):
    posterior, fit = example_fit
    target = Target.parse("igg_total_g_per_L>=14", posterior.setup.model.model.output_names)
    result = forecast(posterior, fit, "igg_total_g_per_L", NextDose(63.0, 78.0, 4 / 24), 21.0, target=target,
                      probability=0.9)
    dose = result.dose_for_target_g
    assert dose is not None and 10 < dose < 400

    def share(amount):
        r = forecast(posterior, fit, "igg_total_g_per_L", NextDose(63.0, amount, 4 / 24), 21.0, target=target,
                     probability=0.9)
        return r.probability_met

    assert share(dose) >= 0.9 > share(0.97 * dose)


# -- refusals -------------------------------------------------------------------------------------


def _invoke(tmp_path, text: str, *extra: str):
    data = tmp_path / "data.csv"
    data.write_text(text)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["fit", str(data), "--time-unit", "d", "--amount-unit", "g", "-o", str(out),
                                      *extra])
    return result, out


GOOD = design([[11.0, 28.0, 20.0, 17.0, 14.0, 31.0, 19.0, 15.0, 32.0, 15.0]])
BAD = {
    "unknown output": (GOOD.replace("WT\n", "WT,OUTPUT\n").replace(",78\n", ",78,.\n").replace(
        "1,7,.,.,0,17,78,.", "1,7,.,.,0,17,78,platelet"), ("-e", "fcrn_igk"), "row 5 column OUTPUT: expected one of"),
    "non-positive DV under log-normal": (GOOD.replace("1,7,.,.,0,17,78", "1,7,.,.,0,0,78"),
                                         ("-e", "fcrn_igk", "--error", "igg_total_g_per_L=lognormal:0.1"),
                                         "row 5 column DV: expected a DV > 0 under the log-normal error model"),
    "every row MDV=1": ("\n".join([GOOD.splitlines()[0].replace(",WT", ",MDV,WT")]
                                   + [line[: line.rindex(",")] + ",1" + line[line.rindex(","):]
                                      for line in GOOD.splitlines()[1:]]) + "\n",
                        ("-e", "fcrn_igk"), "data.csv: expected at least one observation"),
    "unknown parameter": (GOOD, ("-e", "fcrn_kx"), "estimate: expected names of model parameters"),
    "a switch": (GOOD, ("-e", "fcrn_saturation_strength"), "expected a parameter that may vary between patients"),
    "bounds excluding the prior": (GOOD, ("-e", "fcrn_igk", "--bounds", "fcrn_igk=6:10"),
                                   "bounds fcrn_igk: expected bounds that contain the prior's typical value 5.08"),
    "zero MCMC samples": (GOOD, ("-e", "fcrn_igk", "--mcmc", "0"), "--mcmc: expected a number of MCMC samples from 1"),
    "a billion MCMC samples": (GOOD, ("-e", "fcrn_igk", "--mcmc", "1000000000"), "--mcmc: expected a number of MCMC"),
    "negative seed": (GOOD, ("-e", "fcrn_igk", "--seed", "-1"), "--seed: expected a seed >= 0"),
    "next dose on day NaN": (GOOD, ("-e", "fcrn_igk", "--next-dose-day", "nan"), "--next-dose-day: expected a day"),
    "next dose in a billion days": (GOOD, ("-e", "fcrn_igk", "--next-dose-day", "1e9"), "--next-dose-day: expected"),
    "a horizon of a billion days": (GOOD, ("-e", "fcrn_igk", "--horizon", "1e9"), "--horizon: expected a horizon"),
    "an infinite horizon": (GOOD, ("-e", "fcrn_igk", "--horizon", "inf"), "--horizon: expected a horizon"),
    "an infinite next dose": (GOOD, ("-e", "fcrn_igk", "--next-dose-amount", "inf"), "--next-dose-amount: expected"),
    "a next dose of a billion grams": (GOOD, ("-e", "fcrn_igk", "--next-dose-amount", "1e9"),
                                       "--next-dose-amount: expected an amount from 0 to 2000"),
    "an infusion of infinite length": (GOOD, ("-e", "fcrn_igk", "--next-dose-duration", "inf"),
                                       "--next-dose-duration: expected an infusion duration"),
    "a horizon shorter than the infusion": (GOOD, ("-e", "fcrn_igk", "--next-dose-duration", "2", "--horizon", "1"),
                                            "--horizon: expected a horizon longer than the infusion"),
    "a prior on an unknown parameter": (GOOD, ("-e", "fcrn_igk", "--prior", "nope=0.2"),
                                        "prior nope: expected names of model parameters"),
    "bounds on a parameter not estimated": (GOOD, ("-e", "fcrn_igk", "--bounds", "baseline_igg_g_per_L=5:15"),
                                            "bounds baseline_igg_g_per_L: expected a parameter that is also estimated"),
    "MDV neither 0 nor 1": (GOOD.replace("WT\n", "WT,MDV\n").replace(",78\n", ",78,0\n").replace(
        "1,7,.,.,0,17,78,0", "1,7,.,.,0,17,78,5"), ("-e", "fcrn_igk"), "row 5 column MDV: expected 0"),
    "a negative IgG observed": (GOOD.replace("1,7,.,.,0,17,78", "1,7,.,.,0,-17,78"), ("-e", "fcrn_igk"),
                                "row 5 column DV: expected an observed igg_total_g_per_L >= 0"),
    "no prior for a parameter without variability": (GOOD, ("-e", "fcrn_km_g_per_L"),
                                                      "prior fcrn_km_g_per_L: expected a prior spread"),
    "malformed error model": (GOOD, ("-e", "fcrn_igk", "--error", "igg_total_g_per_L=gaussian"),
                              "--error igg_total_g_per_L: expected additive:A"),
    "error on an output not observed": (GOOD, ("-e", "fcrn_igk", "--error", "platelets_1e9_per_L=lognormal:0.3"),
                                        "error: expected an output the data observe"),
    "malformed target": (GOOD, ("-e", "fcrn_igk", "--target", "igg above 6"), "target: expected OUTPUT>=VALUE"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, case):
    text, options, message = BAD[case]
    result, out = _invoke(tmp_path, text, *options)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    assert message in result.output, result.output
    assert not out.exists()


def test_bounds_outside_the_declared_bounds_are_refused():
    dataset = parse_dataset(GOOD, "d", "g")
    with pytest.raises(InputError, match=r"bounds fcrn_igk: expected LOW < HIGH within the declared bounds \[0, 50\]"):
        fit_dataset(dataset, ["fcrn_igk"], bounds={"fcrn_igk": (1.0, 80.0)})
