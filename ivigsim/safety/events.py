"""The eight shipped adverse-event models of IVIG, every coefficient documented.

One model per event (``EVENTS``), built from the shapes of ``ivigsim.safety.models``;
each coefficient names its source, its calibration target or says it is an assumption.
Calibrated values are solved by ``ivigsim.validation.safety_calibration`` (rounded to 6 decimals);
``tests/test_safety_calibration.py`` re-solves them and checks every target.
``docs/safety.md`` shows these tables (``coefficient_markdown``), checked against the code.
"""

from __future__ import annotations

import math

from ivigsim.errors import InputError

from . import sources as src
from .models import AT_RISK_RATE_MG_PER_KG_MIN as AT_RISK_RATE_MG_PER_KG_MIN
from .models import COVARIATES as COVARIATES
from .models import DAYS_PER_YEAR as DAYS_PER_YEAR
from .models import FAST_RATE_mL_PER_KG_H as FAST_RATE_mL_PER_KG_H
from .models import Coefficient as Coefficient
from .models import CumulativeLogisticEvent as CumulativeLogisticEvent
from .models import EventModel as EventModel
from .models import LogisticEvent as LogisticEvent
from .models import WindowHazardEvent as WindowHazardEvent
from .models import coefficient, hazard_ratio, odds_ratio
from .models import logit as logit

_A = src.ASSUMPTION
#: The clustering of reactions in patients is calibrated on headache (ADC 2006: 12.8 % of
#: infusions, 24 % of children); the same SD is assumed for the other reactions.
_CLUSTER = f"{_A}: the headache frailty_sd (calibrated to {src.ADC_2006}); reactions cluster in patients"
_FIRST = f"{_A}; {src.RATE_SERIES} names first infusions, without a figure"
_RATE = f"{_A}; threshold from {src.RATE_SERIES}"

#: Open-label trials and observational series report more reactions than blinded trials' product-related
#: counts (every delayed reaction within 72 h, unblinded attribution); the models predict the latter.
_OPEN = (f"calibrated with the headache figures: {src.ADC_2006} (an observational series) against "
         f"{src.CORNBLATH_2023} (double-blind); a study-level offset, 0 for a simulated patient")
_OPEN_SHARED = f"{_A}: the headache open_reporting ({_OPEN}), the same for every reaction"
_KURLANDER = f"{_A} (size); threshold 0.04 mL/kg/min from {src.KURLANDER_1987}"

HEADACHE = LogisticEvent("headache", "headache (delayed, within 72 h)", (
    coefficient("intercept", -10.702531, "calibrated", f"{src.CORNBLATH_2023} with {src.ADC_2006}", "log-odds"),
    coefficient("frailty_sd", 4.867420, "calibrated", f"{src.ADC_2006}: 24 % of children vs 12.8 % of infusions", "SD of log-odds"),
    coefficient("dose_doublings_from_1", 3.080885, "calibrated",
                f"{src.CORNBLATH_2023}: 2.9 % (1/35) of patients at 0.5 g/kg to 23.7 % (9/38) at 2 g/kg"),
    coefficient("open_reporting", 4.452945, "calibrated", _OPEN),
    odds_ratio("paediatric", 0.7, "assumption",
               f"{_A} (size); direction from {src.GENG_2023}: headache more frequent in adults than children", averaged=True),
    odds_ratio("migraine_history", 2.0, "assumption", f"{_A}; migraine drives aseptic meningitis in {src.SEKUL_1994}", averaged=True),
    odds_ratio("female", 1.5, "assumption", f"{_A}; {src.GENG_2023}: more frequent in women", averaged=True),
    odds_ratio("first_infusion", 1.5, "assumption", _FIRST, averaged=True),
    odds_ratio("flow_above_0_04_doublings", 1.15, "assumption", _KURLANDER, averaged=True),
))

FEVER_CHILLS = LogisticEvent("fever_chills", "fever, chills and other delayed non-headache reactions", (
    coefficient("intercept", -13.155986, "calibrated",
                f"{src.ADC_2006}: any delayed reaction 20.9 % of infusions (with headache and aseptic meningitis)", "log-odds"),
    coefficient("frailty_sd", 4.867420, "assumption", _CLUSTER, "SD of log-odds"),
    coefficient("open_reporting", 4.452945, "assumption", _OPEN_SHARED),
    odds_ratio("first_infusion", 2.0, "assumption", _FIRST, averaged=True),
    odds_ratio("flow_above_0_04_doublings", 1.3, "assumption", f"{_KURLANDER} ('less often, low-grade fever')", averaged=True),
    odds_ratio("fast_start_doublings", 1.3, "assumption", _RATE, averaged=True),
))

