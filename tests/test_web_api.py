"""The web API (``ivigsim serve``): every endpoint with good and bad input.

Numbers are checked against the library called directly on the scenario file (an
independent path: YAML file -> ``load_scenario`` -> ``simulate``, against JSON over HTTP ->
catalogue -> NetCDF -> reopened), messages against the CLI's own line for the same input.
"""

from __future__ import annotations

import copy
import io
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from ivigsim.io.results import write_results  # noqa: E402
from ivigsim.io.scenario_file import load_scenario  # noqa: E402
from ivigsim.simulation import simulate  # noqa: E402
from ivigsim.web import create_app  # noqa: E402
from ivigsim.web.catalogue import Catalogue  # noqa: E402

EXAMPLES = Path(__file__).parent.parent / "examples"


def itp_document(days: float = 14.0) -> dict:
    """The shipped ITP example, shortened (what the page needs is the same code path)."""
    doc = yaml.safe_load((EXAMPLES / "itp-standard.yaml").read_text())
    doc["simulation"] = {"days": days, "output_every_days": 0.5}
    return doc


def small_trial(size: int = 30, days: float = 14.0) -> dict:
    # numpy-dopri5: no compiled solver to build on a fresh machine, so the test stays fast there too.
    return {"name": "web test trial", "disease": "itp", "seed": 7, "size": size,
            "population": {"parameters": {"platelet_baseline_1e9_per_L": 10}},
            "arms": [{"name": "two_days", "regimen": "itp"}, {"name": "one_dose", "regimen": "itp-single"}],
            "endpoints": [{"name": "platelets_day7", "output": "platelets_1e9_per_L", "at_day": 7, "summary": "median"},
                          {"name": "response", "output": "platelets_1e9_per_L", "window": [0, 7], "over_window": "any",
                           "criterion": ">= 50", "summary": "fraction"}],
            "simulation": {"days": days, "output_every_days": 0.5, "method": "numpy-dopri5"}}


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "runs.sqlite"


@pytest.fixture
def client(db):
    with TestClient(create_app(db), raise_server_exceptions=False) as c:
        yield c


