"""Chronic inflammatory demyelinating polyneuropathy (CIDP): chronic immune demyelination.

A chronic drive sustains antibody-, complement- and macrophage-mediated attack on the
nerves. In some patients the drive fades (spontaneous remission, the source of placebo
responders). Nerve function is lost two ways: a share ``b`` of the pretreatment deficit
is conduction block, functional and reversible within days as the attack on the nodes
eases; the rest is demyelination ``D``, balanced by remyelination over weeks to months:

    drive = 1 - remission x (1 - exp(-t / remission_time))
    L = A x (complement + Fc-receptor activation + cytokine) / 3
    attack = s x drive + (1 - s) x L^h (1 + m^h) / (L^h + m^h)
    dB/dt = k_block (b x deficit_before x attack - B)
    dD/dt = k_injury x attack x (1 - D) - k_repair x D

``A`` is the free autoantibody; the three effector arms (complement, macrophage Fc
receptors, inflammatory cytokines) are weighted equally (an assumption) into the
antibody-effector load ``L`` (1 before treatment). The nerve takes that load with a
threshold: below a patient's own level ``m`` the node and Schwann cell absorb it (local
complement regulators, the conduction safety factor), above it the attack rises steeply
(Hill ``h``), so a patient whose IVIG holds ``L`` near ``m`` is IVIG-dependent: a smaller dose,
or the IgG decaying after the last one, tips the attack back. ``m`` varies between
patients, so the share held in remission rises with the dose and relapses after stopping
come at different times. A share ``s``
of the attack goes through routes IVIG does not reach (cytotoxic T cells; IgG4 antibodies
to nodal proteins, which neither fix complement nor engage Fc receptors well); it differs
widely between patients and is what makes some patients IVIG non-responders. ``k_injury``
holds the pretreatment state. Adjusted INCAT (0-10) is 10 x (B + D). IVIG lowers the
attack while the infused IgG lasts, so conduction block eases within days of a dose and
returns as the IgG falls: INCAT improves after loading and drifts back in the days before
each maintenance dose (wear-off), while demyelination repairs slowly underneath; a
patient relapses when treatment stops unless the drive has faded enough to keep ``L``
below the threshold, weeks to months after the last dose as the IVIG-derived IgG decays.
"""

from __future__ import annotations

from types import MappingProxyType

from ivigsim.model.declaration import Assignment, Flux, Module, Parameter, State
from ivigsim.model.diseases import Disease, Readout

