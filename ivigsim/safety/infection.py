"""Residual risk of transmitting an infection with IVIG: donor pool, screening, manufacturing.

The arithmetic, per pathogen and per infusion (every step is printed by
:meth:`InfectionRisk.arithmetic`):

1. A pool holds ``N`` donations. Each accepted donation is, with probability ``r``
   (the residual "window-period" risk left after donor selection and screening),
   infectious; the number of infectious donations in a pool is Poisson with mean
   ``lambda = N r``.
2. One infectious donation brings ``v = titre x plasma per donation`` infectious units
   into the pool.
3. An infusion of ``A`` grams of IgG carries the IgG of ``A / yield`` litres of plasma,
   the fraction ``f = (A / yield) / (N x plasma per donation)`` of the pool.
4. Manufacturing removes or inactivates ``L = sum of log10 reductions`` (solvent-detergent,
   nanofiltration, low-pH incubation; and, for viruses most donors are immune to,
   neutralising antibodies in the pool): one infectious donation leaves
   ``x = v f 10^-L`` infectious units in the infusion.
5. Each unit infects independently (single-hit): with ``k`` infectious donations the
   infusion infects with probability ``1 - exp(-k x)``; averaged over the Poisson ``k``,
   ``P = 1 - exp(-lambda (1 - exp(-x)))``, about ``lambda x = r v (A / yield) 10^-L / plasma
   per donation`` when small. The pool size cancels in that limit: pooling spreads the same
   expected contamination over more patients.
6. A course: infusions come from independent pools, ``P = 1 - prod(1 - P_i)``.

**Every number here is an assumption**: calibration-targets.md has no row on infection
risk. They are round, conservative orders of magnitude chosen to show the arithmetic,
not measurements of a product; a manufacturer's validated reduction factors and a
blood service's residual-risk estimates belong in their place. Prions (vCJD) are not
modelled: no reduction factor for them is stated here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ivigsim.dosing import InfusionPlan
from ivigsim.errors import InputError

STEPS = ("solvent_detergent", "nanofiltration", "low_ph", "neutralising_antibodies")
STEP_TITLES = MappingProxyType({
    "solvent_detergent": "solvent-detergent", "nanofiltration": "nanofiltration", "low_ph": "low pH",
    "neutralising_antibodies": "neutralising antibodies in the pool"})


@dataclass(frozen=True)
class Pathogen:
    """One pathogen: residual risk per donation, titre of an infectious donation, log10 reductions.

    ``residual_risk_per_donation``: probability that an accepted donation is infectious
    (window period or below screening limits). ``titre_log10_per_mL``: infectious units
    per mL of such a donation. ``log10_reduction``: per step of ``STEPS``.
    """

    name: str
    enveloped: bool
    residual_risk_per_donation: float
    titre_log10_per_mL: float
    log10_reduction: Mapping[str, float]
    note: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.residual_risk_per_donation <= 1:
            raise InputError(f"pathogen.{self.name}.residual_risk_per_donation", "a probability in [0, 1]",
                             self.residual_risk_per_donation)
        unknown = set(self.log10_reduction) - set(STEPS)
        if unknown:
            raise InputError(f"pathogen.{self.name}.log10_reduction", f"steps among {', '.join(STEPS)}", sorted(unknown))
        for step, value in self.log10_reduction.items():
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise InputError(f"pathogen.{self.name}.log10_reduction.{step}", "a log10 reduction >= 0", value)
        object.__setattr__(self, "log10_reduction", MappingProxyType({s: float(self.log10_reduction.get(s, 0.0)) for s in STEPS}))

    @property
    def total_log10_reduction(self) -> float:
        return sum(self.log10_reduction.values())


@dataclass(frozen=True)
class Manufacturing:
    """How the product is made from plasma (assumptions; see the module docstring).

    ``donations_per_pool``: "pooled from the plasma of thousands of donors" (the seed, BRIEF
    s.1); 10,000 is an assumption within the range of industrial pools. ``plasma_per_donation_L``:
    0.8 L (assumption: a plasmapheresis donation). ``igg_yield_g_per_L``: 4 g of IgG in the
    product per litre of plasma (assumption).
    """

    donations_per_pool: int = 10_000
    plasma_per_donation_L: float = 0.8
    igg_yield_g_per_L: float = 4.0

    def __post_init__(self) -> None:
        if isinstance(self.donations_per_pool, bool) or not isinstance(self.donations_per_pool, int) or self.donations_per_pool < 1:
            raise InputError("manufacturing.donations_per_pool", "a whole number of donations >= 1", self.donations_per_pool)
        for name in ("plasma_per_donation_L", "igg_yield_g_per_L"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise InputError(f"manufacturing.{name}", "a positive number", value)

    @property
    def pool_plasma_L(self) -> float:
        return self.donations_per_pool * self.plasma_per_donation_L


def _reductions(sd: float, nf: float, ph: float, nab: float = 0.0) -> dict[str, float]:
    return {"solvent_detergent": sd, "nanofiltration": nf, "low_ph": ph, "neutralising_antibodies": nab}


#: Assumptions (no calibration row): screened residual risks and titres are conservative
#: round numbers. Each step that acts on a virus is given 4 log10, the usual threshold
#: for a robust step; solvent-detergent does not act on non-enveloped viruses (0), and
#: low pH acts on them only weakly (1). Nanofiltration is given 4 for every virus here;
#: for parvovirus B19 (about 22 nm, near a 20-nm filter's limit) that is the least
#: certain figure. Most donors are immune to hepatitis A and parvovirus B19, so the pool's
#: antibodies neutralise them (3 log10).
PATHOGENS: tuple[Pathogen, ...] = (
    Pathogen("HIV-1", True, 1 / 5_000_000, 3.0, _reductions(4.0, 4.0, 4.0)),
    Pathogen("HCV", True, 1 / 5_000_000, 3.0, _reductions(4.0, 4.0, 4.0)),
    Pathogen("HBV", True, 1 / 1_000_000, 3.0, _reductions(4.0, 4.0, 4.0)),
    Pathogen("HAV", False, 1 / 1_000_000, 4.0, _reductions(0.0, 4.0, 1.0, 3.0),
             "non-enveloped: solvent-detergent does not act"),
    Pathogen("parvovirus B19", False, 1 / 10_000, 3.0, _reductions(0.0, 4.0, 1.0, 3.0),
             "non-enveloped and small (about 22 nm): the largest residual risk here"),
)


@dataclass(frozen=True)
class InfusionInfectionRisk:
    pathogen: Pathogen
    amount_g: float
    expected_infectious_donations_per_pool: float
    units_per_infectious_donation: float
    pool_fraction: float
    units_after_reduction: float
    probability: float


def infusion_infection_risk(pathogen: Pathogen, amount_g: float, manufacturing: Manufacturing = Manufacturing()
                            ) -> InfusionInfectionRisk:
    """Steps 1-5 of the module docstring for one infusion of ``amount_g`` grams."""
    lam = manufacturing.donations_per_pool * pathogen.residual_risk_per_donation
    v = 10.0 ** pathogen.titre_log10_per_mL * manufacturing.plasma_per_donation_L * 1000.0
    fraction = min(1.0, amount_g / manufacturing.igg_yield_g_per_L / manufacturing.pool_plasma_L)
    x = v * fraction * 10.0 ** -pathogen.total_log10_reduction
    p = -math.expm1(-lam * -math.expm1(-x))
    return InfusionInfectionRisk(pathogen, amount_g, lam, v, fraction, x, p)


@dataclass(frozen=True)
class InfectionRisk:
    """Per pathogen: each infusion's probability and the course's."""

    amounts_g: tuple[float, ...]
    manufacturing: Manufacturing
    pathogens: tuple[Pathogen, ...] = field(default=PATHOGENS)

    def per_infusion(self, pathogen: Pathogen) -> list[InfusionInfectionRisk]:
        return [infusion_infection_risk(pathogen, a, self.manufacturing) for a in self.amounts_g]

    def course(self, pathogen: Pathogen) -> float:
        log_none = sum(math.log1p(-r.probability) for r in self.per_infusion(pathogen))
        return -math.expm1(log_none)

    def course_any(self) -> float:
        """Any of the pathogens over the course (independent)."""
        return -math.expm1(sum(math.log1p(-self.course(p)) for p in self.pathogens))

    def arithmetic(self, pathogen: Pathogen) -> list[str]:
        """The calculation for one pathogen, line by line, for the largest infusion and the course."""
        m = self.manufacturing
        r = infusion_infection_risk(pathogen, max(self.amounts_g), m)
        steps = " + ".join(f"{STEP_TITLES[s]} {v:g}" for s, v in pathogen.log10_reduction.items() if v > 0)
        return [
            f"{pathogen.name}: residual risk {pathogen.residual_risk_per_donation:.3g} per donation x "
            f"{m.donations_per_pool:,} donations per pool = {r.expected_infectious_donations_per_pool:.3g} infectious donations per pool (mean)",
            f"  one infectious donation: 10^{pathogen.titre_log10_per_mL:g} units/mL x {m.plasma_per_donation_L * 1000:g} mL "
            f"= {r.units_per_infectious_donation:.3g} units",
            f"  an infusion of {r.amount_g:.4g} g takes {r.amount_g / m.igg_yield_g_per_L:.4g} L of the pool's "
            f"{m.pool_plasma_L:,.0f} L (fraction {r.pool_fraction:.3g}): {r.units_per_infectious_donation * r.pool_fraction:.3g} units",
            f"  log10 reduction {steps} = {pathogen.total_log10_reduction:g}: {r.units_after_reduction:.3g} units left",
            f"  P(infection) = 1 - exp(-{r.expected_infectious_donations_per_pool:.3g} x (1 - exp(-{r.units_after_reduction:.3g}))) "
            f"= {r.probability:.3g} per infusion; {self.course(pathogen):.3g} per course of {len(self.amounts_g)} infusion(s)",
        ]


def infection_risk(plan: InfusionPlan, manufacturing: Manufacturing = Manufacturing(),
                   pathogens: tuple[Pathogen, ...] = PATHOGENS) -> InfectionRisk:
    """The residual infection risk of every infusion of ``plan`` (amounts in grams)."""
    return InfectionRisk(tuple(i.amount_g for i in plan.infusions), manufacturing, tuple(pathogens))
