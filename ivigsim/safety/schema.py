"""Moved to :mod:`ivigsim.io.scenario_file` (issue 14: the ``risk_factors:`` section is a
section of the scenario file; its errors go through the file's translator).

This old name re-exports ``RiskFactorsFile`` and ``parse_risk_factors``, lazily (importing
``ivigsim.safety`` never imports the file readers), while work that imports them from here lands.
"""

import importlib

SECTION = "risk_factors"


def __getattr__(name: str):
    if name in ("RiskFactorsFile", "parse_risk_factors"):
        return getattr(importlib.import_module("ivigsim.io.scenario_file"), name)
    raise AttributeError(name)
