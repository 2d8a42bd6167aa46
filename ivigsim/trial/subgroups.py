"""Subgroups: every endpoint of an arm estimated again within strata of a baseline value.

A ``Subgroup`` names a per-patient column known at baseline and how to cut it:

- a covariate (``age_years``, ``weight_kg``, ``height_cm``, ``dosing_weight_kg``) with
  ``cut`` points c1 < c2 < ...: strata ``< c1``, ``c1 to < c2``, ..., ``>= ck``;
- ``sex`` (strata female, male) or ``subpopulation`` (a mixed population's parts), no cut;
- an endpoint read at day 0 with measure ``value`` (a baseline value of a model output,
  e.g. ``{name: igg_baseline, output: igg_total_g_per_L, at_day: 0, summary: median}``),
  with cut points as a covariate. Strata on anything read after day 0 would not be
  baseline strata (they would depend on the arm), so other endpoints are refused.

A subgroup changes the summary only (like contrasts): it is not part of the fingerprint.
Each stratum's estimates are the endpoint's ``summarise`` on that stratum's rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ivigsim.errors import InputError

#: Numeric covariate columns of the patient files a subgroup may cut.
NUMERIC_COVARIATES = ("age_years", "weight_kg", "height_cm", "dosing_weight_kg")
#: Categorical columns and their strata, in order.
CATEGORIES = {"sex": ("female", "male")}
MAX_CUTS = 20


@dataclass(frozen=True)
class Subgroup:
    name: str
    by: str
    cut: tuple[float, ...] = ()

    def check(self, field: str, endpoints: Sequence, mixed_groups: Sequence[str] = ()) -> None:
        """``endpoints``: the trial's ``Endpoint`` values; ``mixed_groups``: sub-population names."""
        if not self.name.isidentifier():
            raise InputError(f"{field}.name", "a name of letters, digits and underscores", self.name)
        by_endpoint = {e.name: e for e in endpoints}
        categorical = self.by in CATEGORIES or (self.by == "subpopulation" and mixed_groups)
        known = [*NUMERIC_COVARIATES, *CATEGORIES, *(["subpopulation"] if mixed_groups else []),
                 *(e.name for e in endpoints if _baseline(e))]
        if self.by not in known:
            if self.by in by_endpoint:
                raise InputError(f"{field}.by", "an endpoint read at baseline (at_day: 0, measure: value, summary "
                                 "mean, median or quantile): a later value is no baseline stratum", self.by)
            raise InputError(f"{field}.by", f"a covariate or baseline endpoint ({', '.join(known)})", self.by)
        cuts = np.asarray(self.cut, dtype=float)
        if categorical:
            if len(cuts):
                raise InputError(f"{field}.cut", f"no cut points for {self.by} (its strata are its values)", list(self.cut))
            return
        if not len(cuts) or len(cuts) > MAX_CUTS or not np.all(np.isfinite(cuts)) or np.any(np.diff(cuts) <= 0):
            raise InputError(f"{field}.cut", f"1 to {MAX_CUTS} finite, strictly increasing cut points, e.g. [65]",
                             list(self.cut))

    def labels(self, mixed_groups: Sequence[str] = ()) -> tuple[str, ...]:
        if self.by in CATEGORIES:
            return CATEGORIES[self.by]
        if self.by == "subpopulation":
            return tuple(mixed_groups)
        c = [f"{x:g}" for x in self.cut]
        return (f"< {c[0]}", *(f"{a} to < {b}" for a, b in zip(c, c[1:])), f">= {c[-1]}")

    def codes(self, values: np.ndarray, mixed_groups: Sequence[str] = ()) -> np.ndarray:
        """Each patient's stratum (an index into ``labels``; -1: no value, e.g. a failed solve)."""
        values = np.asarray(values)
        if self.by in CATEGORIES or self.by == "subpopulation":
            out = np.full(len(values), -1, dtype=np.int16)
            for j, label in enumerate(self.labels(mixed_groups)):
                out[values.astype(str) == label] = j
            return out
        x = np.asarray(values, dtype=float)
        # side="right": a value equal to a cut point belongs to the stratum it opens (">= c").
        return np.where(np.isfinite(x), np.searchsorted(np.asarray(self.cut, float), x, side="right"), -1).astype(np.int16)

    def describe(self) -> str:
        return f"{self.name}: by {self.by}" + (f", cut at {', '.join(f'{x:g}' for x in self.cut)}" if self.cut else "")


def _baseline(endpoint) -> bool:
    return (endpoint.at_day == 0 and endpoint.measure == "value" and endpoint.summary in ("mean", "median", "quantile")
            and not endpoint.per_patient_column and endpoint.given is None)


def columns_needed(subgroups: Sequence[Subgroup]) -> list[str]:
    return list(dict.fromkeys(s.by for s in subgroups))


def stratified(subgroup: Subgroup, codes: np.ndarray, summarise, arrays: Mapping[str, np.ndarray],
               mixed_groups: Sequence[str] = ()) -> list[dict]:
    """Per stratum: its patients and ``summarise(stratum's arrays)`` (an empty stratum: patients 0, no estimates)."""
    out = []
    for j, label in enumerate(subgroup.labels(mixed_groups)):
        mask = codes == j
        entry = {"stratum": label, "patients": int(mask.sum())}
        if mask.any():
            entry["estimates"] = summarise({c: v[mask] for c, v in arrays.items()})
        out.append(entry)
    return out
