"""The adult adverse-event figures of calibration-targets.md s.12.5, the cohorts they were
measured in, and what the model predicts for them.

The s.9 rows the models are calibrated to are, for reactions, one paediatric series
(Arch Dis Child 2006) and one CIDP trial (Cornblath 2023); these rows ask whether that
calibration carries over to adults. Almost all are **checks** (nothing is fitted to
them); ``ADULT_TARGETS`` says which, and ``ivigsim validate`` shows them with the s.9
rows. Each figure is compared like with like: the cohort below reproduces the
population, regimen, product and time window of its source, and what the source does
not say is an assumption stated here.

Cohorts (every assumption named):

- **Donofrio 2010** (ICE, IGIV-C, a 10 % glycine product, no sucrose): adults of 50 years
  (assumption), half women and 15.2 % with migraine (as ``cidp_cohort``); 2 g/kg loading
  as 1 g/kg on two days (assumption: ICE gave it over 2-4 days), the first a first infusion
  (ICE excluded IVIG in the previous 3 months, more than ``LONG_GAP_DAYS``), then 1 g/kg in
  one day every 3 weeks (89 % of maintenance courses were one day); 1,096 infusions in 113
  patients is 9.70 each, so 70 % of patients have 8 maintenance infusions and 30 % have 7.
  IGIV-C's CIDP label titration: 2 mg/kg/min rising to 8 mg/kg/min (0.08 mL/kg/min).
- **Geng 2023** (Gammaplex 5 % and 10 %, PID, 1,482 infusions in 123 patients: 12 each):
  0.5 g/kg (assumption: the geometric middle of 300-800 mg/kg), patients on established
  replacement (no first infusions: assumption), a 5 % product (two of the three pooled
  trials) at 0.01 mL/kg/min rising every 15 min to 0.08 mL/kg/min (4 mg/kg/min; 94.6 % of
  infusions reached it; the 10 % product's maximum, 8 mg/kg/min, is the same volume rate);
  two thirds adults of 40 and one third children of 10 (assumption: the abstract gives no
  split), half women, 15.2 % of adults with migraine, 5 % of children.
- **Kurlander 1987**: one 1 g/kg infusion of the 2-day ITP regimen in an adult, compared at
  flows of 0.01, 0.04 and 0.08 mL/kg/min (the abstract gives no concentration: volume rates
  are what the covariate reads).
- **Thrombosis** (arterial plus venous, the sum of the two window-hazard models):
  Ammann 2022's episodes are one 1 g/kg infusion (assumption: the geometric middle of the
  0.4-2 g/kg range; its venous arm: one outpatient 0.4 g/kg infusion, replacement dose)
  at the label titration of a 10 % product; "days 0-2" are three days from the start,
  "days 0-13" fourteen. The claims cohorts (Daniel 2012, the 2014 extension): adults of 55
  (assumption; "risk higher at >= 45"), monthly 0.4 g/kg infusions (assumption), an event
  "on the day of IG" counted on day 0 of each infusion, over the cohort's mean follow-up
  read as half its calendar window (assumption: 18 infusion days for 2008-2010, 30 for
  2008-2012). The neuropathy cohort: 2 g/kg over 5 days (0.4 g/kg a day, 35 g or more at
  85 kg and above; assumption), adults of 60 (assumption), events within 14 days of the
  course's first day; 62 patients with 616 courses over 2 years (about 10 each).
- **Acute renal failure per course** (PMID 17596722): adults with ITP (mean age taken as 55,
  30 % above 65: assumptions), 1 g/kg on two days of a sucrose-stabilised 6 % product at
  its label's 3.3 mg/kg/min (assumptions: the abstract gives neither dose nor rate).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ivigsim.safety import events as ev
from ivigsim.safety.exposure import (DEFAULT_IGA_UG_PER_ML, RISK_WINDOW_DAYS, Drivers, course_doses,
                                     estimated_igg_rise_g_per_L, risk_windows)
from ivigsim.validation.safety_calibration import SEKUL_MIGRAINE_SHARE, Stratum, _binary_mix, per_infusion_rate

#: Figures of calibration-targets.md s.12.5 (adults unless stated), written once.
S125 = "calibration-targets.md s.12.5"
DONOFRIO_2010 = f"Donofrio et al. 2010, Arch Neurol 67(9):1082, PMID 20837852 (ICE safety analysis) via {S125}"
GENG_2023 = f"Geng et al. 2023, Front Immunol, doi:10.3389/fimmu.2022.1075527 via {S125}"
KURLANDER_1987 = f"Kurlander et al. 1987, Am J Med 83(4A):17, PMID 3118704 via {S125}"
DANIEL_2012 = f"Daniel et al. 2012, Transfusion 52(10):2113 via {S125}"
CLAIMS_2014 = f"Transfusion 2014;54(10):2553, PMID 24804899 via {S125}"
AMMANN_2022 = f"Ammann et al. 2022, J Thromb Thrombolysis 53(2):264, PMID 34817789 via {S125}"
NEUROPATHY_2011 = f"J Neurol Sci 2011;308(1-2):124, PMID 21679973 via {S125}"
ARF_ITP_2007 = f"PMID 17596722, doi:10.1159/000104424 via {S125}"


def regimen(days, g_per_kg, *, peak_rate=8.0, start_rate=0.5, concentration=0.10, first: bool = False,
            sucrose: float = 0.0, **patient) -> Drivers:
    """Drivers of a patient's infusions at ``days`` (start day of each) with ``g_per_kg`` each.

    Course doses, thrombosis windows and the IgG rise (the surrogate of the PK model) are
    computed from the schedule as ``drivers_for_plan`` does; ``first``: the first infusion
    is a first infusion. ``patient``: age_years, female, migraine_history, ... (0 if omitted).
    """
    days = np.asarray(days, float)
    g = np.broadcast_to(np.asarray(g_per_kg, float), days.shape).copy()
    hours = g * 1000.0 / peak_rate / 60.0  # at the peak rate; titration adds well under an hour
    course, before = course_doses(days, g)
    first_flags = np.zeros(len(days))
    first_flags[0] = float(first)
    fields_ = dict(age_years=55.0, female=0.0, obese=0.0, migraine_history=0.0, iga_antibodies=0.0,
                   non_o_blood_group=0.0, prior_thrombosis=0.0, diabetes=0.0, renal_impairment=0.0, inflammation=0.0)
    fields_.update(patient)
    n = len(days)
    return Drivers(
        g_per_kg=g, course_g_per_kg=course, course_before_g_per_kg=before,
        peak_rate_mg_per_kg_min=np.full(n, peak_rate), start_rate_mg_per_kg_min=np.full(n, min(start_rate, peak_rate)),
        concentration_g_per_mL=np.full(n, concentration), first_infusion=first_flags,
        iga_mg_per_kg=DEFAULT_IGA_UG_PER_ML * g / concentration / 1000.0, sucrose=np.full(n, sucrose),
        igg_rise_g_per_L=estimated_igg_rise_g_per_L(days + hours / 24.0, g), window_days=risk_windows(days),
        **{k: np.full(n, float(v)) for k, v in fields_.items()},
    )


# -- cohorts ----------------------------------------------------------------------------------

DONOFRIO_AGE_YEARS = 50.0
#: 1,096 infusions / 113 patients = 9.70: 2 loading infusions and 7 (30 %) or 8 (70 %) maintenance.
DONOFRIO_MAINTENANCE = ((0.3, 7), (0.7, 8))


def donofrio_cohort() -> list[Stratum]:
    strata = []
    for share, k in DONOFRIO_MAINTENANCE:
        days = np.concatenate([[0.0, 1.0], 21.0 * np.arange(1, k + 1)])
        for w, flags in _binary_mix(female=0.5, migraine_history=SEKUL_MIGRAINE_SHARE):
            strata.append(Stratum(share * w, regimen(days, 1.0, peak_rate=8.0, start_rate=2.0, first=True,
                                                     age_years=DONOFRIO_AGE_YEARS, **flags)))
    return strata


GENG_INFUSIONS = 12  # 1,482 / 123 = 12.05
GENG_G_PER_KG = 0.5
GENG_CHILD_SHARE = 1.0 / 3.0
#: 0.08 mL/kg/min of a 5 % product; 0.01 mL/kg/min at the start.
GENG_PEAK_MG_PER_KG_MIN, GENG_START_MG_PER_KG_MIN, GENG_CONCENTRATION = 4.0, 0.5, 0.05


def geng_cohort(children: bool | None = None) -> list[Stratum]:
    """``children``: None = the pooled cohort; True/False = only children/adults."""
    groups = {False: (1.0 - GENG_CHILD_SHARE, 40.0, SEKUL_MIGRAINE_SHARE), True: (GENG_CHILD_SHARE, 10.0, 0.05)}
    strata = []
    for is_child, (share, age, migraine) in groups.items():
        if children is not None and is_child != children:
            continue
        share = share if children is None else 1.0
        for w, flags in _binary_mix(female=0.5, migraine_history=migraine):
            days = 28.0 * np.arange(GENG_INFUSIONS)
            strata.append(Stratum(share * w, regimen(days, GENG_G_PER_KG, peak_rate=GENG_PEAK_MG_PER_KG_MIN,
                                                     start_rate=GENG_START_MG_PER_KG_MIN,
                                                     concentration=GENG_CONCENTRATION, age_years=age, **flags)))
    return strata


def kurlander_headache(flow_mL_per_kg_min: float, event: str = "headache", events: tuple = ev.EVENTS) -> float:
    """Per-infusion probability after 1 g/kg at a constant flow (10 % product), adult, no risk factor."""
    rate = flow_mL_per_kg_min * 100.0  # mg/kg/min of a 10 % product
    d = regimen([0.0], 1.0, peak_rate=rate, start_rate=rate, age_years=45.0)
    return float(_e(events, event).infusion_probability(d)[0])


def _e(events: tuple, name: str):
    return next(e for e in events if e.name == name)


def thrombosis_hazard(events: tuple, d: Drivers) -> np.ndarray:
    """Arterial plus venous hazard per day in each infusion's window (last axis)."""
    total = 0.0
    for name in ("arterial_thrombosis", "venous_thrombosis"):
        m = _e(events, name)
        total = total + m.baseline_hazard_per_day * m.patient_multiplier(d) * m.hazard_ratio(d)
    return np.asarray(total)


