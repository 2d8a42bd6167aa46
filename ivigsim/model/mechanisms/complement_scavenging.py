"""Complement scavenging: IgG binds activated C3b and C4b so less deposits on targets.

    scavenged = min(1, strength x C_ivig / (C_ivig + IC50))

``IC50`` is 25 g/L, the middle of the 20-30 g/L at which IVIG halves C3 uptake onto
sensitised cells in vitro (Basta, C3 uptake studies). In 8 dermatomyositis patients
(Lutz 2004) C3b2-containing complexes, a marker of the amplification loop rather than of
total complement activity, were at 66 % of baseline 14 days after a 2 g/kg course (a
check), and had fallen to 37 % during the course, when 0.5 g/kg had been infused (a known
gap: docs/mechanisms.md).
"""

from __future__ import annotations

from ivigsim.model.declaration import Assignment, Module, Parameter

COMPLEMENT_SCAVENGING = Module(
    name="complement_scavenging",
    title="Complement scavenging",
    description=__doc__ or "",
    switch="complement_scavenging_strength",
    parameters=(
        Parameter("complement_scavenging_strength", 1.0, "dimensionless", "switch",
                  "switch: 1 = as sourced, 0 = off", (0.0, 10.0)),
        Parameter("complement_ic50_g_per_L", 25.0, "g/L", "source",
                  "Basta et al. (C3 uptake studies, 1989-1991): 50 % inhibition of C3 uptake at 20-30 g/L IVIG",
                  (0.1, 1000.0), "IVIG-derived IgG halving complement deposition"),
    ),
    assignments=(
        Assignment("complement_scavenged_fraction",
                   "min(1, complement_scavenging_strength * igg_ivig_g_per_L"
                   " / (igg_ivig_g_per_L + complement_ic50_g_per_L))",
                   "dimensionless", "share of activated C3b/C4b scavenged by IVIG"),
    ),
)
