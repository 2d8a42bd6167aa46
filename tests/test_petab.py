"""PEtab export: the linter accepts it, and libRoadRunner simulating each condition from the
tables alone reproduces ivigsim's own predictions of the dataset.

Two ways of applying a condition are checked, because tools differ: a fresh model per
condition with the values written into the SBML, and one libRoadRunner instance given each
condition's values by ``setValue`` then ``reset``, in an interleaved order, which is what
pyPESTO's roadrunner backend does and what first exposed stale event triggers and
unrecomputed initial assignments (``ivigsim.io.petab``'s module docstring).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import libsbml
import numpy as np
import petab.v1 as petab
import pytest
import roadrunner

from ivigsim.engine.solver import Dopri5
from ivigsim.errors import InputError
from ivigsim.io.nonmem import parse_dataset
from ivigsim.io.petab import build_petab, dose_parameters, write_petab
from ivigsim.subjects import SubjectSetup

TIGHT = Dopri5(rtol=1e-10, atol=1e-12)
#: As tests/test_sbml.py: two solvers each at rtol 1e-10 agree within 1e-5.
RTOL = 1e-5
IVIG_ERROR = {"igg_ivig_g_per_L": ("combined", 0.1, 0.1)}

# Subject 1: infusions at t = 0 and later, a second output, an observation without DV (skipped).
# Subject 2: no BASEIGG, observed before its only infusion, which starts after t = 0.
# Subject 3: three infusions, the first two back to back (one ends as the next starts).
# Subject 4: a prediction record only, so no condition.
# Subject 5: a one-hour infusion far from any observation (an integrator without the
# events of the export steps across it: tested by hand, the whole dose went missing).
DATA = """ID,TIME,AMT,DUR,EVID,DV,WT,BASEIGG,OUTPUT
1,0,28,0.2,1,.,70,10,
1,0.1,0,.,0,14.5,70,10,
1,1,0,.,0,25,70,10,
1,7,0,.,0,18,70,10,
1,7,0,.,0,3.1,70,10,igg_ivig_g_per_L
1,21,28,0.25,1,.,70,10,
1,21.1,0,.,0,18,70,10,
1,28,0,.,0,.,70,10,
2,2,0,.,0,11,90,.,
2,5,40,0.3,1,.,90,.,
2,5.1,0,.,0,22,90,.,
2,14,0,.,0,15,90,.,
3,0,20,0.1,1,.,50,8,
3,0.1,20,0.1,1,.,50,8,
3,1,0,.,0,22,50,8,
3,10,20,0.1,1,.,50,8,
3,12,0,.,0,22,50,8,
4,0,30,0.2,1,.,60,.,
4,3,0,.,2,.,60,.,
5,0.5,0,.,0,11,70,.,
5,30,35,0.05,1,.,70,.,
5,60,0,.,0,12,70,.,
"""


@pytest.fixture(scope="module")
def dataset():
    return parse_dataset(DATA, "d", "g")


@pytest.fixture(scope="module")
def problem(dataset):
    return build_petab(dataset, estimate=["fcrn_igk", "baseline_igg_g_per_L"], errors=IVIG_ERROR)


@pytest.fixture(scope="module")
def expected(dataset):
    """ivigsim's predictions at every observation with a DV, by (subject ID, output, time)."""
    setup = SubjectSetup.create(dataset.subjects, None, solver=TIGHT)
    values, status = setup.predict()
    assert not status.any()
    return {(s.id, r.output, r.time_day): v for s, column in zip(dataset.subjects, values)
            for r, v in zip(s.records, column) if r.dv is not None}


def _lint(yaml_path) -> bool:
    return petab.lint_problem(petab.Problem.from_yaml(yaml_path))


def _condition_values(problem, condition_id: str) -> dict[str, float]:
    """The condition's model values, a parameter named in the table taken at its nominal value."""
    row = problem.conditions.loc[condition_id].drop("conditionName")
    nominal = problem.parameters["nominalValue"]
    return {k: float(nominal[v]) if isinstance(v, str) else float(v) for k, v in row.items()}


def _tight(rr: roadrunner.RoadRunner) -> roadrunner.RoadRunner:
    rr.integrator.relative_tolerance = 1e-10
    rr.integrator.absolute_tolerance = 1e-12
    rr.integrator.maximum_num_steps = 100_000
    return rr


