"""The JSON API: every page action as an HTTP endpoint (OpenAPI at /openapi.json, docs at
/docs). Bodies carry the same documents as the YAML files (a scenario, a trial), checked
by the library, so the API refuses what the CLI refuses, with the same one-line message.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ivigsim import __version__
from ivigsim.io.quantities import Number, Whole
from ivigsim.web import actions, service

router = APIRouter(prefix="/api")

#: A run id as the catalogue makes them (uuid4, hex).
RunId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="a run id from the catalogue")]

SCENARIO = Field(description="a scenario document, as a scenario file holds it (GET /api/schema/scenario)")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SimulateIn(_Body):
    scenario: dict[str, Any] = SCENARIO
    explain: bool = Field(True, description="say which mechanisms carried the change in the disease readout")
    series: bool = Field(True, description="return every output over time")
    ensemble: Whole | None = Field(None, description="parameter uncertainty (simulate --ensemble N): N parameter "
                                 "vectors, 1-200 on the web page; adds <output>_param_median/_lower/_upper and "
                                 "the summary's numbers as bands")
    ensemble_level: Number = Field(0.9, description="coverage of the band, in [0.5, 1)")
    ensemble_seed: Whole = Field(0, description="seed of the parameter vectors (the same seed, the same vectors)")


class RegimensIn(_Body):
    scenarios: list[dict[str, Any]] = Field(description="2 to 4 scenario documents: one patient and disease, a "
                                            "regimen each (ivigsim compare)")
    labels: list[Annotated[str, Field(max_length=80)]] | None = Field(
        None, description="one label per scenario (default: their names)")


class OptimiseIn(_Body):
    trial: dict[str, Any] = Field(description="a trial document: the population, a fraction endpoint and an arm "
                                  "with one maintenance part (ivigsim optimise)")
    endpoint: Annotated[str, Field(max_length=100)] = Field(description="the trial's fraction endpoint that counts "
                                                            "as response")
    target: Number = Field(description="response probability to keep, 0 to 1")
    doses: list[Number] = Field(description="maintenance doses to try, g/kg per infusion")
    intervals: list[Number] = Field(description="intervals to try, days")
    conservative: bool = Field(False, description="hold the lower end of the 95 % interval to the target")
    arm: Annotated[str, Field(max_length=100)] | None = Field(None, description="the template arm (default: the "
                                                              "first with one maintenance part)")
    size: Whole | None = Field(None, description="patients per candidate (default: the trial's size)")


class CompareIn(_Body):
    a: dict[str, Any] = Field(description="the first scenario document")
    b: dict[str, Any] = Field(description="the second scenario document")
    labels: tuple[Annotated[str, Field(max_length=80)], Annotated[str, Field(max_length=80)]] | None = None


class MechanismsIn(_Body):
    scenario: dict[str, Any] = SCENARIO
    off: list[Annotated[str, Field(max_length=60)]] = Field(max_length=10, description="mechanisms to switch off")


class ExplainIn(_Body):
    scenario: dict[str, Any] = SCENARIO
    output: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        None, description="default: the disease readout")
    day: Number | None = Field(None, description="day of the read-out (value, change); default day 7")
    summary: Literal["value", "change", "peak", "nadir"] = "value"


class SafetyIn(_Body):
    scenario: dict[str, Any] = SCENARIO
    risk_factors: dict[str, Any] | None = Field(None, description="instead of the scenario's risk_factors section")
    max_hours: Number = Field(12.0, description="longest practicable infusion for the slowest rate plan, 1-72 h")


class TrialIn(_Body):
    trial: dict[str, Any] = Field(description="a trial document, as a trial file holds it (GET /api/schema/trial)")


def _catalogue(request: Request):
    return request.app.state.catalogue


@router.get("/health", summary="The server is up")
def health() -> dict:
    return {"status": "ok", "version": __version__}


@router.get("/options", summary="Diseases, shipped regimens, products, mechanisms, limits")
def options() -> dict:
    return service.options()


@router.get("/schema/{kind}", summary="JSON Schema of the scenario or trial document")
def schema(kind: Literal["scenario", "trial"]) -> dict:
    if kind == "trial":
        from ivigsim.io.trial_file import trial_json_schema

        return service.clean(trial_json_schema())  # JSON has no infinity: unbounded defaults are null
    from ivigsim.io.scenario_file import scenario_json_schema

    return service.clean(scenario_json_schema())


@router.post("/simulate", summary="Simulate one patient (ivigsim simulate)")
def simulate(body: SimulateIn, request: Request) -> dict:
    ensemble = {"size": body.ensemble, "level": body.ensemble_level, "seed": body.ensemble_seed}
    return actions.simulate(_catalogue(request), body.scenario, body.explain, body.series, ensemble)


@router.post("/regimens", summary="One patient under 2 to 4 regimens: a table and an overlay (ivigsim compare)")
def regimens(body: RegimensIn, request: Request) -> dict:
    return actions.regimens(_catalogue(request), body.scenarios, body.labels)


@router.post("/compare", summary="Two scenarios side by side (two regimens)")
def compare(body: CompareIn, request: Request) -> dict:
    return actions.compare(_catalogue(request), body.a, body.b, body.labels)


@router.post("/mechanisms", summary="Switch mechanisms off and compare with all on")
def mechanisms(body: MechanismsIn, request: Request) -> dict:
    return actions.mechanisms(_catalogue(request), body.scenario, body.off)


@router.post("/explain", summary="Attribute an outcome to the mechanisms (ivigsim explain)")
def explain(body: ExplainIn, request: Request) -> dict:
    return actions.explain(_catalogue(request), body.scenario, body.output, body.day, body.summary)


@router.post("/safety", summary="Adverse-event risks, infection risk and rate plan (ivigsim safety)")
def safety(body: SafetyIn, request: Request) -> dict:
    return actions.safety(_catalogue(request), body.scenario, body.risk_factors, body.max_hours)


@router.post("/trials", status_code=202, summary="Start a virtual trial (runs in the background)")
def start_trial(body: TrialIn, request: Request) -> dict:
    run_id = request.app.state.trials.submit(body.trial)
    return trial_status(_catalogue(request).get(run_id))


@router.get("/trials/{run_id}", summary="A trial's status, progress and, when done, per-arm estimates")
def get_trial(run_id: RunId, request: Request) -> dict:
    return trial_status(_run(request, run_id, "trial"))


@router.post("/trials/{run_id}/cancel", summary="Cancel a queued or running trial")
def cancel_trial(run_id: RunId, request: Request) -> dict:
    return _cancel(request, run_id, "trial")


@router.post("/optimise", status_code=202, summary="Start a regimen optimisation (ivigsim optimise; runs in the "
             "background)")
def start_optimise(body: OptimiseIn, request: Request) -> dict:
    run_id = request.app.state.trials.submit_optimisation(body.model_dump())
    return trial_status(_catalogue(request).get(run_id))


@router.get("/optimise/{run_id}", summary="An optimisation's status, candidates done and, when done, the answer")
def get_optimise(run_id: RunId, request: Request) -> dict:
    return trial_status(_run(request, run_id, "optimise"))


@router.post("/optimise/{run_id}/cancel", summary="Cancel a queued or running optimisation")
def cancel_optimise(run_id: RunId, request: Request) -> dict:
    return _cancel(request, run_id, "optimise")


def _cancel(request: Request, run_id: str, kind: str) -> dict:
    """Cancel a background job of ``kind`` (trials and optimisations share the worker)."""
    if _run(request, run_id, kind)["status"] in ("queued", "running"):
        request.app.state.trials.cancel(run_id)
    return trial_status(_catalogue(request).get(run_id))


@router.get("/runs", summary="The run catalogue, newest first")
def runs(request: Request,
         kind: Literal["simulation", "compare", "mechanisms", "explain", "safety", "trial", "regimens",
                       "optimise"] | None = None,
         limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict]:
    return [service.clean(r) | {"links": actions.links(r["id"], r["kind"])}
            for r in _catalogue(request).runs(kind, limit)]


@router.get("/runs/{run_id}", summary="One run: inputs, ivigsim version, status and results")
def run(run_id: RunId, request: Request) -> dict:
    found = _run(request, run_id)
    return service.clean(found) | {"links": actions.links(run_id, found["kind"])}


@router.get("/runs/{run_id}/figure.png", summary="The run's figure (PNG)",
            responses={200: {"content": {"image/png": {}}}})
def figure(run_id: RunId, request: Request) -> Response:
    return Response(actions.figure(_catalogue(request), _run(request, run_id)), media_type="image/png")


@router.get("/runs/{run_id}/download/{fmt}", summary="The run as CSV, Parquet, NetCDF, SBML, JSON, or its figure as "
            "PNG, SVG or PDF")
def download(run_id: RunId, fmt: Literal["csv", "parquet", "netcdf", "png", "svg", "pdf", "sbml", "json"],
             request: Request) -> Response:
    data, media, name = actions.download(_catalogue(request), _run(request, run_id), fmt)
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def trial_status(run: dict) -> dict:
    out = {k: run[k] for k in ("id", "name", "status", "progress", "done", "total", "error", "created", "version")}
    out["run_id"] = run["id"]
    out["result"] = run["result"] if run["status"] == "done" else None
    base = "optimise" if run["kind"] == "optimise" else "trials"
    out["kind"] = run["kind"]
    out["links"] = {"status": f"/api/{base}/{run['id']}", "cancel": f"/api/{base}/{run['id']}/cancel",
                    "page": f"/runs/{run['id']}"}
    if run["kind"] == "optimise" and run["status"] == "done":
        out["links"] |= actions.links(run["id"], "optimise")
    return service.clean(out)


class RunNotFound(LookupError):
    def __init__(self, run_id: str, kind: str | None) -> None:
        self.run_id, self.kind = run_id, kind
        what = f"a {kind} run" if kind else "a run"
        super().__init__(f"run_id: expected the id of {what} in the catalogue, got {run_id!r}")


def _run(request: Request, run_id: str, kind: str | None = None) -> dict:
    found = _catalogue(request).get(run_id)
    if found is None or (kind is not None and found["kind"] != kind):
        raise RunNotFound(run_id, kind)
    return found


def error_body(field: str, message: str, expected: str | None = None) -> dict:
    return {"detail": message, "field": field, "expected": expected}


def not_found(exc: RunNotFound) -> JSONResponse:
    return JSONResponse(error_body("run_id", str(exc)), status_code=404)
