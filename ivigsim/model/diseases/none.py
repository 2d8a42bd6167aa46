"""No disease: every drive held at its pretreatment level (1).

Used for healthy volunteers and for pharmacokinetic questions; the immune state then
shows only what IVIG does to it.
"""

from __future__ import annotations

from ivigsim.model.declaration import Assignment, Module

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
