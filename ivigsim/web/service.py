"""What the web page and its API do, as plain functions over documents (dicts).

Nothing here knows HTTP: each function takes the same document a scenario or trial file
holds (parsed YAML, or JSON from a request), calls the functions the CLI calls
(``parse_scenario``, ``simulate``, ``summarise``, ``attribute``, ``assess``,
``parse_trial``) and returns plain values. Bad input raises ``InputError`` naming the
field, exactly as the CLI would; ``ivigsim.web.app`` maps that to HTTP in one place.

A server shared by several people must not be tied up by one request, so the web layer
bounds what one request may ask for (``LIMITS``) beyond the library's own limits; the CLI
keeps the library's.
"""

from __future__ import annotations

import io
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ivigsim import __version__
from ivigsim.errors import InputError, IvigsimError


@dataclass(frozen=True)
class Limits:
    """What one web request may ask for (the CLI has only the library's own limits)."""

    #: A simulated span: two years covers every shipped regimen with room to spare.
    days: float = 730.0
    #: Output times of one simulation (the page draws and returns every one of them).
    points: int = 10_000
    #: Patients per arm of a trial run from the page or API (runs take seconds, not hours).
    trial_size: int = 1_000
    trial_arms: int = 6
    trial_points: int = 3_000
    #: Bytes of a request body; a scenario or trial document is a few kB.
    body_bytes: int = 1 << 20
    #: Regimens one comparison takes (``ivigsim compare`` takes 10; the page's table stays readable).
    regimens: int = 4
    #: Parameter vectors of one simulation's uncertainty band (the CLI takes 1,000; 200 solve in seconds).
    ensemble: int = 200
    #: Candidates of one optimisation, and candidates x patients per candidate (each candidate
    #: is a one-arm trial: 20,000 patients is at most about 3 web trials of 6 arms x 1,000).
    optimise_candidates: int = 40
    optimise_patients: int = 20_000


LIMITS = Limits()

#: Formats a simulation run can be downloaded in, with their media types.
DOWNLOADS: dict[str, str] = {
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
    "netcdf": "application/x-netcdf",
    "png": "image/png",
    "sbml": "application/sbml+xml",
    "json": "application/json",
}
SUFFIXES = {"csv": ".csv", "parquet": ".parquet", "netcdf": ".nc", "png": ".png", "sbml": ".xml", "json": ".json",
            "svg": ".svg", "pdf": ".pdf"}
#: Formats a figure can be downloaded in (``ivigsim.plot.FORMATS``), with their media types.
FIGURES: dict[str, str] = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}


def parquet_available() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


# --- choices the page offers -------------------------------------------------------------

def readouts(disease: str | None) -> list[str]:
    """The names of a disease's readouts, the main one first (a disease lists them as names
    or as ``Readout`` values carrying their names)."""
    from ivigsim.model.library import get_disease

    return [str(getattr(r, "name", r)) for r in get_disease(disease).readouts]


def baseline_parameter(disease: str | None):
    """The parameter that sets a disease's readout before treatment (its provenance is
    'baseline'), or None for the healthy model."""
    from ivigsim.model.library import get_disease

    found = [p for p in get_disease(disease).module.parameters if p.provenance == "baseline"]
    return found[0] if found else None


def options() -> dict:
    """Diseases (with their baseline readout), shipped regimens, products and mechanisms."""
    from ivigsim.dosing import PRODUCTS, STANDARD_REGIMENS
    from ivigsim.model.library import DISEASES, MECHANISMS

    diseases = []
    for name, d in DISEASES.items():
        p = baseline_parameter(name)
        diseases.append({
            "name": name, "title": d.title, "readouts": readouts(name), "indication": d.indication,
            "baseline": None if p is None else {"parameter": p.name, "value": p.value, "unit": p.unit,
                                                "lower": p.bounds[0], "upper": p.bounds[1],
                                                "description": p.description},
        })
    regimens = [{"name": n, "indication": s.indication, "parts": [describe_part(p) for p in s.regimen.parts],
                 "source": s.source} for n, s in STANDARD_REGIMENS.items()]
    products = [{"name": n, "concentration_pct": round(100 * getattr(p, "concentration_g_per_mL", float("nan")), 3)}
                for n, p in PRODUCTS.items()]
    return clean({"version": __version__, "diseases": diseases, "regimens": regimens, "products": products,
                  "mechanisms": [m.name for m in MECHANISMS], "limits": LIMITS.__dict__,
                  "downloads": [f for f in DOWNLOADS if f != "parquet" or parquet_available()]})


