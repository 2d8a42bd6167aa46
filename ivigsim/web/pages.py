"""The page: server-rendered HTML (Jinja2) whose buttons post the form with htmx and swap
in the fragment that comes back. Each action turns the form into the same documents the
JSON API takes (a scenario, a trial) and calls the same ``actions``; an input error comes
back as a 422 fragment holding the CLI's one-line message.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from ivigsim import __version__
from ivigsim.errors import InputError
from ivigsim.web import actions, service
from ivigsim.web.api import RunId, _run, trial_status

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)  # the JSON API under /api is the documented one

#: The most fields a posted form may have (the pages send fewer than 60).
MAX_FORM_FIELDS = 200
#: The longest regimen written out in the page's text box.
MAX_WRITTEN = 20_000


async def form(request: Request) -> dict[str, str]:
    """The posted form (urlencoded, as htmx sends it); a checkbox is present when ticked.
    Parsed here rather than with FastAPI's Form, which needs python-multipart for this."""
    body = (await request.body()).decode("utf-8", errors="replace")
    try:
        return dict(parse_qsl(body, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS))
    except ValueError:  # more fields than any page sends
        raise InputError("body", f"a form of at most {MAX_FORM_FIELDS} fields",
                         f"{body.count('&') + 1} fields") from None


def _value(text: str) -> Any:
    """A number where the field holds one; otherwise the text as written ("154 lb", "8 weeks"),
    which the scenario file's quantities accept with their units."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        return text


def _whole(fields: dict, key: str, default: int) -> int:
    text = fields.get(key, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise InputError(key, "a whole number", text) from None


def written_regimen(text: str, field: str, what: str = "regimen") -> dict:
    """A regimen (or another document: ``what``) written out in a text box (YAML or JSON), read
    by the library's own hardened YAML reader (size, aliases, duplicate keys)."""
    from ivigsim.io.scenario_file import read_yaml

    if len(text) > MAX_WRITTEN:
        raise InputError(field, f"a {what} of at most {MAX_WRITTEN:,} characters", f"{len(text):,} characters")
    with tempfile.TemporaryDirectory(prefix="ivigsim-web-") as folder:
        path = Path(folder) / "regimen.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            data = read_yaml(path)
        except InputError as exc:
            raise InputError(field, exc.expected, exc.got) from None
    if not isinstance(data, dict):
        expected = ("a regimen mapping (standard:, course:, doses:, maintenance:, ...)" if what == "regimen"
                    else f"a {what} mapping")
        raise InputError(field, expected, type(data).__name__)
    return data


def regimen(fields: dict, which: str) -> dict | None:
    """Regimen A, B, C or D from the form: a shipped one, one written out, or none."""
    choice = fields.get(f"regimen_{which}", "none")
    product = fields.get("product") or "generic-10"
    if choice == "none":
        return None
    if choice == "written":
        data = written_regimen(fields.get(f"regimen_{which}_text", ""), f"regimen_{which}_text")
        return {"product": product, **data}
    return {"standard": choice, "product": product}


def scenario(fields: dict, which: str = "a") -> dict:
    """The scenario document the form describes (regimen A or B)."""
    disease = fields.get("disease") or "none"
    patient = {"weight_kg": _value(fields.get("weight_kg", "70")), "age_years": _value(fields.get("age_years", "45")),
               "sex": fields.get("sex", "female")}
    if fields.get("height_cm", "").strip():
        patient["height_cm"] = _value(fields["height_cm"])
    document: dict[str, Any] = {"name": fields.get("name") or f"{disease}, regimen {which.upper()}",
                                "patient": patient, "disease": None if disease == "none" else disease,
                                "simulation": {"days": _value(fields.get("days", "56")),
                                               "output_every_days": _value(fields.get("every", "0.25"))}}
    parameter = service.baseline_parameter(document["disease"])
    if parameter is not None and fields.get("baseline", "").strip():
        document["parameters"] = {parameter.name: _value(fields["baseline"])}
    chosen = regimen(fields, which)
    if chosen is not None:
        document["regimen"] = chosen
        label = fields.get(f"regimen_{which}")
        document["name"] = fields.get("name") or f"{disease}: {'written regimen' if label == 'written' else label}"
    return document