def thrombosis_baseline(events: tuple, d: Drivers, names=("arterial_thrombosis", "venous_thrombosis")) -> np.ndarray:
    total = 0.0
    for name in names:
        m = _e(events, name)
        total = total + m.baseline_hazard_per_day * m.patient_multiplier(d)
    return np.asarray(total)


def risk_ratio_after(events: tuple, name: str, g_per_kg: float, days_after: float, **patient) -> float:
    """Self-controlled risk ratio: hazard over ``days_after`` days from one infusion's start
    over the same patient's hazard without IVIG."""
    m = _e(events, name)
    d = regimen([0.0], g_per_kg, **patient)
    window = min(RISK_WINDOW_DAYS, days_after)
    hr = float(m.hazard_ratio(d)[0])
    return (hr * window + (days_after - window)) / days_after


def ammann_2022_excess_per_10000(events: tuple) -> float:
    """Excess arterial events in days 0-2 of one 1 g/kg episode, per 10,000 episodes (age 70)."""
    m = _e(events, "arterial_thrombosis")
    d = regimen([0.0], 1.0, age_years=70.0)
    h0 = m.baseline_hazard_per_day * float(m.patient_multiplier(d)[0])
    excess = h0 * (float(m.hazard_ratio(d)[0]) - 1.0) * RISK_WINDOW_DAYS
    return 1e4 * excess


