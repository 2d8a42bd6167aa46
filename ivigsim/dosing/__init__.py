"""IVIG doses written as prescribed, compiled to exact infusion windows.

A :class:`Regimen` (doses, courses, maintenance series; a product; a dosing weight) is
data. :meth:`Regimen.compile` turns it, for one patient, into an :class:`InfusionPlan`
of constant-rate windows in canonical units (days, g, g/day) that the engine integrates.
Pure Python, no I/O; every object is immutable.
"""

from .catalogue import STANDARD_REGIMENS as STANDARD_REGIMENS
from .catalogue import StandardRegimen as StandardRegimen
from .catalogue import get_regimen as get_regimen
from .catalogue import get_standard_regimen as get_standard_regimen
from .compiler import compile_regimen as compile_regimen
from .indications import INDICATIONS as INDICATIONS
from .indications import Indication as Indication
from .infusion import InfusionSpec as InfusionSpec
from .infusion import RateStep as RateStep
from .infusion import Titration as Titration
from .infusion import label_titration as label_titration
from .infusion import rate_profile as rate_profile
from .plan import Infusion as Infusion
from .plan import InfusionPlan as InfusionPlan
from .plan import InfusionWindow as InfusionWindow
from .products import PRODUCTS as PRODUCTS
from .products import Product as Product
from .products import Stabiliser as Stabiliser
from .products import get_product as get_product
from .regimen import Course as Course
from .regimen import Dose as Dose
from .regimen import Maintenance as Maintenance
from .regimen import Regimen as Regimen
from .regimen import RegimenPart as RegimenPart
from .units import mg_per_kg_min_to_g_per_day as mg_per_kg_min_to_g_per_day
from .weight import DosingWeight as DosingWeight
from .weight import adjusted_body_weight_kg as adjusted_body_weight_kg
from .weight import dosing_weight_kg as dosing_weight_kg
from .weight import ideal_body_weight_kg as ideal_body_weight_kg
