"""Moved to :mod:`ivigsim.safety_report` (issue 14: what `ivigsim safety` reports simulates the scenario: orchestration).

This old name re-exports it, lazily (importing ``ivigsim.safety`` never imports the layers
above the science), while work that imports it from here lands; new code imports ``ivigsim.safety_report``.
"""

import importlib


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(importlib.import_module("ivigsim.safety_report"), name)
