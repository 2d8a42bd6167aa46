"""SBML export: valid L3V2 with units, and libRoadRunner reproduces ivigsim's trajectories.

Two independent checks stand behind the export:

- every expression is read back from the written XML and evaluated by a small evaluator
  of libSBML's math tree written here, against Python's own evaluation of the expression
  text (the model's expression language is a subset of Python);
- libRoadRunner (CVODE, another integrator in another language) simulates the exported
  file and must reproduce every state and output of ivigsim's own solver at daily points
  within rtol 1e-5, both at tight tolerances, for the shipped regimens and examples,
  every disease, and each mechanism switched off in turn.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import libsbml
import numpy as np
import pytest
import roadrunner
from typer.testing import CliRunner

from ivigsim.cli import app
from ivigsim.dosing import STANDARD_REGIMENS, Dose, InfusionSpec, Regimen, get_product
from ivigsim.engine.solver import Dopri5
from ivigsim.errors import ModelDefinitionError
from ivigsim.io.sbml import export_sbml, write_sbml
from ivigsim.io.scenario_file import load_scenario
from ivigsim.model.compose import Model
from ivigsim.model.declaration import Assignment, Flux, Input, Module, Parameter, State
from ivigsim.model.library import DISEASES, MECHANISMS, compiled_model
from ivigsim.model.units import check_units
from ivigsim.scenario import Scenario
from ivigsim.simulation import simulate

ROOT = Path(__file__).resolve().parents[1]
#: Every scenario example, the comparator-only ones (examples/comparators: nipocalimab's target-mediated
#: disposition, written with max, abs and sqrt) included.
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml")) + sorted((ROOT / "examples" / "comparators").glob("*.yaml"))
#: The comparator-only examples' round trips take 5-8 s each (libRoadRunner compiling a larger model): slow.
#: The comparator examples and those of 2 s or more (the README run stays under 5 minutes): in CI.
_SLOW_EXAMPLES = {p for p in EXAMPLES if p.parent.name == "comparators"
                  or p.stem in ("gbs-plasma-exchange", "cidp-maintenance", "safety-cidp-at-risk", "kawasaki-child")}
TIGHT = Dopri5(rtol=1e-10, atol=1e-12)
#: Agreement demanded of two solvers each run at rtol 1e-10: 1e-5 leaves room for
#: the 15 significant digits libSBML writes numbers with and for event location.
RTOL = 1e-5
#: Quantities that are 0 before the first dose are compared relative to their peak.
ATOL_OF_PEAK = 1e-9


# -- helpers ---------------------------------------------------------------------------


def _roadrunner(xml: str) -> roadrunner.RoadRunner:
    rr = roadrunner.RoadRunner(xml)
    rr.integrator.relative_tolerance = 1e-10
    rr.integrator.absolute_tolerance = 1e-12
    rr.integrator.maximum_num_steps = 100_000
    return rr


def _assert_roadrunner_reproduces(scenario: Scenario, model=None) -> None:
    """Every state and output of ivigsim's ``simulate`` at its daily points, from the SBML file."""
    scenario = dataclasses.replace(scenario, solver=TIGHT)
    model = model or compiled_model(scenario.disease)
    ds = simulate(scenario, model)
    assert int(ds["solver_status"][0]) == 0
    names = [*model.model.state_names, *model.model.output_names]
    rr = _roadrunner(export_sbml(scenario, model))
    result = rr.simulate(times=ds.time.values, selections=["time", *names])
    np.testing.assert_array_equal(result[:, 0], ds.time.values)
    for column, name in enumerate(names, start=1):
        expected = ds[name].values[0]
        np.testing.assert_allclose(
            result[:, column], expected, rtol=RTOL, atol=ATOL_OF_PEAK * np.abs(expected).max() + 1e-300,
            err_msg=f"{name} differs between libRoadRunner and ivigsim ({scenario.name})",
        )


