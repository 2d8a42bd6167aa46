"""Global sensitivity of a read-out to the model's uncertain parameters (Sobol', Morris).

``sensitivity(scenario, output, summary=..., day=...)`` asks: over the plausible range of
every parameter the model could be wrong about, which ones move this read-out, alone
(first-order Sobol' index S1) and with their interactions (total index ST)? Morris's
elementary effects (mu*, sigma) answer the cheaper screening question when there are
many parameters. Sampling and the estimators are SALib's (Herman & Usher 2017, JOSS
2(9):97); every sample is a patient of one batched engine call (the compiled ``Auto``
solver, patients solved independently), so 10^4 solves take seconds.

**What varies.** By default every parameter that ``may_vary`` (not a covariate, switch
or fixed constant) and whose provenance is ``source``, ``calibrated``, ``derived`` or
``assumption``: the model's own uncertain constants. Pretreatment disease states
(``baseline`` provenance: a platelet count, a QMG score) are facts of the patient, not
model uncertainty, so they vary only when named in ``parameters``. A parameter set by
the scenario (its ``parameters``, or the disease's typical values) varies around that
value: the scenario says where the patient is, the analysis asks how sure the model is
there.

**Over what ranges: an assumption of the analysis, stated in the result.** Each
parameter varies uniformly on its own variability scale (``Parameter.variability_scale``:
log, or logit for shares), around its typical value:

- where the scenario's disease declares between-subject variability
  (``Disease.variability``, with its source), over +/- ``omegas`` (default 2) standard
  deviations of eta, omega: sqrt(log(1 + CV^2)) on the log scale, omega itself on the
  logit scale (``ivigsim.population.variability``), so the range covers about 95 % of
  that disease's patients;
- otherwise over an assumed range: a factor of ``spread`` (default 2) either way on the
  log scale; +/- ``logit_spread`` (default 1, odds x/÷ e) on the logit scale.

Either way the range is clipped to the parameter's declared bounds. A parameter whose
typical value is 0 (or, for a share, 0 or 1) cannot move on its scale: by default it is
held (listed in ``SensitivityResult.held`` with the reason), and naming it is refused.
Uniform on the log scale means "a factor of two either way is as likely as no change":
the indices are fractions of the read-out's variance under that assumption, not under a
population's distribution; change the ranges and the indices change. Every row of the
result carries its range and where the range came from.

**Read-outs.** The output's value on ``day`` (saved exactly there), or its peak, nadir
or trapezoid AUC from day 0 to ``day`` (default: the scenario's whole span) on the
scenario's output grid plus every infusion start and end (so IgG peaks are exact;
peaks of slower disease read-outs are as good as the grid). AUC is in the output's unit
times days.

**Failures are data.** A sample whose solve fails (status != 0) or whose read-out is not
finite is counted (``n_failed``). Sobol's estimators need every row of a base sample
(A, B and the D cross-samples) and Morris's every point of a trajectory, so a failure
removes its whole base sample or trajectory (``n_dropped``); if fewer than half remain
the analysis is refused, as the indices would describe only the part of the parameter
space where the model solves.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from ivigsim.errors import InputError
from ivigsim.model.compose import CompiledModel
from ivigsim.model.declaration import Parameter
from ivigsim.population.variability import individual, omega
from ivigsim.scenario import Scenario

SUMMARIES = ("day", "peak", "nadir", "auc")
METHODS = ("sobol", "morris")
#: Provenances varied by default: what the model itself could be wrong about.
UNCERTAIN = ("source", "calibrated", "derived", "assumption")
#: Default sample sizes: Sobol' base samples (N(D + 2) solves), Morris trajectories (N(D + 1)).
DEFAULT_N = {"sobol": 256, "morris": 32}
#: Sobol' sequences are balanced at powers of two; below 16 the bootstrap intervals are noise.
MIN_SOBOL_N = 16
#: Fewer trajectories give no usable mu* interval.
MIN_MORRIS_N = 4
#: Morris grid levels (SALib's default and Saltelli et al. 2008's recommendation).
MORRIS_LEVELS = 4
#: Bootstrap resamples and level of the confidence intervals.
RESAMPLES = 1000
CONF_LEVEL = 0.95
#: More solves than this is almost certainly a mistake in ``n`` (minutes to hours).
MAX_EVALUATIONS = 2_000_000
#: Doubles of output kept per engine call (64 MB): larger batches are solved in chunks.
CHUNK_VALUES = 2**23
#: At least this share of base samples / trajectories must solve.
MIN_KEPT_SHARE = 0.5


# -- ranges -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ParameterRange:
    """One varied parameter: uniform on its scale's eta in [eta_low, eta_high] around ``typical``."""

    name: str
    unit: str
    provenance: str
    scale: str  # "log" | "logit"
    typical: float
    eta_low: float
    eta_high: float
    basis: str  # where the range came from, in words
    bounds: tuple[float, float] = (0.0, math.inf)  # the parameter's declared bounds

    def values(self, eta: np.ndarray) -> np.ndarray:
        """Parameter values for etas on this parameter's scale, inside its bounds (the eta
        range is clipped to them; this absorbs the rounding of exp/expit at a bound)."""
        value = individual(np.asarray(self.typical, dtype=float), np.asarray(eta, dtype=float), self.scale)
        return np.clip(value, *self.bounds)

    @property
    def low(self) -> float:
        return float(self.values(self.eta_low))

    @property
    def high(self) -> float:
        return float(self.values(self.eta_high))


