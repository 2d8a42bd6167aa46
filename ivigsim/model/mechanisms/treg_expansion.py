"""Regulatory T-cell expansion: IVIG expands Tregs, which restrain effector activity.

IVIG raises the Treg share of CD4 T cells (Kawasaki disease, CD4+CD25+FOXP3+ cells among
CD4 T cells: 4.2 % before, 8.0 % at day 7; Eur J Pediatr 2013;172(6):833). In vitro it
raises FoxP3 expression within the CD4+CD25+ gate, 20.8 -> 33.7 % (Kessel 2007: a rise
within that gate, not the Treg share of all CD4 cells). The Treg share relaxes towards a
target raised by IVIG-derived IgG:

    target = baseline x (1 + strength x Emax x C_ivig / (C_ivig + EC50))

and Tregs restrain the drive on autoreactive B cells and cytokine production
(``model/immune.py``). ``Emax`` is calibrated to the day-7 Kawasaki figure; ``EC50``
and the Treg turnover are assumptions.
"""

from __future__ import annotations

from ivigsim.model.declaration import Assignment, Module, Parameter

TREG_EXPANSION = Module(
    name="treg_expansion",
    title="Regulatory T-cell expansion",
    description=__doc__ or "",
    switch="treg_expansion_strength",
    parameters=(
        Parameter("treg_expansion_strength", 1.0, "dimensionless", "switch",
                  "switch: 1 = as calibrated, 0 = off", (0.0, 10.0)),
        Parameter("treg_expansion_max", 1.9, "dimensionless", "calibrated",
                  "calibrated to the Kawasaki cohort (Eur J Pediatr 2013;172(6):833, PMID 23340699; "
                  "calibration-targets s.3): Treg share 4.2 % -> 8.0 % at day 7 after 2 g/kg (docs/mechanisms.md)", (0.0, 20.0),
                  "largest relative rise of the Treg target share"),
        Parameter("treg_expansion_ec50_g_per_L", 10.0, "g/L", "assumption",
                  "assumption: half-maximal at 10 g/L IVIG-derived IgG", (0.1, 1000.0),
                  "IVIG-derived IgG at half-maximal expansion"),
    ),
    assignments=(
        Assignment("treg_expansion",
                   "treg_expansion_strength * treg_expansion_max * igg_ivig_g_per_L"
                   " / (igg_ivig_g_per_L + treg_expansion_ec50_g_per_L)",
                   "dimensionless", "relative rise of the Treg target share"),
    ),
)