def _compare(problem, condition_id, simulate, expected, subject_of) -> None:
    """Simulate one condition at its measurement times and compare every measurement."""
    rows = problem.measurements[problem.measurements.simulationConditionId == condition_id]
    formulas = problem.observables["observableFormula"]
    outputs = sorted({formulas[o] for o in rows.observableId})
    times = np.unique(np.r_[0.0, rows.time.to_numpy()])
    result = simulate(times, ["time", *outputs])
    np.testing.assert_array_equal(result[:, 0], times)
    for row in rows.itertuples():
        output = formulas[row.observableId]
        got = result[np.searchsorted(times, row.time), 1 + outputs.index(output)]
        want = expected[(subject_of[condition_id], output, row.time)]
        assert got == pytest.approx(want, rel=RTOL), (condition_id, output, row.time)


# -- the files pass the linter --------------------------------------------------------------


def test_written_problem_passes_the_petab_linter(dataset, tmp_path):
    path = write_petab(dataset, tmp_path / "petab", estimate=["fcrn_igk", "baseline_igg_g_per_L"], errors=IVIG_ERROR)
    assert path.name == "problem.yaml"
    assert _lint(path) is False
    loaded = petab.Problem.from_yaml(path)
    # one measurement per DV (the DV-less observation and the prediction record are not data)
    assert len(loaded.measurement_df) == sum(len(s.observations) for s in dataset.subjects) == 12
    assert list(loaded.condition_df.index) == ["subject_1", "subject_2", "subject_3", "subject_5"]
    assert set(loaded.observable_df.index) == {"obs_igg_total_g_per_L", "obs_igg_ivig_g_per_L"}
    assert sorted(loaded.x_free_ids) == sorted(f"{p}__subject_{i}" for p in ("fcrn_igk", "baseline_igg_g_per_L")
                                               for i in (1, 2, 3, 5))


def test_pooled_and_no_dose_problems_pass_the_linter(tmp_path):
    header, *rows = DATA.strip().split("\n")
    drop = header.split(",").index("BASEIGG")
    pooled = parse_dataset("\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != drop)
                                     for line in (header, *rows)) + "\n", "d", "g")  # no BASEIGG
    path = write_petab(pooled, tmp_path / "pooled", estimate=["fcrn_igk", "baseline_igg_g_per_L"],
                       errors=IVIG_ERROR, per_subject=False)
    assert _lint(path) is False
    table = petab.Problem.from_yaml(path).parameter_df
    assert sorted(table.index[table.estimate == 1]) == ["baseline_igg_g_per_L", "fcrn_igk"]
    assert "objectivePriorType" not in table  # a pooled fit has no population prior
    baseline_only = parse_dataset("ID,TIME,DV,WT\n1,0,11,70\n1,5,11.2,70\n", "d", "g")
    no_dose = build_petab(baseline_only)
    assert not any(p.startswith("dose") for p in no_dose.conditions)
    path = write_petab(baseline_only, tmp_path / "no_dose")
    assert _lint(path) is False


@pytest.mark.parametrize("corrupt", ["drop a noise parameter", "unknown condition column", "unknown condition",
                                     "bounds reversed"])
def test_linter_catches_a_corrupted_table(dataset, tmp_path, corrupt, caplog):
    """The linter check above can fail: each corruption is reported as an error."""
    loaded = petab.Problem.from_yaml(write_petab(dataset, tmp_path / "p", estimate=["fcrn_igk"], errors=IVIG_ERROR))
    assert petab.lint_problem(loaded) is False
    if corrupt == "drop a noise parameter":
        loaded.parameter_df = loaded.parameter_df.drop("sd_proportional_igg_total_g_per_L")
    elif corrupt == "unknown condition column":
        loaded.condition_df = loaded.condition_df.rename(columns={"body_weight_kg": "body_mass_kg"})
    elif corrupt == "unknown condition":
        loaded.measurement_df.loc[0, "simulationConditionId"] = "subject_99"
    else:
        loaded.parameter_df.loc["fcrn_igk__subject_1", "lowerBound"] = 1e3
    with caplog.at_level(logging.ERROR):
        assert petab.lint_problem(loaded) is True


# -- the tables say what ivigsim computes -------------------------------------------------