def _to_scale(value: float, scale: str) -> float:
    """A value on its variability scale (log or logit); +/-inf at 0 (and at 1 for logit)."""
    with np.errstate(divide="ignore"):
        if scale == "logit":
            return float(np.log(value) - np.log1p(-value))
        return float(np.log(value))


def _why_fixed(p: Parameter, typical: float) -> str | None:
    if not p.may_vary:
        return "not a parameter that may vary (a covariate, switch or fixed constant)"
    if p.variability_scale == "logit" and not 0.0 < typical < 1.0:
        return f"a share at {typical:g}: cannot move on the logit scale"
    if p.variability_scale == "log" and not typical > 0.0:
        return f"typical value {typical:g}: cannot move on the log scale"
    return None


def _model(scenario: Scenario, model: CompiledModel | None, plan=None) -> CompiledModel:
    """The model the scenario runs on (``simulation.model_for``): the comparator variant when its
    regimen (compiled as ``plan`` when given) gives plasma exchange, SCIG or an FcRn inhibitor."""
    from ivigsim.simulation import model_for

    if plan is None and scenario.regimen is not None:
        plan = scenario.regimen.compile(scenario.patient, scenario.indication)
    return model_for(scenario, plan, model)


def _idle_comparator_parameters(scenario: Scenario, m) -> dict[str, str]:
    """The parameters of the comparator modules whose treatment the regimen does not give (name ->
    why held): on the comparator model they change nothing, so varying them would only cost solves."""
    from ivigsim.attribution import TREATMENT_PLAYERS, treatment_players

    given = set(treatment_players(scenario))
    return {p.name: f"its treatment ({module.name.replace('_', ' ')}) is not in the regimen"
            for module in m.modules if module.name in TREATMENT_PLAYERS and module.name not in given
            for p in module.parameters}


