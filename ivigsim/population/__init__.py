"""Virtual populations: covariates, between-subject variability, inclusion criteria,
all drawn from a counter-based random stream so patient *i* is the same whatever the
chunking, worker count or machine."""

from .covariates import BySex as BySex
from .covariates import CovariateModel as CovariateModel
from .covariates import Covariates as Covariates
from .covariates import CsvCovariates as CsvCovariates
from .covariates import Marginal as Marginal
from .criteria import Criterion as Criterion
from .growth import GrowthReference as GrowthReference
from .growth import growth_reference as growth_reference
from .mixed import MixedScreening as MixedScreening
from .criteria import Threshold as Threshold
from .population import PopulationSpec as PopulationSpec
from .population import Screening as Screening
from .population import VirtualPatients as VirtualPatients
from .population import baseline_values as baseline_values
from .population import draw as draw
from .population import screen as screen
from .rng import CounterRNG as CounterRNG
from .variability import Variability as Variability
