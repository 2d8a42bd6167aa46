"""Write a fit's results: estimates, the dataset with its residual columns, forecasts, plots.

Everything goes into one folder, each file written atomically:

- ``estimates.csv``: one row per subject and parameter (estimate, interval, prior's typical
  value, eta and its posterior SD, method);
- ``fit.json``: the same with the settings (error models, priors and their sources);
- ``DATA-fit.csv``: the dataset with DV as observed and PRED, RES, IPRED, IRES, IWRES, WRES,
  CWRES (``ivigsim.estimation.diagnostics``);
- ``forecast.csv`` and ``forecast-ID.png`` when a forecast was asked for;
- ``gof.png`` (goodness of fit) and ``individual-fits.png``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ivigsim.errors import InputError
from ivigsim.estimation.fit import DatasetFit
from ivigsim.estimation.forecast import Forecast, posterior_band
from ivigsim.io.nonmem import NonmemDataset, SimulatedDataset, fill_columns, observed_dv, write_dataset
from ivigsim.io.results import atomic_path

#: Individual-fit panels drawn at most (a large dataset gets the first ones).
MAX_PANELS = 12
COLUMNS = ("PRED", "IPRED", "IWRES", "WRES", "CWRES")


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def fitted_dataset(dataset: NonmemDataset, result: DatasetFit) -> SimulatedDataset:
    columns = result.columns(len(dataset.rows))
    header, rows = fill_columns(dataset, {name: columns[name] for name in COLUMNS})
    return SimulatedDataset(header, rows, columns["PRED"], ())


def write_fit(dataset: NonmemDataset, result: DatasetFit, folder: Path, stem: str,
              forecasts: Sequence[Forecast] = (), plots: bool = True) -> list[Path]:
    """Write every result file into ``folder``; returns the paths written. What takes time (the
    weighted residuals of the fitted dataset) is computed before the first file is written, so
    a run stopped there leaves no partial set of results."""
    fitted = fitted_dataset(dataset, result)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError("--out", "a folder that can be created", f"{folder} ({exc.strerror or exc})") from None
    written = []
    rows = []
    for fit in result.fits:
        for k, name in enumerate(fit.names):
            rows.append([fit.subject_id, name, f"{fit.estimate[k]:.6g}", f"{fit.lower[k]:.6g}", f"{fit.upper[k]:.6g}",
                         fit.level, f"{fit.typical[k]:.6g}", f"{fit.eta[k]:.6g}", f"{fit.sd[k]:.6g}", fit.method])
    path = folder / "estimates.csv"
    _write_csv(path, ["ID", "parameter", "estimate", "lower", "upper", "level", "prior_typical", "eta", "eta_sd",
                      "method"], rows)
    written.append(path)
    path = folder / "fit.json"
    document = {
        "errors": {o: str(e) for o, e in result.errors.items()},
        "priors": [{"parameter": p.name, "omega": p.omega, "scale": p.scale, "bounds": list(p.bounds),
                    "source": p.source} for p in result.priors],
        "subjects": [f.as_dict() for f in result.fits],
        "forecasts": [_forecast_dict(f) for f in forecasts],
    }
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(document, indent=2, default=float))
    written.append(path)
    written.append(write_dataset(fitted, folder / f"{stem}-fit.csv"))
    if forecasts:
        path = folder / "forecast.csv"
        _write_csv(path, ["ID", "output", "time_day", "median", "lower", "upper", "level"],
                   [[f.subject_id, f.output, f"{t:.6g}", f"{m:.6g}", f"{lo:.6g}", f"{hi:.6g}", f.level]
                    for f in forecasts for t, m, lo, hi in zip(f.times, f.median, f.lower, f.upper)])
        written.append(path)
    if plots:
        written += _plots(dataset, result, folder, forecasts)
    return written


def _forecast_dict(f: Forecast) -> dict:
    return {"id": f.subject_id, "output": f.output, "next_dose": {"day": f.next_dose.start_day, "amount_g":
            f.next_dose.amount_g, "duration_day": f.next_dose.duration_day}, "horizon_day": f.horizon_day,
            "level": f.level, "draws": f.n_draws, "target": None if f.target is None else str(f.target),
            "probability_met": f.probability_met, "dose_for_target_g": f.dose_for_target_g,
            "probability": f.probability, "note": f.note}


def _plots(dataset: NonmemDataset, result: DatasetFit, folder: Path, forecasts: Sequence[Forecast]) -> list[Path]:
    from ivigsim.plot_fit import plot_forecast, plot_goodness_of_fit, plot_individual_fits

    written = []
    columns = result.columns(len(dataset.rows))
    dv = observed_dv(dataset)
    observed = np.isfinite(dv)
    times = np.full(len(dataset.rows), np.nan)
    for subject in dataset.subjects:
        for record in subject.records:
            times[record.row] = record.time_day
    outputs = sorted({r.output for s in dataset.subjects for r in s.observations})
    label = f"({outputs[0]})" if len(outputs) == 1 else "(each record's output)"
    written.append(plot_goodness_of_fit(dv[observed], columns["PRED"][observed], columns["IPRED"][observed],
                                        columns["CWRES"][observed], times[observed], folder / "gof.png", label))
    output = outputs[0]
    panels = []
    for posterior, fit in list(zip(result.posteriors, result.fits))[:MAX_PANELS]:
        subject = posterior.subject
        records = [r for r in subject.observations if r.output == output]
        end = max([r.time_day for r in subject.records] + [d.end_day for d in subject.doses] + [1.0])
        grid = np.linspace(0.0, end * 1.02, 300)
        band = posterior_band(posterior, fit, output, grid, fit.level)
        panels.append({**band, "id": subject.id, "obs_time": [r.time_day for r in records],
                       "obs": [r.dv for r in records], "doses": [d.start_day for d in subject.doses],
                       "level": fit.level})
    written.append(plot_individual_fits(panels, folder / "individual-fits.png", output))
    for f in forecasts:
        subject = result.fit_of(f.subject_id)[0].subject
        records = [r for r in subject.observations if r.output == f.output]
        written.append(plot_forecast(f, np.array([r.time_day for r in records]), np.array([r.dv for r in records]),
                                     folder / f"forecast-{f.subject_id}.png", f.output))
    return written