CLAIMS_AGE_YEARS = 55.0


def claims_day_of_infusion(events: tuple, infusion_days: int) -> float:
    """Per patient: an arterial or venous event on the day of any of ``infusion_days`` monthly 0.4 g/kg infusions."""
    d = regimen(28.0 * np.arange(infusion_days), 0.4, age_years=CLAIMS_AGE_YEARS)
    return float(-np.expm1(-thrombosis_hazard(events, d).sum()))  # one day (day 0) each


NEUROPATHY_AGE_YEARS = 60.0
NEUROPATHY_COURSES_PER_PATIENT = 616 / 62


def neuropathy_course_risk(events: tuple, first: bool) -> float:
    """Arterial or venous event within 14 days of the start of a 2 g/kg course over 5 days."""
    d = regimen(np.arange(5.0), 0.4, first=first, age_years=NEUROPATHY_AGE_YEARS)
    in_window = (thrombosis_hazard(events, d) * d.window_days).sum()
    after = thrombosis_baseline(events, d)[0] * (14.0 - d.window_days.sum())
    return float(-np.expm1(-(in_window + after)))


def neuropathy_two_year_risk(events: tuple) -> float:
    """Per patient: any arterial or venous event over 2 years with about 10 such courses (every 73 days)."""
    k = int(round(NEUROPATHY_COURSES_PER_PATIENT))
    starts = 730.0 / k * np.arange(k)
    days = (starts[:, None] + np.arange(5.0)[None, :]).ravel()
    d = regimen(days, 0.4, first=True, age_years=NEUROPATHY_AGE_YEARS)
    in_windows = (thrombosis_hazard(events, d) * d.window_days).sum()
    rest = thrombosis_baseline(events, d)[0] * (730.0 - d.window_days.sum())
    return float(-np.expm1(-(in_windows + rest)))


