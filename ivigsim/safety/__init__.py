"""Adverse events and product safety of IVIG (issue 6).

Pure science, no files and no CLI:

- ``factors``: the patient's risk factors (:class:`RiskFactors`);
- ``exposure``: what each infusion exposes the patient to (dose, course, rate, product,
  the simulated IgG rise), as vectorised :class:`Drivers`;
- ``models``: the three model shapes (logistic per infusion, logistic on the course dose,
  hazard in the risk window), the covariates, documented coefficients;
- ``events``: the eight shipped models, every coefficient with its source (``EVENTS``);
- ``calibration``: the s.9 figures as data, the cohorts they were measured in, the solver;
- ``report``: per-infusion and per-course probabilities of a scenario (``infusion_risks``);
- ``infection``: residual infection-transmission risk, with the arithmetic shown;
- ``rate_plan``: fastest label-compliant vs slowest practicable infusion, with warnings;
- ``trial``: per-patient expected and sampled events for virtual trials.

See ``docs/safety.md``.
"""

from .events import EVENT_NAMES as EVENT_NAMES
from .events import EVENTS as EVENTS
from .events import get_event as get_event
from .exposure import Drivers as Drivers
from .exposure import drivers_for_plan as drivers_for_plan
from .factors import BLOOD_GROUP_SHARES as BLOOD_GROUP_SHARES
from .factors import FactorPrevalence as FactorPrevalence
from .factors import RiskFactors as RiskFactors
from .infection import PATHOGENS as PATHOGENS
from .infection import InfectionRisk as InfectionRisk
from .infection import Manufacturing as Manufacturing
from .infection import Pathogen as Pathogen
from .infection import infection_risk as infection_risk
from .rate_plan import RatePlanning as RatePlanning
from .rate_plan import plan_rates as plan_rates
from .report import attach_risks as attach_risks
from .report import course_risks as course_risks
from .report import infusion_risks as infusion_risks
