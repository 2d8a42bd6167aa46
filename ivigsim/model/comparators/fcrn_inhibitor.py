"""An FcRn inhibitor (efgartigimod): drug kinetics and dynamic FcRn occupancy.

The drug (an IgG1 Fc fragment engineered to bind FcRn tightly at neutral and acidic pH)
is infused into plasma (input ``fcrn_inhibitor_infusion_g_per_day``) and follows linear
two-compartment kinetics, with the plasma volume of the IgG core as its central volume:

    d A1/dt = input - CL A1/V1 - Q (A1/V1 - A2/V2)
    d A2/dt =                    Q (A1/V1 - A2/V2)

FcRn occupancy follows the plasma concentration at equilibrium (binding assumed fast
against the days over which IgG changes):

    occupancy = C / (C + Kd),      C = A1 / V1

and ``ivigsim.model.fcrn`` multiplies the rescued share of IgG by ``1 - occupancy`` (and by
``1 - fcrn_blockade``, the constant occupancy kept from before: the two combine as
independent occupancies, the free share multiplying). With no drug the occupancy is exactly
0, so the model is unchanged.

``Kd`` is an apparent affinity in plasma: the drug meets FcRn at plasma pH and, unlike
IgG, binds it there, so the competition from the patient's IgG (which binds only at acidic
pH) is neglected (an assumption). It is fitted in the joint calibration to the IgG lowering of
Ulrichts 2018 (s.11, healthy volunteers) and to ADAPT's MG-ADL responders (s.12.6); the
estimate is not adopted (docs/calibration.md), so the shipped value stays the affinity at
neutral pH by surface plasmon resonance (Ulrichts 2018: 320 nM at pH 7.4, 14.2 nM at pH 6.0)
times the fragment's mass (about 54 kDa, an assumption). ADAPT's mean IgG reduction in gMG and
the recovery 8 weeks after a cycle stay checks (docs/comparators.md).
The kinetic constants are declared below with their sources.

Clearances scale with weight^0.75 and the peripheral volume with weight, like the IgG core.
"""

from __future__ import annotations

from ivigsim.model.declaration import Assignment, Flux, Input, Module, Parameter, State

INHIBITOR_INPUT = "fcrn_inhibitor_infusion_g_per_day"
_C = "fcrn_inhibitor_g_per_L"