def _span(scenario: Scenario) -> float:
    """Days covering every infusion plus four weeks of wash-out."""
    plan = scenario.regimen.compile(scenario.patient, scenario.indication)
    return float(math.ceil(max(i.end_day for i in plan.infusions)) + 28)


def _evaluate(node: libsbml.ASTNode, values: dict[str, float]) -> float:
    """libSBML's math tree, evaluated directly (the types the exporter may write)."""
    kind = node.getType()
    args = [_evaluate(node.getChild(i), values) for i in range(node.getNumChildren())]
    if kind in (libsbml.AST_REAL, libsbml.AST_INTEGER, libsbml.AST_REAL_E, libsbml.AST_RATIONAL):
        return node.getValue()
    if kind == libsbml.AST_NAME:
        return values[node.getName()]
    if kind == libsbml.AST_NAME_TIME:
        return values["t"]
    if kind == libsbml.AST_PLUS:
        return sum(args)
    if kind == libsbml.AST_MINUS:
        return -args[0] if len(args) == 1 else args[0] - args[1]
    if kind == libsbml.AST_TIMES:
        return math.prod(args)
    if kind == libsbml.AST_DIVIDE:
        return args[0] / args[1]
    if kind in (libsbml.AST_POWER, libsbml.AST_FUNCTION_POWER):
        return args[0] ** args[1]
    if kind == libsbml.AST_FUNCTION_ROOT:
        return args[1] ** (1 / args[0])
    one_argument = {libsbml.AST_FUNCTION_EXP: math.exp, libsbml.AST_FUNCTION_LN: math.log,
                    libsbml.AST_FUNCTION_ABS: abs}
    if kind in one_argument:
        return one_argument[kind](*args)
    if kind == libsbml.AST_FUNCTION_MIN:
        return min(args)
    if kind == libsbml.AST_FUNCTION_MAX:
        return max(args)
    raise AssertionError(f"unexpected SBML math node {node.getName() or kind}")


def _text(node: libsbml.XMLNode) -> str:
    """The character content of an XML tree (notes), entities decoded."""
    own = node.getCharacters() if node.isText() else ""
    return own + "".join(_text(node.getChild(i)) for i in range(node.getNumChildren()))


PYTHON_FUNCTIONS = {"exp": math.exp, "log": math.log, "sqrt": math.sqrt, "abs": abs, "min": min, "max": max}


def _math_of_every_expression(sbml: libsbml.Model, model: Model) -> dict[str, tuple[str, libsbml.ASTNode]]:
    """Expression text -> its math as read back from the XML, for every equation of ``model``."""
    found = {}
    for a in model.assignments:
        rule = sbml.getAssignmentRuleByVariable(a.name) or sbml.getInitialAssignmentBySymbol(a.name)
        found[f"assignment {a.name}"] = (a.expression, rule.getMath())
    for s in model.states:
        found[f"initial {s.name}"] = (s.initial, sbml.getInitialAssignmentBySymbol(s.name).getMath())
    for f in model.fluxes:
        reaction = sbml.getReaction(f.name)
        math_ = reaction.getKineticLaw().getMath() if reaction else sbml.getAssignmentRuleByVariable(f.name).getMath()
        found[f"flux {f.name}"] = (f.expression, math_)
    return found


# -- a toy model that uses every function of the expression language -------------------

