"""An FcRn inhibitor: drug kinetics, target-mediated disposition and dynamic FcRn occupancy.

The drug (efgartigimod, an engineered IgG1 Fc fragment; nipocalimab, an anti-FcRn antibody)
is infused into plasma (input ``fcrn_inhibitor_infusion_g_per_day``) and distributes between
plasma (the IgG core's plasma volume ``V1``) and a peripheral space. It binds the FcRn that
is accessible to it in the quasi-steady-state approximation of target-mediated drug
disposition (TMDD; Gibiansky et al. 2008), as Valenzuela et al. 2025 wrote it for
nipocalimab. With ``C`` the drug's total plasma concentration (free and bound), ``R`` the
accessible FcRn (as the drug mass it binds 1:1, per litre of plasma; ``R0 x r`` with ``r``
relative to baseline) and ``Kss`` the quasi-steady-state constant:

    d = C - R - Kss
    C_free = max(d, 0) + 2 Kss C / (sqrt(d^2 + 4 Kss C) + |d|)     (the positive root of
             C_free^2 - d C_free - Kss C = 0, written without cancellation)
    bound  = R C_free / (Kss + C_free)

    d A1/dt = input - CL C_free - kint V1 bound - Q (C_free - A2/V2)
    d A2/dt =                                   Q (C_free - A2/V2)
    d r/dt  = kdeg - kdeg r Kss / (Kss + C_free) - kint r C_free / (Kss + C_free)

FcRn is renewed at ``kdeg``; free FcRn is degraded at ``kdeg`` and the drug-bound complex
internalised at ``kint``: when ``kint > kdeg`` the drug depletes FcRn as well as occupying it.
The share of FcRn unavailable to IgG is

    occupancy = (1 - r) + r C_free / (Kss + C_free)      (FcRn lost, and FcRn bound)

and ``ivigsim.model.fcrn`` multiplies the rescued share of IgG by ``1 - occupancy`` (and by
``1 - fcrn_blockade``, the constant occupancy kept from before: the two combine as
independent occupancies, the free share multiplying). With no drug the occupancy is exactly
0, so the model is unchanged.

**Efgartigimod** (the parameters' own values) has no target-mediated disposition: ``R0 = 0``
(so ``C_free = C``) and ``kint = kdeg`` (bound FcRn is renewed like free FcRn, ``r`` stays 1):
linear two-compartment kinetics, occupancy ``C / (C + Kd)`` at equilibrium, as before. ``Kd``
is an apparent affinity in plasma: the drug meets FcRn at plasma pH and, unlike IgG, binds
it there, so the competition from the patient's IgG (which binds only at acidic pH) is
neglected (an assumption). It is fitted in the joint calibration to the IgG lowering of
Ulrichts 2018 (s.11, healthy volunteers) and to ADAPT's MG-ADL responders (s.12.6); the
estimate is not adopted (docs/calibration.md), so the shipped value stays the affinity at
neutral pH by surface plasmon resonance (Ulrichts 2018: 320 nM at pH 7.4, 14.2 nM at pH 6.0)
times the fragment's mass (about 54 kDa, an assumption). ADAPT's mean IgG reduction in gMG and
the recovery 8 weeks after a cycle stay checks (docs/comparators.md).

**Nipocalimab** (``NIPOCALIMAB``) takes every constant from Valenzuela 2025's population model
(Table 3: linear clearance, volumes, FcRn at baseline and the share accessible to the drug,
``Kss``, ``kint``; ``kdeg`` of FcRn is the paper's fixed value), whose IgG parameters the IgG
core already uses (reference IgG 11.4 g/L, IgK 5.08). Their central volume (3.23 L at 75 kg)
is replaced by the plasma volume (3.15 L at 75 kg).

Clearances scale with weight^0.75 and the peripheral volume with weight, like the IgG core.
"""

from __future__ import annotations

from ivigsim.model.comparators.sources import VALENZUELA_2025
from ivigsim.model.declaration import Assignment, Flux, Input, Module, Parameter, State

INHIBITOR_INPUT = "fcrn_inhibitor_infusion_g_per_day"
_C = "fcrn_inhibitor_g_per_L"
_FREE = "fcrn_inhibitor_free_g_per_L"
_KD = "fcrn_inhibitor_kd_g_per_L"
_R = "fcrn_accessible_fraction"
#: Valenzuela 2025's reference weight: their clearances are at 75 kg with exponent 0.75, their
#: volumes proportional to weight; ours are at 70 kg.
_SIZE_75_TO_70 = (70.0 / 75.0) ** 0.75
#: Nipocalimab's molar mass, g/mol (Valenzuela 2025's results: 15 mg/kg x 75 kg = 7.92 umol).
NIPOCALIMAB_G_PER_MOL = 142_000.0
_TABLE3 = f"{VALENZUELA_2025}, Table 3 (as transcribed in nlmixr2lib's model Valenzuela_2025_nipocalimab)"

