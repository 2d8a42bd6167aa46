"""A trial stage outside the model's domain rejects the step; it never aborts the batch.

The compiled kernel divides as NumPy does (numba's ``error_model='numpy'``): a vanishing
denominator gives inf or nan, the step is refused as non-finite and the patient's status says
so, while the other patients of the batch are solved as if alone. Before, numba raised
ZeroDivisionError and no patient of the batch had a result (found in the ADAPT trial file,
where a Dormand-Prince stage took the FcRn inhibitor's plasma concentration below -Kss).
"""

import numpy as np

from ivigsim.engine.compiled import Auto
from ivigsim.engine.schedule import InputSchedule
from ivigsim.engine.solve import Problem, SaveAt, Status, solve
from ivigsim.model.library import compiled_model


def test_a_state_where_the_binding_divides_by_zero_fails_that_patient_alone():
    cm = compiled_model("mg", comparators=True)
    params = cm.model.parameter_array({}, n=2)
    y0 = cm.initial(params, cm.constants(params)).copy()
    central = list(cm.model.state_names).index("fcrn_inhibitor_central_g")
    # Patient 1 starts with -1 g of inhibitor in plasma: its concentration is below -Kss, where
    # the quasi-steady-state free concentration is -Kss and the bound share's denominator is 0.
    y0[central, 1] = -1.0
    ts = np.arange(0.0, 8.0)
    problem = Problem(cm, params, InputSchedule.empty(2, len(cm.model.inputs)), y0=y0)
    both = solve(problem, SaveAt(ts), Auto())  # before: ZeroDivisionError for the whole batch
    assert both.status[0] == Status.SUCCESS and both.status[1] != Status.SUCCESS
    alone = solve(Problem(cm, params[:, :1], InputSchedule.empty(1, len(cm.model.inputs)), y0=y0[:, :1]), SaveAt(ts), Auto())
    np.testing.assert_array_equal(both.ys[:, :, 0], alone.ys[:, :, 0])
