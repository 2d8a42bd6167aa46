"""FcRn-protected IgG catabolism, and its saturation by high-dose IVIG.

IgG in plasma is taken up by endothelial cells and enters the catabolic pathway at
rate ``k_deg`` (per day, from plasma). In the endosome the neonatal Fc receptor
(FcRn) binds a share ``rescue`` of it and returns it to the circulation; the rest is
degraded. At baseline the rescued share is IgK/(1+IgK) = 0.84 (Valenzuela 2025, IgK
5.08), so complete FcRn blockade would lower IgG at steady state to 16 % of baseline
(the 84 % ceiling of the calibration file).

FcRn is a finite pool shared by *all* IgG species. Its rescue flux saturates with
plasma IgG like a Michaelis-Menten process (Kim 2007): rescue flux = Jmax C/(Km + C),
so the rescued *share* is

    rescue_sat(C) = f0 (Km + C0) / (Km + C)        (capped at 1)

which equals f0 at the patient's baseline C0 and falls when IVIG raises C. After a
2 g/kg dose every species (IVIG, normal IgG, autoantibody) is therefore catabolised
faster: the mechanism by which high-dose IVIG lowers pathogenic antibodies.

``k_deg`` is not fitted: it is the rate at which baseline catabolism balances the
constant synthesis (Ein & Waldmann 1969) at the baseline IgG (Valenzuela 2025).
The body half-life that follows, ln 2 / (k_deg (1 - f0) x 0.44) = 22 days, is a
check against the 21-23 days of turnover studies, not an input.

Switches: ``fcrn_saturation_strength`` 0 holds rescue at f0 (linear PK), 1 is the
saturable model. ``fcrn_blockade`` is the fraction of FcRn occupied by a blocker
(efgartigimod-like comparators; 0 without one).
"""

from __future__ import annotations

from ivigsim.model import sources as src
from ivigsim.model.declaration import Assignment, Flux, Module, Parameter, State
from ivigsim.model.igg import SPECIES, central


def _catabolism(species: str) -> Flux:
    # IVIG's degraded amount is kept (ivig_catabolised_g) so infused = in body + degraded
    # can be checked; the other species leave the model.
    target = "ivig_catabolised_g" if species == "ivig" else None
    return Flux(
        f"{species}_catabolism",
        f"catabolic_rate_per_day * {central(species)}",
        central(species),
        target,
        "degradation of the share not rescued by FcRn",
    )


FCRN = Module(
    name="fcrn_saturation",
    title="FcRn recycling and its saturation",
    description=__doc__ or "",
    switch="fcrn_saturation_strength",
    parameters=(
        Parameter(
            "fcrn_igk", 5.08, "dimensionless", "source", f"{src.VALENZUELA_2025}: IgK 5.08 (CV 26.3 %)",
            (0.0, 50.0), "ratio of rescued to degraded IgG at baseline (rescued share IgK/(1+IgK))",
        ),
        Parameter(
            "fcrn_km_g_per_L", 69.0, "g/L", "calibrated",
            f"calibrated to {src.KUITWAARD_2009}: rise in IgG 2 weeks after 0.4 g/kg/day x 5 "
            "(mean 7.8 g/L); Km of the saturable rescue flux (Kim 2007 structure)",
            (1.0, 1000.0), "plasma IgG at which FcRn rescue flux is half its maximum",
        ),
        Parameter(
            "fcrn_saturation_strength", 1.0, "dimensionless", "switch",
            "switch: 1 = saturable FcRn as calibrated, 0 = rescue fixed at baseline (linear PK)",
            (0.0, 10.0),
        ),
        Parameter(
            "fcrn_blockade", 0.0, "dimensionless", "assumption",
            "assumption: no FcRn blocker unless a comparator sets one", (0.0, 1.0),
            "fraction of FcRn occupied by a blocking drug",
        ),
    ),
    states=(State("ivig_catabolised_g", "g", "0", "cumulative infused IgG degraded (mass balance)"),),
    assignments=(
        Assignment("fcrn_rescue_baseline", "fcrn_igk / (1 + fcrn_igk)", "dimensionless",
                   "share of IgG entering catabolism that FcRn returns, at baseline"),
        Assignment(
            "catabolic_entry_rate_per_day",
            "igg_synthesis_g_per_day / ((1 - fcrn_rescue_baseline) * plasma_volume_L * baseline_igg_g_per_L)",
            "1/day", "k_deg: uptake of plasma IgG into the catabolic pathway, from baseline balance",
        ),
        Assignment(
            "autoantibody_synthesis_g_per_day",
            "catabolic_entry_rate_per_day * (1 - fcrn_rescue_baseline) * autoantibody_baseline_g_per_L * plasma_volume_L",
            "g/day", "autoantibody production that holds it at baseline before treatment",
        ),
        Assignment(
            "fcrn_rescue_saturable",
            "min(1, fcrn_rescue_baseline * (fcrn_km_g_per_L + baseline_igg_g_per_L) / (fcrn_km_g_per_L + igg_total_g_per_L))",
            "dimensionless", "rescued share with FcRn shared by all IgG (Michaelis-Menten rescue)",
        ),
        Assignment(
            "fcrn_rescue_fraction",
            "(1 - fcrn_blockade) * (fcrn_rescue_baseline + fcrn_saturation_strength * (fcrn_rescue_saturable - fcrn_rescue_baseline))",
            "dimensionless", "share of IgG entering catabolism that is recycled", output=True,
        ),
        Assignment(
            "catabolic_rate_per_day", "catabolic_entry_rate_per_day * (1 - fcrn_rescue_fraction)",
            "1/day", "fractional degradation rate of plasma IgG",
        ),
        Assignment(
            "igg_fractional_catabolic_rate_per_day",
            "catabolic_rate_per_day * intravascular_fraction",
            "1/day", "fraction of body IgG degraded per day (at distribution equilibrium)", output=True,
        ),
    ),
    fluxes=tuple(_catabolism(s) for s in SPECIES),
)
