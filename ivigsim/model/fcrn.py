"""IgG turnover through FcRn-protected catabolism, and its saturation by high-dose IVIG.

IgG in plasma is taken up by endothelial cells and enters the catabolic pathway at a
rate ``k_deg`` (per day, from plasma). In the endosome the neonatal Fc receptor (FcRn)
binds a share ``rescue`` of it and returns it to the circulation; the rest is degraded.

FcRn is a finite pool shared by *all* IgG species. Its rescue flux saturates with
plasma IgG like a Michaelis-Menten process (the structure of Kim 2007), so the rescued
share of IgG entering the pathway is

    rescue(C) = rescue_max * Km / (Km + C)        (capped at 1)

with C the total plasma IgG. After a 2 g/kg dose every species (IVIG, the patient's
own IgG, autoantibody) is therefore catabolised faster: the mechanism by which
high-dose IVIG lowers pathogenic antibodies.

Parameter values, and why:

- at the typical adult IgG of 11.4 g/L the rescued share is IgK/(1+IgK) = 0.836
  (Valenzuela 2025, IgK 5.08); this fixes ``rescue_max`` given ``Km``;
- ``Km`` is calibrated to the rise in IgG two weeks after 0.4 g/kg/day x 5
  (Kuitwaard 2009, 7.8 g/L), simulated in the typical GBS patient of that cohort (whose
  disease adds its own loss of IgG): the one fitted parameter of the PK core;
- ``k_deg`` is not fitted: it is the rate at which catabolism at 11.4 g/L balances
  the normal synthesis of 0.034 g/kg/day (Ein & Waldmann 1969). The body half-life
  that follows, ln 2 / (k_deg (1 - 0.836) x 0.44) = 22 days, is a check against the
  21-23 days of turnover studies, not an input;
- each patient's synthesis is what holds them at their own baseline IgG (with any
  disease-driven loss before treatment, ``ivigsim.model.igg``): a patient
  with low IgG (immunodeficiency) makes less and rescues a larger share, so infused
  IgG lives longer in them, as product labels report for PID.

Complete FcRn blockade (``fcrn_blockade`` = 1) lowers IgG at steady state to
1 - rescue(C0) = 16 % of baseline: the 84 % ceiling of the calibration file.

Switches: ``fcrn_saturation_strength`` 0 holds rescue at its baseline value (linear
PK), 1 is the saturable model. ``fcrn_blockade`` is a constant fraction of FcRn occupied
by a blocking drug (0 without one). A dosed FcRn inhibitor adds a dynamic occupancy,
``fcrn_inhibitor_occupancy`` (``ivigsim.model.comparators.fcrn_inhibitor``, 0 without a
dose): the rescued share is multiplied by ``(1 - fcrn_blockade)(1 - fcrn_inhibitor_occupancy)``,
independent occupancies whose free shares multiply.
"""

from __future__ import annotations

from ivigsim.model import sources as src
from ivigsim.model.declaration import Assignment, Flux, Module, Parameter, State
from ivigsim.model.igg import SPECIES, catabolism


def _catabolism(species: str) -> Flux:
    return catabolism(species, "catabolism", "catabolic_rate_per_day", "degradation of the share not rescued by FcRn")


