"""Property-based checks of compilation: exact amounts, contiguous windows, label limits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivigsim.dosing import Dose, InfusionSpec, Maintenance, Regimen, Titration, get_product
from ivigsim.errors import DosingError
from ivigsim.model.patient import Patient

G_PER_DAY_PER_KG_AT_1_MG_PER_KG_MIN = 1e-3 * 1440

doses = st.floats(min_value=0.05, max_value=3.0)
weights = st.floats(min_value=0.5, max_value=400.0)
days = st.floats(min_value=0.0, max_value=1000.0)
hours = st.floats(min_value=0.0, max_value=23.99)
products = st.sampled_from(["generic-10", "generic-5", "octagam-10", "privigen", "sucrose-5"])
indications = st.sampled_from([None, "itp", "gbs", "kawasaki", "cidp", "mg", "pid"])


@st.composite
def titrations(draw):
    start = draw(st.floats(min_value=0.1, max_value=4.0))
    return Titration(
        start_mg_per_kg_min=start,
        step_minutes=draw(st.floats(min_value=5.0, max_value=120.0)),
        max_mg_per_kg_min=draw(st.floats(min_value=start, max_value=14.0)),
        factor=draw(st.floats(min_value=1.2, max_value=4.0)),
    )


infusion_specs = st.one_of(
    st.none(),
    titrations().map(lambda t: InfusionSpec(titration=t)),
    st.floats(min_value=0.5, max_value=14.0).map(lambda r: InfusionSpec(rate_mg_per_kg_min=r)),
    st.floats(min_value=1.0, max_value=20.0).map(lambda h: InfusionSpec(duration_h=h)),
)


@settings(max_examples=300, deadline=None)
@given(doses, weights, days, hours, infusion_specs, products, indications, st.booleans())
def test_compilation_is_exact_and_respects_the_label(g_per_kg, weight, day, hour, spec, product_name, indication, allow):
    product = get_product(product_name)
    regimen = Regimen((Dose(day, g_per_kg, spec),), product, start_hour=hour, allow_above_label=allow)
    patient = Patient(weight_kg=weight)
    label_max = product.max_rate_for(indication)
    try:
        plan = regimen.compile(patient, indication)
    except DosingError as error:
        assert not allow
        assert error.got > label_max
        return
    (infusion,) = plan.infusions
    amount = g_per_kg * weight
    assert infusion.amount_g == pytest.approx(amount, rel=1e-15)
    assert sum(w.rate_g_per_day * (w.end_day - w.start_day) for w in infusion.windows) == pytest.approx(amount, rel=1e-12)
    assert plan.amount_infused_g_by(infusion.end_day) == pytest.approx(amount, rel=1e-12)
    assert infusion.windows[0].start_day == day + hour / 24
    for before, after in zip(infusion.windows[:-1], infusion.windows[1:]):
        assert before.end_day == after.start_day
    rates = [w.rate_g_per_day / (weight * G_PER_DAY_PER_KG_AT_1_MG_PER_KG_MIN) for w in infusion.windows]
    assert max(rates) == pytest.approx(infusion.max_rate_mg_per_kg_min, rel=1e-6)
    if not allow:
        assert max(rates) <= label_max * (1 + 1e-9)
    if spec is None or spec.titration is not None:
        assert rates == sorted(rates)  # titrations only go up


@settings(max_examples=100, deadline=None)
@given(doses, weights, st.integers(min_value=1, max_value=20), st.floats(min_value=7.0, max_value=60.0))
def test_maintenance_series_total(g_per_kg, weight, count, every):
    plan = Regimen((Maintenance(g_per_kg, every, 0.0, count=count),), get_product("generic-10")).compile(Patient(weight_kg=weight))
    assert len(plan.infusions) == count
    assert plan.total_g == pytest.approx(count * g_per_kg * weight, rel=1e-12)
    assert plan.amount_infused_g_by(plan.breakpoints[-1]) == pytest.approx(plan.total_g, rel=1e-12)
    assert [i.start_day for i in plan.infusions] == pytest.approx([k * every for k in range(count)], rel=1e-12, abs=1e-12)