TOY = Module(
    name="toy",
    title="every function",
    description="exercise every construct of the expression language",
    parameters=(
        Parameter("body_weight_kg", 70.0, "kg", "covariate", "test"),
        Parameter("k_per_day", 0.3, "1/day", "assumption", "test"),
        Parameter("ref_g", 2.0, "g", "assumption", "test"),
        Parameter("tau_day", 5.0, "day", "assumption", "test"),
        Parameter("volume_L", 3.0, "L", "assumption", "test"),
    ),
    states=(State("x_g", "g", "ref_g * 0.5"), State("level", "dimensionless", "1")),
    inputs=(Input("ivig_infusion_g_per_day", "g/day"),),
    assignments=(
        Assignment("conc", "x_g / ref_g", "dimensionless", output=True),
        Assignment("wave", "1 + 0.5 * sqrt(abs(log(1 + conc))) * exp(-t / tau_day)", "dimensionless", output=True),
        Assignment("capped", "min(conc, 2, max(wave, 0.5))", "dimensionless", output=True),
        Assignment("curved", "conc ** 1.5 + (conc / (1 + conc)) ** (1 / 2) + -conc + +2", "dimensionless", output=True),
        Assignment("guarded_g", "max(x_g, 1e-30) - min(x_g, 0)", "g", output=True),
        Assignment("igg_total_g_per_L", "x_g / volume_L", "g/L", output=True),  # simulate() reports it
    ),
    fluxes=(
        Flux("dose", "ivig_infusion_g_per_day", None, "x_g"),
        Flux("loss", "k_per_day * guarded_g * capped / (1 + curved)", "x_g", None),
        Flux("level_gain", "k_per_day * wave", None, "level"),
        Flux("level_loss", "k_per_day * level * (2 - min(conc, 1)) ** 2 / 4", "level", None),
    ),
)


def test_toy_model_is_unit_consistent_for_ivigsim_too():
    assert check_units(Model((TOY,))) == []


def test_every_function_of_the_expression_language_reproduced_by_roadrunner():
    """log is ln, t is time, min/max take 3 arguments, ** and unary +/- survive; an infusion at t = 0 fires."""
    toy = Model((TOY,)).compile()
    regimen = Regimen((Dose(0.0, 0.1, InfusionSpec(duration_h=2.0)),), get_product("generic-10"))
    scenario = Scenario(regimen=regimen, days=10.0, output_every_days=0.25, name="toy")
    _assert_roadrunner_reproduces(scenario, toy)
    rr = _roadrunner(export_sbml(scenario, toy))
    rates = rr.simulate(times=[0.0, 0.01, 0.2], selections=["ivig_infusion_g_per_day"])[:, 0]
    np.testing.assert_allclose(rates[1:], [7.0 / (2.0 / 24.0), 0.0])


# -- validity, units, annotations --------------------------------------------------------


@pytest.fixture(scope="module")
def gbs_document() -> libsbml.SBMLDocument:
    standard = STANDARD_REGIMENS["gbs"]
    scenario = Scenario(regimen=standard.regimen, indication=standard.indication, name="gbs",
                        parameters={"fcrn_km_g_per_L": 50.0}, mechanisms={"anti_idiotype": False})
    document = libsbml.readSBMLFromString(export_sbml(scenario))
    assert document.getNumErrors() == 0
    return document


def test_document_is_l3v2_and_passes_every_libsbml_check(gbs_document):
    assert (gbs_document.getLevel(), gbs_document.getVersion()) == (3, 2)
    gbs_document.setConsistencyChecks(libsbml.LIBSBML_CAT_UNITS_CONSISTENCY, True)
    assert gbs_document.checkConsistency() == 0


def test_structure_follows_the_mapping(gbs_document):
    sbml, model = gbs_document.getModel(), compiled_model(None).model
    grams = [s.name for s in model.states if s.unit == "g"]
    assert sorted(sbml.getSpecies(i).getId() for i in range(sbml.getNumSpecies())) == sorted(grams)
    for i in range(sbml.getNumSpecies()):
        species = sbml.getSpecies(i)
        assert species.getHasOnlySubstanceUnits() and species.getCompartment() == "body"
    reactions = [f.name for f in model.fluxes if (f.source or f.target) in grams]
    assert sorted(sbml.getReaction(i).getId() for i in range(sbml.getNumReactions())) == sorted(reactions)
    assert all(not sbml.getReaction(i).getReversible() for i in range(sbml.getNumReactions()))
    others = [s.name for s in model.states if s.unit != "g"]
    assert sorted(sbml.getRule(i).getVariable() for i in range(sbml.getNumRules()) if sbml.getRule(i).isRate()) == sorted(others)
    for name in model.constant_names:
        assert sbml.getParameter(name).getConstant() and sbml.getInitialAssignmentBySymbol(name)
    plan = STANDARD_REGIMENS["gbs"].compile(Scenario().patient)
    assert sbml.getNumEvents() == len(plan.breakpoints)
    for i in range(sbml.getNumEvents()):
        event = sbml.getEvent(i)
        trigger = event.getTrigger()
        assert event.getUseValuesFromTriggerTime() and trigger.getPersistent() and not trigger.getInitialValue()


