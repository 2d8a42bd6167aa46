"""Dosing: hand calculations for weights, courses, titrations, label limits and errors."""

from __future__ import annotations

import dataclasses

import pytest
from scipy.integrate import quad

from ivigsim.dosing import (
    PRODUCTS,
    Course,
    Dose,
    InfusionSpec,
    Maintenance,
    Regimen,
    Titration,
    adjusted_body_weight_kg,
    dosing_weight_kg,
    get_product,
    ideal_body_weight_kg,
)
from ivigsim.errors import DosingError, InputError
from ivigsim.model.patient import Patient

GENERIC_10 = get_product("generic-10")
G_PER_DAY_PER_KG_AT_1_MG_PER_KG_MIN = 1e-3 * 1440  # 1 mg/kg/min = 1.44 g/day per kg of dosing weight


def plan_for(*parts, weight_kg=70.0, product=GENERIC_10, indication=None, **regimen_fields):
    regimen = Regimen(tuple(parts), product, **regimen_fields)
    return regimen.compile(Patient(weight_kg=weight_kg, height_cm=175.0), indication)


# --- dosing weight -------------------------------------------------------------------

MAN_180_IDEAL = 50 + 2.3 * (180 / 2.54 - 60)  # 74.992 kg by hand


def test_devine_ideal_weight_man_180_cm():
    assert ideal_body_weight_kg(Patient(weight_kg=80, height_cm=180, sex="male")) == pytest.approx(74.99212598, rel=1e-9)


def test_devine_ideal_weight_woman_165_cm():
    # 165 cm = 64.961 in: 45.5 + 2.3 x 4.961 = 56.909 kg
    assert ideal_body_weight_kg(Patient(weight_kg=60, height_cm=165, sex="female")) == pytest.approx(56.90944882, rel=1e-9)


def test_adjusted_weight_of_a_120_kg_man():
    patient = Patient(weight_kg=120, height_cm=180, sex="male")
    expected = 74.99212598 + 0.4 * (120 - 74.99212598)  # 92.995 kg
    assert adjusted_body_weight_kg(patient) == pytest.approx(expected, rel=1e-9)
    assert dosing_weight_kg(patient, "adjusted") == pytest.approx(92.99527559, rel=1e-9)
    assert dosing_weight_kg(patient, "ideal") == pytest.approx(MAN_180_IDEAL, rel=1e-12)
    assert dosing_weight_kg(patient, "actual") == 120


def test_actual_below_ideal_is_used_as_is():
    thin = Patient(weight_kg=60, height_cm=180, sex="male")
    assert adjusted_body_weight_kg(thin) == 60
    assert dosing_weight_kg(thin, "ideal") == 60


def test_ideal_weight_needs_a_height():
    with pytest.raises(InputError) as info:
        dosing_weight_kg(Patient(weight_kg=70), "adjusted")
    assert info.value.field == "patient.height_cm"
    assert info.value.got is None


def test_devine_below_1_kg_is_refused():
    with pytest.raises(InputError, match="patient.height_cm"):
        ideal_body_weight_kg(Patient(weight_kg=3, height_cm=40, sex="female"))


def test_unknown_dosing_weight_is_refused():
    with pytest.raises(InputError, match="regimen.dosing_weight"):
        dosing_weight_kg(Patient(), "lean")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="regimen.dosing_weight"):
        Regimen((Dose(0, 1.0),), GENERIC_10, dosing_weight="lean")  # type: ignore[arg-type]


def test_adjusted_weight_scales_the_dose():
    regimen = Regimen((Dose(0, 1.0),), GENERIC_10, dosing_weight="adjusted")
    plan = regimen.compile(Patient(weight_kg=120, height_cm=180, sex="male"))
    assert plan.dosing_weight_kg == pytest.approx(92.99527559, rel=1e-9)
    assert plan.total_g == pytest.approx(92.99527559, rel=1e-9)


# --- products ------------------------------------------------------------------------