def test_fresh_model_per_condition_reproduces_ivigsim(dataset, problem, expected):
    subject_of = {c: s for s, c in problem.condition_of.items()}
    for condition_id in problem.conditions.index:
        document = libsbml.readSBMLFromString(problem.sbml)
        for name, value in _condition_values(problem, condition_id).items():
            document.getModel().getParameter(name).setValue(value)
        rr = _tight(roadrunner.RoadRunner(libsbml.writeSBMLToString(document)))
        _compare(problem, condition_id, lambda t, s: rr.simulate(times=t, selections=s), expected, subject_of)


def test_one_roadrunner_reset_between_conditions_reproduces_ivigsim(dataset, problem, expected):
    """pyPESTO's way (``setValue`` then ``reset``), conditions interleaved so a trigger true
    at t = 0 in one simulation precedes one where it is not. (Setting ``init(x)`` instead
    works too, but libRoadRunner then takes seconds per condition.)"""
    subject_of = {c: s for s, c in problem.condition_of.items()}
    rr = _tight(roadrunner.RoadRunner(problem.sbml))
    order = ["subject_1", "subject_2", "subject_1", "subject_3", "subject_5", "subject_2", "subject_3", "subject_1"]
    for condition_id in order:
        values = _condition_values(problem, condition_id)
        rr.setValues(list(values), list(values.values()))
        rr.reset()
        _compare(problem, condition_id, lambda t, s: rr.simulate(times=t, selections=s), expected, subject_of)
        rr.reset()


def test_conditions_carry_each_subjects_covariates_and_doses(dataset, problem):
    c = problem.conditions
    assert c.loc["subject_2", "body_weight_kg"] == 90.0
    assert c.loc["subject_3", "baseline_igg_g_per_L"] == "baseline_igg_g_per_L__subject_3"  # estimated
    nominal = problem.parameters["nominalValue"]
    assert nominal["baseline_igg_g_per_L__subject_3"] == 8.0  # BASEIGG
    assert nominal["baseline_igg_g_per_L__subject_2"] == 11.4  # no BASEIGG: the model's default
    assert build_petab(dataset, errors=IVIG_ERROR).conditions.loc["subject_3", "baseline_igg_g_per_L"] == 8.0
    start, end, rate = dose_parameters(2)
    assert c.loc["subject_3", [start, end, rate]].tolist() == pytest.approx([10.0, 10.1, 200.0])
    assert c.loc["subject_2", rate] == 0.0  # an unused slot
    assert c.loc["subject_1", "fcrn_igk"] == "fcrn_igk__subject_1"
    document = libsbml.readSBMLFromString(problem.sbml)
    assert document.getModel().getNumEvents() == 2 * 3  # a start and an end per slot


def test_parameter_table_priors_and_bounds(problem):
    table = problem.parameters
    row = table.loc["fcrn_igk__subject_2"]
    assert (row.parameterScale, row.estimate, row.nominalValue) == ("log", 1, 5.08)
    mean, sd = map(float, row.objectivePriorParameters.split(";"))
    assert mean == pytest.approx(math.log(5.08)) and sd == pytest.approx(math.sqrt(math.log(1 + 0.263 ** 2)))
    assert (row.lowerBound, row.upperBound) == pytest.approx((5.08 / 100, 50.0))  # declared upper bound 50
    # the subject's own baseline is its prior's median
    assert float(table.loc["baseline_igg_g_per_L__subject_3", "objectivePriorParameters"].split(";")[0]) == \
        pytest.approx(math.log(8.0))
    noise = table.loc["sd_proportional_igg_total_g_per_L"]
    assert (noise.estimate, noise.nominalValue) == (0, 0.05)


def test_a_share_is_estimated_on_the_log_scale_below_one(dataset):
    """PEtab v1 has no logit scale: omega on the logit scale becomes omega (1 - x) on the log scale."""
    table = build_petab(dataset, estimate=["b_cell_inhibition_max"], errors=IVIG_ERROR,
                        spreads={"b_cell_inhibition_max": 0.5}).parameters
    row = table.loc["b_cell_inhibition_max__subject_1"]
    assert row.upperBound < 1.0
    assert float(row.objectivePriorParameters.split(";")[1]) == pytest.approx(0.5 * (1 - 0.5))


