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

Weakness appears where functional receptors ``F = R S`` fall below a muscle's safety
margin. The QMG items test different muscles (ocular, bulbar, limb, respiratory), whose
margins differ; taken log-logistic across muscles, the share of the 39 points lost is

    QMG = 39 / (1 + (F / F50) ** h)

with ``F50`` the content at which half the score is lost and ``h`` set so that the most
sensitive muscles begin to fail (QMG 1 point) at the safety margin. A patient's score is
therefore steepest in ``log F`` near mid-scale: a given fractional recovery of receptors buys
more points in a moderately or severely affected patient than in a mild one (the IVIG effect
grows with baseline severity, Zinman 2007; Katzberg 2012). MG-ADL (0-24) is 0.6 x QMG (an
assumption: a typical ratio of the two scales).

**Natural course.** Trial patients are enrolled during a worsening (or at their worst on
standard care), and part of what brought them in subsides: an exacerbation calms and
continued immunosuppression acts. This is modelled as a share ``e`` of the autoimmune drive at enrolment that fades with rate ``r``,

    autoimmune drive = 1 - e (1 - exp(-r t)),

so autoreactive B cells, then the autoantibody (weeks: IgG's half-life), then receptors and
endplate follow it down without IVIG: placebo arms improve over weeks to months. ``e`` = 0 is a
stable patient. That route cannot be fast (the autoantibody falls no faster than IgG is
catabolised), yet placebo arms also improve within days to weeks: the score at enrolment also
carries a reversible loss of transmission (an intercurrent trigger such as infection or heat,
fatigue, symptomatic treatment being adjusted, a score recorded at a peak of a fluctuating
disease: regression to the mean), a share ``f`` of transmission recovered with rate ``r_f``:

    transmission = F (1 - f exp(-r_f t)),     QMG read from transmission instead of F.
"""

from __future__ import annotations

from types import MappingProxyType

from ivigsim.model.declaration import Assignment, Flux, Module, Parameter, State
from ivigsim.model.diseases import Disease, Readout

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
                  "(the neuromuscular safety factor): there the most sensitive muscles fail, QMG 1 point",
                  (0.2, 0.95), "receptor content at which weakness begins (QMG 1 of 39)"),
        Parameter("achr_half_score_fraction", 0.3, "dimensionless", "assumption",
                  "assumption: half the QMG score is lost when functional AChR is about 30 % of normal (receptor "
                  "content at myasthenic endplates is commonly a third of normal or less in generalised disease)",
                  (0.05, 0.6), "functional receptor content at which half the QMG score (19.5) is lost"),
        Parameter("mg_exacerbation_share", 0.6, "dimensionless", "calibrated",
                  "calibrated to Bril 2025 (calibration-targets s.12.1): QMG change at week 24 of -3.1 on placebo "
                  "plus standard care (examples/trials/mg-bril-2025.yaml; docs/diseases.md)", (0.0, 1.0),
                  "share of the autoimmune drive at enrolment that subsides without IVIG (0: a stable patient)",
                  variability_scale="logit"),
        Parameter("mg_fluctuation_share", 0.05, "dimensionless", "assumption",
                  "assumption: a twentieth of neuromuscular transmission is lost at enrolment to reversible "
                  "factors (about 2 QMG points at a QMG of 12-15, of the order of the score's test-retest variation)",
                  (0.0, 1.0), "share of transmission lost at enrolment to reversible, non-immune factors",
                  variability_scale="logit"),
        Parameter("mg_fluctuation_recovery_per_day", 0.25, "1/day", "assumption",
                  "assumption: a trigger passes and symptomatic treatment is adjusted within days (time constant "
                  "4 days)", (0.01, 5.0), "rate at which the reversible loss of transmission recovers"),
        Parameter("mg_exacerbation_resolution_per_day", 0.05, "1/day", "assumption",
                  "assumption: a worsening subsides over weeks on standard care (half-life about two weeks); "
                  "checked, not fitted, against the ADAPT placebo responders (calibration-targets s.12.1)",
                  (0.001, 1.0), "rate at which the excess drive of enrolment fades"),
        Parameter("achr_antibody_k", 0.0223, "dimensionless", "calibrated",
                  "calibrated in the joint fit and adopted (docs/calibration.md; 95 % 0.015-0.033) to Zinman 2007 "
                  "(QMG change vs placebo at day 14 of -1.60 after 2 g/kg), Bril 2025's placebo arm and ADAPT's "
                  "efgartigimod responders (s.12.6), mg_exacerbation_share held; before the fit 0.02 (a grid fit to "
                  "Zinman and Bril, docs/diseases.md)", (0.001, 100.0),
                  "autoantibody (relative to pretreatment) occupying half the receptors"),
        Parameter("achr_turnover_per_day", 0.235, "1/day", "calibrated",
                  "calibrated in the joint fit and adopted with achr_antibody_k (docs/calibration.md): how fast "
                  "receptors return once the antibody falls sets the response to efgartigimod (ADAPT, "
                  "calibration-targets s.12.6: 68 % MG-ADL responders) and to IVIG (Zinman 2007); a half-life "
                  "of about 3 days. Not identified by the targets alone (Laplace interval the declared bounds, "
                  "profile flat across the search box), so since then held in the joint calibration "
                  "(validation.joint.HELD); before the fit 0.1/day (about a week), an assumption", (0.01, 2.0),
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
        Assignment("autoimmune_drive",
                   "1 - mg_exacerbation_share * (1 - exp(-mg_exacerbation_resolution_per_day * t))",
                   "dimensionless", "the drive of enrolment, its exacerbation share fading (natural course)"),
        Assignment("inflammatory_drive", "1", "dimensionless"),
        Assignment("complement_drive", "1", "dimensionless"),
        Assignment("achr_antibody_occupancy_fraction_of_baseline",
                   "autoantibody_fraction_of_baseline * (1 + achr_antibody_k)"
                   " / (autoantibody_fraction_of_baseline + achr_antibody_k)",
                   "dimensionless", "receptors occupied by autoantibody relative to before treatment",
                   output=True),
        Assignment("qmg_steepness", "log(38) / log(achr_safety_margin / achr_half_score_fraction)",
                   "dimensionless", "spread of safety margins across muscles: QMG is 1 point at the safety margin"),
        Assignment("achr_functional_baseline",
                   "min(0.99, achr_half_score_fraction * (39 / qmg_baseline - 1) ** (1 / qmg_steepness)"
                   " / max(0.01, 1 - mg_fluctuation_share))", "dimensionless",
                   "functional receptors before treatment, from the QMG score (the readout inverted)"),
        Assignment("neuromuscular_transmission_fraction",
                   "achr_functional_fraction * (1 - mg_fluctuation_share * exp(-mg_fluctuation_recovery_per_day * t))",
                   "dimensionless", "effective transmission relative to normal: receptors less the reversible loss",
                   output=True),
        Assignment("achr_modulation_per_day",
                   "achr_turnover_per_day * (1 - sqrt(achr_functional_baseline)) / sqrt(achr_functional_baseline)",
                   "1/day", "modulation rate that holds the pretreatment receptor density"),
        Assignment("endplate_lysis_per_day",
                   "endplate_repair_per_day * (1 - sqrt(achr_functional_baseline)) / sqrt(achr_functional_baseline)",
                   "1/day", "complement lysis rate that holds the pretreatment membrane"),
        Assignment("achr_functional_fraction", "achr_on_membrane * endplate_membrane", "dimensionless",
                   "functional acetylcholine receptors relative to normal", output=True),
        Assignment("qmg_score",
                   "39 / (1 + (max(neuromuscular_transmission_fraction, 1e-9) / achr_half_score_fraction)"
                   " ** qmg_steepness)",
                   "dimensionless", "quantitative MG score (0-39): the share of muscles below their safety margin",
                   output=True),
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
    readouts=(Readout("qmg_score", "QMG score", (0.0, 39.0), endpoint_day=14.0, clipped=MappingProxyType({
                  "achr_functional_fraction": (0.0, 1.0), "achr_on_membrane": (0.0, 1.0),
                  "endplate_membrane": (0.0, 1.0)})),
              Readout("mg_adl_score", "MG-ADL score", (0.0, 24.0),
                      clipped=MappingProxyType({"achr_functional_fraction": (0.0, 1.0)}))),
    variability=MappingProxyType({"endplate_repair_per_day": 0.5, "achr_turnover_per_day": 0.3,
                                  "achr_antibody_k": 0.5, "mg_exacerbation_share": 1.0,
                                  "mg_fluctuation_share": 1.0}),
    variability_sources=MappingProxyType({
        "endplate_repair_per_day": "assumption: endplate repair varies between patients (CV 50 %)",
        "achr_turnover_per_day": "assumption: receptor turnover varies between patients (CV 30 %)",
        "achr_antibody_k": "assumption: antibody titre relative to receptor saturation varies (CV 50 %)",
        "mg_fluctuation_share": "assumption: omega 1.0 on the logit scale: the reversible part differs "
        "between patients (10th-90th centiles about 0.014-0.16 of transmission)",
        "mg_exacerbation_share": "assumption: omega 1.0 on the logit scale (at the typical share of 0.6, 10th-90th "
        "centiles 0.29-0.84): some patients' worsening barely subsides in the trial's time, others' largely",
    }),
    defaults=MappingProxyType({"baseline_igg_g_per_L": 0.78 * 11.4}),
    default_sources=MappingProxyType({
        "baseline_igg_g_per_L": "Valenzuela 2025: baseline IgG about 0.78x the healthy 11.4 g/L in generalised MG",
    }),
)