ARF_AGE_YEARS = 55.0
ARF_OVER_65_SHARE = 0.3


def arf_per_course(events: tuple) -> float:
    """Acute kidney injury over a 2 x 1 g/kg course of a sucrose 6 % product at 3.3 mg/kg/min."""
    aki = _e(events, "acute_kidney_injury")
    total = 0.0
    for share, age in ((1 - ARF_OVER_65_SHARE, ARF_AGE_YEARS), (ARF_OVER_65_SHARE, 72.0)):
        d = regimen([0.0, 1.0], 1.0, peak_rate=3.3, start_rate=0.5, concentration=0.06, sucrose=1.0, age_years=age)
        total += share * float(aki.course_probability(d))
    return total


# -- targets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdultTarget:
    """A s.12.5 figure, how the model computes it (``model`` of the event models), and how it is judged.

    ``kind``: "rate" (a fraction; shown in %) or "level". ``counts``: k of n when published or
    derived from the published figures (the Wilson interval judges it); ``interval``: a published
    (or derived) interval, one side may be None; ``known_gap``: why the model misses it.
    """

    id: str
    quantity: str
    published: float
    source: str
    role: str
    model: Callable[[tuple], float]
    kind: str = "rate"
    unit: str = "%"
    counts: tuple[int, int] | None = None
    interval: tuple[float | None, float | None] | None = None
    confidence: str = "abstract"
    note: str = ""
    known_gap: str = ""
    #: For ``role="identity"``: why it holds by construction.
    by_construction: str = ""

    def simulated(self, events: tuple = ev.EVENTS) -> float:
        return float(self.model(events))


def _per_infusion(event: str, cohort: Callable[[], list[Stratum]]):
    return lambda E: per_infusion_rate(_e(E, event).infusion_probability, cohort())


def _adults_over_children(E: tuple) -> float:
    adults = per_infusion_rate(_e(E, "headache").infusion_probability, geng_cohort(children=False))
    children = per_infusion_rate(_e(E, "headache").infusion_probability, geng_cohort(children=True))
    return adults / children


