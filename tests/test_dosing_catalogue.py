"""Shipped regimens: each compiles for its own indication and matches its s.10 row."""

from __future__ import annotations

import dataclasses

import pytest

from ivigsim.dosing import INDICATIONS, STANDARD_REGIMENS, get_regimen, get_standard_regimen
from ivigsim.errors import InputError
from ivigsim.model.patient import Patient

ADULT = Patient(weight_kg=70.0, height_cm=175.0, sex="female", age_years=50)


def test_the_catalogue_has_the_promised_names():
    assert set(STANDARD_REGIMENS) == {"itp", "itp-single", "gbs", "kawasaki", "cidp", "mg", "pid"}
    assert {entry.indication for entry in STANDARD_REGIMENS.values()} == set(INDICATIONS)


@pytest.mark.parametrize("name", sorted(STANDARD_REGIMENS))
@pytest.mark.parametrize("dosing_weight", ["actual", "ideal", "adjusted"])
def test_every_shipped_regimen_compiles_for_its_indication(name, dosing_weight):
    entry = STANDARD_REGIMENS[name]
    regimen = dataclasses.replace(entry.regimen, dosing_weight=dosing_weight)
    plan = regimen.compile(ADULT, entry.indication)
    assert plan.indication == entry.indication
    assert plan.total_g > 0
    assert "calibration-targets.md s.10" in entry.source
    assert entry.regimen.name == name
    assert sum(w.amount_g for w in plan.windows) == pytest.approx(plan.total_g, rel=1e-12)


# (name, [(start day, g/kg), ...]) straight from the s.10 rows and the brief's choices
EXPECTED = {
    "itp": [(0, 1.0), (1, 1.0)],
    "itp-single": [(0, 1.0)],
    "gbs": [(d, 0.4) for d in range(5)],
    "kawasaki": [(0, 2.0)],
    "cidp": [(0, 1.0), (1, 1.0)] + [(21 * k, 1.0) for k in range(1, 9)],
    "mg": [(0, 1.0), (1, 1.0)],
    "pid": [(28 * k, 0.4) for k in range(6)],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shipped_regimens_match_their_rows(name):
    plan = get_standard_regimen(name).compile(ADULT)
    got = [(i.start_day, i.g_per_kg) for i in plan.infusions]
    assert [d for d, _ in got] == [d for d, _ in EXPECTED[name]]
    assert [g for _, g in got] == pytest.approx([g for _, g in EXPECTED[name]], rel=1e-15)


def test_kawasaki_runs_11_hours():
    (infusion,) = get_standard_regimen("kawasaki").compile(Patient(weight_kg=20, age_years=3)).infusions
    assert infusion.duration_h == pytest.approx(11.0, rel=1e-12)
    assert 10 <= infusion.duration_h <= 12  # McCrindle 2017: over 10-12 h


def test_unknown_regimen_lists_the_names():
    with pytest.raises(InputError) as info:
        get_regimen("ivig-for-everything")
    for name in STANDARD_REGIMENS:
        assert name in str(info.value)
