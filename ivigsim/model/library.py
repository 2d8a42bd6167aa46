"""The assembled models ivigsim ships.

A new mechanism is a new module file plus one line here; a new disease is a new module file
in ``ivigsim/model/diseases/`` and nothing else (``DISEASES`` is found there).

Every disease model comes in two variants: the IVIG model (``build_model(disease)``), and the
same model with the comparators (plasma exchange, subcutaneous IgG, an FcRn inhibitor:
``build_model(disease, comparators=True)``, ``ivigsim.model.comparators``), each inactive until
a regimen gives it. The IVIG model holds ``NO_COMPARATORS`` in their place (the inhibitor's
occupancy a constant 0, the plasma complement level a constant 1), so it keeps exactly its
states, inputs and results; a scenario whose
regimen gives a comparator is simulated with the second variant (``ivigsim.simulation``).
"""

from __future__ import annotations

from functools import lru_cache

from ivigsim.model.comparators import COMPARATORS, NO_COMPARATORS
from ivigsim.model.compose import CompiledModel, Model
from ivigsim.errors import InputError, ModelDefinitionError
from ivigsim.model.declaration import Module
from ivigsim.model.diseases import Disease, registry
from ivigsim.model.diseases.none import NO_DISEASE
from ivigsim.model.fcrn import FCRN
from ivigsim.model.igg import DISEASE_CATABOLISM, IGG_DISTRIBUTION, NO_DISEASE_IGG_CATABOLISM
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

#: Everything but the disease.
SHARED_MODULES = (IGG_DISTRIBUTION, IMMUNE_STATE, *MECHANISMS)
CORE_MODULES = (*SHARED_MODULES, NO_DISEASE, NO_DISEASE_IGG_CATABOLISM, *NO_COMPARATORS)

#: Diseases by name, every ``Disease`` declared in a module of ``ivigsim/model/diseases/``
#: (``none``, the healthy/PK-only model, first; then by name).
DISEASES: dict[str, Disease] = registry()


def get_disease(disease: str | Disease | None) -> Disease:
    """The disease named (None: ``none``); a ``Disease`` value is returned as it is."""
    if isinstance(disease, Disease):
        return disease
    try:
        return DISEASES[disease or "none"]
    except (KeyError, TypeError):
        raise InputError("disease", f"one of {', '.join(DISEASES)}", disease) from None


def compose(disease_module: Module, comparators: bool = False) -> Model:
    """IgG pharmacokinetics, the immune state, every mechanism and a disease module, with the
    default of the IgG core's disease-driven loss (none) if the disease does not drive it; then
    the comparators if asked (after everything else, so every other name keeps its index), or
    else ``NO_COMPARATORS`` (their place: complement untouched, no inhibitor occupancy)."""
    drives = set(DISEASE_CATABOLISM) & set(disease_module.symbols())
    if drives and drives != set(DISEASE_CATABOLISM):
        raise ModelDefinitionError(f"disease module {disease_module.name} must define both {DISEASE_CATABOLISM} or neither")
    model = Model((*SHARED_MODULES, disease_module, *(() if drives else (NO_DISEASE_IGG_CATABOLISM,)),
                   *(COMPARATORS if comparators else NO_COMPARATORS)))
    if DISEASE_CATABOLISM[1] not in model.constant_names:
        raise ModelDefinitionError(f"{disease_module.name}: {DISEASE_CATABOLISM[1]} must depend on parameters only")
    return model


def build_model(disease: str | Disease | None = None, comparators: bool = False) -> Model:
    """IgG pharmacokinetics, the immune state, every mechanism, and one disease (by name or
    value); with the comparators (plasma exchange, SCIG, an FcRn inhibitor) if ``comparators``."""
    return _build_model(get_disease(disease), bool(comparators))


def compiled_model(disease: str | Disease | None = None, comparators: bool = False) -> CompiledModel:
    return _compiled_model(get_disease(disease), bool(comparators))


# Cached on the Disease value (hashed by identity), so a name and its value share one model.
@lru_cache(maxsize=None)
def _build_model(disease: Disease, comparators: bool) -> Model:
    return compose(disease.module, comparators)


@lru_cache(maxsize=None)
def _compiled_model(disease: Disease, comparators: bool) -> CompiledModel:
    return _build_model(disease, comparators).compile()


def core_model() -> Model:
    """The model without a disease (healthy volunteers, PK questions)."""
    return build_model(None)


def compiled_core_model() -> CompiledModel:
    return compiled_model(None)
