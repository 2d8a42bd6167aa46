"""Population estimation: typical values and between-subject variability (omega) by a
hierarchical Bayesian model in PyMC.

ivigsim does not write its own NLME estimator. PyMC states the model and estimates it
(NUTS, with ArviZ's R-hat and ESS); ivigsim supplies one piece: a PyTensor ``Op`` that
gives the log-likelihood of every subject's observations, and its gradient, from one call
of the compiled engine for all subjects together.

The model, for estimated parameters k and subjects i (scales as in
``ivigsim.estimation.priors``: log, or logit for shares)::

    mu_k     ~ Normal(0, TYPICAL_SD)                 shift of the typical value from the
                                                     model's value, on the k-th scale
    omega_k  ~ HalfNormal(OMEGA_PRIOR_FACTOR * w_k)  w_k the declared between-subject
                                                     variability (its source) or --prior
    z_ik     ~ Normal(0, 1);  phi_ik = mu_k + omega_k z_ik     (non-centred)
      or phi_ik ~ Normal(mu_k, omega_k)                        (centred)
    value_ik = c_k exp(phi_ik)   or   logit(value_ik) = logit(c_k) + phi_ik
    y_ij     ~ the output's residual-error model around f_j(value_i)
               (``ivigsim.estimation.residual``; its SD fixed, declared or --error)

with c_k the model's value before fitting (the disease's typical value, the user's
``--parameter``), the same for every subject. The typical value is c_k exp(mu_k) (the
population median) and omega_k the SD of eta on its scale.

Priors, each an assumption stated here:

- ``TYPICAL_SD = 1``: the typical value within a factor of about 5 of the model's
  (log scale, 90 % prior mass: exp(+-1.64)); wide against every declared CV, so the data
  decide. On the logit scale 1 is as wide relative to the spread of shares.
- ``OMEGA_PRIOR_FACTOR = 2``: omega_k ~ HalfNormal(2 w_k), prior median 1.35 w_k and 95 %
  below 3.9 w_k: centred near what the literature reports for the parameter, wide
  enough for the data to move it either way.

The gradient: the log-likelihood of subject i depends only on phi_i, so the gradient is
block-diagonal. It is a central finite difference in phi (step ``GRADIENT_STEP`` at the
solver tolerance ``FIT_SOLVER``, as for individual fits, ``ivigsim.estimation.individual``),
and the value and all n (2k + 1) stencil points are one batch of the engine. A value
outside a parameter's bounds or a failed solve gives a log-likelihood of -inf (the
sampler rejects the step, counted as a divergence).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ivigsim.errors import InputError
from ivigsim.estimation.individual import (FAILED, FIT_SOLVER, GRADIENT_STEP, SubjectPosterior, fit_map,
                                          laplace_covariance)
from ivigsim.estimation.priors import Prior, build_priors
from ivigsim.estimation.residual import ResidualError
from ivigsim.model.library import get_disease
from ivigsim.subjects import Subject, SubjectSetup

#: Prior SD of mu (the typical value's shift from the model's, on its scale): an assumption.
TYPICAL_SD = 1.0
#: omega ~ HalfNormal(OMEGA_PRIOR_FACTOR x the declared spread): an assumption.
OMEGA_PRIOR_FACTOR = 2.0
#: Convergence thresholds (Vehtari et al. 2021, the values ArviZ and PyMC warn at).
RHAT_MAX = 1.01
ESS_MIN = 400


# -- the likelihood of all subjects, one engine batch ------------------------------------------------


class PopulationLikelihood:
    """log p(y | phi) summed over subjects, and its gradient in phi (n, k): one engine call."""

    def __init__(self, posteriors: Sequence[SubjectPosterior], step: float = GRADIENT_STEP):
        self.posteriors = tuple(posteriors)
        self.setup = self.posteriors[0].setup
        self.step = step
        self.k = len(self.posteriors[0].priors)
        self.calls = 0
        self._last: tuple[bytes, float, np.ndarray] | None = None

    @property
    def n(self) -> int:
        return len(self.posteriors)

    def neg2_log_likelihood(self, phi: np.ndarray) -> np.ndarray:
        """-2 log p(y_i | phi) per row of ``phi`` (K, k) for subject rows ``phi`` given as
        (n, m, k): m points per subject; returns (n, m), ``FAILED`` outside the bounds or
        after a failed solve."""
        n, m, k = phi.shape
        out = np.full((n, m), FAILED)
        columns, index, where = [], [], []
        for i, posterior in enumerate(self.posteriors):
            inside = posterior.inside(phi[i])
            if inside.any():
                columns.append(posterior.parameters(phi[i][inside]))
                index.append(np.full(int(inside.sum()), posterior.index))
                where.append((i, np.flatnonzero(inside)))
        if not columns:
            return out
        values, status = self.setup.predict(np.hstack(columns), np.concatenate(index))
        self.calls += 1
        start = 0
        for i, rows in where:
            block = np.array(values[start:start + len(rows)]).reshape(len(rows), -1)
            value = self.posteriors[i].neg2_log_likelihood(block)
            ok = (status[start:start + len(rows)] == 0) & np.isfinite(value)
            out[i, rows] = np.where(ok, value, FAILED)
            start += len(rows)
        return out

    def __call__(self, phi: np.ndarray) -> tuple[float, np.ndarray]:
        """(log p(y | phi), d/dphi) for phi (n, k); -inf and zeros where it cannot be evaluated."""
        phi = np.asarray(phi, dtype=float)
        key = phi.tobytes()
        if self._last is not None and self._last[0] == key:  # the value and gradient nodes share it
            return self._last[1], self._last[2].copy()
        k, h = self.k, self.step
        eye = h * np.eye(k)
        stencil = np.concatenate([phi[:, None, :], phi[:, None, :] + eye, phi[:, None, :] - eye], axis=1)
        f = self.neg2_log_likelihood(stencil)  # (n, 2k + 1)
        centre, plus, minus = f[:, 0], f[:, 1:k + 1], f[:, k + 1:]
        if np.any(centre >= FAILED):
            value, gradient = -math.inf, np.zeros_like(phi)
        else:
            # At a bound one side of the stencil is outside: a one-sided difference there.
            gradient = np.where((plus < FAILED) & (minus < FAILED), (plus - minus) / (2 * h),
                                np.where(plus < FAILED, (plus - centre[:, None]) / h,
                                         np.where(minus < FAILED, (centre[:, None] - minus) / h, 0.0)))
            value, gradient = float(-0.5 * centre.sum()), -0.5 * gradient
        self._last = (key, value, gradient)
        return value, gradient.copy()


def likelihood_op(likelihood: PopulationLikelihood):
    """A PyTensor Op: phi (n, k) -> (log-likelihood, its gradient). The gradient output is
    what ``grad`` returns, so a NUTS step evaluates the engine once for both."""
    import pytensor.tensor as pt
    from pytensor.graph.basic import Apply
    from pytensor.graph.op import Op

    class LogLikelihood(Op):
        __props__ = ()

        def make_node(self, phi):
            phi = pt.as_tensor_variable(phi)
            return Apply(self, [phi], [pt.dscalar(), pt.dmatrix()])

        def perform(self, node, inputs, outputs):
            value, gradient = likelihood(inputs[0])
            outputs[0][0] = np.asarray(value, dtype=float)
            outputs[1][0] = gradient

        def grad(self, inputs, output_gradients):
            # d(log-likelihood)/dphi from the second output; the gradient output itself is
            # not differentiated (NUTS needs first derivatives only).
            return [output_gradients[0] * self(inputs[0])[1]]

    return LogLikelihood()


# -- the model and its estimation ----------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """Posterior summary of one quantity per parameter (arrays of length k)."""

    median: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    rhat: np.ndarray
    ess_bulk: np.ndarray
    ess_tail: np.ndarray


@dataclass(frozen=True)
class PopulationFit:
    """Typical values and omegas with their posterior summaries, and each subject's
    posterior-mean parameters."""

    names: tuple[str, ...]
    scales: tuple[str, ...]
    model_values: np.ndarray  # (k,) c_k, the model's values before fitting
    typical: Summary
    omega: Summary
    subject_ids: tuple[str, ...]
    individual_mean: np.ndarray  # (n, k) posterior mean of each subject's values
    individual_lower: np.ndarray
    individual_upper: np.ndarray
    level: float
    draws: int
    tune: int
    chains: int
    divergences: int
    seconds: float
    parameterisation: str
    priors: tuple[Prior, ...]
    errors: Mapping[str, ResidualError]
    engine_calls: int
    idata: object = field(repr=False, default=None)  # arviz.InferenceData
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        def block(s: Summary, k: int) -> dict:
            return {"median": float(s.median[k]), "lower": float(s.lower[k]), "upper": float(s.upper[k]),
                    "rhat": float(s.rhat[k]), "ess_bulk": float(s.ess_bulk[k]), "ess_tail": float(s.ess_tail[k])}

        return {
            "method": f"PyMC NUTS, hierarchical ({self.parameterisation})", "level": self.level,
            "draws": self.draws, "tune": self.tune, "chains": self.chains, "divergences": self.divergences,
            "seconds": self.seconds, "engine_calls": self.engine_calls, "warnings": list(self.warnings),
            "errors": {o: str(e) for o, e in self.errors.items()},
            "priors": {"typical": f"mu ~ Normal(0, {TYPICAL_SD:g}) on each parameter's scale around the model's value",
                       "omega": f"HalfNormal({OMEGA_PRIOR_FACTOR:g} x declared omega)"},
            "parameters": {n: {"scale": sc, "model_value": float(c), "declared_omega": p.omega,
                               "declared_source": p.source, "typical": block(self.typical, k),
                               "omega": block(self.omega, k)}
                           for k, (n, sc, c, p) in enumerate(zip(self.names, self.scales, self.model_values,
                                                                 self.priors))},
            "subjects": [{"id": sid, "parameters": {n: {"mean": float(self.individual_mean[i, k]),
                                                        "lower": float(self.individual_lower[i, k]),
                                                        "upper": float(self.individual_upper[i, k])}
                                                    for k, n in enumerate(self.names)}}
                         for i, sid in enumerate(self.subject_ids)],
        }


@dataclass(frozen=True)
class PopulationProblem:
    """Everything the PyMC model is built from: subjects' posteriors (for their likelihood
    and parameter mapping), the estimated parameters' priors and the model's values."""

    setup: SubjectSetup
    priors: tuple[Prior, ...]
    errors: Mapping[str, ResidualError]
    posteriors: tuple[SubjectPosterior, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.priors)

    @property
    def model_values(self) -> np.ndarray:
        return self.posteriors[0].typical.copy()

    def values(self, phi: np.ndarray) -> np.ndarray:
        """Parameter values for phi (..., k) on each parameter's scale around the model's values."""
        phi = np.asarray(phi, dtype=float)
        return np.stack([p.value(c, phi[..., k]) for k, (p, c) in enumerate(zip(self.priors, self.model_values))],
                        axis=-1)


def population_problem(
    subjects_or_dataset,
    estimate: Sequence[str],
    *,
    disease: str | None = None,
    parameters: Mapping[str, float] | None = None,
    mechanisms: Mapping[str, bool | float] | None = None,
    priors: Mapping[str, float] | None = None,
    errors: Mapping[str, ResidualError] | None = None,
) -> PopulationProblem:
    """Check the data and settings and build what the model needs (no sampling yet)."""
    from ivigsim.estimation.fit import resolve_errors

    subjects: Sequence[Subject] = getattr(subjects_or_dataset, "subjects", subjects_or_dataset)
    source = getattr(subjects_or_dataset, "source", "dataset")
    observed_subjects = [s for s in subjects if s.observations]
    if len(observed_subjects) < 2:
        raise InputError(source, "at least 2 subjects with observations for a population fit (one subject: "
                         "`ivigsim fit`)", f"{len(observed_subjects)} subject(s) with observations")
    setup = SubjectSetup.create(observed_subjects, disease, parameters=parameters, mechanisms=mechanisms,
                                solver=FIT_SOLVER, source=source)
    observed = tuple(o for o in setup.model.model.output_names
                     if any(r.output == o for s in setup.subjects for r in s.observations))
    resolved = resolve_errors(observed, errors)
    built = build_priors(setup.model.model, get_disease(disease), list(estimate), priors, None)
    posteriors = tuple(SubjectPosterior(setup, i, built, resolved) for i in range(len(setup.subjects)))
    centres = np.array([p.typical for p in posteriors])
    for k, prior in enumerate(built):
        column = centres[:, k]
        if not np.allclose(column, column[0], rtol=1e-12, atol=0.0):
            differ = [s.id for s, c in zip(setup.subjects, column) if c != column[0]]
            raise InputError(f"estimate {prior.name}", "a parameter with the same value before fitting in every "
                             "subject (its population typical value is not defined when a covariate such as "
                             "BASEIGG sets it per subject)", f"different values in subject(s) {', '.join(differ[:5])}")
    return PopulationProblem(setup, built, resolved, posteriors)


def build_pymc_model(problem: PopulationProblem, *, centred: bool = True,
                     fixed_omega: Sequence[float] | None = None):
    """The hierarchical model (module docstring) as a ``pymc.Model``. ``fixed_omega``
    replaces the omega prior by fixed values (a check: omega -> 0 is a pooled fit)."""
    import pymc as pm
    import pytensor.tensor as pt

    names = list(problem.names)
    ids = [s.id for s in problem.setup.subjects]
    declared = np.array([p.omega for p in problem.priors])
    likelihood = PopulationLikelihood(problem.posteriors)
    op = likelihood_op(likelihood)
    c = problem.model_values
    with pm.Model(coords={"parameter": names, "subject": ids}) as model:
        mu = pm.Normal("mu", 0.0, TYPICAL_SD, dims="parameter")
        if fixed_omega is None:
            omega = pm.HalfNormal("omega", sigma=OMEGA_PRIOR_FACTOR * declared, dims="parameter")
        else:
            omega = pt.as_tensor_variable(np.asarray(fixed_omega, dtype=float))
        if centred:
            phi = pm.Normal("phi", mu=mu, sigma=omega, dims=("subject", "parameter"))
        else:
            z = pm.Normal("z", 0.0, 1.0, dims=("subject", "parameter"))
            phi = pm.Deterministic("phi", mu + omega * z, dims=("subject", "parameter"))
        pm.Potential("log_likelihood", op(phi)[0])
        logit = np.array([p.scale == "logit" for p in problem.priors])
        base = np.where(logit, np.log(c / np.where(logit, 1 - c, 1.0)), np.log(c))
        pm.Deterministic("typical", pt.switch(logit, pt.sigmoid(base + mu), pt.exp(base + mu)), dims="parameter")
        pm.Deterministic("individual", pt.switch(logit, pt.sigmoid(base + phi), pt.exp(base + phi)),
                         dims=("subject", "parameter"))
    model.ivigsim_likelihood = likelihood  # for counting engine calls
    return model


def _individual_modes(problem: PopulationProblem) -> tuple[np.ndarray, np.ndarray]:
    """Each subject's MAP under the declared prior and its Laplace variance (n, k): the
    individual fits of ``ivigsim.estimation.individual``, reused to start the chains near
    the posterior and to give NUTS a first mass matrix on the right scales (the subjects'
    values are known to a few per cent from their own data, the typical values to
    omega / sqrt(n)): with unit masses, early tuning spends most of its steps finding that."""
    modes, variances = [], []
    for posterior in problem.posteriors:
        if posterior.n_observations == 0:
            modes.append(np.zeros(len(problem.priors)))
            variances.append(posterior.omegas ** 2)
            continue
        result = fit_map(posterior)
        covariance, _ = laplace_covariance(posterior, np.asarray(result.x, dtype=float))
        modes.append(np.asarray(result.x, dtype=float))
        variances.append(np.minimum(np.diag(covariance), posterior.omegas ** 2))
    return np.array(modes), np.array(variances)


def _starts(problem: PopulationProblem, chains: int, seed: int, centred: bool,
            modes: np.ndarray, variances: np.ndarray) -> tuple[list[dict], dict]:
    """One start per chain around the individual modes (distinct starts keep R-hat
    meaningful; PyMC's default jitter of +-1 on every value would put some subjects outside
    their bounds), drawn from a seeded generator; and the first mass matrix's variances."""
    rng = np.random.default_rng([seed, 20261201])
    n, k = modes.shape
    declared = np.array([p.omega for p in problem.priors])
    # The spread of the modes underestimates omega (shrinkage) or overestimates it (noise):
    # a start only, kept within a factor of 3 of the declared value.
    omega0 = np.clip(modes.std(axis=0, ddof=1), declared / 3, declared * 3)
    mu0 = modes.mean(axis=0)
    starts = []
    for _ in range(chains):
        phi = modes + 0.5 * np.sqrt(variances) * rng.standard_normal((n, k))
        mu = mu0 + 0.5 * omega0 / math.sqrt(n) * rng.standard_normal(k)
        omega = omega0 * rng.uniform(0.8, 1.2, k)
        start = {"mu": mu, "omega": omega}
        start.update({"phi": phi} if centred else {"z": (phi - mu) / omega})
        starts.append(start)
    scales = {"mu": omega0 ** 2 / n, "omega_log__": np.full(k, 1.0 / (2 * n)),
              "phi" if centred else "z": variances if centred else np.minimum(variances / omega0 ** 2, 1.0)}
    return starts, scales


