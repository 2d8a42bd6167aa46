"""Plasma exchange: plasma is taken off and replaced (albumin or donor plasma).

During a session the apheresis machine removes the patient's plasma at a rate ``r``
(L/day; the input ``plasma_exchange_L_per_day``, set by the compiled regimen to the
prescribed volume over the session's length) and returns the same volume of replacement
fluid. Every constituent the model carries in plasma leaves in proportion to its plasma
concentration (first-order exchange):

    d A_c/dt = ... - r A_c / V_plasma          for each IgG species (IVIG-derived,
                                               endogenous, autoantibody), the immune
                                               complexes and an FcRn inhibitor in plasma

so one session exchanging a volume ``V`` leaves ``exp(-V / V_plasma)`` of a purely
intravascular substance in plasma (63 % removed at one plasma volume, 78 % at 1.5:
calibration-targets s.12.6). IgG is not purely intravascular: during and after the session
tissue IgG flows back through the model's own distribution clearance, so plasma IgG
rebounds towards about half of its pretreatment value over the following days (the
textbook figure of Hanafusa 2014, s.12.6, is a check, not a target).

**Replacement.** With albumin, no IgG is returned. With donor plasma (fresh frozen plasma),
the input ``donor_plasma_L_per_day`` (the same rate, during sessions that use plasma)
returns normal IgG at ``donor_plasma_igg_g_per_L`` (an assumption: the typical adult level,
ignoring the anticoagulant's dilution). Donor IgG joins the ``endogenous`` species, which
then stands for normal, non-pathogenic IgG not from IVIG: it counts towards total IgG and
FcRn saturation but is credited with none of IVIG's own mechanisms (an assumption).

**Complement.** The exchange removes complement proteins with the plasma, as it removes IgG.
The model's complement activity is an index driven by the disease (``ivigsim.model.immune``);
it is multiplied by ``L``, the plasma level of the complement proteins relative to before
(``complement_plasma_level``), taken as confined to plasma (an assumption) and resynthesised
towards its normal level at ``k`` (``complement_recovery_per_day``):

    dL/dt = k (1 - L) - r L / V_plasma + r_donor / V_plasma

(donor plasma returns complement at the normal level; with albumin ``r_donor`` is 0). So one
session of ``N`` plasma volumes leaves about ``exp(-N)`` of the complement proteins, which
return with a half-life of ``ln 2 / k``, 1.5 days: not recovered 48-72 h after an exchange, as
the Blood 1980 row of s.12.6 found for C3. Cytokines stay indices the exchange does not touch.
The IVIG-only model holds ``NO_PLASMA_EXCHANGE`` instead: ``L`` = 1.

The removed amounts are counted: ``ivig_exchanged_g`` (IVIG-derived IgG, so that infused =
in body + degraded + exchanged still holds) and ``patient_igg_exchanged_g`` (the patient's
IgG, autoantibody and immune complexes included); ``igg_exchanged_g`` is their sum. Without
sessions both inputs are 0 and the module does nothing.
"""

from __future__ import annotations

from ivigsim.model.comparators import sources as src
from ivigsim.model.declaration import Assignment, Flux, Input, Module, Parameter, State
from ivigsim.model.igg import SPECIES, central

#: The model inputs the compiled regimen drives (``ivigsim.dosing.comparators``).
EXCHANGE_INPUT = "plasma_exchange_L_per_day"
DONOR_PLASMA_INPUT = "donor_plasma_L_per_day"
#: The FcRn inhibitor's plasma amount (``ivigsim.model.comparators.fcrn_inhibitor``), also exchanged.
INHIBITOR_IN_PLASMA = "fcrn_inhibitor_central_g"
#: Plasma complement proteins relative to normal (read by ``ivigsim.model.immune``) and their return rate.
COMPLEMENT_LEVEL = "complement_plasma_level"
COMPLEMENT_RECOVERY = "complement_recovery_per_day"


def _removal(state: str, name: str, target: str | None, description: str) -> Flux:
    return Flux(name, f"{EXCHANGE_INPUT} * {state} / plasma_volume_L", state, target, description)