def test_parameters_carry_scenario_values_units_and_sources(gbs_document):
    sbml, model = gbs_document.getModel(), compiled_model(None).model
    assert sbml.getParameter("fcrn_km_g_per_L").getValue() == 50.0
    assert sbml.getParameter("anti_idiotype_strength").getValue() == 0.0
    assert sbml.getParameter("body_weight_kg").getValue() == 70.0
    for p in model.parameters:
        parameter = sbml.getParameter(p.name)
        assert parameter.getUnits(), p.name
        notes = _text(parameter.getNotes())
        assert f"provenance: {p.provenance}" in notes and f"source: {p.source}" in notes
        annotation = parameter.getAnnotation().getChild(0)
        assert annotation.getAttrValue("provenance") == p.provenance
        assert annotation.getAttrValue("source") == p.source
        assert float(annotation.getAttrValue("default")) == p.value


def test_units_are_defined_from_the_declared_unit_strings(gbs_document):
    sbml = gbs_document.getModel()
    assert sbml.getTimeUnits() == "day" and sbml.getExtentUnits() == "g"

    def composition(unit_id):
        definition = sbml.getUnitDefinition(unit_id)
        units = [definition.getUnit(i) for i in range(definition.getNumUnits())]
        return sorted((libsbml.UnitKind_toString(u.getKind()), u.getExponent(), u.getMultiplier() * 10 ** u.getScale())
                      for u in units)

    assert composition("day") == [("second", 1.0, 86400.0)]
    assert composition(sbml.getParameter("anti_idiotype_binding_L_per_g_day").getUnits()) == [
        ("gram", -1.0, 1.0), ("litre", 1.0, 1.0), ("second", -1.0, 86400.0)]
    assert composition(sbml.getParameter("baseline_igg_g_per_L").getUnits()) == [("gram", 1.0, 1.0), ("litre", -1.0, 1.0)]
    assert sbml.getParameter("fcrn_igk").getUnits() == "dimensionless"


def test_a_unit_error_in_a_model_is_refused_by_the_exporter():
    leaky = dataclasses.replace(TOY, fluxes=(*TOY.fluxes, Flux("wrong", "x_g / tau_day * ref_g", "x_g", None)))
    with pytest.raises(ModelDefinitionError, match="10541"):
        export_sbml(Scenario(), Model((leaky,)).compile())


@pytest.mark.parametrize("disease", sorted(DISEASES))
def test_every_expression_round_trips_through_the_xml(disease):
    model = compiled_model(disease)
    sbml = libsbml.readSBMLFromString(export_sbml(Scenario(disease=disease), model)).getModel()
    rng = np.random.default_rng(7)
    values = {name: float(rng.uniform(0.5, 2.0)) for name in
              [*model.model.parameter_names, *model.model.state_names, *model.model.input_names,
               *(a.name for a in model.model.assignments), "t"]}
    expressions = _math_of_every_expression(sbml, model.model)
    assert len(expressions) == len(model.model.assignments) + len(model.model.states) + len(model.model.fluxes)
    for where, (text, math_) in expressions.items():
        expected = eval(text, {"__builtins__": {}, **PYTHON_FUNCTIONS}, values)  # noqa: S307 - model text
        assert _evaluate(math_, values) == pytest.approx(expected, rel=1e-14, abs=1e-300), where


# -- libRoadRunner reproduces ivigsim --------------------------------------------------


