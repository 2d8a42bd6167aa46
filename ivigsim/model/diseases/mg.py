"""Myasthenia gravis (MG): antibodies and complement take acetylcholine receptors away.

Two ways, at two speeds (both relative to normal, 1):

- **antigenic modulation**: antibodies cross-link receptors, which are internalised
  faster; receptors are replaced at their turnover (about a week):
      dR/dt = k_R (1 - R) - k_mod x A x R
- **complement lysis**: complement destroys the postsynaptic folds (endplate
  simplification), which are rebuilt slowly:
      dS/dt = k_S (1 - S) - k_lyse x A x C x S

``C`` is the complement activity relative to before treatment and ``A`` the share of
receptors the autoantibody occupies, relative to before treatment. Patients' receptors
are largely antibody-bound (titres correlate poorly with severity), so occupancy is
saturable: ``A = a (1 + K) / (a + K)`` with ``a`` the free autoantibody relative to
baseline and ``K`` the antibody level giving half occupancy, in the same units. A fall
in autoantibody therefore takes receptors back less than in proportion. Functional receptor content is ``R x S``; the pretreatment deficit is split
equally (in log terms) between the two (an assumption), and ``k_mod``, ``k_lyse`` hold
the patient at the pretreatment content that their QMG score implies.

Weakness appears when functional receptors fall below the neuromuscular safety margin;
QMG (0-39) is taken proportional to the deficit beyond that margin,

    QMG = 39 x clip((margin - R S) / margin, 0, 1)

and MG-ADL (0-24) as 0.6 x QMG (an assumption: a typical ratio of the two scales).
"""

from __future__ import annotations

from types import MappingProxyType

from ivigsim.model.declaration import Assignment, Flux, Module, Parameter, State
from ivigsim.model.diseases import Disease

MG_MODULE = Module(
    name="mg",
    title="Myasthenia gravis",
    description=__doc__ or "",
    parameters=(
        Parameter("qmg_baseline", 14.0, "dimensionless", "baseline",
                  "patient characteristic: pretreatment QMG score (default: a worsening patient as in "
                  "Zinman 2007)", (0.5, 38.0), "QMG score before treatment (0-39)"),
        Parameter("achr_safety_margin", 0.7, "dimensionless", "assumption",
                  "assumption: transmission fails when functional AChR falls below about 70 % of normal "
                  "(the neuromuscular safety factor)", (0.2, 0.95), "receptor content at which weakness begins"),
        Parameter("achr_antibody_k", 0.2, "dimensionless", "calibrated",
                  "calibrated to Zinman 2007: QMG change vs placebo at day 14 of -1.60 after 2 g/kg "
                  "(docs/diseases.md)", (0.001, 100.0),
                  "autoantibody (relative to pretreatment) occupying half the receptors"),
        Parameter("achr_turnover_per_day", 0.1, "1/day", "assumption",
                  "assumption: junctional AChR replaced with a half-life of about a week", (0.01, 2.0),
                  "replacement rate of receptors"),
        Parameter("endplate_repair_per_day", 0.02, "1/day", "assumption",
                  "assumption: postsynaptic folds rebuilt over about a month (slower than receptors)",
                  (0.0005, 1.0), "rebuilding rate of postsynaptic folds"),
        Parameter("mg_adl_per_qmg", 0.6, "dimensionless", "assumption",
                  "assumption: MG-ADL is about 0.6 x QMG in the same patients", (0.2, 1.2),
                  "MG-ADL points per QMG point"),
    ),
    states=(
        State("achr_on_membrane", "dimensionless", "sqrt(achr_functional_baseline)",
              "AChR density on the remaining postsynaptic membrane, relative to normal"),
        State("endplate_membrane", "dimensionless", "sqrt(achr_functional_baseline)",
              "postsynaptic membrane (folds) relative to normal"),
    ),
    assignments=(
        Assignment("autoimmune_drive", "1", "dimensionless", "chronic MG: constant drive"),
        Assignment("inflammatory_drive", "1", "dimensionless"),
        Assignment("complement_drive", "1", "dimensionless"),
        Assignment("achr_antibody_occupancy_fraction_of_baseline",
                   "autoantibody_fraction_of_baseline * (1 + achr_antibody_k)"
                   " / (autoantibody_fraction_of_baseline + achr_antibody_k)",
                   "dimensionless", "receptors occupied by autoantibody relative to before treatment",
                   output=True),
        Assignment("achr_functional_baseline", "achr_safety_margin * (1 - qmg_baseline / 39)", "dimensionless"),
        Assignment("achr_modulation_per_day",
                   "achr_turnover_per_day * (1 - sqrt(achr_functional_baseline)) / sqrt(achr_functional_baseline)",
                   "1/day", "modulation rate that holds the pretreatment receptor density"),
        Assignment("endplate_lysis_per_day",
                   "endplate_repair_per_day * (1 - sqrt(achr_functional_baseline)) / sqrt(achr_functional_baseline)",
                   "1/day", "complement lysis rate that holds the pretreatment membrane"),
        Assignment("achr_functional_fraction", "achr_on_membrane * endplate_membrane", "dimensionless",
                   "functional acetylcholine receptors relative to normal", output=True),
        Assignment("qmg_score",
                   "39 * min(1, max(0, (achr_safety_margin - achr_functional_fraction) / achr_safety_margin))",
                   "dimensionless", "quantitative MG score (0-39)", output=True),
        Assignment("mg_adl_score", "min(24, mg_adl_per_qmg * qmg_score)", "dimensionless",
                   "MG activities of daily living (0-24)", output=True),
    ),
    fluxes=(
        Flux("achr_insertion", "achr_turnover_per_day", None, "achr_on_membrane"),
        Flux("achr_removal", "achr_turnover_per_day * achr_on_membrane", "achr_on_membrane", None),
        Flux("achr_modulation",
             "achr_modulation_per_day * achr_antibody_occupancy_fraction_of_baseline * achr_on_membrane",
             "achr_on_membrane", None, "antibody cross-linking and internalisation"),
        Flux("endplate_repair", "endplate_repair_per_day * (1 - endplate_membrane)", None, "endplate_membrane"),
        Flux("endplate_lysis",
             "endplate_lysis_per_day * achr_antibody_occupancy_fraction_of_baseline"
             " * complement_activity_fraction_of_baseline * endplate_membrane",
             "endplate_membrane", None, "complement attack on the postsynaptic folds"),
    ),
)

MG = Disease(
    name="mg",
    title="Myasthenia gravis",
    module=MG_MODULE,
    indication="mg",
    readouts=("qmg_score", "mg_adl_score"),
    variability=MappingProxyType({"endplate_repair_per_day": 0.5, "achr_turnover_per_day": 0.3,
                                  "achr_antibody_k": 0.5,
                                  "baseline_igg_g_per_L": 0.219}),
    variability_sources=MappingProxyType({
        "endplate_repair_per_day": "assumption: endplate repair varies between patients (CV 50 %)",
        "achr_turnover_per_day": "assumption: receptor turnover varies between patients (CV 30 %)",
        "achr_antibody_k": "assumption: antibody titre relative to receptor saturation varies (CV 50 %)",
        "baseline_igg_g_per_L": "Valenzuela 2025: between-subject CV 21.9 %",
    }),
    defaults=MappingProxyType({"baseline_igg_g_per_L": 0.78 * 11.4}),
    default_sources=MappingProxyType({
        "baseline_igg_g_per_L": "Valenzuela 2025: baseline IgG about 0.78x the healthy 11.4 g/L in generalised MG",
    }),
)
