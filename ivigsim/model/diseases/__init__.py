"""Disease modules: one file each in this package, found by ``registry()``.

A disease is a ``Module`` that defines the drives the shared immune state reads
(``autoimmune_drive``, ``inflammatory_drive``, ``complement_drive``), its pathology
states and its clinical readouts, plus what a virtual population needs: the
between-subject variability of its parameters. Its module file declares a ``Disease``
value at module level; ``registry()`` imports every module of this package and collects
them, so adding a disease is adding a file (``ivigsim.model.library.DISEASES`` is that
registry, ``none`` first).

Each readout carries what a reader needs to read it (``Readout``): a label, its clinical
scale, whether higher is better and its thresholds (the platelet count of 50 x 10^9/L
that defines a response in ITP). ``simulate`` writes them into the readout's attributes,
and the plots, summaries, docs and contract tests read them from here.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ivigsim.errors import ModelDefinitionError
from ivigsim.model.declaration import Module

#: Names every disease module must define (the immune state reads them).
DRIVES = ("autoimmune_drive", "inflammatory_drive", "complement_drive")

#: Between-patient variability of the IgG core that every disease population carries (a
#: disease adds its own; a trial file's ``population.variability`` adds to or overrides both).
IGG_CORE_VARIABILITY = MappingProxyType({
    "baseline_igg_g_per_L": 0.219,
    "plasma_volume_L_per_kg": 0.27,
})
IGG_CORE_VARIABILITY_SOURCES = MappingProxyType({
    "baseline_igg_g_per_L": "Valenzuela 2025: between-subject CV 21.9 %",
    "plasma_volume_L_per_kg": "calibrated to Kuitwaard et al. 2013, J Neurol Neurosurg Psychiatry 84(8):859 "
    "(calibration-targets s.12.7): between-patient CV of the rise in IgG with an infusion, 20 %, on one fixed "
    "regimen (python -m ivigsim.validation.calibrate; docs/calibration.md). It stands for what spreads the rise from a "
    "dose per kilogram beyond the body mass index, which the plasma volume already follows (Lemmens 2006); the CV "
    "after the infusion (11 %) is the check",
})


@dataclass(frozen=True)
class Threshold:
    """A value of a readout that means something clinically, with where the meaning comes
    from: ``Threshold(50.0, "response (Robak 2009: >= 50 x 10^9/L by day 7)")``."""

    value: float
    meaning: str


@dataclass(frozen=True)
class Readout:
    """A clinical readout of a disease: an output of its model, as clinicians read it.

    ``scale``: the clinical scale (a score's range, a plausible range for a count); the
    contract test holds every simulation inside it. A readout whose formula clips it to its
    scale cannot leave it, so ``clipped`` names what that formula reads, with the range each
    must keep, and the contract test checks those instead.
    """

    name: str
    label: str
    scale: tuple[float, float]
    #: True (platelets), False (a disability score) or None (not an outcome: IgG without a disease).
    higher_is_better: bool | None = False
    thresholds: tuple[Threshold, ...] = ()
    clipped: Mapping[str, tuple[float, float]] = field(default_factory=lambda: MappingProxyType({}))
    #: The day after the start of treatment on which the disease's trials read it (the docs
    #: attribute IVIG's effect on the main readout on that day).
    endpoint_day: float | None = None

    def __post_init__(self) -> None:
        lo, hi = self.scale
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ModelDefinitionError(f"readout {self.name}: scale must be finite and increasing, not {self.scale}")
        for t in self.thresholds:
            if not lo <= t.value <= hi:
                raise ModelDefinitionError(f"readout {self.name}: threshold {t.value} outside its scale {self.scale}")

    @property
    def better(self) -> str:
        return {True: "higher", False: "lower", None: "neither"}[self.higher_is_better]

    def attrs(self, disease: str) -> dict[str, object]:
        """What ``simulate`` writes into the readout variable's attributes: plain strings and
        numbers, so NetCDF keeps them."""
        out: dict[str, object] = {"readout_of": disease, "label": self.label,
                                  "clinical_scale": [float(v) for v in self.scale], "better": self.better}
        if self.endpoint_day is not None:
            out["endpoint_day"] = float(self.endpoint_day)
        if self.thresholds:
            out["thresholds"] = [float(t.value) for t in self.thresholds]
            out["threshold_meanings"] = "; ".join(t.meaning for t in self.thresholds)
        return out


@dataclass(frozen=True, eq=False)
class Disease:
    """A disease as the rest of ivigsim sees it.

    ``variability``: between-subject variability of model parameters in this disease's
    patients, each with its source in ``variability_sources``: a coefficient of variation
    (0.2 = 20 %) for a parameter varying on the log scale, omega (the SD of eta on the
    logit scale) for a share declared ``variability_scale="logit"``
    (``ivigsim.population.variability``). The IgG core's (``IGG_CORE_VARIABILITY``) come first, a
    disease's own may override them. Virtual populations start from these; trial files may add or
    override. ``indication`` is the dosing indication (label rates differ by indication).
    ``readouts`` are the outputs clinicians use for this disease, the first the main one.

    Compared and hashed by identity (``eq=False``): a registered disease is one value, and
    the model caches (``ivigsim.model.library.build_model``) key on it.
    """

    name: str
    title: str
    module: Module
    indication: str | None
    readouts: tuple[Readout, ...] = ()
    variability: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    variability_sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: Values of shared parameters typical of this disease's patients (e.g. a lower
    #: baseline IgG), applied before the user's own overrides, each with its source.
    defaults: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    default_sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        # Every population carries the IgG core's variability (frozen dataclass: set once, here).
        object.__setattr__(self, "variability", MappingProxyType({**IGG_CORE_VARIABILITY, **self.variability}))
        object.__setattr__(self, "variability_sources",
                           MappingProxyType({**IGG_CORE_VARIABILITY_SOURCES, **self.variability_sources}))
        defined = set(self.module.symbols())
        missing = [d for d in DRIVES if d not in defined]
        if missing:
            raise ValueError(f"disease {self.name} must define {missing}")
        unsourced = (set(self.variability) - set(self.variability_sources)) | (
            set(self.defaults) - set(self.default_sources))
        if unsourced:
            raise ValueError(f"disease {self.name}: variability without a source for {sorted(unsourced)}")
        if not all(isinstance(r, Readout) for r in self.readouts):
            raise ModelDefinitionError(f"disease {self.name}: readouts must be Readout values")

    def __str__(self) -> str:  # files and messages name a disease
        return self.name

    @property
    def readout_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.readouts)

    @property
    def higher_is_better(self) -> frozenset[str]:
        """Readouts where a higher value is better (platelets); for the others lower is better."""
        return frozenset(r.name for r in self.readouts if r.higher_is_better is True)

    def readout(self, name: str) -> Readout | None:
        return next((r for r in self.readouts if r.name == name), None)


def registry() -> dict[str, Disease]:
    """Every ``Disease`` declared at module level in a module of this package, by name:
    ``none`` first, then by name. A disease imported by another module counts once; two
    different diseases of one name are a definition error."""
    found: dict[str, Disease] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if not isinstance(value, Disease):
                continue
            if value.name in found and found[value.name] is not value:
                raise ModelDefinitionError(f"two diseases are named {value.name!r} (one in {module.__name__})")
            found[value.name] = value
    return {name: found[name] for name in sorted(found, key=lambda n: (n != "none", n))}