@pytest.mark.parametrize("name", sorted(STANDARD_REGIMENS))
@pytest.mark.slow  # 2 s or more (README run under 5 minutes): in CI and with --run-slow
def test_standard_regimens_reproduced_by_roadrunner(name):
    standard = STANDARD_REGIMENS[name]
    scenario = Scenario(regimen=standard.regimen, indication=standard.indication, name=name)
    _assert_roadrunner_reproduces(dataclasses.replace(scenario, days=_span(scenario)))


@pytest.mark.parametrize("mechanism", [m.name for m in MECHANISMS])
def test_each_mechanism_switched_off_reproduced_by_roadrunner(mechanism):
    standard = STANDARD_REGIMENS["itp"]
    scenario = Scenario(regimen=standard.regimen, indication=standard.indication, days=35.0,
                        mechanisms={mechanism: False}, name=f"{mechanism} off")
    _assert_roadrunner_reproduces(scenario)


def test_switching_a_mechanism_off_changes_the_exported_model():
    """So the knock-out tests above compare models that really differ."""
    standard = STANDARD_REGIMENS["itp"]
    base = Scenario(regimen=standard.regimen, indication=standard.indication, days=35.0)
    on = simulate(base)
    for m in MECHANISMS:
        off = simulate(dataclasses.replace(base, mechanisms={m.name: False}))
        changed = [n for n in on.data_vars if on[n].dims == ("patient", "time")
                   and not np.allclose(on[n].values, off[n].values, rtol=1e-3)]
        assert changed, m.name
        sbml = libsbml.readSBMLFromString(export_sbml(dataclasses.replace(base, mechanisms={m.name: False})))
        assert sbml.getModel().getParameter(m.switch).getValue() == 0.0


@pytest.mark.parametrize("disease", sorted(set(DISEASES) - {"none"}))
def test_every_disease_reproduced_by_roadrunner(disease):
    indication = DISEASES[disease].indication
    standard = STANDARD_REGIMENS.get(indication or "", STANDARD_REGIMENS["gbs"])
    _assert_roadrunner_reproduces(Scenario(disease=disease, regimen=standard.regimen, days=42.0, name=disease))


@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.slow) if p in _SLOW_EXAMPLES else p
                                  for p in EXAMPLES], ids=[p.stem for p in EXAMPLES])
def test_example_scenarios_reproduced_by_roadrunner(path):  # slow ones: in CI and with --run-slow
    _assert_roadrunner_reproduces(load_scenario(path))


# -- files and the command line ----------------------------------------------------------


def test_write_sbml_writes_what_export_returns(tmp_path):
    scenario = Scenario(regimen=STANDARD_REGIMENS["kawasaki"].regimen, indication="kawasaki")
    path = write_sbml(scenario, tmp_path / "out" / "model.xml")
    assert path.read_text(encoding="utf-8") == export_sbml(scenario)
    assert [p.name for p in path.parent.iterdir()] == ["model.xml"]  # no temporary file left


def test_cli_export_sbml(tmp_path):
    scenario = ROOT / "ivigsim" / "data" / "demo.yaml"
    out = tmp_path / "demo.xml"
    result = CliRunner().invoke(app, ["export-sbml", str(scenario), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert libsbml.readSBMLFromString(out.read_text()).getModel().getNumEvents() > 0
    printed = CliRunner().invoke(app, ["export-sbml", str(scenario)])
    assert printed.exit_code == 0 and printed.stdout == out.read_text()


def test_cli_export_sbml_bad_scenario_exits_2_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("patient: {weight_kg: -3}\n")
    out = tmp_path / "model.xml"
    result = CliRunner().invoke(app, ["export-sbml", str(bad), "-o", str(out)])
    assert result.exit_code == 2
    assert result.output.startswith("error: patient.weight_kg") and result.output.count("\n") == 1
    assert not out.exists()


def test_cli_export_sbml_unwritable_out_is_one_line(tmp_path):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    result = CliRunner().invoke(app, ["export-sbml", str(ROOT / "ivigsim" / "data" / "demo.yaml"), "-o", str(folder)])
    assert result.exit_code == 2 and result.output.startswith("error: --out:") and result.output.count("\n") == 1
    assert list(folder.iterdir()) == []