CIDP_MODULE = Module(
    name="cidp",
    title="Chronic inflammatory demyelinating polyneuropathy",
    description=__doc__ or "",
    parameters=(
        Parameter("incat_baseline", 4.0, "dimensionless", "baseline",
                  "patient characteristic: adjusted INCAT score before treatment (ICE 2008 enrolled "
                  "scores of 2-9)", (0.5, 9.5), "adjusted INCAT before treatment (0-10)"),
        Parameter("cidp_remission", 0.0, "dimensionless", "assumption",
                  "assumption: by default the drive does not fade; virtual populations draw it (see the "
                  "placebo arm of ICE, docs/diseases.md)", (0.0, 1.0),
                  "share of the chronic drive that fades spontaneously", variability_scale="logit"),
        Parameter("cidp_ivig_insensitive_share", 0.68, "dimensionless", "calibrated",
                  "calibrated to Hughes 2008 (ICE): 54 % responders on IVIG, with the effector threshold and the "
                  "typical remission (also ICE's placebo arm and IMC's relapse after stopping; docs/diseases.md), with "
                  "logit-normal between-subject variability (omega 1.3) that makes some patients non-responders",
                  (0.0, 1.0), "share of the attack by routes IVIG does not reach", variability_scale="logit"),
        Parameter("cidp_remission_days", 15.0, "day", "assumption",
                  "assumption: a spontaneous improvement unfolds over two to four weeks", (1.0, 3650.0),
                  "time constant of spontaneous remission"),
        Parameter("cidp_conduction_block_share", 0.3, "dimensionless", "assumption",
                  "assumption: about a third of the deficit is reversible conduction block (the part "
                  "that improves within days of IVIG and wears off before the next dose)", (0.0, 0.9),
                  "share of the pretreatment deficit that is conduction block"),
        Parameter("conduction_block_turnover_per_day", 0.5, "1/day", "assumption",
                  "assumption: conduction block follows the attack within a few days (IVIG's effect is "
                  "seen within days, and wear-off in the last week before a dose)", (0.01, 10.0),
                  "rate at which conduction block follows the attack"),
        Parameter("remyelination_per_day", 0.025, "1/day", "calibrated",
                  "calibrated with the IVIG-insensitive share to Hughes 2008 (ICE): 54 % responders on IVIG "
                  "and 21 % on placebo (examples/trials/cidp-ice-2008.yaml; docs/diseases.md)", (0.001, 1.0), "repair rate of demyelinated nerve"),
        Parameter("cidp_effector_threshold", 0.34, "dimensionless", "calibrated",
                  "calibrated on a grid with cidp_ivig_insensitive_share and the typical remission to ICE (54 % and "
                  "21 % responders) and to the IMC trial's relapse after stopping a 6-month course (38.1 %, "
                  "calibration-targets s.12.2; examples/trials/cidp-imc-relapse-after-stopping.yaml; docs/diseases.md)",
                  (0.01, 1.0), "antibody-effector load (1 = before treatment) at which the IVIG-reachable attack is "
                  "at its threshold"),
        Parameter("cidp_effector_threshold_hill", 3.0, "dimensionless", "assumption",
                  "assumption: the attack rises steeply once the load passes the threshold (Hill 3: from half to "
                  "1.5 times the threshold, the reachable attack goes from 11 % to 77 % of its saturating level, "
                  "50 % at the threshold)", (0.5, 8.0), "steepness of the nerve's threshold"),
    ),
    states=(State("demyelination", "dimensionless", "(1 - cidp_conduction_block_share) * incat_baseline / 10",
                  "share of nerve function lost to demyelination"),
            State("conduction_block", "dimensionless", "cidp_conduction_block_share * incat_baseline / 10",
                  "share of nerve function lost to reversible conduction block")),
    assignments=(
        Assignment("autoimmune_drive",
                   "1 - cidp_remission * (1 - exp(-t / cidp_remission_days))", "dimensionless",
                   "chronic drive, fading in patients who remit"),
        Assignment("inflammatory_drive", "autoimmune_drive", "dimensionless"),
        Assignment("complement_drive", "autoimmune_drive", "dimensionless"),
        Assignment("demyelination_injury_per_day",
                   "remyelination_per_day * (1 - cidp_conduction_block_share) * incat_baseline"
                   " / (10 - (1 - cidp_conduction_block_share) * incat_baseline)", "1/day",
                   "injury rate that holds the pretreatment state"),
        Assignment("effector_load",
                   "max(0, autoantibody_fraction_of_baseline * (complement_activity_fraction_of_baseline"
                   " + fcgr_activation_fraction + cytokine_fraction_of_baseline) / 3)", "dimensionless",
                   "antibody-effector load on the nerves relative to before treatment", output=True),
        Assignment("demyelination_attack_fraction_of_baseline",
                   "cidp_ivig_insensitive_share * autoimmune_drive + (1 - cidp_ivig_insensitive_share)"
                   " * effector_load ** cidp_effector_threshold_hill"
                   " * (1 + cidp_effector_threshold ** cidp_effector_threshold_hill)"
                   " / (effector_load ** cidp_effector_threshold_hill"
                   " + cidp_effector_threshold ** cidp_effector_threshold_hill)",
                   "dimensionless", "immune attack on myelin relative to before treatment", output=True),
        Assignment("incat_score", "10 * min(1, demyelination + conduction_block)", "dimensionless",
                   "adjusted INCAT disability score (0-10)", output=True),
    ),
    fluxes=(
        Flux("demyelination_injury",
             "demyelination_injury_per_day * demyelination_attack_fraction_of_baseline * (1 - demyelination)",
             None, "demyelination"),
        Flux("remyelination", "remyelination_per_day * demyelination", "demyelination", None),
        Flux("conduction_block_onset",
             "conduction_block_turnover_per_day * cidp_conduction_block_share * incat_baseline / 10"
             " * demyelination_attack_fraction_of_baseline", None, "conduction_block",
             "nodal attack blocking conduction"),
        Flux("conduction_block_recovery", "conduction_block_turnover_per_day * conduction_block",
             "conduction_block", None, "conduction restored"),
    ),
)

CIDP = Disease(
    name="cidp",
    title="Chronic inflammatory demyelinating polyneuropathy",
    module=CIDP_MODULE,
    indication="cidp",
    readouts=(Readout("incat_score", "adjusted INCAT score", (0.0, 10.0), endpoint_day=42.0, clipped=MappingProxyType({
        "demyelination": (0.0, 1.0), "conduction_block": (0.0, 1.0)})),),
    variability=MappingProxyType({"remyelination_per_day": 0.6, "cidp_ivig_insensitive_share": 1.3,
                                  "cidp_effector_threshold": 0.5}),
    variability_sources=MappingProxyType({
        "remyelination_per_day": "assumption: repair varies widely between patients (CV 60 %)",
        "cidp_ivig_insensitive_share": "assumption: omega 1.3 on the logit scale (responders and non-responders; "
        "10th-90th centiles 0.30-0.92 around 0.7): the logit-normal closest, by quantiles, to the patients the "
        "earlier log-normal CV of 100 % kept in bounds, without excluding the third of candidates it put above 1",
        "cidp_effector_threshold": "assumption: CV 50 % (log-normal): IVIG-dependent patients are held stable on "
        "individual regimens that differ several-fold (20-80 g every 14-35 days; Kuitwaard 2021, calibration-targets "
        "s.12.2)",
    }),
)
