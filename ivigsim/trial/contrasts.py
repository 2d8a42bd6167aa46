"""Between-arm contrasts of an endpoint: what a trial asks for, and how it is computed.

A ``Contrast`` compares one endpoint between an arm and a reference arm with one or more
measures (``ivigsim.trial.contrast_statistics`` gives the intervals and their sources):

| endpoint summary | measures (default: all but common_odds_ratio) |
|---|---|
| ``fraction`` | ``risk_difference``, ``risk_ratio``, ``odds_ratio`` |
| ``time_to_event`` | the same, of the fraction with the event by the window's end |
| ``mean``, ``median``, ``quantile`` | ``mean_difference`` (of the per-patient values); ``common_odds_ratio`` (ordinal shift) |

The arms are *paired* when they treat the same virtual patients (``design: paired``, and
the patient files hold the same patients in the same order for both arms): each patient
counts once, through the difference between its two arms. Otherwise (``parallel``) they
are independent samples. A patient whose solve failed is left out (in a paired contrast,
with its twin).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ivigsim.errors import InputError
from ivigsim.trial import contrast_statistics as cs
from ivigsim.trial.statistics import LEVEL

BINARY_MEASURES = ("risk_difference", "risk_ratio", "odds_ratio")
VALUE_MEASURES = ("mean_difference", "common_odds_ratio")
MEASURES = BINARY_MEASURES + VALUE_MEASURES


def allowed_measures(summary: str) -> tuple[str, ...]:
    return BINARY_MEASURES if summary in ("fraction", "time_to_event") else VALUE_MEASURES


def default_measures(summary: str) -> tuple[str, ...]:
    return BINARY_MEASURES if summary in ("fraction", "time_to_event") else ("mean_difference",)


@dataclass(frozen=True)
class Contrast:
    """``endpoint`` in ``arm`` against ``reference``: differences arm - reference, ratios arm / reference.

    ``cutpoints`` (ascending) grade the per-patient values for ``common_odds_ratio``
    (grade = number of cut points at or below the value); without them each value is
    rounded to the nearest whole number (the grades of a disability scale).
    """

    endpoint: str
    arm: str
    reference: str
    measures: tuple[str, ...]
    cutpoints: tuple[float, ...] = ()

    def check(self, field: str, arms: Sequence[str], summaries: Mapping[str, str]) -> None:
        """``summaries``: each endpoint's name and summary."""
        for where, name in ((f"{field}.arms", self.arm), (f"{field}.arms", self.reference)):
            if name not in arms:
                raise InputError(where, f"arms of this trial ({', '.join(arms)})", name)
        if self.arm == self.reference:
            raise InputError(f"{field}.arms", "two different arms", [self.arm, self.reference])
        if self.endpoint not in summaries:
            raise InputError(f"{field}.endpoint", f"an endpoint of this trial ({', '.join(summaries)})", self.endpoint)
        summary = summaries[self.endpoint]
        allowed = allowed_measures(summary)
        if not self.measures:
            raise InputError(f"{field}.measures", f"at least one of {', '.join(allowed)}", [])
        for m in self.measures:
            if m not in allowed:
                raise InputError(f"{field}.measures", f"for a {summary} endpoint one of {', '.join(allowed)}", m)
        if len(set(self.measures)) != len(self.measures):
            raise InputError(f"{field}.measures", "each measure once", list(self.measures))
        cuts = np.asarray(self.cutpoints, dtype=float)
        if len(cuts) and (not np.all(np.isfinite(cuts)) or np.any(np.diff(cuts) <= 0) or len(cuts) > cs.MAX_ORDINAL_LEVELS):
            raise InputError(f"{field}.cutpoints", f"finite, strictly increasing numbers (at most {cs.MAX_ORDINAL_LEVELS})",
                             list(self.cutpoints))
        if len(cuts) and "common_odds_ratio" not in self.measures:
            raise InputError(f"{field}.cutpoints", "cut points only with the measure common_odds_ratio", list(self.cutpoints))

    def describe(self) -> str:
        return f"{self.endpoint}: {self.arm} vs {self.reference}"


def binary_column(endpoint, columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """0/1 (NaN: failed) per patient: the criterion met, or the event seen (time to event)."""
    if endpoint.summary == "time_to_event":
        time = np.asarray(columns[endpoint.name], dtype=float)
        event = np.asarray(columns[f"{endpoint.name}_event"], dtype=float)
        return np.where(np.isfinite(time), event, np.nan)
    return np.asarray(columns[endpoint.name], dtype=float)


def compare(contrast: Contrast, endpoint, first: Mapping[str, np.ndarray], second: Mapping[str, np.ndarray],
            paired: bool, level: float = LEVEL) -> dict:
    """The contrast's estimates from the endpoint's per-patient columns of the two arms.

    ``paired``: ``first`` and ``second`` hold the same patients in the same order.
    """
    binary = endpoint.summary in ("fraction", "time_to_event")
    x = binary_column(endpoint, first) if binary else np.asarray(first[endpoint.name], dtype=float)
    y = binary_column(endpoint, second) if binary else np.asarray(second[endpoint.name], dtype=float)
    if paired:
        both = np.isfinite(x) & np.isfinite(y)
        x, y = x[both], y[both]
    else:
        x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    estimates = {}
    for measure in contrast.measures:
        if measure in BINARY_MEASURES:
            if paired:
                table = cs.paired_table(x, y)
                fn = {"risk_difference": cs.newcombe_paired_difference, "risk_ratio": cs.paired_ratio,
                      "odds_ratio": cs.paired_odds_ratio}[measure]
                est = fn(*table, level=level)
            else:
                fn = {"risk_difference": cs.newcombe_difference, "risk_ratio": cs.katz_ratio,
                      "odds_ratio": cs.woolf_odds_ratio}[measure]
                est = fn(int(np.sum(x > 0.5)), x.size, int(np.sum(y > 0.5)), y.size, level=level)
        elif measure == "mean_difference":
            est = cs.paired_mean_difference(x, y, level) if paired else cs.welch_difference(x, y, level)
        else:
            est = cs.common_odds_ratio(cs.grade_counts(x, contrast.cutpoints), cs.grade_counts(y, contrast.cutpoints),
                                       level)
            if paired:
                est = replace(est, method=f"{est.method}; arms fitted as independent samples")
        estimates[measure] = est.as_dict()
    return {"endpoint": contrast.endpoint, "arm": contrast.arm, "reference": contrast.reference, "paired": bool(paired),
            "description": endpoint.describe(), "estimates": estimates}