def cli_error(tmp_path: Path, document: dict) -> str:
    """The one line ``ivigsim simulate`` prints for this scenario document."""
    from typer.testing import CliRunner

    from ivigsim.cli import app

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(document))
    result = CliRunner().invoke(app, ["simulate", str(path), "-o", str(tmp_path / "out"), "--no-plot", "-q"])
    assert result.exit_code == 2
    text = getattr(result, "stderr", None) or result.output
    lines = [line for line in text.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, text
    return lines[0].removeprefix("error: ")


# --- reading endpoints ---------------------------------------------------------------------

def test_health_options_and_schemas(client):
    from ivigsim.io.scenario_file import scenario_json_schema
    from ivigsim.io.trial_file import trial_json_schema
    from ivigsim.model.library import DISEASES, MECHANISMS

    assert client.get("/api/health").json()["status"] == "ok"
    options = client.get("/api/options").json()
    assert [d["name"] for d in options["diseases"]] == list(DISEASES)
    assert options["mechanisms"] == [m.name for m in MECHANISMS]
    itp = next(d for d in options["diseases"] if d["name"] == "itp")
    assert itp["baseline"]["parameter"] == "platelet_baseline_1e9_per_L"
    assert {"itp", "itp-single", "cidp"} <= {r["name"] for r in options["regimens"]}
    from ivigsim.web.service import clean

    assert client.get("/api/schema/scenario").json() == clean(scenario_json_schema())
    assert client.get("/api/schema/trial").json() == clean(trial_json_schema())
    bad = client.get("/api/schema/nothing")
    assert bad.status_code == 422 and bad.json()["field"] == "kind"
    spec = client.get("/openapi.json").json()
    assert {"/api/simulate", "/api/compare", "/api/mechanisms", "/api/explain", "/api/safety", "/api/trials",
            "/api/trials/{run_id}", "/api/trials/{run_id}/cancel", "/api/runs", "/api/runs/{run_id}",
            "/api/runs/{run_id}/figure.png", "/api/runs/{run_id}/download/{fmt}"} <= set(spec["paths"])


# --- simulate ------------------------------------------------------------------------------

def test_simulate_equals_the_library(client, tmp_path):
    doc = itp_document()
    path = tmp_path / "itp.yaml"
    path.write_text(yaml.safe_dump(doc))
    expected = simulate(load_scenario(path))  # the library on the file, no web code involved
    r = client.post("/api/simulate", json={"scenario": doc})
    assert r.status_code == 200, r.text
    got = r.json()
    np.testing.assert_array_equal(got["time_day"], expected["time"].values)
    for name, values in got["outputs"].items():
        want = expected[name].isel(patient=0).values.astype(float)
        np.testing.assert_allclose(np.array(values, dtype=float), want, rtol=0, atol=0, equal_nan=True, err_msg=name)
    assert got["units"]["platelets_1e9_per_L"] == expected["platelets_1e9_per_L"].attrs["units"]
    from ivigsim.summary import summarise

    assert got["summary"] == summarise(expected).lines()
    assert got["carried_by"].startswith("change in platelets_1e9_per_L by day 7")
    # The stored run, reopened from its NetCDF, downloads the very CSV the CLI writes.
    write_results(expected, tmp_path / "cli.csv", "csv")
    csv = client.get(got["links"]["downloads"]["csv"])
    assert csv.status_code == 200
    assert csv.content == (tmp_path / "cli.csv").read_bytes()


@pytest.mark.parametrize("change", [
    lambda d: d["patient"].update(weight_kg=-3),
    lambda d: d.update(bogus=1),
    lambda d: d.update(disease="lupus"),
    lambda d: d["regimen"].update(standard="itp-forever"),
    lambda d: d.update(regimen={"course": {"total_g_per_kg": 2, "days": 2}, "product": "privigen",
                                "infusion": {"rate_mg_per_kg_min": 50}}),
    lambda d: d["simulation"].update(days=-1),
], ids=["weight", "unknown-field", "disease", "regimen", "rate-above-label", "days"])
def test_simulate_refuses_bad_input_with_the_cli_message(client, tmp_path, change):
    doc = itp_document()
    change(doc)
    r = client.post("/api/simulate", json={"scenario": doc})
    assert r.status_code == 422
    body = r.json()
    assert body["detail"] == cli_error(tmp_path, doc)
    assert body["detail"].startswith(f"{body['field']}: expected ")


@pytest.mark.parametrize("body, field", [
    ({}, "scenario"),
    ({"scenario": []}, "scenario"),
    ({"scenario": {}, "extra": 1}, "extra"),
    ({"scenario": {}, "explain": "perhaps"}, "explain"),
])
def test_simulate_refuses_bad_bodies(client, body, field):
    r = client.post("/api/simulate", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    assert r.json()["detail"].startswith(f"{field}: expected ")
    assert "\n" not in r.json()["detail"]


def test_web_limits_and_malformed_requests(client):
    doc = itp_document()
    doc["simulation"] = {"days": 5000, "output_every_days": 1}
    r = client.post("/api/simulate", json={"scenario": doc})
    assert r.status_code == 422 and r.json()["field"] == "simulation.days"
    doc["simulation"] = {"days": 700, "output_every_days": 0.01}
    r = client.post("/api/simulate", json={"scenario": doc})
    assert r.status_code == 422 and r.json()["field"] == "simulation.output_every_days"
    r = client.post("/api/simulate", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["field"] == "body"
    r = client.post("/api/simulate", content=b" " * (2 << 20), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["field"] == "body"

    def chunked():  # no Content-Length: refused by counting
        for _ in range(40):
            yield b" " * 65536

    r = client.post("/api/simulate", content=chunked(), headers={"content-type": "application/json"})
    assert r.status_code == 413


# --- compare, mechanisms, explain, safety -----------------------------------------------------

def test_compare_two_regimens(client):
    a = itp_document()
    b = copy.deepcopy(a)
    b["regimen"]["standard"] = "itp-single"
    b["name"] = "one dose"
    r = client.post("/api/compare", json={"a": a, "b": b})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["labels"] == [a["name"], "one dose"]
    for side, doc in (("a", a), ("b", b)):
        from ivigsim.io.scenario_file import parse_scenario

        expected = simulate(parse_scenario(doc))
        ds = xr.open_dataset(io.BytesIO(client.get(got["runs"][side]["links"]["downloads"]["netcdf"]).content),
                             engine="scipy")
        np.testing.assert_array_equal(ds["platelets_1e9_per_L"].values, expected["platelets_1e9_per_L"].values)
        peak = float(expected["platelets_1e9_per_L"].max())
        assert got["differences"]["platelets_1e9_per_L"][side]["max"] == pytest.approx(peak, rel=1e-12)
    # 2 g/kg carries more IgG than 1 g/kg: the peak total IgG must be higher in arm a.
    igg = got["differences"]["igg_total_g_per_L"]
    assert igg["a"]["max"] > igg["b"]["max"]
    png = client.get(got["links"]["figure"])
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    bad = client.post("/api/compare", json={"a": a, "b": {**b, "disease": "lupus"}})
    assert bad.status_code == 422 and bad.json()["field"] == "b.disease"


def test_mechanisms_off_equals_the_library_switch(client):
    from ivigsim.io.scenario_file import parse_scenario

    doc = itp_document()
    r = client.post("/api/mechanisms", json={"scenario": doc, "off": ["fcgr_blockade"]})
    assert r.status_code == 200, r.text
    got = r.json()
    off = simulate(parse_scenario({**doc, "mechanisms": {"fcgr_blockade": False}}))
    on = simulate(parse_scenario(doc))
    diff = got["differences"]["platelets_1e9_per_L"]
    assert diff["b"]["max"] == pytest.approx(float(off["platelets_1e9_per_L"].max()), rel=1e-12)
    assert diff["a"]["max"] == pytest.approx(float(on["platelets_1e9_per_L"].max()), rel=1e-12)
    assert diff["b"]["max"] < diff["a"]["max"]  # Fc-receptor blockade carries the ITP response
    for off_list, status in ((["warp_drive"], 422), ([], 422)):
        r = client.post("/api/mechanisms", json={"scenario": doc, "off": off_list})
        assert r.status_code == status and r.json()["field"] == "off"


def test_explain_equals_the_library(client):
    from ivigsim.attribution import attribute, readout
    from ivigsim.io.scenario_file import parse_scenario

    doc = itp_document()
    r = client.post("/api/explain", json={"scenario": doc, "output": "platelets_1e9_per_L", "day": 7})
    assert r.status_code == 200, r.text
    got = r.json()
    expected = attribute(parse_scenario(doc), readout("platelets_1e9_per_L", 7.0))
    for m in got["mechanisms"]:
        assert m["shapley"] == pytest.approx(expected.shapley[m["name"]], rel=1e-12, abs=1e-12)
    assert sum(m["shapley"] for m in got["mechanisms"]) == pytest.approx(got["total"], rel=1e-9)
    assert client.get(got["links"]["figure"]).content[:4] == b"\x89PNG"
    r = client.post("/api/explain", json={"scenario": doc, "summary": "peak", "day": 3})
    assert r.status_code == 422 and r.json()["field"] == "day"
    r = client.post("/api/explain", json={"scenario": doc, "output": "nothing_per_L", "day": 3})
    assert r.status_code == 422 and r.json()["field"] == "output"  # the API's field, not the CLI's --output
    r = client.post("/api/explain", json={"scenario": doc, "output": "", "day": 3})
    assert r.status_code == 422 and r.json()["field"] == "output"  # not silently the default readout
    r = client.post("/api/explain", json={"scenario": {**doc, "regimen": None}})
    assert r.status_code == 422 and r.json()["field"] == "scenario.regimen"


def test_safety_equals_the_library(client):
    from ivigsim.io.scenario_file import load_scenario as load
    from ivigsim.safety_report import assess
    from ivigsim.web.service import clean

    doc = yaml.safe_load((EXAMPLES / "safety-cidp-at-risk.yaml").read_text())
    r = client.post("/api/safety", json={"scenario": doc})
    assert r.status_code == 200, r.text
    scenario = load(EXAMPLES / "safety-cidp-at-risk.yaml")
    expected = clean(assess(scenario, scenario.risk_factors, max_hours=12.0).as_dict())
    got = r.json()
    assert got["course"] == expected["course"]
    assert got["rate_plan"] == expected["rate_plan"]
    for body, field in (({"scenario": doc, "max_hours": 0.5}, "max_hours"),
                        ({"scenario": doc, "risk_factors": {"migraine_history": True}}, "risk_factors"),
                        ({"scenario": {**itp_document(), "regimen": None}}, "scenario.regimen")):
        r = client.post("/api/safety", json=body)
        assert r.status_code == 422 and r.json()["field"] == field, r.text


# --- the catalogue and downloads --------------------------------------------------------------

def test_downloads_in_every_format(client):
    run = client.post("/api/simulate", json={"scenario": itp_document(), "series": False}).json()
    assert "outputs" not in run
    links = run["links"]["downloads"]
    table = pd.read_csv(io.BytesIO(client.get(links["csv"]).content))
    assert "platelets_1e9_per_L" in table and len(table) > 20
    pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(client.get(links["parquet"]).content)), table,
                                  check_dtype=False, rtol=1e-9)
    ds = xr.open_dataset(io.BytesIO(client.get(links["netcdf"]).content), engine="scipy")
    np.testing.assert_allclose(ds["platelets_1e9_per_L"].values[0], table["platelets_1e9_per_L"].values, rtol=1e-9)
    assert client.get(links["png"]).content[:4] == b"\x89PNG"
    sbml = client.get(links["sbml"])
    import libsbml

    document = libsbml.readSBMLFromString(sbml.text)
    assert document.getNumErrors(libsbml.LIBSBML_SEV_ERROR) == 0 and document.getModel() is not None
    record = json.loads(client.get(links["json"]).content)
    assert record["inputs"]["scenario"]["regimen"]["standard"] == "itp"
    assert "attachment" in client.get(links["csv"]).headers["content-disposition"]
    bad = client.get(links["csv"].replace("/csv", "/xlsx"))
    assert bad.status_code == 422 and bad.json()["field"] == "fmt"


def test_run_lookups_refuse_unknown_and_malformed_ids(client):
    r = client.get("/api/runs/" + "0" * 32)
    assert r.status_code == 404 and r.json()["field"] == "run_id"
    r = client.get("/api/runs/not-an-id")
    assert r.status_code == 422 and r.json()["field"] == "run_id"
    assert client.get("/api/runs/" + "0" * 32 + "/download/csv").status_code == 404
    assert client.get("/api/runs?limit=0").json()["field"] == "limit"
    assert client.get("/api/runs?kind=nonsense").status_code == 422
    sim = client.post("/api/simulate", json={"scenario": itp_document(), "explain": False}).json()
    trial_id = "f" * 32
    assert client.get(f"/api/trials/{sim['run_id']}").status_code == 404  # a simulation is not a trial
    assert client.post(f"/api/trials/{trial_id}/cancel").status_code == 404


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if found:
        return found[0].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@pytest.fixture(scope="module")
def postgres_url():
    """A throw-away PostgreSQL server on a free local port, if one is installed."""
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'psycopg[binary]')")
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server installed (apt-get install postgresql)")
    as_user: list[str] = []
    # Not under pytest's folder: that is private to root, and the server runs as 'postgres'.
    folder = Path(tempfile.mkdtemp(prefix="ivigsim-pg-"))
    if os.geteuid() == 0:  # initdb refuses to run as root
        try:
            import pwd

            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
                   check=True, capture_output=True, timeout=120)
    subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "-o",
                    f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start"],
                   check=True, capture_output=True, timeout=120)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                       capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.slow  # 2 s or more (README run under 5 minutes): in CI and with --run-slow