FCRN_INHIBITOR = Module(
    name="fcrn_inhibitor",
    title="FcRn inhibitor (efgartigimod; nipocalimab)",
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
            "from the VYVGART prescribing information; not in calibration-targets)", (0.001, 2.0),
            "peripheral volume of distribution of the inhibitor per kg",
        ),
        Parameter(
            "fcrn_inhibitor_distribution_clearance_70kg_L_per_day", 20.0, "L/day", "assumption",
            "assumption: distribution within hours, giving a terminal half-life of about 5 days with the "
            "clearance and volumes above (80-120 h recalled from the VYVGART prescribing information)",
            (0.01, 1000.0), "inter-compartment clearance of the inhibitor at 70 kg (exponent 0.75)",
        ),
        Parameter(
            "fcrn_inhibitor_target_g_per_L", 0.0, "g/L", "assumption",
            "assumption: no target-mediated disposition for efgartigimod (its clearance and volumes above are "
            "those of linear kinetics; the label's figures were recalled as such)", (0.0, 1.0),
            "FcRn accessible to the inhibitor at baseline, as the inhibitor mass it binds 1:1 per litre of plasma",
        ),
        Parameter(
            "fcrn_inhibitor_internalisation_per_day", 1.3, "1/day", "assumption",
            "assumption: FcRn bound to efgartigimod is renewed as free FcRn is (fcrn_degradation_per_day), so "
            "the drug occupies FcRn without depleting it", (0.01, 1000.0),
            "internalisation (and degradation) rate of the inhibitor-FcRn complex",
        ),
        Parameter(
            "fcrn_degradation_per_day", 1.3, "1/day", "source",
            f"{_TABLE3}: degradation rate of free FcRn, kdeg = 1.3/day (fixed in that analysis)", (0.01, 100.0),
            "turnover of free FcRn (its renewal balances it at baseline)",
        ),
    ),
    inputs=(Input(INHIBITOR_INPUT, "g/day", "FcRn inhibitor infusion rate into plasma"),),
    states=(
        State("fcrn_inhibitor_central_g", "g", "0", "FcRn inhibitor in plasma, free and bound to FcRn"),
        State("fcrn_inhibitor_peripheral_g", "g", "0", "FcRn inhibitor outside plasma"),
        State(_R, "dimensionless", "1", "FcRn accessible to the inhibitor, free and bound, relative to baseline"),
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
        Assignment("fcrn_inhibitor_target_now_g_per_L", f"fcrn_inhibitor_target_g_per_L * {_R}", "g/L",
                   "FcRn accessible to the inhibitor now (free and bound)"),
        Assignment("fcrn_inhibitor_balance_g_per_L", f"{_C} - fcrn_inhibitor_target_now_g_per_L - {_KD}", "g/L",
                   "C - R - Kss, the linear coefficient of the quasi-steady-state binding equation"),
        Assignment(_FREE,
                   f"max(fcrn_inhibitor_balance_g_per_L, 0) + 2 * {_KD} * {_C}"
                   f" / (sqrt(fcrn_inhibitor_balance_g_per_L ** 2 + 4 * {_KD} * {_C}) + abs(fcrn_inhibitor_balance_g_per_L))",
                   "g/L", "FcRn inhibitor not bound to FcRn, plasma concentration", output=True),
        Assignment("fcrn_inhibitor_bound_share", f"{_FREE} / ({_FREE} + {_KD})", "dimensionless",
                   "share of accessible FcRn bound to the inhibitor"),
        Assignment("fcrn_inhibitor_occupancy", f"(1 - {_R}) + {_R} * fcrn_inhibitor_bound_share", "dimensionless",
                   "share of FcRn unavailable to IgG: bound to the inhibitor or lost with it", output=True),
        Assignment("fcrn_occupied_fraction", "1 - (1 - fcrn_blockade) * (1 - fcrn_inhibitor_occupancy)",
                   "dimensionless", "share of FcRn blocked: the inhibitor and any constant blockade", output=True),
    ),
    fluxes=(
        Flux("fcrn_inhibitor_infusion", INHIBITOR_INPUT, None, "fcrn_inhibitor_central_g", "zero-order infusion"),
        Flux("fcrn_inhibitor_elimination", f"fcrn_inhibitor_clearance_L_per_day * {_FREE}",
             "fcrn_inhibitor_central_g", None, "linear elimination (catabolism) of the free inhibitor"),
        Flux("fcrn_inhibitor_internalisation",
             "fcrn_inhibitor_internalisation_per_day * plasma_volume_L * fcrn_inhibitor_target_now_g_per_L"
             " * fcrn_inhibitor_bound_share",
             "fcrn_inhibitor_central_g", None, "target-mediated elimination: the FcRn-bound inhibitor internalised"),
        Flux("fcrn_inhibitor_to_tissue", f"fcrn_inhibitor_distribution_clearance_L_per_day * {_FREE}",
             "fcrn_inhibitor_central_g", "fcrn_inhibitor_peripheral_g", "transfer of the free inhibitor to tissue"),
        Flux("fcrn_inhibitor_to_plasma",
             "fcrn_inhibitor_distribution_clearance_L_per_day * fcrn_inhibitor_peripheral_g"
             " / fcrn_inhibitor_peripheral_volume_L",
             "fcrn_inhibitor_peripheral_g", "fcrn_inhibitor_central_g", "return to plasma"),
        Flux("fcrn_renewal", "fcrn_degradation_per_day", None, _R, "FcRn made (balancing its turnover at baseline)"),
        Flux("fcrn_turnover", f"fcrn_degradation_per_day * {_R} * (1 - fcrn_inhibitor_bound_share)", _R, None,
             "free FcRn degraded"),
        Flux("fcrn_complex_internalisation", f"fcrn_inhibitor_internalisation_per_day * {_R} * fcrn_inhibitor_bound_share",
             _R, None, "inhibitor-bound FcRn internalised and degraded"),
    ),
)


