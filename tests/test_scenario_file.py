"""The scenario file at library level: ``parse_scenario``, ``load_scenario`` and the
translation of pydantic errors into one ``InputError`` (STYLE 8 and 10).

Quantities are checked against conversions worked out by hand (1 lb = 0.45359237 kg
exactly), regimens against the number of infusions the prescription implies.
"""

from __future__ import annotations


import pytest
from pydantic import ValidationError

from ivigsim.dosing import STANDARD_REGIMENS
from ivigsim.errors import InputError
from ivigsim.io.scenario_file import (
    ScenarioFile,
    load_scenario,
    parse_scenario,
    read_yaml,
    validation_to_input_error,
)

LB_KG = 0.45359237


def _plan(data: dict):
    # A year: every part of the regimens below begins within the simulation (a part that would
    # begin after it is refused, tests/test_hostile_input.py).
    scenario = parse_scenario({"simulation": {"days": 365}, **data})
    return scenario, scenario.regimen.compile(scenario.patient, scenario.indication)


# -- quantities ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patch", "read", "expected"),
    [
        ({"patient": {"weight_kg": "154 lb"}}, lambda s: s.patient.weight_kg, 154 * LB_KG),  # 69.853 kg
        ({"patient": {"weight_kg": "70000 g"}}, lambda s: s.patient.weight_kg, 70.0),
        ({"patient": {"height_cm": "1.75 m"}}, lambda s: s.patient.height_cm, 175.0),
        ({"patient": {"height_cm": "69 inch"}}, lambda s: s.patient.height_cm, 69 * 2.54),
        ({"patient": {"height_cm": "5 ft + 9 in"}}, lambda s: s.patient.height_cm, 175.26),
        ({"patient": {"age_years": "6 months"}}, lambda s: s.patient.age_years, 0.5),
        ({"simulation": {"days": "3 weeks"}}, lambda s: s.days, 21.0),
        ({"simulation": {"days": "8 weeks", "output_every_days": "6 hours"}}, lambda s: s.output_every_days, 0.25),
        ({"simulation": {"days": "2160 hours"}}, lambda s: s.days, 90.0),
    ],
    ids=["lb", "g", "m", "inch", "ft+in", "months", "weeks", "hours-spacing", "hours-span"],
)
def test_quantity_strings_convert_to_the_fields_unit(patch, read, expected):
    assert read(parse_scenario(patch)) == pytest.approx(expected, rel=1e-12)


def test_154_lb_is_69_85_kg():
    assert parse_scenario({"patient": {"weight_kg": "154 lb"}}).patient.weight_kg == pytest.approx(69.85, abs=0.005)


@pytest.mark.parametrize(
    ("g_per_kg", "expected_g"),
    [("1000 mg/kg", 70.0), ("1 g/kg", 70.0), ("0.4 g/kg", 28.0), ("400 mg/kg", 28.0), (1, 70.0), (0.4, 28.0)],
)
def test_dose_strings_and_numbers_give_grams(g_per_kg, expected_g):
    _, plan = _plan({"patient": {"weight_kg": 70}, "regimen": {"doses": [{"day": 0, "g_per_kg": g_per_kg}]}})
    assert [inf.amount_g for inf in plan.infusions] == [pytest.approx(expected_g, rel=1e-12)]


def test_time_strings_in_a_regimen():
    _, plan = _plan({
        "regimen": {
            "infusion": {"duration_h": "90 min"},
            "maintenance": {"g_per_kg": 0.5, "every_days": "3 weeks", "start_day": "1 week", "count": 3},
        }
    })
    assert [inf.start_day for inf in plan.infusions] == pytest.approx([7.0, 28.0, 49.0])
    for inf in plan.infusions:
        assert inf.end_day - inf.start_day == pytest.approx(1.5 / 24, rel=1e-12)


