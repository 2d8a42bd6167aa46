"""A compiled regimen: constant-rate infusion windows on the simulation clock.

This is what the engine integrates. Windows are the model's input rate (g/day) as a
piecewise-constant function of time (days); their start and end times are the
discontinuities a solver must step onto (``breakpoints``). Compilation is exact: within
each infusion, the sum of rate x duration over its windows equals its amount to float
rounding, so the dose the model receives is the dose that was prescribed.
"""

from __future__ import annotations

from dataclasses import dataclass

from .products import Product


@dataclass(frozen=True)
class InfusionWindow:
    """Input at ``rate_g_per_day`` from ``start_day`` (inclusive) to ``end_day`` (exclusive)."""

    start_day: float
    end_day: float
    rate_g_per_day: float

    def __post_init__(self) -> None:
        if not (self.end_day > self.start_day and self.rate_g_per_day > 0):
            raise ValueError(f"an infusion window needs end > start and a positive rate: {self!r}")

    @property
    def amount_g(self) -> float:
        return self.rate_g_per_day * (self.end_day - self.start_day)


@dataclass(frozen=True)
class Infusion:
    """One infusion as compiled: its contiguous windows and what a clinician would read off.

    ``max_rate_mg_per_kg_min`` is the fastest rate this infusion reaches (on the dosing
    weight); ``volume_mL`` is the infused volume of the product; ``label`` says which
    part of the regimen it came from, for messages.
    """

    index: int
    start_day: float
    end_day: float
    amount_g: float
    g_per_kg: float
    max_rate_mg_per_kg_min: float
    windows: tuple[InfusionWindow, ...]
    volume_mL: float
    label: str = ""

    @property
    def duration_h(self) -> float:
        return (self.end_day - self.start_day) * 24.0


@dataclass(frozen=True)
class InfusionPlan:
    """Every infusion of a regimen for one patient, sorted by start time."""

    infusions: tuple[Infusion, ...]
    dosing_weight_kg: float
    product: Product
    indication: str | None
    #: The regimen's premedication (``ivigsim.dosing.premedication``), for the safety models.
    premedication: object = None

    @property
    def windows(self) -> tuple[InfusionWindow, ...]:
        """All windows of all infusions, sorted by start."""
        return tuple(sorted((w for i in self.infusions for w in i.windows), key=lambda w: w.start_day))

    @property
    def total_g(self) -> float:
        return sum(infusion.amount_g for infusion in self.infusions)

    @property
    def breakpoints(self) -> tuple[float, ...]:
        """Sorted unique times where the input rate may jump (solver jump times)."""
        return tuple(sorted({t for w in self.windows for t in (w.start_day, w.end_day)}))

    def rate_g_per_day_at(self, t: float) -> float:
        """Input rate at time ``t`` (days); windows are closed at the start, open at the end."""
        return sum(w.rate_g_per_day for w in self.windows if w.start_day <= t < w.end_day)

    def amount_infused_g_by(self, t: float) -> float:
        """Exact cumulative amount given by time ``t`` (days): piecewise linear in ``t``."""
        total = 0.0
        for w in self.windows:
            if t >= w.end_day:
                total += w.amount_g
            elif t > w.start_day:
                total += w.rate_g_per_day * (t - w.start_day)
        return total
