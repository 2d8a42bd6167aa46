"""Moved to :mod:`ivigsim.validation.safety_tables` (issue 14: the docs tables show validation targets).

This old name re-exports it, lazily (importing ``ivigsim.safety`` never imports the layers
above the science), while work that imports it from here lands; new code imports ``ivigsim.validation.safety_tables``.
"""

import importlib


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(importlib.import_module("ivigsim.validation.safety_tables"), name)
