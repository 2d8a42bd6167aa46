"""Fc-gamma receptor blockade: IVIG occupies activating Fc receptors on macrophages.

Dimers and multimers in the product (and immune complexes) bind the activating
FcgammaR of splenic and hepatic macrophages, so antibody-coated cells (platelets in
ITP) are cleared more slowly and immune complexes activate the cells less.

Occupancy follows binding kinetics driven by the IVIG-derived IgG in plasma:

    d occupancy/dt = k_off (C_ivig / Kd) (1 - occupancy) - k_off occupancy

so it sets in within a day or two of a 1-2 g/kg dose (Fehr 1982: clearance of coated
red cells slowed within days) and fades as the infused IgG is catabolised (Bussel 1983:
blockade lasting 3-4 weeks). ``Kd`` is calibrated to that duration; ``k_off`` is an
assumption. Diseases read ``fcgr_activation_fraction`` = 1 - occupancy.
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
        Parameter("fcgr_kd_g_per_L", 15.6, "g/L", "calibrated",
                  "calibrated to Bussel 1983: blockade lasting 3-4 weeks after 2 g/kg (docs/mechanisms.md)",
                  (0.1, 1000.0), "IVIG-derived IgG giving half occupancy at equilibrium"),
        Parameter("fcgr_release_per_day", 0.7, "1/day", "assumption",
                  "assumption: receptor turnover/release of bound IgG within about a day, so blockade "
                  "sets in within days (Fehr 1982)", (0.01, 100.0), "k_off of occupied receptors"),
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
             "fcgr_blockade_strength * fcgr_release_per_day * igg_ivig_g_per_L / fcgr_kd_g_per_L * (1 - fcgr_occupancy)",
             None, "fcgr_occupancy", "IVIG binding free receptors"),
        Flux("fcgr_release", "fcgr_release_per_day * fcgr_occupancy", "fcgr_occupancy", None,
             "receptors freed"),
    ),
)