def test_catalogue_survives_a_restart(request, backend):
    db = request.getfixturevalue("db" if backend == "sqlite" else "postgres_url")
    with TestClient(create_app(db), raise_server_exceptions=False) as first:
        run = first.post("/api/simulate", json={"scenario": itp_document(), "explain": False}).json()
        csv = first.get(run["links"]["downloads"]["csv"]).content
        trial = first.post("/api/trials", json={"trial": small_trial(size=10)}).json()
        assert wait_for(first, trial["run_id"], ("done", "failed"))["status"] == "done"
    # A trial the first server left running (killed mid-run): the next server says so.
    stale = Catalogue(db).add_run("trial", "left running", {"trial": {}}, status="running", total=10)
    with TestClient(create_app(db), raise_server_exceptions=False) as second:
        listed = {r["id"]: r for r in second.get("/api/runs?limit=500").json()}
        assert run["run_id"] in listed and trial["run_id"] in listed
        record = second.get(f"/api/runs/{run['run_id']}").json()
        assert record["version"] and record["inputs"]["scenario"]["regimen"]["standard"] == "itp"
        assert second.get(run["links"]["downloads"]["csv"]).content == csv
        assert second.get(f"/runs/{run['run_id']}").status_code == 200  # reopened on the page
        assert second.get(f"/api/trials/{trial['run_id']}").json()["result"]["summary"]["size_per_arm"] == 10
        assert second.get(f"/api/trials/{stale}").json()["status"] == "interrupted"