def test_unknown_product_lists_the_names():
    with pytest.raises(InputError) as info:
        get_product("gammagard-99")
    assert info.value.field == "regimen.product"
    for name in PRODUCTS:
        assert name in str(info.value)


def test_catalogue_rates_and_concentrations():
    assert {name: (p.concentration_g_per_mL, p.max_rate_mg_per_kg_min) for name, p in PRODUCTS.items()} == {
        "generic-10": (0.10, 8.0),
        "generic-5": (0.05, 3.3),
        "octagam-10": (0.10, 12.0),
        "octagam-5": (0.05, 3.3),
        "privigen": (0.10, 8.0),
        "sucrose-5": (0.05, 3.3),
    }
    assert PRODUCTS["sucrose-5"].stabiliser == "sucrose"
    assert all(p.iga_ug_per_mL is None and p.source for p in PRODUCTS.values())


def test_privigen_itp_limit():
    privigen = get_product("privigen")
    assert privigen.max_rate_for("itp") == 4.0
    assert privigen.max_rate_for("gbs") == 8.0
    assert privigen.max_rate_for(None) == 8.0
    with pytest.raises(InputError, match="indication"):
        privigen.max_rate_for("ITP")


def test_product_start_above_maximum_is_refused():
    with pytest.raises(InputError, match="product.start_rate_mg_per_kg_min"):
        dataclasses.replace(GENERIC_10, start_rate_mg_per_kg_min=9.0)


# --- regimen parts -------------------------------------------------------------------


def test_course_2_g_per_kg_over_5_days():
    plan = plan_for(Course(total_g_per_kg=2.0, days=5), weight_kg=70.0)
    assert [i.start_day for i in plan.infusions] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert [i.g_per_kg for i in plan.infusions] == pytest.approx([0.4] * 5, rel=1e-15)
    assert [i.amount_g for i in plan.infusions] == pytest.approx([0.4 * 70] * 5, rel=1e-15)
    assert plan.total_g == pytest.approx(140.0, rel=1e-14)
    assert [i.index for i in plan.infusions] == [0, 1, 2, 3, 4]


def test_maintenance_with_count():
    plan = plan_for(Maintenance(g_per_kg=1.0, every_days=21, start_day=21, count=4))
    assert [i.start_day for i in plan.infusions] == [21.0, 42.0, 63.0, 84.0]


def test_maintenance_until_day_is_inclusive():
    days = [d.day for d in Maintenance(1.0, 21, 21, until_day=84).doses()]
    assert days == [21.0, 42.0, 63.0, 84.0]
    assert [d.day for d in Maintenance(1.0, 21, 21, until_day=83.5).doses()] == [21.0, 42.0, 63.0]
    assert [d.day for d in Maintenance(0.4, 0.1, 0, until_day=0.3).doses()] == pytest.approx([0, 0.1, 0.2, 0.3])


def test_maintenance_needs_exactly_one_of_count_and_until_day():
    with pytest.raises(InputError, match="regimen.maintenance"):
        Maintenance(1.0, 21, 21, count=3, until_day=84)
    with pytest.raises(InputError, match="regimen.maintenance"):
        Maintenance(1.0, 21, 21)
    with pytest.raises(InputError, match="regimen.maintenance.until_day"):
        Maintenance(1.0, 21, 21, until_day=10)


