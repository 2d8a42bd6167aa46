"""The configured model as SBML Level 3 Version 2, written and checked by libSBML.

One scenario (its patient's parameters after overrides and mechanism switches, its
regimen compiled to infusion windows) becomes one self-contained SBML model that COPASI,
Tellurium/libRoadRunner or any SBML tool can simulate. What becomes what:

- a ``Parameter`` -> a constant SBML parameter with this scenario's value and unit; its
  provenance, source and default go in notes (for people) and an annotation (for programs);
- an ``Assignment`` that reads parameters only -> a constant parameter with an
  ``initialAssignment`` (so a tool that changes body weight recomputes volumes); any other
  assignment -> an ``assignmentRule``;
- a ``State`` in grams (the IgG amounts) -> a species with ``hasOnlySubstanceUnits`` in the
  compartment ``body`` (size 1, dimensionless; volumes are parameters of the model), so the
  species' value is its amount; each ``Flux`` between such states -> an irreversible reaction
  whose kinetic law is the flux expression (production and loss have no reactant or product);
- a ``State`` in any other unit (the dimensionless immune indices) -> a non-constant parameter
  with a ``rateRule`` summing its fluxes, each flux an assignment-rule parameter named as
  the flux. Why not species: SBML gives every reaction one extent unit (here g), and a
  kinetic law in 1/day could not be consistent with it; as rate rules every unit in the
  file stays checkable;
- the infusion ``Input`` -> a parameter set by one event per breakpoint of the compiled
  regimen (``time >= start``: persistent, values from trigger time, trigger initially false
  so an infusion starting at t = 0 fires at t = 0). Events rather than a piecewise rule,
  because the integrator then stops and restarts at each jump, as ivigsim's own solver
  lands on it, instead of stepping across it.

Expressions are translated from their typed tree (``Expression.ir``) to libSBML's (not
through the infix parser, which reads ``log`` as base 10 and names such as ``pi`` as
constants), with the names and unit rules of ``expressions.FUNCTIONS``; every number
carries a unit by the rule of ``ivigsim.model.units``: dimensionless where it scales, the
other operand's unit where it is added or compared, the declared unit where it is the
whole expression. So libSBML can check the units of every equation, and the export
must pass its consistency checks with no error and no warning (:func:`check_document`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

try:
    import libsbml
except ImportError as exc:  # pragma: no cover - a dependency of ivigsim; say how to get it
    raise ImportError("SBML export needs python-libsbml: pip install python-libsbml") from exc

from ivigsim import __version__
from ivigsim.errors import InputError, ModelDefinitionError
from ivigsim.io.results import atomic_path
from ivigsim.model.declaration import TIME, Flux, Parameter
from ivigsim.model.expressions import (
    FUNCTIONS, OPERATORS, Binary, Call, Expression, Node, Num, Sym, Unary, UnitRule, evaluate, fold,
    walk,
)
from ivigsim.model.units import TIME_UNIT, parse_unit

if TYPE_CHECKING:
    from ivigsim.model.compose import CompiledModel, Model
    from ivigsim.scenario import Scenario

SBML_LEVEL, SBML_VERSION = 3, 2
#: Unit of the SBML species and of every reaction's extent: states in this unit are species.
EXTENT_UNIT = "g"
#: The one compartment: a bookkeeping container of size 1 (the model's volumes are parameters).
COMPARTMENT = "body"
#: XML namespace of ivigsim's machine-readable annotations.
ANNOTATION_NS = "urn:ivigsim:sbml:annotation:1"
XHTML_NS = "http://www.w3.org/1999/xhtml"
#: SBML's base unit kinds a declared unit is expressed in, with pint's name for each.
_SBML_KINDS = (("gram", "gram"), ("kilogram", "kilogram"), ("litre", "liter"), ("second", "second"),
               ("metre", "meter"), ("mole", "mole"))


def export_sbml(scenario: Scenario, model: CompiledModel | None = None) -> str:
    """The scenario's model, patient and regimen as an SBML L3V2 document (a string).

    Pure: nothing is written. Raises ``ModelDefinitionError`` if libSBML finds the document
    inconsistent, which would be a bug in this exporter or the model's declarations.
    """
    document = build_document(scenario, model)
    check_document(document)
    return libsbml.writeSBMLToString(document)


def write_sbml(scenario: Scenario, path: str | Path, model: CompiledModel | None = None) -> Path:
    """Write :func:`export_sbml`'s document to ``path`` atomically (all or nothing)."""
    text = export_sbml(scenario, model)
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError("--out", "a path where a file can be written", f"{path} ({exc.strerror or exc})") from None
    return path