@pytest.mark.parametrize("kind, additive, proportional, formula, transformation, noise", [
    ("additive", 0.5, 0.0, "noiseParameter1_obs_igg_total_g_per_L", "lin", "sd_additive_igg_total_g_per_L"),
    ("proportional", 0.0, 0.1, "noiseParameter1_obs_igg_total_g_per_L * igg_total_g_per_L", "lin",
     "sd_proportional_igg_total_g_per_L"),
    ("combined", 0.5, 0.1, "sqrt(noiseParameter1_obs_igg_total_g_per_L^2 + (noiseParameter2_obs_igg_total_g_per_L "
     "* igg_total_g_per_L)^2)", "lin", "sd_additive_igg_total_g_per_L;sd_proportional_igg_total_g_per_L"),
    ("lognormal", 0.0, 0.1, "noiseParameter1_obs_igg_total_g_per_L", "log", "sd_log_igg_total_g_per_L"),
])
def test_error_models(dataset, kind, additive, proportional, formula, transformation, noise):
    """Given as ``ivigsim fit`` takes them (ivigsim.estimation.residual), as text or a tuple."""
    text = f"{kind}:{additive:g},{proportional:g}" if kind == "combined" else \
        f"{kind}:{additive if kind == 'additive' else proportional:g}"
    assert build_petab(dataset, errors={"igg_total_g_per_L": text, **IVIG_ERROR}).observables.equals(
        build_petab(dataset, errors={"igg_total_g_per_L": (kind, additive, proportional), **IVIG_ERROR}).observables)
    built = build_petab(dataset, errors={"igg_total_g_per_L": (kind, additive, proportional), **IVIG_ERROR})
    row = built.observables.loc["obs_igg_total_g_per_L"]
    assert (row.noiseFormula, row.observableTransformation) == (formula, transformation)
    rows = built.measurements[built.measurements.observableId == "obs_igg_total_g_per_L"]
    assert set(rows.noiseParameters) == {noise}
    for name in noise.split(";"):
        assert built.parameters.loc[name, "estimate"] == 0
    declared = additive if kind == "additive" else proportional
    assert built.parameters.loc[noise.split(";")[-1], "nominalValue"] == declared


# -- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, field", [
    ({"estimate": ["fcrn_igkk"]}, "estimate"),
    ({"estimate": ["body_weight_kg"]}, "estimate"),  # a covariate
    ({"estimate": ["fcgr_blockade_strength"]}, "estimate"),  # a mechanism switch
    ({"estimate": ["reference_weight_kg"]}, "estimate"),  # fixed
    ({"estimate": ["fcrn_igk", "fcrn_igk"]}, "estimate"),
    ({"estimate": ["fcrn_km_g_per_L"]}, "prior fcrn_km_g_per_L"),  # no declared variability, so no prior
    ({"estimate": ["baseline_igg_g_per_L"], "per_subject": False}, "estimate"),  # BASEIGG given per subject
    ({"estimate": ["fcrn_blockade"], "spreads": {"fcrn_blockade": 0.5}}, "estimate"),  # typical 0: no log scale
    ({"estimate": ["fcrn_igk"], "spreads": {"no_such": 0.3}}, "prior no_such"),  # named as the prior it is
    ({"estimate": ["fcrn_igk"], "spreads": {"fcrn_igk": 0.3}, "per_subject": False}, "spreads"),
    ({"estimate": ["fcrn_igk"], "spreads": {"fcrn_igk": 30}}, "prior fcrn_igk"),  # a percentage
    ({"errors": {"igg_total_g_per_L": "proportional"}}, "errors.igg_total_g_per_L"),
    ({"errors": {"no_such_output": ("additive", 1, 0)}}, "errors"),
    ({"errors": {"igg_total_g_per_L": ("exponential", 1, 0)}}, "errors.igg_total_g_per_L"),
    ({"errors": {"igg_total_g_per_L": ("additive", 0, 0.1)}}, "errors.igg_total_g_per_L"),
    ({"errors": {"igg_total_g_per_L": ("proportional", -1, 0.1)}}, "errors.igg_total_g_per_L"),
    ({"errors": {}}, "errors.igg_ivig_g_per_L"),  # an observed output without an error model
    ({"parameters": {"fcrn_igk": -1.0}}, "parameters.fcrn_igk"),
])
def test_refusals_name_the_field(dataset, kwargs, field):
    kwargs = {"errors": IVIG_ERROR, **kwargs}
    with pytest.raises(InputError) as raised:
        build_petab(dataset, **kwargs)
    assert raised.value.field.startswith(field), raised.value


