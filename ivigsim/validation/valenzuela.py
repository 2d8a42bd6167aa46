"""Valenzuela et al. 2025's nipocalimab model, solved on its own: another model to compare with.

Their quasi-steady-state TMDD model of nipocalimab and FcRn, with a one-compartment IgG that FcRn
recycles (CPT Pharmacometrics Syst Pharmacol 14(12):2074, Table 3 and supplement equations 1 and
4, read in nlmixr2lib's transcription ``Valenzuela_2025_nipocalimab``), in their own units
(nmol/L for the drug and FcRn, g/L for IgG) and solved with scipy's Radau, independently of
ivigsim's engine and of ``ivigsim.model.comparators.fcrn_inhibitor`` (whose constants are taken
from the same table, rounded, and converted to ivigsim's units).

ivigsim's IgG core is assembled from several sources (Valenzuela's IgK, a degradation rate from
Ein & Waldmann's synthesis, two compartments, a saturable FcRn fitted to Kuitwaard's rise); this
model is the source of its IgK. Under near-complete FcRn blockade, which probes that part most
directly, the two should lower IgG alike: tests/test_nipocalimab.py and docs/comparators.md
compare them. An agreement between models, not with data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Table 3's typical values (75 kg), and the molar mass from the paper's results (15 mg/kg x 75
#: kg = 7.92 umol).
TABLE3 = {"CL": 0.655, "Vc": 3.23, "Q": 0.250, "Vp": 0.622, "FcRn0": 143.0, "FRmax": 0.947,
          "Kss_ug_per_mL": 6.05, "kint": 62.4, "kdeg": 1.3, "IgG0": 11.4, "kdeg_IgG": 0.217, "IgK": 5.08}
MOLAR_MASS_G_PER_MOL = 142_000.0
REFERENCE_WEIGHT_KG = 75.0


@dataclass(frozen=True)
class Course:
    """The model's course at ``times`` (days): total drug (nmol/L), free accessible FcRn relative to
    baseline, total IgG relative to baseline."""

    times: np.ndarray
    drug_nM: np.ndarray
    free_fcrn: np.ndarray
    igg: np.ndarray


def solve(mg_per_kg: float, days: Sequence[float], times: np.ndarray, weight_kg: float = REFERENCE_WEIGHT_KG,
          central_volume_L: float | None = None, infusion_days: float = 1.0 / 24.0) -> Course:
    """Nipocalimab ``mg_per_kg`` infused over ``infusion_days`` on each of ``days``, solved to
    ``times`` (increasing, from 0). ``central_volume_L``: Table 3's (3.23 L x weight / 75) unless
    given (ivigsim uses the plasma volume). Their allometry: clearances x (weight/75)^0.75, volumes
    x weight/75."""
    from scipy.integrate import solve_ivp

    size, volume = (weight_kg / REFERENCE_WEIGHT_KG) ** 0.75, weight_kg / REFERENCE_WEIGHT_KG
    cl, q, vp = TABLE3["CL"] * size, TABLE3["Q"] * size, TABLE3["Vp"] * volume
    vc = TABLE3["Vc"] * volume if central_volume_L is None else central_volume_L
    kss = TABLE3["Kss_ug_per_mL"] * 1e6 / MOLAR_MASS_G_PER_MOL  # nmol/L
    r0 = TABLE3["FcRn0"] * TABLE3["FRmax"]
    kint, kdeg = TABLE3["kint"], TABLE3["kdeg"]
    krec = TABLE3["kdeg_IgG"] * TABLE3["IgK"] / (1 + TABLE3["IgK"])
    ksyn = (TABLE3["kdeg_IgG"] - krec) * TABLE3["IgG0"]
    rate = mg_per_kg * weight_kg * 1e6 / MOLAR_MASS_G_PER_MOL / infusion_days  # nmol/day

    def free(central, target):
        ctot = central / vc
        disc = ctot - target - kss
        cfree = 0.5 * (disc + np.sqrt(disc * disc + 4 * kss * ctot))
        return ctot, cfree, target * cfree / (kss + cfree)

    def rhs(t, y, dosing):
        central, peripheral, target, igg = y
        _, cfree, bound = free(central, target)
        f_free = (target - bound) / r0
        return [dosing - cl * cfree - kint * vc * bound - q * cfree + q / vp * peripheral,
                q * cfree - q / vp * peripheral,
                kdeg * r0 - kdeg * target - (kint - kdeg) * bound,
                ksyn - (TABLE3["kdeg_IgG"] - krec * f_free) * igg]

    # Piecewise: each infusion and each gap solved on its own, so no step straddles a dose's edge.
    edges = sorted({0.0, float(times[-1]), *(d for d in days), *(d + infusion_days for d in days)})
    edges = [e for e in edges if e <= times[-1]]
    y = np.array([0.0, 0.0, r0, TABLE3["IgG0"]])
    out = np.empty((4, len(times)))
    for a, b in zip(edges[:-1], edges[1:]):
        dosing = rate if any(d <= a < d + infusion_days for d in days) else 0.0
        inside = (times >= a) & ((times < b) | (b == edges[-1]))
        at = np.append(times[inside], b) if not inside.any() or times[inside][-1] < b else times[inside]
        sol = solve_ivp(rhs, (a, b), y, method="Radau", rtol=1e-9, atol=1e-10, args=(dosing,), t_eval=at)
        out[:, inside] = sol.y[:, :inside.sum()]
        y = sol.y[:, -1]
    ctot, cfree, bound = free(out[0], out[2])
    return Course(np.asarray(times), ctot, (out[2] - bound) / r0, out[3] / TABLE3["IgG0"])