def check_document(document: libsbml.SBMLDocument) -> None:
    """Run every libSBML consistency check (units included); raise on any error or warning."""
    document.setConsistencyChecks(libsbml.LIBSBML_CAT_UNITS_CONSISTENCY, True)
    document.checkConsistency()
    log = document.getErrorLog()
    problems = [log.getError(i) for i in range(log.getNumErrors())]
    if problems:
        lines = [f"  [{e.getSeverityAsString()} {e.getErrorId()}] {e.getMessage().strip()}" for e in problems]
        raise ModelDefinitionError(f"libSBML found {len(problems)} problem(s) in the exported model:\n"
                                   + "\n".join(lines[:20]))


def build_document(scenario: Scenario, model: CompiledModel | None = None) -> libsbml.SBMLDocument:
    """The libSBML document for ``scenario`` (unchecked; see :func:`export_sbml`)."""
    from ivigsim.simulation import setup_scenario

    setup = setup_scenario(scenario, model)
    compiled, declared, plan, schedule = setup.model, setup.model.model, setup.plan, setup.schedule
    values = setup.parameters
    constants = compiled.constants(values)
    initial = compiled.initial(values, constants)

    document = libsbml.SBMLDocument(SBML_LEVEL, SBML_VERSION)
    sbml = document.createModel()
    writer = _Writer(declared, sbml)
    writer.header(scenario, plan)
    writer.parameters(dict(zip(declared.parameter_names, values[:, 0])))
    writer.assignments(dict(zip(declared.constant_names, constants[:, 0])))
    writer.states(dict(zip(declared.state_names, initial[:, 0])))
    writer.fluxes()
    writer.inputs(schedule.times[0], schedule.values[0])
    return document


# -- the writer ----------------------------------------------------------------------


