"""Anti-idiotype neutralisation: IVIG binds autoantibody into immune complexes.

Anti-idiotypic antibodies in the donor pool bind the patient's autoantibody; the
complexes are cleared by the mononuclear phagocyte system within hours, so bound
autoantibody leaves the circulation and has no pathogenic effect meanwhile. Binding is
second order (IVIG-derived IgG x autoantibody). The anti-idiotypes are a tiny share of
the product, so their own consumption is neglected.

The evidence says the effect is modest and disease-specific: not seen in vitro for
VGCC antibodies (Bain 1996) nor for a rat antiplatelet antibody (Hansen & Balthasar
2002). The default binding rate is therefore small (an assumption: about 2 % of the
plasma autoantibody bound per day at 20 g/L of IVIG-derived IgG), and disease modules
set ``anti_idiotype_strength``.
"""

from __future__ import annotations

from ivigsim.model.declaration import Assignment, Flux, Module, Parameter, State

ANTI_IDIOTYPE = Module(
    name="anti_idiotype",
    title="Anti-idiotype neutralisation",
    description=__doc__ or "",
    switch="anti_idiotype_strength",
    parameters=(
        Parameter("anti_idiotype_strength", 1.0, "dimensionless", "switch",
                  "switch: 1 = default (modest) binding, 0 = off; diseases set their own", (0.0, 10.0)),
        Parameter("anti_idiotype_binding_L_per_g_day", 0.001, "L/g/day", "assumption",
                  "assumption: modest, as Bain 1996 and Hansen & Balthasar 2002 found no neutralisation "
                  "in two antibody systems (calibration-targets s.3)", (0.0, 1.0),
                  "second-order rate of autoantibody binding by IVIG anti-idiotypes"),
        Parameter("immune_complex_clearance_per_day", 5.0, "1/day", "assumption",
                  "assumption: small immune complexes cleared by the mononuclear phagocyte system within hours",
                  (0.1, 1000.0), "first-order clearance of immune complexes"),
    ),
    states=(State("immune_complex_g", "g", "0", "autoantibody bound in IVIG immune complexes (plasma)"),),
    assignments=(
        Assignment("immune_complex_g_per_L", "immune_complex_g / plasma_volume_L", "g/L",
                   "autoantibody held in immune complexes", output=True),
    ),
    fluxes=(
        Flux("anti_idiotype_binding",
             "anti_idiotype_strength * anti_idiotype_binding_L_per_g_day * igg_ivig_g_per_L * autoantibody_central_g",
             "autoantibody_central_g", "immune_complex_g", "autoantibody bound by IVIG anti-idiotypes"),
        Flux("immune_complex_clearance", "immune_complex_clearance_per_day * immune_complex_g",
             "immune_complex_g", None, "complexes removed by phagocytes"),
    ),
)