def test_start_hour_shifts_every_infusion():
    plan = plan_for(Course(2.0, 2), start_hour=8.0)
    assert [i.start_day for i in plan.infusions] == pytest.approx([8 / 24, 1 + 8 / 24], rel=1e-15)


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Dose(0, -1.0), "regimen.dose.g_per_kg"),
        (lambda: Dose(0, 0.0), "regimen.dose.g_per_kg"),
        (lambda: Dose(0, 5.0), "regimen.dose.g_per_kg"),
        (lambda: Dose(-1, 1.0), "regimen.dose.day"),
        (lambda: Dose(0, float("nan")), "regimen.dose.g_per_kg"),
        (lambda: Course(2.0, 0), "regimen.course.days"),
        (lambda: Course(2.0, 2.5), "regimen.course.days"),
        (lambda: Course(0.0, 2), "regimen.course.total_g_per_kg"),
        (lambda: Course(20.0, 5), "regimen.course.total_g_per_kg"),
        (lambda: Maintenance(1.0, 0, 0, count=3), "regimen.maintenance.every_days"),
        (lambda: Maintenance(1.0, 21, 0, count=0), "regimen.maintenance.count"),
        (lambda: Maintenance(4.0, 21, 0, count=1), "regimen.maintenance.g_per_kg"),
        (lambda: Regimen((), GENERIC_10), "regimen.parts"),
        (lambda: Regimen((Dose(0, 1.0),), "generic-10"), "regimen.product"),
        (lambda: Regimen((Dose(0, 1.0),), GENERIC_10, start_hour=24), "regimen.start_hour"),
        (lambda: InfusionSpec(duration_h=0), "infusion.duration_h"),
        (lambda: InfusionSpec(rate_mg_per_kg_min=-1), "infusion.rate_mg_per_kg_min"),
        (lambda: Titration(1.0, 30, 0.5), "infusion.titration.max_mg_per_kg_min"),
        (lambda: Titration(0.5, 30, 8, factor=1.0), "infusion.titration.factor"),
    ],
)
def test_bad_input_names_the_field(make, field):
    with pytest.raises(InputError) as info:
        make()
    assert info.value.field == field
    assert not isinstance(info.value, DosingError)


def test_absurd_dose_message():
    with pytest.raises(InputError, match="absurd"):
        Dose(0, 5.0)


def test_duration_and_rate_together_are_refused():
    with pytest.raises(InputError) as info:
        InfusionSpec(duration_h=4, rate_mg_per_kg_min=2)
    assert info.value.field == "infusion"
    assert "duration_h=4" in str(info.value) and "rate_mg_per_kg_min=2" in str(info.value)
    with pytest.raises(InputError, match="titration"):
        InfusionSpec(rate_mg_per_kg_min=2, titration=Titration(0.5, 30, 8))


def test_regimen_is_immutable():
    regimen = Regimen([Dose(0, 1.0)], GENERIC_10)
    assert regimen.parts == (Dose(0, 1.0),)
    with pytest.raises(dataclasses.FrozenInstanceError):
        regimen.name = "x"  # type: ignore[misc]


# --- infusion rates ------------------------------------------------------------------


def test_titration_0_5_to_8_doubling_every_30_min():
    weight = 70.0
    plan = plan_for(Dose(0, 1.0, InfusionSpec(titration=Titration(0.5, 30, 8))), weight_kg=weight)
    (infusion,) = plan.infusions
    rates = [w.rate_g_per_day / (weight * G_PER_DAY_PER_KG_AT_1_MG_PER_KG_MIN) for w in infusion.windows]
    assert rates == pytest.approx([0.5, 1, 2, 4, 8], rel=1e-12)
    minutes = [(w.end_day - w.start_day) * 1440 for w in infusion.windows]
    # 15 + 30 + 60 + 120 = 225 mg/kg in the first 2 h; the other 775 mg/kg at 8 takes 96.875 min
    assert minutes == pytest.approx([30, 30, 30, 30, 96.875], rel=1e-9)
    assert infusion.end_day * 1440 == pytest.approx(216.875, rel=1e-12)
    assert sum(w.amount_g for w in infusion.windows) == pytest.approx(70.0, rel=1e-12)
    assert infusion.max_rate_mg_per_kg_min == 8.0
    assert infusion.volume_mL == pytest.approx(700.0, rel=1e-12)



def test_label_titration_is_the_default():
    explicit = plan_for(Dose(0, 1.0, InfusionSpec(titration=Titration(0.5, 30, 8))))
    assert plan_for(Dose(0, 1.0)).windows == explicit.windows
    assert plan_for(Dose(0, 1.0, InfusionSpec())).windows == explicit.windows