#: Nipocalimab's constants (replacing the parameters' own values, efgartigimod's, for a scenario
#: that gives it): parameter -> (value, source). Valenzuela 2025's are at 75 kg; clearances are
#: converted to 70 kg with their exponent 0.75, volumes per kg; the FcRn it binds is converted
#: to the drug's mass with its molar mass.
NIPOCALIMAB: dict[str, tuple[float, str]] = {
    _KD: (0.00605, f"{_TABLE3}: quasi-steady-state constant Kss = 6.05 ug/mL (42.6 nM)"),
    "fcrn_inhibitor_clearance_70kg_L_per_day": (
        round(0.655 * _SIZE_75_TO_70, 4), f"{_TABLE3}: linear clearance 0.655 L/day at 75 kg, x (70/75)^0.75"),
    "fcrn_inhibitor_peripheral_volume_L_per_kg": (
        round(0.622 / 75.0, 6), f"{_TABLE3}: peripheral volume 0.622 L at 75 kg, per kg"),
    "fcrn_inhibitor_distribution_clearance_70kg_L_per_day": (
        round(0.250 * _SIZE_75_TO_70, 4), f"{_TABLE3}: inter-compartment clearance 0.250 L/day at 75 kg, x (70/75)^0.75"),
    "fcrn_inhibitor_target_g_per_L": (
        round(143e-9 * 0.947 * NIPOCALIMAB_G_PER_MOL, 6),
        f"{_TABLE3}: FcRn at baseline 143 nM, of which 94.7 % accessible to nipocalimab, x 142 kDa "
        "(the molar mass from the paper's results: 15 mg/kg x 75 kg = 7.92 umol)"),
    "fcrn_inhibitor_internalisation_per_day": (62.4, f"{_TABLE3}: internalisation rate of the complex, kint = 62.4/day"),
}
#: Nipocalimab's between-patient variability (CV of a log-normal, NONMEM's exponential model) of
#: the constants above that Valenzuela 2025 gave one; their central volume's (CV 15.0 %) has no
#: place here (the plasma volume replaces it) and their IgG parameters' belong to the IgG core.
NIPOCALIMAB_VARIABILITY: dict[str, tuple[float, str]] = {
    "fcrn_inhibitor_clearance_70kg_L_per_day": (0.241, f"{_TABLE3}: between-patient variability of CL, CV 24.1 %"),
    "fcrn_inhibitor_target_g_per_L": (0.25, f"{_TABLE3}: between-patient variability of FcRn0, CV 25.0 %"),
}
#: The FcRn inhibitors shipped with their constants: parameter -> (value, source) overrides of
#: the module's own values (efgartigimod's, so none).
SHIPPED_INHIBITORS: dict[str, dict[str, tuple[float, str]]] = {"efgartigimod": {}, "nipocalimab": NIPOCALIMAB}
#: ... and the between-patient variability of those constants (parameter -> (CV, source)): none is
#: known for efgartigimod's, which are assumptions (docs/comparators.md).
SHIPPED_VARIABILITY: dict[str, dict[str, tuple[float, str]]] = {"efgartigimod": {},
                                                                 "nipocalimab": NIPOCALIMAB_VARIABILITY}


NO_FCRN_INHIBITOR = Module(
    name="no_fcrn_inhibitor",
    title="No FcRn inhibitor",
    description="The FcRn inhibitor's place in a model without comparators (``ivigsim.model.library``): its "
                "occupancy of FcRn is 0, so ``ivigsim.model.fcrn`` rescues as it did before the comparators.",
    assignments=(Assignment("fcrn_inhibitor_occupancy", "0", "dimensionless",
                            "share of FcRn occupied by an FcRn inhibitor (none in this model)"),),
)