ADULT_TARGETS: tuple[AdultTarget, ...] = (
    AdultTarget("donofrio-headache", "headache per infusion, CIDP adults, 2 g/kg load then 1 g/kg every 3 weeks "
                "(ICE, 44/1,096)", 0.040, DONOFRIO_2010, "check", _per_infusion("headache", donofrio_cohort),
                counts=(44, 1096),
                note="4.0 per 100 infusions of 1,096: 43.8, so 44 (4.01 %); read as the share of infusions with a "
                     "headache (an infusion with two is rare at these rates)"),
    AdultTarget("donofrio-pyrexia", "pyrexia per infusion, CIDP adults (ICE, 26/1,096)", 0.024, DONOFRIO_2010,
                "check", _per_infusion("fever_chills", donofrio_cohort), counts=(26, 1096),
                note="2.4 per 100 of 1,096 infusions: 26.3, so 26 (2.37 %); the model's fever_chills is every "
                     "delayed non-headache reaction, broader than pyrexia, so it should sit at or above it",
                known_gap="the model gives 1.04 % of infusions, below 26/1,096 (Wilson 1.62-3.45 %): fever/chills "
                "has one figure, the children's 'any delayed' 20.9 % less headache and aseptic meningitis, read "
                "through the open_reporting offset that headache calibrates (an assumption for fever). Before the "
                "Cornblath reading changed it gave 7.08 %, above. Not tuned: no adult fever row is a calibration"),
    AdultTarget("geng-headache", "product-related headache per infusion, PID (adults and children), 0.3-0.8 g/kg, "
                "fast escalation (90/1,482)", 90 / 1482, GENG_2023, "check",
                lambda E: per_infusion_rate(_e(E, "headache").openly_reported().infusion_probability, geng_cohort()),
                counts=(90, 1482),
                note="open-label trials: the model openly_reported (its open_reporting offset, calibrated to the "
                     "children's observational series); read as a blinded trial's, without it, the model gives 0.79 %"),
    AdultTarget("geng-adults-over-children", "headache per infusion, adults over children in the same PID cohort "
                "(published: higher in adults)", 1.0, GENG_2023, "identity", _adults_over_children, kind="level",
                unit="ratio", interval=(1.0, None),
                note="direction only: the abstract gives no rates by age; accepted if adults' rate exceeds "
                     "children's (ratio above 1)",
                by_construction="the paediatric odds ratio's direction (below 1) is taken from this row; its size "
                "(0.7, population-averaged) is an assumption"),
    AdultTarget("kurlander-no-effect-below-threshold", "headache at 0.04 over 0.01 mL/kg/min, 1 g/kg, adult "
                "(published: headache only above 0.04 mL/kg/min)", 1.0, KURLANDER_1987, "identity",
                lambda E: kurlander_headache(0.04, events=E) / kurlander_headache(0.01, events=E), kind="level",
                unit="ratio", interval=(0.0, 1.05),
                note="qualitative: no flow effect at or below 0.04 mL/kg/min; up to 5 % allowed. Before this row "
                     "set the threshold (1.5 mL/kg/h, 0.025 mL/kg/min) the model gave 1.12: a miss",
                by_construction="the headache and fever flow covariate starts at this row's 0.04 mL/kg/min "
                "(flow_above_0_04_doublings), so slower flows change nothing"),
    AdultTarget("kurlander-effect-above-threshold", "headache at 0.08 over 0.04 mL/kg/min, 1 g/kg, adult "
                "(published: headache when flow exceeded 0.04 mL/kg/min)", 1.0, KURLANDER_1987, "check",
                lambda E: kurlander_headache(0.08, events=E) / kurlander_headache(0.04, events=E), kind="level",
                unit="ratio", interval=(1.05, None),
                note="qualitative: faster than 0.04 mL/kg/min raises headache; at least 5 % more at twice the flow"),
)

_CLAIMS_GAP = ("the model gives {model} % of patients, against the Wilson interval {wilson} %: claims record a "
               "diagnosis on the day of IG, prevalent as well as incident (a patient treated for a past thrombosis "
               "counts), and the by-product odds ratios up to 21 (the 2014 extension) point at procoagulant "
               "contamination (factor XIa) of some lots in 2008-2012, a product factor the model does not have; "
               "its per-infusion excess is the one Ammann 2022 measures self-controlled (which passes). Not tuned")