PLASMA_EXCHANGE = Module(
    name="plasma_exchange",
    title="Plasma exchange",
    description=__doc__ or "",
    parameters=(
        Parameter(
            "donor_plasma_igg_g_per_L", 11.4, "g/L", "assumption",
            f"assumption: donor plasma carries IgG at the typical adult level ({src.VALENZUELA_2025}: 11.4 g/L), "
            "the anticoagulant's dilution ignored", (0.0, 40.0),
            "IgG concentration of donor plasma used as replacement fluid",
        ),
        Parameter(
            COMPLEMENT_RECOVERY, 0.46, "1/day", "assumption",
            "assumption: a half-life of 1.5 days for the complement proteins' return after an exchange, from C3's "
            "fractional catabolic rate of about 1.9 % of the plasma pool per hour in healthy adults as recalled "
            "from Alper & Rosen 1967, J Clin Invest 46(12):2021 (not in calibration-targets); consistent with C3 "
            "not recovered to its pretreatment level 48-72 h after an exchange (Blood 1980;56(6):1055, "
            "calibration-targets s.12.6). Not fitted", (0.01, 100.0),
            "rate at which plasma complement proteins return to their normal level after an exchange",
        ),
    ),
    inputs=(
        Input(EXCHANGE_INPUT, "L/day", "plasma exchange: patient plasma removed (and replaced) per day during a session"),
        Input(DONOR_PLASMA_INPUT, "L/day", "plasma exchange: donor plasma given as replacement per day (0 with albumin)"),
    ),
    states=(
        State("ivig_exchanged_g", "g", "0", "cumulative IVIG-derived IgG removed by plasma exchange"),
        State("patient_igg_exchanged_g", "g", "0",
              "cumulative patient IgG (normal, autoantibody, immune complexes) removed by plasma exchange"),
        State(COMPLEMENT_LEVEL, "dimensionless", "1",
              "plasma complement proteins relative to before treatment (lowered by plasma exchange)"),
    ),
    assignments=(
        Assignment("igg_exchanged_g", "ivig_exchanged_g + patient_igg_exchanged_g", "g",
                   "cumulative IgG removed by plasma exchange (all species)", output=True),
    ),
    fluxes=(
        *(_removal(central(s), f"{s}_plasma_exchange",
                   "ivig_exchanged_g" if s == "ivig" else "patient_igg_exchanged_g",
                   "removal in the exchanged plasma")
          for s in SPECIES),
        _removal("immune_complex_g", "immune_complex_plasma_exchange", "patient_igg_exchanged_g",
                 "immune complexes removed in the exchanged plasma"),
        _removal(INHIBITOR_IN_PLASMA, "fcrn_inhibitor_plasma_exchange", None,
                 "FcRn inhibitor removed in the exchanged plasma"),
        Flux("donor_plasma_igg", f"{DONOR_PLASMA_INPUT} * donor_plasma_igg_g_per_L", None, central("endogenous"),
             "normal IgG returned in donor plasma (replacement fluid)"),
        _removal(COMPLEMENT_LEVEL, "complement_plasma_exchange", None, "complement proteins removed in the exchanged plasma"),
        Flux("complement_from_donor_plasma", f"{DONOR_PLASMA_INPUT} / plasma_volume_L", None, COMPLEMENT_LEVEL,
             "complement proteins returned at their normal level in donor plasma"),
        # k (1 - L) as renewal and loss (each a non-negative flux, an SBML reaction), as the immune state's
        Flux("complement_renewal", COMPLEMENT_RECOVERY, None, COMPLEMENT_LEVEL, "complement proteins made"),
        Flux("complement_loss", f"{COMPLEMENT_RECOVERY} * {COMPLEMENT_LEVEL}", COMPLEMENT_LEVEL, None,
             "complement proteins catabolised"),
    ),
)

NO_PLASMA_EXCHANGE = Module(
    name="no_plasma_exchange",
    title="No plasma exchange",
    description="Plasma exchange's place in a model without comparators (``ivigsim.model.library``): the plasma "
                "complement proteins stay at their normal level, so ``ivigsim.model.immune``'s complement activity "
                "is what it was before the comparators.",
    assignments=(Assignment(COMPLEMENT_LEVEL, "1", "dimensionless",
                            "plasma complement proteins relative to before treatment (no exchange in this model)"),),
)
