"""The three shapes of adverse-event model, their covariates and documented coefficients.

Each model is a frozen value whose coefficients carry their provenance (``source``: a
published figure; ``derived``: arithmetic on published figures; ``calibrated``: solved
so that a published figure is reproduced, see ``ivigsim.validation.safety_calibration``;
``assumption``: neither, with the reason):

- :class:`LogisticEvent`, per infusion: ``p = E_u[expit(eta + u)]`` with ``eta`` the
  intercept plus coefficient x covariate, and ``u ~ N(0, frailty_sd^2)`` a patient's
  own susceptibility (0 unless given), so that one patient's infusions are
  correlated and the course probability is ``1 - E_u[prod_i (1 - expit(eta_i + u))]``.
- :class:`CumulativeLogisticEvent`, course-driven: the probability of the event during
  a course of cumulative dose ``D`` is ``F(D) = expit(eta + b log2(D / 2 g/kg) + u)``; an
  infusion's probability is the increment it adds, ``1 - (1 - F(D_i)) / (1 - F(D_i - g_i))``,
  so a course's probability is ``F`` of its total whatever the split (given ``u``, the
  patient's susceptibility, averaged over as above).
- :class:`WindowHazardEvent`, thrombosis: a baseline hazard ``h0 M`` (``M`` from the
  patient's factors) multiplied during each infusion's risk window by a hazard ratio
  that grows with the rise in total IgG (the viscosity proxy from the simulation) and
  the infusion rate: ``p_i = 1 - exp(-h0 M HR_i w_i)``.

Covariates are named functions of :class:`~ivigsim.safety.exposure.Drivers`
(``COVARIATES``). The shipped models and their numbers are in ``ivigsim.safety.events``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Literal

import numpy as np

from .exposure import Drivers

Provenance = Literal["source", "derived", "calibrated", "assumption"]

#: Volume rate above which reactions cluster: "> 1.5 mL/kg/h in one series" (s.9 rate row).
FAST_RATE_mL_PER_KG_H = 1.5
#: Flow above which headache and low-grade fever appeared on the 2-day ITP regimen: 0.04 mL/kg/min
#: (Kurlander 1987, s.12.5), i.e. 2.4 mL/kg/h.
KURLANDER_FLOW_mL_PER_KG_H = 0.04 * 60.0
#: "The slowest practicable rate, e.g. < 3.3 mg/kg/min" for patients at risk (s.10 boxed warnings).
AT_RISK_RATE_MG_PER_KG_MIN = 3.3
#: Reference course dose of the course-driven models, g/kg (Sekul 1994: 2 g/kg; Padmore 2015: high dose >= 2 g/kg).
REFERENCE_COURSE_G_PER_KG = 2.0
#: Gauss-Hermite nodes for averaging over a patient's susceptibility.
QUADRATURE_NODES = 64
DAYS_PER_YEAR = 365.25

_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(QUADRATURE_NODES)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()
#: Up to this many values ``expit`` computes them itself; more (a trial's patients) go to scipy.
OWN_EXPIT_MAX = 4096


def _expit_one(x: float) -> float:
    try:
        return 1.0 / (1.0 + math.exp(-x))
    except OverflowError:  # exp(-x) beyond the largest float: C's exp gives inf, and 1 / inf is 0
        return 0.0


def expit(x):
    """``scipy.special.expit``, bit for bit, without importing scipy for a few values (one
    patient's infusions; scipy.special takes 0.13 s of ``ivigsim simulate``'s start-up). scipy
    computes ``1 / (1 + exp(-x))`` in double precision with the C library's ``exp``, which is
    ``math.exp``'s too; ``tests/test_startup.py`` checks the two agree to the bit. More
    than ``OWN_EXPIT_MAX`` values, or values not in double precision, go to scipy."""
    values = np.asarray(x)
    if values.dtype != np.float64 or values.size > OWN_EXPIT_MAX:
        from scipy.special import expit as scipy_expit

        return scipy_expit(x)
    out = np.fromiter(map(_expit_one, values.ravel().tolist()), dtype=np.float64, count=values.size)
    return out.reshape(values.shape)[()]


def _doublings_above(x: np.ndarray, threshold: float) -> np.ndarray:
    return np.log2(np.maximum(1.0, x / threshold))


@dataclass(frozen=True)
class Covariate:
    name: str
    meaning: str
    of: Callable[[Drivers], np.ndarray]


def _covariates(*items: Covariate) -> Mapping[str, Covariate]:
    return MappingProxyType({c.name: c for c in items})


COVARIATES = _covariates(
    Covariate("first_infusion", "1 for a first infusion (first IVIG ever, or after a gap of over 8 weeks), else 0",
              lambda d: d.first_infusion),
    Covariate("female", "1 for a woman, 0 for a man", lambda d: d.female),
    Covariate("paediatric", "1 under 18 years of age, else 0", lambda d: (d.age_years < 18).astype(float)),
    Covariate("age_over_65", "1 above 65 years of age, else 0", lambda d: (d.age_years > 65).astype(float)),
    Covariate("age_decades_from_70", "(age - 70 years) / 10 years", lambda d: (d.age_years - 70.0) / 10.0),
    Covariate("migraine_history", "1 with a history of migraine, else 0", lambda d: d.migraine_history),
    Covariate("iga_antibodies", "1 for IgA deficiency with anti-IgA antibodies, else 0", lambda d: d.iga_antibodies),
    Covariate("iga_antibodies_x_log10_iga_dose",
              "anti-IgA (0/1) x log10(IgA infused / 1 mg/kg); IgA infused = product IgA x volume",
              lambda d: d.iga_antibodies * np.log10(d.iga_mg_per_kg / 1.0)),
    Covariate("fast_rate_doublings",
              f"log2(peak volume rate / {FAST_RATE_mL_PER_KG_H:g} mL/kg/h), 0 at or below it",
              lambda d: _doublings_above(d.peak_rate_mL_per_kg_h(), FAST_RATE_mL_PER_KG_H)),
    Covariate("flow_above_0_04_doublings",
              f"log2(peak volume rate / {KURLANDER_FLOW_mL_PER_KG_H:g} mL/kg/h, i.e. 0.04 mL/kg/min), 0 at or below it",
              lambda d: _doublings_above(d.peak_rate_mL_per_kg_h(), KURLANDER_FLOW_mL_PER_KG_H)),
    Covariate("fast_start_doublings",
              f"log2(starting volume rate / {FAST_RATE_mL_PER_KG_H:g} mL/kg/h), 0 at or below it (no titration)",
              lambda d: _doublings_above(d.start_rate_mL_per_kg_h(), FAST_RATE_mL_PER_KG_H)),
    Covariate("rate_above_3_3_doublings",
              f"log2(peak rate / {AT_RISK_RATE_MG_PER_KG_MIN:g} mg/kg/min), 0 at or below it",
              lambda d: _doublings_above(d.peak_rate_mg_per_kg_min, AT_RISK_RATE_MG_PER_KG_MIN)),
    Covariate("dose_doublings_from_1", "log2(dose of this infusion / 1 g/kg)", lambda d: np.log2(d.g_per_kg)),
    Covariate("course_dose_doublings_from_1", "log2(course dose up to this infusion / 1 g/kg)",
              lambda d: np.log2(d.course_g_per_kg)),
    Covariate("sucrose", "1 for a sucrose-stabilised product, else 0", lambda d: d.sucrose),
    Covariate("diabetes", "1 with diabetes mellitus, else 0", lambda d: d.diabetes),
    Covariate("renal_impairment", "1 with pre-existing renal impairment, else 0", lambda d: d.renal_impairment),
    Covariate("prior_thrombosis", "1 with a previous arterial or venous thrombosis, else 0", lambda d: d.prior_thrombosis),
    Covariate("obese", "1 for obesity (BMI >= 30 kg/m^2), else 0", lambda d: d.obese),
    Covariate("non_o_blood_group", "1 for blood group A, B or AB, 0 for O", lambda d: d.non_o_blood_group),
    Covariate("inflammation", "1 with active systemic inflammation, else 0", lambda d: d.inflammation),
)


@dataclass(frozen=True)
class Coefficient:
    """One number of one model: what it multiplies (``name``), its value and where it comes from.

    ``scale`` says what the value is: ``log-odds``, ``log-OR`` (per unit of the covariate),
    ``log-HR`` (per unit), or a plain quantity with its unit.

    ``averaged``: for an assumed odds ratio in a model with a patient susceptibility
    (``frailty_sd``), the assumption is stated as a *population-averaged* log odds ratio
    (what a cohort shows: "first infusions react about twice as often"); ``value``, the
    within-patient log odds ratio the model uses, is then ``averaged x attenuation(frailty_sd)``
    (:func:`attenuation`), set by the model.
    """

    name: str
    value: float
    scale: str
    provenance: Provenance
    source: str
    averaged: float | None = None

    @property
    def ratio(self) -> float | None:
        """exp(value) for odds or hazard ratios (per unit of the covariate); None otherwise."""
        return math.exp(self.value) if self.scale in ("log-OR", "log-HR") else None

    @property
    def averaged_ratio(self) -> float | None:
        return math.exp(self.averaged) if self.averaged is not None else None


#: (16 sqrt(3) / (15 pi))^2: the logistic-normal attenuation constant of Zeger, Liang &
#: Albert 1988 (Biometrics 44:1049): a within-patient log odds ratio b corresponds to a
#: population-averaged one of about b / sqrt(1 + c2 sd^2).
ZEGER_C2 = (16.0 * math.sqrt(3.0) / (15.0 * math.pi)) ** 2


def attenuation(frailty_sd: float) -> float:
    """Within-patient / population-averaged log odds ratio for a logistic-normal frailty."""
    return math.sqrt(1.0 + ZEGER_C2 * frailty_sd**2)


def coefficient(name: str, value: float, provenance: Provenance, source: str, scale: str = "log-OR") -> Coefficient:
    return Coefficient(name, float(value), scale, provenance, source)


def odds_ratio(name: str, ratio: float, provenance: Provenance, source: str, averaged: bool = False) -> Coefficient:
    """An odds ratio per unit of a covariate; ``averaged``: ``ratio`` is population-averaged (see ``Coefficient``)."""
    return Coefficient(name, math.log(ratio), "log-OR", provenance, source, math.log(ratio) if averaged else None)


def hazard_ratio(name: str, ratio: float, provenance: Provenance, source: str) -> Coefficient:
    return coefficient(name, math.log(ratio), provenance, source, "log-HR")


def logit(p: float) -> float:
    return math.log(p / (1 - p))


class _Model:
    name: str
    title: str
    coefficients: tuple[Coefficient, ...]

    def value(self, name: str) -> float:
        for c in self.coefficients:
            if c.name == name:
                return c.value
        raise KeyError(f"{self.name} has no coefficient {name!r}")

    def with_values(self, **values: float):
        """A copy with some coefficients' values replaced (calibration, sensitivity).

        For a population-averaged coefficient (``Coefficient.averaged``) the value given is
        the population-averaged log odds ratio.
        """
        unknown = set(values) - {c.name for c in self.coefficients}
        if unknown:
            raise KeyError(f"{self.name} has no coefficient(s) {sorted(unknown)}")
        coefficients = tuple(
            c if c.name not in values else
            replace(c, averaged=float(values[c.name])) if c.averaged is not None else
            replace(c, value=float(values[c.name]))
            for c in self.coefficients)
        return replace(self, coefficients=coefficients)

    def __post_init__(self) -> None:
        """Set the within-patient value of every population-averaged coefficient."""
        factor = attenuation(self.frailty_sd)
        object.__setattr__(self, "coefficients", tuple(
            replace(c, value=c.averaged * factor) if c.averaged is not None else c for c in self.coefficients))

    def _linear(self, d: Drivers, skip: tuple[str, ...] = ()) -> np.ndarray:
        """Sum of coefficient x covariate over the covariate terms (not the intercept)."""
        eta = np.zeros(d.shape)
        for c in self.coefficients:
            if c.name in COVARIATES and c.name not in skip and c.value != 0.0:
                eta = eta + c.value * COVARIATES[c.name].of(d)
        return eta

    def openly_reported(self):
        """The model as an open-label trial or an observational series reports it: ``open_reporting``
        (a study-level log odds ratio, not a patient covariate) added to the intercept; the model
        itself predicts what blinded trials report as product-related. A copy; unchanged without
        that coefficient."""
        if not any(c.name == "open_reporting" for c in self.coefficients):
            return self
        return self.with_values(intercept=self.value("intercept") + self.value("open_reporting"))

    def covariates(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.coefficients if c.name in COVARIATES)

    @property
    def frailty_sd(self) -> float:
        """SD of the patient's own log-odds shift (0 when the model has none)."""
        return next((c.value for c in self.coefficients if c.name == "frailty_sd"), 0.0)

    def _shifted(self, eta: np.ndarray) -> np.ndarray:
        """``eta`` at every quadrature node of the susceptibility (new last axis), or as is."""
        return eta[..., None] + self.frailty_sd * _NODES if self.frailty_sd else eta

    def _average(self, values: np.ndarray) -> np.ndarray:
        """Average over the quadrature nodes (last axis) when the model has a susceptibility."""
        return (values * _WEIGHTS).sum(axis=-1) if self.frailty_sd else values