def parameter_ranges(
    scenario: Scenario,
    parameters: Sequence[str] | None = None,
    *,
    spread: float = 2.0,
    omegas: float = 2.0,
    logit_spread: float = 1.0,
    model: CompiledModel | None = None,
) -> tuple[tuple[ParameterRange, ...], tuple[tuple[str, str], ...]]:
    """The ranges the analysis varies, and the eligible parameters it holds (name, why).

    See the module docstring for the rules; ``parameters`` names the ones to vary instead
    of the default set (any parameter that may vary, ``baseline`` ones included).
    """
    from ivigsim.model.library import get_disease
    from ivigsim.simulation import scenario_parameters

    if not (math.isfinite(spread) and spread > 1.0):
        raise InputError("--spread", "a factor > 1 (2: half to double the typical value)", spread)
    if not (math.isfinite(omegas) and omegas > 0.0):
        raise InputError("omegas", "a positive number of standard deviations of eta", omegas)
    if not (math.isfinite(logit_spread) and logit_spread > 0.0):
        raise InputError("logit_spread", "a positive half-width on the logit scale", logit_spread)
    model = _model(scenario, model)
    m = model.model
    base = scenario_parameters(model, scenario)
    declared = get_disease(scenario.disease).variability
    idle = _idle_comparator_parameters(scenario, m)
    if parameters is None:
        names = [p.name for p in m.parameters if p.may_vary and p.provenance in UNCERTAIN]
    else:
        names = list(parameters)
        if not names:
            raise InputError("--parameters", "at least one parameter name", parameters)
        for name in names:
            if name not in m.parameter_names:
                raise InputError("--parameters", "names of model parameters (see `ivigsim parameters`)", name)
            if names.count(name) > 1:
                raise InputError("--parameters", "each parameter once", name)
    ranges, held = [], []

    def hold(name: str, why: str) -> None:
        if parameters is not None:  # named by the user: say why it cannot be varied
            raise InputError("--parameters", "parameters that can vary around their typical value", f"{name}: {why}")
        held.append((name, why))

    for name in names:
        p = m.parameter(name)
        typical = float(base.get(name, p.value))
        why = idle.get(name) or _why_fixed(p, typical)
        if why is not None:
            hold(name, why)
            continue
        spread_number = declared.get(name, 0.0)
        if spread_number > 0.0:
            half = omegas * float(omega(p.variability_scale, spread_number))
            what = "CV" if p.variability_scale == "log" else "omega"
            basis = f"{scenario.disease_name} variability ({what} {spread_number:g}), +/-{omegas:g} omega"
        elif p.variability_scale == "logit":
            half, basis = logit_spread, f"assumed, +/-{logit_spread:g} on the logit scale"
        else:
            half, basis = math.log(spread), f"assumed, factor {spread:g} either way"
        centre = _to_scale(typical, p.variability_scale)
        lo = max(-half, _to_scale(p.bounds[0], p.variability_scale) - centre)
        hi = min(half, _to_scale(p.bounds[1], p.variability_scale) - centre)
        if lo > -half or hi < half:
            basis += ", clipped to bounds"
        if not hi > lo:
            hold(name, f"bounds {p.bounds} leave no room around {typical:g}")
            continue
        ranges.append(ParameterRange(name, p.unit, p.provenance, p.variability_scale, typical, lo, hi, basis,
                                     tuple(p.bounds)))
    if not ranges:
        raise InputError("--parameters", "at least one parameter that can vary", names)
    return tuple(ranges), tuple(held)


# -- the estimators, for any vectorised function ---------------------------------------
@dataclass(frozen=True)
class Indices:
    """What ``analyse`` returns: index columns (one value per input) and the sample's bookkeeping."""

    columns: Mapping[str, np.ndarray]
    n_evaluations: int
    n_failed: int
    n_dropped: int
    n_kept: int
    mean: float
    sd: float
    varies: bool


def _check_design(method: str, n: int | None, seed: int, d: int) -> int:
    """The sample size (the method's default for None), after refusing what cannot be run."""
    if method not in METHODS:
        raise InputError("--method", f"one of {', '.join(METHODS)}", method)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError("--seed", "a whole number >= 0", seed)
    n = DEFAULT_N[method] if n is None else n
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise InputError("--n", "a whole number of samples", n)
    if method == "sobol" and (n < MIN_SOBOL_N or n & (n - 1)):
        raise InputError("--n", f"a power of two >= {MIN_SOBOL_N} (Sobol' sequences balance at powers of two)", n)
    if method == "morris" and n < MIN_MORRIS_N:
        raise InputError("--n", f"at least {MIN_MORRIS_N} Morris trajectories", n)
    rows = n * (d + 2 if method == "sobol" else d + 1)
    if rows > MAX_EVALUATIONS:
        raise InputError("--n", f"at most {MAX_EVALUATIONS:,} solves in all ({d} parameters make {rows:,})", n)
    return int(n)


