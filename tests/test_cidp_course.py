"""CIDP over a maintenance course (issue: response, wear-off between doses, relapse when
stopped, remission when the drive fades), for a responder on 2 g/kg loading then 1 g/kg
every 3 weeks x 8 (examples/cidp-maintenance.yaml)."""

import dataclasses
from pathlib import Path

import pytest

from ivigsim.io.scenario_file import load_scenario
from ivigsim.simulation import simulate

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cidp-maintenance.yaml"
LAST_DOSE = 168  # days 21, 42, ..., 168
# A responder: little IVIG-insensitive attack, and a nerve threshold above what IVIG holds the
# antibody-effector load to (the typical threshold, 0.34, sits near it: an IVIG-dependent patient).
RESPONDER = {"cidp_ivig_insensitive_share": 0.3, "cidp_effector_threshold": 0.5}


def _course(**parameters):
    scenario = load_scenario(EXAMPLE)
    scenario = dataclasses.replace(scenario, parameters={**scenario.parameters, **RESPONDER, **parameters},
                                   days=LAST_DOSE + 140)
    ds = simulate(scenario).isel(patient=0)
    return lambda name, day: float(ds[name].sel(time=day))


@pytest.fixture(scope="module")
def course():
    return _course()


def test_a_responder_improves_by_a_point_and_keeps_it_on_maintenance(course):
    assert course("incat_score", 0) - course("incat_score", 42) >= 1.0
    assert course("incat_score", LAST_DOSE) <= course("incat_score", 42)


def test_conduction_block_wears_off_before_each_maintenance_dose(course):
    for dose in (63, 105, 126, 147):  # a week after a dose vs the day before the next
        assert course("conduction_block", dose + 20) > course("conduction_block", dose + 7) * 1.05
    # Once demyelination has settled (early on it is still repairing underneath), the
    # wear-off shows in INCAT itself.
    for dose in (105, 126, 147):
        assert course("incat_score", dose + 20) > course("incat_score", dose + 7) + 0.01


def test_relapse_when_treatment_stops_unless_the_drive_has_faded(course):
    assert course("incat_score", LAST_DOSE + 140) - course("incat_score", LAST_DOSE) > 1.0
    remitted = _course(cidp_remission=0.95)
    assert remitted("incat_score", LAST_DOSE + 140) <= remitted("incat_score", LAST_DOSE) + 0.05
