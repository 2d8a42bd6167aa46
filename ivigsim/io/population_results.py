"""Write a population fit's results (``ivigsim.estimation.nlme``) into one folder, each
file written atomically, like an individual fit's (``ivigsim.io.fit_results``):

- ``population.csv``: one row per parameter and quantity (``typical``, ``omega``): median,
  interval, level, R-hat, bulk and tail ESS, the model's value and the declared omega;
- ``individual.csv``: one row per subject and parameter: posterior mean and interval;
- ``population.json``: the same with the settings (priors, error models, sampler,
  divergences, run time, warnings);
- ``posterior.nc``: the whole posterior (ArviZ ``InferenceData``, netCDF) for further
  analysis with ArviZ.
"""

from __future__ import annotations

import json
from pathlib import Path

from ivigsim.errors import InputError
from ivigsim.estimation.nlme import PopulationFit
from ivigsim.io.fit_results import _write_csv
from ivigsim.io.results import atomic_path

FILES = ("population.csv", "individual.csv", "population.json", "posterior.nc")


def write_population_fit(fit: PopulationFit, folder: Path, posterior: bool = True) -> list[Path]:
    """Write the files above into ``folder``; returns the paths written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError("--out", "a folder that can be created", f"{folder} ({exc.strerror or exc})") from None
    written = []
    rows = []
    for quantity, s in (("typical", fit.typical), ("omega", fit.omega)):
        for k, name in enumerate(fit.names):
            rows.append([name, quantity, f"{s.median[k]:.6g}", f"{s.lower[k]:.6g}", f"{s.upper[k]:.6g}", fit.level,
                         f"{s.rhat[k]:.4f}", f"{s.ess_bulk[k]:.0f}", f"{s.ess_tail[k]:.0f}", fit.scales[k],
                         f"{fit.model_values[k]:.6g}", f"{fit.priors[k].omega:.6g}"])
    path = folder / "population.csv"
    _write_csv(path, ["parameter", "quantity", "median", "lower", "upper", "level", "rhat", "ess_bulk", "ess_tail",
                      "scale", "model_value", "declared_omega"], rows)
    written.append(path)
    path = folder / "individual.csv"
    _write_csv(path, ["ID", "parameter", "mean", "lower", "upper", "level"],
               [[sid, name, f"{fit.individual_mean[i, k]:.6g}", f"{fit.individual_lower[i, k]:.6g}",
                 f"{fit.individual_upper[i, k]:.6g}", fit.level]
                for i, sid in enumerate(fit.subject_ids) for k, name in enumerate(fit.names)])
    written.append(path)
    path = folder / "population.json"
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(fit.as_dict(), indent=2, default=float))
    written.append(path)
    if posterior and fit.idata is not None:
        path = folder / "posterior.nc"
        with atomic_path(path) as tmp:
            fit.idata.to_netcdf(str(tmp))
        written.append(path)
    return written