def analyse(
    evaluate: Callable[[np.ndarray], np.ndarray],
    names: Sequence[str],
    bounds: Sequence[tuple[float, float]],
    *,
    method: str = "sobol",
    n: int | None = None,
    seed: int = 0,
    rtol: float = 0.0,
) -> Indices:
    """Sobol' (S1, ST with intervals) or Morris (mu*, sigma, mu) indices of ``evaluate``.

    ``evaluate`` maps inputs (rows of a (M, D) array, uniform within ``bounds``) to one
    value each; a non-finite value is a failure (see the module docstring). A read-out
    whose spread is within ``rtol`` of its size does not vary: its indices are zero
    (its variance is solver noise; SALib would divide by it).
    """
    from SALib.analyze import morris as morris_analyze
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    d = len(names)
    n = _check_design(method, n, seed, d)
    problem = {"num_vars": d, "names": list(names), "bounds": [list(map(float, b)) for b in bounds]}
    if method == "sobol":
        x = sobol_sample.sample(problem, n, calc_second_order=False, scramble=True, seed=int(seed))
        group = d + 2
    else:
        x = morris_sample.sample(problem, n, num_levels=MORRIS_LEVELS, seed=int(seed))
        group = d + 1
    y = np.asarray(evaluate(x), dtype=float)
    if y.shape != (len(x),):
        raise ValueError(f"evaluate returned shape {y.shape} for {len(x)} samples")
    finite = np.isfinite(y)
    keep = finite.reshape(n, group).all(axis=1)
    n_kept = int(keep.sum())
    if n_kept < MIN_KEPT_SHARE * n:
        raise InputError("simulation", f"at least {MIN_KEPT_SHARE:.0%} of the {n} "
                         f"{'base samples' if method == 'sobol' else 'trajectories'} to solve",
                         f"{int((~finite).sum())} of {len(y)} solves failed")
    rows = np.repeat(keep, group)
    xk, yk = x[rows], y[rows]
    mean, sd = float(yk.mean()), float(yk.std())
    varies = bool(np.ptp(yk) > rtol * np.max(np.abs(yk)))
    # SALib treats a seed of 0 as "no seed" in sobol.analyze; a Generator is always one.
    rng = np.random.default_rng(int(seed))
    if method == "sobol":
        if varies:
            s = sobol_analyze.analyze(problem, yk, calc_second_order=False, num_resamples=RESAMPLES,
                                      conf_level=CONF_LEVEL, seed=rng)
            columns = {k: np.asarray(s[k], dtype=float) for k in ("S1", "S1_conf", "ST", "ST_conf")}
        else:
            columns = {k: np.zeros(d) for k in ("S1", "S1_conf", "ST", "ST_conf")}
    else:
        if varies:
            s = morris_analyze.analyze(problem, xk, yk, num_resamples=RESAMPLES, conf_level=CONF_LEVEL,
                                       num_levels=MORRIS_LEVELS, seed=rng)
            columns = {k: np.asarray(s[k], dtype=float) for k in ("mu_star", "mu_star_conf", "sigma", "mu")}
        else:
            columns = {k: np.zeros(d) for k in ("mu_star", "mu_star_conf", "sigma", "mu")}
    return Indices(MappingProxyType(columns), len(y), int((~finite).sum()), n - n_kept, n_kept, mean, sd, varies)