def test_a_final_step_under_a_minute_is_folded_into_the_one_before():
    # 0.229 g/kg: 105 mg/kg in the first 90 min leaves 124; a full 4 mg/kg/min step gives
    # 120, leaving 4 mg/kg = 0.5 min at 8, so the 4 mg/kg/min step runs 31 min instead.
    plan = plan_for(Dose(0, 0.229))
    minutes = [(w.end_day - w.start_day) * 1440 for w in plan.infusions[0].windows]
    assert minutes == pytest.approx([30, 30, 30, 31], rel=1e-9)
    assert plan.infusions[0].max_rate_mg_per_kg_min == 4.0


def test_duration_gives_rate_amount_over_duration():
    plan = plan_for(Dose(0, 1.0, InfusionSpec(duration_h=6)), weight_kg=50.0)
    (window,) = plan.windows
    assert window.rate_g_per_day == pytest.approx(50.0 / (6 / 24), rel=1e-12)
    assert plan.infusions[0].max_rate_mg_per_kg_min == pytest.approx(1000 / 360, rel=1e-12)


def test_constant_rate_gives_duration_dose_over_rate():
    plan = plan_for(Dose(2, 0.4, InfusionSpec(rate_mg_per_kg_min=2.0)), weight_kg=60.0)
    (infusion,) = plan.infusions
    assert infusion.duration_h == pytest.approx(400 / 2 / 60, rel=1e-9)
    assert infusion.windows[0].rate_g_per_day == pytest.approx(2.0 * 60 * 1.44, rel=1e-12)


def test_kawasaki_2_g_per_kg_over_11_h_in_a_20_kg_child():
    plan = Regimen((Dose(0, 2.0, InfusionSpec(duration_h=11)),), GENERIC_10).compile(Patient(weight_kg=20, age_years=3), "kawasaki")
    (window,) = plan.windows
    assert window.rate_g_per_day == pytest.approx(40 / (11 / 24), rel=1e-12)
    assert window.end_day == pytest.approx(11 / 24, rel=1e-15)


def test_rate_above_label_is_refused_with_field_limit_and_value():
    with pytest.raises(DosingError) as info:
        plan_for(Dose(0, 1.0), Dose(3, 1.0, InfusionSpec(rate_mg_per_kg_min=10.0)))
    error = info.value
    assert error.field == "regimen.parts[1].infusion"
    assert error.got == 10.0
    message = str(error)
    assert "regimen.parts[1].infusion" in message and "8 mg/kg/min" in message and "10.0" in message
    assert "generic-10" in message and "allow_above_label" in message


def test_short_duration_above_label_is_refused():
    # 2 g/kg in 2 h is 16.7 mg/kg/min
    with pytest.raises(DosingError, match="8 mg/kg/min"):
        plan_for(Dose(0, 2.0, InfusionSpec(duration_h=2)))


def test_allow_above_label_accepts_it():
    plan = plan_for(Dose(0, 1.0, InfusionSpec(rate_mg_per_kg_min=10.0)), allow_above_label=True)
    assert plan.infusions[0].max_rate_mg_per_kg_min == 10.0
    assert plan.total_g == pytest.approx(70.0, rel=1e-12)


def test_rate_exactly_at_label_is_accepted():
    plan = plan_for(Dose(0, 1.0, InfusionSpec(rate_mg_per_kg_min=8.0)))
    assert plan.infusions[0].max_rate_mg_per_kg_min == 8.0


def test_privigen_caps_at_4_in_itp():
    privigen = get_product("privigen")
    itp = plan_for(Dose(0, 1.0), product=privigen, indication="itp")
    assert itp.infusions[0].max_rate_mg_per_kg_min == 4.0
    rates = [w.rate_g_per_day / (70 * G_PER_DAY_PER_KG_AT_1_MG_PER_KG_MIN) for w in itp.windows]
    assert rates == pytest.approx([0.5, 1, 2, 4], rel=1e-12)
    with pytest.raises(DosingError, match="4 mg/kg/min in itp"):
        plan_for(Dose(0, 1.0, InfusionSpec(rate_mg_per_kg_min=6.0)), product=privigen, indication="itp")
    gbs = plan_for(Dose(0, 1.0, InfusionSpec(rate_mg_per_kg_min=6.0)), product=privigen, indication="gbs")
    assert gbs.infusions[0].max_rate_mg_per_kg_min == 6.0


