"""Mixed populations: a trial's patients drawn from sub-populations with given shares.

Trial patient *i* belongs to sub-population *g(i)*, drawn from its shares by one uniform of
the counter stream addressed by *i* (``<stream>subpopulation``): so the shares are those of
the trial's patients (each sub-population's count is binomial(size, share)), whatever each
sub-population's inclusion criteria exclude. Each sub-population then screens its own
candidates (``<stream>sub:<name>/``: its own covariates, parameters, variability, inclusion)
for as many patients as were assigned to it, and trial patient *i* is the next included
candidate of its sub-population. Everything is a pure function of (seed, stream, numbers):
the same patients whatever the chunking, as for a single population.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ivigsim.population.rng import CounterRNG

#: Trial patients assigned per block (bounded memory for very large trials).
ASSIGN_BLOCK = 1 << 20


def group_stream(stream: str, name: str) -> str:
    """The counter stream of one sub-population's candidates."""
    return f"{stream}sub:{name}/"


def assign(rng: CounterRNG, stream: str, patients: np.ndarray, shares: Sequence[float]) -> np.ndarray:
    """The sub-population (index into ``shares``) of each trial patient number."""
    patients = np.asarray(patients, dtype=np.int64)
    edges = np.cumsum(np.asarray(shares, dtype=float))
    edges[-1] = np.inf  # shares summing to 1 within rounding: the last group takes the rest
    out = np.empty(len(patients), dtype=np.int16)
    for a in range(0, len(patients), ASSIGN_BLOCK):
        u = rng.uniform(f"{stream}subpopulation", patients[a:a + ASSIGN_BLOCK], 1)[:, 0]
        out[a:a + ASSIGN_BLOCK] = np.searchsorted(edges, u, side="right")
    return out


@dataclass(frozen=True)
class MixedScreening:
    """Screening of a mixed population: per trial patient, its sub-population and its candidate
    number in that sub-population's stream; and each sub-population's own screening."""

    candidates: np.ndarray
    groups: np.ndarray
    names: tuple[str, ...]
    screenings: tuple  # one ivigsim.population.Screening per sub-population

    def describe(self) -> str:
        return "; ".join(f"{name}: {s.describe()}" for name, s in zip(self.names, self.screenings))

    def counts(self) -> list[int]:
        return [int((self.groups == g).sum()) for g in range(len(self.names))]


def place(groups: np.ndarray, per_group: Sequence[np.ndarray]) -> np.ndarray:
    """Per trial patient, the next candidate of its group (``per_group[g]``: group g's included
    candidates, in order)."""
    out = np.empty(len(groups), dtype=np.int64)
    for g, candidates in enumerate(per_group):
        mask = groups == g
        out[mask] = np.asarray(candidates, dtype=np.int64)[: int(mask.sum())]
    return out