def test_serve_refuses_bad_options_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from ivigsim.cli import app

    for args, field in ((["--port", "70000"], "--port"), (["--db", str(tmp_path)], "--db")):
        result = CliRunner().invoke(app, ["serve", *args])
        text = getattr(result, "stderr", None) or result.output
        assert result.exit_code == 2 and text.startswith(f"error: {field}: expected"), text
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = CliRunner().invoke(app, ["serve", "--port", str(taken.getsockname()[1]), "--db", str(tmp_path / "x.db")])
        text = getattr(result, "stderr", None) or result.output
        assert result.exit_code == 2 and text.startswith("error: --port: expected a free port"), text


def test_bad_catalogue_locations_are_one_line():
    from ivigsim.errors import InputError

    with tempfile.TemporaryDirectory() as folder:
        with pytest.raises(InputError, match="^--db: expected"):
            Catalogue(folder)  # a folder, not a file


# --- trials ------------------------------------------------------------------------------------

def wait_for(client, run_id: str, statuses: tuple, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"/api/trials/{run_id}").json()
        if state["status"] in statuses:
            return state
        time.sleep(0.05)
    raise AssertionError(f"trial {run_id} still {state['status']} after {timeout} s")


def test_trial_runs_off_the_request_thread_and_equals_the_library(client):
    from ivigsim.io.trial_file import parse_trial
    from ivigsim.trial.runner import run_trial

    doc = small_trial(size=30)
    r = client.post("/api/trials", json={"trial": doc})
    assert r.status_code == 202, r.text
    assert r.json()["status"] in ("queued", "running", "done")  # answered before it finished running
    state = wait_for(client, r.json()["run_id"], ("done", "failed"))
    assert state["status"] == "done", state
    assert state["done"] == state["total"] == 60
    expected = run_trial(parse_trial(doc), None, chunk_size=4096).summary  # one chunk, not the web's 10
    got = state["result"]["summary"]
    for arm_got, arm_expected in zip(got["arms"], expected["arms"]):
        for name, endpoint in arm_expected["endpoints"].items():
            for stat, estimate in endpoint["estimates"].items():
                assert arm_got["endpoints"][name]["estimates"][stat]["estimate"] == pytest.approx(
                    estimate["estimate"], rel=1e-12), (arm_expected["arm"], name, stat)


