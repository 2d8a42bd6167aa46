"""A two-period, two-treatment (AB/BA) crossover: each patient gets both arms' regimens in turn.

``design: crossover`` with ``periods`` (each period's length in days) and ``washout_days``
(untreated days between periods, default 0). The trial's two arms are A (the first) and B;
patient *i* follows sequence AB or BA, assigned in permuted blocks of two from the counter
stream (``crossover/sequence``, keyed by the block number ``i // 2``): exactly half the
patients (of an even size) take each sequence, and a patient's sequence depends only on
(seed, patient number), not on the chunk.

Each period continues from the state at the end of the one before (the engine's
``Problem(t0=..., y0=...)``, as after a run-in), in absolute time, so a model whose
equations read ``t`` continues its course; period 1 starts at day 0, or at randomisation
after a run-in (whose selected patients' states it starts from). A washout is solved as
the first, untreated, days of the next period's solve. Endpoint days count from each
period's start and an endpoint's baseline is the value at the period's start. Per-patient
files hold one row per patient and period (``period``: 1 or 2, ``sequence``: AB or BA,
``arm``: the regimen given in that period).

Analysis (Jones B, Kenward MG. Design and Analysis of Cross-Over Trials, 3rd ed., CRC
Press 2014, ch. 2, "the 2 x 2 cross-over trial"), for arm X against reference R on an
endpoint's per-patient value (0/1 for a fraction or time to event):

- the within-patient contrast of the trial's measures (``ivigsim.trial.contrasts.compare``
  with the two periods of each patient as the pair): for values, the mean of X - R with the
  paired t interval;
- ``period_adjusted_difference``: tau = (mean d_XR - mean d_RX) / 2, with d = period 1 -
  period 2 in each sequence group; var = s2_d / 4 (1/n_XR + 1/n_RX), s2_d the pooled
  within-group variance of d, t with n - 2 degrees of freedom (J&K s. 2.3); equal to the
  treatment coefficient of OLS with patient, period and treatment;
- ``period_effect``: period 2 - period 1, -(mean d_XR + mean d_RX) / 2, same variance;
- ``carry_over``: lambda_X - lambda_R = mean T_XR - mean T_RX, T = the patient's period sum,
  var = s2_T (1/n_XR + 1/n_RX) (J&K s. 2.5; Grizzle 1965). Aliased with the sequence effect
  and tested between patients, so it has little power; J&K advise against choosing the
  analysis on it (Freeman 1989). Reported, not acted on.

Comparators (plasma exchange, SCIG, an FcRn inhibitor) may be given in either arm: the trial then
runs on the comparator model (``ivigsim.trial.comparators``), each period's sessions are compiled
for the patient from its covariates (those starting within the period; a session running at a
period's end is refused, as an infusion is), and each row carries its period's use columns.

Not supported yet (refused, one line): more than two arms or periods, response-guided
rules, a mixed population, a user-defined FcRn inhibitor (its constants would change between
periods).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from ivigsim.errors import InputError
from ivigsim.trial.statistics import LEVEL, Estimate

#: The sequences of a two-arm crossover, as arm indices per period, and their labels.
SEQUENCES = np.array([[0, 1], [1, 0]], dtype=np.int64)
SEQUENCE_LABELS = ("AB", "BA")
#: The counter stream of the sequence assignment.
SEQUENCE_STREAM = "crossover/sequence"
#: Contrast entries added by the crossover analysis.
CROSSOVER_MEASURES = ("period_adjusted_difference", "period_effect", "carry_over")


@dataclass(frozen=True)
class Crossover:
    """``periods``: each period's length in days; ``washout_days``: untreated days between periods."""

    periods: tuple[float, ...]
    washout_days: float = 0.0

    def check(self, trial) -> None:
        """What a crossover needs of its trial (one ``InputError`` naming the field)."""
        if len(trial.arms) != 2:
            raise InputError("arms", "exactly two arms in a crossover (AB/BA; more not supported yet)",
                             [a.name for a in trial.arms])
        if len(self.periods) != 2:
            raise InputError("periods", "two periods in a two-arm crossover (each patient gets both arms)",
                             list(self.periods))
        for i, d in enumerate(self.periods):
            if isinstance(d, bool) or not isinstance(d, (int, float)) or not 0 < d <= 36500:
                raise InputError(f"periods.{i}.days", "a period length in days in (0, 36500]", d)
        if isinstance(self.washout_days, bool) or not isinstance(self.washout_days, (int, float)) or \
                not 0 <= self.washout_days <= 36500:
            raise InputError("washout_days", "untreated days between periods in [0, 36500]", self.washout_days)
        for i, a in enumerate(trial.arms):
            if a.rules is not None:
                raise InputError(f"arms.{i}.rules", "no rules in a crossover (not supported yet)", "rules")
        if trial.subpopulations:
            raise InputError("population.subpopulations", "one population in a crossover (not supported yet)",
                             "a mixed population")
        check_plans(trial)
        for i, e in enumerate(trial.endpoints):
            if e.per_patient_column:
                continue
            last = max(e.times(self.shortest))
            if last > self.shortest + 1e-9:
                raise InputError(f"endpoints.{i}.{'at_day' if e.at_day is not None else 'window'}",
                                 f"days within a period (0 to {self.shortest:g}, from each period's start)", last)

    @property
    def shortest(self) -> float:
        return float(min(self.periods))

    def starts(self) -> tuple[float, ...]:
        """Each period's first day, from day 0 (or randomisation)."""
        out, t = [], 0.0
        for d in self.periods:
            out.append(t)
            t += float(d) + float(self.washout_days)
        return tuple(out)