_FIRST_COURSE_GAP = (
    "the model gives 0.23 % for a first course as for a later one (it has no first-course effect on thrombosis), "
    "against 3/25 (Wilson 4.17-30.0 %); 2/591 later courses pass. A first-course factor on the window's excess "
    "would need 28 to reach 4.2 %, but Ammann 2022's new users (19,069 first episodes of 93,555) cap it at 8.5 "
    "(days 0-2 RR at most 11.9 with 1 g/kg episodes), which gives 1.35 %: the two sources are not reconciled by "
    "one multiplicative factor. The 3 events carry the cohort's risk factors (daily doses >= 35 g, coronary "
    "disease, immobility). Not tuned")

#: Ammann 2022's absolute excess, 8.86 per 10,000, is (RR - 1) x baseline x window; its interval here
#: scales it by the RR's 95 % CI, (1.87 - 1) / 3.69 to (11.90 - 1) / 3.69 (derived; the abstract gives none).
AMMANN_2022_EXCESS_INTERVAL = (8.86 * 0.87 / 3.69, 8.86 * 10.90 / 3.69)

THROMBOSIS_TARGETS: tuple[AdultTarget, ...] = (
    AdultTarget("ammann-2022-arterial-rr", "arterial thrombosis, days 0-2 after an IGIV episode over control days "
                "(self-controlled, new users)", 4.69, AMMANN_2022, "check",
                lambda E: risk_ratio_after(E, "arterial_thrombosis", 1.0, 3.0, age_years=70.0), kind="level",
                unit="ratio", interval=(1.87, 11.90),
                note="an episode read as one 1 g/kg infusion at the label titration (assumption); 0.4 g/kg gives "
                     "2.6 and 2 g/kg 8.6, both inside too"),
    AdultTarget("ammann-2022-arterial-excess", "excess arterial events in days 0-2 of an IGIV episode, per 10,000",
                8.86, AMMANN_2022, "check", ammann_2022_excess_per_10000, kind="level", unit="per 10,000",
                interval=AMMANN_2022_EXCESS_INTERVAL, confidence="derived",
                note="read per episode (the abstract says 'per 10,000 patients'; per patient over 4.9 episodes each "
                     "would be 4.9 times the model's value); interval derived from the RR's 95 % CI"),
    AdultTarget("ammann-2022-venous-rr", "venous thromboembolism, days 0-13 after an outpatient IGIV episode over "
                "control days", 1.07, AMMANN_2022, "check",
                lambda E: risk_ratio_after(E, "venous_thrombosis", 0.4, 14.0, age_years=70.0), kind="level",
                unit="ratio", interval=(0.34, 3.48),
                note="an outpatient episode read as one 0.4 g/kg infusion (replacement dose; assumption)"),
    AdultTarget("daniel-2012-day-of-infusion", "patients with a thrombotic event recorded on the day of IG, claims "
                "2008-2010 (122/11,785)", 122 / 11785, DANIEL_2012, "check",
                lambda E: claims_day_of_infusion(E, 18), counts=(122, 11785),
                note="adults of 55, 18 monthly 0.4 g/kg infusion days each (assumptions), arterial or venous "
                     "event on day 0",
                known_gap=_CLAIMS_GAP.format(model="0.30", wilson="0.87-1.24")),
    AdultTarget("claims-2014-day-of-infusion", "patients with a thrombotic event recorded on the day of IG, claims "
                "2008-2012 (233/14,944)", 233 / 14944, CLAIMS_2014, "check",
                lambda E: claims_day_of_infusion(E, 30), counts=(233, 14944),
                note="as daniel-2012-day-of-infusion with 30 infusion days each (assumption)",
                known_gap=_CLAIMS_GAP.format(model="0.49", wilson="1.37-1.77")),
    AdultTarget("neuropathy-first-course", "thrombosis within 14 days of a first-ever 2 g/kg course, dysimmune "
                "neuropathy (3/25)", 3 / 25, NEUROPATHY_2011, "check", lambda E: neuropathy_course_risk(E, True),
                counts=(3, 25), known_gap=_FIRST_COURSE_GAP),
    AdultTarget("neuropathy-later-course", "thrombosis within 14 days of a later 2 g/kg course (2/591)", 2 / 591,
                NEUROPATHY_2011, "check", lambda E: neuropathy_course_risk(E, False), counts=(2, 591)),
    AdultTarget("neuropathy-two-years", "patients with a thrombosis over 2 years on repeated 2 g/kg courses (7/62)",
                7 / 62, NEUROPATHY_2011, "check", neuropathy_two_year_risk, counts=(7, 62),
                known_gap="the model gives 5.35 % of patients over 2 years, just below 7/62 (Wilson 5.58-21.5 %): "
                "it is the baseline (about 4 %) plus about 0.2 % per course; the cohort's excess is its first "
                "courses (neuropathy-first-course) and its risk factors (coronary disease, immobility), which the "
                "cohort here does not carry. Not tuned"),
    AdultTarget("arf-sucrose-per-course", "acute renal failure per course, ITP, sucrose-containing product "
                "(13/100 courses)", 13 / 100, ARF_ITP_2007, "check", arf_per_course, counts=(13, 100),
                known_gap="the model gives 0.36 % of courses, far below 13/100 (Wilson 7.76-20.98 %): its kidney-"
                "injury intercept is an assumption sized for reported acute renal failure (1 in 10,000 infusions "
                "without sucrose or risk factors; the FDA and CDC rows are report counts), while this cohort found "
                "laboratory-defined, reversible ARF in every eighth course. Calibrating the intercept to it would "
                "make the model's AKI this end point, 36 times more frequent, for every product; left as a gap "
                "until an end point is chosen (s.9's 6.7 % of 119 unselected patients, no sucrose link, is a "
                "third, again different, figure)"),
)

