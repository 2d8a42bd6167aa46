"""Each thing the page and the API can do, once: run it, record it in the catalogue, and
return what both show. The JSON API (``api.py``) returns these results as they are; the
page (``pages.py``) renders them into HTML fragments."""

from __future__ import annotations

import threading
from typing import Any

from ivigsim.errors import InputError
from ivigsim.web import service
from ivigsim.web.catalogue import Catalogue

#: Matplotlib's pyplot keeps global state: requests are served on several threads, so one
#: figure is drawn at a time.
_PLOT_LOCK = threading.Lock()

RESULTS = "results.nc"
FIGURE = "figure.png"


def simulate(catalogue: Catalogue, document: Any, explain: bool = True, series: bool = True) -> dict:
    scenario = service.build_scenario(document)
    sim = service.run_simulation(scenario, explain=explain)
    result = service.simulation_result(sim, series=False)
    run_id = catalogue.add_run("simulation", scenario.name, {"scenario": document}, result=result)
    catalogue.put_artefact(run_id, RESULTS, service.DOWNLOADS["netcdf"], service.dataset_bytes(sim.dataset))
    out = service.simulation_result(sim, series=series) | {"run_id": run_id}
    return out | {"links": links(run_id, "simulation")}


def compare(catalogue: Catalogue, a: Any, b: Any, labels: tuple[str, str] | None = None,
            kind: str = "compare", explain: bool = False) -> dict:
    """Two scenarios side by side (two regimens; or one scenario with mechanisms off)."""
    with service.with_prefix("a"):
        scenario_a = service.build_scenario(a)
    with service.with_prefix("b"):
        scenario_b = service.build_scenario(b)
    labels = labels or (scenario_a.name, scenario_b.name)
    if labels[0] == labels[1]:
        labels = (f"A: {labels[0]}", f"B: {labels[1]}")
    with service.with_prefix("a"):
        sim_a = service.run_simulation(scenario_a, explain=explain)
    with service.with_prefix("b"):
        sim_b = service.run_simulation(scenario_b, explain=explain)
    ids = []
    for doc, sim in ((a, sim_a), (b, sim_b)):
        run_id = catalogue.add_run("simulation", sim.scenario.name, {"scenario": doc},
                                   result=service.simulation_result(sim, series=False))
        catalogue.put_artefact(run_id, RESULTS, service.DOWNLOADS["netcdf"], service.dataset_bytes(sim.dataset))
        ids.append(run_id)
    readouts = service.simulation_result(sim_a, series=False)["readouts"]
    result = {"a": ids[0], "b": ids[1], "labels": list(labels), "readouts": readouts,
              "differences": service.differences(sim_a.dataset, sim_b.dataset, readouts)}
    run_id = catalogue.add_run(kind, f"{labels[0]} vs {labels[1]}", {"a": a, "b": b, "labels": list(labels)},
                               result=result)
    return service.clean(result | {
        "run_id": run_id, "links": links(run_id, kind),
        "runs": {"a": service.simulation_result(sim_a, series=False) | {"run_id": ids[0], "links": links(ids[0], "simulation")},
                 "b": service.simulation_result(sim_b, series=False) | {"run_id": ids[1], "links": links(ids[1], "simulation")}},
    })


def mechanisms(catalogue: Catalogue, document: Any, off: list[str]) -> dict:
    """All mechanisms on against the named ones off: what switching them off changes."""
    if not off:
        raise InputError("off", "at least one mechanism to switch off", "none")
    reduced = service.mechanisms_off(document, off)
    return compare(catalogue, document, reduced, ("as given", f"without {', '.join(off)}"), kind="mechanisms")


