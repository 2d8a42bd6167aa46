"""Parameter uncertainty carried to answers: the joint calibration's Laplace normal,
re-centred on the shipped parameter values.

ivigsim's answers can carry three kinds of spread, and keep them apart:

- **parameter uncertainty** (this module): how far the calibrated parameters could move and
  still reproduce the calibration targets; the same for every patient. An *ensemble* of
  parameter vectors, each run through the same patient (or trial) with the same random
  numbers, gives a band;
- **between-patient variability** (``ivigsim.population``): virtual patients differ;
- **Monte Carlo sampling error** (the 95 % intervals of trial statistics): a finite virtual
  trial estimates a rate or a median with error.

**What the ensemble is.** ``ivigsim/data/calibration/joint.json`` holds the Hessian of -2 log L
of the calibration targets at the joint estimate, on each parameter's fitting scale (log, or
logit for a share). The joint estimate was *not* adopted (it worsens the out-of-sample
checks, docs/calibration.md), so the answers are about the shipped model: the ensemble is
drawn from the same Laplace normal (precision = half that Hessian; directions flatter than
``FLAT_SD`` drawn with SD ``FLAT_SD``; draws outside the search box redrawn: exactly
``ivigsim.validation.joint.Laplace.ensemble``), **centred on the shipped values** instead of
the estimate. This is an approximation: the curvature is the one measured at the joint
estimate, not at the shipped point. The draws are kept as *deviations* on the fitting scale
and applied to whatever value a run uses for the parameter (the declared value, or a
disease's typical value); values a user set in a scenario stay as set.

Why fresh draws rather than the 300 stored vectors moved to the shipped point: those were
truncated to the search box around the *estimate*, and near a bound that cuts the deviations
on one side (``platelet_production_fraction``: estimate 8.2, bound 10, about 17 % of its
normal cut off above). Drawn around the shipped values the same normal meets no bound.
``tests/test_uncertainty.py`` checks that this code reproduces the stored vectors when
centred on the estimate, and the stored SDs and correlations when centred on the shipped values.

Pure: numbers in, numbers out; the one file is read by ``load``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ivigsim.errors import InputError

CALIBRATION_FILE = Path(__file__).parent / "data" / "calibration" / "joint.json"
#: As ``ivigsim.validation.joint``: flat directions are drawn with this SD on the fitting
#: scale, and the search box is the shipped value times/divided by 20 (log) or +/-4 (logit),
#: within the declared bounds. (Repeated here so the simulation layer does not import the
#: validation layer; a test checks they agree.)
FLAT_SD = 1.0
LOG_SPAN = math.log(20.0)
LOGIT_SPAN = 4.0
#: Largest ensemble a command takes: the 90 % band's ends are then order statistics 50 in
#: from each end; more buys little and costs linear time.
MAX_SIZE = 1000
DEFAULT_LEVEL = 0.90
DEFAULT_SEED = 0
#: Draws are made in batches of this size whatever N is asked, so the ensemble of N is the
#: first N vectors of any larger one (a larger N refines, it does not redraw).
BATCH = 1024
#: What a band from this module is called in outputs and messages.
SOURCE = "parameter uncertainty"


def check_size(n: object, field: str = "--ensemble") -> int:
    """An ensemble size from 1 to ``MAX_SIZE``, or an ``InputError`` naming ``field``."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_SIZE:
        raise InputError(field, f"a number of parameter vectors from 1 to {MAX_SIZE}", n)
    return int(n)


def check_level(level: object, field: str = "--ensemble-level") -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0.5 <= level < 1.0:
        raise InputError(field, "a coverage in [0.5, 1), e.g. 0.9", level)
    return float(level)


def to_x(value: float, scale: str) -> float:
    return math.log(value) if scale == "log" else math.log(value / (1.0 - value))


def from_x(x: float, scale: str) -> float:
    return math.exp(x) if scale == "log" else 1.0 / (1.0 + math.exp(-x))


def search_box(shipped: float, scale: str, bounds: tuple[float, float]) -> tuple[float, float]:
    """``joint.FitParameter.box(margin=0)``: the shipped value +/- the span on the fitting
    scale, within the declared bounds (infinite where a bound is 0, 1 or inf)."""
    lo, hi = bounds
    if scale == "log":
        dlo, dhi = (math.log(lo) if lo > 0 else -math.inf), (math.log(hi) if math.isfinite(hi) else math.inf)
        span = LOG_SPAN
    else:
        dlo, dhi = (-math.inf if lo <= 0 else to_x(lo, scale)), (math.inf if hi >= 1 else to_x(hi, scale))
        span = LOGIT_SPAN
    x0 = to_x(shipped, scale)
    return max(x0 - span, dlo), min(x0 + span, dhi)


