"""Joint calibration: one objective over every calibration target, fitted over many parameters.

**The objective** is -2 log L (``ivigsim.validation.likelihood``) of the calibration
targets (``CALIBRATION_TARGETS``: every target with ``role="calibration"`` except the
adverse-event rows, whose coefficients live in ``ivigsim.safety``, do not depend on the
model's parameters and are fitted there in closed form), each simulated by the validation
machinery (``runner.run_targets``) with the same parameter overrides applied to every
simulation whose model declares them: the deterministic PK and mechanism simulations and
the disease trials in ``examples/trials/`` (the overrides replace the population's typical
values; ``trial_targets.with_overrides``).

**Common random numbers.** Every evaluation runs every trial with the same seed (each
file's own, or one given ``seed``) and the same patients, so two parameter vectors are
compared on the same virtual patients and the objective is a deterministic function of
the parameters (piecewise constant in a rate's numerator, which is why the optimiser is
derivative-free and the Hessian's step is wide).

**Soft criteria.** With common random numbers a rate target (a fraction of patients meeting
a criterion) is piecewise constant in the parameters, and a finite-difference Hessian reads
that Monte Carlo roughness as curvature of either sign. The objective's trials therefore
read their fractions' and durations' criteria softly (``softness``, default ``SOFTNESS``:
a logistic whose scale is that share of the threshold, McFadden 1989's logit-smoothed
accept-reject simulator; ``endpoints.soft_endpoints``), which makes each rate smooth in the
parameters at a bias second-order in the scale. It is handed down explicitly
(``run_targets`` -> ``trial_targets.run_trial_targets`` -> the trial's endpoints), never
set for the process, so ``ivigsim validate`` and every trial a user runs stay hard.

**Population sizes.** ``fast``: every trial at ``trial_targets.FAST_SIZE`` patients per arm
(as ``ivigsim validate --fast``); otherwise ``population_sizes``: per trial file, the
smallest size on ``SIZE_LADDER`` whose Monte Carlo standard error is at most ``ratio``
times the published SD of each of its targets (from a pilot run at the file's own size).

**Structure is exploited, not assumed.** The objective is cut into units (one per trial
file, one per deterministic simulation), each depending only on the parameters its model
declares; ``Objective`` caches each unit's verdicts by the values of exactly those
parameters, so moving a disease's parameter re-runs only that disease's trial.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from ivigsim.errors import InputError
from ivigsim.validation.likelihood import Breakdown, Z95, breakdown, published_sd, simulated_se
from ivigsim.validation.runner import ALL_TARGETS, SAFETY_IDS, Verdict, run_targets, simulation_parameter_names
from ivigsim.validation.targets import Target
from ivigsim.validation.trial_targets import FAST_SIZE, READOUTS, TRIALS

#: The targets of the joint objective: calibration targets, adverse events aside.
CALIBRATION_TARGETS: tuple[Target, ...] = tuple(t for t in ALL_TARGETS if t.role == "calibration"
                                                and t.id not in SAFETY_IDS)
#: Checks (nothing fitted to them), adverse events aside: reported out of sample, never fitted.
CHECK_TARGETS: tuple[Target, ...] = tuple(t for t in ALL_TARGETS if t.role == "check" and t.id not in SAFETY_IDS)
#: Candidate population sizes (patients per arm) for ``population_sizes``.
SIZE_LADDER: tuple[int, ...] = (100, 200, 300, 500, 1000, 2000, 5000, 10000)
#: The search box around a shipped value: a factor of e^LOG_SPAN either way on the log scale,
#: +/- LOGIT_SPAN on the logit scale, within the declared bounds.
LOG_SPAN = math.log(20.0)
LOGIT_SPAN = 4.0
#: Soft criteria in the objective's trials: the logistic's scale as a share of each threshold
#: (``Threshold.soft``; 0: hard criteria, as ``ivigsim validate`` reads them).
SOFTNESS = 0.05


# --- parameters ------------------------------------------------------------------------------


#: The block of the comparators' own parameters (plasma exchange, SCIG, an FcRn inhibitor).
COMPARATORS = "comparators"


@lru_cache(maxsize=None)
def _declarations() -> dict:
    """Every parameter any shipped model declares, with the diseases whose models declare it;
    the comparators' own parameters (declared by every model with the comparators) under
    ``COMPARATORS``."""
    from ivigsim.model.library import DISEASES, build_model

    out: dict[str, tuple[object, list[str]]] = {}
    for disease in DISEASES:
        for p in build_model(disease).parameters:
            out.setdefault(p.name, (p, []))[1].append(disease)
    for p in build_model(None, comparators=True).parameters:
        out.setdefault(p.name, (p, [COMPARATORS]))
    return out


#: Calibrated parameters the joint fit holds at their shipped values, with why: the targets
#: identify only a combination of them with another fitted parameter (a flat ridge in the
#: previous run's Hessian), so one of the pair is held and the other fitted.
HELD: dict[str, str] = {
    "mg_exacerbation_share": "only its combination with achr_antibody_k is identified: Bril 2025's placebo arm "
                             "and Zinman 2007's difference fix one direction of the pair (Hessian eigenvalue 5e-5, "
                             "loadings -0.86 and +0.51, in the run with both fitted); held at its shipped value (the "
                             "grid calibration to both targets, docs/diseases.md) and achr_antibody_k fitted",
    "achr_turnover_per_day": "not identified in the two runs that fitted it with the spread of IgG exposure "
                             "(Laplace SD above 1 on the log scale, the 95 % interval the whole search box; its "
                             "profile, with achr_antibody_k and the inhibitor's affinity re-fitted, rises by less "
                             "than 3.84 from one end of the box to the other): held at its shipped value (adopted "
                             "with achr_antibody_k from an earlier joint fit, docs/calibration.md) and "
                             "achr_antibody_k fitted",
    "gbs_injury_balance": "only its combination with the GBS drive's resolution is identified: its profile did "
                          "not rise by 3.84 anywhere inside the search box in the two runs that profiled it "
                          "(the GBS trials hold the injury balance only together with the drive's resolution "
                          "and the repair rates), and with achr_turnover_per_day held the run that fitted both "
                          "found neither identified (a flat ridge); held at its shipped value (adopted with the "
                          "GBS block from an earlier joint fit, docs/calibration.md) and the resolution fitted",
}


def calibrated_parameters() -> tuple[str, ...]:
    """Parameters whose declared provenance is ``calibrated``, less those ``HELD``: shared
    ones first, then by disease, then the comparators'."""
    decl = _declarations()
    names = [n for n, (p, _) in decl.items() if p.provenance == "calibrated" and n not in HELD]
    shared = [n for n in names if "none" in decl[n][1]]
    comparators = [n for n in names if decl[n][1] == [COMPARATORS]]
    return tuple(shared + [n for n in names if n not in shared and n not in comparators] + comparators)