# -- the result --------------------------------------------------------------------------
@dataclass(frozen=True)
class SensitivityResult:
    """Indices of one read-out, per varied parameter, with the ranges they assume."""

    scenario: str
    disease: str
    output: str
    unit: str  # of the read-out (output unit x day for an AUC)
    summary: str
    day: float  # the day read, or the end of the peak/nadir/AUC window
    method: str
    n: int  # Sobol' base samples or Morris trajectories
    seed: int
    ranges: tuple[ParameterRange, ...]
    held: tuple[tuple[str, str], ...]
    indices: Mapping[str, tuple[float, ...]]  # column -> one value per range, in ``ranges`` order
    n_evaluations: int
    n_failed: int
    n_dropped: int
    typical_value: float  # the read-out at every parameter's typical value
    mean: float
    sd: float
    varies: bool
    assumptions: str = field(default="")

    @property
    def importance(self) -> str:
        """The column rows are sorted by: ST (Sobol') or mu* (Morris)."""
        return "ST" if self.method == "sobol" else "mu_star"

    @property
    def readout(self) -> str:
        if self.summary == "day":
            return f"{self.output} on day {self.day:g}"
        window = f"days 0-{self.day:g}"
        return {"peak": f"peak {self.output}, {window}", "nadir": f"nadir of {self.output}, {window}",
                "auc": f"AUC of {self.output}, {window}"}[self.summary]

    def rows(self) -> list[dict]:
        """One dict per varied parameter, most important first."""
        out = []
        for i, r in enumerate(self.ranges):
            row = {"parameter": r.name, **{k: float(v[i]) for k, v in self.indices.items()},
                   "typical": r.typical, "low": r.low, "high": r.high, "unit": r.unit, "scale": r.scale,
                   "provenance": r.provenance, "range_basis": r.basis}
            out.append(row)
        key = self.importance
        return sorted(out, key=lambda row: (-row[key], row["parameter"]))

    def as_dict(self) -> dict:
        """Everything as plain, JSON-ready values."""
        return {
            "scenario": self.scenario, "disease": self.disease, "output": self.output, "unit": self.unit,
            "summary": self.summary, "day": self.day, "readout": self.readout, "method": self.method,
            "n": self.n, "seed": self.seed, "n_evaluations": self.n_evaluations, "n_failed": self.n_failed,
            "n_dropped": self.n_dropped, "typical_value": self.typical_value, "mean": self.mean, "sd": self.sd,
            "varies": self.varies, "assumptions": self.assumptions, "rows": self.rows(),
            "held": [{"parameter": name, "why": why} for name, why in self.held],
        }

    def caption(self) -> str:
        what = (f"Sobol' (N = {self.n})" if self.method == "sobol"
                else f"Morris ({self.n} trajectories, {MORRIS_LEVELS} levels)")
        line = (f"{self.readout} ({self.unit}): {self.typical_value:.4g} at typical values, "
                f"{self.mean:.4g} +/- {self.sd:.3g} (mean +/- SD) over the ranges. {what}, seed {self.seed}, "
                f"{self.n_evaluations:,} solves, {self.n_failed} failed")
        if self.n_dropped:
            line += (f" ({self.n_dropped} {'base samples' if self.method == 'sobol' else 'trajectories'} "
                     "left out)")
        if not self.varies:
            line += "; the read-out does not vary over these ranges (indices 0)"
        return line + "."

    def table_markdown(self, top: int | None = None, caption: bool = True) -> str:
        """A Markdown table, most important parameter first (``top``: only the first rows)."""
        rows = self.rows()
        shown = rows if top is None else rows[:top]
        if self.method == "sobol":
            head = ["| parameter | range | S1 (95 % CI) | ST (95 % CI) |", "|---|---|---|---|"]
            cells = [f"{r['S1']:.3f} +/- {r['S1_conf']:.3f} | {r['ST']:.3f} +/- {r['ST_conf']:.3f}" for r in shown]
        else:
            head = ["| parameter | range | mu* (95 % CI) | sigma | mu |", "|---|---|---|---|---|"]
            cells = [f"{r['mu_star']:.4g} +/- {r['mu_star_conf']:.2g} | {r['sigma']:.4g} | {r['mu']:+.4g}"
                     for r in shown]
        lines = ([self.caption(), "", f"Ranges (an assumption of the analysis): {self.assumptions}", ""]
                 if caption else []) + head
        for r, c in zip(shown, cells):
            star = "" if r["range_basis"].startswith("assumed") else " *"
            unit = "" if r["unit"] == "dimensionless" else f" {r['unit']}"
            lines.append(f"| `{r['parameter']}` | {r['low']:.3g}-{r['high']:.3g}{unit}{star} | {c} |")
        rest = rows[len(shown):]
        if rest:
            key = self.importance
            lines.append(f"\n{len(rest)} more parameters, each with {key} <= {max(r[key] for r in rest):.3g}.")
        if any(not r["range_basis"].startswith("assumed") for r in shown):
            lines.append("\n\\* range from the disease's between-subject variability; the others are assumed.")
        if self.held:
            lines.append("\nHeld at their typical value: " + "; ".join(f"`{n}` ({w})" for n, w in self.held) + ".")
        return "\n".join(lines) + "\n"


# -- the model read-out --------------------------------------------------------------------
def _window_times(scenario: Scenario, plan, summary: str, end: float) -> np.ndarray:
    from ivigsim.simulation import output_times

    if summary == "day":
        return np.array([end])
    grid = output_times(scenario.days, scenario.output_every_days)
    edges = [t for inf in (plan.infusions if plan else ()) for t in (inf.start_day, inf.end_day)]
    ts = np.union1d(np.union1d(grid, np.asarray(edges, dtype=float)), [end])
    return ts[ts <= end]


def _reduce(values: np.ndarray, ts: np.ndarray, summary: str) -> np.ndarray:
    """(n_samples, n_times) -> one read-out per sample."""
    if summary == "day":
        return values[:, -1]
    if summary == "peak":
        return values.max(axis=1)
    if summary == "nadir":
        return values.min(axis=1)
    return np.trapezoid(values, ts, axis=1)