def explain(catalogue: Catalogue, document: Any, output: str | None, day: float | None, summary: str) -> dict:
    scenario = service.build_scenario(document)
    if scenario.regimen is None:
        raise InputError("scenario.regimen", "a regimen (attribution splits the effect of IVIG)", "none")
    output = output or service.readouts(scenario.disease)[0]
    if day is None and summary in ("value", "change"):
        day = min(7.0, scenario.days)
    attribution, result = service.explain(scenario, output, day, summary)
    label = f"{output} ({summary}{f' on day {day:g}' if day is not None else ''})"
    run_id = catalogue.add_run("explain", f"{scenario.name}: {label}", {"scenario": document, "output": output,
                                                                        "day": day, "summary": summary}, result=result)
    with _PLOT_LOCK:
        png = service.attribution_png(attribution, label)
    catalogue.put_artefact(run_id, FIGURE, "image/png", png)
    return result | {"run_id": run_id, "label": label, "links": links(run_id, "explain")}


def safety(catalogue: Catalogue, document: Any, risk_factors: Any, max_hours: float) -> dict:
    scenario = service.build_scenario(document)
    result = service.safety(scenario, risk_factors, max_hours)
    run_id = catalogue.add_run("safety", scenario.name, {"scenario": document, "risk_factors": risk_factors,
                                                         "max_hours": max_hours}, result=result)
    return result | {"run_id": run_id, "links": links(run_id, "safety")}


# --- reading runs back -------------------------------------------------------------------

def formats(kind: str) -> list[str]:
    """What a run of this kind can be downloaded as."""
    if kind == "simulation":
        return [f for f in service.DOWNLOADS if f != "parquet" or service.parquet_available()]
    if kind in ("compare", "mechanisms", "explain"):
        return ["json", "png"]
    return ["json"]


def links(run_id: str, kind: str) -> dict:
    out = {"run": f"/api/runs/{run_id}", "page": f"/runs/{run_id}"}
    if "png" in formats(kind):
        out["figure"] = f"/api/runs/{run_id}/figure.png"
    out["downloads"] = {f: f"/api/runs/{run_id}/download/{f}" for f in formats(kind)}
    return out


def record(catalogue: Catalogue, run_id: str) -> dict:
    found = catalogue.get(run_id)
    if found is None:
        raise LookupError(run_id)
    return found


def dataset(catalogue: Catalogue, run_id: str):
    stored = catalogue.artefact(run_id, RESULTS)
    if stored is None:
        raise LookupError(run_id)
    return service.dataset_from_bytes(stored[1])


def figure(catalogue: Catalogue, run: dict) -> bytes:
    """The run's figure, drawn once and kept in the catalogue."""
    stored = catalogue.artefact(run["id"], FIGURE)
    if stored is not None:
        return stored[1]
    if run["kind"] == "simulation":
        with _PLOT_LOCK:
            png = service.patient_png(dataset(catalogue, run["id"]), run["name"])
    elif run["kind"] in ("compare", "mechanisms"):
        result = run["result"]
        a, b = dataset(catalogue, result["a"]), dataset(catalogue, result["b"])
        with _PLOT_LOCK:
            from ivigsim.web.figures import compare_png

            png = compare_png(a, b, tuple(result["labels"]), result["readouts"], run["name"])
    else:
        raise InputError("run_id", "a run with a figure (simulation, compare, mechanisms, explain)",
                         f"a {run['kind']} run")
    catalogue.put_artefact(run["id"], FIGURE, "image/png", png)
    return png


def download(catalogue: Catalogue, run: dict, fmt: str) -> tuple[bytes, str, str]:
    """(bytes, media type, file name) of a run in a format."""
    import json

    allowed = formats(run["kind"])
    if fmt not in allowed:
        raise InputError("format", f"one of {', '.join(allowed)} for a {run['kind']} run", fmt)
    stem = f"ivigsim-{run['kind']}-{run['id'][:8]}"
    name = f"{stem}{service.SUFFIXES[fmt]}"
    if fmt == "json":
        body = {k: run[k] for k in ("id", "kind", "name", "created", "version", "status", "inputs", "result", "error")}
        return json.dumps(service.clean(body), indent=2).encode("utf-8"), service.DOWNLOADS["json"], name
    if fmt == "png":
        return figure(catalogue, run), "image/png", name
    if fmt == "sbml":
        return service.sbml(service.build_scenario(run["inputs"]["scenario"])), service.DOWNLOADS["sbml"], name
    ds = dataset(catalogue, run["id"])
    return service.export(ds, fmt), service.DOWNLOADS[fmt], name