def block_of(name: str) -> str:
    """``shared`` for a parameter of the model without a disease, ``comparators`` for one of a
    comparator, else the disease declaring it."""
    decl = _declarations()
    if name not in decl:
        raise InputError("--parameters", "names of model parameters (`ivigsim parameters`)", name)
    diseases = decl[name][1]
    return "shared" if "none" in diseases else diseases[0]


@dataclass(frozen=True)
class FitParameter:
    """A fitted parameter: declared value, unit and bounds, and the scale it is fitted on
    (its variability scale: log, or logit for a share), with the search box on that scale."""

    name: str
    unit: str
    shipped: float
    bounds: tuple[float, float]
    scale: str  # "log" | "logit"
    provenance: str
    block: str

    def to_x(self, value: float) -> float:
        return math.log(value) if self.scale == "log" else math.log(value / (1.0 - value))

    def from_x(self, x: float) -> float:
        """Back to the natural scale, within the declared bounds (exp(log(10)) may exceed 10)."""
        # Interval ends of a flat direction can lie hundreds of units out on the fitting scale:
        # exponentiate only what cannot overflow (a logistic of either sign, a log capped at the
        # largest float's logarithm, where the bounds clamp it anyway).
        if self.scale == "log":
            value = math.exp(min(x, 709.0))
        else:
            e = math.exp(-abs(x))
            value = 1.0 / (1.0 + e) if x >= 0 else e / (1.0 + e)
        return min(max(value, self.bounds[0]), self.bounds[1])

    def declared_x(self) -> tuple[float, float]:
        """The declared bounds on the fitting scale (infinite where the bound is 0 or 1 or inf)."""
        lo, hi = self.bounds
        if self.scale == "log":
            return (math.log(lo) if lo > 0 else -math.inf, math.log(hi) if math.isfinite(hi) else math.inf)
        return (-math.inf if lo <= 0 else self.to_x(lo), math.inf if hi >= 1 else self.to_x(hi))

    def box(self, margin: float = 0.0) -> tuple[float, float]:
        """Where the optimiser searches: the shipped value +/- the span, within the declared
        bounds less ``margin`` (the Hessian's step, so its stencil stays inside them)."""
        span = LOG_SPAN if self.scale == "log" else LOGIT_SPAN
        x0 = self.to_x(self.shipped)
        lo, hi = self.declared_x()
        return max(x0 - span, lo + margin), min(x0 + span, hi - margin)


