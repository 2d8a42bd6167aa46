"""The vocabulary a model module is written in.

A module *declares* what it adds to the model (PySB's macros are the pattern: a
motif that says what it creates):

- ``Parameter``: a number with a unit, bounds and where it comes from;
- ``State``: an amount the ODE integrates, with its unit and initial value;
- ``Input``: a piecewise-constant driver supplied from outside (an infusion rate);
- ``Assignment``: a named quantity computed from the others (a concentration);
- ``Flux``: a rate moving amount from one state to another (or from/to nowhere).

Writing the right-hand side as fluxes makes mass balance structural (what leaves one
state enters another or is counted as a sink) and maps one-to-one onto SBML reactions.
Nothing here computes anything; ``ivigsim.model.compose`` turns modules into a model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from ivigsim.errors import ModelDefinitionError
from ivigsim.model.expressions import Expression

#: How a parameter's value was obtained. ``source``: taken from a publication;
#: ``calibrated``: fitted to a calibration target; ``derived``: arithmetic on sourced
#: values; ``assumption``: neither (the docs list these); ``covariate``: a patient fact
#: (body weight); ``baseline``: the patient's pretreatment disease state (a platelet count,
#: a QMG score), which virtual populations draw; ``switch``: a mechanism's strength.
Provenance = Literal["source", "calibrated", "derived", "assumption", "covariate", "baseline", "switch"]

#: The scale on which a parameter varies between patients (``ivigsim.population.variability``).
#: ``log`` (the default): value = typical x exp(eta), and a variability mapping gives the CV;
#: ``logit``, for shares bounded by [0, 1]: logit(value) = logit(typical) + eta, and a
#: variability mapping gives omega, the SD of eta (NONMEM's logit-normal model). Either
#: way the typical value is the median and every draw respects the bounds of a share.
VariabilityScale = Literal["log", "logit"]

#: The time variable every expression may read, in days.
TIME = "t"


@dataclass(frozen=True)
class Parameter:
    """A model constant, batched per patient at run time.

    >>> Parameter("k_x_per_day", 0.1, "1/day", "assumption", "illustration", (0.0, 1.0)).value
    0.1
    """

    name: str
    value: float
    unit: str
    provenance: Provenance
    source: str
    bounds: tuple[float, float] = (0.0, math.inf)
    description: str = ""
    variability_scale: VariabilityScale = "log"
    #: The lower bound itself is refused as a value (a bioavailability must be above 0). It
    #: checks what a user writes and changes no equation, so it stays out of the repr, which
    #: the joint calibration's fingerprint hashes.
    lower_open: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        lo, hi = self.bounds
        if not lo <= self.value <= hi:
            raise ModelDefinitionError(
                f"parameter {self.name}: default {self.value} outside its bounds {self.bounds}"
            )
        if not self.source:
            raise ModelDefinitionError(f"parameter {self.name} must name its source")
        if self.variability_scale not in ("log", "logit"):
            raise ModelDefinitionError(f"parameter {self.name}: variability_scale 'log' or 'logit', not {self.variability_scale!r}")
        if self.variability_scale == "logit" and self.bounds != (0.0, 1.0):
            raise ModelDefinitionError(f"parameter {self.name}: the logit scale is for shares bounded by (0, 1), "
                                       f"not {self.bounds}")

    @property
    def may_vary(self) -> bool:
        """Whether a population may give it between-subject variability (not a covariate,
        switch or fixed constant)."""
        return self.provenance not in ("covariate", "switch") and self.bounds[0] != self.bounds[1]


@dataclass(frozen=True)
class State:
    """An integrated amount. ``initial`` may read parameters and constant assignments."""

    name: str
    unit: str
    initial: str
    description: str = ""

    @property
    def initial_expression(self) -> Expression:
        return Expression(self.initial)


@dataclass(frozen=True)
class Input:
    """A piecewise-constant driver (value 0 outside its windows), e.g. an infusion rate."""

    name: str
    unit: str
    description: str = ""


@dataclass(frozen=True)
class Assignment:
    """A named quantity. Set ``output`` to report it in results (its name carries its unit)."""

    name: str
    expression: str
    unit: str
    description: str = ""
    output: bool = False

    @property
    def parsed(self) -> Expression:
        return Expression(self.expression)


@dataclass(frozen=True)
class Flux:
    """A rate in (source state's unit) per day, from ``source`` to ``target``.

    ``source=None`` is production from outside the model (synthesis, infusion);
    ``target=None`` is loss from the model (catabolism).
    """

    name: str
    expression: str
    source: str | None
    target: str | None
    description: str = ""

    def __post_init__(self) -> None:
        if self.source is None and self.target is None:
            raise ModelDefinitionError(f"flux {self.name} needs a source or a target")

    @property
    def parsed(self) -> Expression:
        return Expression(self.expression)


@dataclass(frozen=True)
class Module:
    """One concept of the model (a mechanism, a disease, the PK core).

    ``switch`` names the module's strength parameter (1 = as calibrated, 0 = off) if the
    module is a switchable mechanism: switching off is a parameter value, so a batch of
    patients can carry every on/off combination at once (attribution needs that).
    """

    name: str
    title: str
    description: str
    parameters: tuple[Parameter, ...] = ()
    states: tuple[State, ...] = ()
    inputs: tuple[Input, ...] = ()
    assignments: tuple[Assignment, ...] = ()
    fluxes: tuple[Flux, ...] = ()
    switch: str | None = None
    references: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.switch is not None and self.switch not in {p.name for p in self.parameters}:
            raise ModelDefinitionError(
                f"module {self.name}: switch {self.switch!r} is not one of its parameters"
            )

    def symbols(self) -> list[str]:
        """Every name this module defines, in declaration order."""
        return [
            *(p.name for p in self.parameters),
            *(s.name for s in self.states),
            *(i.name for i in self.inputs),
            *(a.name for a in self.assignments),
        ]
