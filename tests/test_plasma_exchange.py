"""Plasma exchange (``ivigsim.dosing.comparators.PlasmaExchange``, ``ivigsim.model.comparators.plasma_exchange``).

What the tests compare against:

- Kaplan's estimated plasma volume, worked out by hand;
- the closed form of first-order exchange, 1 - exp(-V / V_plasma) of plasma IgG removed in one
  session exchanging V litres (calibration-targets s.12.6: 63 % at one plasma volume, 78 % at
  1.5), with every other process of the model made slow;
- redistribution afterwards: tissue IgG flows back, so plasma IgG rises after the session but
  has not recovered by 48-72 h (Blood 1980, s.12.6), and plasma and tissue concentrations
  re-equilibrate within days;
- mass balance of the IVIG-derived IgG (infused = in body + degraded + exchanged);
- donor plasma as replacement returns IgG at the donor's concentration (closed form);
- the scenario file: one-line errors naming the field; trial files take comparators;
- without an exchange, nothing changes (the IVIG model, its states and inputs, is untouched).
"""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

import ivigsim.dosing.comparators as comparators
from ivigsim.dosing import Course, Dose, Regimen, get_product, get_regimen
from ivigsim.dosing.comparators import PlasmaExchange, estimated_plasma_volume_L
from ivigsim.engine.solver import Dopri5
from ivigsim.errors import DosingError, InputError
from ivigsim.io.scenario_file import parse_scenario
from ivigsim.model.comparators import COMPARATOR_INPUTS, COMPARATORS
from ivigsim.model.library import DISEASES, build_model, compiled_model
from ivigsim.model.patient import Patient
from ivigsim.model.units import check_units
from ivigsim.scenario import Scenario
from ivigsim.simulation import simulate

TIGHT = Dopri5(rtol=1e-10, atol=1e-12)
#: Every other process of the IgG core slowed to its lower bound: distribution (0.017/day from
#: plasma at 70 kg) and synthesis, with the catabolism that balances it (about 0.01/day).
SLOW = {"distribution_clearance_70kg_L_per_day": 0.05, "igg_synthesis_70kg_g_per_kg_day": 0.005}
PRODUCT = get_product("generic-10")
MODEL_PLASMA_L_PER_KG = 0.042  # the IgG core's plasma volume (Kim 2007)


def _simulate(parts, days=3.0, every=1 / 48, patient=Patient(weight_kg=70.0), parameters=None, disease=None):
    regimen = Regimen(tuple(parts), PRODUCT)
    return simulate(Scenario(patient=patient, regimen=regimen, disease=disease, days=days, output_every_days=every,
                             parameters=parameters or {}, solver=TIGHT))


def _at(ds, name, day):
    t = ds.time.values
    i = int(np.argmin(abs(t - day)))
    assert abs(t[i] - day) < 1e-9, (day, t[i])
    return float(ds[name].values[0][i])


# -- estimated plasma volume and the compiled sessions ------------------------------------


def test_kaplan_estimated_plasma_volume_by_hand():
    # (1 - Hct)(b + c x weight): men b = 1530 mL, c = 41 mL/kg; women 864 mL, 47.2 mL/kg.
    assert estimated_plasma_volume_L(70.0, "male", 0.45) == pytest.approx(0.55 * (1530 + 41 * 70) / 1000, rel=1e-15)
    assert estimated_plasma_volume_L(60.0, "female", 0.40) == pytest.approx(0.60 * (864 + 47.2 * 60) / 1000, rel=1e-15)
    # No haematocrit given: 0.45 in men, 0.40 in women (an assumption).
    assert PlasmaExchange(days=(0,)).plasma_volume_L(Patient(weight_kg=70.0)) == pytest.approx(2.42, rel=1e-12)
    woman = Patient(weight_kg=60.0, sex="female")
    assert PlasmaExchange(days=(0,)).plasma_volume_L(woman) == pytest.approx(2.2176, rel=1e-12)


