"""xarray without its probes for dask and pint on NumPy data.

Every time xarray wraps an array (each variable of a Dataset) it asks whether the array is a
dask array, and each new index whether it is a pint quantity or a dask collection; the first
question imports the library to answer it (dask about 0.15 s, pint 0.06 s, and as much again
when the process exits: about 0.35 s of the 2.1 s ``ivigsim simulate`` took for one patient).
The answer is known without the import where the array cannot be one:

- no array is of a library's array type until the module defining that type is imported, so
  the type xarray checks against is empty until then, and xarray's own record (the library
  imported, as before) from the first check after;
- dask's ``is_dask_collection`` is false for anything without a callable ``__dask_graph__``
  (a NumPy array, a pandas index), so that is answered without importing dask, and anything
  else is passed to dask's own function, as before.

A trial run on dask, or pint used for units, sees dask arrays and quantities exactly as
without this. It relies on two private names of xarray
(``xarray.namedarray.pycompat._cached_duck_array_modules``,
``xarray.namedarray.utils.is_dask_collection``); on an xarray without them it leaves that
probe as it is.
"""

from __future__ import annotations

import sys

#: The optional array libraries deferred, each with the module that defines its array type
#: (an array of that type exists only once that module has been imported).
DEFERRED = {"dask": "dask.array", "pint": "pint"}


class _Deferred:
    """Stands in xarray's cache for its record of one optional array library
    (``DuckArrayModule``): the array ``type`` is empty while the library is not imported;
    anything else, and everything once it is imported, comes from xarray's own record."""

    def __init__(self, record, mod: str, defines: str) -> None:
        self._record = record  # xarray's DuckArrayModule class, built on first need
        self._mod = mod
        self._defines = defines
        self._real = None

    def _resolved(self):
        if self._real is None:
            self._real = self._record(self._mod)
        return self._real

    @property
    def type(self) -> tuple:
        if self._real is None and sys.modules.get(self._defines) is None:
            return ()
        return self._resolved().type

    def __getattr__(self, name: str):  # version, module, available: xarray's own answer
        return getattr(self._resolved(), name)


def _without_dask_import(is_dask_collection):
    """xarray's ``is_dask_collection``, answering false without importing dask where dask's
    own function would (``dask.base.is_dask_collection``: a type, or no callable
    ``__dask_graph__``)."""

    def checked(x) -> bool:
        if isinstance(x, type) or not callable(getattr(x, "__dask_graph__", None)):
            return False
        return is_dask_collection(x)

    checked.__wrapped__ = is_dask_collection
    checked._ivigsim_deferred = True
    return checked


def defer_optional_array_probes() -> None:
    """Install the deferred probes in xarray (idempotent; a library already probed keeps
    xarray's record)."""
    try:
        from xarray.namedarray import pycompat
        from xarray.namedarray import utils as namedarray_utils
    except ImportError:  # pragma: no cover - another xarray: probe as usual
        return
    cache = getattr(pycompat, "_cached_duck_array_modules", None)
    record = getattr(pycompat, "DuckArrayModule", None)
    if isinstance(cache, dict) and record is not None:
        for mod, defines in DEFERRED.items():
            cache.setdefault(mod, _Deferred(record, mod, defines))
    original = getattr(namedarray_utils, "is_dask_collection", None)
    if callable(original) and not getattr(original, "_ivigsim_deferred", False):
        namedarray_utils.is_dask_collection = _without_dask_import(original)