def fit_parameter(name: str, shipped: float | None = None) -> FitParameter:
    p, _ = _declarations().get(name, (None, None))
    if p is None:
        raise InputError("--parameters", "names of model parameters (`ivigsim parameters`)", name)
    if not p.may_vary or p.provenance in ("covariate", "switch"):
        raise InputError("--parameters", "parameters that may be fitted (not covariates, switches or fixed values)", name)
    value = p.value if shipped is None else float(shipped)
    return FitParameter(name, p.unit, value, tuple(p.bounds), p.variability_scale, p.provenance, block_of(name))


def shipped_values(names: Iterable[str], targets: Sequence[Target] = CALIBRATION_TARGETS) -> dict[str, float]:
    """What the shipped simulations use: the declared value, or the typical value a calibration
    trial file sets for its population (e.g. ``cidp_remission`` in the ICE trial)."""
    values = {}
    for name in names:
        value = _declarations()[name][0].value if name in _declarations() else None
        for trial_name in sorted({READOUTS[t.id].trial for t in targets if t.id in READOUTS}):
            population = _trial(trial_name).population.parameters
            if name in population:
                value = float(population[name])
        if value is None:
            raise InputError("--parameters", "names of model parameters (`ivigsim parameters`)", name)
        values[name] = value
    return values


@lru_cache(maxsize=None)
def _trial(name: str):
    from ivigsim.io.trial_file import load_trial

    return load_trial(TRIALS / name)


# --- the objective ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """A piece of the objective simulated at once: one trial file, or one deterministic simulation."""

    key: str
    targets: tuple[Target, ...]
    #: The parameter names it depends on (its model's, and any it reads besides).
    names: frozenset[str]


def units(targets: Sequence[Target]) -> list[Unit]:
    from ivigsim.model.library import build_model
    from ivigsim.trial.comparators import uses_comparators

    out = []
    files = sorted({READOUTS[t.id].trial for t in targets if t.id in READOUTS})
    for name in files:
        mine = tuple(t for t in targets if t.id in READOUTS and READOUTS[t.id].trial == name)
        trial = _trial(name)  # a trial giving a comparator reads its parameters too
        out.append(Unit(name, mine, frozenset(build_model(trial.disease, uses_comparators(trial)).parameter_names)))
    out += [Unit(t.id, (t,), simulation_parameter_names(t.id)) for t in targets if t.id not in READOUTS]
    return out


class Objective:
    """-2 log L of ``targets`` as a function of parameter overrides, with fixed settings
    (``fast``, ``sizes``, ``seed``: the same common random numbers at every evaluation;
    ``softness``: the trials' soft criteria, ``SOFTNESS`` by default, 0 for hard ones).

    Each unit's verdicts are cached by the values of the parameters it depends on."""

    def __init__(self, targets: Sequence[Target] = CALIBRATION_TARGETS, *, fast: bool = True,
                 seed: int | None = None, sizes: Mapping[str, int] | None = None, cache_size: int = 20_000,
                 softness: float = SOFTNESS):
        from ivigsim.trial.endpoints import check_softness

        self.targets = tuple(targets)
        self.fast, self.seed = fast, seed
        self.softness = check_softness(softness)  # refused before anything runs
        self.sizes = dict(sizes) if sizes else None
        self.units = units(self.targets)
        self._cache: dict[tuple, list[Verdict]] = {}
        self._cache_size = cache_size
        self.evaluations = 0
        self.unit_runs = 0
        #: Evaluations that failed (an input refused, a simulated value not finite), with why.
        self.failures: list[dict] = []
        self._known = set(_declarations())

    def verdicts(self, overrides: Mapping[str, float]) -> list[Verdict]:
        unknown = sorted(set(overrides) - self._known)
        if unknown:
            raise InputError("overrides", "names of model parameters (`ivigsim parameters`)", unknown[0])
        self.evaluations += 1
        by_id: dict[str, Verdict] = {}
        for unit in self.units:
            mine = tuple(sorted((k, float(v)) for k, v in overrides.items() if k in unit.names))
            key = (unit.key, mine)
            if key not in self._cache:
                if len(self._cache) >= self._cache_size:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[key] = run_targets(unit.targets, fast=self.fast, overrides=dict(mine),
                                               sizes=self.sizes, seed=self.seed, softness=self.softness)
                self.unit_runs += 1
            by_id.update({v.target.id: v for v in self._cache[key]})
        return [by_id[t.id] for t in self.targets]

    def breakdown(self, overrides: Mapping[str, float]) -> Breakdown:
        return breakdown(self.verdicts(overrides))

    def __call__(self, overrides: Mapping[str, float]) -> float:
        return self.breakdown(overrides).total


