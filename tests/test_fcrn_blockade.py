"""IVIG given during FcRn blockade (``ivigsim.validation.fcrn_blockade``): a mechanistic
prediction of docs/comparators.md. No published figure exists to compare with, so the tests
check what the prediction rests on: the half-life's arithmetic against a closed form (the
module's doctest), that the effect needs the inhibitor to bind FcRn (a drug that barely binds
leaves the half-life as it is without it), and that the documented table and figure come from
this code."""

from __future__ import annotations

import doctest
import sys
from pathlib import Path

import numpy as np
import pytest

from ivigsim.validation import fcrn_blockade

ROOT = Path(__file__).resolve().parents[1]
ALONE, EFGARTIGIMOD, NIPOCALIMAB = fcrn_blockade.ARMS


def test_the_half_life_fit_against_a_closed_form():
    result = doctest.testmod(fcrn_blockade)
    assert result.attempted >= 1 and result.failed == 0


@pytest.fixture(scope="module")
def arms():
    return {a.label: a for a in fcrn_blockade.table()}


@pytest.mark.slow  # 3 s or more (README run under 5 minutes)
def test_ivig_during_blockade_is_cleared_at_least_twice_as_fast(arms):
    alone = arms[ALONE].half_life_days
    assert 18.0 < alone < 24.0  # the infused IgG's own half-life once distributed (tracer: 22.9 days)
    for label in (EFGARTIGIMOD, NIPOCALIMAB):
        assert arms[label].half_life_days < 0.5 * alone, label
    lo, hi = fcrn_blockade.window()
    inside = (arms[EFGARTIGIMOD].time >= lo) & (arms[EFGARTIGIMOD].time <= hi)
    assert arms[EFGARTIGIMOD].occupancy[inside].min() > 0.3  # FcRn is blocked throughout the window
    assert np.all(arms[ALONE].occupancy == 0.0)


@pytest.mark.slow  # 3 s or more (README run under 5 minutes)
def test_an_inhibitor_that_barely_binds_leaves_the_half_life_as_without_it(arms):
    """Efgartigimod at the weakest affinity its parameter allows (Kd 10 g/L, against plasma levels of
    about 0.2 g/L): a few per cent of FcRn occupied, so the infused IgG's half-life moves by a few
    per cent only, in proportion; at the shipped affinity it falls threefold."""
    weak = fcrn_blockade.simulate_arm(EFGARTIGIMOD, {"fcrn_inhibitor_kd_g_per_L": 10.0})
    lo, hi = fcrn_blockade.window()
    inside = (weak.time >= lo) & (weak.time <= hi)
    occupancy = float(weak.occupancy[inside].mean())
    assert 0.0 < occupancy < 0.03
    alone = arms[ALONE].half_life_days
    assert alone * (1 - 3 * occupancy) < weak.half_life_days < alone


@pytest.mark.slow  # 3 s or more (README run under 5 minutes)
def test_the_documented_table_and_figure_come_from_this_code(arms, tmp_path):
    text = (ROOT / "docs" / "comparators.md").read_text(encoding="utf-8")
    assert fcrn_blockade.markdown(list(arms.values())) in text
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import figures
    finally:
        sys.path.remove(str(ROOT / "docs"))
    name = "comparators-ivig-during-fcrn-blockade.png"
    assert f"figures/{name}" in text and (ROOT / "docs" / "figures" / name).exists()
    (path,) = figures.draw(tmp_path, [name])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