IMMEDIATE = LogisticEvent("immediate_reaction", "immediate allergic or anaphylactoid reaction (during the infusion)", (
    coefficient("intercept", -16.079959, "calibrated", f"{src.ADC_2006}: immediate reactions 3.5 % of infusions", "log-odds"),
    coefficient("frailty_sd", 4.867420, "assumption", _CLUSTER, "SD of log-odds"),
    coefficient("open_reporting", 4.452945, "assumption", _OPEN_SHARED),
    odds_ratio("first_infusion", 2.0, "assumption", _FIRST, averaged=True),
    odds_ratio("fast_rate_doublings", 1.4, "assumption", _RATE, averaged=True),
    odds_ratio("fast_start_doublings", 1.4, "assumption", _RATE, averaged=True),
    odds_ratio("iga_antibodies", 20.0, "assumption",
               f"{_A} (at 1 mg/kg of IgA); {src.RACHID_BONILLA_2012} gives prevalences, not a risk", averaged=True),
    odds_ratio("iga_antibodies_x_log10_iga_dose", 3.0, "assumption", f"{_A}: IgA-depleted products lower the risk", averaged=True),
))

ASEPTIC_MENINGITIS = CumulativeLogisticEvent("aseptic_meningitis", "aseptic meningitis (within 24-48 h of a course)", (
    coefficient("intercept", -9.093251, "calibrated", f"{src.SEKUL_1994}: 4 % without migraine after 2 g/kg", "log-odds"),
    coefficient("frailty_sd", 4.867420, "assumption",
                f"{_CLUSTER}; aseptic meningitis recurs in the same patients (repeat courses are not independent)",
                "SD of log-odds"),
    Coefficient("course_dose_doublings_from_2", math.log(3.0), "log-OR", "assumption",
                f"{_A}: Sekul studied 2 g/kg only; smaller courses carry less risk", averaged=math.log(3.0)),
    coefficient("migraine_history", 9.093251, "calibrated", f"{src.SEKUL_1994}: 50 % with migraine vs 4 % without"),
))

HAEMOLYSIS = CumulativeLogisticEvent("haemolysis", "haemolysis (anti-A/anti-B, days after the course)", (
    coefficient("intercept", -6.092420, "calibrated",
                f"{src.DAW_2008}: about 1.6 % (16 of about 1,000 patients at one centre), read as after a 2 g/kg "
                "course (the row gives no doses; blood-group mix and half with inflammation assumed)", "log-odds"),
    coefficient("course_dose_doublings_from_2", math.log(4.0), "assumption",
                f"{_A}; {src.PADMORE_2015} names dose >= 2 g/kg: the anti-A/B load grows with the dose"),
    odds_ratio("non_o_blood_group", 8.0, "assumption", f"{_A}; {src.PADMORE_2015} names blood group A/B/AB"),
    odds_ratio("inflammation", 2.0, "assumption", f"{_A}; {src.PADMORE_2015} names inflammation"),
))

#: (0.88 / 0.40) / (0.12 / 0.60): reports per unit of market share, sucrose vs the rest (88 % of US
#: reports with sucrose products: the FDA's 1999 letter; their 40 % market share: Chapman 2004).
SUCROSE_REPORTING_RATIO = (0.88 / 0.40) / (0.12 / 0.60)

ACUTE_KIDNEY_INJURY = LogisticEvent("acute_kidney_injury", "acute kidney injury", (
    coefficient("intercept", logit(1e-4), "assumption",
                f"{_A}: 1 in 10,000 infusions of 1 g/kg of a sucrose-free product without risk factors (no rate in s.9)",
                "log-odds"),
    coefficient("frailty_sd", 0.0, "assumption", f"{_A}: no data on clustering", "SD of log-odds"),
    odds_ratio("sucrose", SUCROSE_REPORTING_RATIO, "derived",
               f"{src.FDA_LETTER_1999}: 88 % of US reports with sucrose products; {src.CHAPMAN_2004}: 40 % of "
               "the market; (0.88 / 0.40) / (0.12 / 0.60) = 11, reports per market share (rare event: OR ~ RR)"),
    odds_ratio("age_over_65", 2.0, "assumption", f"{_A}; {src.CDC_MMWR_1999} names age > 65"),
    odds_ratio("diabetes", 2.0, "assumption", f"{_A}; {src.CDC_MMWR_1999} names diabetes"),
    odds_ratio("renal_impairment", 3.0, "assumption", f"{_A}; {src.CDC_MMWR_1999} names prior renal disease"),
    odds_ratio("course_dose_doublings_from_1", 1.5, "assumption", _A),
    odds_ratio("rate_above_3_3_doublings", 1.5, "assumption", f"{_A}; threshold from {src.BOXED_WARNINGS}"),
))