def test_docstring_examples_run():
    result = doctest.testmod(comparators, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_sessions_compile_to_windows_giving_the_prescribed_volume():
    patient = Patient(weight_kg=80.0)
    regimen = Regimen((PlasmaExchange(days=(0, 2, 4, 6, 8), plasma_volumes=1.5, duration_h=2.5, haematocrit=0.40),),
                      PRODUCT, start_hour=9.0)
    plan = regimen.compile(patient)
    assert plan.infusions == () and plan.total_g == 0
    volume = 1.5 * 0.60 * (1530 + 41 * 80) / 1000  # 4.329 L
    assert [s.start_day for s in plan.sessions] == pytest.approx([d + 9 / 24 for d in (0, 2, 4, 6, 8)], rel=1e-15)
    for s in plan.sessions:
        assert s.kind == "plasma_exchange" and s.unit == "L"
        assert s.amount == pytest.approx(volume, rel=1e-14)
        assert s.duration_h == pytest.approx(2.5, rel=1e-12)
        (w,) = s.windows  # albumin: no donor plasma
        assert w.input == "plasma_exchange_L_per_day"
        assert w.rate * (w.end_day - w.start_day) == pytest.approx(volume, rel=1e-13)
    donor = Regimen((PlasmaExchange(days=(1,), replacement="plasma"),), PRODUCT).compile(patient)
    assert {w.input for w in donor.input_windows} == {"plasma_exchange_L_per_day", "donor_plasma_L_per_day"}
    assert len({w.rate for w in donor.input_windows}) == 1  # the volume removed is the volume returned


# -- the closed form of one session ----------------------------------------------------------


@pytest.mark.parametrize("plasma_volumes", [0.5, 1.0, 1.5])
def test_one_session_removes_one_minus_exp_of_volume_over_plasma_volume(plasma_volumes):
    """First-order exchange: plasma amount x exp(-V / V_plasma), every species alike."""
    ds = _simulate([PlasmaExchange(days=(0,), plasma_volumes=plasma_volumes, duration_h=2.0)], parameters=SLOW)
    exchanged_L = plasma_volumes * 2.42
    expected = math.exp(-exchanged_L / (MODEL_PLASMA_L_PER_KG * 70.0))
    end = 2.0 / 24.0
    for species in ("endogenous", "autoantibody"):
        left = _at(ds, f"{species}_central_g", end) / _at(ds, f"{species}_central_g", 0.0)
        # The slowed processes move less than 0.2 % of the plasma amount in 2 h.
        assert left == pytest.approx(expected, abs=2e-3), species
    # The removed IgG is counted.
    removed = _at(ds, "igg_exchanged_g", end)
    plasma0 = _at(ds, "endogenous_central_g", 0.0) + _at(ds, "autoantibody_central_g", 0.0)
    assert removed == pytest.approx((1 - expected) * plasma0, rel=3e-3)


@pytest.mark.parametrize(("plasma_volumes", "removed"), [(1.0, 1 - math.exp(-1.0)), (1.5, 1 - math.exp(-1.5))])
def test_one_plasma_volume_removes_63_percent_when_volumes_agree(plasma_volumes, removed):
    """s.12.6: 63 % at one plasma volume, 78 % at 1.5, when the exchanged volume is the model's
    plasma volume (here the model's plasma volume is set to Kaplan's estimate: 2.42 L / 70 kg)."""
    same = {**SLOW, "plasma_volume_L_per_kg": 2.42 / 70.0}
    ds = _simulate([PlasmaExchange(days=(0,), plasma_volumes=plasma_volumes, duration_h=2.0)], parameters=same)
    left = _at(ds, "igg_total_g_per_L", 2.0 / 24.0) / _at(ds, "igg_total_g_per_L", 0.0)
    assert 1 - left == pytest.approx(removed, abs=2e-3)
    assert round(100 * (1 - left)) == (63 if plasma_volumes == 1.0 else 78)


# -- complement proteins ------------------------------------------------------------------------


def test_complement_proteins_follow_the_closed_form_of_removal_and_return():
    """During a session removing at a = r / V_plasma, dL/dt = k (1 - L) - a L, so at its end
    L = k/(k+a) + a/(k+a) exp(-(k+a) T); afterwards L returns as 1 - (1 - L_end) exp(-k t).
    The disease's complement activity is its index times L (the disease's own drive aside)."""
    ds = _simulate([PlasmaExchange(days=(0,), plasma_volumes=1.0, duration_h=2.0)], days=4.0)
    k = 0.46  # complement_recovery_per_day (a half-life of 1.5 days)
    a = 2.42 / (2.0 / 24.0) / (MODEL_PLASMA_L_PER_KG * 70.0)  # L/day over the model's plasma volume
    T = 2.0 / 24.0
    end = k / (k + a) + a / (k + a) * math.exp(-(k + a) * T)
    assert _at(ds, "complement_plasma_level", T) == pytest.approx(end, rel=1e-7)
    for day in (1.0, 2.0, 3.0):  # not recovered 48-72 h after the exchange (Blood 1980, s.12.6)
        expected = 1 - (1 - end) * math.exp(-k * (day - T))
        assert _at(ds, "complement_plasma_level", day) == pytest.approx(expected, rel=1e-7)
        assert expected < 0.9
    assert end < 0.5  # the exchange removes complement as it removes IgG (about exp(-0.82))


def test_donor_plasma_returns_complement_at_its_normal_level():
    ds = _simulate([PlasmaExchange(days=(0,), plasma_volumes=1.5, duration_h=2.0, replacement="plasma")], days=1.0)
    assert np.allclose(ds["complement_plasma_level"].values[0], 1.0, rtol=0, atol=1e-9)


def test_exchange_lowers_the_diseases_complement_activity():
    """MG: complement activity (the drive's index, less IVIG's scavenging) times the plasma level."""
    ds = _simulate([PlasmaExchange(days=(0,), plasma_volumes=1.0, duration_h=2.0)], days=2.0, disease="mg")
    level, activity = ds["complement_plasma_level"].values[0], ds["complement_activity_fraction_of_baseline"].values[0]
    drive = ds["complement_drive"].values[0] if "complement_drive" in ds else np.ones_like(level)
    np.testing.assert_allclose(activity, drive * level, rtol=1e-12)
    assert activity.min() < 0.5


def test_igg_rebounds_by_redistribution_and_has_not_recovered_at_48_to_72_h():
    """Default parameters: plasma IgG rises after the session as tissue IgG flows back, but is
    still well below baseline at 48 and 72 h (Blood 1980, s.12.6)."""
    ds = _simulate([PlasmaExchange(days=(0,), plasma_volumes=1.0, duration_h=2.0)], days=7.0, every=1 / 24)
    c0 = _at(ds, "igg_total_g_per_L", 0.0)
    after = [_at(ds, "igg_total_g_per_L", d) / c0 for d in (2 / 24, 1.0, 2.0, 3.0)]
    assert after == sorted(after)  # rising
    assert after[0] < 0.5 and after[3] < 0.9
    # Plasma and tissue concentrations, far apart at the session's end, are close by 72 h.
    vc = MODEL_PLASMA_L_PER_KG * 70.0
    vt = vc * (1 - 0.44) / 0.44

    def gap(day):
        plasma = _at(ds, "endogenous_central_g", day) / vc
        tissue = _at(ds, "endogenous_peripheral_g", day) / vt
        return tissue / plasma - 1

    assert gap(2 / 24) > 1.0
    assert abs(gap(3.0)) < 0.05
    # Re-equilibrated, plasma IgG sits at (or, with synthesis now exceeding catabolism, a little
    # above) the share of body IgG left: 1 - removed / body IgG.
    body0 = sum(_at(ds, n, 0.0) for n in ("endogenous_central_g", "endogenous_peripheral_g",
                                          "autoantibody_central_g", "autoantibody_peripheral_g"))
    left = 1 - _at(ds, "igg_exchanged_g", 3.0) / body0
    assert left < after[3] < left + 0.06


def test_five_sessions_deplete_igg_step_by_step():
    ds = _simulate([PlasmaExchange(days=(0, 2, 4, 6, 8))], days=12.0, every=1 / 24)
    c0 = _at(ds, "igg_total_g_per_L", 0.0)
    ends = [_at(ds, "igg_total_g_per_L", d + 2 / 24) / c0 for d in (0, 2, 4, 6, 8)]
    assert ends == sorted(ends, reverse=True)  # each session ends lower than the one before
    assert ends[-1] < 0.3
    assert (ds["plasma_exchange_L_per_day"].values > 0).sum() > 0


# -- what else the exchange carries ---------------------------------------------------------


def test_ivig_mass_balance_counts_what_the_exchange_removes():
    """An exchange the day after 1 g/kg: infused = in body + degraded + exchanged."""
    ds = _simulate([Dose(0.0, 1.0), PlasmaExchange(days=(1, 3))], days=20.0, every=0.25)
    total = sum(ds[n].values[0] for n in ("ivig_central_g", "ivig_peripheral_g", "ivig_catabolised_g",
                                          "ivig_exchanged_g"))
    np.testing.assert_allclose(total[ds.time.values >= 1.0], 70.0, rtol=1e-8)
    assert _at(ds, "ivig_exchanged_g", 20.0) > 10.0


def test_donor_plasma_returns_igg_at_the_donors_concentration():
    """With plasma as replacement (donor IgG 11.4 g/L, as the patient's), the patient's IgG
    is exchanged for donor IgG: total IgG stays, the autoantibody falls by the closed form."""
    ds = _simulate([PlasmaExchange(days=(0,), replacement="plasma")], parameters=SLOW)
    end = 2.0 / 24.0
    assert _at(ds, "igg_total_g_per_L", end) == pytest.approx(11.4, rel=2e-3)
    left = _at(ds, "autoantibody_central_g", end) / _at(ds, "autoantibody_central_g", 0.0)
    assert left == pytest.approx(math.exp(-2.42 / 2.94), abs=2e-3)
    albumin = _simulate([PlasmaExchange(days=(0,))], parameters=SLOW)
    assert _at(albumin, "igg_total_g_per_L", end) < 0.5 * 11.4


def test_sessions_after_an_ivig_course_remove_ivig():
    """Plasma exchange after IVIG takes the infused IgG out too (the reason it is not given so)."""
    ivig = _simulate([Course(2.0, 5)], days=10.0, every=0.5, disease="gbs")
    both = _simulate([Course(2.0, 5), PlasmaExchange(days=(6, 8))], days=10.0, every=0.5, disease="gbs")
    assert _at(both, "igg_ivig_g_per_L", 10.0) < 0.8 * _at(ivig, "igg_ivig_g_per_L", 10.0)


# -- inactive unless given: the IVIG model is untouched -----------------------------------------


def test_without_comparators_the_ivig_model_is_unchanged():
    """An IVIG-only scenario runs on the IVIG model: no comparator state, input or output."""
    ds = simulate(Scenario(regimen=get_regimen("gbs"), disease="gbs", days=20.0))
    model = compiled_model("gbs")
    assert set(model.model.input_names) == {"ivig_infusion_g_per_day"}
    for name in ("plasma_exchange_L_per_day", "ivig_exchanged_g", "scig_depot_g", "fcrn_inhibitor_central_g"):
        assert name not in ds
    # In the comparator model with no comparator given, every comparator state and input stays 0
    # and the IVIG results agree with the IVIG model to solver tolerance.
    scenario = Scenario(regimen=get_regimen("gbs"), disease="gbs", days=20.0, solver=TIGHT)
    a = simulate(scenario, compiled_model("gbs"))
    b = simulate(scenario, compiled_model("gbs", comparators=True))
    for name in ("plasma_exchange_L_per_day", "donor_plasma_L_per_day", "scig_g_per_day", "ivig_exchanged_g",
                 "patient_igg_exchanged_g", "scig_depot_g", "fcrn_inhibitor_central_g", "fcrn_inhibitor_occupancy"):
        assert not b[name].values.any(), name
    for name in ("igg_total_g_per_L", "autoantibody_fraction_of_baseline", "gbs_disability_score"):
        np.testing.assert_allclose(b[name].values, a[name].values, rtol=1e-8, err_msg=name)


@pytest.mark.parametrize("disease", sorted(DISEASES))
def test_every_disease_has_a_comparator_model_that_is_unit_consistent_and_steady(disease):
    model = build_model(disease, comparators=True)
    assert {m.name for m in COMPARATORS} <= {m.name for m in model.modules}
    assert set(COMPARATOR_INPUTS) <= set(model.input_names)
    assert check_units(model) == []
    # Each comparator parameter names its source or says it is an assumption.
    for m in COMPARATORS:
        for p in m.parameters:
            assert p.source.strip() and p.provenance in ("source", "derived", "assumption", "calibrated"), p.name
            if p.provenance == "assumption":
                assert "assumption" in p.source, p.name
    # At baseline, with no input, the comparators' states do not move (amounts at 0; the FcRn an
    # inhibitor can reach at 1, relative to baseline) and the rest is steady.
    compiled = compiled_model(disease, comparators=True)
    p = model.parameter_array()
    c = compiled.constants(p)
    y = compiled.initial(p, c)
    dy = compiled.rhs(0.0, y, p, c, np.zeros((len(model.input_names), 1)))
    own = {s.name for m in COMPARATORS for s in m.states}
    for i, name in enumerate(model.state_names):
        if name in own:
            assert dy[i, 0] == 0.0 and y[i, 0] == (1.0 if name in ("fcrn_accessible_fraction", "complement_plasma_level") else 0.0), name
    base = compiled_model(disease)
    pb = base.model.parameter_array()
    dyb = base.rhs(0.0, base.initial(pb, base.constants(pb)), pb, base.constants(pb), np.zeros((1, 1)))
    shared = [model.state_names.index(n) for n in base.model.state_names]
    np.testing.assert_array_equal(dy[shared], dyb)


# -- the scenario file -------------------------------------------------------------------------


def _scenario_doc(**plasma_exchange):
    return {"regimen": {"plasma_exchange": {"days": [0, 2, 4], **plasma_exchange}},
            "simulation": {"days": 10}}


def test_scenario_file_gives_the_same_sessions_as_the_library():
    scenario = parse_scenario({"patient": {"weight_kg": "176 lb", "sex": "female"},
                               "regimen": {"start_hour": 8, "plasma_exchange": {
                                   "days": [0, 2], "plasma_volumes": 1.5, "duration_h": "150 min",
                                   "replacement": "plasma", "haematocrit": 0.38}}})
    plan = scenario.regimen.compile(scenario.patient, scenario.indication)
    expected = 1.5 * estimated_plasma_volume_L(176 * 0.45359237, "female", 0.38)
    assert [s.amount for s in plan.sessions] == pytest.approx([expected, expected], rel=1e-12)
    assert plan.sessions[1].start_day == pytest.approx(2 + 8 / 24, rel=1e-15)
    assert plan.sessions[0].duration_h == pytest.approx(2.5, rel=1e-12)


def test_scenario_file_combines_exchange_with_a_standard_regimen():
    scenario = parse_scenario({"disease": "gbs", "regimen": {
        "standard": "gbs", "plasma_exchange": {"days": [10, 12]}}, "simulation": {"days": 20}})
    plan = scenario.regimen.compile(scenario.patient, scenario.indication)
    assert len(plan.infusions) == 5 and len(plan.sessions) == 2


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"days": [-1, 2]}, "regimen.plasma_exchange.days"),
        ({"days": []}, "regimen.plasma_exchange.days"),
        ({"days": [0, 0]}, "regimen.plasma_exchange.days"),
        ({"days": [0, 40000]}, "regimen.plasma_exchange.days"),
        ({"days": "monday"}, "regimen.plasma_exchange.days"),
        ({"plasma_volumes": 0}, "regimen.plasma_exchange.plasma_volumes"),
        ({"plasma_volumes": -1}, "regimen.plasma_exchange.plasma_volumes"),
        ({"plasma_volumes": 3.5}, "regimen.plasma_exchange.plasma_volumes"),
        ({"plasma_volumes": "lots"}, "regimen.plasma_exchange.plasma_volumes"),
        ({"replacement": "saline"}, "regimen.plasma_exchange.replacement"),
        ({"haematocrit": 45}, "regimen.plasma_exchange.haematocrit"),
        ({"duration_h": 0}, "regimen.plasma_exchange.duration_h"),
        ({"duration_h": 30}, "regimen.plasma_exchange.duration_h"),
        ({"duration_h": 72, "days": [0, 1]}, "regimen.plasma_exchange.duration_h"),
        ({"volumes": 1}, "regimen.plasma_exchange.volumes"),
    ],
    ids=["negative-day", "no-days", "twice", "day-beyond-100-years", "not-a-list", "zero-volumes", "negative-volumes",
         "above-3", "text", "saline", "percent-haematocrit", "zero-hours", "30-hours", "overlapping", "misspelt"],
)
def test_bad_plasma_exchange_is_one_line_naming_the_field(patch, field):
    with pytest.raises(InputError) as caught:
        parse_scenario(_scenario_doc(**patch))
    assert caught.value.field == field
    assert "\n" not in str(caught.value)


