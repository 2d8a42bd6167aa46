"""The IgG core's disease-driven loss (``ivigsim.model.igg``): a hook any disease may drive.

GBS drives it (damaged nerves consume IgG; Fokkink 2022: clearance higher in more severe
GBS); every other disease gets the default, no extra loss.
"""

from dataclasses import replace

import numpy as np
import pytest

from ivigsim.errors import ModelDefinitionError
from ivigsim.model.declaration import Assignment, Parameter
from ivigsim.model.diseases.none import NO_DISEASE
from ivigsim.model.igg import DISEASE_CATABOLISM, NO_DISEASE_IGG_CATABOLISM, SPECIES, central
from ivigsim.model.library import DISEASES, build_model, compiled_model, compose
from ivigsim.validation.pk import gbs_delta_igg_day14

IGG_STATES = [f"{s}_{where}_g" for s in SPECIES for where in ("central", "peripheral")]


def _at_entry(disease: str, overrides: dict[str, np.ndarray]):
    cm = compiled_model(disease)
    m = cm.model
    n = len(next(iter(overrides.values())))
    p = np.repeat(m.parameter_array({})[:, :1], n, axis=1)
    for name, values in overrides.items():
        p[m.parameter_names.index(name)] = values
    c = cm.constants(p)
    y = cm.initial(p, c)
    u = np.zeros((len(m.input_names), n))
    return cm, p, c, y, u


def test_gbs_patients_start_at_their_baseline_igg_despite_the_loss():
    # Synthesis covers the loss before treatment: no IgG species moves at enrolment, whatever
    # the severity, baseline IgG or strength of the loss.
    grid = np.array([(s, igg, k) for s in (0.5, 3.0, 4.9) for igg in (4.0, 11.4, 20.0) for k in (0.0, 0.01, 0.2)]).T
    cm, p, c, y, u = _at_entry("gbs", {"gbs_disability_baseline": grid[0], "baseline_igg_g_per_L": grid[1],
                                       "gbs_igg_catabolism_per_day": grid[2]})
    dy = cm.rhs(0.0, y, p, c, u)
    for name in IGG_STATES:
        i = cm.model.state_names.index(name)
        np.testing.assert_allclose(dy[i], 0.0, atol=1e-12 * np.abs(y).max(), err_msg=name)
    loss = cm.observe(0.0, y, p, c, u)[DISEASE_CATABOLISM[0]]
    assert (loss > 0).sum() == 2 * 3 * 3  # the loss is really on where its strength is


def test_the_loss_takes_every_species_at_the_same_fractional_rate():
    model = build_model("gbs")
    fluxes = {f.name: f for f in model.fluxes}
    for s in SPECIES:
        flux = fluxes[f"{s}_disease_catabolism"]
        assert flux.source == central(s)
        assert flux.parsed.symbols == {DISEASE_CATABOLISM[0], central(s)}


@pytest.mark.parametrize("name", [d for d in DISEASES if d != "gbs"])
def test_other_diseases_lose_no_igg_to_disease(name):
    model = build_model(name)
    assert NO_DISEASE_IGG_CATABOLISM in model.modules
    cm = compiled_model(name)
    c = cm.constants(model.parameter_array({}))
    for hook in DISEASE_CATABOLISM:
        assert c[model.constant_names.index(hook)][0] == 0.0


def test_more_severe_gbs_clears_igg_faster_and_rises_less():
    # Fokkink 2022: IgG clearance higher with a higher GBS disability score.
    scores = np.array([2.0, 3.0, 4.0, 4.9])
    cm, p, c, y, u = _at_entry("gbs", {"gbs_disability_baseline": scores})
    fcr = cm.observe(0.0, y, p, c, u)["igg_fractional_catabolic_rate_per_day"]
    assert np.all(np.diff(fcr) > 0)
    rises = [gbs_delta_igg_day14({"gbs_disability_baseline": s}) for s in scores]
    assert np.all(np.diff(rises) < 0)


def test_a_disease_must_drive_the_loss_with_both_names_and_a_constant_pretreatment_value():
    one = replace(NO_DISEASE, name="half", assignments=(*NO_DISEASE.assignments, Assignment(DISEASE_CATABOLISM[0], "0", "1/day")))
    with pytest.raises(ModelDefinitionError, match="both"):
        compose(one)
    varying = replace(NO_DISEASE, name="varying", assignments=(
        *NO_DISEASE.assignments, Assignment(DISEASE_CATABOLISM[0], "0.01 * b_cell_activity", "1/day"),
        Assignment(DISEASE_CATABOLISM[1], "0.01 * b_cell_activity", "1/day")))
    with pytest.raises(ModelDefinitionError, match="parameters only"):
        compose(varying)
    driven = replace(NO_DISEASE, name="driven", parameters=(Parameter("k_loss_per_day", 0.01, "1/day", "assumption", "test"),),
                     assignments=(*NO_DISEASE.assignments,
                                  Assignment(DISEASE_CATABOLISM[0], "k_loss_per_day * b_cell_activity", "1/day"),
                                  Assignment(DISEASE_CATABOLISM[1], "k_loss_per_day", "1/day")))
    assert NO_DISEASE_IGG_CATABOLISM not in compose(driven).modules
