"""Moved to :mod:`ivigsim.validation.safety_calibration` (issue 14: calibration is validation, not science).

This old name re-exports it, lazily (importing ``ivigsim.safety`` never imports the layers
above the science), while work that imports it from here lands; new code imports ``ivigsim.validation.safety_calibration``.
"""

import importlib


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(importlib.import_module("ivigsim.validation.safety_calibration"), name)