def test_overlapping_sessions_in_a_list_name_their_block():
    with pytest.raises(InputError) as caught:
        parse_scenario({"regimen": {"plasma_exchange": [{"days": [0]}, {"days": [0, 3]}]}})
    assert caught.value.field == "regimen.plasma_exchange.1.days"
    with pytest.raises(InputError) as caught:
        parse_scenario({"regimen": {"plasma_exchange": [{"days": [0]}, {"plasma_volumes": 9, "days": [3]}]}})
    assert caught.value.field == "regimen.plasma_exchange.1.plasma_volumes"


def test_a_session_during_an_ivig_infusion_is_refused():
    with pytest.raises(DosingError) as caught:
        parse_scenario({"regimen": {"course": {"total_g_per_kg": 2, "days": 5},
                                    "plasma_exchange": {"days": [2]}}})
    assert caught.value.field == "regimen.plasma_exchange.days"
    assert "overlaps" in str(caught.value)


def test_an_overlap_is_found_whatever_the_order_of_the_blocks():
    """The overlap check is one sweep over the sessions by start: an exchange inside a long
    IVIG infusion, or inside an earlier exchange of another block that is not its neighbour
    in the file, is still found; blocks that interleave without touching are accepted."""
    with pytest.raises(DosingError) as caught:  # day 20's exchange falls in the course
        parse_scenario({"regimen": {"course": {"total_g_per_kg": 2, "days": 5, "start_day": 18},
                                    "plasma_exchange": [{"days": [8, 10]}, {"days": [12, 20]}]},
                        "simulation": {"days": 40}})
    assert "overlaps" in str(caught.value) and "day 20" in str(caught.value)
    with pytest.raises(InputError) as caught:  # a 12-h session on day 5 holds day 5.25's
        parse_scenario({"regimen": {"plasma_exchange": [{"days": [5], "duration_h": 12}, {"days": [1, 9]},
                                                        {"days": [3, 5.25]}]}, "simulation": {"days": 20}})
    assert caught.value.field == "regimen.plasma_exchange.2.days"
    interleaved = [{"days": [b * 10 + 2 * i for i in range(5)]} for b in range(40)]
    scenario = parse_scenario({"regimen": {"plasma_exchange": interleaved}, "simulation": {"days": 400}})
    assert scenario.regimen is not None