def test_titration_step_minutes_accepts_hours():
    _, plan = _plan({"regimen": {"doses": [{"day": 0, "g_per_kg": 1, "infusion": {"titration": {
        "start_mg_per_kg_min": 1, "step_minutes": "1 hour", "max_mg_per_kg_min": 4}}}]}})
    windows = plan.infusions[0].windows
    # 1 and 2 mg/kg/min for 60 min each (180 mg/kg), then 4 mg/kg/min for the other 820 mg/kg.
    assert [round((w.end_day - w.start_day) * 1440, 9) for w in windows] == [60.0, 60.0, 205.0]


@pytest.mark.parametrize(
    ("patch", "read", "expected"),
    [
        ({"patient": {"weight_kg": 70}}, lambda s: s.patient.weight_kg, 70.0),
        ({"patient": {"weight_kg": "70"}}, lambda s: s.patient.weight_kg, 70.0),  # bare number in a string
        ({"patient": {"height_cm": 172}}, lambda s: s.patient.height_cm, 172.0),
        ({"patient": {"age_years": 38}}, lambda s: s.patient.age_years, 38.0),
        ({"simulation": {"days": 21}}, lambda s: s.days, 21.0),
        ({"simulation": {"days": "21"}}, lambda s: s.days, 21.0),
        ({"simulation": {"output_every_days": 0.25}}, lambda s: s.output_every_days, 0.25),
    ],
    ids=["kg", "kg-string", "cm", "years", "days", "days-string", "spacing"],
)
def test_numbers_are_read_in_the_fields_unit(patch, read, expected):
    assert read(parse_scenario(patch)) == expected


def test_duration_number_is_hours_and_step_number_is_minutes():
    _, plan = _plan({"regimen": {"doses": [
        {"day": 0, "g_per_kg": 1, "infusion": {"duration_h": 4}},
        {"day": 1, "g_per_kg": 1, "infusion": {"titration": {
            "start_mg_per_kg_min": 1, "step_minutes": 30, "max_mg_per_kg_min": 2}}},
    ]}})
    first, second = plan.infusions
    assert first.end_day - first.start_day == pytest.approx(4 / 24, rel=1e-12)
    assert (second.windows[0].end_day - second.windows[0].start_day) * 1440 == pytest.approx(30, rel=1e-9)


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"patient": {"weight_kg": "70 cm"}}, "patient.weight_kg"),
        ({"patient": {"height_cm": "70 kg"}}, "patient.height_cm"),
        ({"simulation": {"days": "3 kg"}}, "simulation.days"),
        ({"regimen": {"doses": [{"day": 0, "g_per_kg": "1000 mg"}]}}, "regimen.doses.0.g_per_kg"),
        ({"regimen": {"doses": [{"day": "noon", "g_per_kg": 1}]}}, "regimen.doses.0.day"),
        ({"regimen": {"course": {"total_g_per_kg": 2, "days": 2, "infusion": {"duration_h": "2 kg"}}}},
         "regimen.course.infusion.duration_h"),
    ],
)
def test_wrong_dimension_names_the_field_and_the_value(patch, field):
    with pytest.raises(InputError) as info:
        parse_scenario(patch)
    assert info.value.field == field
    bad = str(info.value).rpartition(", got ")[2]
    assert bad.strip("'") in str(patch)


# -- standard regimens --------------------------------------------------------------


#: name -> (indication it sets, infusions it compiles to), from calibration-targets.md s.10
STANDARD = {
    "itp": ("itp", 2),  # 1 g/kg/day x 2
    "itp-single": ("itp", 1),  # 1 g/kg once
    "gbs": ("gbs", 5),  # 0.4 g/kg/day x 5
    "kawasaki": ("kawasaki", 1),  # 2 g/kg once over 11 h
    "cidp": ("cidp", 10),  # 2 g/kg over 2 days + 8 x 1 g/kg every 21 days
    "mg": ("mg", 2),  # 1 g/kg/day x 2
    "pid": ("pid", 6),  # 0.4 g/kg every 28 days x 6
}


def test_every_shipped_regimen_is_covered_here():
    assert set(STANDARD) == set(STANDARD_REGIMENS)