def draw(centre: np.ndarray, precision: np.ndarray, lo: np.ndarray, hi: np.ndarray, n: int, seed: int,
         batch: int = BATCH) -> np.ndarray:
    """``n`` draws (rows, fitting scale) from the normal with ``precision`` around ``centre``,
    eigenvalues floored at 1/FLAT_SD^2, draws outside [lo, hi] redrawn (``joint.Laplace.ensemble``
    with ``batch`` = max(n, 64) gives the same numbers)."""
    w, v = np.linalg.eigh(precision)
    chol = v / np.sqrt(np.maximum(w, 1.0 / FLAT_SD**2))
    rng = np.random.default_rng(seed)
    kept: list[np.ndarray] = []
    tries = 0
    while len(kept) < n:
        z = centre + rng.standard_normal((batch, len(centre))) @ chol.T
        kept.extend(z[((z >= lo) & (z <= hi)).all(axis=1)])
        tries += batch
        if tries > 1000 * max(n, batch):
            raise RuntimeError("the Laplace normal lies almost entirely outside the search box")
    return np.array(kept[:n])


@dataclass(frozen=True)
class Laplace:
    """The joint calibration's Laplace approximation as shipped: names, fitting scales, the
    shipped values and declared bounds it was computed with, the estimate and the Hessian."""

    names: tuple[str, ...]
    scales: tuple[str, ...]
    shipped: tuple[float, ...]
    bounds: tuple[tuple[float, float], ...]
    estimate: tuple[float, ...]
    hessian: np.ndarray  # of -2 log L on the fitting scale

    def precision(self) -> np.ndarray:
        """As ``joint.Laplace.precision``: half the symmetrised Hessian of -2 log L."""
        return 0.5 * (self.hessian + self.hessian.T) / 2

    def box(self) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = zip(*(search_box(s, c, b) for s, c, b in zip(self.shipped, self.scales, self.bounds)))
        return np.array(lo), np.array(hi)

    def x(self, values: Sequence[float]) -> np.ndarray:
        return np.array([to_x(v, s) for v, s in zip(values, self.scales)])

    def ensemble(self, n: int, seed: int = DEFAULT_SEED) -> Ensemble:
        """``n`` deviations from the shipped values, drawn around them (see the module's docs)."""
        n = check_size(n)
        centre = self.x(self.shipped)
        lo, hi = self.box()
        return Ensemble(self.names, self.scales, draw(centre, self.precision(), lo, hi, n, seed) - centre, seed)


@dataclass(frozen=True)
class Ensemble:
    """Parameter vectors as deviations on the fitting scale (rows: vectors, columns: ``names``)."""

    names: tuple[str, ...]
    scales: tuple[str, ...]
    deviations: np.ndarray
    seed: int = DEFAULT_SEED

    def __len__(self) -> int:
        return self.deviations.shape[0]

    def only(self, names: Sequence[str] | set[str]) -> Ensemble:
        """The columns of the parameters in ``names`` (a model's own; marginals of the same draws)."""
        keep = [i for i, n in enumerate(self.names) if n in set(names)]
        return Ensemble(tuple(self.names[i] for i in keep), tuple(self.scales[i] for i in keep),
                        self.deviations[:, keep], self.seed)

    def values(self, centre: Mapping[str, float],
               bounds: Mapping[str, tuple[float, float]] | None = None) -> list[dict[str, float]]:
        """One override dict per vector: each parameter in ``centre`` moved by its deviation
        on its fitting scale, kept within ``bounds``. Names not in ``centre`` are left out,
        and so is a centre on a scale's edge (0 on a log scale, 0 or 1 on a logit one), where
        a relative move means nothing."""
        cols = [(i, n) for i, n in enumerate(self.names) if n in centre
                and (0 < centre[n] < (1 if self.scales[i] == "logit" else math.inf))]
        x0 = {n: to_x(float(centre[n]), self.scales[i]) for i, n in cols}
        out = []
        for row in self.deviations:
            vector = {}
            for i, n in cols:
                d = float(row[i])
                # A zero deviation gives the centre itself, not exp(log(c)) one rounding away:
                # an ensemble of the shipped values reproduces the point simulation bit for bit.
                value = float(centre[n]) if d == 0.0 else from_x(x0[n] + d, self.scales[i])
                if bounds and n in bounds:
                    value = min(max(value, bounds[n][0]), bounds[n][1])
                vector[n] = value
            out.append(vector)
        return out