def sensitivity(
    scenario: Scenario,
    output: str,
    *,
    summary: str = "day",
    day: float | None = None,
    parameters: Sequence[str] | None = None,
    method: str = "sobol",
    n: int | None = None,
    spread: float = 2.0,
    omegas: float = 2.0,
    logit_spread: float = 1.0,
    seed: int = 0,
    model: CompiledModel | None = None,
) -> SensitivityResult:
    """Sobol' or Morris indices of one read-out of ``scenario`` (see the module docstring).

    ``summary``: ``day`` (the value on ``day``), ``peak``, ``nadir`` or ``auc`` (from day 0
    to ``day``, default the whole span). ``n``: Sobol' base samples (a power of two; N(D+2)
    solves for D parameters) or Morris trajectories (N(D+1) solves); default 256 or 32.
    """
    from ivigsim.engine.compiled import Auto
    from ivigsim.engine.outputs import solve_outputs
    from ivigsim.engine.schedule import InputSchedule
    from ivigsim.engine.solve import Problem, SaveAt
    from ivigsim.simulation import plan_schedule, scenario_parameters

    plan = scenario.regimen.compile(scenario.patient, scenario.indication) if scenario.regimen else None
    model = _model(scenario, model, plan)
    m = model.model
    if output not in m.output_names:
        raise InputError("--output", f"one of the model's outputs ({', '.join(m.output_names)})", output)
    if summary not in SUMMARIES:
        raise InputError("--summary", f"one of {', '.join(SUMMARIES)}", summary)
    if method not in METHODS:
        raise InputError("--method", f"one of {', '.join(METHODS)}", method)
    if summary == "day" and day is None:
        raise InputError("--day", "a day for the 'day' read-out (or --summary peak, nadir or auc)", "none")
    end = scenario.days if day is None else day
    inside = isinstance(end, (int, float)) and math.isfinite(end) and 0.0 <= end <= scenario.days
    if not inside or (summary != "day" and end == 0.0):  # a window must have a length
        span = f"a day within the simulated 0-{scenario.days:g}"
        raise InputError("--day", span if summary == "day" else f"{span}, after day 0 (the window's end)", day)
    ranges, held = parameter_ranges(scenario, parameters, spread=spread, omegas=omegas,
                                    logit_spread=logit_spread, model=model)
    n = _check_design(method, n, seed, len(ranges))  # refused before anything is solved

    one = plan_schedule(model, [plan])
    ts = _window_times(scenario, plan, summary, float(end))
    base = scenario_parameters(model, scenario)
    solver = Auto(rtol=scenario.solver.rtol, atol=scenario.solver.atol, max_steps=scenario.solver.max_steps)
    chunk = max(1, CHUNK_VALUES // len(ts))

    def evaluate(eta: np.ndarray) -> np.ndarray:
        out = np.empty(len(eta))
        for start in range(0, len(eta), chunk):
            part = eta[start:start + chunk]
            k = len(part)
            overrides = dict(base)
            for j, r in enumerate(ranges):
                overrides[r.name] = r.values(part[:, j])
            params = m.parameter_array(overrides, n=k)
            schedule = InputSchedule(np.repeat(one.times, k, axis=0), np.repeat(one.values, k, axis=0))
            observed = solve_outputs(Problem(model, params, schedule), SaveAt(ts), solver, [output])
            with np.errstate(all="ignore"):
                values = _reduce(observed.output(output), ts, summary)
            values[observed.status != 0] = np.nan
            out[start:start + k] = values
        return out

    typical = float(evaluate(np.zeros((1, len(ranges))))[0])
    result = analyse(evaluate, [r.name for r in ranges], [(r.eta_low, r.eta_high) for r in ranges],
                     method=method, n=n, seed=seed, rtol=scenario.solver.rtol)
    unit = {a.name: a.unit for a in m.assignments}[output]
    if summary == "auc":
        unit = "day" if unit == "dimensionless" else f"{unit} x day"
    assumptions = (
        f"Each parameter uniform on its variability scale (log, or logit for shares) around its typical value: "
        f"+/-{omegas:g} omega where the disease declares between-subject variability, else a factor of "
        f"{spread:g} either way (log) or +/-{logit_spread:g} (logit); clipped to declared bounds.")
    return SensitivityResult(
        scenario=scenario.name, disease=scenario.disease_name, output=output, unit=unit, summary=summary,
        day=float(end), method=method, n=n, seed=int(seed),
        ranges=ranges, held=held,
        indices=MappingProxyType({k: tuple(float(x) for x in v) for k, v in result.columns.items()}),
        n_evaluations=result.n_evaluations, n_failed=result.n_failed, n_dropped=result.n_dropped,
        typical_value=typical, mean=result.mean, sd=result.sd, varies=result.varies, assumptions=assumptions,
    )
