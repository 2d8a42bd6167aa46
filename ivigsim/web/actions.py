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
#: A comparison's or an optimisation's table, as the CLI writes it (compare.csv, candidates.csv).
TABLE = "table.csv"


def figure_name(fmt: str) -> str:
    return f"figure.{fmt}"


def simulate(catalogue: Catalogue, document: Any, explain: bool = True, series: bool = True,
             ensemble: dict | None = None) -> dict:
    """One patient (``ivigsim simulate``); ``ensemble`` ({"size", "level", "seed"}): with the
    parameter-uncertainty band (``simulate --ensemble``)."""
    ensemble = ensemble or {}
    band = service.check_ensemble(ensemble.get("size"), ensemble.get("level", 0.9), ensemble.get("seed", 0))
    scenario = service.build_scenario(document)
    sim = service.run_simulation(scenario, explain=explain, ensemble=band)
    result = service.simulation_result(sim, series=False)
    inputs = {"scenario": document} | ({"ensemble": band.__dict__} if band is not None else {})
    run_id = catalogue.add_run("simulation", scenario.name, inputs, result=result)
    catalogue.put_artefact(run_id, RESULTS, service.DOWNLOADS["netcdf"], service.dataset_bytes(sim.dataset))
    out = service.simulation_result(sim, series=series) | {"run_id": run_id}
    return out | {"links": links(run_id, "simulation")}


def _check_labels(labels) -> None:
    """Labels head the table's columns and the figure's legend: names, as a scenario's are."""
    from ivigsim.io.scenario_file import check_name

    for i, label in enumerate(labels or ()):
        check_name(label, f"labels.{i}", empty_ok=False)


def compare(catalogue: Catalogue, a: Any, b: Any, labels: tuple[str, str] | None = None,
            kind: str = "compare", explain: bool = False) -> dict:
    """Two scenarios side by side (two regimens; or one scenario with mechanisms off)."""
    with service.with_prefix("a"):
        scenario_a = service.build_scenario(a)
    with service.with_prefix("b"):
        scenario_b = service.build_scenario(b)
    _check_labels(labels)
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


def regimens(catalogue: Catalogue, documents: Any, labels: list[str] | None = None) -> dict:
    """Several regimens for one patient (``ivigsim compare``): the table, its CSV as the CLI
    writes it, each scenario's results (for the overlay figure, drawn on request)."""
    from ivigsim.web import stewardship

    _check_labels(labels)
    scenarios, labels = stewardship.build_regimens(documents, labels)
    comparison = stewardship.run_regimens(scenarios, labels)
    result = stewardship.regimens_result(comparison)
    name = " vs ".join(result["labels"])
    run_id = catalogue.add_run("regimens", name, {"scenarios": documents, "labels": labels}, result=result)
    catalogue.put_artefact(run_id, TABLE, service.DOWNLOADS["csv"], stewardship.table_csv(comparison))
    for k, ds in enumerate(comparison.datasets):
        catalogue.put_artefact(run_id, f"results-{k}.nc", service.DOWNLOADS["netcdf"], service.dataset_bytes(ds))
    return service.clean(result | {"run_id": run_id, "links": links(run_id, "regimens")})


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
    label = explain_label(output, summary, day)
    run_id = catalogue.add_run("explain", f"{scenario.name}: {label}", {"scenario": document, "output": output,
                                                                        "day": day, "summary": summary}, result=result)
    with _PLOT_LOCK:
        png = service.attribution_png(attribution, label)
    catalogue.put_artefact(run_id, FIGURE, "image/png", png)  # SVG and PDF: drawn on request from the result
    return result | {"run_id": run_id, "label": label, "links": links(run_id, "explain")}


def explain_label(output: str, summary: str, day: float | None) -> str:
    return f"{output} ({summary}{f' on day {day:g}' if day is not None else ''})"


def safety(catalogue: Catalogue, document: Any, risk_factors: Any, max_hours: float) -> dict:
    scenario = service.build_scenario(document)
    result = service.safety(scenario, risk_factors, max_hours)
    run_id = catalogue.add_run("safety", scenario.name, {"scenario": document, "risk_factors": risk_factors,
                                                         "max_hours": max_hours}, result=result)
    return result | {"run_id": run_id, "links": links(run_id, "safety")}


