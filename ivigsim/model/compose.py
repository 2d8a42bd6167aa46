"""Compose modules into one model and compile it to vectorised NumPy functions.

``Model`` checks the composition (every name defined once, every expression's names
resolve, assignments acyclic, fluxes between declared states). ``Model.compile()``
generates the source of four functions operating on arrays batched over patients:

- ``constants(p)``: the assignments that depend on parameters only, once per patient;
- ``initial(p, c)``: the initial state;
- ``rhs(t, y, p, c, u)``: the time derivative, built from the fluxes;
- ``observe(t, y, p, c, u)``: the output assignments.

``p`` has shape (n_parameters, *batch); ``y`` (n_states, *batch); ``u`` (n_inputs, *batch).
Every expression is elementwise, so the same functions serve one patient, a batch, or a
(time x patient) grid of stored states.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from graphlib import CycleError, TopologicalSorter

import numpy as np

from ivigsim.errors import InputError, ModelDefinitionError
from ivigsim.model.declaration import TIME, Assignment, Flux, Input, Module, Parameter, State
from ivigsim.model.expressions import balance_source

#: Names the generated code uses itself; a model symbol may not shadow them.
RESERVED = frozenset({TIME, "p", "c", "y", "u", "dy", "np"})


@dataclass(frozen=True)
class Model:
    """A validated composition of modules (immutable; verbs return new objects)."""

    modules: tuple[Module, ...]

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        fluxes: set[str] = set()
        for module in self.modules:
            for name in [*module.symbols(), *(f.name for f in module.fluxes)]:
                if not name.isidentifier() or name in RESERVED or name.startswith("_"):
                    raise ModelDefinitionError(
                        f"{module.name}: {name!r} is not a usable name (an identifier, not reserved, not "
                        f"starting with '_', not one of {sorted(RESERVED)})"
                    )
            for flux in module.fluxes:
                if flux.name in fluxes:
                    raise ModelDefinitionError(f"flux {flux.name!r} is declared twice")
                fluxes.add(flux.name)
            for name in module.symbols():
                if name in seen:
                    raise ModelDefinitionError(
                        f"{name!r} is defined by both module {seen[name]} and {module.name}"
                    )
                seen[name] = module.name
        known = set(seen) | {TIME}
        for module in self.modules:
            for item in (*module.assignments, *module.fluxes):
                unknown = item.parsed.symbols - known
                if unknown:
                    raise ModelDefinitionError(f"{module.name}.{item.name} reads undefined {sorted(unknown)}")
            for state in module.states:
                unknown = state.initial_expression.symbols - set(self.parameter_names) - set(
                    self.constant_names
                )
                if unknown:
                    raise ModelDefinitionError(
                        f"initial value of {state.name} reads non-constant {sorted(unknown)}"
                    )
            for flux in module.fluxes:
                for end in (flux.source, flux.target):
                    if end is not None and end not in self.state_names:
                        raise ModelDefinitionError(f"flux {flux.name} refers to unknown state {end!r}")
        self._assignment_order  # raises on cycles

    # -- what the model holds --------------------------------------------------------
    @cached_property
    def parameters(self) -> tuple[Parameter, ...]:
        return tuple(p for m in self.modules for p in m.parameters)

    @cached_property
    def states(self) -> tuple[State, ...]:
        return tuple(s for m in self.modules for s in m.states)

    @cached_property
    def inputs(self) -> tuple[Input, ...]:
        return tuple(i for m in self.modules for i in m.inputs)

    @cached_property
    def assignments(self) -> tuple[Assignment, ...]:
        return tuple(a for m in self.modules for a in m.assignments)

    @cached_property
    def fluxes(self) -> tuple[Flux, ...]:
        return tuple(f for m in self.modules for f in m.fluxes)

    @cached_property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @cached_property
    def state_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.states)

    @cached_property
    def input_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.inputs)

    @cached_property
    def balances(self) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
        """Per state, in order: the fluxes that leave it and the fluxes that enter it (names,
        in declaration order), so d(state)/dt = sum(entering) - sum(leaving). Every
        generator and exporter of the model's equations reads its mass balances from here."""
        return tuple((tuple(f.name for f in self.fluxes if f.source == s.name),
                      tuple(f.name for f in self.fluxes if f.target == s.name)) for s in self.states)

    @cached_property
    def switches(self) -> dict[str, str]:
        """Mechanism name -> its strength parameter."""
        return {m.name: m.switch for m in self.modules if m.switch is not None}

    @cached_property
    def _assignment_order(self) -> tuple[Assignment, ...]:
        by_name = {a.name: a for a in self.assignments}
        # Predecessors sorted, not a set: the order (hence the constants' columns and the generated
        # kernel's text, which names its numba cache) must not follow the string hash seed.
        graph = {a.name: sorted(s for s in a.parsed.symbols if s in by_name) for a in self.assignments}
        try:
            order = tuple(TopologicalSorter(graph).static_order())
        except CycleError as exc:
            raise ModelDefinitionError(f"assignments depend on each other in a cycle: {exc.args[1]}") from None
        return tuple(by_name[name] for name in order)

    @cached_property
    def constant_names(self) -> tuple[str, ...]:
        """Assignments that depend on parameters only (computed once per patient)."""
        constant: set[str] = set(self.parameter_names)
        names = []
        for a in self._assignment_order:
            if a.parsed.symbols <= constant:
                constant.add(a.name)
                names.append(a.name)
        return tuple(names)

    @cached_property
    def output_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.assignments if a.output)

    def parameter(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise InputError("parameters", f"one of the model's parameters ({', '.join(self.parameter_names)})", name)

    def module(self, name: str) -> Module:
        for m in self.modules:
            if m.name == name:
                return m
        raise InputError("module", f"one of {[m.name for m in self.modules]}", name)

    # -- parameters as data ----------------------------------------------------------
    def parameter_array(
        self, overrides: Mapping[str, float | np.ndarray] | None = None, n: int = 1
    ) -> np.ndarray:
        """Parameter values, shape (n_parameters, n), defaults overridden by name.

        Overrides are checked against each parameter's bounds: a value outside them is a
        user error that names the parameter.
        """
        values = np.empty((len(self.parameters), n))
        overrides = dict(overrides or {})
        for i, p in enumerate(self.parameters):
            v = np.broadcast_to(np.asarray(overrides.pop(p.name, p.value), dtype=float), (n,))
            lo, hi = p.bounds
            bad = ~(((v > lo) if p.lower_open else (v >= lo)) & (v <= hi))
            if bad.any():
                raise InputError(
                    f"parameters.{p.name}", f"a value in {'(' if p.lower_open else '['}{lo}, {hi}] {p.unit}",
                    float(v[bad][0]),
                )
            values[i] = v
        if overrides:
            name = sorted(overrides)[0]
            raise InputError(
                "parameters", f"names of model parameters (see `ivigsim parameters`)", name
            )
        return values

    def switch_overrides(self, switches: Mapping[str, bool | float]) -> dict[str, float]:
        """Mechanism switches ({'fcrn_saturation': False}) as parameter overrides."""
        out = {}
        for mechanism, setting in switches.items():
            if mechanism not in self.switches:
                raise InputError("mechanisms", f"one of {sorted(self.switches)}", mechanism)
            strength = float(setting)
            if strength < 0:
                raise InputError(f"mechanisms.{mechanism}", "true, false or a strength >= 0", setting)
            out[self.switches[mechanism]] = strength
        return out

    # -- compilation -----------------------------------------------------------------
    def compile(self) -> CompiledModel:
        return CompiledModel(self, _generate(self))


@dataclass(frozen=True)
class CompiledModel:
    """A model with its generated NumPy functions (see module docstring for signatures)."""

    model: Model
    source: str

    @cached_property
    def _namespace(self) -> dict[str, Callable]:
        namespace: dict = {"np": np}
        exec(compile(self.source, f"<ivigsim model {id(self)}>", "exec"), namespace)
        return namespace

    @property
    def constants(self) -> Callable[[np.ndarray], np.ndarray]:
        return self._namespace["constants"]

    @property
    def initial(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        return self._namespace["initial"]

    @property
    def rhs(self) -> Callable[..., np.ndarray]:
        return self._namespace["rhs"]

    @property
    def observe(self) -> Callable[..., dict[str, np.ndarray]]:
        return self._namespace["observe"]

    @property
    def n_states(self) -> int:
        return len(self.model.states)


def _unpack(names: Sequence[str], array: str) -> list[str]:
    return [f"    {name} = {array}[{i}]" for i, name in enumerate(names)]


def _generate(model: Model) -> str:
    constants = set(model.constant_names)
    dynamic = [a for a in model._assignment_order if a.name not in constants]
    by_name = {a.name: a for a in model.assignments}
    lines: list[str] = []

    lines.append("def constants(p):")
    lines += _unpack(model.parameter_names, "p")
    for name in model.constant_names:
        lines.append(f"    {name} = {by_name[name].parsed.to_numpy()}")
    shape = "p.shape[1:]"
    items = ", ".join(f"np.broadcast_to({n}, {shape})" for n in model.constant_names)
    lines.append(f"    return np.stack([{items}]) if {len(constants)} else np.empty((0, *{shape}))")
    lines.append("")

    lines.append("def initial(p, c):")
    lines += _unpack(model.parameter_names, "p")
    lines += _unpack(model.constant_names, "c")
    lines.append(f"    y = np.empty(({len(model.states)}, *p.shape[1:]))")
    for i, s in enumerate(model.states):
        lines.append(f"    y[{i}] = {s.initial_expression.to_numpy()}")
    lines.append("    return y")
    lines.append("")

    def body(header: str) -> None:
        lines.append(header)
        for names, array in ((model.parameter_names, "p"), (model.constant_names, "c"),
                             (model.state_names, "y"), (model.input_names, "u")):
            lines.extend(_unpack(names, array))
        for a in dynamic:
            lines.append(f"    {a.name} = {a.parsed.to_numpy()}")

    body("def rhs(t, y, p, c, u):")
    for f in model.fluxes:
        lines.append(f"    _flux_{f.name} = {f.parsed.to_numpy()}")
    lines.append("    dy = np.zeros(y.shape)")
    for i, (leaving, entering) in enumerate(model.balances):
        if leaving or entering:
            lines.append(f"    dy[{i}] = {balance_source(leaving, entering)}")
    lines.append("    return dy")
    lines.append("")

    body("def observe(t, y, p, c, u):")
    shape = "np.broadcast_shapes(y.shape[1:], np.shape(t))"
    lines.append(
        "    return {"
        + ", ".join(f"{n!r}: np.broadcast_to({n}, {shape})" for n in model.output_names)
        + "}"
    )
    return "\n".join(lines) + "\n"
