"""Subcutaneous IgG (SCIG): a depot under the skin, absorbed first-order into plasma.

A subcutaneous dose enters a depot (``scig_depot_g``; the input ``scig_g_per_day`` is the
administration rate over the infusion's minutes to hours). The depot empties at the rate
constant ``k_a``; a share ``F`` (the bioavailability) reaches plasma and joins the
IVIG-derived species (the same product class, so it is distributed, rescued by FcRn and
credited with IVIG's mechanisms alike); the rest is catabolised locally and in the lymph
before it reaches the circulation:

    d depot/dt   = input - k_a depot
    absorption   = F k_a depot        -> ivig_central_g
    local loss   = (1 - F) k_a depot  -> removed

so after a dose ``D`` given at once the amount absorbed by time ``t`` is
``F D (1 - exp(-k_a t))``, whatever happens in plasma (the popPK structure of the 2022
IVIG/SCIG analysis of calibration-targets s.12.7: first-order SC absorption into the
central compartment).

``F`` is the mean of the four licensing-study bioavailabilities of Berger 2013 (s.12.6:
65.0, 65.5, 67.2 and 69.0 % of IVIG), 66.7 %. ``k_a`` is an assumption (no row of the
calibration file gives it): an absorption half-time of about 1.7 days, so serum IgG peaks
a few days after a dose. Without doses the input is 0 and the module does nothing.
"""

from __future__ import annotations

from ivigsim.model.comparators import sources as src
from ivigsim.model.declaration import Flux, Input, Module, Parameter, State
from ivigsim.model.igg import central

SCIG_INPUT = "scig_g_per_day"

SCIG = Module(
    name="scig",
    title="Subcutaneous IgG",
    description=__doc__ or "",
    parameters=(
        Parameter(
            "scig_bioavailability", 0.667, "dimensionless", "derived",
            f"derived: mean of the SCIG bioavailabilities 65.0 % (Gamunex), 65.5 % (Hizentra), 67.2 % "
            f"(Gammagard) and 69.0 % (Vivaglobin) relative to IVIG, {src.BERGER_2013}", (0.0, 1.0),
            "share of a subcutaneous dose that reaches plasma", variability_scale="logit", lower_open=True,
        ),
        Parameter(
            "scig_absorption_rate_per_day", 0.4, "1/day", "assumption",
            "assumption: absorption half-time about 1.7 days, so serum IgG peaks a few days after a dose "
            "(no absorption rate constant in calibration-targets; s.12.7 gives the structure only)",
            (0.01, 20.0), "first-order absorption rate constant from the subcutaneous depot",
        ),
    ),
    inputs=(Input(SCIG_INPUT, "g/day", "subcutaneous IgG administration rate into the depot"),),
    states=(State("scig_depot_g", "g", "0", "subcutaneous IgG not yet absorbed"),),
    fluxes=(
        Flux("scig_administration", SCIG_INPUT, None, "scig_depot_g", "subcutaneous infusion into the depot"),
        Flux("scig_absorption", "scig_bioavailability * scig_absorption_rate_per_day * scig_depot_g",
             "scig_depot_g", central("ivig"), "absorption into plasma (joins the IVIG-derived IgG)"),
        Flux("scig_presystemic_loss", "(1 - scig_bioavailability) * scig_absorption_rate_per_day * scig_depot_g",
             "scig_depot_g", None, "catabolised before reaching plasma (1 - bioavailability)"),
    ),
)