def sequences(seed: int, patients: np.ndarray) -> np.ndarray:
    """Each patient's sequence (0: AB, 1: BA): permuted blocks of two from the counter stream."""
    from ivigsim.population import CounterRNG

    patients = np.asarray(patients, dtype=np.int64)
    blocks = patients // 2
    u = CounterRNG(seed).uniform(SEQUENCE_STREAM, blocks, 1)[:, 0]
    first = (u >= 0.5).astype(np.int64)  # the block's first patient's sequence; the second takes the other
    return np.where(patients % 2 == 0, first, 1 - first)


def check_plans(trial) -> None:
    """An infusion running at a period's end would be cut in two: refused (as at randomisation)."""
    from ivigsim.trial.run_in import check_plan

    for i, arm in enumerate(trial.arms):
        for p, days in enumerate(trial.crossover.periods):
            try:
                check_plan(arm.regimen, float(days), trial.indication, f"periods.{p}.days")
            except InputError as exc:
                raise InputError(exc.field, f"{exc.expected} (arm {arm.name})", exc.got) from None


def period_times(trial, days: float) -> np.ndarray:
    """A period's saved times, from its start: the grid, the endpoints' days and its end."""
    n = int(np.floor(days / trial.output_every_days + 1e-9))
    grid = np.arange(n + 1) * trial.output_every_days
    extra = [t for e in trial.endpoints for t in e.times(days)]
    return np.union1d(np.union1d(grid, extra), [days])


def _plan(trial, arm, days: float):
    from ivigsim.model.patient import Patient

    if arm.regimen is None:
        return None
    plan = replace(arm.regimen, dosing_weight="actual").compile(Patient(weight_kg=1.0), trial.indication)
    return replace(plan, infusions=tuple(i for i in plan.infusions if i.start_day < days))


def _schedule(model, arm, plan, days: float, weights: np.ndarray, offset: float):
    from ivigsim.engine.schedule import InputSchedule, Window
    from ivigsim.simulation import INFUSION_INPUT

    n_inputs = len(model.model.input_names)
    n = len(weights)
    if plan is None:
        return InputSchedule.empty(n, n_inputs)
    index = model.model.input_names.index(INFUSION_INPUT)
    windows = [Window(w.start_day, w.end_day, w.rate_g_per_day, index) for w in plan.windows if w.start_day < days]
    base = InputSchedule.from_windows([windows], n_inputs)
    return InputSchedule(np.broadcast_to(base.times, (n, base.times.shape[1])).copy() + offset,
                         base.values * np.asarray(weights)[:, None, None])