@pytest.mark.parametrize("name", sorted(STANDARD))
def test_standard_regimen_sets_the_indication_and_compiles(name):
    indication, n_infusions = STANDARD[name]
    scenario, plan = _plan({"patient": {"weight_kg": 50}, "regimen": {"standard": name}})
    assert scenario.indication == indication
    assert plan.indication == indication
    assert len(plan.infusions) == n_infusions
    starts = [inf.start_day for inf in plan.infusions]
    assert starts == sorted(starts)


def test_standard_regimen_grams():
    _, cidp = _plan({"patient": {"weight_kg": 50}, "regimen": {"standard": "cidp"}})
    assert [round(inf.amount_g, 9) for inf in cidp.infusions] == [50.0, 50.0] + [50.0] * 8
    assert [inf.start_day for inf in cidp.infusions] == [0, 1, 21, 42, 63, 84, 105, 126, 147, 168]
    _, kawasaki = _plan({"patient": {"weight_kg": 20}, "regimen": {"standard": "kawasaki"}})
    (only,) = kawasaki.infusions
    assert only.amount_g == pytest.approx(40.0)
    assert only.end_day - only.start_day == pytest.approx(11 / 24, rel=1e-12)


def test_explicit_indication_wins_over_the_standard_regimens():
    scenario = parse_scenario({"indication": "mg", "regimen": {"standard": "itp"}})
    assert scenario.indication == "mg"


def test_no_regimen_and_no_indication():
    scenario = parse_scenario({"name": "untreated"})
    assert scenario.regimen is None
    assert scenario.indication is None
    assert scenario.name == "untreated"


def test_product_and_dosing_weight_apply_to_a_standard_regimen():
    scenario, plan = _plan({
        "patient": {"weight_kg": 130, "height_cm": 165, "sex": "female"},
        "regimen": {"standard": "itp", "product": "privigen", "dosing_weight": "adjusted"},
    })
    ideal = 45.5 + 2.3 * (165 / 2.54 - 60)
    assert plan.dosing_weight_kg == pytest.approx(ideal + 0.4 * (130 - ideal), rel=1e-12)
    assert plan.product.name == "privigen"
    # Privigen in ITP: the label titration stops at 4 mg/kg/min.
    assert max(inf.max_rate_mg_per_kg_min for inf in plan.infusions) == pytest.approx(4.0)


# -- written-out regimens -----------------------------------------------------------


@pytest.mark.parametrize(
    ("regimen", "n_infusions"),
    [
        ({"course": {"total_g_per_kg": 2, "days": 5}}, 5),
        ({"course": {"total_g_per_kg": 2, "days": 5, "start_day": 3}}, 5),
        ({"doses": [{"day": 0, "g_per_kg": 1}, {"day": 7, "g_per_kg": 0.5}]}, 2),
        ({"maintenance": {"g_per_kg": 1, "every_days": 21, "start_day": 0, "count": 4}}, 4),
        ({"maintenance": {"g_per_kg": 1, "every_days": 21, "start_day": 0, "until_day": 63}}, 4),  # 63 included
        ({"maintenance": {"g_per_kg": 1, "every_days": 21, "start_day": 0, "until_day": 62.9}}, 3),
        ({"maintenance": [{"g_per_kg": 1, "every_days": 21, "start_day": 0, "count": 2},
                          {"g_per_kg": 0.5, "every_days": 28, "start_day": 60, "count": 3}]}, 5),
        ({"course": {"total_g_per_kg": 2, "days": 2},
          "doses": [{"day": 10, "g_per_kg": 1}],
          "maintenance": {"g_per_kg": 1, "every_days": 21, "start_day": 21, "count": 3}}, 6),
    ],
    ids=["course", "course-later", "doses", "maintenance-count", "until-inclusive", "until-exclusive",
         "maintenance-list", "everything"],
)
def test_written_out_regimen_compiles_to_the_prescribed_infusions(regimen, n_infusions):
    _, plan = _plan({"regimen": regimen})
    assert len(plan.infusions) == n_infusions