def _thrombosis(name: str, title: str, baseline: Coefficient, hr: Coefficient, *terms: Coefficient) -> WindowHazardEvent:
    return WindowHazardEvent(name, title, (
        baseline,
        hr,
        coefficient("reference_igg_rise_g_per_L", 9.32, "derived",
                    f"{src.IVIGSIM_PK}: rise in total IgG after 0.4 g/kg (assumed typical dose of the Ammann cohort, "
                    "replacement in CLL/myeloma) in a 70-kg adult", "g/L"),
        coefficient("reference_peak_rate_mg_per_kg_min", 8.0, "assumption",
                    f"{_A}: the Ammann cohort infused at the label titration of a 10 % product", "mg/kg/min"),
        coefficient("rate_exponent", 0.5, "assumption", f"{_A}; slower is safer per {src.BOXED_WARNINGS}", "1"),
        *terms,
    ))


ARTERIAL_THROMBOSIS = _thrombosis(
    "arterial_thrombosis", "arterial thrombosis (myocardial infarction, stroke)",
    coefficient("baseline_one_year_risk", 0.018, "source", f"{src.AMMANN_2016}: baseline 1-year risk 1.8 %", "1"),
    coefficient("reference_hazard_ratio", 3.4, "source",
                f"{src.AMMANN_2016}: HR 3.4 (1.25-9.25) on the infusion day and the day after", "1"),
    hazard_ratio("age_decades_from_70", 1.5, "assumption", f"{_A}: the Ammann cohort taken as 70 years old"),
    hazard_ratio("prior_thrombosis", 2.5, "assumption", _A),
    hazard_ratio("diabetes", 2.0, "assumption", _A),
    hazard_ratio("obese", 1.5, "assumption", _A),
)

VENOUS_THROMBOSIS = _thrombosis(
    "venous_thrombosis", "venous thromboembolism (deep vein thrombosis, pulmonary embolism)",
    coefficient("baseline_one_year_risk", 0.01, "assumption",
                f"{_A}: no venous row in s.9 (its Ammann row, {src.AMMANN_2016}, is arterial); close to the "
                "venous baseline in Ammann's abstract, 1.1 % a year", "1"),
    coefficient("reference_hazard_ratio", 3.4, "assumption",
                f"{_A}: the arterial HR of {src.AMMANN_2016}, used for venous events although Ammann found "
                "no significant venous excess (+0.3 % a year, 95 % CI -0.4 to 1.5 %, on a 1.1 % baseline)", "1"),
    hazard_ratio("age_decades_from_70", 1.3, "assumption", _A),
    hazard_ratio("prior_thrombosis", 3.0, "assumption", _A),
    hazard_ratio("obese", 2.0, "assumption", _A),
)

EVENTS: tuple[EventModel, ...] = (
    HEADACHE, FEVER_CHILLS, IMMEDIATE, ASEPTIC_MENINGITIS, ARTERIAL_THROMBOSIS, VENOUS_THROMBOSIS,
    ACUTE_KIDNEY_INJURY, HAEMOLYSIS,
)
EVENT_NAMES: tuple[str, ...] = tuple(e.name for e in EVENTS)
#: The events a faster infusion makes more likely: "infusion reactions".
REACTIONS: tuple[str, ...] = ("headache", "fever_chills", "immediate_reaction")
#: The delayed events of the ADC 2006 row's "delayed 20.9 %".
DELAYED: tuple[str, ...] = ("headache", "fever_chills", "aseptic_meningitis")


def get_event(name: str) -> EventModel:
    for e in EVENTS:
        if e.name == name:
            return e
    raise InputError("event", f"one of {', '.join(EVENT_NAMES)}", name)


def coefficient_rows(events: tuple[EventModel, ...] = EVENTS) -> list[dict]:
    """One row per coefficient of every model: event, name, value, ratio, scale, provenance, source."""
    return [
        {"event": e.name, "name": c.name, "value": c.value, "ratio": c.ratio, "scale": c.scale,
         "provenance": c.provenance, "source": c.source, "meaning": COVARIATES[c.name].meaning if c.name in COVARIATES else ""}
        for e in events for c in e.coefficients
    ]


def coefficient_markdown(events: tuple[EventModel, ...] = EVENTS) -> str:
    """The coefficient tables of docs/safety.md, one per event.

    ``ratio``: exp(value), the within-patient odds (or hazard) ratio the model uses;
    ``averaged``: the population-averaged ratio an assumption was stated as, if it was.
    """
    out = []
    for e in events:
        out += [f"#### `{e.name}`: {e.title} ({e.kind})", "",
                "| coefficient | value | ratio | averaged | provenance | source |", "|---|---|---|---|---|---|"]
        for c in e.coefficients:
            ratio = f"{c.ratio:.4g}" if c.ratio is not None else ""
            averaged = f"{c.averaged_ratio:.4g}" if c.averaged_ratio is not None else ""
            out.append(f"| `{c.name}` | {c.value:.6g} ({c.scale}) | {ratio} | {averaged} | {c.provenance} | {c.source} |")
        out.append("")
    return "\n".join(out)
