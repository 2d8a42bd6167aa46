"""The comparator rows of ``ivigsim validate`` (``ivigsim.validation.comparator_checks``), each
against an answer worked out independently of the code that computes it:

- the one-compartment closed form 1 - e^-N for a substance confined to plasma;
- the same closed form for IgG with the model's other processes slowed, on Kaplan's volume;
- mass balance: IgG removed by an exchange against the drop in the body's IgG;
- the SCIG share absorbed against its parameter, moved (so the row is computed, not copied);
- with FcRn saturation switched off (linear kinetics), the rise per 100 mg/kg/month against
  dose rate x bioavailability / clearance, and the SCIG : IVIG ratio against the bioavailability;
- FcRn-inhibitor rows against the bounds complete blockade sets;
- roles: nothing fitted to these rows, the identities say why.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ivigsim.dosing import Regimen, get_product
from ivigsim.dosing.comparators import PlasmaExchange
from ivigsim.engine.solver import Dopri5
from ivigsim.model.patient import Patient
from ivigsim.scenario import Scenario
from ivigsim.simulation import simulate
from ivigsim.validation import comparator_checks as cc
from ivigsim.validation.pk import linear_clearance
from ivigsim.validation.runner import ALL_TARGETS, SIMULATIONS, group_of
from ivigsim.validation.targets import COMPARATOR_TARGETS

BY_ID = {t.id: t for t in COMPARATOR_TARGETS}
#: As tests/test_plasma_exchange.py: distribution and synthesis (with the catabolism that balances
#: it) slowed to their lower bounds, so plasma IgG behaves as a substance confined to plasma.
SLOW = {"distribution_clearance_70kg_L_per_day": 0.05, "igg_synthesis_70kg_g_per_kg_day": 0.005}
MODEL_PLASMA_L = 0.042 * 70.0  # Kim 2007, at 70 kg


def test_every_row_is_registered_with_a_simulation_and_its_group():
    for t in COMPARATOR_TARGETS:
        assert t in ALL_TARGETS and t.id in SIMULATIONS and group_of(t) == "comparators"
        # Only the inhibitor's affinity is fitted (joint calibration), to Ulrichts' two rows;
        # nothing of the exchange or of SCIG is fitted to any row.
        fitted = t.id in ("efgartigimod-single-dose", "efgartigimod-repeated")
        assert t.role == "calibration" if fitted else t.role in ("check", "identity")
        # Every row is from the calibration file (s.11 or s.12.6), except checks of a drug's own
        # kinetics, which the file does not give: those name their primary source as outside it.
        pk_check = t.id in ("efgartigimod-cmax-4th-dose", "efgartigimod-auc-4th-dose")
        assert ("not in calibration-targets" in t.source and t.role == "check") if pk_check \
            else "calibration-targets s.1" in t.source


@pytest.mark.parametrize("n", [1.0, 1.5])
def test_purely_intravascular_removal_is_one_minus_exp_of_n(n):
    removed = cc.intravascular_removed_pct(n)
    assert removed == pytest.approx(100 * (1 - math.exp(-n)), abs=0.05)  # tracer leaks < 0.03 % in 2 h
    assert BY_ID[f"plex-intravascular-{n:g}pv"].accepts(removed)


def test_igg_just_after_a_session_is_the_closed_form_when_nothing_else_moves():
    kaplan = PlasmaExchange((0.0,)).plasma_volume_L(Patient(weight_kg=70.0))  # 2.42 L
    for n in (1.0, 1.5):
        left = cc.plasma_exchange_pct(n, 0.0, SLOW)
        # What still moves in 2 h (reflux at 0.05 L/day from a tissue pool 1.3 x plasma) adds < 0.5 %.
        assert left == pytest.approx(100 * math.exp(-n * kaplan / MODEL_PLASMA_L), rel=5e-3)
        assert cc.plasma_exchange_pct(n, 0.0) > left  # with the model's own reflux from tissue


def test_igg_removed_is_the_drop_in_the_body_pool():
    """Over one session, IgG removed = the fall of IgG in the body (plasma, tissue, immune
    complexes), less what synthesis added and catabolism took meanwhile (bounded: 2 h of turnover)."""
    end = cc.SESSION_H / 24
    ds = simulate(Scenario(patient=Patient(weight_kg=70.0), regimen=Regimen((PlasmaExchange((0.0,)),),
                           get_product("generic-10")), days=1.0, output_every_days=cc.FINE_DAYS, solver=cc.ACCURATE))
    one = ds.isel(patient=0)
    i = int(np.argmin(abs(one.time.values - end)))
    pools = ("endogenous", "autoantibody", "ivig")
    body = sum(one[f"{s}_{c}_g"].values for s in pools for c in ("central", "peripheral")) + one["immune_complex_g"].values
    removed = float(one["igg_exchanged_g"].values[i])
    drop = float(body[0] - body[i])
    turnover = 0.2 * 70 * 11.4 / 1000 * 24 * end  # generous: 0.2 g/kg/day x 2 h, far above synthesis at 70 kg
    assert removed > 0 and abs(removed - drop) < turnover
    # The plasma concentration's drop is what the exchanged plasma carried away, at most:
    plasma = one["igg_total_g_per_L"].values
    assert (plasma[0] - plasma[i]) * MODEL_PLASMA_L <= removed + 1e-9


def test_after_the_session_igg_rises_but_stays_below_baseline():
    values = [cc.plasma_exchange_pct(1.0, h) for h in (0.0, 24.0, 48.0, 72.0)]
    assert all(a < b for a, b in zip(values, values[1:])) and values[-1] < cc.NOT_RECOVERED_PCT


def test_scig_absorbed_share_follows_the_bioavailability_it_is_given():
    assert cc.scig_absorbed_pct() == pytest.approx(66.7, rel=1e-5)  # 1 - exp(-0.4 x 120) of F is F
    assert cc.scig_absorbed_pct({"scig_bioavailability": 0.5}) == pytest.approx(50.0, rel=1e-5)


@pytest.mark.slow  # 12 s: in CI and with --run-slow
def test_rise_per_increment_with_linear_kinetics_is_dose_rate_times_f_over_clearance():
    """Linear kinetics (FcRn saturation off): the steady-state mean is F x dose rate / CL, so
    the rise per 100 mg/kg/month is 0.1 g/kg x 70 kg / 28 days x F / CL, in mg/dL."""
    linear = {"fcrn_saturation_strength": 0.0}
    cl = linear_clearance({"baseline_igg_g_per_L": cc.PID_OWN_IGG, **linear})
    expected = 100 * 0.1 * 70.0 / 28.0 / cl
    ivig = cc.igg_rise_per_increment_mg_per_dL("ivig", linear)
    scig = cc.igg_rise_per_increment_mg_per_dL("scig", linear)
    assert ivig == pytest.approx(expected, rel=1e-2)
    assert scig == pytest.approx(0.667 * expected, rel=1e-2)
    assert scig / ivig == pytest.approx(0.667, rel=5e-3)
    # Saturable FcRn (the model): concave in dose, so the slope is below the linear one.
    assert cc.igg_rise_per_increment_mg_per_dL("ivig") < ivig


@pytest.mark.slow  # 2 s or more (README run under 5 minutes): in CI and with --run-slow
def test_inhibitor_rows_are_bounded_by_complete_blockade():
    one, cycle = cc.efgartigimod_single_dose_lowering_pct(), cc.efgartigimod_cycle_lowering_pct()
    ceiling = 100 * 5.08 / 6.08  # complete blockade at steady state (Valenzuela's IgK)
    reachable = cc.complete_blockade_lowering_pct()
    assert 0 < one < cycle < reachable < ceiling
    assert reachable > ceiling - 1  # 8 weeks of complete blockade come within a point of the ceiling
    assert 0 < cc.efgartigimod_recovery_pct() < 100


def test_the_identities_and_gaps_say_why():
    for t in COMPARATOR_TARGETS:
        assert (t.role == "identity") == bool(t.by_construction)
    gaps = {t.id for t in COMPARATOR_TARGETS if t.known_gap}
    assert gaps == {"plex-1pv-just-after", "plex-1pv-re-equilibrated", "plex-1.5pv-re-equilibrated",
                    "efgartigimod-recovery-8-weeks", "efgartigimod-gmg-lowering",
                    "scig-rise-per-100-mg-per-kg-month", "ivig-rise-per-100-mg-per-kg-month", "scig-trough-obese",
                    "scig-trough-children-2-6"}


# -- a user-defined FcRn inhibitor ---------------------------------------------------------------

from ivigsim.dosing.comparators import FcRnInhibitor, InhibitorKinetics, inhibitor_parameters  # noqa: E402
from ivigsim.errors import InputError  # noqa: E402
from ivigsim.io.scenario_file import parse_scenario  # noqa: E402
from ivigsim.model.comparators.fcrn_inhibitor import FCRN_INHIBITOR  # noqa: E402

EFGARTIGIMOD = {p.name.removeprefix("fcrn_inhibitor_"): p.value for p in FCRN_INHIBITOR.parameters}
USER = {"kd_g_per_L": 0.001, "clearance_70kg_L_per_day": 5.0, "peripheral_volume_L_per_kg": 0.05,
        "distribution_clearance_70kg_L_per_day": 10.0, "source": "assumption: a test drug"}


def _user_file(kinetics=USER, **block) -> dict:
    return {"regimen": {"fcrn_inhibitor": {"drug": "drug-x", "days": [0, 14], "mg_per_kg": 60,
                                           "kinetics": kinetics, **block}},
            "simulation": {"days": 28, "output_every_days": 0.5}}


def test_a_user_defined_drug_with_efgartigimods_constants_is_efgartigimod():
    same = InhibitorKinetics(**{k: EFGARTIGIMOD[k] for k in USER if k != "source"}, source="the shipped values")
    parts = {"days": (0.0, 7.0), "max_mg_per_infusion": 1200.0}
    shipped = simulate(Scenario(regimen=Regimen((FcRnInhibitor(**parts),), get_product("generic-10")), days=28.0))
    user = simulate(Scenario(regimen=Regimen((FcRnInhibitor(**parts, drug="twin", kinetics=same),),
                                             get_product("generic-10")), days=28.0))
    np.testing.assert_array_equal(user["igg_total_g_per_L"].values, shipped["igg_total_g_per_L"].values)


def test_a_user_defined_drug_runs_on_its_own_constants():
    scenario = parse_scenario(_user_file())
    inhibitor = scenario.regimen.parts[0]
    assert inhibitor.drug == "drug-x" and inhibitor.max_mg_per_infusion is None  # no label cap: 4.2 g
    assert inhibitor.amount_g(scenario.patient) == pytest.approx(4.2)
    assert inhibitor_parameters(scenario.regimen.parts) == {  # no target-mediated disposition unless given
        **{f"fcrn_inhibitor_{k}": v for k, v in USER.items() if k != "source"}, "fcrn_inhibitor_target_g_per_L": 0.0}
    ds = simulate(scenario)
    c = ds["fcrn_inhibitor_g_per_L"].values[0]
    np.testing.assert_allclose(ds["fcrn_inhibitor_occupancy"].values[0], c / (c + USER["kd_g_per_L"]), rtol=1e-12)
    weak = simulate(parse_scenario(_user_file({**USER, "kd_g_per_L": 10.0})))  # binds 10^4 x less
    assert weak["igg_total_g_per_L"].values.min() > ds["igg_total_g_per_L"].values.min()


def test_units_are_converted_at_the_boundary():
    scenario = parse_scenario(_user_file({**USER, "kd_g_per_L": "1 mg/L", "clearance_70kg_L_per_day": "0.25 L/h"}))
    k = scenario.regimen.parts[0].kinetics
    assert k.kd_g_per_L == pytest.approx(0.001) and k.clearance_70kg_L_per_day == pytest.approx(6.0)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (_user_file({**USER, "kd_g_per_L": 0}), "regimen.fcrn_inhibitor.kinetics.kd_g_per_L"),
        (_user_file({**USER, "clearance_70kg_L_per_day": 1000}), "regimen.fcrn_inhibitor.kinetics.clearance_70kg_L_per_day"),
        (_user_file({**USER, "peripheral_volume_L_per_kg": "3 L"}), "regimen.fcrn_inhibitor.kinetics.peripheral_volume_L_per_kg"),
        (_user_file({**USER, "source": " "}), "regimen.fcrn_inhibitor.kinetics.source"),
        (_user_file({k: v for k, v in USER.items() if k != "source"}), "regimen.fcrn_inhibitor.kinetics.source"),
        (_user_file({k: v for k, v in USER.items() if k != "kd_g_per_L"}), "regimen.fcrn_inhibitor.kinetics.kd_g_per_L"),
        (_user_file(None), "regimen.fcrn_inhibitor.drug"),
        (_user_file(USER, drug="efgartigimod"), "regimen.fcrn_inhibitor.kinetics"),
        (_user_file({**USER, "half_life": 4}), "regimen.fcrn_inhibitor.kinetics.half_life"),
    ],
    ids=["kd-zero", "clearance-high", "volume-units", "blank-source", "no-source", "no-kd", "no-kinetics",
         "efgartigimod-with-kinetics", "unknown-field"],
)
def test_bad_user_defined_inhibitor_is_one_line_naming_the_field(data, field):
    with pytest.raises(InputError) as caught:
        simulate(parse_scenario(data))
    assert caught.value.field == field
    assert "\n" not in str(caught.value) and "expected" in str(caught.value) and "got" in str(caught.value)


def test_one_inhibitor_per_scenario_and_its_constants_not_given_twice():
    two = _user_file()
    two["regimen"]["fcrn_inhibitor"] = [two["regimen"]["fcrn_inhibitor"], {"days": [35]}]
    two["simulation"]["days"] = 42
    with pytest.raises(InputError) as caught:
        simulate(parse_scenario(two))
    assert caught.value.field == "regimen.fcrn_inhibitor" and "drug-x, efgartigimod" in str(caught.value)
    twice = {**_user_file(), "parameters": {"fcrn_inhibitor_kd_g_per_L": 0.5}}
    with pytest.raises(InputError) as caught:
        simulate(parse_scenario(twice))
    assert caught.value.field == "parameters.fcrn_inhibitor_kd_g_per_L"


def test_cli_refuses_a_bad_user_defined_inhibitor_in_one_line_with_status_2(tmp_path):
    import yaml
    from typer.testing import CliRunner

    from ivigsim.cli import app

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_user_file({**USER, "kd_g_per_L": -1})))
    result = CliRunner().invoke(app, ["simulate", str(path), "--out", str(tmp_path / "out"), "--no-plot"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "regimen.fcrn_inhibitor.kinetics.kd_g_per_L" in lines[0] and "got -1" in lines[0]


# -- the one-patient summary counts what the comparators move -----------------------------------

from ivigsim.dosing import Dose  # noqa: E402
from ivigsim.dosing.comparators import SubcutaneousIgG  # noqa: E402
from ivigsim.summary import summarise  # noqa: E402


def _summary(parts, days):
    ds = simulate(Scenario(patient=Patient(weight_kg=70.0), regimen=Regimen(tuple(parts), get_product("generic-10")),
                           days=days, output_every_days=1.0, solver=Dopri5(rtol=1e-9, atol=1e-12)))
    return ds, summarise(ds)


def test_summary_counts_scig_absorbed_by_its_closed_form_and_ivig_apart():
    """Each 7-g dose (0.1 g/kg) is absorbed as F D (1 - e^-ka t); IVIG infused is the 28 g given."""
    doses = (2.0, 9.0, 16.0)
    _, s = _summary([Dose(0.0, 0.4), SubcutaneousIgG(0.1, every_days=7.0, count=3, start_day=2.0)], 40.0)
    expected = sum(0.667 * 7.0 * (1 - math.exp(-0.4 * (40.0 - d - 0.5 / 24))) for d in doses)  # mid-infusion
    assert s.scig_absorbed_g == pytest.approx(expected, rel=1e-3)
    assert s.infused_g == pytest.approx(28.0, rel=1e-6) and s.exchanged_igg_g is None
    lines = s.lines()
    assert "IVIG infused: 28.0 g" in lines and f"IgG absorbed from SCIG: {expected:.1f} g" in lines


def test_summary_counts_igg_removed_by_exchange_and_keeps_ivig_infused_whole():
    ds, s = _summary([Dose(0.0, 0.4), PlasmaExchange((30.0, 32.0))], 40.0)
    assert s.exchanged_igg_g == pytest.approx(float(ds["igg_exchanged_g"].values[0, -1]))
    assert 0 < s.exchanged_ivig_g < s.exchanged_igg_g
    assert s.infused_g == pytest.approx(28.0, rel=1e-6)  # in body + degraded + exchanged, as infused
    assert s.scig_absorbed_g is None
    assert any(line.startswith("IgG removed by plasma exchange:") for line in s.lines())


def test_summary_without_comparators_has_no_new_lines():
    _, s = _summary([Dose(0.0, 0.4)], 20.0)
    assert s.scig_absorbed_g is None and s.exchanged_igg_g is None
    assert not any("SCIG" in line or "plasma exchange" in line for line in s.lines())


def test_summary_names_what_lowered_the_patients_own_igg():
    """The own-IgG line names the causes the scenario gave, and no other: an exchange alone
    removes the patient's IgG (its grams are the removed IgG less the IVIG-derived part, here all
    of it); an inhibitor alone occupies FcRn; IVIG alone saturates it."""
    _, exchange_only = _summary([PlasmaExchange((2.0,))], 10.0)
    (line,) = [x for x in exchange_only.lines() if x.startswith("patient's own IgG")]
    assert "plasma exchange removed" in line and "FcRn" not in line
    assert f"removed {exchange_only.exchanged_igg_g:.1f} g" in line and exchange_only.exchanged_ivig_g == 0.0
    assert exchange_only.endogenous_igg_nadir_fraction < 0.7
    _, inhibitor_only = _summary([FcRnInhibitor(days=(0.0,))], 20.0)
    (line,) = [x for x in inhibitor_only.lines() if x.startswith("patient's own IgG")]
    assert "FcRn occupied by the FcRn inhibitor" in line and "saturated" not in line and "exchange" not in line
    _, ivig_only = _summary([Dose(0.0, 0.4)], 20.0)
    (line,) = [x for x in ivig_only.lines() if x.startswith("patient's own IgG")]
    assert line.endswith("(FcRn saturated by the infused IgG)")


@pytest.mark.slow  # 3 s or more (README run under 5 minutes)
def test_the_recovery_gap_is_the_fcrn_saturation_constants_trade():
    """What the efgartigimod-recovery gap says, measured: recovery after the cycle is set by how
    steeply IgG's elimination rises with IgG near baseline, so a stronger FcRn saturation (Km at
    half the calibrated value) brings it into the published band (and linear kinetics slow it),
    while that Km takes Kuitwaard's rise after 2 g/kg (a calibration target) and the PID
    half-life out of theirs."""
    from ivigsim.validation.runner import simulation_parameters

    from ivigsim.model.library import core_model

    shipped = cc.efgartigimod_recovery_pct()
    half = {"fcrn_km_g_per_L": 0.5 * core_model().parameter("fcrn_km_g_per_L").value}
    assert shipped < 90.0 <= cc.efgartigimod_recovery_pct(half)
    assert cc.efgartigimod_recovery_pct({"fcrn_saturation_strength": 0.0}) < shipped
    by_id = {t.id: t for t in ALL_TARGETS}
    for target in ("gbs-delta-igg-day14", "pid-half-life"):
        at_shipped = SIMULATIONS[target](simulation_parameters(target, {}))
        at_half = SIMULATIONS[target](simulation_parameters(target, half))
        assert by_id[target].accepts(at_shipped) and not by_id[target].accepts(at_half), (target, at_shipped, at_half)


@pytest.mark.slow  # 11 s: in CI and with --run-slow (the README command stays under 5 minutes)
def test_the_recovery_gap_is_the_drugs_persistence_that_jings_area_pins():
    """The other lever on the recovery, measured: a faster-cleared drug lets IgG return sooner.
    At the clearance Jing 2024's area after the fourth dose implies (3.1 L/day: the model's area
    then within 2 % of 5,300 ug h/mL), with the affinity tightened to keep Ulrichts' lowering, the
    recovery stays below 90 %; 90 % with the lowering kept needs about 6 L/day, whose area is
    about half the published one."""
    by_id = {t.id: t for t in ALL_TARGETS}
    jing = {"fcrn_inhibitor_clearance_70kg_L_per_day": 3.11, "fcrn_inhibitor_kd_g_per_L": 0.012}
    _, area = cc.efgartigimod_fourth_dose_pk(jing)
    assert area == pytest.approx(5300.0, rel=0.02)
    assert by_id["efgartigimod-single-dose"].accepts(cc.efgartigimod_single_dose_lowering_pct(jing))
    assert by_id["efgartigimod-repeated"].accepts(cc.efgartigimod_cycle_lowering_pct(jing))
    assert cc.efgartigimod_recovery_pct() < cc.efgartigimod_recovery_pct(jing) < 90.0
    fast = {"fcrn_inhibitor_clearance_70kg_L_per_day": 6.0, "fcrn_inhibitor_kd_g_per_L": 0.004}
    assert by_id["efgartigimod-repeated"].accepts(cc.efgartigimod_cycle_lowering_pct(fast))
    assert cc.efgartigimod_recovery_pct(fast) >= 90.0
    assert cc.efgartigimod_fourth_dose_pk(fast)[1] < 0.6 * 5300.0


@pytest.mark.slow  # 2 s or more (README run under 5 minutes): in CI and with --run-slow
def test_the_fourth_dose_area_is_the_dose_over_the_clearance_near_steady_state():
    """Independent of the trapezoids: with no target-mediated disposition, the area over a dosing
    interval at steady state is dose / clearance; after four weekly doses (terminal half-life
    about 5 days) the fourth interval's area is within a few per cent below it."""
    from ivigsim.model.comparators.fcrn_inhibitor import FCRN_INHIBITOR

    clearance_L_per_h = next(p.value for p in FCRN_INHIBITOR.parameters
                             if p.name == "fcrn_inhibitor_clearance_70kg_L_per_day") / 24.0
    steady = 10.0 * 70.0 / clearance_L_per_h  # mg / (L/h) = ug h/mL
    _, area = cc.efgartigimod_fourth_dose_pk()
    assert 0.9 * steady < area < steady