def test_course_splits_the_total_equally_over_consecutive_days():
    _, plan = _plan({"patient": {"weight_kg": 70},
                     "regimen": {"start_hour": 9, "course": {"total_g_per_kg": 2, "days": 5, "start_day": 3}}})
    assert [round(inf.amount_g, 9) for inf in plan.infusions] == [28.0] * 5
    assert [inf.start_day for inf in plan.infusions] == pytest.approx([d + 9 / 24 for d in range(3, 8)])


def test_regimen_infusion_is_the_default_and_a_parts_own_wins():
    _, plan = _plan({"regimen": {
        "infusion": {"duration_h": 4},
        "course": {"total_g_per_kg": 1, "days": 2},
        "doses": [{"day": 5, "g_per_kg": 1, "infusion": {"duration_h": 8}}],
    }})
    hours = [round((inf.end_day - inf.start_day) * 24, 9) for inf in plan.infusions]
    assert hours == [4.0, 4.0, 8.0]


def test_no_infusion_means_the_products_label_titration():
    _, plan = _plan({"regimen": {"product": "generic-5", "doses": [{"day": 0, "g_per_kg": 0.2}]}})
    (infusion,) = plan.infusions
    # 0.5, 1 and 2 mg/kg/min for 30 min each (105 mg/kg), then the 3.3 cap for the other 95 mg/kg.
    assert infusion.max_rate_mg_per_kg_min == pytest.approx(3.3)
    minutes = [(w.end_day - w.start_day) * 1440 for w in infusion.windows]
    assert minutes == pytest.approx([30, 30, 30, 95 / 3.3], rel=1e-9)


def test_load_scenario_reads_a_file_like_parse_scenario(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("patient: {weight_kg: 154 lb}\nregimen: {standard: gbs}\nsimulation: {days: 3 weeks}\n",
                    encoding="utf-8")
    scenario = load_scenario(path)
    assert scenario == parse_scenario(read_yaml(path))
    assert scenario.indication == "gbs"
    assert scenario.days == 21.0


def test_load_scenario_names_the_file_when_it_is_not_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_scenario(path)
    assert info.value.field == str(path)
    assert info.value.got == "list"


def test_read_yaml_errors_name_the_file(tmp_path):
    with pytest.raises(InputError) as info:
        read_yaml(tmp_path / "missing.yaml")
    assert info.value.field == "FILE"
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_yaml(bad)
    assert info.value.field == str(bad)
    assert "line" in str(info.value)


# -- validation errors as one line --------------------------------------------------


def _validation_error(data: dict) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        ScenarioFile.model_validate(data)
    return info.value


@pytest.mark.parametrize(
    ("data", "field", "got"),
    [
        ({"regimen": {"course": {"total_g_per_kg": 2, "days": 2.5}}}, "regimen.course.days", 2.5),
        ({"regimen": {"course": {"total_g_per_kg": 2, "days": "two"}}}, "regimen.course.days", "two"),
        ({"patient": {"wieght_kg": 70}}, "patient.wieght_kg", 70),
        ({"nmae": "x"}, "nmae", "x"),
        ({"regimen": {"doses": [{"day": 0, "g_per_kg": 1}, {"day": 1, "g_per_kg": "2 kg"}]}},
         "regimen.doses.1.g_per_kg", "2 kg"),
        ({"regimen": {"doses": [{"day": 0, "g_per_kg": 1, "infusion": {"duration_h": "x"}}]}},
         "regimen.doses.0.infusion.duration_h", "x"),
        ({"regimen": {"course": {"total_g_per_kg": 2, "days": 2, "infusion": {"titration": {
            "start_mg_per_kg_min": 1, "step_minutes": 30}}}}},
         "regimen.course.infusion.titration.max_mg_per_kg_min", None),
        ({"simulation": {"dayz": 3}}, "simulation.dayz", 3),
        ({"indication": "lupus"}, "indication", "lupus"),
        ({"regimen": {}}, "regimen", {}),
    ],
    ids=["int-fraction", "int-text", "unknown-nested", "unknown-top", "list-index", "nested-quantity",
         "missing-required", "unknown-simulation", "literal", "model-validator"],
)
def test_validation_to_input_error_gives_the_field_path(data, field, got):
    error = validation_to_input_error(_validation_error(data))
    assert isinstance(error, InputError)
    assert error.field == field
    if got is not None:
        assert error.got == got
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"{field}: expected ")
    # parse_scenario raises the same error
    with pytest.raises(InputError) as info:
        parse_scenario(data)
    assert info.value.field == field