@dataclass
class _Writer:
    """Adds one kind of model element at a time to a libSBML model, sharing the unit table."""

    model: Model
    sbml: Any
    _unit_ids: dict[tuple[str, str], str] = field(default_factory=dict)
    declared_units: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        m = self.model
        self.declared_units = {item.name: item.unit for items in (m.parameters, m.states, m.inputs, m.assignments)
                               for item in items}

    # -- units --------------------------------------------------------------------
    def unit_id(self, quantity: Any) -> str:
        """The SBML unit id for a pint quantity (its magnitude is the scale), defined on first use."""
        if not list(quantity.unit_items()) and math.isclose(float(quantity.magnitude), 1.0):
            return "dimensionless"
        base = quantity.to_base_units()
        key = (f"{float(base.magnitude):.12g}", str(base.units))
        if key not in self._unit_ids:
            self._unit_ids[key] = self._define_unit(quantity)
        return self._unit_ids[key]

    def declared_unit(self, text: str) -> str:
        return self.unit_id(parse_unit(text))

    def _define_unit(self, quantity: Any) -> str:
        unit_id = _unit_name(quantity)
        while self.sbml.getUnitDefinition(unit_id) is not None or libsbml.UnitKind_isValidUnitKindString(
            unit_id, SBML_LEVEL, SBML_VERSION
        ):
            unit_id += "_"
        definition = self.sbml.createUnitDefinition()
        definition.setId(unit_id)
        for name, exponent in quantity.unit_items():
            kind, multiplier = _sbml_kind(name)
            _unit(definition, kind, float(exponent), multiplier)
        scale = float(quantity.magnitude)
        if not math.isclose(scale, 1.0):
            _unit(definition, "dimensionless", 1.0, scale)
        return unit_id

    # -- math ---------------------------------------------------------------------
    def math(self, expression: Expression | str, unit: str | Any) -> Any:
        """``expression`` as a libSBML AST; ``unit`` (text or pint) is what it defines."""
        expression = expression if isinstance(expression, Expression) else Expression(expression)
        expected = parse_unit(unit) if isinstance(unit, str) else unit
        return _Math(self).translate(expression.ir, expected)

    # -- elements -----------------------------------------------------------------
    def header(self, scenario: Scenario, plan: Any) -> None:
        self.check_ids()
        self.sbml.setId(_sid("ivigsim_" + scenario.name))
        self.sbml.setName(f"ivigsim: {scenario.name}")
        self.sbml.setTimeUnits(self.declared_unit(TIME_UNIT))
        self.sbml.setExtentUnits(self.declared_unit(EXTENT_UNIT))
        self.sbml.setSubstanceUnits(self.declared_unit(EXTENT_UNIT))
        patient = scenario.patient
        lines = [
            f"Exported by ivigsim {__version__} from scenario {scenario.name!r}.",
            f"Patient: {patient.weight_kg:g} kg, {patient.sex}, {patient.age_years:g} years"
            + (f", {patient.height_cm:g} cm" if patient.height_cm is not None else "") + ".",
            f"Indication: {scenario.indication or 'none'}. Simulated span in ivigsim: {scenario.days:g} days.",
            "Mechanism switches: " + (", ".join(f"{k}={v}" for k, v in scenario.mechanisms.items()) or "as shipped") + ".",
            "Infusions: " + ("; ".join(f"day {i.start_day:g} to {i.end_day:.4f}: {i.amount_g:.4g} g"
                                       for i in plan.infusions) if plan else "none") + ".",
            "Time in days, amounts in g, concentrations in g/L, volumes in L (canonical units).",
        ]
        self.sbml.setNotes(_notes(lines))
        compartment = self.sbml.createCompartment()
        compartment.setId(COMPARTMENT)
        compartment.setName("bookkeeping container of size 1: volumes are the model's parameters")
        compartment.setSpatialDimensions(3)
        compartment.setSize(1.0)
        compartment.setUnits("dimensionless")
        compartment.setConstant(True)

    def parameters(self, values: Mapping[str, float]) -> None:
        for p in self.model.parameters:
            parameter = self._parameter(p.name, p.unit, float(values[p.name]), constant=True)
            parameter.setNotes(_notes(_parameter_lines(p, float(values[p.name]))))
            parameter.setAnnotation(_parameter_annotation(p, float(values[p.name])))

    def assignments(self, constant_values: Mapping[str, float]) -> None:
        for a in self.model.assignments:
            constant = a.name in constant_values
            parameter = self._parameter(a.name, a.unit, float(constant_values.get(a.name, math.nan)), constant)
            if a.description:
                parameter.setNotes(_notes([a.description]))
            if constant:
                rule = self.sbml.createInitialAssignment()
                rule.setSymbol(a.name)
            else:
                rule = self.sbml.createAssignmentRule()
                rule.setVariable(a.name)
            rule.setMath(self.math(a.parsed, a.unit))

    def states(self, initial_values: Mapping[str, float]) -> None:
        for s in self.model.states:
            if self.is_species(s.name):
                species = self.sbml.createSpecies()
                species.setId(s.name)
                species.setCompartment(COMPARTMENT)
                species.setInitialAmount(float(initial_values[s.name]))
                species.setSubstanceUnits(self.declared_unit(s.unit))
                species.setHasOnlySubstanceUnits(True)
                species.setBoundaryCondition(False)
                species.setConstant(False)
                element = species
            else:
                element = self._parameter(s.name, s.unit, float(initial_values[s.name]), constant=False)
            if s.description:
                element.setNotes(_notes([s.description]))
            rule = self.sbml.createInitialAssignment()
            rule.setSymbol(s.name)
            rule.setMath(self.math(s.initial_expression, s.unit))

    def fluxes(self) -> None:
        for f in self.model.fluxes:
            ends = [e for e in (f.source, f.target) if e is not None]
            species = {self.is_species(e) for e in ends}
            if species == {True}:
                self._reaction(f)
            elif species == {False}:
                self._flux_parameter(f)
            else:
                raise ModelDefinitionError(f"flux {f.name} joins a species and a non-species state")
        for s in self.model.states:
            if self.is_species(s.name):
                continue
            terms = [(+1, f.name) for f in self.model.fluxes if f.target == s.name]
            terms += [(-1, f.name) for f in self.model.fluxes if f.source == s.name]
            if terms:
                rule = self.sbml.createRateRule()
                rule.setVariable(s.name)
                rule.setMath(_signed_sum(terms))

    def inputs(self, break_times: Sequence[float], break_values: Any) -> None:
        """One parameter per input, 0 before the first breakpoint, set by an event at each."""
        for i in self.model.inputs:
            self._parameter(i.name, i.unit, 0.0, constant=False).setNotes(
                _notes([i.description, "Set by the events of the regimen; 0 between infusions."]))
        for k, when in enumerate(t for t in break_times if math.isfinite(t)):
            event = self.sbml.createEvent()
            event.setId(f"input_change_{k}")
            event.setName(f"inputs change at day {when:.6g}")
            event.setUseValuesFromTriggerTime(True)
            trigger = event.createTrigger()
            trigger.setInitialValue(False)
            trigger.setPersistent(True)
            condition = libsbml.ASTNode(libsbml.AST_RELATIONAL_GEQ)
            condition.addChild(_time_node())
            condition.addChild(_number(float(when), self.declared_unit(TIME_UNIT)))
            trigger.setMath(condition)
            for index, i in enumerate(self.model.inputs):
                assignment = event.createEventAssignment()
                assignment.setVariable(i.name)
                assignment.setMath(_number(float(break_values[k, index]), self.declared_unit(i.unit)))

    # -- helpers ------------------------------------------------------------------
    def is_species(self, state: str) -> bool:
        q, extent = parse_unit(self.declared_units[state]), parse_unit(EXTENT_UNIT)
        return q.dimensionality == extent.dimensionality and math.isclose(
            float(q.to(extent.units).magnitude), float(extent.magnitude))

    def _parameter(self, name: str, unit: str, value: float, constant: bool) -> Any:
        parameter = self.sbml.createParameter()
        parameter.setId(name)
        parameter.setUnits(self.declared_unit(unit))
        parameter.setConstant(constant)
        if math.isfinite(value):
            parameter.setValue(value)
        return parameter

    def _reaction(self, f: Flux) -> None:
        reaction = self.sbml.createReaction()
        reaction.setId(f.name)
        reaction.setReversible(False)
        if f.description:
            reaction.setNotes(_notes([f.description]))
        for end, create in ((f.source, reaction.createReactant), (f.target, reaction.createProduct)):
            if end is not None:
                reference = create()
                reference.setSpecies(end)
                reference.setStoichiometry(1.0)
                reference.setConstant(True)
        law = reaction.createKineticLaw()
        law.setMath(self.math(f.parsed, parse_unit(EXTENT_UNIT) / parse_unit(TIME_UNIT)))

    def _flux_parameter(self, f: Flux) -> None:
        unit = parse_unit(self.declared_units[f.source or f.target]) / parse_unit(TIME_UNIT)
        parameter = self.sbml.createParameter()
        parameter.setId(f.name)
        parameter.setUnits(self.unit_id(unit))
        parameter.setConstant(False)
        parameter.setNotes(_notes([f"flux {f.source or 'nothing'} -> {f.target or 'nothing'}"
                                   + (f": {f.description}" if f.description else "")]))
        rule = self.sbml.createAssignmentRule()
        rule.setVariable(f.name)
        rule.setMath(self.math(f.parsed, unit))

    def check_ids(self) -> None:
        names = [*(n for m in self.model.modules for n in m.symbols()), *(f.name for f in self.model.fluxes),
                 COMPARTMENT]
        seen: set[str] = set()
        for name in names:
            if name in seen or not libsbml.SyntaxChecker.isValidSBMLSId(name):
                raise ModelDefinitionError(
                    f"{name!r} cannot be an SBML id (every parameter, state, assignment, input and flux "
                    f"name must be a unique ASCII identifier, other than {COMPARTMENT!r})")
            seen.add(name)