def describe_part(part) -> str:
    """A regimen part as a clinician writes it."""
    kind = type(part).__name__
    if kind == "Course":
        return f"{part.total_g_per_kg:g} g/kg over {part.days} day{'s' if part.days != 1 else ''} from day {part.start_day:g}"
    if kind == "Dose":
        return f"{part.g_per_kg:g} g/kg on day {part.day:g}"
    if kind == "Maintenance":
        count = f", {part.count} doses" if part.count else (f" until day {part.until_day:g}" if part.until_day else "")
        return f"{part.g_per_kg:g} g/kg every {part.every_days:g} days from day {part.start_day:g}{count}"
    return kind


# --- scenarios ---------------------------------------------------------------------------

def build_scenario(document: Any, where: str = "scenario"):
    """The library's scenario from a scenario document, within the web's limits."""
    from ivigsim.io.scenario_file import parse_scenario

    scenario = parse_scenario(document, where)
    if scenario.days > LIMITS.days:
        raise InputError("simulation.days", f"a span of at most {LIMITS.days:g} days on the web page "
                         "(the command line has no such limit)", scenario.days)
    if scenario.days / scenario.output_every_days > LIMITS.points:
        raise InputError("simulation.output_every_days", f"at most {LIMITS.points:,} output times on the web page "
                         f"(days / output_every_days)", scenario.output_every_days)
    return scenario


def with_prefix(prefix: str):
    """Re-raise an InputError with ``prefix.`` before its field (which of two scenarios)."""
    from contextlib import contextmanager

    @contextmanager
    def guard():
        try:
            yield
        except InputError as exc:
            raise type(exc)(f"{prefix}.{exc.field}", exc.expected, exc.got) from None

    return guard()


@dataclass(frozen=True)
class Simulated:
    """One simulated scenario and what the page shows of it."""

    scenario: Any
    dataset: xr.Dataset
    summary: list[str]
    warnings: list[str]
    carried_by: str | None
    #: With a parameter ensemble: ``ivigsim.uncertainty.summary_lines`` (the band's heading, then its numbers).
    uncertainty: list[str] | None = None


@dataclass(frozen=True)
class Ensemble:
    """A parameter-uncertainty request (``simulate --ensemble N --ensemble-level L --ensemble-seed S``)."""

    size: int
    level: float
    seed: int


def check_ensemble(size: Any, level: Any = 0.9, seed: Any = 0) -> Ensemble | None:
    """The ensemble options checked by the library's own checks, within the web's limit;
    None when ``size`` is None (no band)."""
    from ivigsim.uncertainty import check_level, check_size

    if size is None:
        return None
    size = check_size(size, "ensemble")
    if size > LIMITS.ensemble:
        raise InputError("ensemble", f"at most {LIMITS.ensemble} parameter vectors on the web page (the command "
                         "line takes 1,000)", size)
    level = check_level(level, "ensemble_level")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError("ensemble_seed", "a seed >= 0 (an integer)", seed)
    return Ensemble(size, level, seed)


def run_simulation(scenario, explain: bool = True, ensemble: Ensemble | None = None) -> Simulated:
    """Simulate like ``ivigsim simulate``: the dataset, its summary lines and warnings, and
    which mechanisms carried the change in the disease readout; with ``ensemble``, as
    ``simulate --ensemble``: the band on every output and the summary's numbers as bands."""
    from ivigsim.simulation import simulate
    from ivigsim.summary import summarise

    uncertainty = None
    if ensemble is not None:
        from ivigsim.simulation import simulate_with_band
        from ivigsim.uncertainty import ensemble as draw, summary_lines

        ds, members = simulate_with_band(scenario, draw(ensemble.size, ensemble.seed), ensemble.level)
        uncertainty = summary_lines(members, ensemble.level)
    else:
        ds = simulate(scenario)
    status = np.asarray(ds["solver_status"]).ravel()
    if (status != 0).any():
        raise InputError("simulation.rtol", "a scenario the solver can finish (try a tighter simulation.rtol)",
                         f"solver status {int(status[0])}")
    summary = summarise(ds)
    carried = None
    if explain and scenario.disease and scenario.regimen:
        from ivigsim.attribution import carried_by
        carried = carried_by(scenario, readouts(scenario.disease)[0], min(7.0, scenario.days))
    return Simulated(scenario, ds, list(summary.lines()), list(summary.warnings()), carried, uncertainty)


def trajectories(ds: xr.Dataset) -> dict:
    """Every output over time for the one patient, with units: what the API returns."""
    one = ds.isel(patient=0)
    names = [n for n, v in ds.data_vars.items() if v.dims == ("patient", "time")]
    return {
        "time_day": one["time"].values.tolist(),
        "outputs": {n: one[n].values.astype(float).tolist() for n in names},
        "units": {n: str(ds[n].attrs.get("units", "")) for n in names},
    }


