"""The ITP module's equations, re-integrated independently with scipy from the simulated
drivers, and the direction of its thrombopoietin feedback.

The model's Fc-receptor occupancy and platelet count are integrated again, from the
equations written in the docstrings of ``ivigsim.model.mechanisms.fcgr_blockade`` and
``ivigsim.model.diseases.itp``, with scipy's LSODA, taking as given only the simulated
driver of each (IVIG-derived IgG; the antibody-mediated clearance). Agreement checks that
the compiled model is the documented one.
"""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from ivigsim.dosing import get_regimen
from ivigsim.engine.solver import Dopri5
from ivigsim.model.library import build_model
from ivigsim.scenario import Scenario
from ivigsim.simulation import simulate

STEP = 0.005  # days: fine enough for linear interpolation of the drivers


@pytest.fixture(scope="module")
def run():
    scenario = Scenario(regimen=get_regimen("itp"), disease="itp", days=40.0, output_every_days=STEP,
                        parameters={"platelet_baseline_1e9_per_L": 12.0}, solver=Dopri5(rtol=1e-10, atol=1e-12))
    return simulate(scenario).isel(patient=0)


def _value(name: str) -> float:
    model = build_model("itp")
    return next(p.value for p in model.parameters if p.name == name)


def _interp(t, ds, name):
    return np.interp(t, ds["time"].values, ds[name].values)


def test_occupancy_follows_second_order_binding_of_the_infused_igg(run):
    k, kd, order = (_value(n) for n in ("fcgr_release_per_day", "fcgr_kd_g_per_L", "fcgr_dimer_order"))
    assert order == 2.0

    def rhs(t, y):
        c = _interp(t, run, "igg_ivig_g_per_L")
        return [k * (c / kd) ** order * (1 - y[0]) - k * y[0]]

    t = run["time"].values
    ref = solve_ivp(rhs, (0, t[-1]), [0.0], method="LSODA", t_eval=t, rtol=1e-9, atol=1e-12, max_step=STEP).y[0]
    assert np.max(np.abs(run["fcgr_blockade_fraction"].values - ref)) < 2e-3


def test_platelets_follow_production_thrombopoietin_and_clearance(run):
    base = 12.0
    normal, lifespan, production, m, maturation = (_value(n) for n in (
        "platelet_normal_1e9_per_L", "platelet_lifespan_days", "platelet_production_fraction",
        "megakaryocyte_tpo_share", "megakaryocyte_maturation_days"))
    made = production * normal / lifespan
    destroy = made / base - 1 / lifespan  # holds the pretreatment count

    def rhs(t, y):
        p, mk = y
        clearance = _interp(t, run, "platelet_clearance_fraction_of_baseline")
        tpo = (base / normal + m) / (p / normal + m)
        return [made * mk - p / lifespan - destroy * clearance * p, (tpo - mk) / maturation]

    t = run["time"].values
    ref = solve_ivp(rhs, (0, t[-1]), [base, 1.0], method="LSODA", t_eval=t, rtol=1e-9, atol=1e-9, max_step=STEP).y
    platelets = run["platelets_1e9_per_L"].values
    assert np.max(np.abs(platelets - ref[0]) / ref[0]) < 5e-3
    assert np.max(np.abs(run["megakaryopoiesis"].values - ref[1])) < 5e-3
    tpo = run["thrombopoietin_fraction_of_baseline"].values
    assert np.allclose(tpo, (base / normal + m) / (platelets / normal + m))


def test_thrombopoietin_feedback_caps_the_rise_and_shortens_the_response():
    def course(m):
        ds = simulate(Scenario(regimen=get_regimen("itp"), disease="itp", days=60.0, output_every_days=0.25,
                               parameters={"platelet_baseline_1e9_per_L": 12.0, "megakaryocyte_tpo_share": m}))
        p = ds["platelets_1e9_per_L"].values[0]
        return p.max(), float(np.sum(p >= 50) * 0.25), ds["megakaryopoiesis"].values[0].min()

    peak, days, output = course(_value("megakaryocyte_tpo_share"))
    weak_peak, weak_days, weak_output = course(10.0)  # the upper bound: TPO barely moves
    assert peak < weak_peak and days < weak_days
    assert output < 0.6 < weak_output  # platelet output falls as platelets rise
