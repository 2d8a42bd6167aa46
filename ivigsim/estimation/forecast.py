"""Forecasts for a fitted subject: what the next dose does, and the dose that meets a target.

The forecast runs the subject's own doses plus one more infusion over a horizon, for every
posterior draw (MCMC samples, else draws from the Laplace normal) in one batch, and
reports the quantiles of the output over time: the band is parameter uncertainty only
(the spread of the model's prediction, not of a future measurement).

A target is an output that should stay above (``>=``) or below (``<=``) a value over the
horizon after the next dose: the IgG trough in immunodeficiency, platelets above 50 in ITP,
an INCAT score at or below its baseline. The dose for a target is the smallest next-dose
amount (same start and duration) for which at least ``probability`` of the posterior draws
keep the output on the right side of the value over the whole horizon. The output's
extreme over the horizon moves monotonically with the dose for the outputs this is meant
for (more IgG, higher trough), so a bisection finds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ivigsim.engine.schedule import Window
from ivigsim.errors import InputError
from ivigsim.estimation.individual import IndividualFit, SubjectPosterior
from ivigsim.subjects import INFUSION_INPUT

#: Forecast grid step (days): fine enough that a trough or peak is not missed by more than
#: the model's change over 2 hours.
GRID_STEP_DAYS = 1.0 / 12.0
#: Draws used per forecast (a 90 % band's ends are estimated to about +-2 percentage points).
MAX_DRAWS = 400
_TARGET = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Target:
    output: str
    above: bool  # True: output >= value; False: output <= value
    value: float

    @classmethod
    def parse(cls, text: str, outputs: tuple[str, ...]) -> Target:
        match = _TARGET.match(text)
        if not match:
            raise InputError("target", "OUTPUT>=VALUE or OUTPUT<=VALUE (for example igg_total_g_per_L>=6)", text)
        output, sign, value = match.groups()
        if output not in outputs:
            raise InputError("target", f"an output of the model ({', '.join(outputs)})", output)
        try:
            number = float(value)
        except ValueError:
            raise InputError("target", "a number after >= or <=", value) from None
        return cls(output, sign == ">=", number)

    def __str__(self) -> str:
        return f"{self.output} {'>=' if self.above else '<='} {self.value:g}"

    def met(self, values: np.ndarray) -> np.ndarray:
        """Per row of ``values`` (draws x times): is the target met at every time?"""
        return (values.min(axis=-1) >= self.value) if self.above else (values.max(axis=-1) <= self.value)


@dataclass(frozen=True)
class NextDose:
    start_day: float
    amount_g: float
    duration_day: float

    def __post_init__(self) -> None:
        if not self.amount_g >= 0:
            raise InputError("next dose amount", "an amount >= 0", self.amount_g)
        if not self.duration_day > 0:
            raise InputError("next dose duration", "a duration > 0", self.duration_day)

    def window(self, posterior: SubjectPosterior, amount_g: float | None = None) -> Window:
        index = posterior.setup.model.model.input_names.index(INFUSION_INPUT)
        amount = self.amount_g if amount_g is None else amount_g
        return Window(self.start_day, self.start_day + self.duration_day, amount / self.duration_day, index)


@dataclass(frozen=True)
class Forecast:
    subject_id: str
    output: str
    next_dose: NextDose
    horizon_day: float
    times: np.ndarray  # (T,) days
    median: np.ndarray  # (T,)
    lower: np.ndarray  # (T,) band at ``level``
    upper: np.ndarray
    level: float
    n_draws: int
    target: Target | None = None
    probability_met: float | None = None  # share of draws meeting the target with the next dose as given
    dose_for_target_g: float | None = None  # smallest amount meeting it with ``probability``
    probability: float | None = None
    note: str = ""


def default_next_dose(posterior: SubjectPosterior) -> NextDose:
    """The subject's last dose again, one dosing interval after it (the interval between
    the last two doses). A subject with fewer than two doses needs the next dose written out."""
    doses = sorted(posterior.subject.doses, key=lambda d: d.start_day)
    if len(doses) < 2:
        raise InputError("next dose", f"--next-dose-day for subject {posterior.subject.id} (fewer than two doses, "
                         "so no dosing interval to repeat)", f"{len(doses)} dose(s)")
    last, before = doses[-1], doses[-2]
    return NextDose(last.start_day + (last.start_day - before.start_day), last.amount, last.duration_day)


def _draws(fit: IndividualFit, posterior: SubjectPosterior) -> np.ndarray:
    draws = fit.draws[: MAX_DRAWS]
    return draws if len(draws) else fit.eta[None, :]


def _solve(posterior: SubjectPosterior, etas: np.ndarray, times: np.ndarray, output: str,
           windows: list[Window]) -> np.ndarray:
    extra = [[w] for w in windows] if windows else None
    observed = posterior.setup.solve(posterior.parameters(etas), np.full(len(etas), posterior.index), times,
                                     (output,), extra=extra)
    return observed.values[:, 0, :]


def posterior_band(posterior: SubjectPosterior, fit: IndividualFit, output: str, times: np.ndarray,
                   level: float = 0.9) -> dict[str, np.ndarray]:
    """The output over ``times`` for the typical patient (``pred``) and across posterior
    draws (``median``, ``lower``, ``upper`` at ``level``): the individual fit's band."""
    etas = np.vstack([np.zeros_like(fit.eta), _draws(fit, posterior)])
    values = _solve(posterior, etas, times, output, [])
    draws = values[1:][np.isfinite(values[1:]).all(axis=1)]
    q = np.quantile(draws, [(1 - level) / 2, 0.5, (1 + level) / 2], axis=0)
    return {"times": times, "pred": values[0], "lower": q[0], "median": q[1], "upper": q[2]}