def run_chunk(trial, start: int, stop: int, candidates: list[np.ndarray],
              states: list[np.ndarray] | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Patients [start, stop): one row per patient and period (see the module docstring)."""
    from ivigsim.engine.outputs import solve_outputs_and_state
    from ivigsim.engine.solve import Problem, SaveAt, Status
    from ivigsim.model.library import compiled_model
    from ivigsim.population import CounterRNG, draw
    from ivigsim.safety.trial import safety_columns
    from ivigsim.trial.adverse_rates import COMPOSITE_OUTPUTS, composite_column
    from ivigsim.trial.runner import _dosing_weights

    from ivigsim.trial import comparators as comp

    rng = CounterRNG(trial.seed)
    with_comparators = comp.uses_comparators(trial)  # both arms then run on the comparator model
    model = compiled_model(trial.disease, with_comparators)
    m = model.model
    ids = np.asarray(candidates[0], dtype=np.int64)
    n = len(ids)
    numbers = np.arange(start, stop, dtype=np.int64)
    seq = sequences(trial.seed, numbers)
    patients = draw(trial.population, model, rng, ids, "")
    covariates = patients.covariates.as_columns() | {"female": patients.covariates.female}
    t_rand = float(trial.run_in.days) if trial.run_in is not None else 0.0
    y = None if states is None else np.asarray(states[0], dtype=float).T.copy()  # (S, N) at the period's start
    t_now = t_rand
    failed = np.zeros(n, dtype=bool)
    failed_status = np.full(n, Status.SUCCESS.name, dtype=object)
    weights = [_dosing_weights(arm, patients) for arm in trial.arms]
    # Each patient's comparator sessions under each arm (per patient: plasma volume, capped doses).
    sessions = [comp.patient_sessions(arm, patients, weights[k]) if comp.regimen_has_comparators(arm.regimen)
                else None for k, arm in enumerate(trial.arms)]
    frames, trajectories = [], []
    n_traj = max(0, min(stop, trial.trajectories) - start)
    for p, (days, offset) in enumerate(zip(trial.crossover.periods, trial.crossover.starts())):
        days = float(days)
        ts = period_times(trial, days)
        begin = t_rand + offset
        arm_of = SEQUENCES[seq, p]
        y_next = np.full((model.n_states, n), np.nan)
        for k, arm in enumerate(trial.arms):
            rows = np.flatnonzero(arm_of == k)
            if not len(rows):
                continue
            live = rows[~failed[rows]]
            params = patients.parameters[:, rows].copy()
            overrides = {**m.switch_overrides(arm.mechanisms), **comp.path_parameters(trial, arm), **arm.parameters}
            for name, value in overrides.items():
                params[m.parameter_names.index(name)] = value
            params = comp.individual_constants(params, m.parameter_names, comp.path_variability(trial, arm), rng, "",
                                               ids[rows])  # the stream draw() used
            plan = _plan(trial, arm, days)
            w = weights[k][rows]
            columns: dict[str, object] = {"arm": np.full(len(rows), arm.name, dtype=object), "patient": numbers[rows],
                                          "candidate": ids[rows], "period": np.full(len(rows), p + 1, dtype=np.int64),
                                          "sequence": np.array([SEQUENCE_LABELS[s] for s in seq[rows]], dtype=object)}
            columns |= {c: np.asarray(v)[rows] for c, v in patients.covariates.as_columns().items()}
            columns["dosing_weight_kg"] = w
            status = failed_status[rows].copy()
            steps = np.zeros(len(rows), dtype=np.int64)
            rejected = np.zeros(len(rows), dtype=np.int64)
            outputs = {name: np.full((len(rows), len(ts)), np.nan) for name in trial.needed_outputs()}
            if len(live):
                sel = np.isin(rows, live)
                y0 = None if y is None else y[:, live]
                if sessions[k] is None:
                    schedule = _schedule(model, arm, plan, days, w[sel], begin)
                else:  # the patients' own sessions starting within the period, shifted to its start
                    own = comp.schedule(model, trial, plan, [sessions[k][j] for j in rows[sel]], w[sel], days)
                    schedule = type(own)(own.times + begin, own.values)
                problem = Problem(model, params[:, sel], schedule, t0=t_now, y0=y0)
                observed, state = solve_outputs_and_state(problem, SaveAt(ts + begin), trial.solver,
                                                          trial.needed_outputs())
                ok = (observed.status == Status.SUCCESS) & np.isfinite(state).all(axis=0)
                codes = np.where(ok | (observed.status != Status.SUCCESS), observed.status, Status.NONFINITE)
                status[sel] = np.array([Status(int(s)).name for s in codes], dtype=object)
                steps[sel] = observed.n_steps
                rejected[sel] = observed.n_rejected
                for name in outputs:
                    outputs[name][sel] = observed.output(name)
                    outputs[name][sel & ~np.isin(rows, live[ok])] = np.nan
                y_next[:, live] = state
                newly = live[~ok]
                failed[newly] = True
                failed_status[newly] = status[np.isin(rows, newly)]
            columns["solver_status"] = status
            columns["solver_steps"] = steps
            columns["solver_rejected"] = rejected
            cov = {c: np.asarray(v)[rows] for c, v in covariates.items()}
            columns |= safety_columns(plan, cov, rng, ids[rows], trial.risk_factors, stream=f"safety/period{p + 1}/",
                                      dosing_weight_kg=w)
            if with_comparators:  # sessions, litres, grams and mg in this period (trial.comparators)
                columns |= comp.use_columns(trial, arm, None if sessions[k] is None else [sessions[k][j] for j in rows],
                                            len(rows), days)
            by_name = {e.name: e for e in trial.endpoints}
            for e in trial.endpoints:
                if e.output in COMPOSITE_OUTPUTS:
                    columns |= e.from_column(composite_column(columns, e.output))
                elif e.per_patient_column:
                    columns |= e.from_column(columns[e.output])
                else:
                    columns |= e.per_patient(ts, outputs[e.output], days)
                if e.given is not None:
                    met = by_name[e.given].condition_met(columns)
                    for c in e.columns():
                        columns[c] = np.where(met, columns[c], np.nan)
            frames.append(pd.DataFrame(columns))
            for j, r in enumerate(rows):
                if r < n_traj:
                    row = {"arm": arm.name, "patient": start + int(r), "period": p + 1, "time_day": ts + offset}
                    row |= {name: outputs[name][j] for name in trial.needed_outputs()}
                    trajectories.append(pd.DataFrame(row))
        y = y_next
        t_now = begin + days
    table = pd.concat(frames, ignore_index=True).sort_values(["patient", "period"], kind="stable")
    traj = None
    if trajectories:
        traj = pd.concat(trajectories, ignore_index=True).sort_values(["patient", "period", "time_day"], kind="stable")
        traj = traj.reset_index(drop=True)
    return table.reset_index(drop=True), traj


# --- analysis ---------------------------------------------------------------------------------

def _value(endpoint, frame: pd.DataFrame) -> np.ndarray:
    from ivigsim.trial.contrasts import binary_column

    cols = {c: frame[c].to_numpy(dtype=float) for c in endpoint.columns()}
    if endpoint.summary in ("fraction", "time_to_event"):
        return binary_column(endpoint, cols)
    return cols[endpoint.name]


def _t_estimate(value: float, se: float, df: int, n: int, method: str, level: float) -> Estimate:
    if df < 1 or not np.isfinite(se):
        return Estimate(math.nan, math.nan, math.nan, n, method)
    q = float(stats.t.ppf(0.5 + level / 2, df))
    value = float(value) + 0.0  # no -0
    return Estimate(value, float(value - q * se) + 0.0, float(value + q * se) + 0.0, n, method)


def two_by_two(y_first: np.ndarray, y_second: np.ndarray, x_first: np.ndarray, level: float = LEVEL) -> dict:
    """Jones & Kenward's 2 x 2 analysis of X against R: ``y_first``/``y_second``: each patient's
    period-1 and period-2 values; ``x_first``: whether the patient got X in period 1 (sequence XR).
    Returns the period-adjusted difference X - R, the period effect (2 - 1) and the carry-over
    lambda_X - lambda_R as ``Estimate``s."""
    y1, y2, g = np.asarray(y_first, float), np.asarray(y_second, float), np.asarray(x_first, bool)
    ok = np.isfinite(y1) & np.isfinite(y2)
    y1, y2, g = y1[ok], y2[ok], g[ok]
    d, total = y1 - y2, y1 + y2
    n1, n2 = int(g.sum()), int((~g).sum())
    n, df = n1 + n2, n1 + n2 - 2
    if n1 < 1 or n2 < 1 or df < 1:
        nan = Estimate(math.nan, math.nan, math.nan, n, "not estimable (a sequence with no patients)")
        return {m: nan for m in CROSSOVER_MEASURES}
    s2_d = (((d[g] - d[g].mean()) ** 2).sum() + ((d[~g] - d[~g].mean()) ** 2).sum()) / df
    s2_t = (((total[g] - total[g].mean()) ** 2).sum() + ((total[~g] - total[~g].mean()) ** 2).sum()) / df
    se_d = math.sqrt(s2_d / 4 * (1 / n1 + 1 / n2))
    se_t = math.sqrt(s2_t * (1 / n1 + 1 / n2))
    source = "Jones & Kenward 2014, ch. 2"
    return {
        "period_adjusted_difference": _t_estimate((d[g].mean() - d[~g].mean()) / 2, se_d, df, n,
                                                  f"2x2 crossover, within-patient, period-adjusted; t, {df} df ({source})",
                                                  level),
        "period_effect": _t_estimate(-(d[g].mean() + d[~g].mean()) / 2, se_d, df, n,
                                     f"period 2 - period 1, within-patient; t, {df} df ({source})", level),
        "carry_over": _t_estimate(total[g].mean() - total[~g].mean(), se_t, df, n,
                                  f"carry-over (sequence x treatment), between patients on period sums; t, {df} df "
                                  f"({source}; Grizzle 1965)", level),
    }


def contrast_pairs(trial) -> list:
    """The contrasts to analyse: the trial's, else every endpoint of B against A (the first arm)."""
    from ivigsim.trial.contrasts import Contrast, default_measures

    if trial.contrasts:
        return list(trial.contrasts)
    a, b = trial.arms[0].name, trial.arms[1].name
    return [Contrast(e.name, b, a, default_measures(e.summary)) for e in trial.endpoints]


def analyse(trial, table: pd.DataFrame, level: float = LEVEL) -> list[dict]:
    """Each contrast, within patients (paired over the two periods), with the 2 x 2 analysis."""
    from ivigsim.trial.contrasts import compare

    table = table.sort_values(["patient", "period"], kind="stable")
    by_name = {e.name: e for e in trial.endpoints}
    out = []
    for c in contrast_pairs(trial):
        e = by_name[c.endpoint]
        x = table[table["arm"] == c.arm].set_index("patient")
        r = table[table["arm"] == c.reference].set_index("patient")
        both = x.index.intersection(r.index)
        x, r = x.loc[both], r.loc[both]
        first = {col: x[col].to_numpy(dtype=float) for col in e.columns()}
        second = {col: r[col].to_numpy(dtype=float) for col in e.columns()}
        entry = compare(c, e, first, second, paired=True, level=level)
        vx, vr = _value(e, x), _value(e, r)
        x_first = x["period"].to_numpy() == 1
        y1 = np.where(x_first, vx, vr)
        y2 = np.where(x_first, vr, vx)
        entry["estimates"] |= {k: v.as_dict() for k, v in two_by_two(y1, y2, x_first, level).items()}
        entry["crossover"] = True
        out.append(entry)
    return out


def analysis_columns(trial) -> list[str]:
    """The patient-file columns ``analyse`` reads."""
    return list(dict.fromkeys(["arm", "patient", "period", *[c for e in trial.endpoints for c in e.columns()]]))


def header(trial) -> dict:
    """The summary's ``crossover`` entry: periods, washout and the sequences."""
    x = trial.crossover
    a, b = trial.arms[0].name, trial.arms[1].name
    counts = np.bincount(sequences(trial.seed, np.arange(trial.size)), minlength=2)
    return {"crossover": {"periods_days": [float(d) for d in x.periods], "washout_days": float(x.washout_days),
                          "sequences": {"AB": f"{a} then {b}", "BA": f"{b} then {a}"},
                          "patients_per_sequence": {"AB": int(counts[0]), "BA": int(counts[1])}}}


def format_header(summary: dict) -> list[str]:
    x = summary.get("crossover")
    if not x:
        return []
    periods = " and ".join(f"{d:g}" for d in x["periods_days"])
    return [f"crossover: periods of {periods} days, washout {x['washout_days']:g} days; "
            f"AB = {x['sequences']['AB']} ({x['patients_per_sequence']['AB']} patients), "
            f"BA = {x['sequences']['BA']} ({x['patients_per_sequence']['BA']}); "
            "each arm's rows are the periods it was given; contrasts are within patients"]