FCRN = Module(
    name="fcrn_saturation",
    title="FcRn-protected IgG turnover and its saturation",
    description=__doc__ or "",
    switch="fcrn_saturation_strength",
    parameters=(
        Parameter(
            "reference_igg_g_per_L", 11.4, "g/L", "source", f"{src.VALENZUELA_2025}: typical baseline IgG",
            (1.0, 40.0), "IgG of the typical adult at which the reference rescue and synthesis apply",
        ),
        Parameter(
            "fcrn_igk", 5.08, "dimensionless", "source", f"{src.VALENZUELA_2025}: IgK 5.08 (CV 26.3 %)",
            (0.0, 50.0), "rescued : degraded IgG at the reference IgG (rescued share IgK/(1+IgK))",
        ),
        Parameter(
            "igg_synthesis_70kg_g_per_kg_day", 0.034, "g/kg/day", "source", src.EIN_WALDMANN_1969,
            (0.005, 0.2), "normal IgG synthesis per kg (70-kg adult; allometric exponent 0.75)",
        ),
        Parameter(
            "fcrn_km_g_per_L", 65.6, "g/L", "calibrated",
            f"calibrated to {src.KUITWAARD_2009}: rise in IgG 2 weeks after 0.4 g/kg/day x 5 "
            "(7.8 g/L) in the typical GBS patient of that cohort; saturable rescue as in Kim 2007 "
            "(see docs/calibration.md)",
            (1.0, 1000.0), "plasma IgG at which the FcRn rescue flux is half its maximum",
        ),
        Parameter(
            "fcrn_saturation_strength", 1.0, "dimensionless", "switch",
            "switch: 1 = saturable FcRn as calibrated, 0 = rescue fixed at baseline (linear PK)",
            (0.0, 10.0),
        ),
        Parameter(
            "fcrn_blockade", 0.0, "dimensionless", "assumption",
            "assumption: no FcRn blocker unless a comparator sets one", (0.0, 1.0),
            "fraction of FcRn occupied by a blocking drug", variability_scale="logit",
        ),
    ),
    states=(State("ivig_catabolised_g", "g", "0", "cumulative infused IgG degraded (mass balance)"),),
    assignments=(
        Assignment("fcrn_rescue_reference", "fcrn_igk / (1 + fcrn_igk)", "dimensionless",
                   "rescued share at the reference IgG"),
        Assignment(
            "fcrn_rescue_max",
            "fcrn_rescue_reference * (fcrn_km_g_per_L + reference_igg_g_per_L) / fcrn_km_g_per_L",
            "dimensionless", "rescued share as plasma IgG tends to zero",
        ),
        Assignment(
            "catabolic_entry_rate_per_day",
            "igg_synthesis_70kg_g_per_kg_day * reference_weight_kg * size_factor"
            " / ((1 - fcrn_rescue_reference) * plasma_volume_L * reference_igg_g_per_L)",
            "1/day", "k_deg: uptake of plasma IgG into the catabolic pathway (reference balance)",
        ),
        Assignment(
            "fcrn_rescue_baseline",
            "min(1, fcrn_rescue_max * fcrn_km_g_per_L / (fcrn_km_g_per_L + baseline_igg_g_per_L))",
            "dimensionless", "rescued share at this patient's baseline IgG",
        ),
        Assignment(
            "igg_synthesis_g_per_day",
            "(catabolic_entry_rate_per_day * (1 - fcrn_rescue_baseline) + disease_igg_catabolism_pretreatment_per_day)"
            " * plasma_volume_L * baseline_igg_g_per_L",
            "g/day", "this patient's IgG synthesis (holds baseline IgG: balances catabolism and any disease-driven "
            "loss before treatment)",
        ),
        Assignment(
            "autoantibody_synthesis_g_per_day",
            "igg_synthesis_g_per_day * autoantibody_baseline_g_per_L / baseline_igg_g_per_L",
            "g/day", "the autoantibody's share of synthesis",
        ),
        Assignment(
            "fcrn_rescue_saturable",
            "min(1, fcrn_rescue_max * fcrn_km_g_per_L / (fcrn_km_g_per_L + igg_total_g_per_L))",
            "dimensionless", "rescued share with FcRn shared by all IgG (Michaelis-Menten rescue)",
        ),
        Assignment(
            "fcrn_rescue_fraction",
            "(1 - fcrn_blockade) * (1 - fcrn_inhibitor_occupancy) * min(1, max(0, fcrn_rescue_baseline"
            " + fcrn_saturation_strength * (fcrn_rescue_saturable - fcrn_rescue_baseline)))",
            "dimensionless", "share of IgG entering catabolism that is recycled (a strength above 1"
            " exaggerates saturation, kept within 0-1)", output=True,
        ),
        Assignment(
            "catabolic_rate_per_day", "catabolic_entry_rate_per_day * (1 - fcrn_rescue_fraction)",
            "1/day", "fractional degradation rate of plasma IgG",
        ),
        Assignment(
            "igg_fractional_catabolic_rate_per_day",
            "(catabolic_rate_per_day + disease_igg_catabolism_per_day) * intravascular_fraction",
            "1/day", "fraction of body IgG degraded per day, disease-driven loss included (at distribution "
            "equilibrium)", output=True,
        ),
    ),
    fluxes=tuple(_catabolism(s) for s in SPECIES),
)
