"""Disease modules: one file each, registered in ``ivigsim.model.library.DISEASES``.

A disease is a ``Module`` that defines the drives the shared immune state reads
(``autoimmune_drive``, ``inflammatory_drive``, ``complement_drive``), its pathology
states and its clinical readouts, plus what a virtual population needs: the
between-subject variability of its parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ivigsim.model.declaration import Module

#: Names every disease module must define (the immune state reads them).
DRIVES = ("autoimmune_drive", "inflammatory_drive", "complement_drive")


@dataclass(frozen=True)
class Disease:
    """A disease as the rest of ivigsim sees it.

    ``variability``: between-subject variability of model parameters in this disease's
    patients, each with its source in ``variability_sources``: a coefficient of variation
    (0.2 = 20 %) for a parameter varying on the log scale, omega (the SD of eta on the
    logit scale) for a share declared ``variability_scale="logit"``
    (``ivigsim.population.variability``). Virtual populations start from these; trial files may add or
    override. ``indication`` is the dosing indication (label rates differ by indication).
    ``readouts`` are the output names clinicians use for this disease.
    """

    name: str
    title: str
    module: Module
    indication: str | None
    readouts: tuple[str, ...] = ()
    #: Readouts where a higher value is better (platelets); for the others lower is better.
    higher_is_better: frozenset[str] = frozenset()
    variability: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    variability_sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: Values of shared parameters typical of this disease's patients (e.g. a lower
    #: baseline IgG), applied before the user's own overrides, each with its source.
    defaults: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    default_sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        defined = set(self.module.symbols())
        missing = [d for d in DRIVES if d not in defined]
        if missing:
            raise ValueError(f"disease {self.name} must define {missing}")
        unsourced = (set(self.variability) - set(self.variability_sources)) | (
            set(self.defaults) - set(self.default_sources))
        if unsourced:
            raise ValueError(f"disease {self.name}: variability without a source for {sorted(unsourced)}")