def joint_objective(overrides: Mapping[str, float], *, fast: bool = True, seed: int | None = None,
                    sizes: Mapping[str, int] | None = None,
                    targets: Sequence[Target] = CALIBRATION_TARGETS, softness: float = SOFTNESS) -> Breakdown:
    """-2 log L of every calibration target with ``overrides`` applied to every simulation.

    ``fast``: trials at ``FAST_SIZE`` patients per arm (unless ``sizes`` names the file);
    ``seed``: None runs each trial with its file's own seed, an integer runs every trial
    with that seed (another draw of the common random numbers); ``softness``: the trials'
    soft criteria (``SOFTNESS``; 0: hard, as ``ivigsim validate``)."""
    return Objective(targets, fast=fast, seed=seed, sizes=sizes, softness=softness).breakdown(overrides)


# --- population sizes ------------------------------------------------------------------------


def figure_sd(target: Target) -> float:
    """The published figure's SD on the target's scale: binomial SD of k/n (in per cent for a
    rate) for counts, else the likelihood's normal SD (``likelihood.published_sd``)."""
    if target.counts is not None:
        k, n = target.counts
        p = k / n
        return (100.0 if target.kind == "rate" else 1.0) * math.sqrt(p * (1 - p) / n)
    return published_sd(target)


def population_sizes(targets: Sequence[Target] = CALIBRATION_TARGETS, *, ratio: float = 0.5,
                     seed: int | None = None, ladder: Sequence[int] = SIZE_LADDER,
                     pilot: Sequence[Verdict] | None = None) -> tuple[dict[str, int], list[dict]]:
    """Per trial file, the smallest size on ``ladder`` whose Monte Carlo SE is at most ``ratio``
    x the published SD of every one of its targets, from a pilot run at the file's own size
    (SE scales as 1/sqrt(n)). Returns the sizes and one row per target saying why."""
    trial_targets = [t for t in targets if t.id in READOUTS]
    pilot = list(pilot) if pilot is not None else run_targets(trial_targets, seed=seed)
    rows, sizes = [], {}
    for v in pilot:
        name = READOUTS[v.target.id].trial
        n_pilot = _trial(name).size
        se = simulated_se(v.lower, v.upper)
        sd = figure_sd(v.target)
        need = n_pilot * (se / (ratio * sd)) ** 2 if sd > 0 else float(max(ladder))
        size = next((n for n in ladder if n >= need), max(ladder))
        sizes[name] = max(sizes.get(name, 0), size)
        rows.append({"target": v.target.id, "trial": name, "pilot_size": n_pilot, "pilot_se": se,
                     "published_sd": sd, "needed": math.ceil(need), "size": size})
    return sizes, rows


# --- fitting ---------------------------------------------------------------------------------


@dataclass
class Fit:
    parameters: list[FitParameter]
    x: np.ndarray  # the estimate on the fitting scale
    total: float
    history: list[dict]
    #: Jacobian of the standardised residuals at the estimate (forward differences).
    jacobian: np.ndarray | None = None

    @property
    def values(self) -> dict[str, float]:
        return {p.name: p.from_x(float(xi)) for p, xi in zip(self.parameters, self.x)}


def _overrides(parameters: Sequence[FitParameter], x: np.ndarray) -> dict[str, float]:
    return {p.name: p.from_x(float(xi)) for p, xi in zip(parameters, x)}


def _evaluate(objective: Objective, parameters: Sequence[FitParameter], x: np.ndarray) -> tuple[float, np.ndarray]:
    """(-2 log L, standardised residuals) at ``x``; infinite when a simulation fails."""
    overrides = _overrides(parameters, x)
    try:
        b = objective.breakdown(overrides)
    except InputError as exc:
        objective.failures.append({"overrides": overrides, "why": str(exc)})
        return math.inf, np.full(len(objective.targets), np.nan)
    r = np.array([t.residual for t in b.terms])
    if not (math.isfinite(b.total) and np.isfinite(r).all()):
        bad = [t.target for t in b.terms if not (math.isfinite(t.minus2_log_l) and math.isfinite(t.residual))]
        objective.failures.append({"overrides": overrides, "why": f"not finite: {', '.join(bad)}"})
        return math.inf, r
    return b.total, r


def jacobian(objective: Objective, parameters: Sequence[FitParameter], x: np.ndarray, r: np.ndarray,
             step: float) -> np.ndarray:
    """Forward differences of the residuals, one ``step`` on the fitting scale (backward at an
    upper bound). A disease's column re-runs only that disease's units (the cache)."""
    cols = []
    for i, p in enumerate(parameters):
        h = step if x[i] + step <= p.declared_x()[1] else -step
        z = x.copy()
        z[i] += h
        _, rz = _evaluate(objective, parameters, z)
        cols.append((rz - r) / h)
    return np.array(cols).T


