"""No disease: every drive held at its pretreatment level (1).

Used for healthy volunteers and for pharmacokinetic questions; the immune state then
shows only what IVIG does to it.
"""

from __future__ import annotations

from types import MappingProxyType

from ivigsim.model.declaration import Assignment, Module
from ivigsim.model.diseases import Disease, Readout
from ivigsim.model.sources import VALENZUELA_2025

NO_DISEASE = Module(
    name="no_disease",
    title="No disease (constant drives)",
    description=__doc__ or "",
    assignments=(
        Assignment("autoimmune_drive", "1", "dimensionless", "drive on autoreactive B cells"),
        Assignment("inflammatory_drive", "1", "dimensionless", "drive on inflammatory cytokines"),
        Assignment("complement_drive", "1", "dimensionless", "drive on complement activation"),
    ),
)

NONE = Disease(
    name="none",
    title="No disease (healthy or pharmacokinetics only)",
    module=NO_DISEASE,
    indication=None,
    readouts=(Readout("igg_total_g_per_L", "total serum IgG", (0.0, 80.0), higher_is_better=None),),
    variability=MappingProxyType({"fcrn_igk": 0.263}),
    variability_sources=MappingProxyType({
        "fcrn_igk": f"{VALENZUELA_2025}: IgK CV 26.3 %",
    }),
)
