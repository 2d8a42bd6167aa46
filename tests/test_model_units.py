"""Dimensional analysis of model declarations (``ivigsim.model.units``).

The shipped modules must be consistent; deliberately broken toy modules must be
caught, each with the module, item, expected and got named. pint is the independent
reference for what a unit string means.
"""

from __future__ import annotations

import doctest

import pint
import pytest

from ivigsim.errors import ModelDefinitionError
from ivigsim.model.compose import Model
from ivigsim.model.declaration import Assignment, Flux, Input, Module, Parameter, State
from ivigsim.model.library import CORE_MODULES, core_model
from ivigsim.model.units import UnitProblem, check_units, parse_unit, validate_units


def _p(name: str, unit: str, value: float = 1.0) -> Parameter:
    return Parameter(name, value, unit, "assumption", "test", (0.0, 1e6))


def _module(parameters=(), states=(), inputs=(), assignments=(), fluxes=(), name="toy") -> Module:
    return Module(name, name, "a unit-test toy", parameters=tuple(parameters), states=tuple(states),
                  inputs=tuple(inputs), assignments=tuple(assignments), fluxes=tuple(fluxes))


#: A small consistent model: infusion into plasma, two-compartment exchange, first-order
#: loss, a concentration and a few guards modellers write.
BASE_PARAMETERS = (
    _p("volume_L", "L", 3.0),
    _p("clearance_L_per_day", "L/day"),
    _p("k_per_day", "1/day"),
    _p("dose_g_per_kg", "g/kg"),
    _p("weight_kg", "kg", 70.0),
    _p("reference_weight_kg", "kg", 70.0),
    _p("ec50_g_per_L", "g/L"),
    _p("hill", "dimensionless"),
    _p("cells_per_L", "10^9/L"),
)
BASE_STATES = (
    State("central_g", "g", "dose_g_per_kg * weight_kg"),
    State("tissue_g", "g", "0"),
    State("cells", "10^9/L", "cells_per_L"),
)


def _consistent(**extra) -> Module:
    fields = dict(
        parameters=BASE_PARAMETERS,
        states=BASE_STATES,
        inputs=(Input("infusion_g_per_day", "g/day"),),
        assignments=(
            Assignment("conc_g_per_L", "central_g / volume_L", "g/L"),
            Assignment("size", "(weight_kg / reference_weight_kg) ** 0.75", "dimensionless"),
            Assignment("effect", "(conc_g_per_L / ec50_g_per_L) ** hill / (1 + (conc_g_per_L / ec50_g_per_L) ** hill)",
                       "dimensionless"),
            Assignment("guarded", "central_g / volume_L / max(ec50_g_per_L, 1e-30)", "dimensionless"),
            Assignment("decay", "exp(-k_per_day * t) * (1 - effect) + log(conc_g_per_L / ec50_g_per_L)",
                       "dimensionless"),
            Assignment("rms_g_per_L", "sqrt(conc_g_per_L ** 2 + abs(-ec50_g_per_L) ** 2)", "g/L"),
            Assignment("bounded_g_per_L", "min(conc_g_per_L, ec50_g_per_L, 5)", "g/L"),
        ),
        fluxes=(
            Flux("infusion", "infusion_g_per_day", None, "central_g"),
            Flux("out", "clearance_L_per_day * size * conc_g_per_L", "central_g", "tissue_g"),
            Flux("back", "k_per_day * tissue_g", "tissue_g", "central_g"),
            Flux("loss", "k_per_day * central_g * effect", "central_g", None),
            Flux("cell_turnover", "k_per_day * (cells_per_L - cells)", None, "cells"),
        ),
    )
    fields.update(extra)
    return _module(**fields)


def _problems(**extra) -> list[UnitProblem]:
    return check_units(Model((_consistent(**extra),)))


def _replace(items, name, new):
    return tuple(new if i.name == name else i for i in items)


def _only(problems: list[UnitProblem]) -> UnitProblem:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


# -- the shipped model --------------------------------------------------------------------


def test_core_model_has_no_unit_problems():
    problems = check_units(core_model())
    assert problems == [], "\n".join(map(str, problems))


@pytest.mark.parametrize("module", CORE_MODULES, ids=lambda m: m.name)
def test_each_core_module_is_consistent(module: Module):
    """The contract for every (future) module: its own items have no unit problems."""
    problems = [p for p in check_units(core_model()) if p.module == module.name]
    assert problems == [], "\n".join(map(str, problems))


# -- the checker on a consistent toy: no false alarms ----------------------------------------


def test_consistent_toy_has_no_problems():
    assert _problems() == []
    validate_units(Model((_consistent(),)))


# -- deliberately broken toys are caught -----------------------------------------------------


def test_flux_in_concentration_instead_of_amount_per_day():
    fluxes = _replace(_consistent().fluxes, "loss", Flux("loss", "k_per_day * conc_g_per_L", "central_g", None))
    problem = _only(_problems(fluxes=fluxes))
    assert (problem.module, problem.kind, problem.item) == ("toy", "flux", "loss")
    assert problem.expected == "g/day"
    assert problem.got.startswith("g/L/day")


