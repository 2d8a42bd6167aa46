"""Residual infection-transmission risk: the arithmetic checked by hand for one pathogen."""

from __future__ import annotations

import math

import pytest

from ivigsim.dosing import Course, Regimen, get_product
from ivigsim.errors import InputError
from ivigsim.model.patient import Patient
from ivigsim.safety.infection import (PATHOGENS, InfectionRisk, Manufacturing, Pathogen, infection_risk,
                                      infusion_infection_risk)

HIV = next(p for p in PATHOGENS if p.name == "HIV-1")


def test_hiv_per_infusion_risk_by_hand():
    """70 g (1 g/kg, 70 kg) from a pool of 10,000 donations of 0.8 L, 4 g IgG per L of plasma.

    - infectious donations per pool: 10,000 x 1/5,000,000 = 0.002
    - units in one infectious donation: 10^3 /mL x 800 mL = 800,000
    - the infusion is 70 / 4 = 17.5 L of the pool's 8,000 L: fraction 0.0021875
      -> 800,000 x 0.0021875 = 1,750 units
    - solvent-detergent 4 + nanofiltration 4 + low pH 4 = 12 log10 -> 1.75e-9 units
    - P = 1 - exp(-0.002 x (1 - exp(-1.75e-9))) ~ 0.002 x 1.75e-9 = 3.5e-12
    """
    r = infusion_infection_risk(HIV, 70.0, Manufacturing())
    assert r.expected_infectious_donations_per_pool == pytest.approx(0.002)
    assert r.units_per_infectious_donation == pytest.approx(800_000)
    assert r.pool_fraction == pytest.approx(17.5 / 8000)
    assert r.units_after_reduction == pytest.approx(1.75e-9)
    assert r.probability == pytest.approx(3.5e-12, rel=1e-6)


def test_hiv_course_by_hand():
    """Two 70-g infusions from independent pools: 1 - (1 - 3.5e-12)^2 ~ 7e-12."""
    risk = InfectionRisk((70.0, 70.0), Manufacturing(), (HIV,))
    assert risk.course(HIV) == pytest.approx(7e-12, rel=1e-6)
    assert risk.course_any() == pytest.approx(7e-12, rel=1e-6)


def test_arithmetic_lines_show_each_step():
    lines = InfectionRisk((70.0,), Manufacturing(), (HIV,)).arithmetic(HIV)
    text = "\n".join(lines)
    for piece in ("0.002 infectious donations", "8e+05 units", "17.5 L", "= 12", "1.75e-09", "3.5e-12"):
        assert piece in text, piece


def test_the_risk_is_minimal_for_the_screened_enveloped_viruses():
    """Why the seed can call it minimal: under 1e-10 per 2 g/kg course for HIV, HCV, HBV."""
    plan = Regimen((Course(2.0, 5),), get_product("generic-10")).compile(Patient(weight_kg=80.0))
    risk = infection_risk(plan)
    for p in risk.pathogens:
        if p.enveloped:
            assert risk.course(p) < 1e-10, p.name
    assert risk.course_any() < 1e-3


def test_pool_size_cancels_when_the_risk_is_small():
    """P ~ r v (A / yield) 10^-L / plasma per donation: larger pools dilute what they collect."""
    small = infusion_infection_risk(HIV, 70.0, Manufacturing(donations_per_pool=1_000)).probability
    large = infusion_infection_risk(HIV, 70.0, Manufacturing(donations_per_pool=100_000)).probability
    assert small == pytest.approx(large, rel=1e-6)


def test_without_manufacturing_steps_a_large_pool_is_riskier_for_a_common_virus():
    """With little reduction the dose per contaminated pool saturates and the chance that a pool
    holds an infectious donation dominates: more donors, more risk."""
    bare = Pathogen("test", False, 1e-4, 6.0, {})
    small = infusion_infection_risk(bare, 70.0, Manufacturing(donations_per_pool=1_000)).probability
    large = infusion_infection_risk(bare, 70.0, Manufacturing(donations_per_pool=100_000)).probability
    assert large > small
    assert large == pytest.approx(-math.expm1(-100_000 * 1e-4 * -math.expm1(-1e6 * 800 * 70 / 4 / 80_000)), rel=1e-9)


def test_each_step_lowers_the_risk_by_its_log10_reduction():
    base = infusion_infection_risk(HIV, 70.0).probability
    no_sd = Pathogen("HIV-1", True, HIV.residual_risk_per_donation, HIV.titre_log10_per_mL,
                     {**HIV.log10_reduction, "solvent_detergent": 0.0})
    assert infusion_infection_risk(no_sd, 70.0).probability == pytest.approx(base * 1e4, rel=1e-6)


def test_bad_parameters_are_refused_naming_the_field():
    with pytest.raises(InputError, match="residual_risk_per_donation"):
        Pathogen("x", True, 2.0, 3.0, {})
    with pytest.raises(InputError, match="log10_reduction"):
        Pathogen("x", True, 1e-6, 3.0, {"boiling": 4.0})
    with pytest.raises(InputError, match="solvent_detergent"):
        Pathogen("x", True, 1e-6, 3.0, {"solvent_detergent": -1.0})
    with pytest.raises(InputError, match="donations_per_pool"):
        Manufacturing(donations_per_pool=0)
    with pytest.raises(InputError, match="igg_yield_g_per_L"):
        Manufacturing(igg_yield_g_per_L=float("nan"))
