"""The shared immune state that mechanisms act on and diseases read.

All immune quantities are relative to the patient's own pretreatment level (1 =
baseline), except the Treg share, which is a fraction of CD4 T cells. Diseases set
the *drives* (``autoimmune_drive``, ``inflammatory_drive``, ``complement_drive``:
1 = the pretreatment steady state, changing with the disease's natural history);
mechanisms set the *effects* of IVIG on them.

- **Autoreactive B cells** (``b_cell_activity``): activation and proliferation of the
  B cells and short-lived plasmablasts that make the autoantibody. They follow the
  autoimmune drive, restrained by Tregs and inhibited by IVIG, with a turnover of about
  a week, so autoantibody production responds with a delay.
- **Regulatory T cells** (``treg_fraction_of_cd4``): relax towards their baseline
  share, expanded by IVIG. Their restraint on B cells and inflammation scales as
  (baseline share / current share) ** ``treg_suppression_exponent``.
- **Inflammatory cytokines** (``cytokine_activity``): produced in proportion to the
  inflammatory drive, restrained by Tregs, with a fast turnover; the bioactive share
  is what IVIG has not neutralised.
- **Complement**: activity follows the complement drive, less what IVIG scavenges, times the
  plasma level of the complement proteins (``complement_plasma_level``: 1 unless a plasma
  exchange has removed them, ``ivigsim.model.comparators.plasma_exchange``).
"""

from __future__ import annotations

from ivigsim.model.declaration import Assignment, Flux, Module, Parameter, State

def _relaxation(prefix: str, state: str, rate: str, target: str) -> tuple[Flux, Flux]:
    """``d state/dt = rate (target - state)``, written as production and loss so each is a
    flux of the state (and an SBML reaction)."""
    return (Flux(f"{prefix}_renewal", f"{rate} * {target}", None, state),
            Flux(f"{prefix}_loss", f"{rate} * {state}", state, None))


IMMUNE_STATE = Module(
    name="immune",
    title="Shared immune state",
    description=__doc__ or "",
    parameters=(
        Parameter("b_cell_turnover_per_day", 0.1, "1/day", "assumption",
                  "assumption: autoreactive B-cell/plasmablast pool renewed over about a week",
                  (0.01, 5.0), "rate at which B-cell activity follows its drive"),
        Parameter("treg_baseline_fraction", 0.073, "dimensionless", "source",
                  "Treg share of CD4 T cells in health: 7.3 % (the 20 healthy controls of a Kawasaki disease "
                  "cohort, Eur J Pediatr 2013;172(6):833, PMID 23340699; calibration-targets s.3); diseases "
                  "set their own",
                  (0.005, 0.5), "pretreatment Treg share of CD4 T cells"),
        Parameter("treg_turnover_per_day", 0.25, "1/day", "assumption",
                  "assumption: Treg numbers follow a stimulus over days (expansion seen by day 7)",
                  (0.01, 5.0), "rate at which the Treg share follows its target"),
        Parameter("treg_suppression_exponent", 0.5, "dimensionless", "assumption",
                  "assumption: doubling Tregs lowers the drive on B cells and inflammation by 29 %",
                  (0.0, 3.0), "strength of Treg restraint"),
        Parameter("cytokine_turnover_per_day", 2.0, "1/day", "assumption",
                  "assumption: cytokine output tracks cellular activation within about a day "
                  "(IL-6 falls quickly after IVIG in Kawasaki disease, Wang 2013; Li 2019)",
                  (0.1, 50.0), "rate at which cytokine activity follows its drive"),
    ),
    states=(
        State("b_cell_activity", "dimensionless", "1", "autoreactive B-cell activity relative to baseline"),
        State("treg_fraction_of_cd4", "dimensionless", "treg_baseline_fraction", "Treg share of CD4 T cells"),
        State("cytokine_activity", "dimensionless", "1", "inflammatory cytokine production relative to baseline"),
    ),
    assignments=(
        Assignment("treg_restraint", "(treg_baseline_fraction / treg_fraction_of_cd4) ** treg_suppression_exponent",
                   "dimensionless", "Treg restraint on effector drives (1 at baseline, < 1 when Tregs expand)"),
        Assignment("b_cell_target", "autoimmune_drive * treg_restraint * (1 - b_cell_inhibition)", "dimensionless"),
        Assignment("treg_target", "treg_baseline_fraction * (1 + treg_expansion)", "dimensionless"),
        Assignment("cytokine_target", "inflammatory_drive * treg_restraint", "dimensionless"),
        Assignment("b_cell_activity_fraction_of_baseline", "b_cell_activity", "dimensionless",
                   "autoreactive B-cell activity relative to baseline", output=True),
        Assignment("treg_pct_of_cd4", "100 * treg_fraction_of_cd4", "dimensionless",
                   "Treg share of CD4 T cells, per cent", output=True),
        Assignment("cytokine_fraction_of_baseline", "cytokine_activity * (1 - cytokine_neutralised_fraction)",
                   "dimensionless", "bioactive inflammatory cytokine relative to baseline", output=True),
        Assignment("complement_activity_fraction_of_baseline",
                   "complement_drive * (1 - complement_scavenged_fraction) * complement_plasma_level", "dimensionless",
                   "complement deposition (C3b/C4b) relative to baseline", output=True),
    ),
    fluxes=(
        *_relaxation("b_cell", "b_cell_activity", "b_cell_turnover_per_day", "b_cell_target"),
        *_relaxation("treg", "treg_fraction_of_cd4", "treg_turnover_per_day", "treg_target"),
        *_relaxation("cytokine", "cytokine_activity", "cytokine_turnover_per_day", "cytokine_target"),
    ),
)
