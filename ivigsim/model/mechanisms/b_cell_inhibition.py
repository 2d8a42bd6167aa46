"""B-cell inhibition: IVIG restrains activation and proliferation of autoreactive B cells.

Through the inhibitory FcgammaRIIB, sialylated Fc and anti-idiotypes binding B-cell
receptors, IVIG lowers the drive on autoreactive B cells. The B-cell pool follows its
drive with a turnover of about a week (``model/immune.py``), and autoantibody
production follows the B cells, so the autoantibody falls with a delay.

    b_cell_inhibition = min(1, strength x Imax x C_ivig / (C_ivig + EC50))

No calibration target quantifies it: ``Imax`` and ``EC50`` are assumptions (half-maximal
at a level of IVIG-derived IgG reached for weeks after 1-2 g/kg).
"""

from __future__ import annotations

from ivigsim.model.declaration import Assignment, Module, Parameter

B_CELL_INHIBITION = Module(
    name="b_cell_inhibition",
    title="Inhibition of autoreactive B cells",
    description=__doc__ or "",
    switch="b_cell_inhibition_strength",
    parameters=(
        Parameter("b_cell_inhibition_strength", 1.0, "dimensionless", "switch",
                  "switch: 1 = as assumed, 0 = off", (0.0, 10.0)),
        Parameter("b_cell_inhibition_max", 0.5, "dimensionless", "assumption",
                  "assumption: IVIG at most halves the drive on autoreactive B cells", (0.0, 1.0),
                  "largest fractional inhibition", variability_scale="logit"),
        Parameter("b_cell_inhibition_ec50_g_per_L", 10.0, "g/L", "assumption",
                  "assumption: half-maximal at 10 g/L IVIG-derived IgG (reached for 2-3 weeks after 2 g/kg)",
                  (0.1, 1000.0), "IVIG-derived IgG at half-maximal inhibition"),
    ),
    assignments=(
        Assignment("b_cell_inhibition",
                   "min(1, b_cell_inhibition_strength * b_cell_inhibition_max * igg_ivig_g_per_L"
                   " / (igg_ivig_g_per_L + b_cell_inhibition_ec50_g_per_L))",
                   "dimensionless", "fractional reduction of the drive on autoreactive B cells"),
    ),
)