def simulation_result(sim: Simulated, series: bool = True) -> dict:
    out = {
        "name": sim.scenario.name, "disease": sim.scenario.disease or "none",
        "readouts": readouts(sim.scenario.disease),
        "summary": sim.summary, "warnings": sim.warnings, "carried_by": sim.carried_by,
        "uncertainty": sim.uncertainty,
        "attrs": {k: v for k, v in sim.dataset.attrs.items() if isinstance(v, (str, int, float))},
    }
    if series:
        out |= trajectories(sim.dataset)
    return clean(out)


def mechanisms_off(document: dict, off: list[str]) -> dict:
    """The same scenario document with the named mechanisms switched off."""
    from ivigsim.model.library import MECHANISMS

    known = [m.name for m in MECHANISMS]
    for name in off:
        if name not in known:
            raise InputError("off", f"mechanism names from {', '.join(known)}", name)
    if not isinstance(document, dict):
        raise InputError("scenario", "a mapping of scenario fields (name, patient, regimen, ...)",
                         type(document).__name__)
    mechanisms = dict(document.get("mechanisms") or {}) if isinstance(document.get("mechanisms"), dict) else {}
    mechanisms.update({name: False for name in off})
    return {**document, "mechanisms": mechanisms}


def differences(a: xr.Dataset, b: xr.Dataset, readouts: list[str]) -> dict:
    """Where two runs differ in what the page compares: readouts and IgG, at their peaks,
    nadirs and ends (each run on its own time grid)."""
    out = {}
    for name in dict.fromkeys([*readouts, "igg_total_g_per_L", "autoantibody_fraction_of_baseline"]):
        if name not in a or name not in b:
            continue
        va, vb = (np.asarray(d[name].isel(patient=0), dtype=float) for d in (a, b))
        out[name] = {
            "units": str(a[name].attrs.get("units", "")),
            "a": {"max": _nanmax(va), "min": _nanmin(va), "end": float(va[-1])},
            "b": {"max": _nanmax(vb), "min": _nanmin(vb), "end": float(vb[-1])},
        }
    return clean(out)


def _nanmax(v):
    return float(np.nanmax(v)) if np.isfinite(v).any() else None


def _nanmin(v):
    return float(np.nanmin(v)) if np.isfinite(v).any() else None


def explain(scenario, output: str, day: float | None, summary: str = "value") -> dict:
    """``ivigsim explain``: knock-out effects and Shapley values of each mechanism."""
    from ivigsim.attribution import attribute, readout, treatment_players

    if summary not in ("value", "change", "peak", "nadir"):
        raise InputError("summary", "one of value, change, peak, nadir", summary)
    if day is not None and summary in ("peak", "nadir"):
        raise InputError("day", f"no day with summary {summary} (the {summary} is over the whole span)", day)
    if day is not None and not (isinstance(day, (int, float)) and math.isfinite(day) and 0 <= day <= scenario.days):
        raise InputError("day", f"a day within the simulated span (0-{scenario.days:g})", day)
    treatments = treatment_players(scenario)
    points = LIMITS.points // 2 ** len(treatments)  # each treatment doubles the coalitions simulated
    if treatments and scenario.days / scenario.output_every_days > points:
        raise InputError("simulation.output_every_days", f"at most {points:,} output times on the web page for an "
                         f"attribution over {len(treatments)} treatment(s) besides IVIG's mechanisms (each doubles "
                         "the simulations; days / output_every_days)", scenario.output_every_days)
    try:
        result = attribute(scenario, readout(output, day, summary))
    except InputError as exc:  # the library names the command line's options; the API's fields have no dashes
        if not exc.field.startswith("--"):
            raise
        raise InputError(exc.field.removeprefix("--"), exc.expected, exc.got) from None
    return result, clean({
        "output": output, "day": day, "summary": summary,
        "none_on": result.none_on, "all_on": result.all_on, "total": result.total,
        "interaction": result.interaction,
        "mechanisms": [{"name": m, "knockout": result.knockout[m], "shapley": result.shapley[m],
                        "share": result.share(m)} for m in result.mechanisms],
    })


def gives_ivig(scenario) -> bool:
    """Whether the scenario's regimen has an IVIG infusion (the safety report's subject):
    plasma exchange, SCIG or an FcRn inhibitor alone has none."""
    from ivigsim.safety_risks import compile_plan

    return scenario.regimen is not None and bool(compile_plan(scenario).infusions)


