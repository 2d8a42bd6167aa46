"""Standard regimens shipped with ivigsim, one per row of calibration-targets.md s.10.

Each entry is an immutable :class:`StandardRegimen`: the regimen, the indication it is
compiled for (which sets indication-specific label rates), and the row it comes from.
All use the generic 10 % product with its label titration and actual-weight dosing,
as in the trials the model is calibrated to; change either with
``dataclasses.replace(regimen, product=..., dosing_weight="adjusted")``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ivigsim.errors import InputError
from ivigsim.model.patient import Patient

from . import sources
from .indications import Indication
from .infusion import InfusionSpec
from .plan import InfusionPlan
from .products import get_product
from .regimen import Course, Dose, Maintenance, Regimen

#: Kawasaki: "2 g/kg once over 10-12 h" (McCrindle 2017 via s.10); 11 h is the middle.
KAWASAKI_DURATION_H = 11.0


@dataclass(frozen=True)
class StandardRegimen:
    """A shipped regimen with the indication it belongs to and its source row."""

    regimen: Regimen
    indication: Indication
    source: str

    def compile(self, patient: Patient) -> InfusionPlan:
        return self.regimen.compile(patient, self.indication)


def _standard(name: str, indication: Indication, source: str, *parts: Course | Dose | Maintenance) -> StandardRegimen:
    return StandardRegimen(Regimen(parts, get_product("generic-10"), name=name), indication, source)


_CATALOGUE = (
    # "1 g/kg/day x 2 days"
    _standard("itp", "itp", sources.ITP_PRIVIGEN, Course(total_g_per_kg=2.0, days=2)),
    # "0.8-1 g/kg once"
    _standard("itp-single", "itp", sources.ITP_PRIVIGEN, Dose(day=0.0, g_per_kg=1.0)),
    # "0.4 g/kg/day x 5 days"
    _standard("gbs", "gbs", sources.GBS_SMPC, Course(total_g_per_kg=2.0, days=5)),
    # "2 g/kg once over 10-12 h"
    _standard(
        "kawasaki",
        "kawasaki",
        sources.KAWASAKI_MCCRINDLE_2017,
        Dose(day=0.0, g_per_kg=2.0, infusion=InfusionSpec(duration_h=KAWASAKI_DURATION_H)),
    ),
    # "2 g/kg over 2-5 days, then 1 g/kg every 3 weeks"; 2 days and 8 maintenance doses
    # (24 weeks, the ICE trial's horizon, s.7) are choices within the row.
    _standard(
        "cidp",
        "cidp",
        sources.CIDP_LABELS,
        Course(total_g_per_kg=2.0, days=2),
        Maintenance(g_per_kg=1.0, every_days=21.0, start_day=21.0, count=8),
    ),
    # "2 g/kg (often 1 g/kg/day x 2)"
    _standard("mg", "mg", sources.MG_TRIALS, Course(total_g_per_kg=2.0, days=2)),
    # "0.2-0.8 g/kg every 3-4 weeks"; 0.4 g/kg every 28 days, 6 doses (about 6 months) chosen within it
    _standard("pid", "pid", sources.PID_LABELS, Maintenance(g_per_kg=0.4, every_days=28.0, start_day=0.0, count=6)),
)

STANDARD_REGIMENS: Mapping[str, StandardRegimen] = MappingProxyType(
    {entry.regimen.name: entry for entry in _CATALOGUE}
)


def get_standard_regimen(name: str) -> StandardRegimen:
    """The shipped regimen ``name`` with its indication and source."""
    try:
        return STANDARD_REGIMENS[name]
    except (KeyError, TypeError):
        raise InputError("regimen", f"one of {', '.join(STANDARD_REGIMENS)}", name) from None


def get_regimen(name: str) -> Regimen:
    """The shipped :class:`Regimen` called ``name``; an unknown name lists the valid ones."""
    return get_standard_regimen(name).regimen
