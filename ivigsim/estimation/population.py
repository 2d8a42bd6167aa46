"""Fit a PEtab problem written by ``ivigsim.io.petab`` with pyPESTO and libRoadRunner.

The point is a second, independent estimation path: pyPESTO (optimiser, likelihood,
priors from the PEtab parameter table) driving libRoadRunner (CVODE) on the exported
SBML, where ``ivigsim.estimation``'s own fits drive ivigsim's engine. The two should
agree on the same data; where they do not, one of them has a bug.

pyPESTO's roadrunner objective has no sensitivities, so gradients are central finite
differences of the objective. For those to be meaningful the ODE must be solved much
more accurately than the finite-difference step: with a relative tolerance of 1e-10 and
a step of 1e-4 on the log scale, the error of a difference quotient is about 1e-6 of the
objective. With pyPESTO's default tolerance (1e-6) and scipy's own difference step
(1e-8), three starts of one small problem stopped at three different objective values.
Only additive and log-normal error models are accepted: pyPESTO 0.7's roadrunner
objective evaluates a noise formula that reads the model (proportional, combined) once per
condition, at the last time point (:func:`_check_noise_formulas`). Start points are drawn here, from a
seeded generator (pyPESTO's own sampling uses NumPy's global state): from the prior of a
parameter that has one (the between-subject variability of a per-subject copy), else
uniformly on the parameter scale within its bounds.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ivigsim.errors import InputError

#: libRoadRunner's CVODE tolerances for the fit (see the module docstring).
RTOL, ATOL = 1e-10, 1e-12
#: Central finite-difference step on the parameter scale (log).
FD_STEP = 1e-4


def fit_population_pypesto(yaml_path: str | Path, *, n_starts: int = 10, seed: int = 0,
                           rtol: float = RTOL, atol: float = ATOL, fd_step: float = FD_STEP,
                           max_steps: int = 100_000) -> dict[str, float]:
    """Multistart L-BFGS-B fit of the PEtab problem at ``yaml_path``; the best start's
    estimates as ``{parameterId: value}`` on the linear scale (estimated parameters only).

    ``yaml_path`` is what ``ivigsim.io.petab.write_petab`` returns (any PEtab v1 problem
    with an SBML model that pyPESTO's roadrunner backend accepts will do). Deterministic
    for a given ``seed``.
    """
    try:
        import pypesto
        import pypesto.optimize
        import pypesto.petab
        from pypesto.objective import FD
        from pypesto.objective.roadrunner import SolverOptions
    except ImportError as exc:  # pragma: no cover - an optional dependency; say how to get it
        raise ImportError("fitting with pyPESTO needs it and libRoadRunner: pip install 'ivigsim[fit]'") from exc
    if not isinstance(n_starts, int) or n_starts < 1:
        raise InputError("n_starts", "a whole number of starts >= 1", n_starts)
    path = Path(yaml_path)
    if not path.is_file():
        raise InputError("yaml_path", "the path of a PEtab problem's YAML file", str(path))

    importer = pypesto.petab.PetabImporter.from_yaml(str(path), simulator_type="roadrunner")
    _check_noise_formulas(importer.petab_problem)
    simulator = importer.create_objective_creator("roadrunner").create_objective()
    simulator.solver_options = SolverOptions(relative_tolerance=rtol, absolute_tolerance=atol,
                                             maximum_num_steps=max_steps)
    objective = FD(simulator, grad=True, hess=False, delta_fun=fd_step, method="central")
    problem = importer.create_problem(objective, x_guesses=_start_points(importer.petab_problem, n_starts, seed))
    result = pypesto.optimize.minimize(problem, optimizer=pypesto.optimize.ScipyOptimizer(method="L-BFGS-B"),
                                       n_starts=n_starts, progress_bar=False)
    best = result.optimize_result.list[0]  # sorted by objective value
    if best.x is None or not np.isfinite(best.fval):
        raise RuntimeError(f"no start of the pyPESTO fit of {path} reached a finite objective "
                           f"(best: {best.message})")
    petab_problem = importer.petab_problem
    values = petab_problem.unscale_parameters(dict(zip(petab_problem.x_ids, best.x)))
    return {name: float(values[name]) for name in petab_problem.x_free_ids}


def _check_noise_formulas(petab_problem) -> None:
    """Refuse noise formulas that read the model (proportional, combined): pyPESTO 0.7's
    roadrunner objective evaluates such a formula once per condition, after simulating,
    so every measurement gets the SD of the last time point (checked against ivigsim's own
    likelihood). A number or one parameter (additive, log-normal) is evaluated correctly."""
    for observable, formula in petab_problem.observable_df["noiseFormula"].items():
        text = str(formula).strip()
        if re.fullmatch(r"[A-Za-z_]\w*", text):
            continue
        try:
            float(text)
        except ValueError:
            raise InputError(f"noiseFormula of {observable}",
                             "a number or one parameter (an additive or log-normal error model): pyPESTO's "
                             "roadrunner objective evaluates a formula that reads the model at the last time "
                             "point only", text) from None


def _start_points(petab_problem, n_starts: int, seed: int) -> np.ndarray:
    """Start points on the parameter scale, shape (n_starts, all parameters); fixed ones
    at their nominal value (pyPESTO ignores them)."""
    rng = np.random.default_rng(seed)
    table = petab_problem.parameter_df
    lower, upper = np.asarray(petab_problem.lb_scaled), np.asarray(petab_problem.ub_scaled)
    starts = np.tile(np.asarray(petab_problem.x_nominal_scaled, dtype=float), (n_starts, 1))
    for i, name in enumerate(petab_problem.x_ids):
        if name not in petab_problem.x_free_ids:
            continue
        prior = table.loc[name].get("objectivePriorType") if "objectivePriorType" in table else None
        if prior == "parameterScaleNormal":
            mean, sd = (float(v) for v in str(table.loc[name, "objectivePriorParameters"]).split(";"))
            draws = rng.normal(mean, sd, n_starts)
        else:
            draws = rng.uniform(lower[i], upper[i], n_starts)
        starts[:, i] = np.clip(draws, lower[i], upper[i])
    if not np.all(np.isfinite(starts)):
        raise InputError("parameters", "finite bounds and nominal values for every parameter", "a non-finite one")
    return starts

