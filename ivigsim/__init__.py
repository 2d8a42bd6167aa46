"""ivigsim: a mechanistic simulator of IVIG therapy in autoimmune disease.

The public API is imported lazily so ``ivigsim --help`` starts fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "simulate": "ivigsim.simulation",
    "Scenario": "ivigsim.scenario",
    "Patient": "ivigsim.model.patient",
    "core_model": "ivigsim.model.library",
    "load_scenario": "ivigsim.io.scenario_file",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ivigsim' has no attribute {name!r}")
