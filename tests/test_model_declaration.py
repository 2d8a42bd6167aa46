"""The model-composition contract, and the validation of ``Model``.

Part 1 is one suite run over every module in ``CORE_MODULES`` (scikit-learn's
``check_estimator`` pattern, STYLE item 14): a mechanism or disease added to the
library gets these checks without writing a test. Each module is checked in the model
it ships in (a module reads its neighbours' names, so it cannot compile alone).

Part 2 checks that ``Model`` refuses inconsistent compositions with
``ModelDefinitionError`` and that parameter overrides are user input (``InputError``).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import get_args

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivigsim.errors import InputError, ModelDefinitionError
from ivigsim.model.compose import Model
from ivigsim.model.declaration import (
    Assignment,
    Flux,
    Input,
    Module,
    Parameter,
    Provenance,
    State,
)
from ivigsim.model.expressions import Expression
from ivigsim.model.library import CORE_MODULES, compiled_core_model, core_model
from ivigsim.model.units import parse_unit

MODULES = pytest.mark.parametrize("module", CORE_MODULES, ids=lambda m: m.name)

#: Steady state: |dy/dt| of every state within this fraction, per day, of the model's
#: largest state. Round-off of the balancing fluxes is ~1e-16 of them (~1e-15 g/day at
#: defaults against states of ~40 g), so 1e-12 leaves three decades of slack while a
#: real imbalance (a synthesis off by one part in a million) still fails.
STEADY_RTOL_PER_DAY = 1e-12

def _model_of(module: Module) -> Model:
    assert module in core_model().modules
    return core_model()


def _baseline(params: np.ndarray):
    core = compiled_core_model()
    c = core.constants(params)
    y = core.initial(params, c)
    u = np.zeros((len(core.model.input_names), params.shape[1]))
    return core, c, y, u, core.rhs(0.0, y, params, c, u)


def _is_concentration(unit: str) -> bool:
    """An amount per volume (g/L, 10^9/L, mol/L): must never be negative."""
    return dict(parse_unit(unit).dimensionality).get("[length]", 0) == -3


# -- Part 1: the contract every module meets -------------------------------------------


@MODULES
def test_parameters_are_documented(module: Module):
    assert module.symbols(), "a module that declares nothing"
    for p in module.parameters:
        parse_unit(p.unit)  # raises ModelDefinitionError on a unit pint cannot read
        assert p.source.strip(), p.name
        assert p.provenance in get_args(Provenance), (p.name, p.provenance)
        lo, hi = p.bounds
        assert not (math.isnan(lo) or math.isnan(hi)) and lo <= hi, (p.name, p.bounds)
        assert math.isfinite(p.value) and lo <= p.value <= hi, (p.name, p.value, p.bounds)


@MODULES
def test_every_declared_unit_parses(module: Module):
    for item in (*module.parameters, *module.states, *module.inputs, *module.assignments):
        parse_unit(item.unit)


@MODULES
def test_switch_is_a_strength_with_off_at_zero(module: Module):
    if module.switch is None:
        pytest.skip("not a switchable mechanism")
    p = next(p for p in module.parameters if p.name == module.switch)
    assert p.unit == "dimensionless" and p.bounds[0] == 0.0 and p.value == 1.0


@MODULES
def test_names_are_unique_across_modules(module: Module):
    own = Counter(module.symbols())
    assert [n for n, k in own.items() if k > 1] == []
    others = {n for m in CORE_MODULES if m is not module for n in m.symbols()}
    assert set(own) & others == set()
    flux_names = Counter(f.name for m in CORE_MODULES for f in m.fluxes)
    assert [f.name for f in module.fluxes if flux_names[f.name] > 1] == []


@MODULES
def test_every_state_has_an_initial_value(module: Module):
    for s in module.states:
        assert s.initial.strip(), s.name
        Expression(s.initial)


@MODULES
def test_fluxes_connect_declared_states(module: Module):
    states = set(_model_of(module).state_names)
    for f in module.fluxes:
        assert {f.source, f.target} - {None} <= states, f.name
        assert f.source != f.target, f.name


def test_core_model_compiles():
    core = core_model().compile()
    for name in ("def constants(", "def initial(", "def rhs(", "def observe("):
        assert name in core.source
    assert core.n_states == len(core_model().states)
    assert callable(core.rhs) and callable(core.observe)


@MODULES
def test_baseline_is_a_steady_state(module: Module):
    model = _model_of(module)
    core, c, y, u, dy = _baseline(model.parameter_array())
    scale = np.abs(y).max(axis=0)
    assert np.all(scale > 0)
    for i, name in enumerate(model.state_names):
        if name in {s.name for s in module.states}:
            assert np.all(np.abs(dy[i]) <= STEADY_RTOL_PER_DAY * scale), (name, dy[i], scale)


@MODULES
def test_outputs_are_finite_and_non_negative_at_baseline(module: Module):
    model = _model_of(module)
    p = model.parameter_array()
    core, c, y, u, _ = _baseline(p)
    out = core.observe(0.0, y, p, c, u)
    assert set(out) == set(model.output_names)
    for a in module.assignments:
        if a.output:
            assert np.all(np.isfinite(out[a.name])) and np.all(out[a.name] >= 0), (a.name, out[a.name])


# -- property-based: random patients within the declared bounds -------------------------


def _finite_range(p: Parameter) -> tuple[float, float]:
    """The bounds, with infinite ends clipped to three decades around the default."""
    lo, hi = p.bounds
    scale = max(abs(p.value), 1.0)
    hi = hi if math.isfinite(hi) else max(scale * 1e3, lo + scale)
    lo = lo if math.isfinite(lo) else min(-scale * 1e3, hi - scale)
    return lo, hi


def _strategy(p: Parameter) -> st.SearchStrategy[float]:
    lo, hi = _finite_range(p)
    if lo == hi:
        return st.just(lo)
    if lo > 0 and hi / lo >= 100:  # spans decades: sample the exponent
        return st.floats(math.log10(lo), math.log10(hi)).map(lambda e: min(max(10.0**e, lo), hi))
    return st.floats(lo, hi)


def _draws() -> st.SearchStrategy[dict[str, float]]:
    return st.fixed_dictionaries({p.name: _strategy(p) for p in core_model().parameters})


def test_finite_range_clips_infinite_bounds():
    p = Parameter("k", 2.0, "1/day", "assumption", "test", (0.0, math.inf))
    assert _finite_range(p) == (0.0, 2000.0)
    q = Parameter("d", -1.0, "1/day", "assumption", "test", (-math.inf, math.inf))
    assert _finite_range(q) == (-1000.0, 1000.0)


@MODULES
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(draw=_draws())
def test_random_patients_have_a_finite_non_negative_baseline(module: Module, draw: dict[str, float]):
    model = _model_of(module)
    p = model.parameter_array(draw)
    core, c, y, u, dy = _baseline(p)
    own = {s.name for s in module.states}
    for i, s in enumerate(model.states):
        if s.name in own:
            assert np.all(np.isfinite(y[i])), (s.name, draw)
            assert np.all(y[i] >= 0), (s.name, y[i], draw)
            assert np.all(np.isfinite(dy[i])), (s.name, draw)
    out = core.observe(0.0, y, p, c, u)
    for a in module.assignments:
        if a.output:
            assert np.all(np.isfinite(out[a.name])), (a.name, draw)
            if _is_concentration(a.unit):
                assert np.all(out[a.name] >= 0), (a.name, out[a.name], draw)


def test_autoantibody_above_total_igg_is_refused():
    model = core_model()
    draw = {"baseline_igg_g_per_L": 2.0, "autoantibody_baseline_g_per_L": 4.0}
    try:
        p = model.parameter_array(draw)
    except InputError:
        return
    _, _, y, _, _ = _baseline(p)
    assert np.all(y >= 0)


# -- Part 2: Model refuses inconsistent compositions ------------------------------------


def _p(name: str, value: float = 1.0, unit: str = "1/day", bounds=(0.0, 10.0)) -> Parameter:
    return Parameter(name, value, unit, "assumption", "test", bounds)


def _toy(**kw) -> Module:
    fields = dict(
        parameters=(_p("k"),),
        states=(State("x_g", "g", "1"),),
        fluxes=(Flux("decay", "k * x_g", "x_g", None),),
    )
    name = kw.pop("name", "toy")
    fields.update(kw)
    return Module(name, name, "a one-state toy", **fields)


def test_the_toy_is_valid_and_decays():
    core = Model((_toy(),)).compile()
    p = core.model.parameter_array({"k": np.array([0.5, 2.0])}, n=2)
    c = core.constants(p)
    y = core.initial(p, c)
    np.testing.assert_allclose(core.rhs(0.0, y, p, c, np.zeros((0, 2))), [[-0.5, -2.0]])


def test_duplicate_names_across_modules():
    other = Module("other", "other", "", parameters=(_p("k"),))
    with pytest.raises(ModelDefinitionError, match="'k'.*toy.*other"):
        Model((_toy(), other))


def test_time_symbol_is_reserved():
    with pytest.raises(ModelDefinitionError, match="reserved"):
        Model((_toy(parameters=(_p("k"), _p("t"))),))


def test_expression_reading_an_undefined_name():
    with pytest.raises(ModelDefinitionError, match="undefined.*'nope'"):
        Model((_toy(fluxes=(Flux("decay", "k * nope", "x_g", None),)),))
    with pytest.raises(ModelDefinitionError, match="undefined"):
        Model((_toy(assignments=(Assignment("a", "nope * 2", "1/day"),)),))


def test_cycle_between_assignments():
    cyclic = (Assignment("a", "b * k", "1/day"), Assignment("b", "a / k", "dimensionless"))
    with pytest.raises(ModelDefinitionError, match="cycle"):
        Model((_toy(assignments=cyclic),))


def test_initial_value_reading_a_state():
    with pytest.raises(ModelDefinitionError, match="non-constant"):
        Model((_toy(states=(State("x_g", "g", "1"), State("z_g", "g", "x_g"))),))


def test_flux_to_an_unknown_state():
    with pytest.raises(ModelDefinitionError, match="unknown state 'nowhere'"):
        Model((_toy(fluxes=(Flux("decay", "k * x_g", "x_g", "nowhere"),)),))


def test_flux_needs_an_end():
    with pytest.raises(ModelDefinitionError, match="source or a target"):
        Flux("f", "1", None, None)


def test_switch_naming_no_parameter():
    with pytest.raises(ModelDefinitionError, match="switch 'k_strength'"):
        _toy(switch="k_strength")


def test_parameter_default_outside_bounds_or_without_source():
    with pytest.raises(ModelDefinitionError, match="outside its bounds"):
        _p("k", 11.0)
    with pytest.raises(ModelDefinitionError, match="source"):
        Parameter("k", 1.0, "1/day", "assumption", "")


def test_the_logit_scale_is_only_for_shares_bounded_by_0_and_1():
    share = Parameter("s", 0.5, "dimensionless", "assumption", "illustration", (0.0, 1.0), variability_scale="logit")
    assert share.variability_scale == "logit"
    for bounds in ((0.0, 0.9), (0.1, 1.0), (0.0, math.inf)):
        with pytest.raises(ModelDefinitionError, match="shares bounded"):
            Parameter("s", 0.5, "dimensionless", "assumption", "illustration", bounds, variability_scale="logit")
    with pytest.raises(ModelDefinitionError, match="variability_scale"):
        Parameter("s", 0.5, "dimensionless", "assumption", "illustration", (0.0, 1.0), variability_scale="probit")


DISALLOWED = ["__import__('os')", "x_g.real", "'text'", "lambda: 1", "x_g[0]", "x_g if k else 1",
              "x_g > k", "True", "1j", "(k, x_g)", "np.exp(k)", "exp(k=1)", "exp()"]


@pytest.mark.parametrize("text", DISALLOWED)
@pytest.mark.parametrize("where", ["flux", "assignment", "initial"])
def test_disallowed_expressions(text: str, where: str):
    if where == "flux":
        module = _toy(fluxes=(Flux("decay", text, "x_g", None),))
    elif where == "assignment":
        module = _toy(assignments=(Assignment("a", text, "dimensionless"),))
    else:
        module = _toy(states=(State("x_g", "g", text),))
    with pytest.raises(ModelDefinitionError):
        Model((module,))


# Composition mistakes that once slipped through (arity, flux names, reserved names).


@pytest.mark.parametrize("text", ["log(x_g, 10)", "exp(k, x_g)", "sqrt(x_g, k)", "abs(x_g, k)", "min(x_g)"])
def test_calls_with_the_wrong_number_of_arguments_are_refused(text: str):
    with pytest.raises(ModelDefinitionError):
        Model((_toy(fluxes=(Flux("decay", text, "x_g", None),)),))


def test_duplicate_flux_names_are_refused():
    fluxes = (Flux("decay", "k * x_g", "x_g", None), Flux("decay", "0 * z_g", "z_g", None))
    with pytest.raises(ModelDefinitionError):
        Model((_toy(states=(State("x_g", "g", "1"), State("z_g", "g", "1")), fluxes=fluxes),))


@pytest.mark.parametrize("name", ["p", "y", "np", "dy"])
def test_names_of_the_generated_code_are_reserved(name: str):
    with pytest.raises(ModelDefinitionError):
        Model((_toy(parameters=(_p(name), _p("k"))),))


# -- parameters as user input ------------------------------------------------------------


def test_parameter_array_defaults_and_overrides():
    model = core_model()
    p = model.parameter_array(n=3)
    assert p.shape == (len(model.parameters), 3)
    np.testing.assert_array_equal(p[:, 0], [q.value for q in model.parameters])
    i = model.parameter_names.index("body_weight_kg")
    p = model.parameter_array({"body_weight_kg": np.array([20.0, 70.0, 120.0])}, n=3)
    np.testing.assert_array_equal(p[i], [20.0, 70.0, 120.0])


def test_parameter_array_refuses_an_unknown_name():
    with pytest.raises(InputError) as err:
        core_model().parameter_array({"body_weight_lb": 150.0})
    assert err.value.field == "parameters" and err.value.got == "body_weight_lb"
    assert "body_weight_lb" in str(err.value)


@pytest.mark.parametrize("value", [1000.0, -1.0, float("nan"), np.array([70.0, 0.1])])
def test_parameter_array_refuses_values_outside_bounds(value):
    with pytest.raises(InputError) as err:
        core_model().parameter_array({"body_weight_kg": value}, n=2)
    assert err.value.field == "parameters.body_weight_kg"
    assert "kg" in err.value.expected
    bad = np.atleast_1d(value)[-1]
    assert err.value.got == pytest.approx(bad, nan_ok=True)


def test_switch_overrides():
    model = core_model()
    assert model.switch_overrides({"fcrn_saturation": False}) == {"fcrn_saturation_strength": 0.0}
    assert model.switch_overrides({"fcrn_saturation": True}) == {"fcrn_saturation_strength": 1.0}
    p = model.parameter_array(model.switch_overrides({"fcrn_saturation": False}))
    assert p[model.parameter_names.index("fcrn_saturation_strength"), 0] == 0.0
    with pytest.raises(InputError) as err:
        model.switch_overrides({"complement_inhibition": False})
    assert err.value.field == "mechanisms" and "fcrn_saturation" in err.value.expected
    with pytest.raises(InputError, match="mechanisms.fcrn_saturation"):
        model.switch_overrides({"fcrn_saturation": -1.0})


def test_module_and_parameter_lookup():
    model = core_model()
    assert model.module("igg").name == "igg"
    assert model.parameter("fcrn_km_g_per_L").unit == "g/L"
    with pytest.raises(InputError):
        model.module("nope")
    with pytest.raises(InputError):
        model.parameter("nope")


def test_inputs_are_declared_once():
    names = [i.name for i in core_model().inputs]
    assert len(names) == len(set(names)) and "ivig_infusion_g_per_day" in names
    assert isinstance(core_model().inputs[0], Input)