def _nuts(model, start: dict, scales: dict, target_accept: float):
    """NUTS with PyMC's diagonal mass-matrix adaptation, started from ``scales`` around
    ``start`` (on the sampler's unconstrained scale: log omega)."""
    import pymc as pm
    from pymc.blocking import DictToArrayBijection
    from pymc.step_methods.hmc.quadpotential import QuadPotentialDiagAdapt

    point = {("omega_log__" if name == "omega" else name): (np.log(value) if name == "omega" else value)
             for name, value in start.items()}
    names = [v.name for v in model.value_vars]
    mean = DictToArrayBijection.map({name: point[name] for name in names}).data
    diag = DictToArrayBijection.map({name: np.broadcast_to(scales[name], point[name].shape).astype(float)
                                     for name in names}).data
    # weight 10: the first guess counts as ten draws, as PyMC's own adapt_diag start does.
    potential = QuadPotentialDiagAdapt(len(mean), mean, diag, 10)
    return pm.NUTS(vars=model.value_vars, potential=potential, target_accept=target_accept)


def _summary(samples: np.ndarray, rhat: np.ndarray, ess_bulk: np.ndarray, ess_tail: np.ndarray,
             level: float) -> Summary:
    flat = samples.reshape(-1, samples.shape[-1])
    lower, median, upper = np.quantile(flat, [(1 - level) / 2, 0.5, (1 + level) / 2], axis=0)
    return Summary(median, lower, upper, np.asarray(rhat, float), np.asarray(ess_bulk, float),
                   np.asarray(ess_tail, float))


