"""Population estimation (``ivigsim.estimation.nlme``): PyMC's hierarchical model over
ivigsim's batched engine.

- the gradient the Op gives PyMC against PyTensor's own finite differences (verify_grad);
- with omega fixed near zero the typical values' posterior mode is the pooled fit, checked
  against pyPESTO on libRoadRunner (the exported PEtab problem: another solver, another
  optimiser, the likelihood written by PEtab);
- recovery: a simulated population with known typical values and omegas; NUTS's 90 %
  intervals contain them (a coverage study over replicates: benchmarks/nlme_benchmark.py);
- refusals: one line, exit status 2, nothing written.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("pymc")

from ivigsim.cli import app  # noqa: E402
from ivigsim.errors import InputError  # noqa: E402
from ivigsim.estimation.nlme import (PopulationLikelihood, build_pymc_model, fit_population,  # noqa: E402
                                     likelihood_op, population_problem)
from ivigsim.estimation.residual import ResidualError  # noqa: E402
from ivigsim.io.nonmem import parse_dataset  # noqa: E402
from ivigsim.subjects import SubjectSetup  # noqa: E402

ESTIMATE = ["baseline_igg_g_per_L", "plasma_volume_L_per_kg"]
#: Plasma volume has no declared between-subject variability: 20 % is an assumption, as in
#: tests/test_estimation.py.
PRIORS = {"plasma_volume_L_per_kg": 0.2}
#: A short design keeps NUTS affordable in the suite: one 2 g/kg-like dose of 70 g over 4 h
#: to a 70 kg patient, six IgG levels over three weeks (baseline, peak, decline, trough).
DOSE_G, DURATION_DAY = 70.0, 4 / 24
TIMES = (0.0, 0.25, 2.0, 7.0, 14.0, 20.9)


def design(dv_by_subject, weight: float = 70.0) -> str:
    rows = ["ID,TIME,AMT,DUR,EVID,DV,WT"]
    for i, dvs in enumerate(dv_by_subject, start=1):
        rows.append(f"{i},0,.,.,0,{dvs[0]:.6g},{weight:g}")  # the baseline before the dose
        rows.append(f"{i},0,{DOSE_G:g},{DURATION_DAY:.6f},1,.,{weight:g}")
        rows += [f"{i},{t:g},.,.,0,{v:.6g},{weight:g}" for t, v in zip(TIMES[1:], dvs[1:])]
    return "\n".join(rows) + "\n"


def simulate(phi: np.ndarray, error: ResidualError, seed: int) -> str:
    """A dataset of len(phi) subjects whose estimated parameters are model value x exp(phi)."""
    placeholder = parse_dataset(design([[1.0] * len(TIMES)] * len(phi)), "d", "g")
    setup = SubjectSetup.create(placeholder.subjects)
    names = setup.model.model.parameter_names
    params = setup.parameters.copy()
    for k, name in enumerate(ESTIMATE):
        params[names.index(name)] *= np.exp(phi[:, k])
    predictions, status = setup.predict(params)
    assert (status == 0).all()
    rng = np.random.default_rng(seed)
    return design([error.sample(p, rng) for p in predictions])


# -- the gradient PyMC receives ----------------------------------------------------------------------


def test_the_ops_gradient_agrees_with_pytensors_finite_differences():
    """PyTensor's verify_grad: its own random projection, its own finite differences of the
    Op's value (which is one engine call), against the Op's gradient."""
    from pytensor.gradient import verify_grad

    rng = np.random.default_rng(5)
    phi = rng.normal(0.0, 0.1, (3, 2))
    problem = population_problem(parse_dataset(simulate(phi, ResidualError("proportional", proportional=0.05), 1),
                                               "d", "g"), ESTIMATE, priors=PRIORS)
    likelihood = PopulationLikelihood(problem.posteriors)
    op = likelihood_op(likelihood)
    # Away from the truth, so the gradient is not near zero (a test that can fail).
    at = phi + np.array([0.05, -0.04])
    value, gradient = likelihood(at)
    assert np.isfinite(value) and np.abs(gradient).max() > 10
    verify_grad(lambda x: op(x)[0], [at], rng=np.random.default_rng(0), eps=1e-5, abs_tol=1e-3, rel_tol=1e-4)
    # ... and a value outside a parameter's bounds is -inf (the sampler rejects it), not a crash.
    outside = at.copy()
    outside[0, 1] = -50.0
    assert likelihood(outside)[0] == -np.inf


# -- the pooled limit against pyPESTO -----------------------------------------------------------------


@pytest.mark.slow  # 3 s or more (README run under 5 minutes): in CI and with --run-slow
def test_with_omega_near_zero_the_typical_values_are_pyPESTOs_pooled_fit(tmp_path):
    """omega fixed at 1e-4: every subject has the typical values, so PyMC's posterior mode
    of them (find_MAP, L-BFGS through the Op's gradient) is the pooled maximum-likelihood
    fit up to the weak prior on mu (its pull is about 1e-5 here). pyPESTO fits the same data
    as a pooled PEtab problem on libRoadRunner (log-normal error: the model pyPESTO 0.7
    evaluates correctly, ivigsim.estimation.population)."""
    pytest.importorskip("pypesto")
    import pymc as pm

    from ivigsim.estimation.population import fit_population_pypesto
    from ivigsim.io.petab import write_petab

    rng = np.random.default_rng(11)
    phi = np.array([0.2, -0.1]) + rng.normal(0.0, 0.1, (4, 2))
    lognormal = ResidualError("lognormal", proportional=0.05)
    dataset = parse_dataset(simulate(phi, lognormal, 2), "d", "g")
    errors = {"igg_total_g_per_L": lognormal}
    problem = population_problem(dataset, ESTIMATE, priors=PRIORS, errors=errors)
    model = build_pymc_model(problem, centred=False, fixed_omega=[1e-4, 1e-4])
    with model:
        mode = pm.find_MAP(progressbar=False, maxeval=500)
    ours = dict(zip(ESTIMATE, mode["typical"]))

    path = write_petab(dataset, tmp_path / "pooled", estimate=ESTIMATE, per_subject=False,
                       errors={"igg_total_g_per_L": ("lognormal", 0.0, 0.05)})
    theirs = fit_population_pypesto(path, n_starts=2, seed=0)
    for name in ESTIMATE:
        # measured: 5e-5 relative
        assert ours[name] == pytest.approx(theirs[name], rel=5e-4), (ours, theirs)
    # Not the model's values: the data moved them (the comparison is not trivially true).
    assert abs(np.log(ours["baseline_igg_g_per_L"] / problem.model_values[0])) > 0.05


# -- recovery --------------------------------------------------------------------------------------


@pytest.mark.slow  # about 50 s of CPU (4 min wall on the shared 2 cores); the rest of the file about 25 s
def test_nuts_recovers_the_typical_value_and_omega_of_a_simulated_population():
    """12 subjects whose baseline IgG is drawn with a typical value 1.2x the model's and
    omega 0.25 (plasma volume at the model's), 5 % proportional noise on six levels each:
    NUTS's 90 % intervals contain the true typical value and omega, the chains agree, and
    each subject's posterior mean is nearer its truth than the typical value. One parameter
    and short chains keep this within the suite's budget; two parameters, more subjects and
    the coverage over replicates are benchmarks/nlme_benchmark.py (docs/estimation.md)."""
    mu, omega = np.log(1.2), 0.25
    rng = np.random.default_rng(20261202)
    phi = np.zeros((12, 2))
    phi[:, 0] = mu + rng.standard_normal(12) * omega
    dataset = parse_dataset(simulate(phi, ResidualError("proportional", proportional=0.05), 3), "d", "g")
    problem = population_problem(dataset, ESTIMATE[:1])
    fit = fit_population(problem, draws=200, tune=200, chains=2, seed=1)
    truth = problem.model_values[0] * np.exp(mu)
    assert fit.typical.lower[0] <= truth <= fit.typical.upper[0], (fit.typical, truth)
    assert fit.omega.lower[0] <= omega <= fit.omega.upper[0], (fit.omega, omega)
    # Informative: 90 % of the prior mu ~ N(0, 1) spans a factor of 27; the data narrow it
    # to under 1.4, and put omega's upper end below 3x the truth.
    assert fit.typical.upper[0] / fit.typical.lower[0] < 1.4 and fit.omega.upper[0] < 3 * omega
    assert fit.typical.rhat[0] < 1.05 and fit.omega.rhat[0] < 1.05 and fit.divergences == 0
    values = problem.model_values[0] * np.exp(phi[:, 0])
    assert np.abs(np.log(fit.individual_mean[:, 0] / values)).mean() < np.abs(np.log(truth / values)).mean()


# -- refusals ---------------------------------------------------------------------------------------


GOOD = design([[11.0, 25.0, 19.0, 15.0, 13.0, 12.0], [10.0, 24.0, 18.0, 14.0, 12.5, 11.0]])


def _invoke(tmp_path, text: str, *extra: str):
    data = tmp_path / "data.csv"
    data.write_text(text)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["fit-population", str(data), "--time-unit", "d", "--amount-unit", "g",
                                      "-o", str(out), *extra])
    return result, out


ONE_SUBJECT = "\n".join(line for line in GOOD.splitlines() if not line.startswith("2,")) + "\n"
BAD = {
    "one subject": (ONE_SUBJECT, ("-e", "baseline_igg_g_per_L"),
                    "data.csv: expected at least 2 subjects with observations for a population fit"),
    "zero draws": (GOOD, ("-e", "baseline_igg_g_per_L", "--draws", "0"), "--draws: expected a whole number from 1"),
    "a trillion draws": (GOOD, ("-e", "baseline_igg_g_per_L", "--draws", "1000000000000"),
                         "--draws: expected a whole number from 1 to 100,000"),
    "one chain": (GOOD, ("-e", "baseline_igg_g_per_L", "--chains", "1"), "--chains: expected from 2 chains"),
    "a hundred thousand chains": (GOOD, ("-e", "baseline_igg_g_per_L", "--chains", "100000"),
                                  "--chains: expected from 2 chains"),
    "negative seed": (GOOD, ("-e", "baseline_igg_g_per_L", "--seed", "-1"), "--seed: expected a seed >= 0"),
    "unknown parameter": (GOOD, ("-e", "fcrn_kx"), "estimate: expected names of model parameters"),
    "no spread for the omega prior": (GOOD, ("-e", "fcrn_km_g_per_L"), "prior fcrn_km_g_per_L: expected a prior spread"),
    "level": (GOOD, ("-e", "baseline_igg_g_per_L", "--level", "90"), "--level: expected an interval level between 0"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, case):
    text, options, message = BAD[case]
    result, out = _invoke(tmp_path, text, *options)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    assert message in result.output, result.output
    assert not out.exists()


def test_a_parameter_set_per_subject_by_a_covariate_has_no_population_typical_value():
    text = GOOD.replace("ID,TIME,AMT,DUR,EVID,DV,WT", "ID,TIME,AMT,DUR,EVID,DV,WT,BASEIGG")
    text = "\n".join([text.splitlines()[0]] + [line + (",9" if line.startswith("1,") else ",12")
                                               for line in text.splitlines()[1:]]) + "\n"
    with pytest.raises(InputError, match="estimate baseline_igg_g_per_L: expected a parameter with the same value"):
        population_problem(parse_dataset(text, "d", "g"), ["baseline_igg_g_per_L"])


@pytest.mark.slow  # 2 s or more (README run under 5 minutes): in CI and with --run-slow
def test_cli_writes_the_summaries(tmp_path, monkeypatch):
    """The command's plumbing, with sampling so short its numbers mean nothing: the files,
    their columns, and the JSON's settings."""
    result, out = _invoke(tmp_path, GOOD, "-e", "baseline_igg_g_per_L", "--draws", "5", "--tune", "5", "--quiet")
    assert result.exit_code == 0, result.output
    header = (out / "population.csv").read_text().splitlines()[0]
    assert header == "parameter,quantity,median,lower,upper,level,rhat,ess_bulk,ess_tail,scale,model_value,declared_omega"
    rows = (out / "population.csv").read_text().splitlines()[1:]
    assert [r.split(",")[:2] for r in rows] == [["baseline_igg_g_per_L", "typical"], ["baseline_igg_g_per_L", "omega"]]
    assert len((out / "individual.csv").read_text().splitlines()) == 1 + 2
    document = json.loads((out / "population.json").read_text())
    assert document["chains"] == 2 and document["draws"] == 5
    assert "Valenzuela" in document["parameters"]["baseline_igg_g_per_L"]["declared_source"]
    assert (out / "posterior.nc").stat().st_size > 0
