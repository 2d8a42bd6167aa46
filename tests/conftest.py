import os

import numpy as np
import pytest

# Large batches solve through the one-patient driver here, as they do below 2,000 patients:
# the lockstep gives the same numbers bit for bit (tests/test_engine_lockstep.py checks that),
# and compiling it for every model a test runs large trials on cost minutes of a cold run.
# Set before ivigsim is imported, and inherited by the CLI's subprocesses.
os.environ.setdefault("IVIGSIM_LOCKSTEP_FROM", str(10**12))

from ivigsim.model.library import compiled_core_model  # noqa: E402


@pytest.fixture(scope="session")
def core():
    return compiled_core_model()


def observe(core, solution, params, schedule):
    """Outputs of a solution as a dict of (time, patient) arrays."""
    ts = solution.ts
    grid = np.broadcast_to(ts[:, None], (len(ts), params.shape[1]))
    return core.observe(grid, solution.ys.transpose(1, 0, 2), params[:, None, :],
                        solution.constants[:, None, :], schedule.value_at(grid))


# -- slow checks ---------------------------------------------------------------------------------
# Checks marked `slow` (minutes each: a NUTS population fit, ...) run in CI (`.ci/run` sets CI) and
# with --run-slow; the Quick start's test command skips them, so it stays within a few minutes.


def pytest_configure(config):
    """Import ArviZ (through PyMC, for the population fits) once in the controlling process,
    before pytest-xdist starts its workers. On its first import each day ArviZ writes a stamp
    file in the user's cache through a fixed temporary name; two workers importing it at once
    race on that name, and the loser's import fails (seen in CI on a clean clone:
    ``FileNotFoundError: .../arviz/daily_warning.tmp``). Written here first, the workers only
    read it."""
    if hasattr(config, "workerinput"):  # a worker: the controller has done it
        return
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import arviz  # noqa: F401
        except ImportError:  # not installed: nothing to race on
            pass


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False, help="also run the tests marked slow")


def pytest_collection_modifyitems(config, items):
    import os

    if config.getoption("--run-slow") or os.environ.get("CI", "").lower() not in ("", "0", "false"):
        return
    skip = pytest.mark.skip(reason="slow: runs in CI (.ci/run) or with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
