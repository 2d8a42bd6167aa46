"""Covariates of virtual patients: age, sex, body weight, height.

Two sources, one interface (``draw(rng, stream, candidates) -> Covariates``):

- ``CovariateModel``: distributions. Sex is Bernoulli; age, weight and height each have
  a truncated marginal (normal, log-normal or uniform; weight and height by sex), tied
  together by a Gaussian copula with the given correlations (of the normal scores).
  Truncation is by inversion on the truncated range, never by rejection, so each
  patient consumes a fixed number of random draws (the stream stays counter-based).
- ``CsvCovariates``: rows of a user's table, resampled with replacement by the counter
  stream, or taken in order.

Default distributions are adult values close to the NHANES 2015-2018 means (Fryar et
al. 2021, Vital Health Stat 3(46)); the spreads and the weight-height correlation are
assumptions, stated here so a trial file can override them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import numpy as np
from scipy.special import ndtr, ndtri

from ivigsim.errors import InputError
from ivigsim.population.rng import CounterRNG

Distribution = Literal["normal", "lognormal", "uniform"]
#: Continuous covariates, in the order their normal scores are drawn.
CONTINUOUS = ("age_years", "weight_kg", "height_cm")
#: What ``ivigsim.model.patient.Patient`` accepts (checked here so a spec fails early).
PLAUSIBLE = MappingProxyType({"age_years": (0.0, 120.0), "weight_kg": (0.5, 400.0), "height_cm": (30.0, 260.0)})


@dataclass(frozen=True)
class Marginal:
    """One covariate's distribution, truncated to [lower, upper].

    ``normal``: mean and sd; ``lognormal``: the arithmetic mean and sd of the log-normal
    (not of its logarithm); ``uniform``: lower and upper only.
    """

    distribution: Distribution
    mean: float = 0.0
    sd: float = 0.0
    lower: float = -np.inf
    upper: float = np.inf

    def check(self, field: str) -> None:
        if self.distribution not in ("normal", "lognormal", "uniform"):
            raise InputError(f"{field}.distribution", "normal, lognormal or uniform", self.distribution)
        if not self.lower < self.upper:
            raise InputError(f"{field}.upper", f"a bound above lower = {self.lower:g}", self.upper)
        if self.distribution == "uniform":
            if not (np.isfinite(self.lower) and np.isfinite(self.upper)):
                raise InputError(field, "finite lower and upper bounds for a uniform distribution",
                                 (self.lower, self.upper))
            return
        if not self.sd > 0:
            raise InputError(f"{field}.sd", "a standard deviation > 0", self.sd)
        if self.distribution == "lognormal" and not self.mean > 0:
            raise InputError(f"{field}.mean", "a mean > 0 for a log-normal distribution", self.mean)
        if self.cdf(self.upper) - self.cdf(self.lower) < 1e-9:
            raise InputError(field, "a truncation range [lower, upper] holding some of the distribution",
                             (self.lower, self.upper))

    def _loc_scale(self) -> tuple[float, float]:
        if self.distribution == "lognormal":
            s2 = np.log1p((self.sd / self.mean) ** 2)
            return float(np.log(self.mean) - s2 / 2), float(np.sqrt(s2))
        return self.mean, self.sd

    def cdf(self, x: float) -> float:
        if self.distribution == "uniform":
            return float(np.clip((x - self.lower) / (self.upper - self.lower), 0.0, 1.0))
        mu, sigma = self._loc_scale()
        if self.distribution == "lognormal":
            return 0.0 if x <= 0 else float(ndtr((np.log(x) - mu) / sigma))
        return float(ndtr((x - mu) / sigma))

    def quantile(self, u: np.ndarray) -> np.ndarray:
        """Inverse CDF of the truncated distribution at uniforms ``u``."""
        if self.distribution == "uniform":
            return self.lower + u * (self.upper - self.lower)
        lo, hi = self.cdf(self.lower), self.cdf(self.upper)
        z = ndtri(lo + u * (hi - lo))
        mu, sigma = self._loc_scale()
        x = mu + sigma * z
        x = np.exp(x) if self.distribution == "lognormal" else x
        return np.clip(x, self.lower, self.upper)  # guards the last ulp at the bounds


@dataclass(frozen=True)
class BySex:
    female: Marginal
    male: Marginal


@dataclass(frozen=True)
class Covariates:
    """Covariates of a batch of patients (arrays of one length)."""

    age_years: np.ndarray
    female: np.ndarray  # bool
    weight_kg: np.ndarray
    height_cm: np.ndarray  # NaN where unknown

    def __len__(self) -> int:
        return len(self.weight_kg)

    @property
    def sex(self) -> np.ndarray:
        return np.where(self.female, "female", "male")

    def as_columns(self) -> dict[str, np.ndarray]:
        return {"age_years": self.age_years, "sex": self.sex, "weight_kg": self.weight_kg,
                "height_cm": self.height_cm}


#: Default adult marginals (see module docstring for the source and the assumptions).
DEFAULT_AGE = Marginal("normal", 50.0, 16.0, 18.0, 85.0)
DEFAULT_WEIGHT = BySex(Marginal("lognormal", 77.5, 20.0, 40.0, 200.0), Marginal("lognormal", 90.6, 20.0, 45.0, 220.0))
DEFAULT_HEIGHT = BySex(Marginal("normal", 161.5, 7.0, 140.0, 190.0), Marginal("normal", 175.4, 7.5, 150.0, 210.0))


@dataclass(frozen=True)
class CovariateModel:
    """Covariates from distributions (see module docstring).

    ``correlations`` maps a pair of names in ``CONTINUOUS`` to the correlation of their
    normal scores (Gaussian copula).
    """

    female_fraction: float = 0.5
    age_years: Marginal | BySex = DEFAULT_AGE
    weight_kg: Marginal | BySex = DEFAULT_WEIGHT
    height_cm: Marginal | BySex = DEFAULT_HEIGHT
    correlations: Mapping[tuple[str, str], float] = field(
        default_factory=lambda: MappingProxyType({("weight_kg", "height_cm"): 0.45}))
    #: A growth reference's name (``ivigsim.population.growth``, e.g. ``"cdc2000"``): weight and
    #: height are then drawn from the reference's LMS distribution at each patient's age and sex
    #: (their normal scores as z-scores), and ``weight_kg``/``height_cm`` are not used.
    growth_reference: str | None = None

    def __post_init__(self) -> None:
        if self.growth_reference is not None:
            from ivigsim.population.growth import growth_reference

            try:
                reference = growth_reference(self.growth_reference)
            except InputError as exc:
                raise InputError("population.covariates.growth_reference", exc.expected, exc.got) from None
            ages = self.age_years
            for sex, m in ((("female", ages.female), ("male", ages.male)) if isinstance(ages, BySex) else (("", ages),)):
                reference.check_ages("population.covariates.age_years" + (f".{sex}" if sex else ""), m.lower, m.upper)
        if not 0.0 <= self.female_fraction <= 1.0:
            raise InputError("population.covariates.female_fraction", "a fraction in [0, 1]", self.female_fraction)
        for name in CONTINUOUS:
            spec = getattr(self, name)
            lo_ok, hi_ok = PLAUSIBLE[name]
            for sex, m in ((("female", spec.female), ("male", spec.male)) if isinstance(spec, BySex) else (("", spec),)):
                where = f"population.covariates.{name}" + (f".{sex}" if sex else "")
                m.check(where)
                lo = m.lower if np.isfinite(m.lower) else -np.inf
                hi = m.upper if np.isfinite(m.upper) else np.inf
                if lo < lo_ok or hi > hi_ok:
                    raise InputError(where, f"lower and upper bounds within [{lo_ok:g}, {hi_ok:g}]", (m.lower, m.upper))
        self.correlation_factor()  # raises if not a correlation matrix

    def correlation_matrix(self) -> np.ndarray:
        r = np.eye(len(CONTINUOUS))
        for (a, b), value in self.correlations.items():
            for name in (a, b):
                if name not in CONTINUOUS:
                    raise InputError("population.covariates.correlations", f"pairs of {', '.join(CONTINUOUS)}", name)
            if a == b or not -1.0 < value < 1.0:
                raise InputError(f"population.covariates.correlations.{a}.{b}",
                                 "a correlation in (-1, 1) between two different covariates", value)
            i, j = CONTINUOUS.index(a), CONTINUOUS.index(b)
            r[i, j] = r[j, i] = value
        return r

    def correlation_factor(self) -> np.ndarray:
        try:
            return np.linalg.cholesky(self.correlation_matrix())
        except np.linalg.LinAlgError:
            raise InputError("population.covariates.correlations", "a positive-definite set of correlations",
                             {f"{a}~{b}": v for (a, b), v in self.correlations.items()}) from None

    def draw(self, rng: CounterRNG, stream: str, candidates: np.ndarray) -> Covariates:
        u = rng.uniform(f"{stream}covariates", candidates, 1 + len(CONTINUOUS))
        female = u[:, 0] < self.female_fraction
        z = rng.normal(f"{stream}covariates", candidates, len(CONTINUOUS), offset=1) @ self.correlation_factor().T
        scores = ndtr(z)
        values = {}
        for k, name in enumerate(CONTINUOUS):
            spec = getattr(self, name)
            if self.growth_reference is not None and name != "age_years":
                from ivigsim.population.growth import growth_reference

                values[name] = growth_reference(self.growth_reference).value(
                    name, values["age_years"], female, z[:, k])
                continue
            if isinstance(spec, BySex):
                values[name] = np.where(female, spec.female.quantile(scores[:, k]), spec.male.quantile(scores[:, k]))
            else:
                values[name] = spec.quantile(scores[:, k])
        return Covariates(values["age_years"], female, values["weight_kg"], values["height_cm"])


@dataclass(frozen=True)
class CsvCovariates:
    """Covariates from a table (columns age_years, sex, weight_kg, height_cm; weight required).

    ``sampling="resample"`` draws rows with replacement (counter stream); ``"in_order"``
    gives patient *i* row *i* (the trial size may not exceed the rows).
    """

    table: Covariates
    source: str
    sampling: Literal["resample", "in_order"] = "resample"

    @classmethod
    def read(cls, path: str | Path, sampling: Literal["resample", "in_order"] = "resample") -> CsvCovariates:
        import pandas as pd

        field = "population.covariates.csv"
        try:
            df = pd.read_csv(path)
        except FileNotFoundError:
            raise InputError(field, "an existing CSV file", str(path)) from None
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise InputError(field, "a readable CSV file", f"{path} ({exc.__class__.__name__})") from None
        unknown = sorted(set(df.columns) - {"age_years", "sex", "weight_kg", "height_cm"})
        if unknown:
            raise InputError(f"{field} columns", "only age_years, sex, weight_kg, height_cm", unknown[0])
        if "weight_kg" not in df.columns or len(df) == 0:
            raise InputError(field, "a table with a weight_kg column and at least one row", str(path))
        n = len(df)

        def numeric(name: str, default: float) -> np.ndarray:
            if name not in df.columns:
                return np.full(n, default)
            values = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=float)
            lo, hi = PLAUSIBLE[name]
            bad = ~((values >= lo) & (values <= hi))
            if name == "height_cm":
                bad &= ~np.isnan(values)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise InputError(f"{field} row {row + 2} {name}", f"a number in [{lo:g}, {hi:g}]", df[name].iloc[row])
            return values

        sex = df["sex"].astype(str).str.strip().str.lower().to_numpy() if "sex" in df.columns else np.full(n, "male")
        bad_sex = ~np.isin(sex, ["female", "male"])
        if bad_sex.any():
            row = int(np.flatnonzero(bad_sex)[0])
            raise InputError(f"{field} row {row + 2} sex", "female or male", df["sex"].iloc[row])
        table = Covariates(numeric("age_years", 45.0), sex == "female", numeric("weight_kg", 70.0),
                           numeric("height_cm", np.nan))
        return cls(table, str(path), sampling)

    def draw(self, rng: CounterRNG, stream: str, candidates: np.ndarray) -> Covariates:
        n_rows = len(self.table)
        if self.sampling == "in_order":
            if candidates.size and candidates.max() >= n_rows:
                raise InputError("population.size", f"at most {n_rows} patients (the rows of {self.source})",
                                 int(candidates.max()) + 1)
            rows = candidates
        else:
            rows = np.minimum((rng.uniform(f"{stream}csv", candidates, 1)[:, 0] * n_rows).astype(np.int64), n_rows - 1)
        t = self.table
        return Covariates(t.age_years[rows], t.female[rows], t.weight_kg[rows], t.height_cm[rows])
