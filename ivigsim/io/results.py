"""Write simulation results: CSV, Parquet or NetCDF, atomically.

A result is written to a temporary file beside its destination and renamed into place,
so an interrupted or failed run never leaves a half-written file behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import xarray as xr

Format = Literal["csv", "parquet", "netcdf"]
SUFFIX: dict[str, str] = {"csv": ".csv", "parquet": ".parquet", "netcdf": ".nc"}


@contextmanager
def atomic_path(path: Path):
    """Yield a temporary path; on success rename it to ``path``, else remove it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def to_table(ds: xr.Dataset):
    """One row per (patient, time); columns named with their units."""
    per_time = [n for n, v in ds.data_vars.items() if v.dims == ("patient", "time")]
    return ds[per_time].to_dataframe().reset_index().rename(columns={"time": "time_day"})


def write_results(ds: xr.Dataset, path: str | Path, fmt: Format) -> Path:
    path = Path(path)
    writers: dict[str, Callable[[Path], None]] = {
        "csv": lambda p: to_table(ds).to_csv(p, index=False, float_format="%.10g"),
        "parquet": lambda p: to_table(ds).to_parquet(p, index=False),
        "netcdf": lambda p: ds.to_netcdf(p, engine="scipy"),
    }
    with atomic_path(path) as tmp:
        writers[fmt](tmp)
    return path