def test_refusals_of_the_data(tmp_path):
    no_dv = parse_dataset("ID,TIME,AMT,DUR,EVID,DV,WT\n1,0,28,0.2,1,.,70\n1,1,0,.,2,.,70\n", "d", "g")
    with pytest.raises(InputError, match="DV"):
        build_petab(no_dv)
    zero = parse_dataset("ID,TIME,DV,WT\n1,0,11,70\n1,5,0,70\n", "d", "g")
    with pytest.raises(InputError) as raised:
        build_petab(zero, errors={"igg_total_g_per_L": ("lognormal", 0, 0.1)})
    assert raised.value.field == "dataset row 2 column DV"
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError) as raised:
        write_petab(zero, tmp_path / "file" / "petab")
    assert raised.value.field == "--out"  # export-petab's option


# -- pyPESTO on the exported problem ------------------------------------------------------


@pytest.mark.slow  # 3 s or more (README run under 5 minutes): in CI and with --run-slow
def test_pypesto_recovers_the_parameters_that_made_the_data(dataset, tmp_path):
    """Noise-free data from ivigsim at fcrn_igk = 4 (typical 5.08): a pooled fit through
    pyPESTO and libRoadRunner finds 4 again."""
    pytest.importorskip("pypesto")
    from ivigsim.estimation.population import fit_population_pypesto

    setup = SubjectSetup.create(dataset.subjects, None, parameters={"fcrn_igk": 4.0}, solver=TIGHT)
    values, _ = setup.predict()
    dv = {r.number: v for s, column in zip(dataset.subjects, values) for r, v in zip(s.records, column)}
    lines = DATA.strip().split("\n")
    for number in range(1, len(lines)):
        cells = lines[number].split(",")
        if cells[5] != ".":
            cells[5] = repr(float(dv[number]))
        lines[number] = ",".join(cells)
    data = parse_dataset("\n".join(lines) + "\n", "d", "g")
    additive = {"igg_total_g_per_L": ("additive", 0.5, 0.0), "igg_ivig_g_per_L": ("additive", 0.1, 0.0)}
    path = write_petab(data, tmp_path / "fit", estimate=["fcrn_igk"], per_subject=False, errors=additive)
    estimates = fit_population_pypesto(path, n_starts=3, seed=0)
    assert estimates == {"fcrn_igk": pytest.approx(4.0, rel=1e-4)}

    proportional = write_petab(data, tmp_path / "proportional", estimate=["fcrn_igk"], per_subject=False,
                               errors=IVIG_ERROR)
    with pytest.raises(InputError, match="last time point"):
        fit_population_pypesto(proportional, n_starts=1)


# -- the command line -------------------------------------------------------------------------------


@pytest.mark.slow  # 2 s or more (README run under 5 minutes): in CI and with --run-slow
def test_cli_export_petab_writes_a_problem_the_linter_accepts_and_pypesto_fits_like_ivigsim(tmp_path):
    """The CLI's problem, fitted by pyPESTO on libRoadRunner, reaches the same per-subject
    MAP as ivigsim's own fit of the same data, priors and error model."""
    import petab
    from typer.testing import CliRunner

    from ivigsim.cli import app
    from ivigsim.estimation.fit import fit_dataset
    from ivigsim.estimation.residual import ResidualError
    from ivigsim.io.nonmem import read_dataset

    example = Path(__file__).resolve().parents[1] / "examples" / "nonmem" / "igg-cidp-patient.csv"
    out = tmp_path / "problem"
    result = CliRunner().invoke(app, ["export-petab", str(example), "--time-unit", "d", "--amount-unit", "g",
                                      "-e", "fcrn_igk,baseline_igg_g_per_L",
                                      "--error", "igg_total_g_per_L=lognormal:0.05", "-o", str(out), "--fit", "2"])
    assert result.exit_code == 0, result.output
    assert not petab.v1.lint_problem(petab.v1.Problem.from_yaml(out / "problem.yaml"))
    fitted = {line.split()[0]: float(line.split()[1]) for line in result.output.splitlines() if "__subject_" in line}
    ours = fit_dataset(read_dataset(example, "d", "g"), ["fcrn_igk", "baseline_igg_g_per_L"],
                       errors={"igg_total_g_per_L": ResidualError("lognormal", proportional=0.05)}).fits[0]
    assert fitted["fcrn_igk__subject_1"] == pytest.approx(ours.estimate[0], rel=2e-3)
    assert fitted["baseline_igg_g_per_L__subject_1"] == pytest.approx(ours.estimate[1], rel=2e-3)


