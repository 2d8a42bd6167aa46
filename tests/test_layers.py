"""The layers of docs/architecture.md hold: a module imported alone loads only the layers below it.

Each module is imported in a fresh interpreter (a subprocess) and the ``ivigsim`` modules in
its ``sys.modules`` afterwards are checked against what its layer may use, so an import of a
higher layer, direct or through another module, at import time fails here. Imports inside
functions are not seen; the lazy re-exports at the safety package's old paths (issue 14)
rely on that.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ivigsim"


def modules_of(package: str) -> list[str]:
    """Every module of ``package`` (``ivigsim.safety``), found on disk without importing it."""
    root = PACKAGE.joinpath(*package.split(".")[1:])
    found = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.append(".".join((package, *parts)))
    return found


def loaded_by(module: str) -> list[str]:
    """The ivigsim modules in ``sys.modules`` after importing ``module`` in a fresh interpreter."""
    code = ("import importlib, json, sys; importlib.import_module(sys.argv[1]); "
            "print(json.dumps(sorted(m for m in sys.modules if m == 'ivigsim' or m.startswith('ivigsim.'))))")
    done = subprocess.run([sys.executable, "-c", code, module], capture_output=True, text=True, timeout=120,
                          cwd=PACKAGE.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def outside(loaded: list[str], allowed: tuple[str, ...]) -> list[str]:
    return [m for m in loaded if m != "ivigsim" and not any(m == a or m.startswith(a + ".") for a in allowed)]


#: The safety science (``ivigsim.safety``) sits below the orchestration: it takes values and
#: arrays and may use only these (not the simulation, trials, populations, files, CLI or web).
SAFETY_MAY_USE = ("ivigsim.errors", "ivigsim.model", "ivigsim.dosing", "ivigsim.safety")
#: The model and the engine import none of the orchestration (nor the dosing or safety layers).
MODEL_MAY_USE = ("ivigsim.errors", "ivigsim.model")
ENGINE_MAY_USE = ("ivigsim.errors", "ivigsim.model", "ivigsim.engine")
DOSING_MAY_USE = ("ivigsim.errors", "ivigsim.model", "ivigsim.dosing")

CASES = [(m, allowed) for m, allowed in
         [(m, SAFETY_MAY_USE) for m in modules_of("ivigsim.safety")]
         + [(m, MODEL_MAY_USE) for m in modules_of("ivigsim.model")]
         + [(m, ENGINE_MAY_USE) for m in modules_of("ivigsim.engine")]
         + [(m, DOSING_MAY_USE) for m in modules_of("ivigsim.dosing")]]


@pytest.mark.parametrize("module, allowed", CASES, ids=[m for m, _ in CASES])
def test_module_imports_only_the_layers_below_it(module, allowed):
    loaded = loaded_by(module)
    assert module in loaded
    assert outside(loaded, allowed) == [], f"{module} imports a higher layer"


def test_the_check_sees_an_upward_import():
    """The orchestration above the safety science does load the simulation: the check is not vacuous."""
    loaded = loaded_by("ivigsim.safety_report")
    assert "ivigsim.simulation" in outside(loaded, SAFETY_MAY_USE)
    assert {"ivigsim.safety.report", "ivigsim.safety.events"} <= set(loaded)


@pytest.mark.slow  # 2 s or more (README run under 5 minutes): in CI and with --run-slow
def test_the_simulation_and_the_trial_runner_call_down_into_the_safety_science():
    """``simulate`` attaches risks and the runner adds safety columns by calling down, not the reverse."""
    assert "ivigsim.safety.report" in loaded_by("ivigsim.simulation")
    assert "ivigsim.safety.trial" in loaded_by("ivigsim.trial.runner")