def fit(objective: Objective, parameters: Sequence[FitParameter], *, step: float = 0.05, margin: float = 0.1,
        max_iterations: int = 40, tol: float = 0.01, max_move: float = 1.0, start: np.ndarray | None = None,
        log: Callable[[str], None] = print) -> Fit:
    """Minimise -2 log L over ``parameters`` on their fitting scale within their search box.

    Levenberg-Marquardt on the standardised residuals (``likelihood.Term.residual``, one per
    target): each iteration takes the residuals' Jacobian by forward differences (``step``
    on the fitting scale: wide, because with common random numbers a rate moves in whole
    patients) and proposes the damped Gauss-Newton step (at most ``max_move`` on any axis,
    clipped to the box), which is accepted only if the exact -2 log L falls; otherwise the
    damping grows and a shorter step is tried. It stops when an iteration gains less than
    ``tol`` or no step is accepted. ``start``: where to start on the fitting scale (default:
    the shipped values)."""
    parameters = list(parameters)
    x = np.array([p.to_x(p.shipped) for p in parameters]) if start is None else np.array(start, dtype=float)
    lo = np.array([p.box(margin)[0] for p in parameters])
    hi = np.array([p.box(margin)[1] for p in parameters])
    x = np.clip(x, lo, hi)
    f, r = _evaluate(objective, parameters, x)
    if not math.isfinite(f):
        raise RuntimeError("the objective is not finite at the starting values")
    history = [{"iteration": 0, "total": f, "evaluations": objective.evaluations, "unit_runs": objective.unit_runs}]
    log(f"start: -2 log L = {f:.3f}")
    lam = 1e-2
    gain = 0.0
    J = None
    for it in range(1, max_iterations + 1):
        J = jacobian(objective, parameters, x, r, step)
        g, A = J.T @ r, J.T @ J
        scale = np.diag(A) + 1e-9
        accepted = False
        for _ in range(10):
            delta = np.linalg.solve(A + lam * np.diag(scale), -g)
            biggest = np.max(np.abs(delta))
            if biggest > max_move:
                delta *= max_move / biggest
            x_new = np.clip(x + delta, lo, hi)
            if np.max(np.abs(x_new - x)) < 1e-4:
                break
            f_new, r_new = _evaluate(objective, parameters, x_new)
            if f_new < f:
                gain = f - f_new
                x, f, r = x_new, f_new, r_new
                lam = max(lam / 3, 1e-6)
                accepted = True
                break
            lam *= 4
        history.append({"iteration": it, "total": f, "evaluations": objective.evaluations,
                        "unit_runs": objective.unit_runs, "damping": lam})
        log(f"iteration {it}: -2 log L = {f:.3f} ({objective.evaluations} evaluations, "
            f"{objective.unit_runs} unit runs, damping {lam:.2g})")
        if not accepted or gain < tol:
            break
    J = jacobian(objective, parameters, x, r, step)
    return Fit(parameters, x, f, history, J)


# --- Laplace approximation, identifiability, ensemble -----------------------------------------


def hessian(f: Callable[[np.ndarray], float], x: np.ndarray, step: float | Sequence[float],
            failures: list[str] | None = None, names: Sequence[str] | None = None) -> np.ndarray:
    """Central finite-difference Hessian of ``f`` at ``x``, with ``step`` on every axis (one
    number, or one per axis: a cross term (i, j) steps ``step[i]`` and ``step[j]``).

    An entry whose stencil meets a non-finite value (a failed simulation) is tried again with
    half the step; if that fails too it is left at 0 (no information: the parameter then shows
    as not identified) and said in ``failures``."""
    d = len(x)
    names = list(names) if names is not None else [str(i) for i in range(d)]
    steps = np.broadcast_to(np.asarray(step, dtype=float), (d,))
    h = np.zeros((d, d))
    f0 = f(x)
    if not math.isfinite(f0):
        raise RuntimeError("the objective is not finite at the estimate")

    def diagonal(i: int, scale: float) -> float:
        e = np.zeros(d)
        e[i] = s = scale * steps[i]
        return (f(x + e) - 2 * f0 + f(x - e)) / s**2

    def cross(i: int, j: int, scale: float) -> float:
        ei, ej = np.zeros(d), np.zeros(d)
        ei[i], ej[j] = si, sj = scale * steps[i], scale * steps[j]
        return (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * si * sj)

    for i in range(d):
        for j in range(i + 1):
            entry = (lambda scale: diagonal(i, scale)) if i == j else (lambda scale: cross(i, j, scale))
            with np.errstate(invalid="ignore"):
                v = entry(1.0)
                if not math.isfinite(v):
                    v = entry(0.5)
            if not math.isfinite(v):
                v = 0.0
                if failures is not None:
                    failures.append(f"{names[i]} x {names[j]}: a simulation failed on the stencil; entry set to 0")
            h[i, j] = h[j, i] = v
    return h