def test_flux_without_per_day():
    fluxes = _replace(_consistent().fluxes, "back", Flux("back", "tissue_g", "tissue_g", "central_g"))
    problem = _only(_problems(fluxes=fluxes))
    assert problem.item == "back" and problem.expected == "g/day" and problem.got.startswith("g (")


def test_production_flux_is_per_target_unit():
    fluxes = _replace(_consistent().fluxes, "infusion", Flux("infusion", "dose_g_per_kg", None, "central_g"))
    problem = _only(_problems(fluxes=fluxes))
    assert problem.item == "infusion" and problem.expected == "g/day" and "g/kg" in problem.got


def test_assignment_declared_litres_but_computing_concentration():
    assignments = (*_consistent().assignments, Assignment("v_L", "central_g / volume_L", "L"))
    problem = _only(_problems(assignments=assignments))
    assert (problem.kind, problem.item, problem.expected) == ("assignment", "v_L", "L")
    assert problem.got == "g/L ([mass] / [length] ** 3)"
    assert str(problem) == (
        "toy.v_L (assignment): wrong dimension; expected L, got g/L ([mass] / [length] ** 3)"
    )


def test_exp_of_a_dimensional_quantity():
    assignments = (*_consistent().assignments, Assignment("bad", "exp(-conc_g_per_L)", "dimensionless"))
    problem = _only(_problems(assignments=assignments))
    assert problem.item == "bad" and "exp" in problem.reason and problem.expected == "dimensionless"
    assert "g/L" in problem.got


def test_log_of_an_amount_and_exp_of_a_rate():
    assignments = (
        *_consistent().assignments,
        Assignment("bad_log", "log(central_g)", "dimensionless"),
        Assignment("bad_exp", "exp(-k_per_day)", "dimensionless"),
    )
    problems = _problems(assignments=assignments)
    assert [p.item for p in problems] == ["bad_log", "bad_exp"]


def test_adding_grams_to_litres():
    assignments = (*_consistent().assignments, Assignment("bad", "central_g + volume_L", "g"))
    problem = _only(_problems(assignments=assignments))
    assert problem.item == "bad" and "'+'" in problem.reason
    assert problem.got == "g ([mass]) and L ([length] ** 3)"


def test_subtracting_and_comparing_different_dimensions():
    assignments = (
        *_consistent().assignments,
        Assignment("bad_sub", "conc_g_per_L - k_per_day", "g/L"),
        Assignment("bad_max", "max(conc_g_per_L, central_g)", "g/L"),
    )
    assert [p.item for p in _problems(assignments=assignments)] == ["bad_sub", "bad_max"]


def test_flux_between_states_of_different_units():
    states = (*BASE_STATES, State("volume_state_L", "L", "volume_L"))
    fluxes = (*_consistent().fluxes, Flux("mix", "k_per_day * central_g", "central_g", "volume_state_L"))
    problem = _only(_problems(states=states, fluxes=fluxes))
    assert (problem.kind, problem.item) == ("flux", "mix")
    assert "different units" in problem.reason and problem.got == "L"


def test_flux_between_states_of_different_scale():
    states = (*BASE_STATES, State("tissue_mg", "mg", "0"))
    fluxes = (*_consistent().fluxes, Flux("mix", "k_per_day * central_g", "central_g", "tissue_mg"))
    problem = _only(_problems(states=states, fluxes=fluxes))
    assert problem.item == "mix" and "scale" in problem.reason


@pytest.mark.parametrize("bad_unit", ["g/LL", "", "g/", "cells", "degC", "0/L"])
def test_bad_unit_string(bad_unit: str):
    parameters = (*BASE_PARAMETERS, _p("odd", bad_unit))
    problem = _only(_problems(parameters=parameters))
    assert (problem.kind, problem.item, problem.got) == ("parameter", "odd", repr(bad_unit))
    with pytest.raises(ModelDefinitionError):
        parse_unit(bad_unit)


def test_bad_unit_is_reported_once_not_in_every_expression_reading_it():
    states = _replace(BASE_STATES, "central_g", State("central_g", "gramz", "dose_g_per_kg * weight_kg"))
    problem = _only(_problems(states=states))
    assert (problem.kind, problem.item) == ("state", "central_g")


def test_initial_value_in_the_wrong_unit():
    states = _replace(BASE_STATES, "tissue_g", State("tissue_g", "g", "volume_L * 2"))
    problem = _only(_problems(states=states))
    assert (problem.kind, problem.item, problem.expected) == ("initial", "tissue_g", "g")


def test_non_constant_exponent_needs_a_dimensionless_base():
    assignments = (*_consistent().assignments, Assignment("bad", "conc_g_per_L ** hill", "g/L"))
    problem = _only(_problems(assignments=assignments))
    assert problem.item == "bad" and "base" in problem.reason