# --- reading runs back -------------------------------------------------------------------

#: Kinds of run with a figure (PNG, SVG, PDF); an optimisation's only once it is done.
FIGURED = ("simulation", "compare", "mechanisms", "explain", "regimens", "optimise")


def formats(kind: str) -> list[str]:
    """What a run of this kind can be downloaded as."""
    figures = list(service.FIGURES) if kind in FIGURED else []
    if kind == "simulation":
        return [f for f in service.DOWNLOADS if f != "parquet" or service.parquet_available()] + figures[1:]
    if kind in ("regimens", "optimise"):
        return ["csv", "json", *figures]
    return ["json", *figures]


def links(run_id: str, kind: str) -> dict:
    out = {"run": f"/api/runs/{run_id}", "page": f"/runs/{run_id}"}
    if kind in FIGURED:
        out["figure"] = f"/api/runs/{run_id}/figure.png"
    out["downloads"] = {f: f"/api/runs/{run_id}/download/{f}" for f in formats(kind)}
    return out


def record(catalogue: Catalogue, run_id: str) -> dict:
    found = catalogue.get(run_id)
    if found is None:
        raise LookupError(run_id)
    return found


def dataset(catalogue: Catalogue, run_id: str, name: str = RESULTS):
    stored = catalogue.artefact(run_id, name)
    if stored is None:
        raise LookupError(run_id)
    return service.dataset_from_bytes(stored[1])


def figure(catalogue: Catalogue, run: dict, fmt: str = "png") -> bytes:
    """The run's figure in ``fmt`` (PNG, SVG, PDF), drawn once per format and kept in the catalogue."""
    name = figure_name(fmt)
    stored = catalogue.artefact(run["id"], name)
    if stored is not None:
        return stored[1]
    kind, result = run["kind"], run["result"]
    if kind == "simulation":
        ds = dataset(catalogue, run["id"])
        with _PLOT_LOCK:
            data = service.patient_png(ds, run["name"], fmt)
    elif kind in ("compare", "mechanisms"):
        a, b = dataset(catalogue, result["a"]), dataset(catalogue, result["b"])
        with _PLOT_LOCK:
            from ivigsim.web.figures import compare_png

            data = compare_png(a, b, tuple(result["labels"]), result["readouts"], run["name"], fmt)
    elif kind == "explain":
        from ivigsim.attribution import Attribution

        ms = result["mechanisms"]
        attribution = Attribution(tuple(m["name"] for m in ms), result["all_on"], result["none_on"],
                                  {m["name"]: m["knockout"] for m in ms}, {m["name"]: m["shapley"] for m in ms})
        with _PLOT_LOCK:
            inputs = run["inputs"]
            data = service.attribution_png(attribution, explain_label(inputs["output"], inputs["summary"],
                                                                      inputs["day"]), fmt)
    elif kind == "regimens":
        from ivigsim.web import stewardship

        datasets = [dataset(catalogue, run["id"], f"results-{k}.nc") for k in range(len(result["rows"]))]
        comparison = stewardship.comparison_from_stored(result, datasets)
        with _PLOT_LOCK:
            data = stewardship.comparison_figure(comparison, f"one patient, {len(datasets)} regimens: {run['name']}", fmt)
    else:  # an optimisation's figures are drawn when it finishes; one not finished has none yet
        raise InputError("run_id", "a run with a figure (simulation, compare, mechanisms, explain, regimens, "
                         "a finished optimisation)", f"a {kind} run ({run['status']})")
    catalogue.put_artefact(run["id"], name, service.FIGURES[fmt], data)
    return data


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
    if fmt in service.FIGURES:
        return figure(catalogue, run, fmt), service.FIGURES[fmt], name
    if fmt == "csv" and run["kind"] in ("regimens", "optimise"):
        stored = catalogue.artefact(run["id"], TABLE)
        if stored is None:
            raise InputError("fmt", "json until the run has finished (its table is written then)", fmt)
        return stored[1], service.DOWNLOADS["csv"], name
    if fmt == "sbml":
        return service.sbml(service.build_scenario(run["inputs"]["scenario"])), service.DOWNLOADS["sbml"], name
    ds = dataset(catalogue, run["id"])
    return service.export(ds, fmt), service.DOWNLOADS[fmt], name
