"""Moved to :mod:`ivigsim.safety_rates` (issue 14: rate planning simulates scenario variants: orchestration).

This old name re-exports it, lazily (importing ``ivigsim.safety`` never imports the layers
above the science), while work that imports it from here lands; new code imports ``ivigsim.safety_rates``.
"""

import importlib


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(importlib.import_module("ivigsim.safety_rates"), name)