def switched_off(fields: dict) -> list[str]:
    from ivigsim.model.library import MECHANISMS

    return [m.name for m in MECHANISMS if f"mech_{m.name}" not in fields]


def trial_document(fields: dict) -> dict:
    """A small trial from the form: regimens A and B (and no treatment if ticked), the
    disease's readout at a day as median and mean change, per arm."""
    disease = fields.get("disease") or "none"
    readout = service.readouts(disease if disease != "none" else None)[0]
    day = _value(fields.get("trial_day", "7"))
    tag = re.sub(r"\W+", "_", f"{day:g}" if isinstance(day, float) else str(day)).strip("_")  # endpoint names are column names
    arms = []
    for which in ("a", "b"):
        chosen = regimen(fields, which)
        label = fields.get(f"regimen_{which}", "none")
        arms.append({"name": f"{which.upper()}: {'written' if label == 'written' else label}", "regimen": chosen})
    if "placebo" in fields:
        arms.append({"name": "no treatment", "regimen": None})
    contrasts = [{"arms": [arms[1]["name"], arms[0]["name"]]}] if "trial_contrast" in fields else []
    population: dict[str, Any] = {}
    parameter = service.baseline_parameter(None if disease == "none" else disease)
    if parameter is not None and fields.get("baseline", "").strip():
        population["parameters"] = {parameter.name: _value(fields["baseline"])}
    return {
        "name": fields.get("trial_name") or f"{disease} trial from the page",
        "disease": disease, "seed": _whole(fields, "trial_seed", 1), "size": _whole(fields, "trial_size", 50),
        "population": population, "arms": arms,
        "endpoints": [
            {"name": f"{readout}_day_{tag}", "output": readout, "at_day": day, "summary": "median"},
            {"name": f"{readout}_change_day_{tag}", "output": readout, "measure": "change", "at_day": day,
             "summary": "mean"},
        ],
        "simulation": {"days": _value(fields.get("trial_days", "28")), "output_every_days": 0.25,
                       "method": fields.get("trial_method") or "numpy-dopri5"},
    } | ({"contrasts": contrasts} if contrasts else {})


#: Regimens the page can put side by side: A and B, and C and D when chosen.
WHICH = ("a", "b", "c", "d")


def regimen_documents(fields: dict) -> list[dict]:
    """The scenario documents of regimens A to D (C and D only when chosen), one patient."""
    return [scenario(fields, w) for w in WHICH if w in ("a", "b") or fields.get(f"regimen_{w}", "")]


def ensemble_options(fields: dict) -> dict | None:
    """The parameter-uncertainty box: empty for none, else a number of vectors."""
    if not fields.get("ensemble", "").strip():
        return None
    return {"size": _whole(fields, "ensemble", 0), "level": 0.9, "seed": 0}


def optimisation_body(fields: dict) -> dict:
    """The optimiser's request from the form: the trial written out, endpoint, target and grid
    (comma-separated, read by the CLI's own parser)."""
    from ivigsim.trial.optimise import Grid
    from ivigsim.web.stewardship import _option_names

    document = written_regimen(fields.get("opt_trial", ""), "opt_trial", "trial document")
    try:
        target = float(fields.get("opt_target", "").strip())
    except ValueError:
        raise InputError("target", "a response probability from 0 to 1 (0.8 = 80 % of patients)",
                         fields.get("opt_target", "")) from None
    with _option_names():
        grid = Grid.parse(fields.get("opt_doses", ""), fields.get("opt_intervals", ""))
    size = _whole(fields, "opt_size", 0) or None
    return {"trial": document, "endpoint": fields.get("opt_endpoint", "").strip(), "target": target,
            "doses": list(grid.doses_g_per_kg), "intervals": list(grid.intervals_days),
            "conservative": "opt_conservative" in fields, "arm": None, "size": size}


