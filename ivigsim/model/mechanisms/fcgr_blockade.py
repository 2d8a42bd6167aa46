"""Fc-gamma receptor blockade: IVIG occupies activating Fc receptors on macrophages.

Dimers and multimers in the product (and immune complexes) bind the activating
FcgammaR of splenic and hepatic macrophages, so antibody-coated cells (platelets in
ITP) are cleared more slowly and immune complexes activate the cells less.

The blocking species are the dimers: idiotype-anti-idiotype pairs that form
spontaneously and reversibly between IgG molecules from different donors (Roux &
Tankersley 1990), and that carry IVIG's effect in experimental ITP (Teeling 2001). Formed
by mass action, they rise with the square of the IVIG-derived IgG ``C``, so occupancy
follows

    d occupancy/dt = k_off (C / Kd) ** h (1 - occupancy) - k_off occupancy,   h = 2

In the model it sets in within a day of a 1-2 g/kg dose (an assumption: Fehr 1982 found
the clearance of antibody-coated red cells prolonged and platelets normal within 4-5 days,
but gives no time course of the blockade itself) and, being second order in ``C``, fades
faster than the infused IgG itself: Bussel 1983 (Blood 62:480) measured blockade lasting
3-4 weeks, while platelet responses,
which need most receptors blocked, last about two (Robak 2009). ``Kd`` is calibrated to
both (docs/calibration.md); ``k_off`` and ``h`` are assumptions. Diseases read
``fcgr_activation_fraction`` = 1 - occupancy.
"""

from __future__ import annotations

from ivigsim.model.declaration import Assignment, Flux, Module, Parameter, State

FCGR_BLOCKADE = Module(
    name="fcgr_blockade",
    title="Fc-gamma receptor blockade",
    description=__doc__ or "",
    switch="fcgr_blockade_strength",
    parameters=(
        Parameter("fcgr_blockade_strength", 1.0, "dimensionless", "switch",
                  "switch: 1 = as calibrated, 0 = off", (0.0, 10.0)),
        Parameter("fcgr_kd_g_per_L", 20.5, "g/L", "calibrated",
                  "calibrated with the ITP platelet parameters to Bussel 1983, Blood 62:480 (blockade lasting 3-4 weeks "
                  "after 2 g/kg) and Robak 2009 (response by day 7, day-8 median count, response "
                  "duration; docs/calibration.md)",
                  (0.1, 1000.0), "IVIG-derived IgG giving half occupancy at equilibrium"),
        Parameter("fcgr_dimer_order", 2.0, "dimensionless", "assumption",
                  "assumption: the receptor-blocking dimers (idiotype-anti-idiotype pairs, Roux & "
                  "Tankersley 1990; the active fraction in experimental ITP, Teeling 2001) form by mass "
                  "action between infused IgG molecules, so they rise with the square of IVIG-derived IgG", (1.0, 3.0),
                  "order of the blocking species in IVIG-derived IgG"),
        Parameter("fcgr_release_per_day", 1.0, "1/day", "assumption",
                  "assumption: bound dimers are released or the receptors renewed within about a day, "
                  "so blockade sets in within a day or two (Fehr 1982 gives no time course of the blockade: clearance of "
                  "coated red cells was prolonged and platelets normal within 4-5 days)", (0.01, 100.0), "k_off of occupied receptors"),
    ),
    states=(State("fcgr_occupancy", "dimensionless", "0", "share of activating FcgammaR occupied by IVIG"),),
    assignments=(
        Assignment("fcgr_blockade_fraction", "fcgr_occupancy", "dimensionless",
                   "share of activating Fc-gamma receptors blocked", output=True),
        Assignment("fcgr_activation_fraction", "1 - fcgr_occupancy", "dimensionless",
                   "Fc-receptor-mediated clearance and activation capacity relative to baseline"),
    ),
    fluxes=(
        Flux("fcgr_binding",
             "fcgr_blockade_strength * fcgr_release_per_day * (igg_ivig_g_per_L / fcgr_kd_g_per_L) ** fcgr_dimer_order"
             " * (1 - fcgr_occupancy)",
             None, "fcgr_occupancy", "IVIG binding free receptors"),
        Flux("fcgr_release", "fcgr_release_per_day * fcgr_occupancy", "fcgr_occupancy", None,
             "receptors freed"),
    ),
)
