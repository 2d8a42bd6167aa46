"""IVIG products: concentration, label infusion rates and stabiliser.

The product matters to the simulation in three ways: the label caps how fast a dose
may run (which sets how long an infusion lasts), the concentration turns grams into
infused volume (a fluid load for later safety work), and the stabiliser carries a risk
(sucrose and acute renal failure: 88 US reports, CDC MMWR 1999; the 88 % sucrose share of
them, the FDA's 1999 letter; calibration-targets.md s.9).

Label starting rates for 10 % products are given in s.10 only as a range
(0.5-2 mg/kg/min); every product here starts at 0.5, the low end of that range
(an assumption: the most cautious reading). IgA content is ``None`` (not stated)
because no calibration row gives it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, get_args

from ivigsim.errors import InputError

from . import sources
from ._validate import non_negative, positive
from .indications import Indication, check_indication

Stabiliser = Literal["none", "sucrose", "maltose", "glycine", "proline", "glucose"]
STABILISERS: tuple[str, ...] = get_args(Stabiliser)

#: Highest concentration accepted, g/mL (20 %, the strongest immunoglobulin products sold).
MAX_CONCENTRATION_G_PER_ML = 0.20


@dataclass(frozen=True)
class Product:
    """One IVIG product as its label describes it.

    Rates are mg/kg/min on the dosing weight. ``max_rate_by_indication`` holds label
    limits stricter than ``max_rate_mg_per_kg_min`` for some indications (Privigen, ITP).
    ``stabiliser="none"`` means no stabiliser that the model treats as a risk factor.
    """

    name: str
    concentration_g_per_mL: float
    max_rate_mg_per_kg_min: float
    start_rate_mg_per_kg_min: float
    max_rate_by_indication: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    stabiliser: Stabiliser = "none"
    iga_ug_per_mL: float | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InputError("product.name", "a non-empty name", self.name)
        concentration = positive("product.concentration_g_per_mL", self.concentration_g_per_mL, "a concentration in g/mL (0.05 for 5 %, 0.10 for 10 %)")
        if concentration > MAX_CONCENTRATION_G_PER_ML:
            raise InputError("product.concentration_g_per_mL", "a concentration in g/mL (0.05 for 5 %, 0.10 for 10 %)", self.concentration_g_per_mL)
        maximum = positive("product.max_rate_mg_per_kg_min", self.max_rate_mg_per_kg_min, "a positive rate in mg/kg/min")
        start = positive("product.start_rate_mg_per_kg_min", self.start_rate_mg_per_kg_min, "a positive rate in mg/kg/min")
        if start > maximum:
            raise InputError("product.start_rate_mg_per_kg_min", f"a rate at or below the maximum of {maximum:g} mg/kg/min", start)
        limits = dict(self.max_rate_by_indication)
        for indication, limit in limits.items():
            check_indication(indication, "product.max_rate_by_indication")
            where = f"product.max_rate_by_indication.{indication}"
            limits[indication] = positive(where, limit, "a positive rate in mg/kg/min")
            if limits[indication] > maximum:
                raise InputError(where, f"a rate at or below the general maximum of {maximum:g} mg/kg/min", limit)
        if self.stabiliser not in STABILISERS:
            raise InputError("product.stabiliser", f"one of {', '.join(STABILISERS)}", self.stabiliser)
        if self.iga_ug_per_mL is not None:
            non_negative("product.iga_ug_per_mL", self.iga_ug_per_mL, "None (not stated) or a content >= 0 in ug/mL")
        object.__setattr__(self, "max_rate_by_indication", MappingProxyType(limits))

    def max_rate_for(self, indication: Indication | str | None) -> float:
        """Label maximum rate, mg/kg/min, for ``indication`` (``None``: the general maximum)."""
        checked = check_indication(indication)
        if checked is None:
            return self.max_rate_mg_per_kg_min
        return self.max_rate_by_indication.get(checked, self.max_rate_mg_per_kg_min)


_CATALOGUE = (
    Product(
        name="generic-10",
        concentration_g_per_mL=0.10,
        max_rate_mg_per_kg_min=8.0,  # "maximum 8 mg/kg/min (most labels)", s.10
        start_rate_mg_per_kg_min=0.5,  # low end of "start 0.5-2 mg/kg/min", s.10
        source=sources.LABELS_10_PERCENT,
    ),
    Product(
        name="generic-5",
        concentration_g_per_mL=0.05,
        max_rate_mg_per_kg_min=3.3,  # 5 % product rates, s.10
        start_rate_mg_per_kg_min=0.5,  # 5 % product rates, s.10
        source=f"generic 5 % product with the rates of the {sources.OCTAGAM_5_LABEL}",
    ),
    Product(
        name="octagam-10",
        concentration_g_per_mL=0.10,
        max_rate_mg_per_kg_min=12.0,  # "12 mg/kg/min (Octagam 10 %)", s.10
        start_rate_mg_per_kg_min=0.5,  # assumption: low end of the 10 % start range, s.10
        stabiliser="maltose",  # labelled composition; not a calibration row (unverified here)
        source=sources.OCTAGAM_10_LABEL,
    ),
    Product(
        name="octagam-5",
        concentration_g_per_mL=0.05,
        max_rate_mg_per_kg_min=3.3,  # Octagam 5 % label, s.10
        start_rate_mg_per_kg_min=0.5,  # Octagam 5 % label, s.10
        stabiliser="maltose",  # labelled composition; not a calibration row (unverified here)
        source=sources.OCTAGAM_5_LABEL,
    ),
    Product(
        name="privigen",
        concentration_g_per_mL=0.10,
        max_rate_mg_per_kg_min=8.0,  # "maximum 8 mg/kg/min (most labels)", s.10
        start_rate_mg_per_kg_min=0.5,  # low end of the 10 % start range, s.10
        max_rate_by_indication={"itp": 4.0},  # "4 mg/kg/min for ITP (Privigen)", s.10
        stabiliser="proline",  # labelled composition; not a calibration row (unverified here)
        source=sources.PRIVIGEN_LABEL,
    ),
    Product(
        name="sucrose-5",
        concentration_g_per_mL=0.05,
        max_rate_mg_per_kg_min=3.3,  # assumption: the 5 % rates of s.10
        start_rate_mg_per_kg_min=0.5,  # assumption: the 5 % rates of s.10
        stabiliser="sucrose",
        source=(
            "stands for the sucrose-stabilised products of the acute renal failure reports, "
            f"{sources.CDC_MMWR_1999}; rates are an assumption (the 5 % rates of {sources.S10})"
        ),
    ),
)

PRODUCTS: Mapping[str, Product] = MappingProxyType({product.name: product for product in _CATALOGUE})


def get_product(name: str) -> Product:
    """The catalogue product called ``name``; an unknown name lists the valid ones."""
    try:
        return PRODUCTS[name]
    except (KeyError, TypeError):
        raise InputError("regimen.product", f"one of {', '.join(PRODUCTS)}", name) from None