def test_trial_progress_and_cancel(client):
    r = client.post("/api/trials", json={"trial": small_trial(size=600, days=28.0)})
    run_id = r.json()["run_id"]
    state = wait_for(client, run_id, ("running",))
    deadline = time.monotonic() + 60
    while state["done"] == 0 and time.monotonic() < deadline:  # progress moves chunk by chunk
        state = client.get(f"/api/trials/{run_id}").json()
        time.sleep(0.05)
    assert 0 < state["done"] < state["total"] == 1200
    assert 0 < state["progress"] < 1
    cancelled = client.post(f"/api/trials/{run_id}/cancel")
    assert cancelled.status_code == 200
    final = wait_for(client, run_id, ("cancelled",), timeout=30)
    assert final["done"] < final["total"] and final["result"] is None
    assert "cancelled" in final["error"]
    # Cancelling again is harmless; the catalogue keeps the record.
    assert client.post(f"/api/trials/{run_id}/cancel").json()["status"] == "cancelled"


@pytest.mark.parametrize("change, field", [
    (lambda d: d.update(size=10**6), "size"),
    (lambda d: d.update(seed="x"), "seed"),
    (lambda d: d["arms"][0].update(regimen="itp-forever"), "arms.0.regimen"),
    (lambda d: d.update(population={"covariates": {"csv": {"path": "/etc/passwd"}}}), "population.covariates.csv"),
    (lambda d: d["simulation"].update(days=5000), "simulation.days"),
])
def test_trial_refuses_bad_input(client, change, field):
    doc = small_trial()
    change(doc)
    r = client.post("/api/trials", json={"trial": doc})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    assert r.json()["detail"].startswith(f"{field}: expected")