def test_dimensional_exponent():
    assignments = (*_consistent().assignments, Assignment("bad", "hill ** k_per_day", "dimensionless"))
    problem = _only(_problems(assignments=assignments))
    assert problem.item == "bad" and "exponent" in problem.reason


def test_constant_exponents_and_sqrt_scale_the_dimension():
    assignments = (
        *_consistent().assignments,
        Assignment("area", "volume_L ** (2 / 3)", "L**(2/3)"),
        Assignment("side", "sqrt(sqrt(volume_L) ** 2)", "L**0.5"),
        Assignment("inverse", "volume_L ** -1", "1/L"),
    )
    assert _problems(assignments=assignments) == []
    wrong = (*_consistent().assignments, Assignment("side", "sqrt(volume_L)", "L"))
    assert _only(_problems(assignments=wrong)).got == "L**0.5 ([length] ** 1.5)"


def test_bare_number_as_a_reference_weight_is_flagged():
    """The literal-number rule: a number multiplies as a pure number (document: module docstring)."""
    assignments = _replace(_consistent().assignments, "size",
                           Assignment("size", "(weight_kg / 70) ** 0.75", "dimensionless"))
    problems = _problems(assignments=assignments)
    assert problems and problems[0].item == "size" and problems[0].got.startswith("kg**0.75")


def test_literal_in_a_sum_or_guard_takes_the_other_unit():
    assignments = (
        *_consistent().assignments,
        Assignment("shifted", "conc_g_per_L + 0", "g/L"),
        Assignment("floor", "max(1e-30, conc_g_per_L)", "g/L"),
        Assignment("constant", "2 * 3 - 1", "g/L"),  # only numbers: read in the declared unit
    )
    assert _problems(assignments=assignments) == []


def test_time_is_in_days():
    hourly = (*BASE_PARAMETERS, _p("k_per_hour", "1/hour"))
    decayed = (*_consistent().assignments, Assignment("decayed", "exp(-k_per_hour * t)", "dimensionless"))
    problem = _only(_problems(parameters=hourly, assignments=decayed))
    assert "scale" in problem.reason and "factor 24" in problem.reason
    days = (*_consistent().assignments, Assignment("elapsed", "t", "day"))
    assert _problems(assignments=days) == []


def test_scale_mismatch_in_a_flux():
    parameters = (*BASE_PARAMETERS, _p("k_per_hour", "1/hour"))
    fluxes = _replace(_consistent().fluxes, "back", Flux("back", "k_per_hour * tissue_g", "tissue_g", "central_g"))
    problem = _only(_problems(parameters=parameters, fluxes=fluxes))
    assert problem.item == "back" and "factor 24" in problem.reason


def test_scale_mismatch_in_a_sum():
    parameters = (*BASE_PARAMETERS, _p("extra_mL", "mL"))
    assignments = (*_consistent().assignments, Assignment("total_L", "volume_L + extra_mL", "L"))
    problem = _only(_problems(parameters=parameters, assignments=assignments))
    assert problem.item == "total_L" and "scale" in problem.reason


def test_calls_with_a_wrong_number_of_arguments():
    """Refused before any unit is looked at: the expression itself is malformed."""
    assignments = (*_consistent().assignments, Assignment("bad", "log(conc_g_per_L / ec50_g_per_L, 10)", "dimensionless"))
    with pytest.raises(ModelDefinitionError, match="log takes 1 argument"):
        _problems(assignments=assignments)


def test_validate_units_lists_every_problem():
    assignments = (
        *_consistent().assignments,
        Assignment("bad_a", "central_g", "L"),
        Assignment("bad_b", "exp(central_g)", "dimensionless"),
    )
    with pytest.raises(ModelDefinitionError) as err:
        validate_units(Model((_consistent(assignments=assignments),)))
    message = str(err.value)
    assert message.startswith("2 unit problem(s)")
    assert "toy.bad_a (assignment)" in message and "toy.bad_b (assignment)" in message


def test_problems_name_the_module_they_come_from():
    other = _module(parameters=(_p("w_L", "L"),), assignments=(Assignment("bad", "w_L * central_g", "g"),),
                    name="other")
    problems = check_units(Model((_consistent(), other)))
    assert [(p.module, p.item) for p in problems] == [("other", "bad")]


# -- parse_unit agrees with pint ---------------------------------------------------------------


@pytest.fixture(scope="module")
def pint_registry():
    return pint.UnitRegistry()  # a registry of its own: the reference, not the one under test


@pytest.mark.parametrize("text", ["dimensionless", "1/day", "g/kg/day", "L/day", "g/L", "10^9/L", "kg",
                                  "L/kg", "g/day", "1", "mL"])
def test_parse_unit_agrees_with_pint(text: str, pint_registry):
    reference = pint_registry.Quantity(text)
    parsed = parse_unit(text)
    assert parsed.dimensionality == reference.dimensionality
    assert parsed.to(reference.units).magnitude == pytest.approx(reference.magnitude)


def test_module_docstring_example_runs():
    import ivigsim.model.units as units

    result = doctest.testmod(units, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