def test_unknown_indication_is_refused():
    with pytest.raises(InputError, match="indication"):
        plan_for(Dose(0, 1.0), indication="ITP")


# --- overlaps ------------------------------------------------------------------------


def test_overlapping_infusions_are_refused_naming_both():
    with pytest.raises(DosingError) as info:
        plan_for(Course(2.0, 2, infusion=InfusionSpec(duration_h=30)))
    message = str(info.value)
    assert info.value.field == "regimen.parts"
    assert "infusion 1 of 2" in message and "infusion 2 of 2" in message


def test_overlap_between_parts_is_refused():
    with pytest.raises(DosingError, match=r"parts\[0\] course .*parts\[1\] dose"):
        plan_for(Course(2.0, 5), Dose(2.05, 0.5))


def test_same_day_infusions_that_do_not_overlap_are_allowed():
    plan = plan_for(Dose(0, 0.5, InfusionSpec(duration_h=4)), Dose(0.5, 0.5, InfusionSpec(duration_h=4)))
    assert [i.start_day for i in plan.infusions] == [0.0, 0.5]


def test_touching_infusions_are_allowed():
    plan = plan_for(Dose(0, 1.0, InfusionSpec(duration_h=24)), Dose(1, 1.0, InfusionSpec(duration_h=24)), allow_above_label=True)
    assert plan.infusions[0].end_day == pytest.approx(plan.infusions[1].start_day, abs=1e-12)


# --- the compiled plan ---------------------------------------------------------------


def test_amount_infused_is_the_integral_of_the_rate():
    plan = plan_for(
        Course(2.0, 2),
        Maintenance(1.0, 21, 21, count=2, infusion=InfusionSpec(duration_h=5)),
        weight_kg=83.0,
        start_hour=9.5,
    )
    points = plan.breakpoints
    assert list(points) == sorted(set(points))
    integral = 0.0
    for a, b in zip(points[:-1], points[1:]):
        piece, _ = quad(plan.rate_g_per_day_at, a, b, epsabs=0, epsrel=1e-12, limit=200)
        integral += piece
        assert plan.amount_infused_g_by(b) == pytest.approx(integral, rel=1e-10)
    assert plan.amount_infused_g_by(points[-1]) == pytest.approx(plan.total_g, rel=1e-13)
    assert plan.amount_infused_g_by(1e6) == pytest.approx(83.0 * 4, rel=1e-13)
    assert plan.amount_infused_g_by(-1.0) == 0.0


def test_rate_is_zero_between_infusions_and_right_continuous():
    plan = plan_for(Course(2.0, 2))
    first = plan.infusions[0]
    assert plan.rate_g_per_day_at(0.0) == pytest.approx(0.5 * 70 * G_PER_DAY_PER_KG_AT_1_MG_PER_KG_MIN, rel=1e-12)
    assert plan.rate_g_per_day_at(first.end_day) == 0.0
    assert plan.rate_g_per_day_at(0.5) == 0.0
    assert plan.rate_g_per_day_at(-0.1) == 0.0


def test_windows_are_sorted_and_contiguous_within_each_infusion():
    plan = plan_for(Maintenance(0.4, 28, 0, count=3), Dose(14, 0.2))
    starts = [w.start_day for w in plan.windows]
    assert starts == sorted(starts)
    assert [i.start_day for i in plan.infusions] == [0, 14, 28, 56]
    for infusion in plan.infusions:
        for before, after in zip(infusion.windows[:-1], infusion.windows[1:]):
            assert before.end_day == after.start_day