# --- the page's own endpoints --------------------------------------------------------------

FORM = {"disease": "itp", "weight_kg": "70", "height_cm": "172", "age_years": "38", "sex": "female",
        "baseline": "12", "days": "14", "every": "0.5", "regimen_a": "itp", "regimen_b": "itp-single",
        "product": "generic-10", "explain_day": "7", "trial_size": "20", "trial_days": "14", "trial_day": "7",
        "trial_seed": "1", "trial_method": "numpy-dopri5"}
ALL_ON = {f"mech_{m}": "on" for m in ("fcrn_saturation", "anti_idiotype", "fcgr_blockade", "b_cell_inhibition",
                                      "treg_expansion", "cytokine_neutralisation", "complement_scavenging")}


@pytest.mark.slow  # 3 s or more (README run under 5 minutes): in CI and with --run-slow
def test_page_actions(client):
    page = client.get("/")
    assert page.status_code == 200 and 'hx-post="/ui/simulate"' in page.text and "/static/htmx.min.js" in page.text
    assert client.get("/static/htmx.min.js").status_code == 200
    sim = client.post("/ui/simulate", data={**FORM, **ALL_ON})
    assert sim.status_code == 200 and "/figure.png" in sim.text and "Adverse-event risks" in sim.text
    assert 'class="compare"' not in sim.text  # every mechanism on: nothing to compare with
    some_off = client.post("/ui/simulate", data={**FORM, **{k: v for k, v in ALL_ON.items() if "fcgr" not in k}})
    assert 'class="compare"' in some_off.text and "without fcgr_blockade" in some_off.text
    assert 'class="compare"' in client.post("/ui/compare", data={**FORM, **ALL_ON}).text
    assert "Shapley" in client.post("/ui/explain", data={**FORM, **ALL_ON}).text
    written = client.post("/ui/simulate", data={**FORM, **ALL_ON, "regimen_a": "written",
                                                 "regimen_a_text": "doses: [{day: 0, g_per_kg: 0.4}]"})
    assert written.status_code == 200 and "IVIG infused: 28.0 g" in written.text
    bad = client.post("/ui/simulate", data={**FORM, "weight_kg": "-1"})
    assert bad.status_code == 422 and bad.text.startswith('<p class="error"')
    assert "patient.weight_kg: expected" in bad.text
    bad = client.post("/ui/simulate", data={**FORM, "regimen_a": "written", "regimen_a_text": "[1, 2"})
    assert bad.status_code == 422 and "regimen_a_text: expected valid YAML" in bad.text
    trial = client.post("/ui/trials", data=FORM)
    assert trial.status_code == 200 and 'class="trial"' in trial.text
    run_id = trial.text.split('id="trial-', 1)[1].split('"', 1)[0]
    state = wait_for(client, run_id, ("done", "failed"))
    assert state["status"] == "done", state
    fragment = client.get(f"/ui/trials/{run_id}")
    assert "platelets_1e9_per_L_day_7" in fragment.text and "hx-trigger" not in fragment.text  # polling stops
    assert client.post("/ui/trials", data={**FORM, "trial_size": "many"}).status_code == 422
    assert client.get("/ui/trials/" + "0" * 32).status_code == 404
    assert run_id in client.get("/").text  # the trial is on the page after a reload
    assert client.get("/ui/runs").status_code == 200


# --- fuzzing the OpenAPI document ----------------------------------------------------------------

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

