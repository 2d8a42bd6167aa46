"""Individual Bayesian estimation: one subject's parameters from their own observations.

The posterior of the etas (``ivigsim.estimation.priors``) given a subject's observations is

    -2 log p(eta | y) = sum_j -2 log p(y_j | f_j(eta)) + sum_k (eta_k / omega_k)^2 + const

with ``f_j`` the model's prediction of record j's output (``SubjectSetup.predict``) and
``p(y | f)`` the output's residual-error model (``ivigsim.estimation.residual``).

- **MAP**: the posterior mode, by L-BFGS-B (scipy) on eta within the parameters' bounds.
  Its gradient is a central finite difference whose 2d + 1 evaluations are one call of the
  compiled engine (d parameters = 2d + 1 patients in one batch), at tight tolerances
  (rtol 1e-8) so differences of 1e-4 in eta are well above the solver's error.
- **Laplace**: the posterior approximated by a normal at the mode with the inverse Hessian
  of -log p as covariance (the Hessian by central second differences, one batch again).
  Intervals on eta map to intervals on the parameter through the monotone transform.
- **MCMC** (on request): emcee's affine-invariant ensemble sampler, every walker of a step
  solved in one batch (``vectorize=True``), started around the mode.

Posterior draws (MCMC samples, else draws from the Laplace normal) give the posterior
predictive bands and the forecasts (``ivigsim.estimation.forecast``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, stats

from ivigsim.engine.compiled import Auto
from ivigsim.errors import InputError
from ivigsim.estimation.priors import Prior, check_prior_within_bounds
from ivigsim.estimation.residual import ResidualError
from ivigsim.subjects import SubjectSetup

#: Solver for estimation: finite differences of 1e-4 in eta need predictions accurate to
#: well below that (rtol 1e-8 keeps the gradient's error under about 1e-4 relative).
FIT_SOLVER = Auto(rtol=1e-8, atol=1e-10)
#: Steps of the finite differences in eta (gradient; Hessian).
GRADIENT_STEP = 1e-4
HESSIAN_STEP = 1e-3
#: A gradient of -2 log p this small (per unit of eta) is an optimum: it moves the objective
#: by under 1e-4 over a step of 0.01 in eta, far inside any interval.
GRADIENT_TOL = 1e-2
#: The value of -2 log p given to a failed solve, so the optimiser backs away from it.
FAILED = 1e10


@dataclass(frozen=True)
class SubjectPosterior:
    """The posterior of one subject's etas: everything needed to evaluate it in batches."""

    setup: SubjectSetup
    index: int
    priors: tuple[Prior, ...]
    errors: Mapping[str, ResidualError]

    def __post_init__(self) -> None:
        subject = self.setup.subjects[self.index]
        names = self.setup.model.model.parameter_names
        object.__setattr__(self, "_rows", np.array([names.index(p.name) for p in self.priors]))
        typical = self.setup.parameters[self._rows, self.index]
        object.__setattr__(self, "_typical", typical)
        for prior, value in zip(self.priors, typical):
            check_prior_within_bounds(prior, float(value), subject.id)
        observed = [k for k, r in enumerate(subject.records) if r.dv is not None]
        object.__setattr__(self, "_observed", np.array(observed, dtype=int))
        dv = np.array([subject.records[k].dv for k in observed], dtype=float)
        object.__setattr__(self, "_dv", dv)
        groups: dict[str, list[int]] = {}
        for position, k in enumerate(observed):
            groups.setdefault(subject.records[k].output, []).append(position)
        for output, positions in groups.items():
            if output not in self.errors:
                raise InputError("error", f"an error model for output {output} (--error {output}=proportional:0.1; "
                                 "see docs/estimation.md)", "none")
            self.errors[output].check_observations(
                dv[positions], [f"{self.setup.source_name} row {subject.records[observed[p]].number} column DV"
                                for p in positions])
        object.__setattr__(self, "_groups", {o: np.array(p) for o, p in groups.items()})
        bounds = [p.eta_bounds(float(t)) for p, t in zip(self.priors, typical)]
        object.__setattr__(self, "_eta_bounds", bounds)

    # -- what it is made of -----------------------------------------------------------
    @property
    def subject(self):
        return self.setup.subjects[self.index]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.priors)

    @property
    def typical(self) -> np.ndarray:
        return self._typical

    @property
    def omegas(self) -> np.ndarray:
        return np.array([p.omega for p in self.priors])

    @property
    def eta_bounds(self) -> list[tuple[float | None, float | None]]:
        return self._eta_bounds

    @property
    def dv(self) -> np.ndarray:
        """Observed values, in the order of the observed records."""
        return self._dv

    @property
    def n_observations(self) -> int:
        return len(self._dv)

    def values(self, etas: np.ndarray) -> np.ndarray:
        """Parameter values (K, d) for etas (K, d)."""
        etas = np.atleast_2d(etas)
        return np.stack([p.value(t, etas[:, k]) for k, (p, t) in enumerate(zip(self.priors, self._typical))], axis=1)

    def parameters(self, etas: np.ndarray) -> np.ndarray:
        """Full parameter columns (P, K) for etas (K, d)."""
        etas = np.atleast_2d(etas)
        columns = np.repeat(self.setup.parameters[:, [self.index]], len(etas), axis=1)
        columns[self._rows] = self.values(etas).T
        return columns

    def inside(self, etas: np.ndarray) -> np.ndarray:
        etas = np.atleast_2d(etas)
        ok = np.ones(len(etas), dtype=bool)
        for k, (lo, hi) in enumerate(self._eta_bounds):
            if lo is not None:
                ok &= etas[:, k] >= lo
            if hi is not None:
                ok &= etas[:, k] <= hi
        return ok

    # -- evaluation -------------------------------------------------------------------
    def predict(self, etas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predictions at every record (K, n_records) and solver status (K,), one batch."""
        etas = np.atleast_2d(etas)
        values, status = self.setup.predict(self.parameters(etas), np.full(len(etas), self.index))
        return np.array(values).reshape(len(etas), -1), status

    def neg2_log_likelihood(self, predictions: np.ndarray) -> np.ndarray:
        """-2 log p(y | f) for predictions (K, n_records) at every record."""
        observed = predictions[:, self._observed]
        total = np.zeros(len(predictions))
        for output, positions in self._groups.items():
            total += self.errors[output].neg2_log_likelihood(self._dv[positions], observed[:, positions])
        return total

    def farthest_observation(self, predictions: np.ndarray) -> tuple[float, float, float] | None:
        """(|weighted residual|, DV, prediction) of the observation farthest from ``predictions``
        (one row at every record), None if a prediction there is not finite: what a fit that
        failed everywhere reports."""
        observed = predictions[self._observed]
        if not np.all(np.isfinite(observed)):
            return None
        worst = (0.0, np.nan, np.nan)
        for output, positions in self._groups.items():
            with np.errstate(all="ignore"):
                z = np.abs(self.errors[output].weighted(self._dv[positions], observed[positions]))
            z = np.where(np.isfinite(z), z, np.inf)
            k = int(np.argmax(z))
            if z[k] > worst[0]:
                worst = (float(z[k]), float(self._dv[positions][k]), float(observed[positions][k]))
        return worst

    def neg2_log_prior(self, etas: np.ndarray) -> np.ndarray:
        etas = np.atleast_2d(etas)
        return (((etas / self.omegas) ** 2) + np.log(2 * np.pi * self.omegas ** 2)).sum(axis=1)

    def objective(self, etas: np.ndarray) -> np.ndarray:
        """-2 log p(eta | y) up to a constant, per row of ``etas`` (K, d): one engine call.
        A failed solve or a value outside the bounds gives ``FAILED``."""
        etas = np.atleast_2d(etas)
        out = np.full(len(etas), FAILED)
        inside = self.inside(etas)
        if inside.any():
            predictions, status = self.predict(etas[inside])
            value = self.neg2_log_likelihood(predictions) + self.neg2_log_prior(etas[inside])
            out[inside] = np.where((status == 0) & np.isfinite(value), value, FAILED)
        return out

    def objective_and_gradient(self, eta: np.ndarray, step: float = GRADIENT_STEP) -> tuple[float, np.ndarray]:
        """The objective at ``eta`` and its central-difference gradient (2d + 1 points, one batch)."""
        d = len(eta)
        stencil = np.vstack([eta, eta + step * np.eye(d), eta - step * np.eye(d)])
        values = self.objective(stencil)
        gradient = (values[1:d + 1] - values[d + 1:]) / (2 * step)
        # At a bound one side of the stencil is outside: use the one-sided difference.
        for k in range(d):
            if values[1 + k] >= FAILED and values[0] < FAILED:
                gradient[k] = (values[0] - values[d + 1 + k]) / step
            elif values[d + 1 + k] >= FAILED and values[0] < FAILED:
                gradient[k] = (values[1 + k] - values[0]) / step
        return float(values[0]), gradient

    def hessian(self, eta: np.ndarray, step: float = HESSIAN_STEP) -> np.ndarray:
        """Central second differences of the objective at ``eta`` (one batch)."""
        d = len(eta)
        e = step * np.eye(d)
        points = [eta]
        for i in range(d):
            points += [eta + e[i], eta - e[i]]
        pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
        for i, j in pairs:
            points += [eta + e[i] + e[j], eta + e[i] - e[j], eta - e[i] + e[j], eta - e[i] - e[j]]
        f = self.objective(np.array(points))
        h = np.empty((d, d))
        for i in range(d):
            h[i, i] = (f[1 + 2 * i] - 2 * f[0] + f[2 + 2 * i]) / step ** 2
        base = 1 + 2 * d
        for n, (i, j) in enumerate(pairs):
            pp, pm, mp, mm = f[base + 4 * n: base + 4 * n + 4]
            h[i, j] = h[j, i] = (pp - pm - mp + mm) / (4 * step ** 2)
        return h


@dataclass(frozen=True)
class IndividualFit:
    """One subject's fit: the mode, its Laplace approximation, posterior draws, predictions."""

    subject_id: str
    names: tuple[str, ...]
    typical: np.ndarray  # (d,) the prior's centre (the subject's values before fitting)
    eta: np.ndarray  # (d,) at the mode
    estimate: np.ndarray  # (d,) parameter values at the mode
    covariance: np.ndarray  # (d, d) Laplace covariance of eta
    lower: np.ndarray  # (d,) interval on the parameter values
    upper: np.ndarray
    level: float
    objective: float  # -2 log posterior at the mode
    converged: bool
    message: str
    draws: np.ndarray  # (S, d) posterior draws of eta (MCMC samples or Laplace draws)
    method: str  # "laplace" or "mcmc"
    pred: np.ndarray  # (n_records,) typical prediction (eta = 0)
    ipred: np.ndarray  # (n_records,) prediction at the mode
    acceptance: float | None = None  # MCMC mean acceptance fraction
    warnings: tuple[str, ...] = field(default=())

    @property
    def sd(self) -> np.ndarray:
        return np.sqrt(np.diag(self.covariance))

    def as_dict(self) -> dict:
        return {
            "id": self.subject_id, "method": self.method, "level": self.level, "converged": self.converged,
            "objective": self.objective, "acceptance": self.acceptance, "warnings": list(self.warnings),
            "parameters": {n: {"estimate": float(e), "lower": float(lo), "upper": float(hi), "prior_typical": float(t),
                               "eta": float(eta), "eta_sd": float(s)}
                           for n, e, lo, hi, t, eta, s in zip(self.names, self.estimate, self.lower, self.upper,
                                                              self.typical, self.eta, self.sd)},
        }


def fit_map(posterior: SubjectPosterior, start: np.ndarray | None = None) -> optimize.OptimizeResult:
    """The posterior mode over eta (L-BFGS-B from the prior's mode unless ``start``)."""
    d = len(posterior.priors)
    x0 = np.zeros(d) if start is None else np.asarray(start, dtype=float)
    options = {"maxiter": 200, "ftol": 1e-10, "gtol": 1e-6}
    result = optimize.minimize(posterior.objective_and_gradient, x0, jac=True, method="L-BFGS-B",
                               bounds=posterior.eta_bounds, options=options)
    if not result.success and result.fun < FAILED:
        # A line search can fail within the finite differences' noise of the optimum: start
        # again from there, then accept a point whose projected gradient is negligible.
        result = optimize.minimize(posterior.objective_and_gradient, result.x, jac=True, method="L-BFGS-B",
                                   bounds=posterior.eta_bounds, options=options)
        if not result.success and np.max(np.abs(_projected(result.jac, result.x, posterior.eta_bounds))) < GRADIENT_TOL:
            result.success = True
            result.message = f"converged (gradient below {GRADIENT_TOL:g} after: {result.message})"
    if result.fun >= FAILED:
        _explain_failure(posterior)
    return result


def _explain_failure(posterior: SubjectPosterior) -> None:
    """Refuse a fit whose objective failed everywhere, saying why: an observation the model
    cannot come near (it solves, but the residual is beyond any likelihood), or failed solves."""
    where = f"subject {posterior.subject.id}"
    predictions, status = posterior.predict(np.zeros(len(posterior.priors)))  # at the typical values
    farthest = posterior.farthest_observation(predictions[0]) if status[0] == 0 else None
    if farthest is not None:
        z, dv, pred = farthest
        raise InputError(f"{where} DV", "observations the model can come near (check the DV's unit)",
                         f"DV {dv:.4g} where the typical parameters predict {pred:.4g}, {z:.3g} residual SDs away")
    raise InputError(where, "parameters the model can be solved with", "a failed solve at every point the optimiser tried")


def _projected(gradient: np.ndarray, x: np.ndarray, bounds) -> np.ndarray:
    """The gradient with components pushing against an active bound set to zero."""
    g = np.array(gradient, dtype=float)
    for k, (lo, hi) in enumerate(bounds):
        if (lo is not None and x[k] <= lo + 1e-12 and g[k] > 0) or (hi is not None and x[k] >= hi - 1e-12 and g[k] < 0):
            g[k] = 0.0
    return g


def laplace_covariance(posterior: SubjectPosterior, eta: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Covariance of eta from the Hessian of -log p at the mode (= half that of -2 log p).
    A Hessian that is not positive definite (a mode on a bound, a flat direction) is
    repaired by raising its eigenvalues to the prior's precision, and said so."""
    warnings = []
    h = posterior.hessian(eta) / 2.0
    h = (h + h.T) / 2.0
    values, vectors = np.linalg.eigh(h)
    floor = 1.0 / np.max(posterior.omegas) ** 2
    if not np.all(np.isfinite(values)) or values.min() <= 0:
        warnings.append("the posterior's curvature at the mode is not positive definite (a parameter at a bound "
                        "or not identified by these data); the Laplace intervals use the prior's curvature there")
        values = np.where(np.isfinite(values), np.maximum(values, floor), floor)
    return (vectors / values) @ vectors.T, warnings


def sample_mcmc(posterior: SubjectPosterior, eta: np.ndarray, covariance: np.ndarray, n_samples: int,
                rng: np.random.Generator, burn_in: int | None = None) -> tuple[np.ndarray, float]:
    """``n_samples`` posterior draws of eta by emcee (walkers solved in one batch per step)."""
    import emcee

    d = len(eta)
    walkers = max(16, 4 * d + (4 * d) % 2)
    steps = math.ceil(n_samples / walkers)
    burn_in = burn_in if burn_in is not None else max(200, steps)
    start = rng.multivariate_normal(eta, covariance * 0.25, size=walkers)
    inside = posterior.inside(start)
    start[~inside] = eta  # a start outside the bounds begins at the mode (then spreads by moves)
    start[~inside] += 1e-6 * rng.standard_normal((int((~inside).sum()), d))

    def log_probability(etas: np.ndarray) -> np.ndarray:
        value = posterior.objective(etas)
        return np.where(value >= FAILED, -np.inf, -0.5 * value)

    sampler = emcee.EnsembleSampler(walkers, d, log_probability, vectorize=True)
    # emcee draws its moves from a legacy RandomState: seed it from ours, so runs repeat.
    sampler.random_state = np.random.RandomState(int(rng.integers(2 ** 31))).get_state()
    sampler.run_mcmc(start, burn_in + steps, progress=False)
    chain = sampler.get_chain(discard=burn_in, flat=True)
    return chain[:n_samples], float(np.mean(sampler.acceptance_fraction))


def fit_subject(posterior: SubjectPosterior, *, level: float = 0.9, mcmc_samples: int | None = None,
                draws: int = 400, seed: int = 0) -> IndividualFit:
    """MAP, Laplace approximation and posterior draws for one subject."""
    if not 0.0 < level < 1.0:
        raise InputError("level", "an interval level between 0 and 1 (0.9 = 90 %)", level)
    if mcmc_samples is not None and mcmc_samples < 1:
        raise InputError("mcmc", "a number of MCMC samples >= 1", mcmc_samples)
    if posterior.n_observations == 0:
        return _prior_only(posterior, level, draws, seed)
    result = fit_map(posterior)
    eta = np.asarray(result.x, dtype=float)
    covariance, warnings = laplace_covariance(posterior, eta)
    if not result.success:
        warnings.append(f"the optimiser stopped without converging: {result.message}")
    rng = np.random.default_rng([seed, posterior.index])
    if mcmc_samples:
        samples, acceptance = sample_mcmc(posterior, eta, covariance, mcmc_samples, rng)
        method = "mcmc"
        quantiles = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2], axis=0)
        lower, upper = posterior.values(quantiles[0])[0], posterior.values(quantiles[1])[0]
    else:
        acceptance, method = None, "laplace"
        samples = rng.multivariate_normal(eta, covariance, size=draws)
        samples = samples[posterior.inside(samples)]
        z = stats.norm.ppf((1 + level) / 2)
        sd = np.sqrt(np.diag(covariance))
        lo_eta, hi_eta = eta - z * sd, eta + z * sd
        for k, (lo, hi) in enumerate(posterior.eta_bounds):
            lo_eta[k] = lo_eta[k] if lo is None else max(lo_eta[k], lo)
            hi_eta[k] = hi_eta[k] if hi is None else min(hi_eta[k], hi)
        lower, upper = posterior.values(lo_eta)[0], posterior.values(hi_eta)[0]
    predictions, _ = posterior.predict(np.vstack([np.zeros_like(eta), eta]))
    return IndividualFit(
        subject_id=posterior.subject.id, names=posterior.names, typical=posterior.typical.copy(), eta=eta,
        estimate=posterior.values(eta)[0], covariance=covariance, lower=lower, upper=upper, level=level,
        objective=float(result.fun), converged=bool(result.success), message=str(result.message), draws=samples,
        method=method, pred=predictions[0], ipred=predictions[1], acceptance=acceptance, warnings=tuple(warnings))


def _prior_only(posterior: SubjectPosterior, level: float, draws: int, seed: int) -> IndividualFit:
    """A subject without observations: the posterior is the prior."""
    d = len(posterior.priors)
    eta, covariance = np.zeros(d), np.diag(posterior.omegas ** 2)
    rng = np.random.default_rng([seed, posterior.index])
    samples = rng.multivariate_normal(eta, covariance, size=draws)
    z = stats.norm.ppf((1 + level) / 2)
    predictions, _ = posterior.predict(eta)
    return IndividualFit(
        posterior.subject.id, posterior.names, posterior.typical.copy(), eta, posterior.typical.copy(), covariance,
        posterior.values(-z * posterior.omegas)[0], posterior.values(z * posterior.omegas)[0], level, 0.0, True,
        "no observations: the prior", samples[posterior.inside(samples)], "prior", predictions[0], predictions[0],
        warnings=("no observations for this subject: its estimates are the prior",))
