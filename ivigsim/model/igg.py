"""IgG distribution and synthesis: the two-compartment core every IgG species shares.

The model carries three IgG species, each as an amount (g) in a central (plasma)
and a peripheral (extravascular) compartment:

- ``ivig``: IgG from the infused product;
- ``endogenous``: the patient's own normal IgG;
- ``autoantibody``: the patient's pathogenic IgG (its level only matters relative to
  baseline: disease modules read ``autoantibody_fraction_of_baseline``).

They distribute identically (same plasma volume and inter-compartment clearance) and
are catabolised through the same FcRn-protected pathway (``ivigsim.model.fcrn``).
Synthesis is constant: it does not rise when IgG falls (Junghans 1997). Its value
is whatever holds the patient at their baseline IgG (see ``ivigsim.model.fcrn``).

**Disease-driven loss (a hook).** A disease may add a loss of IgG on top of the
FcRn-protected catabolism: consumption in inflamed tissue and by activated macrophages,
which take up IgG bound in immune complexes and opsonised debris without FcRn rescue
(in GBS, IgG clearance rises with disease severity, Fokkink 2022: the one disease that
defines it rests on that finding). Wochner 1970 (J Clin Invest 49(3):454) found IgG
catabolised faster in connective-tissue diseases (SLE, rheumatoid arthritis, polymyositis,
vasculitis) but explicitly not in 15 patients with other chronic inflammatory diseases, so
it does not support such a loss in GBS or other inflammation. The loss removes every
species alike, at a fractional rate of plasma IgG ``disease_igg_catabolism_per_day``; its value before
treatment, ``disease_igg_catabolism_pretreatment_per_day`` (a constant), is part of the
balance that sets synthesis, so each patient still starts at their baseline IgG. A
disease drives it by defining both names; a disease that defines neither gets
``NO_DISEASE_IGG_CATABOLISM`` (both 0: no extra loss), added by
``ivigsim.model.library.compose``. Synthesis does not follow the loss as the disease
fades (Junghans 1997), so an untreated patient's IgG then drifts above its baseline.

Body-size scaling follows the population PK of Cheng 2025: clearances and synthesis with
exponent 0.75 about 70 kg, volumes with weight, so the baseline IgG concentration does not
depend on weight. The plasma volume per kilogram falls with body mass index as the blood
volume does (Lemmens 2006: 70 / sqrt(BMI / 22) mL/kg, measured in lean to morbidly obese
adults): adipose tissue holds little blood, so an obese patient dosed per kilogram of actual
weight reaches a higher peak than a lean one. Without a height the BMI is the reference 22
and the volume is in proportion to weight.
"""

from __future__ import annotations

from ivigsim.model import sources as src
from ivigsim.model.declaration import Assignment, Flux, Input, Module, Parameter, State
from ivigsim.model.patient import BMI_RANGE

SPECIES = ("ivig", "endogenous", "autoantibody")

#: What a disease defines to drive an extra loss of IgG (the hook above): the fractional
#: rate of plasma IgG lost (1/day, may vary in time) and its value before treatment (a constant).
DISEASE_CATABOLISM = ("disease_igg_catabolism_per_day", "disease_igg_catabolism_pretreatment_per_day")


def central(species: str) -> str:
    return f"{species}_central_g"


def peripheral(species: str) -> str:
    return f"{species}_peripheral_g"


def catabolism(species: str, name: str, rate_per_day: str, description: str) -> Flux:
    """Loss of a species from plasma at a fractional rate. IVIG's degraded amount is kept
    (``ivig_catabolised_g``, declared by ``ivigsim.model.fcrn``) so infused = in body +
    degraded can be checked; the other species leave the model."""
    target = "ivig_catabolised_g" if species == "ivig" else None
    return Flux(f"{species}_{name}", f"{rate_per_day} * {central(species)}", central(species), target, description)


def _distribution(species: str) -> tuple[Flux, Flux]:
    return (
        Flux(
            f"{species}_to_tissue",
            f"distribution_clearance_L_per_day * {central(species)} / plasma_volume_L",
            central(species),
            peripheral(species),
            "transfer from plasma to the extravascular space",
        ),
        Flux(
            f"{species}_to_plasma",
            f"distribution_clearance_L_per_day * {peripheral(species)} / tissue_volume_L",
            peripheral(species),
            central(species),
            "return to plasma (lymph)",
        ),
    )