FCRN_INHIBITOR = Module(
    name="fcrn_inhibitor",
    title="FcRn inhibitor (efgartigimod)",
    description=__doc__ or "",
    parameters=(
        Parameter(
            "fcrn_inhibitor_kd_g_per_L", 0.0173, "g/L", "calibrated",
            "fitted in the joint calibration (docs/calibration.md) to the IgG lowering of Ulrichts et al. 2018, "
            "J Clin Invest 128(10):4372 (calibration-targets s.11: up to 50 % after one dose, about 75 % with "
            "repeated doses) and the MG-ADL responders of ADAPT (s.12.6: 68 % on efgartigimod): estimate 0.0123 "
            "g/L (95 % 0.0072-0.021), not adopted (it worsens the checks it reads, ADAPT's mean lowering in gMG, "
            "more than it improves its targets: the adoption rule of docs/calibration.md). The shipped value, "
            "0.0173 g/L, is 320 nM (Ulrichts 2018's text: equilibrium dissociation constants for human FcRn of "
            "14.2 nM at pH 6.0 and 320 nM at pH 7.4, by SPR) x 54 kDa (assumption: the mass of the Fc fragment)",
            (1e-6, 10.0),
            "plasma concentration of the inhibitor occupying half of FcRn",
        ),
        Parameter(
            "fcrn_inhibitor_clearance_70kg_L_per_day", 2.6, "L/day", "assumption",
            "assumption: 0.108 L/h (recalled from the VYVGART prescribing information, whose pharmacokinetics "
            "section could not be read here); of the size of dose / AUC over a week after the fourth weekly 10 "
            "mg/kg infusion in healthy adults (Jing et al. 2024: AUC0-168h 5300 ug h/mL, about 0.12 L/h at an "
            "assumed 65 kg)", (0.01, 100.0), "elimination clearance of the inhibitor at 70 kg (exponent 0.75)",
        ),
        Parameter(
            "fcrn_inhibitor_peripheral_volume_L_per_kg", 0.2, "L/kg", "assumption",
            "assumption: with the plasma volume, a steady-state volume of about 17 L at 70 kg (15-20 L recalled "
            "from the VYVGART prescribing information; not in calibration-targets)", (0.01, 2.0),
            "peripheral volume of distribution of the inhibitor per kg",
        ),
        Parameter(
            "fcrn_inhibitor_distribution_clearance_70kg_L_per_day", 20.0, "L/day", "assumption",
            "assumption: distribution within hours, giving a terminal half-life of about 5 days with the "
            "clearance and volumes above (80-120 h recalled from the VYVGART prescribing information)",
            (0.01, 1000.0), "inter-compartment clearance of the inhibitor at 70 kg (exponent 0.75)",
        ),
    ),
    inputs=(Input(INHIBITOR_INPUT, "g/day", "FcRn inhibitor infusion rate into plasma"),),
    states=(
        State("fcrn_inhibitor_central_g", "g", "0", "FcRn inhibitor in plasma"),
        State("fcrn_inhibitor_peripheral_g", "g", "0", "FcRn inhibitor outside plasma"),
    ),
    assignments=(
        Assignment(_C, "fcrn_inhibitor_central_g / plasma_volume_L", "g/L",
                   "FcRn inhibitor concentration in plasma", output=True),
        Assignment("fcrn_inhibitor_peripheral_volume_L", "fcrn_inhibitor_peripheral_volume_L_per_kg * body_weight_kg",
                   "L"),
        Assignment("fcrn_inhibitor_clearance_L_per_day", "fcrn_inhibitor_clearance_70kg_L_per_day * size_factor",
                   "L/day"),
        Assignment("fcrn_inhibitor_distribution_clearance_L_per_day",
                   "fcrn_inhibitor_distribution_clearance_70kg_L_per_day * size_factor", "L/day"),
        Assignment("fcrn_inhibitor_occupancy", f"{_C} / ({_C} + fcrn_inhibitor_kd_g_per_L)", "dimensionless",
                   "share of FcRn occupied by the inhibitor", output=True),
        Assignment("fcrn_occupied_fraction", "1 - (1 - fcrn_blockade) * (1 - fcrn_inhibitor_occupancy)",
                   "dimensionless", "share of FcRn blocked: the inhibitor and any constant blockade", output=True),
    ),
    fluxes=(
        Flux("fcrn_inhibitor_infusion", INHIBITOR_INPUT, None, "fcrn_inhibitor_central_g", "zero-order infusion"),
        Flux("fcrn_inhibitor_elimination", "fcrn_inhibitor_clearance_L_per_day * fcrn_inhibitor_central_g / plasma_volume_L",
             "fcrn_inhibitor_central_g", None, "elimination (catabolism) of the inhibitor"),
        Flux("fcrn_inhibitor_to_tissue",
             "fcrn_inhibitor_distribution_clearance_L_per_day * fcrn_inhibitor_central_g / plasma_volume_L",
             "fcrn_inhibitor_central_g", "fcrn_inhibitor_peripheral_g", "transfer from plasma to tissue"),
        Flux("fcrn_inhibitor_to_plasma",
             "fcrn_inhibitor_distribution_clearance_L_per_day * fcrn_inhibitor_peripheral_g"
             " / fcrn_inhibitor_peripheral_volume_L",
             "fcrn_inhibitor_peripheral_g", "fcrn_inhibitor_central_g", "return to plasma"),
    ),
)


NO_FCRN_INHIBITOR = Module(
    name="no_fcrn_inhibitor",
    title="No FcRn inhibitor",
    description="The FcRn inhibitor's place in a model without comparators (``ivigsim.model.library``): its "
                "occupancy of FcRn is 0, so ``ivigsim.model.fcrn`` rescues as it did before the comparators.",
    assignments=(Assignment("fcrn_inhibitor_occupancy", "0", "dimensionless",
                            "share of FcRn occupied by an FcRn inhibitor (none in this model)"),),
)
