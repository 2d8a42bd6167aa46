"""The web page's stewardship and uncertainty features: several regimens side by side
(``ivigsim compare``), figures as SVG and PDF, a parameter-uncertainty band on a simulation,
a trial's IVIG use and contrasts, and the optimiser as a background job.

Each result is checked against the library called directly (or the CLI on the same files):
JSON over HTTP -> catalogue -> reopened, against ``compare``, ``simulate_with_band``,
``run_trial`` and ``optimise`` on the parsed documents.
"""

from __future__ import annotations

import copy
import io
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from ivigsim.io.scenario_file import parse_scenario  # noqa: E402
from ivigsim.web import create_app  # noqa: E402

EXAMPLES = Path(__file__).parent.parent / "examples"


def itp(days: float = 14.0, regimen: str = "itp", name: str | None = None) -> dict:
    doc = yaml.safe_load((EXAMPLES / "itp-standard.yaml").read_text())
    doc["simulation"] = {"days": days, "output_every_days": 0.5}
    doc["regimen"]["standard"] = regimen
    if name:
        doc["name"] = name
    return doc


@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(tmp_path / "runs.sqlite"), raise_server_exceptions=False) as c:
        yield c


def refused(response, field: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["field"] == field, body
    assert body["detail"].startswith(f"{field}: expected"), body


def is_svg(data: bytes) -> None:
    root = ET.fromstring(data)
    assert root.tag.endswith("svg")


def is_pdf(data: bytes) -> None:
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-64:]