TARGETS: tuple[AdultTarget, ...] = ADULT_TARGETS + THROMBOSIS_TARGETS


def get_target(target_id: str) -> AdultTarget:
    return next(t for t in TARGETS if t.id == target_id)


def targets_markdown() -> str:
    """The s.12.5 rows next to the model's values (docs/safety.md), worst first (by how far outside)."""
    from ivigsim.validation.targets import wilson_interval

    rows = []
    for t in TARGETS:
        scale = 100.0 if t.kind == "rate" else 1.0
        value = scale * t.simulated()
        if t.counts:
            lo, hi = (scale * x for x in wilson_interval(*t.counts))
            accepted = f"{lo:.3g}-{hi:.3g} (Wilson, {t.counts[0]}/{t.counts[1]})"
        else:
            lo, hi = t.interval
            lo, hi = (-np.inf if lo is None else lo), (np.inf if hi is None else hi)
            accepted = f"{lo:.3g}-{hi:.3g}" if np.isfinite(hi) else f">= {lo:.3g}"
        inside = lo <= value <= hi
        miss = 0.0 if inside else abs(np.log(value / (lo if value < lo else hi)))
        verdict = ("IDENTITY" if t.role == "identity" else "pass") if inside else ("GAP" if t.known_gap else "FAIL")
        rows.append((miss, f"| {t.quantity} | {scale * t.published:.3g} {t.unit} | {accepted} | {value:.3g} | "
                           f"{t.role} | {verdict} | {t.source} |"))
    rows.sort(key=lambda r: -r[0])
    head = ["| figure | published | accepted | model | role | verdict | source |", "|---|---|---|---|---|---|---|"]
    return "\n".join(head + [r for _, r in rows]) + "\n"


def main() -> None:  # pragma: no cover - a report for people
    for t in TARGETS:
        scale = 100.0 if t.kind == "rate" else 1.0
        print(f"{t.id:38s} published {scale * t.published:9.4g}  model {scale * t.simulated():9.4g} {t.unit} ({t.role})")


if __name__ == "__main__":  # pragma: no cover
    main()