# -- math translation ------------------------------------------------------------------


@dataclass
class _Math:
    """An expression's typed tree -> libSBML AST, giving each number its unit (module
    docstring); function names, operators and unit rules from ``expressions.FUNCTIONS``
    and ``expressions.OPERATORS``."""

    writer: _Writer

    def translate(self, node: Node, expected: Any) -> Any:
        if isinstance(node, Num):
            return _number(node.value, self.writer.unit_id(expected))
        if isinstance(node, Sym):
            if node.name == TIME:
                return _time_node()
            name = libsbml.ASTNode(libsbml.AST_NAME)
            name.setName(node.name)
            return name
        if isinstance(node, Unary):
            inner = self.translate(node.arg, expected)
            if node.op == "+":
                return inner
            return _apply(OPERATORS["-"].sbml, [inner])
        if isinstance(node, Binary):
            sbml_op = OPERATORS[node.op].sbml
            if node.op in ("+", "-"):
                unit = _first_known(self.unit_of(node.left), self.unit_of(node.right), expected)
                return _apply(sbml_op, [self.translate(node.left, unit), self.translate(node.right, unit)])
            left, right = self.unit_of(node.left), self.unit_of(node.right)
            one = parse_unit("dimensionless")
            if node.op == "**":
                return _apply(sbml_op, [self.translate(node.left, expected if left is None else left),
                                        self.translate(node.right, one)])
            # * and /: a number scales (dimensionless) unless both sides are numbers only.
            left_expected = (expected if right is None else one) if left is None else left
            return _apply(sbml_op, [self.translate(node.left, left_expected),
                                    self.translate(node.right, one if right is None else right)])
        if isinstance(node, Call):
            function = FUNCTIONS[node.fn]
            if function.unit is UnitRule.COMMON:
                unit = _first_known(*map(self.unit_of, node.args), expected)
                return _apply(function.sbml, [self.translate(a, unit) for a in node.args])
            (arg,) = node.args
            if function.unit is UnitRule.SQUARE_ROOT:
                inner = self.unit_of(arg)
                root = _apply(function.sbml, [_number(float(function.sbml_degree), "dimensionless", integer=True)])
                root.addChild(self.translate(arg, inner if inner is not None else expected ** 2))
                return root
            if function.unit is UnitRule.SAME:
                return _apply(function.sbml, [self.translate(arg, expected)])
            return _apply(function.sbml, [self.translate(arg, parse_unit("dimensionless"))])
        raise ModelDefinitionError(f"cannot translate {node!r:.60} to SBML")

    def unit_of(self, node: Node) -> Any | None:
        """The pint unit of a subexpression, or None if it is made of numbers only."""
        one = parse_unit("dimensionless")

        def combine(node: Node, args: tuple[Any | None, ...]) -> Any | None:
            if isinstance(node, Num):
                return None
            if isinstance(node, Sym):
                return parse_unit(TIME_UNIT) if node.name == TIME else parse_unit(self._declared(node.name))
            if isinstance(node, Unary):
                return args[0]
            if isinstance(node, Binary):
                left, right = args
                if node.op in ("+", "-"):
                    return _first_known(left, right)
                if node.op == "**":
                    if left is None:
                        return None
                    exponent = _constant_value(node.right)
                    return left ** exponent if exponent is not None else one
                if left is None and right is None:
                    return None
                left, right = left if left is not None else one, right if right is not None else one
                return left * right if node.op == "*" else left / right
            if isinstance(node, Call):
                rule = FUNCTIONS[node.fn].unit
                if rule in (UnitRule.COMMON, UnitRule.SAME):
                    return _first_known(*args)
                if rule is UnitRule.SQUARE_ROOT:
                    return args[0] ** 0.5 if args[0] is not None else None
                return None if args[0] is None else one  # UnitRule.DIMENSIONLESS
            raise ModelDefinitionError(f"cannot find the unit of {node!r:.60}")

        return fold(node, combine)

    def _declared(self, name: str) -> str:
        return self.writer.declared_units[name]  # Model checked that every name read is declared


