"""Disease targets (calibration-targets s.4-8), each reproduced by a shipped trial file.

A target reads one endpoint estimate of one arm of a trial in ``examples/trials/``, or the
difference between two arms (the trials are paired: every arm treats the same virtual
patients, so a difference and its interval come from the per-patient differences). Fractions
are reported in per cent, as the publications do.

``fast`` runs each trial with at most ``FAST_SIZE`` patients per arm (the test suite and
``ivigsim validate --fast``); the simulated 95 % intervals are then wider, and the verdicts,
which allow for that Monte Carlo error, correspondingly less sharp.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from ivigsim.errors import InputError
from ivigsim.validation.targets import Target

#: Where the shipped trial files live in a checkout (the package is installed editable).
TRIALS = Path(__file__).resolve().parents[2] / "examples" / "trials"
#: Patients per arm for the quick run in the test suite (the files' own sizes for the full run).
FAST_SIZE = 300


@dataclass(frozen=True)
class TrialReadout:
    trial: str  # file name in examples/trials
    arm: str
    endpoint: str
    statistic: str  # fraction, mean, median, median_time_day, ...
    minus_arm: str | None = None  # report arm - minus_arm
    #: Arms pooled with ``arm`` (a figure published across arms of equal size): their mean.
    pooled_with: tuple[str, ...] = ()
    #: Read the trial's own contrast of ``arm`` against this reference arm (the file must declare
    #: it); ``statistic`` then names the contrast's measure (risk_ratio, odds_ratio, ...).
    contrast_with: str | None = None

    def estimate(self, summary: dict, patients=None) -> tuple[float, float, float]:
        """(estimate, lower, upper) of the 95 % interval. A difference between arms takes its
        interval from the paired per-patient differences (``patients``: the trial's table); arms
        pooled give the mean of their estimates and of their bounds (equal sizes; the bounds of
        a mean of independent arms are narrower: a conservative interval). Statistics ``cv`` and
        ``sd``: the between-patient coefficient of variation (per cent) or SD of the endpoint,
        from the patients' table (``between_patient_cv``, ``between_patient_sd``)."""
        if self.statistic in ("cv", "sd"):
            values = patients.loc[patients["arm"] == self.arm, self.endpoint].dropna().to_numpy()
            return between_patient_cv(values) if self.statistic == "cv" else between_patient_sd(values)
        def arm_estimate(arm_name: str) -> dict:
            arm = next(a for a in summary["arms"] if a["arm"] == arm_name)
            return arm["endpoints"][self.endpoint]["estimates"][self.statistic]

        if self.contrast_with is not None:
            c = next(c for c in summary["contrasts"] if (c["endpoint"], c["arm"], c["reference"])
                     == (self.endpoint, self.arm, self.contrast_with))["estimates"][self.statistic]
            return c["estimate"], c["lower"], c["upper"]
        scale = 100.0 if self.statistic in ("fraction", "fraction_with_event") else 1.0
        if self.pooled_with:
            each = [arm_estimate(a) for a in (self.arm, *self.pooled_with)]
            return tuple(scale * sum(e[k] for e in each) / len(each) for k in ("estimate", "lower", "upper"))
        e = arm_estimate(self.arm)
        if self.minus_arm is None:
            return tuple(scale * e[k] if e[k] is not None else float("nan") for k in ("estimate", "lower", "upper"))
        v = e["estimate"] - arm_estimate(self.minus_arm)["estimate"]
        if patients is None or self.statistic != "mean":
            return scale * v, float("nan"), float("nan")
        from ivigsim.trial.statistics import mean_t

        by_arm = {a: patients[patients["arm"] == a].set_index("patient")[self.endpoint] for a in (self.arm, self.minus_arm)}
        d = mean_t((by_arm[self.arm] - by_arm[self.minus_arm]).dropna().to_numpy())
        return scale * v, scale * d.lower, scale * d.upper


def between_patient_cv(values) -> tuple[float, float, float]:
    """The coefficient of variation (SD / mean, per cent) of per-patient ``values`` and its 95 %
    interval: the SD by the large-sample standard error of a CV for roughly normal data,
    CV x sqrt(1 / (2n) + CV^2 / n) (McKay 1932; Vangel 1996, Am Stat 50(1):21)."""
    import numpy as np

    v = np.asarray(values, dtype=float)
    n = len(v)
    cv = float(np.std(v, ddof=1) / np.mean(v))
    se = cv * math.sqrt(1.0 / (2 * n) + cv**2 / n)
    return 100 * cv, 100 * max(cv - 1.959964 * se, 0.0), 100 * (cv + 1.959964 * se)


def between_patient_sd(values) -> tuple[float, float, float]:
    """The SD of per-patient ``values`` and its 95 % interval from the chi-square distribution of
    (n - 1) s^2 / sigma^2 (normal data)."""
    import numpy as np
    from scipy.stats import chi2

    v = np.asarray(values, dtype=float)
    n = len(v)
    sd = float(np.std(v, ddof=1))
    return sd, sd * math.sqrt((n - 1) / chi2.ppf(0.975, n - 1)), sd * math.sqrt((n - 1) / chi2.ppf(0.025, n - 1))


def _t(id, quantity, published, unit, source, role, readout, kind="level", interval=None, note="", gap="",
       counts=None, by_construction=""):
    return Target(id, quantity, published, unit, source, "abstract", role, kind, interval, note, gap, counts,
                  by_construction), readout


ROBAK = "Robak et al. 2009, Hematology 14(4):227, PMID 19635187"
ROBAK_ASH = "Robak et al., ASH 2007 abstract of the same trial (secondary)"
GODEAU = "Godeau et al. 1999, Br J Haematol 107(4):716"
ZINMAN = "Zinman et al. 2007, Neurology 68(11):837, PMID 17353471"
VDM = "van der Meche & Schmitz 1992, N Engl J Med 326(17):1123, PMID 1552913"
VAN_DOORN = "van Doorn et al. 2010, J Clin Immunol 30 Suppl 1:S74"
ICE = "Hughes et al. 2008 (ICE), Lancet Neurol 7(2):136, PMID 18178525"
ADRICHEM = "Adrichem et al. 2022, Brain 145(5):1641-1652, PMID 35139161"
IMC = ("IMC trial (IVIG vs IV methylprednisolone), as restated in Nobile-Orazio et al., J Neurol Neurosurg "
       "Psychiatry, PMID 25246645 (secondary)")
KUITWAARD_2021 = "Kuitwaard et al. 2021, Eur J Neurol"
CIDP_TAPER = "Standardised tapering off SCIG in CIDP, J Neuromuscul Dis, doi:10.3233/JND-221615 (authors not shown)"
_CIDP_TAPER_GAP = (
    "the model's stable patients depend too little on their maintenance dose: cut to 75 % (and 50 %) of 1 g/kg every "
    "3 weeks, almost none worsens by an INCAT point, and about two thirds stay stable off treatment. IVIG's effector "
    "effects are half-maximal at 20-30 g/L, far above maintenance troughs (4-11 g/L), so the antibody-effector load "
    "moves only about 15 % for a 25 % dose cut, and the threshold (cidp_effector_threshold, CV 50 %) turns that into "
    "relapses only for the few patients sitting on it. The study's patients had been on long-term, individually "
    "titrated immunoglobulin (enriched for dependence; the model's are 26-week responders on a fixed 1 g/kg), and its "
    "relapse (disability score or grip strength) is more sensitive than a whole INCAT point. Not tuned")
NEWBURGER = "Newburger et al. 1986, N Engl J Med 315(6):341, PMID 2426590"
MCCRINDLE = "McCrindle et al. 2017, Circulation 135:e927"
EGAMI = ("Egami et al. 2006, J Pediatr 149(2):237-40, PMID 16887442; by stratum derived in calibration-targets "
         "s.12.4 from its sensitivity and specificity")
TORONTO = "J Pediatr 1993;123(6):989-95, PMID 8229536 (Toronto trial)"
TIKI = "Heitink-Polle et al. 2018 (TIKI), Blood 132(9):883"
_CHILD_ITP = "itp-childhood-tiki-toronto.yaml"
CHILD_2003 = "J Pediatr Hematol Oncol 2003;25(10):797-800 (authors not shown; calibration-targets s.12.2)"
ACTA_1996 = "Acta Paediatr 1996;85:910-915, doi:10.1111/j.1651-2227.1996.tb14183.x (authors not shown)"
J_PEDIATR_1985 = "J Pediatr 1985;106(6):886-90, PMID 2582107 (authors not shown)"
_CHILD_DOSE = "itp-childhood-dose-response.yaml"
KURLANDER = "Kurlander et al. 1987, Am J Med 83(4A):17-24, PMID 3118704 (calibration-targets s.12.2)"
_KURLANDER_FILE = "itp-kurlander-1987.yaml"
KUITWAARD_2013 = "Kuitwaard et al. 2013, J Neurol Neurosurg Psychiatry 84(8):859 (calibration-targets s.12.7)"
_KUITWAARD_2013_FILE = "cidp-kuitwaard-2013-igg-variability.yaml"
_KUITWAARD_2013_ARM = "1 g/kg every 3 weeks"
BRIL = "Bril et al. 2025, Muscle Nerve 71(1):43-54, PMID 39506903"
ADAPT = ("Howard et al. 2021 (ADAPT), Lancet Neurol 20:526-36; figures from trial summaries and conference "
         "abstracts (secondary)")

_ADAPT_FILE = "mg-adapt-2021.yaml"
VIVACITY = "Vivacity-MG (NCT03772587), trial summary and sponsor press release (calibration-targets s.12.6; secondary)"
_VIVACITY_FILE = "mg-vivacity-2021.yaml"
_VIVACITY_ARMS = ("nipocalimab 5 mg/kg q4w", "nipocalimab 30 mg/kg q4w", "nipocalimab 60 mg/kg q4w",
                  "nipocalimab 60 mg/kg q2w")
_ADAPT_EFG = "efgartigimod 10 mg/kg weekly x 4"
FRENCH_1987 = ("French Cooperative Group on Plasma Exchange in GBS 1987, Ann Neurol 22(6), doi:10.1002/ana.410220612 "
               "(figures from a JNNP review table; secondary)")
GBS_SG_1985 = ("Guillain-Barre Syndrome Study Group 1985, Neurology 35(8):1096-104, PMID 4022342 (percentages from a "
               "JNNP review table; secondary)")
_GBS_PLEX_FILE = "gbs-plasma-exchange-vs-ivig.yaml"
_BARTH_FILE = "mg-barth-2011-ivig-vs-plex.yaml"
BARTH = "Barth et al. 2011, Neurology (volume/page not shown in the stored copy)"
MG_ONSET = "Artif Organs 2001;25(12):967-73, PMID 11843764 (authors not shown)"
_GBS_PLEX_ARM = "plasma exchange 4 x 2 PV"
_GBS_NOTE = ("s.12.6; no counts restated: +/-10 points; both trials' arms are read on the one simulated arm (the French "
             "schedule, 4 exchanges of 2 plasma volumes, and van der Meche's population, unable to walk)")

BUSSEL_2007 = "Bussel et al. 2007, N Engl J Med 357(22) (eltrombopag trial, placebo arm; calibration-targets s.12.1)"
KUTER_2008 = ("Kuter et al. 2008, Lancet 371(9610):395-403, PMID 18242413 (romiplostim trials, placebo arms; counts as "
              "reproduced in product information; calibration-targets s.12.1)")
_ITP_PLACEBO_FILE = "itp-chronic-placebo.yaml"
_ITP_NO_COURSE = ("the model's adult ITP has no course of its own: untreated, each virtual patient's count stays at "
                  "its entry value (production and antibody-driven clearance in balance), so no placebo patient "
                  "reaches 50. Real counts fluctuate from visit to visit, entry on a low count is followed by "
                  "regression to the mean, and some adults remit; the model carries none of these (no "
                  "within-patient fluctuation, no adult remission). Not tuned")
VERBOON_2021 = ("Verboon et al. 2021, J Neurol Neurosurg Psychiatry 92(10):1080-1088, PMID 34103340 (IGOS, mild GBS; "
                "calibration-targets s.12.1)")
_VERBOON_FILE = "gbs-verboon-2021-mild.yaml"
_VERBOON_READING = ("full strength read as nearest grade 1 or better (score < 1.5) from entry at grade 2 (an "
                    "assumption: the cohort measured strength by the MRC sum score; at grade 0 most virtual patients "
                    "take over a year)")
COCHRANE_PE = ("Chevret, Hughes & Annane 2017, Cochrane CD001798.pub3 (3 trials, 349 patients; calibration-targets "
               "s.12.6)")

_CHILD_VOLUME = ("since the plasma volume follows the BMI (Lemmens 2006, docs/model.md), a child's dose per kilogram "
                 "meets about a sixth more plasma than an adult's (children do have more plasma per kilogram: Cheng "
                 "2025's children, 51 mL/kg), so the same g/kg reaches lower IgG and blocks fewer Fc receptors; the "
                 "childhood model's response rests on the adult ITP receptor parameters, which were not re-fitted "
                 "(their block's estimate worsened its targets alone), and falls below this figure, which it met "
                 "before. Not tuned")

_TTR_PLATEAU = ("the trial's figures imply a plateau: 43 % respond within a day, yet only 50 % by day 2.5 and 81 % "
             "by day 7, so almost no one responds on day 2. The model reproduces the 43 % (about 50 %) and the "
             "day-7 rate, but its patients vary continuously (production, receptor affinity), so its responses "
             "keep coming on day 2 and the median falls at 1-1.25 days. A separate slow-responding group (for "
             "example marrow suppression by antibodies to megakaryocytes) would be needed. Not tuned")

_PAIRS = (
    _t("itp-response-day7", "response (platelets >= 50) by day 7 after 1 g/kg/day x 2", 80.7, "%", ROBAK,
       "calibration", TrialReadout("itp-robak-2009.yaml", "IVIG 1 g/kg x 2", "response_by_day7", "fraction"),
       kind="rate", interval=(69.0, 89.0), note="phagocytosis_cooperativity fitted (with the day-8 median)"),
    _t("itp-platelets-day8", "median platelet count on day 8 (its highest)", 149.0, "10^9/L", ROBAK_ASH,
       "calibration", TrialReadout("itp-robak-2009.yaml", "IVIG 1 g/kg x 2", "platelets_day8", "median")),
    _t("itp-time-to-response", "median time to response", 2.5, "day", ROBAK_ASH, "check",
       TrialReadout("itp-robak-2009.yaml", "IVIG 1 g/kg x 2", "days_to_response", "median_time_day"), gap=_TTR_PLATEAU),
    _t("itp-response-within-1-day", "responded within 1 day", 43.0, "%", ROBAK_ASH, "check",
       TrialReadout("itp-robak-2009.yaml", "IVIG 1 g/kg x 2", "response_within_day1", "fraction"), kind="rate"),
    _t("itp-response-duration", "median duration of response (platelets >= 50) among responders", 15.4, "day",
       ROBAK_ASH, "calibration", TrialReadout("itp-robak-2009.yaml", "IVIG 1 g/kg x 2", "response_duration", "median"),
       note="megakaryocyte_tpo_share fitted: thrombopoietin feedback ends responses before the blockade is gone"),
    _t("itp-godeau-response-0.5", "day-4 response (> 80 and >= 2x baseline) after 0.5 g/kg", 21.1, "%", GODEAU,
       "check", TrialReadout("itp-godeau-1999.yaml", "0.5 g/kg", "response_day4", "fraction"), kind="rate",
       counts=(4, 19), note="4/19; interval: Wilson 95 % from the counts"),
    _t("itp-godeau-response-1", "day-4 response (> 80 and >= 2x baseline) after 1 g/kg", 66.7, "%", GODEAU,
       "check", TrialReadout("itp-godeau-1999.yaml", "1 g/kg", "response_day4", "fraction"), kind="rate",
       counts=(12, 18), note="12/18; interval: Wilson 95 % from the counts"),
    _t("itp-godeau-rise-day3-0.5", "mean rise in platelets on day 3 after 0.5 g/kg", 50.0, "10^9/L", GODEAU,
       "check", TrialReadout("itp-godeau-1999.yaml", "0.5 g/kg", "rise_day3", "mean")),
    _t("itp-godeau-rise-day3-1", "mean rise in platelets on day 3 after 1 g/kg", 92.0, "10^9/L", GODEAU,
       "check", TrialReadout("itp-godeau-1999.yaml", "1 g/kg", "rise_day3", "mean"),
       gap="the model's adults rise by about 115 x 10^9/L (107 before the plasma volume followed the BMI): the "
           "trial file's adults (the default population, BMI about 29.5) have about 14 % less plasma per kilogram "
           "than at the reference BMI, so 1 g/kg reaches higher IgG and blocks more receptors by day 3; the ITP "
           "receptor parameters were not re-fitted for it (their block's estimate, moved alone, worsened its "
           "targets). The 0.5 g/kg rise and the day-4 rises still pass. Not tuned"),
    _t("itp-godeau-rise-day4-0.5", "mean rise in platelets on day 4 after 0.5 g/kg", 55.0, "10^9/L", GODEAU,
       "check", TrialReadout("itp-godeau-1999.yaml", "0.5 g/kg", "rise_day4", "mean")),
    _t("itp-godeau-rise-day4-1", "mean rise in platelets on day 4 after 1 g/kg", 106.0, "10^9/L", GODEAU,
       "check", TrialReadout("itp-godeau-1999.yaml", "1 g/kg", "rise_day4", "mean")),
    _t("mg-qmg-vs-placebo-day14", "QMG change vs placebo at day 14 after 2 g/kg", -1.60, "points", ZINMAN,
       "calibration", TrialReadout("mg-zinman-2007.yaml", "IVIG 2 g/kg", "qmg_change_day14", "mean", "placebo"),
       interval=(-3.23, 0.03), note="achr_antibody_k fitted"),
    _t("mg-benefit-day28", "QMG change vs placebo at day 28 (benefit lasting)", -1.60, "points", ZINMAN, "check",
       TrialReadout("mg-zinman-2007.yaml", "IVIG 2 g/kg", "qmg_change_day28", "mean", "placebo"),
       interval=(None, 0.0), note="the trial reports benefit lasting to day 28: one-sided, accepted if at most 0"),
    _t("mg-placebo-week24", "QMG change at week 24 on placebo plus standard care (natural course)", -3.1, "points",
       BRIL, "calibration", TrialReadout("mg-bril-2025.yaml", "placebo", "qmg_change_week24", "mean"),
       note="s.12.1; mg_exacerbation_share fitted (the share of the drive at enrolment that subsides)"),
    _t("mg-ivig-week24", "QMG change at week 24 on IVIG 2 g/kg then 1 g/kg every 3 weeks", -5.1, "points", BRIL,
       "check", TrialReadout("mg-bril-2025.yaml", "IVIG load and maintenance", "qmg_change_week24", "mean"),
       note="s.12.1; p = 0.187 against placebo",
       gap="the model's IVIG arm improves by about 8 points, against 5.1: with maintenance every 3 weeks the "
           "model keeps complement scavenged and the autoantibody lowered for 24 weeks, so its benefit over placebo "
           "(about -4.7) is more than twice Bril's -2.0 (not significant). The mechanisms' strengths are assumptions "
           "(docs/mechanisms.md) and Zinman's day-14 difference barely constrains achr_antibody_k; not tuned"),
    (Target("mg-adapt-placebo-responders", "MG-ADL responders (>= 2 points better, held >= 4 weeks) on placebo, "
            "AChR-antibody positive", 30.0, "%", ADAPT, "secondary", "check", "rate", counts=(19, 63),
            note="s.12.1; read as at least 2 points better at every day of weeks 4-8; 19/63 derived (30 % of the 63 "
                 "AChR+ placebo patients of the s.12.6 row's 7/63); the fluctuation and exacerbation parameters "
                 "were not fitted to it"),
     TrialReadout(_ADAPT_FILE, "placebo", "mg_adl_responder", "fraction")),
    (Target("mg-adapt-efgartigimod-responders", "MG-ADL responders (>= 2 points better, held >= 4 weeks) on "
            "efgartigimod 10 mg/kg weekly x 4, AChR-antibody positive", 68.0, "%", ADAPT, "secondary", "calibration",
            "rate", counts=(44, 65),
            note="s.12.6; read as at least 2 points better at every day of weeks 4-8; 44/65 derived (68 % of the 65 "
                 "AChR+ patients of the same row's 26/65); fitted with Zinman's and Bril's MG figures: "
                 "achr_antibody_k, achr_turnover_per_day and the inhibitor's affinity"),
     TrialReadout(_ADAPT_FILE, _ADAPT_EFG, "mg_adl_responder", "fraction")),
    (Target("mg-adapt-efgartigimod-qmg-responders", "QMG responders (>= 3 points better, held >= 4 weeks) on "
            "efgartigimod, AChR-antibody positive", 63.0, "%", ADAPT, "secondary", "check", "rate",
            note="s.12.6; read as at least 3 points better at every day of weeks 4-8; no counts restated: +/-10 "
                 "points"),
     TrialReadout(_ADAPT_FILE, _ADAPT_EFG, "qmg_responder", "fraction")),
    (Target("mg-vivacity-nipocalimab-responders", "MG-ADL responders (>= 2 points better for >= 4 weeks) pooled over "
            "Vivacity-MG's four nipocalimab arms (5, 30, 60 mg/kg every 4 weeks, 60 mg/kg every 2 weeks)", 52.0, "%",
            VIVACITY, "secondary", "check", "rate",
            note="s.12.6; a prediction: nipocalimab's constants are Valenzuela 2025's, the MG parameters those fitted "
                 "to Zinman, Bril and ADAPT; the arms (as recalled from the registration) and their equal sizes are "
                 "assumptions; read as at least 2 points better at every day of weeks 4-8; no counts: +/-10 points"),
     TrialReadout(_VIVACITY_FILE, _VIVACITY_ARMS[0], "mg_adl_responder", "fraction", pooled_with=_VIVACITY_ARMS[1:])),
    (Target("mg-vivacity-placebo-responders", "MG-ADL responders (>= 2 points better for >= 4 weeks) on placebo, "
            "Vivacity-MG", 15.0, "%", VIVACITY, "secondary", "check", "rate",
            note="s.12.6; read as at least 2 points better at every day of weeks 4-8; no counts: +/-10 points",
            known_gap="the model's placebo patients respond in about 29 % here and 27 % in ADAPT (30 %, a check it "
            "meets): the natural course on placebo is calibrated to Bril 2025 and is the same in both files, so the "
            "two trials' placebo rates (15 and 30 %, the same definition) cannot both be met. It passed at the edge "
            "by the Monte Carlo rule (26.6 %, interval to 28.5) until every population carried the plasma volume's "
            "spread, which redrew the patients (28.8 %, 26.8-30.8). Vivacity's placebo arm was small and its 15 % "
            "comes from a trial summary without counts. Not tuned"),
     TrialReadout(_VIVACITY_FILE, "placebo", "mg_adl_responder", "fraction")),
    (Target("mg-adapt-placebo-qmg-responders", "QMG responders (>= 3 points better, held >= 4 weeks) on placebo, "
            "AChR-antibody positive", 14.0, "%", ADAPT, "secondary", "check", "rate",
            note="s.12.6; read as at least 3 points better at every day of weeks 4-8; no counts restated: +/-10 "
                 "points",
            known_gap="about 33 % of the model's placebo patients hold a QMG fall of >= 3 over weeks 4-8, against "
                      "14 %, while its MG-ADL placebo responders (27 %) match ADAPT's 30 %: the model reads MG-ADL as "
                      "0.6 x QMG (an assumption), so a 2-point MG-ADL fall is a 3.3-point QMG fall and the two placebo "
                      "rates cannot differ as much as ADAPT's do; the natural course on placebo is calibrated to Bril "
                      "2025's QMG (s.12.1). Not tuned"),
     TrialReadout(_ADAPT_FILE, "placebo", "qmg_responder", "fraction")),
    (Target("mg-barth-improved-ivig", "improved at day 14 after IVIG 1 g/kg x 2, worsening MG (QMG > 10.5)", 69.0,
            "%", BARTH, "abstract", "check", "rate",
            note="s.12.1; 'improved' (post-intervention status) read as a QMG fall of >= 3.5 points at day 14 "
                 "(Katzberg 2012's response in the same trials; an assumption); no counts restated: +/-10 points"),
     TrialReadout(_BARTH_FILE, "IVIG 1 g/kg x 2", "improved_day14", "fraction")),
    (Target("mg-barth-improved-plex", "improved at day 14 after 5 plasma exchanges of 1 plasma volume, worsening MG "
            "(QMG > 10.5)", 65.0, "%", BARTH, "abstract", "check", "rate",
            note="s.12.1; read as mg-barth-improved-ivig; exchanges every other day, 2 h, albumin (assumptions). "
                 "A documented gap (31-35 %) until the exchange removed complement proteins with the plasma "
                 "(their return at C3's turnover, not fitted; docs/comparators.md)",
            known_gap="about 77 % improve (74.5 % and a pass before the plasma volume followed the BMI): an exchange "
            "is prescribed in Kaplan plasma volumes, which grow with total weight, while the model's plasma volume "
            "now grows less in heavier patients, so one prescribed volume exchanges more of their plasma and removes "
            "more antibody and complement; the trial's patients' sizes and the exchanged volumes are assumptions. "
            "Not tuned"),
     TrialReadout(_BARTH_FILE, "plasma exchange 5 x 1 PV", "improved_day14", "fraction")),
    (Target("mg-onset-plex-before-ivig", "QMG change at day 7, plasma exchange minus IVIG (published: the exchange "
            "improved QMG significantly by 1 week, IVIG not yet)", 0.0, "points", MG_ONSET, "abstract", "check",
            interval=(None, 0.0),
            band=2.0,
            note="s.12.6; read on Barth's population and schedules (the study: 12 chronic moderate-severe MG, "
                 "crossover): the exchange ahead at day 7, a difference at most 0 (one-sided); published as a "
                 "direction only, so the likelihood reads it on a band of 2 QMG points (an assumption: of the "
                 "order of the score's test-retest variation). A documented gap (the exchange 0.9-1.0 point behind "
                 "IVIG) until the exchange removed complement proteins with the plasma"),
     TrialReadout(_BARTH_FILE, "plasma exchange 5 x 1 PV", "qmg_change_day7", "mean", "IVIG 1 g/kg x 2")),
    _t("gbs-improved-week4", ">= 1 grade better on the GBS disability scale at 4 weeks", 53.0, "%", VDM,
       "calibration", TrialReadout("gbs-van-der-meche-1992.yaml", "IVIG 0.4 g/kg x 5", "improved_1_grade_week4",
                                   "fraction"), kind="rate", note="nerve_repair_per_day fitted"),
    _t("gbs-supportive-improved-week4-france", ">= 1 grade better at 4 weeks on supportive care", 37.0, "%",
       FRENCH_1987, "calibration", TrialReadout(_GBS_PLEX_FILE, "supportive care", "improved_1_grade_week4",
                                                 "fraction"), kind="rate",
       note=_GBS_NOTE + "; the natural course: gbs_response_resolution_per_day and gbs_injury_balance fitted"),
    _t("gbs-supportive-improved-week4-north-america", ">= 1 grade better at 4 weeks on conventional care", 39.0,
       "%", GBS_SG_1985, "calibration", TrialReadout(_GBS_PLEX_FILE, "supportive care", "improved_1_grade_week4",
                                                      "fraction"), kind="rate", note=_GBS_NOTE),
    _t("gbs-plex-improved-week4-france", ">= 1 grade better at 4 weeks after plasma exchange", 61.0, "%",
       FRENCH_1987, "calibration", TrialReadout(_GBS_PLEX_FILE, _GBS_PLEX_ARM, "improved_1_grade_week4", "fraction"),
       kind="rate", note=_GBS_NOTE + "; the exchange's own constants are physics (no parameter of it fitted): "
                                     "the arm constrains how much of the attack the autoantibody carries"),
    _t("gbs-plex-improved-week4-north-america", ">= 1 grade better at 4 weeks after plasma exchange", 59.0, "%",
       GBS_SG_1985, "calibration", TrialReadout(_GBS_PLEX_FILE, _GBS_PLEX_ARM, "improved_1_grade_week4", "fraction"),
       kind="rate", note=_GBS_NOTE),
    _t("gbs-days-to-improvement", "median time to >= 1 grade improvement", 27.0, "day", VDM, "check",
       TrialReadout("gbs-van-der-meche-1992.yaml", "IVIG 0.4 g/kg x 5", "days_to_1_grade_better", "median_time_day")),
    _t("gbs-cannot-walk-month6", "cannot walk unaided at 6 months (under IVIG)", 20.0, "%", VAN_DOORN, "calibration",
       TrialReadout("gbs-van-der-meche-1992.yaml", "IVIG 0.4 g/kg x 5", "cannot_walk_month6", "fraction"),
       kind="rate", note="'about 20 %' under standard care; axonal_share fitted"),
    _t("gbs-ventilation", "needed ventilation (disability score reaching grade 5, >= 4.5) under IVIG", 25.0, "%",
       VAN_DOORN, "check", TrialReadout("gbs-van-der-meche-1992.yaml", "IVIG 0.4 g/kg x 5", "needed_ventilation",
                                         "fraction"), kind="rate",
       note="'about 25 %' under standard care; the continuous score read to its nearest grade",
       gap="about 12-15 % of the model's patients reach grade 5: at enrolment their nerve injury outpaces repair "
           "by a factor of 1.69 (gbs_injury_balance, calibrated to the supportive-care and exchange arms at 4 weeks, "
           "which it reaches with a drive that fades within about 5 days) and slows as the damage nears the whole, "
           "so few worsen from grade 4 to 5. No target reads the worsening to grade 5; not tuned to this check"),
    _t("cidp-responders-ivig", "responders kept to week 24 on IVIG", 54.2, "%", ICE, "calibration",
       TrialReadout("cidp-ice-2008.yaml", "IVIG", "responder_kept_to_week24", "fraction"), kind="rate",
       counts=(32, 59), note="32/59 (Wilson 95 % from the counts); cidp_ivig_insensitive_share and remyelination fitted"),
    _t("cidp-responders-placebo", "responders kept to week 24 on placebo", 20.7, "%", ICE, "calibration",
       TrialReadout("cidp-ice-2008.yaml", "placebo", "responder_kept_to_week24", "fraction"), kind="rate",
       counts=(12, 58), note="12/58 (Wilson 95 % from the counts); the population's typical spontaneous remission fitted"),
    _t("cidp-relapse-after-stopping", "relapsed within 6 months after stopping a 6-month IVIG course (improved "
       "patients)", 38.1, "%", IMC, "calibration",
       TrialReadout("cidp-imc-relapse-after-stopping.yaml", "stopped", "relapse_by_week24", "fraction"), kind="rate",
       note="s.12.2; no counts restated: +/-10 points; relapse read as INCAT >= 1 point worse than at stopping; "
            "cidp_effector_threshold fitted (with ICE's two arms)"),
    (Target("cidp-withdrawal-vs-continued", "adjusted INCAT change at 24 weeks, IVIG withdrawn minus continued, in "
            "stable patients", 0.72, "points", ADRICHEM, "derived", "check", "level", interval=(-0.48, 1.91),
            note="s.12.2: I-RODS difference -0.47 logits (95 % CI -1.24 to 0.31; margin -0.65), mapped to INCAT by "
                 "taking the margin, 0.65 logits, as one INCAT point (an assumption) and turning the sign; nothing "
                 "fitted to it"),
     TrialReadout("cidp-adrichem-2022-withdrawal.yaml", "withdrawn", "incat_change_week24", "mean", "continued")),
    (Target("cidp-half-dose-half-interval", "adjusted INCAT change at 24 weeks, half dose at half interval minus "
            "the usual regimen", 0.0, "points", KUITWAARD_2021, "derived", "check", "level", interval=(-0.5, 0.5),
            note="s.12.2: no difference in grip strength (coefficient -2.71, 95 % CI -5.4 to 0.01) nor in "
                 "disability; read as a mean INCAT difference within half a point (an assumption: half ICE's "
                 "relevant change); nothing fitted to it"),
     TrialReadout("cidp-kuitwaard-2021-half-dose.yaml", "half dose at half interval", "incat_change_week24", "mean",
                  "usual")),
    _t("cidp-taper-off-without-relapse", "stable patients tapered off immunoglobulin without relapse", 36.4, "%",
       CIDP_TAPER, "check", TrialReadout("cidp-scig-taper.yaml", "taper", "off_without_relapse", "fraction"),
       kind="rate", counts=(20, 55), note="s.12.2: 20/55 (Wilson 95 % from the counts); nothing fitted to it",
       gap=_CIDP_TAPER_GAP),
    (Target("cidp-taper-stable-at-75pct", "stable patients still without relapse after the cut to 75 % of their dose",
            67.3, "%", CIDP_TAPER, "derived", "check", "rate", interval=(None, 67.3),
            note="s.12.2: the 35 who relapsed had their dose cut by a median 10 % (0 % or 10 % for at least 18 of "
                 "them), so at most 37/55 were still stable after the 75 % step; one-sided; nothing fitted to it",
            known_gap=_CIDP_TAPER_GAP),
     TrialReadout("cidp-scig-taper.yaml", "taper", "stable_at_75pct", "fraction")),
    _t("kawasaki-caa-week2-aspirin", "coronary abnormalities at 2 weeks, aspirin alone", 23.0, "%", NEWBURGER,
       "calibration", TrialReadout("kawasaki-newburger-1986.yaml", "aspirin alone", "coronary_abnormality_week2",
                                   "fraction"), kind="rate", counts=(18, 78),
       note="18/78 (abstract; Wilson 95 % from the counts); coronary_injury_per_day fitted"),
    _t("kawasaki-caa-week7-aspirin", "coronary abnormalities at 7 weeks, aspirin alone", 18.0, "%", NEWBURGER,
       "calibration", TrialReadout("kawasaki-newburger-1986.yaml", "aspirin alone", "coronary_abnormality_week7",
                                   "fraction"), kind="rate", counts=(14, 79),
       note="14/79 (abstract; Wilson 95 % from the counts); coronary_healing_per_day fitted"),
    _t("kawasaki-caa-week2-ivig", "coronary abnormalities at 2 weeks, IVIG 0.4 g/kg/day x 4", 8.0, "%", NEWBURGER,
       "check", TrialReadout("kawasaki-newburger-1986.yaml", "IVIG 0.4 g/kg x 4", "coronary_abnormality_week2",
                             "fraction"), kind="rate", counts=(6, 75),
       note="6/75 (abstract; Wilson 95 % from the counts)"),
    _t("kawasaki-caa-week7-ivig", "coronary abnormalities at 7 weeks, IVIG 0.4 g/kg/day x 4", 4.0, "%", NEWBURGER,
       "check", TrialReadout("kawasaki-newburger-1986.yaml", "IVIG 0.4 g/kg x 4", "coronary_abnormality_week7",
                             "fraction"), kind="rate", counts=(3, 79),
       note="3/79 (abstract; Wilson 95 % from the counts)"),
    _t("kawasaki-untreated-abnormality", "coronary abnormality (dilatation or aneurysm) by 7 weeks without IVIG",
       25.0, "%", MCCRINDLE, "identity", TrialReadout("kawasaki-newburger-1986.yaml", "aspirin alone",
                                                       "coronary_abnormality_by_week7", "fraction"), kind="rate",
       note="'about 25 %' untreated; the aspirin-alone arm of Newburger's trial, at any time to week 7",
       by_construction="read from the aspirin-alone arm whose coronary injury and healing were fitted to "
       "Newburger's 23 % (week 2) and 18 % (week 7); an abnormality at any time to week 7 is at least the fitted "
       "week-2 share, so it restates that fit rather than testing the model"),
    _t("kawasaki-ivig-resistance", "fever >= 36 h after the end of 2 g/kg", 15.0, "%", MCCRINDLE, "calibration",
       TrialReadout("kawasaki-ivig-resistance.yaml", "IVIG 2 g/kg", "fever_36h_after_infusion", "fraction"),
       kind="rate", interval=(10.0, 20.0), note="'10-20 %'; fever_cytokine_k fitted"),
    (Target("kawasaki-egami-resistance-high", "IVIG resistance after 2 g/kg, Egami score >= 3", 32.3, "%", EGAMI,
            "derived", "calibration", "rate", counts=(32, 99),
            note="about 32/99 (0.78 x 41 true positives); Wilson 95 % from those counts; kawasaki_risk_exponent "
                 "fitted (with fever_cytokine_k); the stratum is the top 31 % of the risk index"),
     TrialReadout("kawasaki-egami-2006-high.yaml", "IVIG 2 g/kg", "fever_36h_after_infusion", "fraction")),
    (Target("kawasaki-egami-resistance-low", "IVIG resistance after 2 g/kg, Egami score < 3", 4.1, "%", EGAMI,
            "derived", "check", "rate", counts=(9, 221),
            note="about 9/221 (41 resistant less 32 found); Wilson 95 % from those counts; nothing fitted to it"),
     TrialReadout("kawasaki-egami-2006-low.yaml", "IVIG 2 g/kg", "fever_36h_after_infusion", "fraction")),
    # Acute childhood ITP (disease itp-childhood; its module's FIGURES give each figure's role).
    _t("itp-child-untreated-days-to-50", "median days to platelets >= 50 x 10^9/L with no therapy", 16.0, "day",
       TORONTO, "calibration", TrialReadout(_CHILD_ITP, "observation", "days_to_50", "median_time_day"),
       note="itp_acute_resolution_per_day fitted"),
    _t("itp-child-observation-chronic", "chronic ITP (< 150 x 10^9/L at 6 months) on careful observation", 28.9,
       "%", TIKI, "calibration", TrialReadout(_CHILD_ITP, "observation", "chronic_month6", "fraction"),
       kind="rate", note="the typical itp_persistent_share fitted"),
    _t("itp-child-observation-week1", "platelets >= 100 x 10^9/L at 1 week on careful observation", 23.0, "%",
       TIKI, "check", TrialReadout(_CHILD_ITP, "observation", "complete_response_week1", "fraction"),
       kind="rate", counts=(23, 100), note="natural history; nothing fitted to it"),
    _t("itp-child-observation-month12", "platelets < 100 x 10^9/L at 12 months on careful observation", 12.0, "%",
       TIKI, "check", TrialReadout(_CHILD_ITP, "observation", "below_100_month12", "fraction"), kind="rate"),
    _t("itp-child-ivig-week1", "platelets >= 100 x 10^9/L at 1 week after a single 0.8 g/kg", 68.7, "%", TIKI,
       "check", TrialReadout(_CHILD_ITP, "IVIG 0.8 g/kg", "complete_response_week1", "fraction"), kind="rate",
       counts=(68, 99),
       gap="the model reaches about 33 % (40 % before the plasma volume followed the BMI, which lowered "
           "children's IgG after a dose per kilogram): a child's platelets rise after IVIG with the adult model's platelet "
           "physiology (production, Fc-receptor blockade and its EC50), and the transient clearance of acute "
           "childhood ITP is treated like the adult's antibody; nothing was tuned to this figure"),
    _t("itp-child-ivig-chronic", "chronic ITP (< 150 x 10^9/L at 6 months) after a single 0.8 g/kg", 18.6, "%",
       TIKI, "check", TrialReadout(_CHILD_ITP, "IVIG 0.8 g/kg", "chronic_month6", "fraction"), kind="rate",
       note="TIKI's RR 0.64 (0.38-1.08) was not significant",
       gap="in the model IVIG hardly changes which children go on to chronic disease (about 32 %, as on "
           "observation): its effect wears off with the infused IgG and the persistent share is drawn at diagnosis. "
           "It passed on its interval only until the plasma volume followed the BMI, which lowered children's IgG "
           "after a dose per kilogram (and redrew the patients); not tuned"),
    _t("itp-child-ivig-days-to-50", "median days to platelets >= 50 x 10^9/L after 1 g/kg/day x 2", 2.0, "day",
       TORONTO, "check", TrialReadout(_CHILD_ITP, "IVIG 1 g/kg x 2", "days_to_50", "median_time_day"),
       gap="the model's children cross 50 sooner (1.5 days; published range 1-34) yet fewer reach 100 by day 7 "
           "(itp-child-ivig-week1): the rise after IVIG is fast and shallow, with the adult model's platelet "
           "production; nothing was tuned to it"),
    # The dose and the first days in children (s.12.2, s.12.3): checks, none fitted.
    _t("itp-child-2003-above-20-low", "platelets > 20 x 10^9/L within 72 h after 0.3 g/kg/day x 2", 76.5, "%",
       CHILD_2003, "check", TrialReadout(_CHILD_DOSE, "IVIG 0.3 g/kg x 2", "above_20_within_72h", "fraction"),
       kind="rate", counts=(13, 17), note="nothing fitted to it"),
    _t("itp-child-2003-above-20-high", "platelets > 20 x 10^9/L within 72 h after 1 g/kg/day x 2", 88.2, "%",
       CHILD_2003, "check", TrialReadout(_CHILD_DOSE, "IVIG 1 g/kg x 2", "above_20_within_72h", "fraction"),
       kind="rate", counts=(15, 17), note="nothing fitted to it"),
    _t("itp-child-1996-at-least-50-72h", "platelets >= 50 x 10^9/L at 72 h after 1 g/kg x 2", 91.0, "%", ACTA_1996,
       "check", TrialReadout(_CHILD_DOSE, "IVIG 1 g/kg x 2", "at_least_50_at_72h", "fraction"), kind="rate",
       note="no counts restated (43 children in two arms): +/-10 points; its entry (< 20 with bleeding or no rise "
            "after 3 days' observation) read as the other trials'", gap="about 78 %: " + _CHILD_VOLUME),
    _t("itp-child-1996-platelets-72h", "mean platelet count at 72 h after 1 g/kg x 2", 188.0, "10^9/L", ACTA_1996,
       "check", TrialReadout(_CHILD_DOSE, "IVIG 1 g/kg x 2", "platelets_72h", "mean"),
       gap="about 133 x 10^9/L: " + _CHILD_VOLUME),
    _t("itp-child-1996-above-150-day6", "platelets > 150 x 10^9/L on day 6 after 1 g/kg x 2", 70.0, "%", ACTA_1996,
       "check", TrialReadout(_CHILD_DOSE, "IVIG 1 g/kg x 2", "above_150_day6", "fraction"), kind="rate",
       note="no counts restated: +/-10 points", gap="about 49 %: " + _CHILD_VOLUME),
    _t("itp-child-1985-rise-24h", "mean rise in platelets within 24 h of a single 1 g/kg", 50.0, "10^9/L",
       J_PEDIATR_1985, "check", TrialReadout(_CHILD_DOSE, "IVIG 1 g/kg once", "rise_24h", "mean"),
       interval=(50.0, None), note="published as 'more than 50 x 10^9/L': one-sided",
       gap="the model's children rise by about 34 x 10^9/L in the first day (45 before the plasma volume followed "
           "the BMI, which lowered children's IgG after a dose per kilogram): IVIG blocks the receptors within "
           "hours, but with the adult model's platelet production (platelet_production_fraction 3.5 times normal "
           "turnover, about 90 x 10^9/L a day) the count can climb at most by that much a day, and clearance is "
           "only partly blocked on day 1 in most children. Higher output in children's acute ITP (megakaryocytes "
           "are not the target there, as they can be in adults) is not modelled; nothing was tuned to it"),
    _t("itp-child-1985-peak", "mean peak platelet count after a single 1 g/kg", 194.0, "10^9/L", J_PEDIATR_1985,
       "check", TrialReadout(_CHILD_DOSE, "IVIG 1 g/kg once", "peak", "mean"),
       note="7 of 25 children had further infusions, which the model does not give (its peak is of one infusion)"),
    # The spread of the rise after 2 g/kg in GBS (s.2): a check.
    _t("gbs-delta-igg-sd-day14", "between-patient SD of the rise in total IgG 2 weeks after 0.4 g/kg/day x 5, GBS "
       "(unable to walk)", 5.6, "g/L", "Kuitwaard et al. 2009, Ann Neurol 66(5):597, PMID 19938102 (174 patients)",
       "check", TrialReadout("gbs-van-der-meche-1992.yaml", "IVIG 0.4 g/kg x 5", "igg_rise_day14", "sd"),
       note="the mean (7.8 g/L) is the calibration target gbs-delta-igg-day14; its SD is read here as a spread "
            "between patients",
       gap="the model's rises differ between patients by an SD of about 0.9 g/L, a sixth of Kuitwaard's 5.6: "
           "their spread comes from the patients' own IgG (CV 21.9 %) and plasma volume (its BMI and a CV of 27 %, solved to the "
           "spread of rises on a fixed regimen in stable CIDP, Kuitwaard 2013), while in GBS the catabolism of IgG "
           "itself differs between patients (Fokkink 2022: clearance higher with more severe disease and with "
           "methylprednisolone), which the model carries only through nerve damage at an assumed strength "
           "(gbs_igg_catabolism_per_day); sampling days and assays that differ between centres add to a "
           "published SD. Not tuned"),
    # Individual IgG on a fixed regimen (s.12.7): between-patient CVs, checks.
    _t("kuitwaard-2013-cv-before-infusion", "between-patient CV of total IgG before an infusion, same dose and "
       "interval (1 g/kg every 3 weeks, steady state)", 13.0, "%", KUITWAARD_2013, "check",
       TrialReadout(_KUITWAARD_2013_FILE, _KUITWAARD_2013_ARM, "igg_before_infusion", "cv"),
       note="+/-20 % of the CV; the model's spread before an infusion comes from the patients' own IgG"),
    _t("kuitwaard-2013-cv-after-infusion", "between-patient CV of total IgG just after an infusion, same dose and "
       "interval", 11.0, "%", KUITWAARD_2013, "check",
       TrialReadout(_KUITWAARD_2013_FILE, _KUITWAARD_2013_ARM, "igg_after_infusion", "cv"),
       note="+/-20 % of the CV; nothing fitted to it (the spread before the infusion and the rise's, together)"),
    _t("kuitwaard-2013-cv-rise", "between-patient CV of the rise in total IgG with an infusion (delta-IgG), same "
       "dose and interval", 20.0, "%", KUITWAARD_2013, "calibration",
       TrialReadout(_KUITWAARD_2013_FILE, _KUITWAARD_2013_ARM, "igg_rise", "cv"),
       note="the between-patient CV of plasma_volume_L_per_kg solved to it (python -m ivigsim.validation.calibrate; "
            "without it the rise hardly varies, CV 1.4 %)"),
    # Adults: the same 2 g/kg over 5 or 2 days (s.12.2): checks.
    _t("itp-kurlander-5-day", "response after 0.4 g/kg/day x 5 (read as >= 50 x 10^9/L within 10 days)", 64.7, "%",
       KURLANDER, "check", TrialReadout(_KURLANDER_FILE, "0.4 g/kg x 5", "response_within_10_days", "fraction"),
       kind="rate", counts=(11, 17), note="the abstract defines neither response nor the entry count (assumed: "
       ">= 50 within 10 days, adults below 50 as in Godeau 1999)",
       gap="the model responds in about 89 % on the 5-day schedule (91 % on the 2-day): the same 2 g/kg builds "
           "about the same Fc-receptor blockade by day 5 whichever way it is split, and the model's responders are "
           "those whose receptors it blocks enough. Kurlander's non-responders had counts below 20 or long "
           "platelet survival (clearance not by the spleen's Fc receptors), which the model does not separate; "
           "the response definition is also an assumption here. Not tuned"),
    _t("itp-kurlander-2-day", "response after 1 g/kg/day x 2 (read as >= 50 x 10^9/L within 10 days)", 90.0, "%",
       KURLANDER, "check", TrialReadout(_KURLANDER_FILE, "1 g/kg x 2", "response_within_10_days", "fraction"),
       kind="rate", counts=(9, 10), note="the response definition is an assumption (itp-kurlander-5-day)"),
    _t("itp-chronic-placebo-day43", "adult chronic ITP on placebo: platelets >= 50 x 10^9/L on day 43", 11.0, "%",
       BUSSEL_2007, "check", TrialReadout(_ITP_PLACEBO_FILE, "placebo", "at_least_50_day43", "fraction"),
       kind="rate", note="the placebo arm's size is not in the reference file: the default +/-10 points",
       gap=_ITP_NO_COURSE),
    _t("itp-chronic-placebo-any-24w", "adult chronic ITP on placebo: any count >= 50 x 10^9/L over 24 weeks", 7.1,
       "%", KUTER_2008, "check", TrialReadout(_ITP_PLACEBO_FILE, "placebo", "any_response_24_weeks", "fraction"),
       kind="rate", counts=(3, 42), note="the model reads its daily counts (the trials counted weekly visits); "
       "rescue therapy (25/42) is not modelled", gap=_ITP_NO_COURSE),
    _t("gbs-verboon-supportive", "mild GBS, supportive care: median days to regain full strength", 56.0, "day",
       VERBOON_2021, "check", TrialReadout(_VERBOON_FILE, "supportive care", "days_to_full_strength",
                                           "median_time_day"), note=_VERBOON_READING),
    _t("gbs-verboon-ivig", "mild GBS, one IVIG course: median days to regain full strength", 28.0, "day",
       VERBOON_2021, "check", TrialReadout(_VERBOON_FILE, "IVIG 0.4 g/kg x 5", "days_to_full_strength",
                                           "median_time_day"), note=_VERBOON_READING,
       gap="the model's mild patients regain strength in about 14 days after IVIG (47 on supportive care): IVIG "
           "damps the attack at once and their demyelination, most of their deficit, repairs with a half-life of "
           "about 5.5 days. The cohort was observational: clinicians gave IVIG to patients they judged to be "
           "worsening (IVIG was not associated with lower disability at 4 weeks, adjusted OR 1.62), a selection "
           "a randomised virtual comparison does not reproduce. Not tuned"),
    _t("gbs-pe-walking-with-aid-rr", "GBS unable to walk with aid: plasma exchange vs supportive care, risk ratio "
       "of walking with aid at 4 weeks", 1.60, "ratio", COCHRANE_PE, "check",
       TrialReadout("gbs-plasma-exchange-walking.yaml", "plasma exchange 4 x 2 PV", "walks_with_aid_week4",
                    "risk_ratio", contrast_with="supportive care"),
       interval=(1.19, 2.15), note="pooled over trials with different schedules, read on the French 1987 schedule "
       "(4 exchanges of 2 plasma volumes); walking with aid read as nearest grade 3 or better (score < 3.5) from "
       "entry at grade 4-5; the supportive-care and exchange arms of French 1987 and North America 1985 at "
       "4 weeks (>= 1 grade better) are calibration targets, so this is a check of the model's grade-3 "
       "threshold on the calibrated course, not of an independent arm"),
)

DISEASE_TARGETS: tuple[Target, ...] = tuple(t for t, _ in _PAIRS)
READOUTS: dict[str, TrialReadout] = {t.id: r for t, r in _PAIRS}


def with_overrides(trial, overrides: Mapping[str, float]):
    """``trial`` with parameter overrides applied to its population's typical values.

    Only the names the trial's model declares apply (a disease's parameters do not reach
    another disease's trials; a comparator's reach the trials that give it); they replace the disease's typical values and the trial
    file's own ``population.parameters``, so between-subject variability is drawn around
    them. An arm's own ``parameters`` (a design choice of that arm) still win."""
    from ivigsim.model.library import compiled_model
    from ivigsim.trial.comparators import uses_comparators

    if not overrides:
        return trial
    model = compiled_model(trial.disease, uses_comparators(trial))  # a comparator's parameters too
    mine = {k: float(v) for k, v in overrides.items() if k in model.model.parameter_names}
    if not mine:
        return trial
    population = dataclasses.replace(trial.population,
                                     parameters=MappingProxyType({**trial.population.parameters, **mine}))
    population.check(model)
    return dataclasses.replace(trial, population=population)


def run_trial_targets(targets, fast: bool = False, trials_dir: Path = TRIALS, *,
                      overrides: Mapping[str, float] | None = None, sizes: Mapping[str, int] | None = None,
                      seed: int | None = None, softness: float = 0.0) -> dict[str, tuple[float, float, float]]:
    """(estimate, lower, upper) of each target, running each trial file once.

    Hooks for calibration (``ivigsim.validation.joint``); none changes a default run:
    ``overrides`` (parameter values, ``with_overrides``), ``sizes`` (patients per arm by
    trial file name, before ``fast``), ``seed`` (every trial's seed; None: each file's own)
    and ``softness`` (soft criteria for the trial's endpoints, ``endpoints.soft_endpoints``;
    0: hard, as the files say).
    """
    from ivigsim.io.trial_file import load_trial
    from ivigsim.trial.endpoints import soft_endpoints
    from ivigsim.trial.runner import run_trial

    if not trials_dir.is_dir():
        raise InputError("--trials", "the folder of shipped trial files (examples/trials in a checkout)", str(trials_dir))
    files = sorted({READOUTS[t.id].trial for t in targets})
    results = {}
    for name in files:
        trial = load_trial(trials_dir / name)
        if sizes and name in sizes:
            trial = dataclasses.replace(trial, size=int(sizes[name]))
        elif fast:
            trial = dataclasses.replace(trial, size=min(trial.size, FAST_SIZE))
        if seed is not None:
            trial = dataclasses.replace(trial, seed=int(seed))
        trial = with_overrides(trial, overrides or {})
        if softness:
            trial = dataclasses.replace(trial, endpoints=soft_endpoints(trial.endpoints, softness))
        results[name] = run_trial(trial)
    return {t.id: READOUTS[t.id].estimate(results[READOUTS[t.id].trial].summary, results[READOUTS[t.id].trial].patients)
            for t in targets}
