"""The assembled models ivigsim ships.

A new mechanism or disease is a new module file plus one line here.
"""

from __future__ import annotations

from functools import lru_cache

from ivigsim.model.compose import CompiledModel, Model
from ivigsim.model.diseases.none import NO_DISEASE
from ivigsim.model.fcrn import FCRN
from ivigsim.model.igg import IGG_DISTRIBUTION
from ivigsim.model.immune import IMMUNE_STATE
from ivigsim.model.mechanisms.anti_idiotype import ANTI_IDIOTYPE
from ivigsim.model.mechanisms.b_cell_inhibition import B_CELL_INHIBITION
from ivigsim.model.mechanisms.complement_scavenging import COMPLEMENT_SCAVENGING
from ivigsim.model.mechanisms.cytokine_neutralisation import CYTOKINE_NEUTRALISATION
from ivigsim.model.mechanisms.fcgr_blockade import FCGR_BLOCKADE
from ivigsim.model.mechanisms.treg_expansion import TREG_EXPANSION

#: IVIG's mechanisms of action, in the order tables list them.
MECHANISMS = (
    FCRN,
    ANTI_IDIOTYPE,
    FCGR_BLOCKADE,
    B_CELL_INHIBITION,
    TREG_EXPANSION,
    CYTOKINE_NEUTRALISATION,
    COMPLEMENT_SCAVENGING,
)

CORE_MODULES = (IGG_DISTRIBUTION, IMMUNE_STATE, *MECHANISMS, NO_DISEASE)


@lru_cache(maxsize=None)
def core_model() -> Model:
    """IgG pharmacokinetics, the immune state and every mechanism, without a disease."""
    return Model(CORE_MODULES)


@lru_cache(maxsize=None)
def compiled_core_model() -> CompiledModel:
    return core_model().compile()