@lru_cache(maxsize=4)
def load(path: Path = CALIBRATION_FILE) -> Laplace:
    """The Laplace approximation stored by ``python -m ivigsim.validation.calibrate --joint``."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    params = doc["parameters"]
    names = tuple(p["name"] for p in params)
    if doc["hessian"] and len(doc["hessian"]) != len(names):
        raise ValueError(f"{path}: a Hessian of {len(doc['hessian'])} rows for {len(names)} parameters")
    return Laplace(names, tuple(p["scale"] for p in params), tuple(float(p["shipped"]) for p in params),
                   tuple((float(p["bounds"][0]), float(p["bounds"][1])) for p in params),
                   tuple(float(p["estimate"]) for p in params), np.array(doc["hessian"], dtype=float))


def ensemble(n: int, seed: int = DEFAULT_SEED) -> Ensemble:
    """``n`` parameter vectors of the shipped calibration, as deviations from the shipped values."""
    return load().ensemble(n, seed)


def band_indices(n: int, level: float) -> tuple[int, int]:
    """Sorted positions of the band's ends among ``n`` values: symmetric order statistics, so
    the ends are members of the ensemble and an output monotone in one parameter has, as its
    band, exactly the output at that parameter's band (up or down)."""
    k = int(math.floor((1.0 - level) / 2.0 * (n - 1) + 0.5))
    return k, n - 1 - k


def band(values: np.ndarray, level: float, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(median, lower, upper) of ``values`` along ``axis`` (the ensemble's). NaNs are not
    skipped: the caller drops the members whose solve failed first."""
    values = np.sort(np.asarray(values, dtype=float), axis=axis)
    lo, hi = band_indices(values.shape[axis], level)
    return (np.median(values, axis=axis), np.take(values, lo, axis=axis), np.take(values, hi, axis=axis))


def describe(n: int, level: float, failed: int = 0) -> str:
    """How a band from this module is named wherever it is shown."""
    note = f", {failed} vector(s) whose solve failed left out" if failed else ""
    if n and band_indices(n, level)[0] == 0:  # too few vectors for the level: say what the band is
        note += f"; with {n} vectors the band is their whole range"
    return (f"{100 * level:.0f} % band from {SOURCE} ({n} parameter vectors of the joint calibration's "
            f"Laplace approximation, centred on the shipped values{note}; not between-patient variability "
            "or Monte Carlo error)")


def summary_lines(members, level: float) -> list[str]:
    """The summary numbers a simulation prints (``ivigsim.summary``), each as a median and a
    ``level`` band over the members whose solve succeeded (an ``xarray.Dataset`` from
    ``simulation.simulate_members``)."""
    from ivigsim.summary import summarise

    ok = [j for j in range(members.sizes["patient"]) if int(members["solver_status"].values[j]) == 0]
    if not ok:
        return []
    sums = [summarise(members, j) for j in ok]

    def show(values, unit: str = "", scale: float = 1.0, digits: str = ".3g") -> str:
        values = np.array([v for v in values if v is not None and np.isfinite(v)], dtype=float) * scale
        if not len(values):
            return "not estimated"
        median, lo, hi = band(values, level)
        return f"{median:{digits}}{unit} ({lo:{digits}}-{hi:{digits}}{unit})"

    failed = members.sizes["patient"] - len(ok)
    out = [f"{SOURCE}, median ({100 * level:.0f} % band) over {len(ok)} parameter vectors"
           + (f", {failed} failed and left out" if failed else "")
           + (f", with {len(ok)} vectors the band is their whole range" if band_indices(len(ok), level)[0] == 0 else "")
           + " (not between-patient variability, not Monte Carlo error):"]
    for k, r in enumerate(sums[0].readouts):
        out.append(f"{r.name}: best {show(s.readouts[k].best for s in sums)}, "
                   f"at the end {show(s.readouts[k].final for s in sums)}")
    out.append(f"total IgG: peak {show((s.peak_igg_g_per_L for s in sums), ' g/L', digits='.2f')}, "
               f"trough {show((s.trough_igg_g_per_L for s in sums), ' g/L', digits='.2f')}")
    out.append(f"half-life of infused IgG: {show((s.ivig_half_life_days for s in sums), ' days', digits='.1f')}")
    nadir = show((s.autoantibody_nadir_fraction for s in sums), " %", 100.0, ".0f")
    out.append(f"autoantibody nadir: {nadir} of baseline")
    return out