def test_cli_export_petab_refuses_a_fit_pypesto_would_get_wrong_before_writing(tmp_path):
    from typer.testing import CliRunner

    from ivigsim.cli import app

    example = Path(__file__).resolve().parents[1] / "examples" / "nonmem" / "igg-cidp-patient.csv"
    out = tmp_path / "problem"
    result = CliRunner().invoke(app, ["export-petab", str(example), "--time-unit", "d", "--amount-unit", "g",
                                      "-e", "fcrn_igk", "-o", str(out), "--fit", "2"])
    assert result.exit_code == 2 and result.output.startswith("error: --error igg_total_g_per_L: expected an additive")
    assert not out.exists()


# Comparators (CMT 2-5): subject 1 IVIG, then two albumin exchanges (2.4 L over 2 h); subject 2
# weekly SCIG (ADDL) and two efgartigimod infusions (0.7 g over 1 h), one overlapping a SCIG dose;
# subject 3 an exchange with donor plasma (CMT 5: exchanged and returned), then IVIG.
COMPARATOR_DATA = """ID,TIME,AMT,DUR,EVID,CMT,II,ADDL,DV,WT,SEX
1,0,28,0.2,1,1,.,.,.,70,M
1,2,.,.,0,.,.,.,20,70,M
1,3,2.4,0.0833,1,4,.,.,.,70,M
1,3.2,.,.,0,.,.,.,11,70,M
1,5,2.4,0.0833,1,4,.,.,.,70,M
1,6,.,.,0,.,.,.,9,70,M
1,10,.,.,0,.,.,.,10,70,M
2,0,10,0.1,1,2,7,3,.,80,F
2,0.05,0.7,0.0417,1,3,.,.,.,80,F
2,7,0.7,0.0417,1,3,.,.,.,80,F
2,10,.,.,0,.,.,.,9,80,F
2,25,.,.,0,.,.,.,7,80,F
3,1,2.4,0.0833,1,5,.,.,.,60,F
3,2,.,.,0,.,.,.,10,60,F
3,4,20,0.2,1,1,.,.,.,60,F
3,8,.,.,0,.,.,.,15,60,F
"""


@pytest.fixture(scope="module")
def comparator_dataset():
    return parse_dataset(COMPARATOR_DATA, "d", "g", source="comparators.csv")


def test_a_comparator_dataset_exports_and_reproduces_ivigsim(comparator_dataset, tmp_path):
    """Each comparator's records drive its own input through slots of their own, on the comparator
    model: libRoadRunner on the exported SBML, each condition applied as pyPESTO's backend does,
    gives ivigsim's own predictions (another solver, independent of the export), and the linter
    accepts the files."""
    problem = build_petab(comparator_dataset, estimate=["fcrn_igk"])
    setup = SubjectSetup.create(comparator_dataset.subjects, None, solver=TIGHT)
    values, status = setup.predict()
    assert not status.any()
    expected = {(s.id, r.output, r.time_day): v for s, column in zip(comparator_dataset.subjects, values)
                for r, v in zip(s.records, column) if r.dv is not None}
    subject_of = {c: s for s, c in problem.condition_of.items()}
    rr = _tight(roadrunner.RoadRunner(problem.sbml))
    for condition_id in ["subject_1", "subject_2", "subject_3", "subject_1"]:
        values = _condition_values(problem, condition_id)
        rr.setValues(list(values), list(values.values()))
        rr.reset()
        _compare(problem, condition_id, lambda t, s: rr.simulate(times=t, selections=s), expected, subject_of)
        rr.reset()
    c = problem.conditions
    start, end, rate = dose_parameters(1, "plasma_exchange_L_per_day")
    assert (start, rate) == ("plex_dose1_start_day", "plex_dose1_rate_L_per_day")
    assert c.loc["subject_1", [start, end, rate]].tolist() == pytest.approx([5.0, 5.0833, 2.4 / 0.0833])
    assert c.loc["subject_2", "scig_dose3_start_day"] == 21.0  # ADDL expanded
    assert c.loc["subject_3", "donor_plasma_dose0_rate_L_per_day"] == pytest.approx(2.4 / 0.0833)
    assert c.loc["subject_3", "plex_dose1_rate_L_per_day"] == 0.0  # an unused slot
    path = write_petab(comparator_dataset, tmp_path / "petab", estimate=["fcrn_igk"])
    assert _lint(path) is False
    # IVIG alone: the model without the comparators, as before
    assert "scig_dose0_start_day" not in build_petab(parse_dataset(DATA, "d", "g"), errors=IVIG_ERROR).conditions
