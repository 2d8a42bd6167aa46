"""The joint calibration's shipped result (ivigsim/data/calibration/joint.json) is reproducible.

The objective is re-evaluated with the recorded settings (population sizes, seeds: the same
common random numbers), at the model's shipped values and at the recorded estimate, and must
give the recorded -2 log L target by target. If a model, trial file or target changed since
the file was written, this fails on purpose: run `python -m ivigsim.validation.calibrate
--joint` again (docs/calibration.md, "Joint calibration").
"""

import json
import math

import pytest

from ivigsim.validation import joint
from ivigsim.validation import likelihood as lk
from ivigsim.validation.calibrate import FORMAT, JOINT_FILE
from ivigsim.validation.runner import simulation_parameters
from ivigsim.validation.trial_targets import with_overrides

DOC = json.loads(JOINT_FILE.read_text())
#: Same common random numbers, same settings: the terms agree to the solver's tolerance (the
#: engine's rtol is 1e-6; a change of model, trial file or target moves them far more).
TOLERANCE = 1e-4
SETTINGS = DOC["objective"]["settings"]
STALE = (f"joint.json was computed for fingerprint {DOC['fingerprint']}, today's is {joint.fingerprint()}: "
         "if they differ, the model, a trial file or a target changed; run "
         "`python -m ivigsim.validation.calibrate --joint` again")


@pytest.fixture(scope="module")
def objective():
    # A file written before soft criteria existed has no "softness": it was computed with hard ones.
    return joint.Objective(joint.CALIBRATION_TARGETS, fast=SETTINGS["fast"], seed=SETTINGS["seed"],
                           sizes=SETTINGS["sizes"], softness=SETTINGS.get("softness", 0.0))


def _check(breakdown, recorded):
    want = {t["target"]: t["minus2_log_l"] for t in recorded["terms"]}
    got = breakdown.by_target
    assert set(got) == set(want), STALE
    for name in want:
        assert got[name] == pytest.approx(want[name], abs=TOLERANCE, rel=TOLERANCE), f"{name}: {STALE}"
    assert breakdown.total == pytest.approx(recorded["total"], abs=10 * TOLERANCE, rel=TOLERANCE), STALE


def test_the_file_declares_its_format_provenance_and_targets():
    assert DOC["format"] == FORMAT
    for key in ("created", "ivigsim_version", "git_commit", "command", "runtime_s"):
        assert key in DOC["provenance"]
    assert DOC["objective"]["targets"] == [t.id for t in joint.CALIBRATION_TARGETS], STALE
    assert all(t.role == "calibration" for t in joint.CALIBRATION_TARGETS)


@pytest.mark.slow  # 4-17 s: in CI and with --run-slow (the README command stays under 5 minutes)
def test_objective_at_the_shipped_values_reproduces_the_recorded_value(objective):
    _check(objective.breakdown({}), DOC["objective"]["shipped"])


@pytest.mark.slow  # 4-17 s: in CI and with --run-slow (the README command stays under 5 minutes)
def test_objective_at_the_estimate_reproduces_the_recorded_value(objective):
    estimate = {p["name"]: p["estimate"] for p in DOC["parameters"]}
    _check(objective.breakdown(estimate), DOC["objective"]["estimate"])
    assert DOC["objective"]["estimate"]["total"] <= DOC["objective"]["shipped"]["total"]


def test_a_perfect_hit_is_more_likely_than_a_miss_for_every_calibration_target():
    for t in joint.CALIBRATION_TARGETS:
        hit = 100 * t.counts[0] / t.counts[1] if t.counts else t.published
        sd = joint.figure_sd(t)
        for miss in (hit - 2 * sd, hit + 2 * sd):
            assert lk.term(t, hit).minus2_log_l < lk.term(t, miss).minus2_log_l, t.id