def fit_population(
    problem: PopulationProblem,
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    seed: int = 0,
    level: float = 0.9,
    centred: bool = True,
    target_accept: float = 0.9,
    progress: bool = False,
) -> PopulationFit:
    """Sample the hierarchical model with PyMC's NUTS (chains one after the other: the
    engine already uses every core) and summarise it."""
    import arviz as az
    import pymc as pm

    for name, value, least in (("draws", draws, 1), ("tune", tune, 0), ("chains", chains, 1)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < least:
            raise InputError(name, f"a whole number >= {least}", value)
    if not 0.0 < level < 1.0:
        raise InputError("level", "an interval level between 0 and 1 (0.9 = 90 %)", level)
    if not 0.5 <= target_accept < 1.0:
        raise InputError("target_accept", "a NUTS target acceptance in [0.5, 1)", target_accept)
    model = build_pymc_model(problem, centred=centred)
    started = time.perf_counter()
    starts, scales = _starts(problem, chains, seed, centred, *_individual_modes(problem))
    with model:
        idata = pm.sample(draws=draws, tune=tune, chains=chains, cores=1, random_seed=seed,
                          step=_nuts(model, starts[0], scales, target_accept), initvals=starts, progressbar=progress,
                          compute_convergence_checks=False)
    seconds = time.perf_counter() - started
    post = idata.posterior
    quantities = {}
    for var in ("typical", "omega"):
        da = post[var]
        rhat = az.rhat(post[[var]])[var].values if chains > 1 else np.full(da.shape[-1], np.nan)
        ess_bulk = az.ess(post[[var]], method="bulk")[var].values
        ess_tail = az.ess(post[[var]], method="tail")[var].values
        quantities[var] = _summary(da.values, rhat, ess_bulk, ess_tail, level)
    individual = post["individual"].values.reshape(-1, *post["individual"].shape[2:])
    lower, upper = np.quantile(individual, [(1 - level) / 2, (1 + level) / 2], axis=0)
    divergences = int(idata.sample_stats["diverging"].values.sum())
    warnings = []
    if divergences:
        warnings.append(f"{divergences} divergent transitions: try the other parameterisation "
                        "(--centred/--non-centred), more --tune, or a higher target acceptance")
    for var, s in quantities.items():
        for n, r, e in zip(problem.names, s.rhat, s.ess_bulk):
            if np.isfinite(r) and r > RHAT_MAX:
                warnings.append(f"R-hat of {var} {n} is {r:.3f} (> {RHAT_MAX}): chains disagree; sample longer")
            if e < ESS_MIN:
                warnings.append(f"bulk ESS of {var} {n} is {e:.0f} (< {ESS_MIN}): sample longer")
    return PopulationFit(
        names=problem.names, scales=tuple(p.scale for p in problem.priors), model_values=problem.model_values,
        typical=quantities["typical"], omega=quantities["omega"],
        subject_ids=tuple(s.id for s in problem.setup.subjects), individual_mean=individual.mean(axis=0),
        individual_lower=lower, individual_upper=upper, level=level, draws=draws, tune=tune, chains=chains,
        divergences=divergences, seconds=seconds, parameterisation="centred" if centred else "non-centred",
        priors=problem.priors, errors=problem.errors, engine_calls=model.ivigsim_likelihood.calls, idata=idata,
        warnings=tuple(warnings))
