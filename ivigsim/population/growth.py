"""Children's weight and height from age and sex by a published growth reference (LMS).

A growth reference gives, at each age and sex, three numbers per measure (Cole's LMS
method; Cole & Green 1992, Stat Med 11:1305): the Box-Cox power L, the median M and the
coefficient of variation S. The measure at z-score ``z`` is

    X = M * (1 + L * S * z) ** (1 / L)     (L != 0),     X = M * exp(S * z)     (L = 0),

so drawing ``z ~ N(0, 1)`` draws the reference's distribution at that age, and the
reference's published percentiles are X at z = ndtri(p). Parameters between the
tabulated ages are interpolated linearly in age (as the CDC's own SAS program does).

Shipped: ``cdc2000``, the CDC 2000 growth charts for the United States, 2 to 20 years
(Kuczmarski et al. 2002, Vital Health Stat 11(246)): weight-for-age (``wtage.csv``) and
stature-for-age (``statage.csv``), a work of the US Government (public domain), in
``ivigsim/data/growth/cdc2000_lms.csv`` with its provenance. The CDC's infant charts
(0-36 months, recumbent length) are not shipped, so ages below 2 years are refused.

The reference gives weight-for-age and height-for-age separately, not their joint
distribution: a virtual child's two z-scores are tied by the covariate model's Gaussian
copula (``CovariateModel.correlations``, default weight~height 0.45, an assumption), so
each marginal is exactly the reference's and the correlation is the file's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import numpy as np

from ivigsim.errors import InputError

GrowthReferenceName = Literal["cdc2000"]
#: Shipped references: name -> (data file, description).
REFERENCES = MappingProxyType({
    "cdc2000": ("cdc2000_lms.csv", "CDC 2000 growth charts, 2-20 years (Kuczmarski et al. 2002; public domain)"),
})
MEASURES = ("weight_kg", "height_cm")
MONTHS_PER_YEAR = 12.0


@dataclass(frozen=True)
class LMSTable:
    """One measure's L, M, S by age (months) for one sex."""

    age_months: np.ndarray
    L: np.ndarray
    M: np.ndarray
    S: np.ndarray

    def at(self, age_months: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a = np.asarray(age_months, dtype=float)
        return (np.interp(a, self.age_months, self.L), np.interp(a, self.age_months, self.M),
                np.interp(a, self.age_months, self.S))


def lms_value(z: np.ndarray, L: np.ndarray, M: np.ndarray, S: np.ndarray) -> np.ndarray:
    """The measure at z-score ``z`` (Cole's LMS inverse)."""
    z, L, M, S = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (z, L, M, S)))
    small = np.abs(L) < 1e-12
    with np.errstate(invalid="ignore", divide="ignore"):
        base = 1.0 + L * S * z
        # Beyond about 1/(|L| S) standard deviations the LMS curve has no value (base <= 0):
        # such a z is far outside any percentile the reference publishes; the tail is held at
        # the last representable value (z clipped so base >= 1e-3).
        base = np.maximum(base, 1e-3)
        power = M * base ** (1.0 / np.where(small, 1.0, L))
    return np.where(small, M * np.exp(S * z), power)


@dataclass(frozen=True)
class GrowthReference:
    """A growth reference: LMS tables per measure and sex, and the ages it covers (years)."""

    name: str
    description: str
    tables: MappingProxyType  # (measure, "female" | "male") -> LMSTable

    @property
    def age_range_years(self) -> tuple[float, float]:
        ages = [t.age_months for t in self.tables.values()]
        return (max(a[0] for a in ages) / MONTHS_PER_YEAR, min(a[-1] for a in ages) / MONTHS_PER_YEAR)

    def check_ages(self, field: str, lower: float, upper: float) -> None:
        lo, hi = self.age_range_years
        if not (lower >= lo - 1e-9 and upper <= hi + 1e-9):
            raise InputError(field, f"ages within the growth reference's range, {lo:g} to {hi:g} years ({self.name})",
                             f"[{lower:g}, {upper:g}]")

    def value(self, measure: str, age_years: np.ndarray, female: np.ndarray, z: np.ndarray) -> np.ndarray:
        """``measure`` (weight_kg or height_cm) at z-score ``z`` for each child's age and sex."""
        months = np.asarray(age_years, dtype=float) * MONTHS_PER_YEAR
        female = np.asarray(female, dtype=bool)
        out = np.empty(np.broadcast(months, z).shape)
        for sex, mask in (("female", female), ("male", ~female)):
            if mask.any():
                L, M, S = self.tables[(measure, sex)].at(months[mask])
                out[mask] = lms_value(np.asarray(z)[mask], L, M, S)
        return out

    def percentile(self, measure: str, age_years: float, female: bool, p: float) -> float:
        """The reference's ``p``-th quantile (0 < p < 1) at one age and sex."""
        from scipy.special import ndtri

        return float(self.value(measure, np.array([age_years]), np.array([female]), np.array([ndtri(p)]))[0])


@lru_cache(maxsize=None)
def growth_reference(name: str) -> GrowthReference:
    """A shipped growth reference by name (``cdc2000``)."""
    if name not in REFERENCES:
        raise InputError("growth_reference", f"one of the shipped growth references ({', '.join(REFERENCES)})", name)
    filename, description = REFERENCES[name]
    text = (Path(__file__).resolve().parent.parent / "data" / "growth" / filename).read_text(encoding="utf-8")
    rows = [line.split(",") for line in text.splitlines() if line and not line.startswith("#")][1:]
    tables = {}
    for measure in MEASURES:
        for sex in ("female", "male"):
            sel = [r for r in rows if r[0] == measure and r[1] == sex]
            values = np.array([[float(x) for x in r[2:6]] for r in sel])
            order = np.argsort(values[:, 0], kind="stable")
            values = values[order]
            tables[(measure, sex)] = LMSTable(values[:, 0], values[:, 1], values[:, 2], values[:, 3])
    return GrowthReference(name, description, MappingProxyType(tables))