def safety(scenario, risk_factors: Any = None, max_hours: float = 12.0) -> dict:
    """``ivigsim safety``: adverse-event risks per infusion and course, infection risk, rate plan."""
    from ivigsim.safety.factors import RiskFactors
    from ivigsim.io.scenario_file import parse_risk_factors
    from ivigsim.safety_report import assess

    if scenario.regimen is None:
        raise InputError("scenario.regimen", "a regimen (the risks are per infusion)", "none")
    if risk_factors is not None and scenario.risk_factors is not None:
        raise InputError("risk_factors", "either risk_factors or the scenario's risk_factors section", "both")
    factors = (parse_risk_factors(risk_factors, "risk_factors") if risk_factors is not None
               else scenario.risk_factors or RiskFactors())
    if isinstance(max_hours, bool) or not (isinstance(max_hours, (int, float)) and 1.0 <= max_hours <= 72.0):
        raise InputError("max_hours", "a duration from 1 to 72 hours", max_hours)
    report = assess(scenario, factors, max_hours=max_hours)
    return clean({**report.as_dict(), "lines": list(report.lines())})


# --- trials ------------------------------------------------------------------------------

def build_trial(document: Any):
    """The library's trial from a trial document, within the web's limits."""
    from ivigsim.io.trial_file import parse_trial

    population = document.get("population") if isinstance(document, dict) else None
    covariates = population.get("covariates") if isinstance(population, dict) else None
    if isinstance(covariates, dict) and covariates.get("csv") is not None:
        # A covariates CSV is read from the server's disk: not something a web request may name.
        raise InputError("population.covariates.csv", "covariate distributions (a CSV on the server's disk "
                         "cannot be named from the web)", covariates["csv"])
    trial = parse_trial(document, "trial", Path(tempfile.gettempdir()))
    if trial.size > LIMITS.trial_size:
        raise InputError("size", f"at most {LIMITS.trial_size:,} patients per arm on the web page (the command "
                         "line runs millions)", trial.size)
    if len(trial.arms) > LIMITS.trial_arms:
        raise InputError("arms", f"at most {LIMITS.trial_arms} arms on the web page", len(trial.arms))
    if trial.days > LIMITS.days:
        raise InputError("simulation.days", f"a span of at most {LIMITS.days:g} days on the web page", trial.days)
    if trial.days / trial.output_every_days > LIMITS.trial_points:
        raise InputError("simulation.output_every_days", f"at most {LIMITS.trial_points:,} output times per "
                         "patient on the web page", trial.output_every_days)
    if trial.trajectories:
        raise InputError("output.trajectories", "0 on the web page (per-arm estimates only)", trial.trajectories)
    return trial


def chunk_size(size: int) -> int:
    """Patients per chunk: about 20 chunks, so progress moves and a cancel lands within a
    twentieth of the run, and at least 10 patients so chunk overhead stays small."""
    return max(10, math.ceil(size / 20))


# --- files -------------------------------------------------------------------------------

def dataset_bytes(ds: xr.Dataset) -> bytes:
    """The dataset as the NetCDF file ``ivigsim simulate --format netcdf`` writes."""
    return export(ds, "netcdf")


def dataset_from_bytes(data: bytes) -> xr.Dataset:
    with xr.open_dataset(io.BytesIO(data), engine="scipy") as ds:
        return ds.load()


def export(ds: xr.Dataset, fmt: str) -> bytes:
    """A results file, written by the same function the CLI writes with."""
    from ivigsim.io.results import write_results

    with tempfile.TemporaryDirectory(prefix="ivigsim-web-") as folder:
        path = write_results(ds, Path(folder) / f"run{SUFFIXES[fmt]}", fmt)
        return path.read_bytes()


def figure_bytes(fig, fmt: str = "png") -> bytes:
    """A matplotlib figure as the bytes ``ivigsim.plot.save_figure`` writes (PNG, SVG or PDF;
    SVG and PDF without a creation date, so the same figure gives the same bytes)."""
    from ivigsim.plot import save_figure

    with tempfile.TemporaryDirectory(prefix="ivigsim-web-") as folder:
        return save_figure(fig, Path(folder) / f"figure.{fmt}", fmt).read_bytes()


def patient_png(ds: xr.Dataset, title: str, fmt: str = "png") -> bytes:
    from ivigsim.plot import patient_figure

    return figure_bytes(patient_figure(ds, title=title), fmt)


def attribution_png(result, label: str, fmt: str = "png") -> bytes:
    from ivigsim.plot import attribution_figure

    return figure_bytes(attribution_figure(result, label), fmt)


def sbml(scenario) -> bytes:
    from ivigsim.io.sbml import export_sbml

    return export_sbml(scenario).encode("utf-8")


# --- JSON --------------------------------------------------------------------------------

def clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities as null (JSON has neither), NumPy scalars as numbers."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return clean(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


__all__ = ["LIMITS", "DOWNLOADS", "IvigsimError", "InputError"]
