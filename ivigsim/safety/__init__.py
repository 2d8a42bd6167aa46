"""Adverse events and product safety of IVIG (issue 6): the science.

Pure science below the orchestration: it takes values (a compiled plan, a patient, risk
factors) and exposures as arrays (IgG rises, rates, doses, the product) and imports nothing
from the simulation, the trial runner, the file readers, the CLI or the web
(``tests/test_layers.py``):

- ``factors``: the patient's risk factors (:class:`RiskFactors`);
- ``exposure``: what each infusion exposes the patient to (dose, course, rate, product,
  the IgG rise), as vectorised :class:`Drivers`;
- ``models``: the three model shapes (logistic per infusion, logistic on the course dose,
  hazard in the risk window), the covariates, documented coefficients;
- ``events``: the eight shipped models, every coefficient with its source (``EVENTS``);
- ``premedication``: what premedication does to the infusion-reaction risks;
- ``report``: per-infusion and per-course probabilities as labelled data (``risk_table``);
- ``infection``: residual infection-transmission risk, with the arithmetic shown;
- ``trial``: per-patient expected and sampled events for virtual trials.

Who calls it: ``ivigsim.simulation`` (``attach_risks``: the risks of ``simulate``'s result),
``ivigsim.safety_risks`` (a scenario's risks, simulating it for the IgG rises),
``ivigsim.safety_rates`` (rate planning), ``ivigsim.safety_report`` (``ivigsim safety``),
the trial runner (``safety_columns``). The calibration and the s.12.5 checks are
``ivigsim.validation.safety_calibration`` and ``ivigsim.validation.safety_adults``; the
``risk_factors:`` schema is ``ivigsim.io.scenario_file``. See ``docs/safety.md``.
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
from .report import risk_table as risk_table