def forecast(posterior: SubjectPosterior, fit: IndividualFit, output: str, next_dose: NextDose | None = None,
             horizon_day: float | None = None, *, target: Target | None = None, probability: float = 0.9,
             level: float = 0.9) -> Forecast:
    """The output over the subject's history and the next dose, with a posterior band."""
    model_outputs = posterior.setup.model.model.output_names
    if output not in model_outputs:
        raise InputError("forecast output", f"an output of the model ({', '.join(model_outputs)})", output)
    if not 0.0 < probability < 1.0:
        raise InputError("target probability", "a probability between 0 and 1 (0.9 = 90 %)", probability)
    next_dose = next_dose or default_next_dose(posterior)
    last_record = max([r.time_day for r in posterior.subject.records] + [d.end_day for d in posterior.subject.doses])
    if next_dose.start_day < last_record - 1e-9:
        raise InputError("next dose day", f"a day at or after the subject's last record (day {last_record:g})",
                         next_dose.start_day)
    if horizon_day is None:
        doses = sorted(d.start_day for d in posterior.subject.doses)
        horizon_day = doses[-1] - doses[-2] if len(doses) >= 2 else 28.0
    if not horizon_day > next_dose.duration_day:
        raise InputError("horizon", f"a horizon longer than the infusion ({next_dose.duration_day:g} days)", horizon_day)
    end = next_dose.start_day + horizon_day
    times = np.union1d(np.arange(0.0, end, GRID_STEP_DAYS), [next_dose.start_day + next_dose.duration_day, end])
    etas = _draws(fit, posterior)
    values = _solve(posterior, etas, times, output, [next_dose.window(posterior)] * len(etas))
    values = values[np.isfinite(values).all(axis=1)]
    q = np.quantile(values, [(1 - level) / 2, 0.5, (1 + level) / 2], axis=0)
    result = dict(subject_id=posterior.subject.id, output=output, next_dose=next_dose, horizon_day=horizon_day,
                  times=times, median=q[1], lower=q[0], upper=q[2], level=level, n_draws=len(values))
    if target is None:
        return Forecast(**result)
    if target.output != output:
        raise InputError("target", f"a target on the forecast output {output}", target.output)
    # The target is judged after the next infusion has ended, up to the horizon.
    after = times >= next_dose.start_day + next_dose.duration_day - 1e-9
    met_now = float(target.met(values[:, after]).mean())
    dose, note = dose_for_target(posterior, etas, times, after, next_dose, target, probability)
    return Forecast(**result, target=target, probability_met=met_now, dose_for_target_g=dose,
                    probability=probability, note=note)


def dose_for_target(posterior: SubjectPosterior, etas: np.ndarray, times: np.ndarray, after: np.ndarray,
                    next_dose: NextDose, target: Target, probability: float) -> tuple[float | None, str]:
    """Bisection on the next dose's amount, every draw solved in one batch per step."""
    def share(amount: float) -> float:
        values = _solve(posterior, etas, times, target.output, [next_dose.window(posterior, amount)] * len(etas))
        return float(target.met(values[:, after]).mean())

    if share(0.0) >= probability:
        return 0.0, "the target is met without a further dose"
    weight = posterior.subject.patient.weight_kg
    high = max(next_dose.amount_g, 0.1 * weight)
    cap = 4.0 * weight  # 4 g/kg in one infusion: beyond any label
    while share(high) < probability:
        if high >= cap:
            return None, f"not reached with up to {cap:.0f} g (4 g/kg) in the next infusion"
        high = min(2.0 * high, cap)
    low = 0.0
    while high - low > max(0.005 * high, 0.1):  # within 0.5 % or 0.1 g
        middle = 0.5 * (low + high)
        if share(middle) >= probability:
            high = middle
        else:
            low = middle
    return high, ""