@dataclass(frozen=True)
class LogisticEvent(_Model):
    """Per-infusion logistic model with an optional patient-level susceptibility (frailty).

    Coefficients: ``intercept`` (log-odds with every covariate 0), ``frailty_sd`` (SD of
    the patient's own log-odds shift; 0 = infusions independent), then covariate terms.
    """

    name: str
    title: str
    coefficients: tuple[Coefficient, ...]
    kind: str = "logistic per infusion"

    def linear_predictor(self, d: Drivers) -> np.ndarray:
        return self.value("intercept") + self._linear(d)

    def infusion_probability(self, d: Drivers) -> np.ndarray:
        """Population-averaged probability per infusion (averaged over the patient's susceptibility)."""
        return self._average(expit(self._shifted(self.linear_predictor(d))))

    def course_probability(self, d: Drivers) -> np.ndarray:
        """Probability of at least one event over all infusions (last axis of ``d``)."""
        eta = self._shifted(self.linear_predictor(d))
        infusion_axis = -2 if self.frailty_sd else -1
        return self._average(-np.expm1(-np.logaddexp(0.0, eta).sum(axis=infusion_axis)))

    def conditional_probability(self, d: Drivers, z: np.ndarray) -> np.ndarray:
        """Per-infusion probability for patients whose susceptibility is ``z`` standard deviations."""
        return expit(self.linear_predictor(d) + self.frailty_sd * np.asarray(z, dtype=float))


