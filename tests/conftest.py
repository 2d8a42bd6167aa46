import numpy as np
import pytest

from ivigsim.model.library import compiled_core_model


@pytest.fixture(scope="session")
def core():
    return compiled_core_model()


def observe(core, solution, params, schedule):
    """Outputs of a solution as a dict of (time, patient) arrays."""
    ts = solution.ts
    grid = np.broadcast_to(ts[:, None], (len(ts), params.shape[1]))
    return core.observe(grid, solution.ys.transpose(1, 0, 2), params[:, None, :],
                        solution.constants[:, None, :], schedule.value_at(grid))