#: A direction whose Laplace SD on the fitting scale exceeds this is reported as not
#: identified (1: a factor of e = 2.7 at one SD on the log scale).
UNIDENTIFIED_SD = 1.0
#: ... and between this and UNIDENTIFIED_SD, weakly identified (a factor of 1.5 at one SD).
WEAK_SD = math.log(1.5)
#: The ensemble draws flat directions with this SD (on the fitting scale), within the search box.
FLAT_SD = 1.0


@dataclass
class Laplace:
    parameters: list[FitParameter]
    x: np.ndarray
    hessian: np.ndarray  # of -2 log L, on the fitting scale
    step: np.ndarray | float  # the finite-difference step(s) on the fitting scale, per axis
    #: Hessian entries left at 0 because a simulation failed on their stencil.
    failures: list[str] = field(default_factory=list)
    #: Negative eigen-directions of the assembled Hessian whose curvature was measured again
    #: along the direction itself (``repair_negative_directions``), with what was found.
    repaired: list[dict] = field(default_factory=list)

    def precision(self) -> np.ndarray:
        """Of the Laplace normal: the Hessian of -log L (half that of -2 log L)."""
        return 0.5 * (self.hessian + self.hessian.T) / 2

    def eigen(self) -> tuple[np.ndarray, np.ndarray]:
        w, v = np.linalg.eigh(self.precision())
        return w, v

    def covariance(self, floor: float = 1e-12) -> np.ndarray:
        """Inverse of the precision with eigenvalues floored at ``floor`` (a flat or negative
        direction becomes a huge variance rather than an error)."""
        w, v = self.eigen()
        return (v / np.maximum(w, floor)) @ v.T

    def sd(self) -> np.ndarray:
        return np.sqrt(np.diag(self.covariance()))

    def correlations(self) -> np.ndarray:
        c = self.covariance()
        s = np.sqrt(np.diag(c))
        return c / np.outer(s, s)

    def identifiability(self) -> list[dict]:
        """Per parameter: its Laplace SD and whether the data identify it (``yes``, ``weak``,
        ``no``). A parameter is not identified if its SD exceeds ``UNIDENTIFIED_SD`` or it
        loads (|weight| >= 0.3) on a direction whose SD does (only a combination is pinned)."""
        w, v = self.eigen()
        direction_sd = np.where(w > 0, 1.0 / np.sqrt(np.maximum(w, 1e-300)), np.inf)
        sd = self.sd()
        out = []
        for i, p in enumerate(self.parameters):
            flat = [k for k in range(len(w)) if direction_sd[k] > UNIDENTIFIED_SD and abs(v[i, k]) >= 0.3]
            status = "no" if sd[i] > UNIDENTIFIED_SD or flat else ("weak" if sd[i] > WEAK_SD else "yes")
            out.append({"name": p.name, "sd": float(sd[i]), "identified": status,
                        "flat_directions": [int(k) for k in flat]})
        return out

    def directions(self) -> list[dict]:
        """Eigen-directions of the precision, flattest first, with their SD and main loadings."""
        w, v = self.eigen()
        out = []
        for k in range(len(w)):
            sd = 1.0 / math.sqrt(w[k]) if w[k] > 0 else math.inf
            loadings = {p.name: float(v[i, k]) for i, p in enumerate(self.parameters) if abs(v[i, k]) >= 0.1}
            out.append({"eigenvalue": float(w[k]), "sd": sd, "loadings": loadings})
        return out

    def ensemble(self, n: int, seed: int = 0, margin: float = 0.0) -> np.ndarray:
        """``n`` parameter vectors (on the natural scale) from the Laplace normal, flat or
        negative directions given SD ``FLAT_SD``; draws outside the search box are redrawn."""
        w, v = self.eigen()
        w = np.maximum(w, 1.0 / FLAT_SD**2)
        chol = v / np.sqrt(w)
        rng = np.random.default_rng(seed)
        lo = np.array([p.box(margin)[0] for p in self.parameters])
        hi = np.array([p.box(margin)[1] for p in self.parameters])
        kept: list[np.ndarray] = []
        tries = 0
        while len(kept) < n:
            z = self.x + rng.standard_normal((max(n, 64), len(self.x))) @ chol.T
            ok = ((z >= lo) & (z <= hi)).all(axis=1)
            kept.extend(z[ok])
            tries += len(z)
            if tries > 1000 * n:
                raise RuntimeError("the Laplace normal lies almost entirely outside the search box")
        xs = np.array(kept[:n])
        return np.array([[min(max(p.from_x(float(xi)), p.bounds[0]), p.bounds[1]) for p, xi in zip(self.parameters, row)]
                         for row in xs])

    def interval(self, i: int) -> tuple[float, float]:
        """The 95 % interval of parameter ``i`` on its natural scale, within its declared bounds."""
        p = self.parameters[i]
        s = self.sd()[i]
        lo, hi = self.x[i] - Z95 * s, self.x[i] + Z95 * s
        dlo, dhi = p.declared_x()
        lo, hi = max(lo, dlo), min(hi, dhi)
        def to(x: float) -> float:  # back to the natural scale, never past a bound by rounding
            return min(max(p.from_x(x) if math.isfinite(x) else (p.bounds[0] if x < 0 else p.bounds[1]),
                           p.bounds[0]), p.bounds[1])
        return to(lo), to(hi)


