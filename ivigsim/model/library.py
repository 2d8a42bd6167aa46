"""The assembled models ivigsim ships.

A new mechanism or disease is a new module file plus one line here.
"""

from __future__ import annotations

from functools import lru_cache

from ivigsim.model.compose import CompiledModel, Model
from ivigsim.model.fcrn import FCRN
from ivigsim.model.igg import IGG_DISTRIBUTION

CORE_MODULES = (IGG_DISTRIBUTION, FCRN)


@lru_cache(maxsize=None)
def core_model() -> Model:
    """IgG pharmacokinetics with FcRn: the model every scenario starts from."""
    return Model(CORE_MODULES)


@lru_cache(maxsize=None)
def compiled_core_model() -> CompiledModel:
    return core_model().compile()