def test_exchange_alone_needs_a_span_that_reaches_it():
    with pytest.raises(InputError) as caught:
        parse_scenario({"regimen": {"plasma_exchange": {"days": [30]}}, "simulation": {"days": 10}})
    assert caught.value.field == "simulation.days"


def test_library_refuses_bad_values_naming_the_field():
    with pytest.raises(InputError, match="regimen.plasma_exchange.plasma_volumes"):
        PlasmaExchange(days=(0,), plasma_volumes=0.0)
    with pytest.raises(InputError, match="regimen.plasma_exchange.replacement"):
        PlasmaExchange(days=(0,), replacement="FFP")
    with pytest.raises(InputError, match="regimen.plasma_exchange.days"):
        PlasmaExchange(days=0)


def test_trial_files_take_comparators():
    """Trial arms may give comparators (issue 14 item 4: tests/test_comparator_trials.py); a regimen
    validated outside scenario and trial files still refuses them, naming the field."""
    from ivigsim.io.scenario_file import RegimenFile
    from ivigsim.io.trial_file import parse_trial
    from ivigsim.trial.comparators import uses_comparators

    doc = {"name": "t", "disease": "gbs", "size": 10, "seed": 1,
           "arms": [{"name": "plex", "regimen": {"plasma_exchange": {"days": [0, 2]}}}],
           "endpoints": [{"name": "igg", "output": "igg_total_g_per_L", "at_day": 7, "summary": "mean"}]}
    assert uses_comparators(parse_trial(doc))
    with pytest.raises(ValueError, match="plasma_exchange"):
        RegimenFile.model_validate({"plasma_exchange": {"days": [0, 2]}})


def test_a_caller_model_without_comparators_is_refused_in_one_line():
    from ivigsim.model.compose import Model
    from ivigsim.simulation import setup_scenario

    plain = Model(build_model(None).modules).compile()  # not the library's own object
    scenario = Scenario(regimen=Regimen((PlasmaExchange(days=(0,)),), PRODUCT), days=5.0)
    with pytest.raises(InputError) as caught:
        setup_scenario(scenario, plain)
    assert caught.value.field == "regimen"