def test_unknown_field_message_says_so():
    error = validation_to_input_error(_validation_error({"patient": {"wieght_kg": 70}}))
    assert "no such field" in error.expected


def test_our_own_quantity_message_is_kept_whole():
    error = validation_to_input_error(_validation_error({"patient": {"weight_kg": "70 cm"}}))
    assert error.expected == "a quantity in kg"
    assert error.got == "70 cm"


def test_parse_scenario_refuses_a_non_mapping():
    for document in (None, [], "text", 3):
        with pytest.raises(InputError) as info:
            parse_scenario(document, where="here.yaml")
        assert info.value.field == "here.yaml"
        assert info.value.got == type(document).__name__


# -- inputs that were once mishandled: ratios, compound units, booleans, union error paths ----


def test_bare_number_string_for_g_per_kg_is_read_in_g_per_kg():
    _, plan = _plan({"patient": {"weight_kg": 70}, "regimen": {"doses": [{"day": 0, "g_per_kg": "1"}]}})
    assert plan.infusions[0].amount_g == pytest.approx(70.0)


def test_percent_is_not_a_dose():
    with pytest.raises(InputError) as info:
        parse_scenario({"regimen": {"doses": [{"day": 0, "g_per_kg": "0.1 %"}]}})  # = 1 g/kg as a ratio
    assert info.value.field.endswith("g_per_kg")


def test_the_documented_height_example_parses():
    assert parse_scenario({"patient": {"height_cm": "5 ft 9 in"}}).patient.height_cm == pytest.approx(175.26)


def test_a_boolean_is_not_a_weight():
    with pytest.raises(InputError):
        parse_scenario({"patient": {"weight_kg": True}})


def test_maintenance_list_error_path_has_no_union_tag():
    error = validation_to_input_error(_validation_error(
        {"regimen": {"maintenance": [{"g_per_kg": 1, "every_days": "abc", "start_day": 0, "count": 2}]}}))
    assert error.field == "regimen.maintenance.0.every_days"


def test_single_maintenance_typo_names_the_typo():
    error = validation_to_input_error(_validation_error(
        {"regimen": {"maintenance": {"g_per_kg": 1, "every_days": 21, "start_day": 0, "cuont": 2}}}))
    assert error.field == "regimen.maintenance.cuont"


def test_mechanism_error_path_has_no_union_tag():
    error = validation_to_input_error(_validation_error({"mechanisms": {"fcrn_saturation": "maybe"}}))
    assert error.field == "mechanisms.fcrn_saturation"


def test_pydantic_messages_read_as_expected_and_got():
    error = validation_to_input_error(_validation_error({"regimen": {"course": {"total_g_per_kg": 2, "days": 2.5}}}))
    assert not error.expected.startswith("input should")
    assert str(error).count("got") == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"regimen": {"doses": [{"day": 0, "g_per_kg": 5}]}}, "regimen.doses.0.g_per_kg"),
        ({"regimen": {"doses": [{"day": 0, "g_per_kg": 1, "infusion": {"duration_h": 4, "rate_mg_per_kg_min": 2}}]}},
         "regimen.doses.0.infusion"),
        ({"simulation": {"rtol": 10}}, "simulation.rtol"),
        ({"regimen": {"standard": "itp-triple"}}, "regimen.standard"),
    ],
    ids=["dose", "infusion", "rtol", "standard"],
)
def test_library_side_errors_use_the_files_field_paths(data, field):
    with pytest.raises(InputError) as info:
        parse_scenario(data)
    assert info.value.field in (field, field.replace(".0.", "[0]."))