def _render(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"version": __version__, **context}, status_code=status)


#: The optimiser's trial as the page first shows it: the shipped CIDP example, 100 patients.
OPTIMISE_EXAMPLE = """name: CIDP maintenance, dose and interval for a year
disease: cidp
seed: 52
size: 100
population:
  parameters: {incat_baseline: 4.5, cidp_remission: 0.25}
  variability: {incat_baseline: 0.35, cidp_remission: 1.4}
  inclusion: ["incat_score >= 2", "incat_score <= 9"]
arms:
  - name: maintenance
    regimen:
      course: {total_g_per_kg: 2, days: 2}
      maintenance: {g_per_kg: 1.0, every_days: 21, start_day: 21, until_day: 364}
endpoints:
  - {name: responder_kept_to_week52, output: incat_score, measure: change, window: [42, 364], over_window: all,
     criterion: "<= -1", summary: fraction}
simulation: {days: 364, output_every_days: 1, method: numpy-dopri5}
"""


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    catalogue = request.app.state.catalogue
    jobs = sorted([*catalogue.runs("trial", limit=3), *catalogue.runs("optimise", limit=3)],
                  key=lambda r: r["created"], reverse=True)
    return _render(request, "index.html", options=service.options(), runs=catalogue.runs(limit=15),
                   trials=[trial_status(catalogue.get(r["id"])) for r in jobs], optimise_example=OPTIMISE_EXAMPLE)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(run_id: RunId, request: Request) -> HTMLResponse:
    """A run reopened from the catalogue."""
    run = _run(request, run_id)
    return _render(request, "run.html", run=run, **fragment_context(request, run))


def fragment_context(request: Request, run: dict) -> dict:
    catalogue = request.app.state.catalogue
    if run["kind"] == "simulation":
        return {"fragment": "_simulation.html", "sim": run["result"] | {"run_id": run["id"],
                                                                         "links": actions.links(run["id"], "simulation")}}
    if run["kind"] in ("compare", "mechanisms"):
        a, b = (catalogue.get(run["result"][k]) for k in ("a", "b"))
        return {"fragment": "_compare.html", "cmp": compare_view(run, a, b)}
    if run["kind"] in ("trial", "optimise"):
        return {"fragment": "_trial.html", "trial": trial_status(run)}
    if run["kind"] == "regimens":
        return {"fragment": "_regimens.html", "reg": run["result"] | {"run_id": run["id"], "name": run["name"],
                                                                     "links": actions.links(run["id"], "regimens")}}
    if run["kind"] == "explain":
        return {"fragment": "_explain.html", "exp": run["result"] | {"run_id": run["id"], "label": run["name"],
                                                                    "links": actions.links(run["id"], "explain")}}
    return {"fragment": "_safety.html", "safety": run["result"]}


def compare_view(run: dict, a: dict, b: dict) -> dict:
    return {"run_id": run["id"], "name": run["name"], "labels": run["result"]["labels"],
            "differences": run["result"]["differences"], "links": actions.links(run["id"], run["kind"]),
            "a": a["result"] | {"run_id": a["id"], "links": actions.links(a["id"], "simulation")},
            "b": b["result"] | {"run_id": b["id"], "links": actions.links(b["id"], "simulation")}}


@router.post("/ui/simulate", response_class=HTMLResponse)
async def ui_simulate(request: Request) -> HTMLResponse:
    fields = await form(request)
    catalogue = request.app.state.catalogue
    document = scenario(fields, "a")
    off = switched_off(fields)
    # The safety panel is of IVIG infusions: none for a regimen of comparators alone (decided
    # before anything is recorded, so a valid form never ends in a refusal).
    with_safety = "regimen" in document and service.gives_ivig(service.build_scenario(document))
    context: dict[str, Any] = {"sim": actions.simulate(catalogue, document, series=False,
                                                       ensemble=ensemble_options(fields))}
    if off:  # mechanisms switched off: show what that changes against all of them on
        result = actions.mechanisms(catalogue, document, off)
        context["cmp"] = compare_view(catalogue.get(result["run_id"]), catalogue.get(result["a"]),
                                      catalogue.get(result["b"]))
    if with_safety:
        context["safety"] = actions.safety(catalogue, document, None, 12.0)
    return _render(request, "_simulation_page.html", **context)