IGG_DISTRIBUTION = Module(
    name="igg",
    title="IgG distribution and synthesis",
    description=__doc__ or "",
    parameters=(
        Parameter(
            "body_weight_kg", 70.0, "kg", "covariate", "patient covariate", (0.5, 400.0),
            "actual body weight",
        ),
        Parameter(
            "body_mass_index_kg_per_m2", 22.0, "kg/m^2", "covariate",
            "patient covariate: weight / height^2; the reference 22 where the height is unknown", BMI_RANGE,
            "body mass index",
        ),
        Parameter(
            "reference_bmi_kg_per_m2", 22.0, "kg/m^2", "source",
            f"{src.LEMMENS_2006}: the BMI at which the volumes per kilogram apply", (22.0, 22.0),
            "reference body mass index of the plasma volume",
        ),
        Parameter(
            "reference_weight_kg", 70.0, "kg", "source", f"{src.CHENG_2025}: allometric reference weight",
            (70.0, 70.0), "weight at which per-70-kg values apply",
        ),
        Parameter(
            "baseline_igg_g_per_L", 11.4, "g/L", "source", src.VALENZUELA_2025, (1.0, 40.0),
            "serum IgG before treatment (typical adult; between-subject CV 21.9 %)",
        ),
        Parameter(
            "autoantibody_baseline_g_per_L", 0.05, "g/L", "assumption",
            "assumption: pathogenic IgG is a small share of total IgG; only its relative "
            "change is read by disease modules", (0.0, 0.5),
            "pathogenic autoantibody concentration before treatment",
        ),
        Parameter(
            "plasma_volume_L_per_kg", 0.042, "L/kg", "source",
            f"{src.KIM_2007}: Vc 42 mL/kg, read as a lean adult's (BMI 22, Lemmens' reference; an assumption)",
            (0.02, 0.1), "central (plasma) volume of IgG per kg body weight at the reference BMI",
        ),
        Parameter(
            "intravascular_fraction", 0.44, "dimensionless", "source", src.EIN_WALDMANN_1969,
            (0.2, 0.8), "share of body IgG in plasma at steady state",
        ),
        Parameter(
            "distribution_clearance_70kg_L_per_day", 2.0, "L/day", "calibrated",
            "calibrated to the 21-23-day IgG half-life of turnover studies (Waldmann & Strober 1969); "
            f"a transcapillary escape of about 0.7/day. {src.CHENG_2025} gives 1.08 L/day in children, "
            "which puts the half-life at 23.6 days (docs/calibration.md)", (0.05, 20.0),
            "inter-compartment clearance at 70 kg (allometric exponent 0.75)",
        ),
    ),
    inputs=(Input("ivig_infusion_g_per_day", "g/day", "IVIG infusion rate into plasma"),),
    assignments=(
        Assignment("size_factor", "(body_weight_kg / reference_weight_kg) ** 0.75", "dimensionless",
                   "allometric scaling of clearances and synthesis (Cheng 2025 exponent 0.75)"),
        Assignment("plasma_volume_L", "plasma_volume_L_per_kg * body_weight_kg"
                   " * sqrt(reference_bmi_kg_per_m2 / body_mass_index_kg_per_m2)", "L",
                   "plasma volume: in proportion to weight at the reference BMI, less per kg above it (Lemmens 2006)"),
        Assignment(
            "tissue_volume_L", "plasma_volume_L * (1 - intravascular_fraction) / intravascular_fraction",
            "L", "apparent extravascular volume: equal concentrations hold 44 % of IgG in plasma",
        ),
        Assignment("distribution_clearance_L_per_day", "distribution_clearance_70kg_L_per_day * size_factor", "L/day"),
        Assignment(
            "igg_total_g_per_L",
            "(" + " + ".join(central(s) for s in SPECIES) + ") / plasma_volume_L",
            "g/L", "total serum IgG", output=True,
        ),
        Assignment("igg_ivig_g_per_L", f"{central('ivig')} / plasma_volume_L", "g/L",
                   "serum IgG from the infused product", output=True),
        Assignment("igg_endogenous_g_per_L", f"{central('endogenous')} / plasma_volume_L", "g/L",
                   "the patient's own normal serum IgG", output=True),
        Assignment("autoantibody_g_per_L", f"{central('autoantibody')} / plasma_volume_L", "g/L",
                   "pathogenic autoantibody in serum", output=True),
        Assignment(
            "autoantibody_fraction_of_baseline",
            f"{central('autoantibody')} / plasma_volume_L / max(autoantibody_baseline_g_per_L, 1e-30)",
            "dimensionless", "autoantibody relative to its pretreatment level", output=True,
        ),
    ),
    states=(
        State(central("ivig"), "g", "0", "infused IgG in plasma"),
        State(peripheral("ivig"), "g", "0", "infused IgG outside plasma"),
        State(central("endogenous"), "g", "(baseline_igg_g_per_L - autoantibody_baseline_g_per_L) * plasma_volume_L"),
        State(peripheral("endogenous"), "g", "(baseline_igg_g_per_L - autoantibody_baseline_g_per_L) * tissue_volume_L"),
        State(central("autoantibody"), "g", "autoantibody_baseline_g_per_L * plasma_volume_L"),
        State(peripheral("autoantibody"), "g", "autoantibody_baseline_g_per_L * tissue_volume_L"),
    ),
    fluxes=(
        Flux("ivig_infusion", "ivig_infusion_g_per_day", None, central("ivig"), "zero-order infusion"),
        Flux(
            "endogenous_synthesis", "igg_synthesis_g_per_day - autoantibody_synthesis_g_per_day",
            None, central("endogenous"), "plasma-cell output of normal IgG (constant)",
        ),
        Flux(
            "autoantibody_synthesis", "autoantibody_synthesis_g_per_day * b_cell_activity", None,
            central("autoantibody"), "output of pathogenic IgG, following autoreactive B-cell activity",
        ),
        *(f for s in SPECIES for f in _distribution(s)),
        *(catabolism(s, "disease_catabolism", DISEASE_CATABOLISM[0],
                     "loss driven by the disease (inflamed tissue, activated macrophages), without FcRn rescue")
          for s in SPECIES),
    ),
)

NO_DISEASE_IGG_CATABOLISM = Module(
    name="no_disease_igg_catabolism",
    title="No disease-driven loss of IgG",
    description="The default of the IgG core's disease-driven loss (``ivigsim.model.igg``): none. "
                "Added to the model of any disease that does not drive the loss itself.",
    assignments=(
        Assignment(DISEASE_CATABOLISM[0], "0", "1/day", "disease-driven fractional loss of plasma IgG (none)"),
        Assignment(DISEASE_CATABOLISM[1], "0", "1/day", "the same before treatment (none)"),
    ),
)