def wait_for(client, url: str, statuses: tuple, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(url).json()
        if state["status"] in statuses:
            return state
        time.sleep(0.05)
    raise AssertionError(f"{url} still {state['status']} after {timeout} s")


def test_new_operations_are_in_the_openapi_document(client):
    """So the schemathesis test in test_web_api.py fuzzes them too."""
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/regimens", "/api/optimise", "/api/optimise/{run_id}", "/api/optimise/{run_id}/cancel"} <= set(paths)
    fmt = paths["/api/runs/{run_id}/download/{fmt}"]["get"]["parameters"]
    assert {"svg", "pdf"} <= set(next(p for p in fmt if p["name"] == "fmt")["schema"]["enum"])
    assert "ensemble" in client.get("/openapi.json").json()["components"]["schemas"]["SimulateIn"]["properties"]


# --- several regimens for one patient --------------------------------------------------------

def test_regimens_equal_the_cli(client, tmp_path):
    """The table's CSV is byte for byte what ``ivigsim compare`` writes for the same files."""
    from typer.testing import CliRunner

    from ivigsim.cli import app

    docs = [itp(name="two days"), itp(regimen="itp-single", name="one dose")]
    files = []
    for k, doc in enumerate(docs):
        files.append(tmp_path / f"{k}.yaml")
        files[-1].write_text(yaml.safe_dump(doc))
    r = client.post("/api/regimens", json={"scenarios": docs})
    assert r.status_code == 200, r.text
    got = r.json()
    cli = CliRunner().invoke(app, ["compare", *map(str, files), "-o", str(tmp_path / "out"), "--no-plot", "-q"])
    assert cli.exit_code == 0, cli.output
    csv = client.get(got["links"]["downloads"]["csv"])
    assert csv.status_code == 200 and csv.content == (tmp_path / "out" / "compare.csv").read_bytes()
    # The JSON table is the same table.
    table = pd.read_csv(io.BytesIO(csv.content))
    assert [row["grams_per_year"] for row in got["table"]] == pytest.approx(table["grams_per_year"].tolist(), rel=1e-12)
    assert got["labels"] == ["two days", "one dose"] and got["engine_calls"] == 1
    # 2 g/kg over two days against 1 g/kg once: twice the grams, by hand (70 kg).
    weight = docs[0]["patient"]["weight_kg"]
    assert got["table"][0]["course_g"] == pytest.approx(2 * weight)
    for fmt, check in (("png", lambda b: b[:8] == b"\x89PNG\r\n\x1a\n"), ("svg", is_svg), ("pdf", is_pdf)):
        figure = client.get(got["links"]["downloads"][fmt])
        assert figure.status_code == 200
        assert check(figure.content) is not False
    run = client.get(got["links"]["run"]).json()
    assert run["kind"] == "regimens" and run["inputs"]["scenarios"][1]["name"] == "one dose"
    assert "One patient, 2 regimens" in client.get(got["links"]["page"]).text


def test_regimens_refuse_bad_input(client):
    a, b = itp(name="a"), itp(regimen="itp-single", name="b")
    refused(client.post("/api/regimens", json={"scenarios": [a]}), "scenarios")
    refused(client.post("/api/regimens", json={"scenarios": [a, b, a, b, a]}), "scenarios")
    bad = copy.deepcopy(b)
    bad["patient"]["weight_kg"] = -5
    refused(client.post("/api/regimens", json={"scenarios": [a, bad]}), "scenarios.1.patient.weight_kg")
    other = {**copy.deepcopy(b), "disease": "cidp", "parameters": {}}
    refused(client.post("/api/regimens", json={"scenarios": [a, other]}), "scenarios")
    refused(client.post("/api/regimens", json={"scenarios": [a, b], "labels": ["only one"]}), "labels")
    refused(client.post("/api/regimens", json={"scenarios": [a, {**b, "simulation": {"days": 5000}}]}),
            "scenarios.1.simulation.days")


# --- figures as SVG and PDF --------------------------------------------------------------------

@pytest.mark.slow  # 2 s or more (README run under 5 minutes): in CI and with --run-slow
def test_figures_in_svg_and_pdf_for_comparisons_and_attributions(client):
    cmp = client.post("/api/compare", json={"a": itp(name="a"), "b": itp(regimen="itp-single", name="b")}).json()
    exp = client.post("/api/explain", json={"scenario": itp(), "day": 7}).json()
    for run in (cmp, exp):
        downloads = run["links"]["downloads"]
        is_svg(client.get(downloads["svg"]).content)
        is_pdf(client.get(downloads["pdf"]).content)
        again = client.get(downloads["svg"])
        assert again.headers["content-type"].startswith("image/svg+xml")
    # The attribution's SVG is drawn from the stored result: its title carries the library's numbers.
    svg = client.get(exp["links"]["downloads"]["svg"]).text
    assert f"{exp['all_on']:.4g}" in svg and "platelets_1e9_per_L (value on day 7)" in svg
    bad = client.get(exp["links"]["downloads"]["svg"].replace("/svg", "/eps"))
    assert bad.status_code == 422 and bad.json()["field"] == "fmt"


# --- parameter uncertainty ------------------------------------------------------------------------

def test_simulation_band_equals_the_library(client):
    from ivigsim.simulation import simulate_with_band
    from ivigsim.uncertainty import ensemble, summary_lines

    doc = itp()
    r = client.post("/api/simulate", json={"scenario": doc, "ensemble": 12, "ensemble_seed": 3, "series": False})
    assert r.status_code == 200, r.text
    got = r.json()
    expected, members = simulate_with_band(parse_scenario(doc), ensemble(12, 3), 0.9)
    assert got["uncertainty"] == summary_lines(members, 0.9)
    stored = xr.open_dataset(io.BytesIO(client.get(got["links"]["downloads"]["netcdf"]).content), engine="scipy")
    for name in ("platelets_1e9_per_L_param_lower", "platelets_1e9_per_L_param_upper", "igg_total_g_per_L_param_median"):
        np.testing.assert_allclose(stored[name].values, expected[name].values, rtol=1e-12, err_msg=name)
    assert stored.attrs["parameter_uncertainty_vectors"] == 12
    table = pd.read_csv(io.BytesIO(client.get(got["links"]["downloads"]["csv"]).content))
    assert "platelets_1e9_per_L_param_upper" in table
    assert "parameter uncertainty" in client.get(got["links"]["downloads"]["svg"]).text  # the band's legend
    assert client.get(got["links"]["run"]).json()["inputs"]["ensemble"] == {"size": 12, "level": 0.9, "seed": 3}
    plain = client.post("/api/simulate", json={"scenario": doc, "series": False}).json()
    assert plain["uncertainty"] is None


@pytest.mark.parametrize("options, field", [
    ({"ensemble": 0}, "ensemble"), ({"ensemble": 201}, "ensemble"), ({"ensemble": 5, "ensemble_level": 1.5},
                                                                       "ensemble_level"),
    ({"ensemble": 5, "ensemble_seed": -1}, "ensemble_seed"), ({"ensemble": "ten"}, "ensemble"),
])
def test_simulation_band_refuses_bad_options(client, options, field):
    refused(client.post("/api/simulate", json={"scenario": itp(), **options}), field)


# --- trials: IVIG use and contrasts -----------------------------------------------------------------

def test_trial_page_shows_ivig_use_and_contrasts_of_the_library(client):
    from ivigsim.io.trial_file import parse_trial
    from ivigsim.trial.runner import run_trial

    doc = {"name": "use and contrasts", "disease": "itp", "seed": 3, "size": 20,
           "arms": [{"name": "two days", "regimen": "itp"}, {"name": "one dose", "regimen": "itp-single"}],
           "endpoints": [{"name": "response", "output": "platelets_1e9_per_L", "window": [0, 7], "over_window": "any",
                          "criterion": ">= 50", "summary": "fraction"}],
           "contrasts": [{"arms": ["one dose", "two days"]}],
           "simulation": {"days": 10, "output_every_days": 0.5, "method": "numpy-dopri5"}}
    run_id = client.post("/api/trials", json={"trial": doc}).json()["run_id"]
    state = wait_for(client, f"/api/trials/{run_id}", ("done", "failed"))
    assert state["status"] == "done", state
    expected = run_trial(parse_trial(doc), None, chunk_size=4096).summary
    got = state["result"]["summary"]
    for arm_got, arm_expected in zip(got["arms"], expected["arms"]):
        g, e = arm_got["ivig_use"]["grams_per_patient_per_year"], arm_expected["ivig_use"]["grams_per_patient_per_year"]
        assert g["estimate"] == pytest.approx(e["estimate"], rel=1e-12)
    c_got, c_expected = got["contrasts"][0]["estimates"], expected["contrasts"][0]["estimates"]
    assert c_got.keys() == c_expected.keys()
    for measure in c_expected:
        assert c_got[measure]["estimate"] == pytest.approx(c_expected[measure]["estimate"], rel=1e-12, nan_ok=True)
    page = client.get(f"/ui/trials/{run_id}").text
    assert 'class="ivig-use"' in page and 'class="contrasts"' in page and "one dose vs two days" in page
    use = expected["arms"][0]["ivig_use"]["grams_per_patient_per_year"]["estimate"]
    assert f"{use:.5g}" in page


# --- the optimiser as a background job -------------------------------------------------------------

def optimise_trial(size: int = 20) -> dict:
    from ivigsim.web.pages import OPTIMISE_EXAMPLE

    doc = yaml.safe_load(OPTIMISE_EXAMPLE)
    doc["size"] = size
    doc["endpoints"][0]["window"] = [42, 111]  # 16 weeks: fast, and the response still depends on the dose
    doc["simulation"] = {"days": 112, "output_every_days": 2, "method": "numpy-dopri5"}
    return doc


@pytest.mark.slow  # 4-17 s: in CI and with --run-slow (the README command stays under 5 minutes)
def test_optimiser_job_equals_the_library(client):
    from ivigsim.io.trial_file import parse_trial
    from ivigsim.trial.optimise import Grid, optimise

    body = {"trial": optimise_trial(), "endpoint": "responder_kept_to_week52", "target": 0.5,
            "doses": [0.4, 1.0], "intervals": [14, 28]}
    r = client.post("/api/optimise", json=body)
    assert r.status_code == 202, r.text
    state = wait_for(client, r.json()["links"]["status"], ("done", "failed"))
    assert state["status"] == "done" and state["done"] == state["total"] == 4, state
    expected = optimise(parse_trial(body["trial"]), body["endpoint"], 0.5, Grid((0.4, 1.0), (14, 28)))
    got = state["result"]
    assert got["lines"] == expected.lines()
    assert (got["chosen"] is None) == (expected.chosen is None)
    if expected.chosen is not None:
        assert got["chosen"]["dose_g_per_kg"] == expected.chosen.dose_g_per_kg
        assert got["chosen"]["interval_days"] == expected.chosen.interval_days
    csv = client.get(state["links"]["downloads"]["csv"]).content
    assert csv == expected.table().to_csv(index=False).encode()
    is_svg(client.get(state["links"]["downloads"]["svg"]).content)
    is_pdf(client.get(state["links"]["downloads"]["pdf"]).content)
    assert "lowest IVIG use meeting the target" in client.get(f"/ui/optimise/{state['id']}").text or \
        expected.chosen is None


def test_optimiser_cancel_and_refusals(client):
    body = {"trial": optimise_trial(size=100), "endpoint": "responder_kept_to_week52", "target": 0.5,
            "doses": [0.4, 0.6, 0.8, 1.0], "intervals": [14, 21, 28]}
    first = client.post("/api/optimise", json=body).json()
    second = client.post("/api/optimise", json=body).json()  # queued behind the first (one worker)
    cancelled = client.post(second["links"]["cancel"]).json()
    assert cancelled["status"] == "cancelled" and cancelled["result"] is None
    wait_for(client, first["links"]["status"], ("running",))
    client.post(first["links"]["cancel"])
    final = wait_for(client, first["links"]["status"], ("cancelled",), timeout=60)
    assert final["done"] < final["total"] == 12 and "candidates" in final["error"]
    assert client.get(f"/api/runs/{first['id']}/download/svg").status_code == 422  # no figure: it did not finish
    assert client.get(f"/api/trials/{first['id']}").status_code == 404  # an optimisation is not a trial
    for change, field in ((dict(endpoint="nope"), "endpoint"), (dict(target=1.5), "target"), (dict(doses=[]), "doses"),
                          (dict(doses=[5.0]), "doses"), (dict(intervals=[0]), "intervals"), (dict(size=5000), "size"),
                          (dict(arm="nope"), "arm"), (dict(doses=[0.1 * k for k in range(1, 11)],
                                                           intervals=[7, 14, 21, 28, 35]), "doses"),
                          (dict(trial={**body["trial"], "size": 10**6}), "size")):
        refused(client.post("/api/optimise", json={**body, **change}), field)


# --- the page ------------------------------------------------------------------------------------

FORM = {"disease": "itp", "weight_kg": "70", "height_cm": "172", "age_years": "38", "sex": "female",
        "baseline": "12", "days": "14", "every": "0.5", "regimen_a": "itp", "regimen_b": "itp-single",
        "regimen_c": "written", "regimen_c_text": "doses: [{day: 0, g_per_kg: 0.4}]", "regimen_d": "",
        "product": "generic-10", "explain_day": "7"}
ALL_ON = {f"mech_{m}": "on" for m in ("fcrn_saturation", "anti_idiotype", "fcgr_blockade", "b_cell_inhibition",
                                      "treg_expansion", "cytokine_neutralisation", "complement_scavenging")}


@pytest.mark.slow  # 2 s or more (README run under 5 minutes): in CI and with --run-slow
def test_page_actions(client):
    page = client.get("/").text
    assert 'hx-post="/ui/regimens"' in page and 'hx-post="/ui/optimise"' in page and 'name="ensemble"' in page
    reg = client.post("/ui/regimens", data={**FORM, **ALL_ON})
    assert reg.status_code == 200 and 'class="regimens"' in reg.text and "C: written" in reg.text
    assert "3 regimens" in reg.text and 'data-format="svg"' in reg.text
    band = client.post("/ui/simulate", data={**FORM, **ALL_ON, "ensemble": "5"})
    assert band.status_code == 200 and "parameter uncertainty, median (90 % band) over 5" in band.text
    assert client.post("/ui/simulate", data={**FORM, **ALL_ON, "ensemble": "5000"}).status_code == 422
    from ivigsim.web.pages import OPTIMISE_EXAMPLE

    form = {"opt_trial": OPTIMISE_EXAMPLE, "opt_endpoint": "responder_kept_to_week52", "opt_target": "0.5",
            "opt_doses": "0.4,1", "opt_intervals": "28", "opt_size": "5"}
    job = client.post("/ui/optimise", data=form)
    assert job.status_code == 200 and 'data-kind="optimise"' in job.text
    run_id = job.text.split('id="trial-', 1)[1].split('"', 1)[0]
    client.post(f"/ui/optimise/{run_id}/cancel")
    bad = client.post("/ui/optimise", data={**form, "opt_doses": "0.4,lots"})
    assert bad.status_code == 422 and "doses: expected" in bad.text
    bad = client.post("/ui/optimise", data={**form, "opt_trial": "[1, 2"})
    assert bad.status_code == 422 and "opt_trial: expected" in bad.text
    trial = client.post("/ui/trials", data={**FORM, "regimen_c": "", "trial_size": "10", "trial_days": "10",
                                            "trial_day": "7", "trial_seed": "1", "trial_method": "numpy-dopri5",
                                            "trial_contrast": "on"})
    assert trial.status_code == 200
    trial_id = trial.text.split('id="trial-', 1)[1].split('"', 1)[0]
    state = wait_for(client, f"/api/trials/{trial_id}", ("done", "failed"))
    assert state["status"] == "done" and state["result"]["summary"]["contrasts"], state