# -- small pieces ----------------------------------------------------------------------


def _first_known(*units: Any) -> Any | None:
    """The first unit that is not None (operands that must share a unit lend it to numbers)."""
    return next((u for u in units if u is not None), None)


def _apply(kind: str, children: Sequence[Any]) -> Any:
    node = libsbml.ASTNode(getattr(libsbml, kind))
    for child in children:
        node.addChild(child)
    return node


def _number(value: float, unit_id: str, integer: bool = False) -> Any:
    node = libsbml.ASTNode(libsbml.AST_INTEGER if integer else libsbml.AST_REAL)
    node.setValue(int(value) if integer else value)
    if not integer:
        node.setUnits(unit_id)
    return node


def _time_node() -> Any:
    node = libsbml.ASTNode(libsbml.AST_NAME_TIME)
    node.setName("time")
    return node


def _signed_sum(terms: Sequence[tuple[int, str]]) -> Any:
    """``+a + b - c`` as an AST (names only)."""
    def name(n: str) -> Any:
        node = libsbml.ASTNode(libsbml.AST_NAME)
        node.setName(n)
        return node

    sign, first = terms[0]
    total = name(first) if sign > 0 else _apply("AST_MINUS", [name(first)])
    for sign, n in terms[1:]:
        total = _apply("AST_PLUS" if sign > 0 else "AST_MINUS", [total, name(n)])
    return total