@router.post("/ui/compare", response_class=HTMLResponse)
async def ui_compare(request: Request) -> HTMLResponse:
    fields = await form(request)
    catalogue = request.app.state.catalogue
    result = actions.compare(catalogue, scenario(fields, "a"), scenario(fields, "b"))
    run = catalogue.get(result["run_id"])
    return _render(request, "_compare.html", cmp=compare_view(run, catalogue.get(result["a"]), catalogue.get(result["b"])))


@router.post("/ui/regimens", response_class=HTMLResponse)
async def ui_regimens(request: Request) -> HTMLResponse:
    fields = await form(request)
    documents = regimen_documents(fields)
    labels = [f"{w.upper()}: {fields.get(f'regimen_{w}')}" for w in WHICH[:len(documents)]]
    result = actions.regimens(request.app.state.catalogue, documents, labels)
    return _render(request, "_regimens.html", reg=result | {"name": " vs ".join(result["labels"])})


@router.post("/ui/optimise", response_class=HTMLResponse)
async def ui_optimise(request: Request) -> HTMLResponse:
    fields = await form(request)
    run_id = request.app.state.trials.submit_optimisation(optimisation_body(fields))
    return _render(request, "_trial.html", trial=trial_status(request.app.state.catalogue.get(run_id)))


@router.get("/ui/optimise/{run_id}", response_class=HTMLResponse)
def ui_optimise_status(run_id: RunId, request: Request) -> HTMLResponse:
    return _render(request, "_trial.html", trial=trial_status(_run(request, run_id, "optimise")))


@router.post("/ui/optimise/{run_id}/cancel", response_class=HTMLResponse)
def ui_optimise_cancel(run_id: RunId, request: Request) -> HTMLResponse:
    return _cancel(request, run_id, "optimise")


@router.post("/ui/explain", response_class=HTMLResponse)
async def ui_explain(request: Request) -> HTMLResponse:
    fields = await form(request)
    result = actions.explain(request.app.state.catalogue, scenario(fields, "a"), None,
                             _value(fields["explain_day"]) if fields.get("explain_day", "").strip() else None, "value")
    return _render(request, "_explain.html", exp=result)


@router.post("/ui/trials", response_class=HTMLResponse)
async def ui_trial(request: Request) -> HTMLResponse:
    fields = await form(request)
    run_id = request.app.state.trials.submit(trial_document(fields))
    return _render(request, "_trial.html", trial=trial_status(request.app.state.catalogue.get(run_id)))


@router.get("/ui/trials/{run_id}", response_class=HTMLResponse)
def ui_trial_status(run_id: RunId, request: Request) -> HTMLResponse:
    return _render(request, "_trial.html", trial=trial_status(_run(request, run_id, "trial")))


@router.post("/ui/trials/{run_id}/cancel", response_class=HTMLResponse)
def ui_trial_cancel(run_id: RunId, request: Request) -> HTMLResponse:
    return _cancel(request, run_id, "trial")


def _cancel(request: Request, run_id: str, kind: str) -> HTMLResponse:
    """Cancel a background job of ``kind`` (trials and optimisations share the worker)."""
    if _run(request, run_id, kind)["status"] in ("queued", "running"):
        request.app.state.trials.cancel(run_id)
    return _render(request, "_trial.html", trial=trial_status(request.app.state.catalogue.get(run_id)))


@router.get("/ui/runs", response_class=HTMLResponse)
def ui_runs(request: Request) -> HTMLResponse:
    return _render(request, "_runs.html", runs=request.app.state.catalogue.runs(limit=30))