#: Per-axis Hessian steps are chosen so that one step moves -2 log L by about this much along
#: the axis (``curvature_steps``): far above the roundoff and the solver's tolerance, and
#: inside the region where the objective is close to quadratic.
HESSIAN_RISE = 2.0
#: ... and never below this on the fitting scale (a 1 % change of a parameter), where the
#: objective's remaining roughness (medians of finite populations) would dominate.
MIN_HESSIAN_STEP = 0.01


def curvature_steps(diagonal: np.ndarray, step: float, rise: float = HESSIAN_RISE,
                    smallest: float = MIN_HESSIAN_STEP) -> np.ndarray:
    """Per axis, the step that moves -2 log L by ``rise`` according to that axis's second
    derivative ``diagonal`` (h^2 x d2/2 = rise), within [``smallest``, ``step``]: one fixed
    step (0.1) is five Laplace SDs along the steepest parameters, where a central difference
    measures cubic and quartic terms rather than the curvature (and their cross terms then
    made a spurious negative eigenvalue)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.sqrt(2.0 * rise / np.where(diagonal > 0, diagonal, np.nan))
    return np.clip(np.nan_to_num(h, nan=step), smallest, step)


def laplace(objective: Objective, fitted: Fit, step: float = 0.1, *, scaled: bool = True) -> Laplace:
    """The Laplace approximation at the estimate: the Hessian of the exact -2 log L by central
    differences on the fitting scale. ``scaled`` (the default): the diagonal is first measured
    with ``step`` on every axis, then the whole Hessian with each axis's ``curvature_steps``;
    otherwise with ``step`` everywhere."""
    f = lambda x: _evaluate(objective, fitted.parameters, x)[0]  # noqa: E731
    names = [p.name for p in fitted.parameters]
    failures: list[str] = []
    steps = np.full(len(fitted.x), float(step))
    if scaled:
        d = len(fitted.x)
        pilot = [hessian(lambda z, i=i: f(_with(fitted.x, i, z)), np.array([fitted.x[i]]), step)[0, 0]
                 for i in range(d)]
        steps = curvature_steps(np.array(pilot), step)
    h = hessian(f, fitted.x, steps, failures, names)
    h, repaired = repair_negative_directions(f, fitted.x, h, step)
    return Laplace(list(fitted.parameters), fitted.x.copy(), h, steps, failures, repaired)


def repair_negative_directions(f: Callable[[np.ndarray], float], x: np.ndarray, h: np.ndarray,
                               step: float) -> tuple[np.ndarray, list[dict]]:
    """Measure the curvature again along each negative eigen-direction of ``h`` (a Hessian
    of ``f`` at ``x`` assembled entry by entry) by central second differences along the
    direction itself, at ``step`` and ``step / 2`` on the fitting scale.

    Entries measured with different steps per axis are not one quadratic form: where the
    objective is not quadratic over those steps, the assembled matrix can be indefinite
    although ``f`` curves upwards along every direction (in the calibration run before this
    repair, a direction with eigenvalue -4.1 rose by 36-38 per unit squared when measured
    along it). If both measurements are positive, the direction's eigenvalue is replaced by
    the smaller (the direction is kept; the others are untouched); otherwise it stays
    negative, a real saddle, and the caller moves along it (``escape_saddle``)."""
    sym = (h + h.T) / 2
    w, v = np.linalg.eigh(sym)
    f0 = f(x)
    repaired = []
    for k in np.flatnonzero(w < 0):
        u = v[:, k]
        measured = [(f(x + s * u) - 2 * f0 + f(x - s * u)) / s**2 for s in (step, step / 2)]
        ok = all(math.isfinite(m) and m > 0 for m in measured)
        repaired.append({"eigenvalue": float(w[k]), "measured": [float(m) for m in measured], "replaced": ok,
                         "direction": [float(c) for c in u]})
        if ok:
            w[k] = min(measured)
    return (v * w) @ v.T, repaired


def accept_rough_directions(approx: Laplace) -> Laplace:
    """After ``escape_saddle`` found no lower point along them: each negative direction that
    ``repair_negative_directions`` kept because one of its two measurements was not positive,
    while the other was, takes the positive measurement as its curvature.

    Such a direction rises steeply at the Hessian's step but is flat, or slightly lower, at half
    of it: the objective's own roughness (medians and rates of finite populations) at a scale
    below the step, not a descent, since no move of 0.25-1 along it lowers -2 log L. Leaving it
    negative would make its variance (and every parameter loading on it) unbounded."""
    sym = (approx.hessian + approx.hessian.T) / 2
    w, v = np.linalg.eigh(sym)
    repaired = [dict(r) for r in approx.repaired]
    changed = False
    for r in repaired:
        positive = [m for m in r["measured"] if math.isfinite(m) and m > 0]
        if r["replaced"] or not positive:
            continue
        k = int(np.argmax(np.abs(v.T @ np.asarray(r["direction"]))))  # the same eigen-direction
        if w[k] >= 0:
            continue
        w[k] = min(positive)
        r["replaced"] = "after no lower point was found along it (escape_saddle): the positive measurement"
        changed = True
    if not changed:
        return approx
    return replace(approx, hessian=(v * w) @ v.T, repaired=repaired)


def _with(x: np.ndarray, i: int, value: np.ndarray) -> np.ndarray:
    """``x`` with its ``i``-th entry replaced by ``value[0]``."""
    z = x.copy()
    z[i] = value[0]
    return z


def escape_saddle(objective: Objective, fitted: Fit, approx: Laplace, margin: float = 0.1,
                  moves: Sequence[float] = (0.25, 0.5, 1.0)) -> np.ndarray | None:
    """Where the Hessian has a negative eigenvalue the estimate is not a minimum along it:
    try steps of ``moves`` both ways along that direction (clipped to the box) and return the
    best point if it lowers -2 log L, else None."""
    w, v = approx.eigen()
    if w.min() >= 0:
        return None
    lo = np.array([p.box(margin)[0] for p in fitted.parameters])
    hi = np.array([p.box(margin)[1] for p in fitted.parameters])
    best, best_f = None, fitted.total
    for k in np.flatnonzero(w < 0):
        for m in moves:
            for sign in (1, -1):
                z = np.clip(fitted.x + sign * m * v[:, k], lo, hi)
                fz = _evaluate(objective, fitted.parameters, z)[0]
                if fz < best_f:
                    best, best_f = z, fz
    return best


def gauss_newton_sd(jac: np.ndarray) -> np.ndarray:
    """Laplace SDs from the Gauss-Newton precision J^T J of the residuals (a cross-check on the
    finite-difference Hessian: smoother, never negative, blind to curvature of the residuals)."""
    w, v = np.linalg.eigh(jac.T @ jac)
    cov = (v / np.maximum(w, 1e-12)) @ v.T
    return np.sqrt(np.diag(cov))


def fingerprint(targets: Sequence[Target] = CALIBRATION_TARGETS) -> str:
    """A hash of what the objective depends on besides the overrides: every shipped model's
    modules with the comparators' (equations, parameter values, bounds), each disease's
    between-patient spreads and typical values, the trial files the
    targets read and the targets' published figures. When it changes, the recorded objective is stale: run the
    calibration script again."""
    import hashlib
    import json

    from ivigsim.model.library import DISEASES, build_model

    payload = {
        "models": {d: hashlib.sha256(repr(build_model(d, comparators=True).modules).encode()).hexdigest()
                   for d in DISEASES},
        # A population's spreads and a disease's typical values move every trial's result too.
        "populations": {name: [sorted(d.variability.items()), sorted(d.defaults.items())]
                        for name, d in DISEASES.items()},
        "trials": {name: hashlib.sha256((TRIALS / name).read_bytes()).hexdigest()
                   for name in sorted({READOUTS[t.id].trial for t in targets if t.id in READOUTS})},
        "targets": [(t.id, t.published, t.interval, t.counts, t.kind, t.role) for t in targets],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]
