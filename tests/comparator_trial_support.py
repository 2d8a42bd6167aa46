"""What the comparator-trial tests share: one plain ``simulate`` of a trial's candidate, the
comparison of a trial patient's course with it, Kaplan's plasma volume by hand, an arm's rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ivigsim.engine.solver import Dopri5
from ivigsim.io.scenario_file import COMPARATORS_ALLOWED, RegimenFile
from ivigsim.model.library import compiled_model
from ivigsim.population import CounterRNG, draw
from ivigsim.scenario import Scenario
from ivigsim.simulation import simulate

TOL = {"rtol": 1e-9, "atol": 1e-11}
OUTPUTS = ["igg_total_g_per_L", "igg_ivig_g_per_L"]


def regimen(doc: dict):
    """A regimen as a trial file writes it, comparators allowed."""
    return RegimenFile.model_validate(doc, context={COMPARATORS_ALLOWED: True}).build()


#: Nipocalimab's between-patient CVs (Valenzuela 2025 Table 3), by the names a user-defined drug's
#: kinetics take; the constants in the order the trial draws their etas.
NIPOCALIMAB_CV = {"clearance_70kg_L_per_day": 0.241, "target_g_per_L": 0.25}
ETA_ORDER = ("kd_g_per_L", "clearance_70kg_L_per_day", "peripheral_volume_L_per_kg",
             "distribution_clearance_70kg_L_per_day", "target_g_per_L", "internalisation_per_day")


def individual_kinetics(trial, candidate: int, typical: dict, cvs: dict, stream: str = "") -> dict:
    """One trial patient's own constants, by hand: each constant with a CV is its typical value
    x exp(sqrt(log(1 + CV^2)) z), z the patient's normal on the trial's stream; a user-defined
    drug's kinetics with them and no variability of its own."""
    z = CounterRNG(trial.seed).normal(f"{stream}fcrn_inhibitor/eta", np.array([candidate]), len(ETA_ORDER))[0]
    kinetics = {k: v for k, v in typical.items() if k != "between_patient_cv"}
    for name, cv in cvs.items():
        kinetics[name] *= float(np.exp(np.sqrt(np.log(1 + cv**2)) * z[ETA_ORDER.index(name)]))
    return {**kinetics, "source": "test: one trial patient's own constants"}


def _individual_inhibitor(trial, candidate: int, inhibitor: dict) -> dict:
    """``inhibitor`` (a regimen's fcrn_inhibitor as written) as a user-defined drug with the
    patient's own constants, where the drug has between-patient variability."""
    if inhibitor.get("drug") == "nipocalimab":
        from ivigsim.model.comparators.fcrn_inhibitor import NIPOCALIMAB

        typical = {name: NIPOCALIMAB[f"fcrn_inhibitor_{name}"][0] for name in ETA_ORDER}
        kinetics = individual_kinetics(trial, candidate, typical, NIPOCALIMAB_CV)
    elif inhibitor.get("kinetics", {}).get("between_patient_cv"):
        kinetics = individual_kinetics(trial, candidate, inhibitor["kinetics"],
                                       inhibitor["kinetics"]["between_patient_cv"])
    else:
        return inhibitor
    return {**inhibitor, "drug": f"{inhibitor.get('drug')} (this patient)", "kinetics": kinetics}


def simulate_candidate(trial, candidate: int, regimen_doc: dict, days: float):
    """One plain simulation of candidate ``candidate`` (its drawn covariates and parameters; with
    an inhibitor with between-patient variability, its own constants: ``individual_kinetics``)."""
    from ivigsim.dosing.comparators import inhibitor_parameters

    model = compiled_model(trial.disease, True)
    p = draw(trial.population, model, CounterRNG(trial.seed), np.array([candidate]))
    if regimen_doc.get("fcrn_inhibitor") is not None:
        regimen_doc = {**regimen_doc, "fcrn_inhibitor": _individual_inhibitor(trial, candidate,
                                                                              regimen_doc["fcrn_inhibitor"])}
    given = regimen(regimen_doc)
    own = inhibitor_parameters(given.parts)  # nipocalimab's or a user's constants: the regimen sets them
    params = {k: v for k, v in zip(model.model.parameter_names, p.parameters[:, 0]) if k not in own}
    return simulate(Scenario(patient=p.patient(0), regimen=given, disease=trial.disease, days=days,
                             parameters=params, solver=Dopri5(**TOL)))


def same_course(mine: pd.DataFrame, ds, shift: float = 0.0) -> None:
    """A trial patient's saved course equals the simulation ``ds`` (from ``shift`` days on)."""
    at = np.searchsorted(ds.time.values, shift + mine["time_day"].to_numpy())
    assert np.allclose(ds.time.values[at], shift + mine["time_day"].to_numpy())
    for name in OUTPUTS:
        reference = ds[name].sel(patient=0).values[at]
        np.testing.assert_allclose(mine[name].to_numpy(), reference, rtol=0,
                                   atol=1e-6 * (np.ptp(reference) + np.abs(reference).max()))


def kaplan_plasma_volume_L(weight: float, sex: str) -> float:
    """Kaplan's estimated plasma volume, by hand: (1 - Hct)(b + c w), Hct 0.45 men, 0.40 women."""
    hct, b, c = (0.45, 1530.0, 41.0) if sex == "male" else (0.40, 864.0, 47.2)
    return (1 - hct) * (b + c * weight) / 1000.0


def arm_rows(table: pd.DataFrame, arm: str) -> pd.DataFrame:
    """One arm's rows, by patient (and time, in a trajectory table)."""
    return table[table["arm"] == arm].sort_values(["patient", *(["time_day"] if "time_day" in table else [])]
                                                  ).reset_index(drop=True)


def refusal_line(tmp_path, doc: dict) -> str:
    """``ivigsim trial`` on ``doc``: asserts exit status 2, one line of output and no output
    folder written; returns that line."""
    import yaml
    from typer.testing import CliRunner

    from ivigsim.cli import app

    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = CliRunner().invoke(app, ["trial", str(path), "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert not (tmp_path / "out").exists()
    return lines[0]


def run_example_small(name: str, size: int = 20):
    """The trial examples/trials-comparators/NAME at ``size`` patients per arm."""
    from pathlib import Path

    import yaml

    from ivigsim.io.trial_file import parse_trial
    from ivigsim.trial.runner import run_trial

    path = Path(__file__).resolve().parents[1] / "examples" / "trials-comparators" / name
    doc = yaml.safe_load(path.read_text())
    doc["size"] = size
    return run_trial(parse_trial(doc, base=path.parent))