def _constant_value(node: Node) -> float | None:
    """The value of a numbers-only subexpression (an exponent), folded from its tree, else None."""
    if any(isinstance(n, Sym) for n in walk(node)):
        return None
    return float(evaluate(node))


def _unit(definition: Any, kind: str, exponent: float, multiplier: float) -> None:
    unit = definition.createUnit()
    unit.setKind(libsbml.UnitKind_forName(kind))
    unit.setExponent(exponent)
    unit.setScale(0)
    unit.setMultiplier(multiplier)


def _sbml_kind(pint_name: str) -> tuple[str, float]:
    """(SBML base unit kind, multiplier) for one pint unit: day -> (second, 86400)."""
    q = parse_unit(pint_name)
    for kind, name in _SBML_KINDS:
        if pint_name == name:
            return kind, 1.0
    for kind, name in _SBML_KINDS:
        if q.dimensionality == parse_unit(name).dimensionality:
            return kind, float(q.to(name).magnitude)
    raise ModelDefinitionError(f"unit {pint_name!r} has no SBML base unit of its dimension")


def _unit_name(quantity: Any) -> str:
    """A readable SBML unit id: ``g_per_L``, ``L_per_g_per_day``, ``x1e9_per_L``."""
    registry = quantity._REGISTRY

    def symbol(name: str) -> str:
        text = {"day": "day", "liter": "L"}.get(name) or registry.get_symbol(name)
        return text

    def power(name: str, exponent: float) -> str:
        return symbol(name) if exponent == 1 else f"{symbol(name)}_pow_{exponent:g}"

    items = list(quantity.unit_items())
    numerator = [power(n, e) for n, e in items if e > 0]
    denominators = sorted((n for n, e in items if e < 0), key=lambda n: n == "day")
    text = "_".join(numerator) + "".join(f"_per_{power(n, -dict(items)[n])}" for n in denominators)
    scale = float(quantity.magnitude)
    if not math.isclose(scale, 1.0):
        mantissa, _, exponent = f"{scale:g}".partition("e")
        text = f"x{mantissa}" + (f"e{int(exponent)}" if exponent else "") + f"_{text}"
    text = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", text.replace(".", "p").replace("-", "m"))).strip("_")
    return text if re.match(r"[A-Za-z_]", text) else f"u_{text}"


def _sid(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_")
    return cleaned if re.match(r"[A-Za-z_]", cleaned) else f"_{cleaned}"


def _notes(lines: Sequence[str]) -> str:
    body = "".join(f"<p>{escape(line)}</p>" for line in lines if line)
    return f'<body xmlns="{XHTML_NS}">{body}</body>'


def _parameter_lines(p: Parameter, value: float) -> list[str]:
    changed = "" if value == p.value else f" (ivigsim default {p.value:g}; set by the scenario)"
    return [
        f"{p.name} = {value:g} {p.unit}{changed}",
        p.description,
        f"provenance: {p.provenance}",
        f"source: {p.source}",
    ]


def _parameter_annotation(p: Parameter, value: float) -> str:
    return (
        f'<ivigsim:parameter xmlns:ivigsim="{ANNOTATION_NS}" name={quoteattr(p.name)} '
        f"unit={quoteattr(p.unit)} provenance={quoteattr(p.provenance)} source={quoteattr(p.source)} "
        f'default="{p.value!r}" scenario_value="{value!r}"/>'
    )