def test_estimates_intervals_and_correlations_are_consistent():
    names = [p["name"] for p in DOC["parameters"]]
    assert len(set(names)) == len(names)
    for p in DOC["parameters"]:
        lo, hi = p["bounds"]
        assert lo <= p["lower95"] <= p["estimate"] <= p["upper95"] <= hi, p["name"]
        assert p["identified"] in ("yes", "weak", "no")
        assert p["block"] == joint.block_of(p["name"])
    corr = DOC["correlations"]
    assert corr["names"] == names
    m = corr["matrix"]
    for i in range(len(names)):
        assert m[i][i] == pytest.approx(1.0, abs=1e-5)
        for j in range(len(names)):
            assert m[i][j] == pytest.approx(m[j][i], abs=1e-5) and -1 - 1e-6 <= m[i][j] <= 1 + 1e-6
    flagged = set(DOC["identifiability"]["not_identified"]) | set(DOC["identifiability"]["weakly_identified"])
    assert flagged == {p["name"] for p in DOC["parameters"] if p["identified"] != "yes"}


def test_the_ensemble_has_the_declared_structure_and_stays_within_the_declared_bounds():
    ensemble = DOC["ensemble"]
    names = [p["name"] for p in DOC["parameters"]]
    assert ensemble["names"] == names
    vectors = ensemble["vectors"]
    assert len(vectors) >= 100
    declared = {n: joint.fit_parameter(n) for n in names}
    for v in vectors:
        assert len(v) == len(names)
        for name, value in zip(names, v):
            lo, hi = declared[name].bounds
            assert math.isfinite(value) and lo <= value <= hi, name


def test_the_stored_laplace_reproduces_the_files_intervals_correlations_and_ensemble():
    """What the file derives from its Hessian (``calibrate.apply_laplace``) follows from the Hessian,
    estimate, steps and repairs it records (reproducibility, not evidence about the model)."""
    import copy

    import numpy as np

    from ivigsim.validation.calibrate import apply_laplace, stored_laplace

    again = apply_laplace(copy.deepcopy(DOC), stored_laplace(DOC), len(DOC["ensemble"]["vectors"]))
    for mine, stored in zip(again["parameters"], DOC["parameters"]):
        assert mine["lower95"] == pytest.approx(stored["lower95"], rel=1e-9)
        assert mine["upper95"] == pytest.approx(stored["upper95"], rel=1e-9)
        assert mine["identified"] == stored["identified"]
    assert again["correlations"] == DOC["correlations"]
    assert np.allclose(again["ensemble"]["vectors"], DOC["ensemble"]["vectors"], rtol=1e-12, atol=0)


def test_overrides_reach_only_the_simulations_whose_model_declares_them():
    overrides = {"fcrn_km_g_per_L": 60.0, "phagocytosis_cooperativity": 8.0, "nerve_repair_per_day": 0.09}
    assert simulation_parameters("igg-half-life", overrides) == {"fcrn_km_g_per_L": 60.0}
    assert simulation_parameters("fcgr-duration", overrides) == {"fcrn_km_g_per_L": 60.0,
                                                                 "phagocytosis_cooperativity": 8.0}
    assert simulation_parameters("gbs-delta-igg-day14", overrides) == {"fcrn_km_g_per_L": 60.0,
                                                                       "nerve_repair_per_day": 0.09}
    trial = joint._trial("itp-robak-2009.yaml")
    changed = with_overrides(trial, overrides)
    assert changed.population.parameters["phagocytosis_cooperativity"] == 8.0
    assert changed.population.parameters["fcrn_km_g_per_L"] == 60.0
    assert "nerve_repair_per_day" not in changed.population.parameters
    assert changed.population.parameters["platelet_baseline_1e9_per_L"] == trial.population.parameters[
        "platelet_baseline_1e9_per_L"]  # the file's own typical values stay
    assert with_overrides(trial, {}) is trial


def test_population_sizes_are_the_smallest_whose_monte_carlo_error_is_below_the_ratio():
    from ivigsim.validation.runner import Verdict

    t = next(t for t in joint.CALIBRATION_TARGETS if t.id == "kawasaki-caa-week2-aspirin")
    sd = joint.figure_sd(t)  # binomial SD of 18/78, in per cent
    se = 1.0  # at the file's 2,000 patients
    pilot = [Verdict(t, 23.0, 23.0 - lk.Z95 * se, 23.0 + lk.Z95 * se)]
    sizes, rows = joint.population_sizes([t], ratio=0.5, pilot=pilot)
    need = 2000 * (se / (0.5 * sd)) ** 2
    assert rows[0]["needed"] == math.ceil(need)
    assert sizes == {"kawasaki-newburger-1986.yaml": min(n for n in joint.SIZE_LADDER if n >= need)}
