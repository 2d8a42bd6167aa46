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

from ivigsim._xarray import defer_optional_array_probes
from ivigsim.errors import InputError

defer_optional_array_probes()  # no dask or pint import to build or write a Dataset of NumPy arrays

Format = Literal["csv", "parquet", "netcdf"]
SUFFIX: dict[str, str] = {"csv": ".csv", "parquet": ".parquet", "netcdf": ".nc"}


def check_output_file(path: Path, field: str = "--out") -> Path:
    """Where a result file will go, checked before anything runs: the path itself, or the
    file a symbolic link there points to (the link stays). Refused in one line if it is a
    folder, a device, a pipe or a socket: the rename that ends an atomic write would replace
    it with an ordinary file (``-o /dev/null`` would replace the machine's /dev/null)."""
    target = path.resolve() if path.is_symlink() else path
    if target.exists() and not target.is_file():
        kind = "a folder" if target.is_dir() else "a device, pipe or socket"
        raise InputError(field, "a path for an ordinary file", f"{path} ({kind})")
    if target.parent.exists() and not target.parent.is_dir():
        raise InputError(field, "a path for a file inside a folder", f"{path} ({target.parent} is not a folder)")
    return target


@contextmanager
def atomic_path(path: Path, field: str = "--out"):
    """Yield a temporary path; on success rename it to ``path`` (to the file it points to if
    it is a symbolic link), else remove it. A path that is not an ordinary file is refused
    (``check_output_file``)."""
    path = check_output_file(path, field)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp creates the file readable by its owner only; the result is an ordinary
        # file, so it gets the mode any new file gets here (0666 less the user's umask).
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask, read without changing it: os.umask can only be read by setting
    it, which would race with other threads creating files (the web server's)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # where /proc is absent (macOS): read by setting, then restore at once
    os.umask(mask)
    return mask


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
