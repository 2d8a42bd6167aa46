"""What `ivigsim simulate` loads for one patient (issue 16: under 1.5 s, start-up and PNG included;
docs/performance.md, "Fixed costs"), and that what it skips changes nothing.

- dask and pint: xarray asks of every array it wraps whether it is a dask array or a pint
  quantity, importing the library to answer; ``ivigsim._xarray`` answers "no" while the library
  is not imported (nothing can be one of its arrays then), and leaves dask and pint arrays to
  xarray as before once it is.
- scipy: the adverse-event models' ``expit`` computes a few values itself, bit for bit as
  ``scipy.special.expit`` does.
- numba: one patient is solved by the NumPy engine; nothing is compiled.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.special
import xarray as xr

from ivigsim import _xarray
from ivigsim.safety import models

ROOT = Path(__file__).resolve().parents[1]

NOT_NEEDED = ("dask", "pint", "scipy", "numba")


def test_one_patient_loads_neither_dask_pint_scipy_nor_numba(tmp_path):
    code = (
        "import json, sys\n"
        "from ivigsim.cli import main\n"
        "sys.argv = ['ivigsim', 'simulate', 'examples/itp-standard.yaml', '-o', sys.argv[1], '-q']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules if sys.modules[m] is not None})))\n"
    )
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-c", code, str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert {"xarray", "matplotlib"} <= loaded  # the check sees what was loaded
    assert sorted(loaded & set(NOT_NEEDED)) == []
    assert sorted(p.name for p in out.iterdir()) == ["itp-standard.csv", "itp-standard.png"]


def test_dask_and_pint_arrays_are_still_seen_once_imported():
    pytest.importorskip("dask")
    import dask.array as da
    import pint
    from xarray.namedarray import pycompat
    from xarray.namedarray.utils import is_duck_dask_array

    _xarray.defer_optional_array_probes()
    _xarray.defer_optional_array_probes()  # idempotent
    lazy = xr.DataArray(da.ones((4, 6), chunks=(2, 3)), dims=("x", "y"))
    assert lazy.chunks == ((2, 2), (3, 3))
    assert is_duck_dask_array(lazy.data)
    assert da.Array in pycompat.array_type("dask")
    assert float((xr.Dataset({"v": lazy}).v * 2).sum().compute()) == 48.0
    quantity = pint.UnitRegistry().Quantity(np.arange(3.0), "m")
    assert isinstance(xr.Variable(("t",), quantity).data, pint.Quantity)
    assert not is_duck_dask_array(np.arange(3.0))


@pytest.mark.parametrize("shape", [(), (1,), (3, 64), (2, 5, 64), (models.OWN_EXPIT_MAX,),
                                   (models.OWN_EXPIT_MAX + 1,)])
def test_expit_is_scipys_bit_for_bit(shape):
    x = np.random.default_rng(16).normal(0.0, 25.0, shape)
    ours, scipys = models.expit(x), scipy.special.expit(x)
    assert type(ours) is type(scipys)
    assert ours.dtype == scipys.dtype and np.shape(ours) == np.shape(scipys)
    assert np.array_equal(ours, scipys)


def test_expit_is_scipys_bit_for_bit_on_many_values_and_the_edges():
    rng = np.random.default_rng(17)
    x = np.concatenate([rng.normal(0.0, 3.0, 200_000), rng.uniform(-800.0, 800.0, 100_000),
                        [0.0, -0.0, 1e-300, -1e-300, 709.78, -709.78, 710.0, -710.0, 745.2, -745.2,
                         np.inf, -np.inf, np.nan]])
    ours = np.concatenate([models.expit(part) for part in np.array_split(x, len(x) // 1000)])
    assert np.array_equal(ours, scipy.special.expit(x), equal_nan=True)
    for value in (0.5, -3.0, np.float64(2.0), 800.0, -800.0, np.inf, np.nan):
        assert np.array_equal(models.expit(value), scipy.special.expit(value), equal_nan=True)
        assert type(models.expit(value)) is type(scipy.special.expit(value))