_FUZZ_DB = Path(tempfile.mkdtemp(prefix="ivigsim-fuzz-")) / "runs.sqlite"
_FUZZ_APP = create_app(_FUZZ_DB)
_SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", _FUZZ_APP)


@_SCHEMA.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_fuzzed_requests_never_get_a_server_error(case):
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, response.text[:300])


def test_the_page_simulates_a_regimen_of_comparators_alone_without_a_safety_panel(client):
    """The safety report is of IVIG infusions; a regimen of SCIG alone is simulated and shown
    without it, instead of the whole form being refused after the simulation was recorded."""
    runs_before = len(client.get("/api/runs").json())
    page = client.post("/ui/simulate", data={**FORM, **ALL_ON, "disease": "cidp", "baseline": "3", "days": "28", "regimen_a": "written",
                                             "regimen_a_text": "scig: {g_per_kg: 0.1, every_days: 7, count: 4}"})
    assert page.status_code == 200, page.text[:300]
    assert "/figure.png" in page.text and "Adverse-event risks" not in page.text
    assert len(client.get("/api/runs").json()) == runs_before + 1  # the simulation only


@pytest.mark.parametrize("body", [b'{"scenario": {"patient": {"weight_kg": 1' + b"0" * 5000 + b"}}}",
                                  b'{"scenario": ' + b"[" * 5000 + b"]" * 5000 + b"}",
                                  '{"scenario": {"name": "caf\xe9"}}'.encode("latin-1")],
                         ids=["huge-integer", "deep-nesting", "latin-1"])
def test_a_body_the_framework_cannot_parse_names_the_body(client, body):
    """Refused before any route runs (FastAPI's 400), in the shape of every other error. Deep
    nesting parses where the recursion limit is high (hypothesis raises it in this process):
    then the list where the scenario goes is refused, naming it."""
    r = client.post("/api/simulate", content=body, headers={"content-type": "application/json"})
    field = r.json()["field"]
    assert (r.status_code, field) == (400, "body") or (b"[[[" in body and (r.status_code, field) == (422, "scenario"))
    assert r.json()["detail"].startswith(f"{field}: expected")


def test_a_path_or_method_no_route_has_is_named(client):
    r = client.get("/api/runs/..%2F..%2Fetc%2Fpasswd")
    assert r.status_code == 404 and r.json()["field"] == "path"
    r = client.delete("/api/simulate")
    assert r.status_code == 405 and r.json()["field"] == "method"


def test_explain_over_treatments_has_a_smaller_budget_of_output_times(client):
    """Each comparator treatment is a player of the attribution and doubles the simulations: the
    page's 10,000 output times shrink to 10,000 / 2^k (three treatments: 1,250), refused at once."""
    doc = {"name": "three", "patient": {"weight_kg": 70, "sex": "female", "age_years": 50}, "disease": "mg",
           "regimen": {"course": {"total_g_per_kg": 2, "days": 2, "start_day": 30},
                       "plasma_exchange": {"days": [0, 2, 4]},
                       "scig": {"g_per_kg": 0.1, "every_days": 7, "count": 20, "start_day": 40},
                       "fcrn_inhibitor": {"days": [10, 17]}},
           "simulation": {"days": 730, "output_every_days": 0.073}}
    r = client.post("/api/explain", json={"scenario": doc, "summary": "nadir"})
    assert r.status_code == 422 and r.json()["field"] == "simulation.output_every_days"
    assert "at most 1,250 output times" in r.json()["detail"]


def test_comparison_labels_are_checked_like_names(client):
    doc = itp_document()
    r = client.post("/api/compare", json={"a": doc, "b": doc, "labels": ["x\x1b[2J", "y"]})
    assert r.status_code == 422 and r.json()["field"] == "labels.0"
    r = client.post("/api/regimens", json={"scenarios": [doc, doc], "labels": ["a", " "]})
    assert r.status_code == 422 and r.json()["field"] == "labels.1"


def test_a_form_with_too_many_fields_names_the_body(client):
    r = client.post("/ui/simulate", content="&".join(f"f{i}=1" for i in range(500)),
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 422 and "body: expected a form of at most 200 fields, got &#x27;500 fields" in r.text