@dataclass(frozen=True)
class CumulativeLogisticEvent(_Model):
    """Course-driven logistic model: ``F(D) = expit(intercept + b log2(D / 2 g/kg) + terms)``.

    Coefficients: ``intercept`` (log-odds at a 2 g/kg course with every other covariate
    0), ``course_dose_doublings_from_2`` (``b``), optionally ``frailty_sd`` (a patient's
    own susceptibility, as in :class:`LogisticEvent`), then covariate terms.
    """

    name: str
    title: str
    coefficients: tuple[Coefficient, ...]
    kind: str = "logistic on cumulative course dose"

    def course_log_odds(self, d: Drivers, course_g_per_kg: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            doublings = np.log2(np.asarray(course_g_per_kg, float) / REFERENCE_COURSE_G_PER_KG)
        slope = self.value("course_dose_doublings_from_2")
        dose_term = np.where(np.asarray(course_g_per_kg) > 0, slope * np.where(np.isfinite(doublings), doublings, 0.0), -np.inf)
        return self.value("intercept") + self._linear(d) + dose_term

    def cumulative_probability(self, d: Drivers, course_g_per_kg: np.ndarray) -> np.ndarray:
        """``F(D)``, averaged over the patient's susceptibility."""
        return self._average(expit(self._shifted(self.course_log_odds(d, course_g_per_kg))))

    def _log_increments(self, d: Drivers, shift: np.ndarray | float | None = None) -> np.ndarray:
        """``log(1 - p_i)`` per infusion: ``-(softplus(eta(D_i)) - softplus(eta(D_i - g_i)))``.

        ``shift``: None = at every quadrature node (new last axis); else added to the log-odds.
        """
        after = self.course_log_odds(d, d.course_g_per_kg)
        before = self.course_log_odds(d, d.course_before_g_per_kg)
        if shift is None:
            after, before = self._shifted(after), self._shifted(before)
        else:
            after, before = after + shift, before + shift
        return -(np.logaddexp(0.0, after) - np.logaddexp(0.0, before))

    def infusion_probability(self, d: Drivers) -> np.ndarray:
        """The increment of the course probability this infusion adds, averaged over susceptibility."""
        return self._average(-np.expm1(self._log_increments(d)))

    def course_probability(self, d: Drivers) -> np.ndarray:
        infusion_axis = -2 if self.frailty_sd else -1
        return self._average(-np.expm1(self._log_increments(d).sum(axis=infusion_axis)))

    def conditional_probability(self, d: Drivers, z: np.ndarray) -> np.ndarray:
        return -np.expm1(self._log_increments(d, self.frailty_sd * np.asarray(z, dtype=float)))


@dataclass(frozen=True)
class WindowHazardEvent(_Model):
    """Baseline hazard raised during each infusion's risk window.

    ``h0 = -ln(1 - baseline_one_year_risk) / 365.25`` per day; ``M = exp(sum of log-HR x
    covariate)``; ``HR_i = 1 + (reference_hazard_ratio - 1) (rise_i / reference_igg_rise)
    (R(rate_i) / R(reference_peak_rate))`` with ``R(r) = max(1, r / 3.3)^rate_exponent``;
    ``p_i = 1 - exp(-h0 M HR_i w_i)``, ``w_i`` the window in days.
    """

    name: str
    title: str
    coefficients: tuple[Coefficient, ...]
    kind: str = "hazard in the infusion's risk window"

    @property
    def baseline_hazard_per_day(self) -> float:
        return -math.log1p(-self.value("baseline_one_year_risk")) / DAYS_PER_YEAR

    def _rate_factor(self, rate: np.ndarray) -> np.ndarray:
        return np.maximum(1.0, np.asarray(rate) / AT_RISK_RATE_MG_PER_KG_MIN) ** self.value("rate_exponent")

    def hazard_ratio(self, d: Drivers) -> np.ndarray:
        """HR during the window relative to the same patient's days without IVIG."""
        excess = self.value("reference_hazard_ratio") - 1.0
        rise = d.igg_rise_g_per_L / self.value("reference_igg_rise_g_per_L")
        rate = self._rate_factor(d.peak_rate_mg_per_kg_min) / self._rate_factor(self.value("reference_peak_rate_mg_per_kg_min"))
        return 1.0 + excess * rise * rate

    def patient_multiplier(self, d: Drivers) -> np.ndarray:
        return np.exp(self._linear(d))

    def _cumulative_hazard(self, d: Drivers) -> np.ndarray:
        return self.baseline_hazard_per_day * self.patient_multiplier(d) * self.hazard_ratio(d) * d.window_days

    def infusion_probability(self, d: Drivers) -> np.ndarray:
        return -np.expm1(-self._cumulative_hazard(d))

    def course_probability(self, d: Drivers) -> np.ndarray:
        return -np.expm1(-self._cumulative_hazard(d).sum(axis=-1))

    def conditional_probability(self, d: Drivers, z: np.ndarray) -> np.ndarray:
        return self.infusion_probability(d)


EventModel = LogisticEvent | CumulativeLogisticEvent | WindowHazardEvent
