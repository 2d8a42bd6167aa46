"""Cytokine neutralisation: IVIG binds inflammatory cytokines or their receptors.

Natural antibodies to cytokines (IL-1, IL-6, TNF, GM-CSF) in the donor pool bind them,
so the bioactive share falls at once with the IVIG-derived IgG:

    neutralised = min(1, strength x C_ivig / (C_ivig + K))

(IL-6, IL-10 and IFN-gamma fall quickly after IVIG in Kawasaki disease, Wang 2013;
Li 2019). No figure quantifies it: ``K`` is an assumption.
"""

from __future__ import annotations

from ivigsim.model.declaration import Assignment, Module, Parameter

CYTOKINE_NEUTRALISATION = Module(
    name="cytokine_neutralisation",
    title="Cytokine neutralisation",
    description=__doc__ or "",
    switch="cytokine_neutralisation_strength",
    parameters=(
        Parameter("cytokine_neutralisation_strength", 1.0, "dimensionless", "switch",
                  "switch: 1 = as assumed, 0 = off", (0.0, 10.0)),
        Parameter("cytokine_neutralisation_k_g_per_L", 30.0, "g/L", "assumption",
                  "assumption: half the bioactive cytokine bound at 30 g/L IVIG-derived IgG, about the "
                  "peak after 2 g/kg", (0.1, 1000.0), "IVIG-derived IgG neutralising half the cytokine"),
    ),
    assignments=(
        Assignment("cytokine_neutralised_fraction",
                   "min(1, cytokine_neutralisation_strength * igg_ivig_g_per_L"
                   " / (igg_ivig_g_per_L + cytokine_neutralisation_k_g_per_L))",
                   "dimensionless", "share of inflammatory cytokine bound by IVIG"),
    ),
)
