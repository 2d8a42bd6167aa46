"""The examples in the dosing docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["ivigsim.dosing.regimen", "ivigsim.dosing.units", "ivigsim.dosing.weight", "ivigsim.dosing.comparators"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
