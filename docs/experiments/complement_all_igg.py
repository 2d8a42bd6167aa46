"""Experiment, not shipped (docs/mechanisms.md, "Driven by IVIG-derived IgG, not all IgG"): complement
scavenging by all IgG, as acceptor competition, against the shipped form (IVIG-derived IgG only).

    shipped:  scavenged = min(1, s C_ivig / (C_ivig + 25))
    variant:  scavenged = min(1, s (C - C0) / (C + 13.6))   C total plasma IgG, C0 the patient's baseline

13.6 = Basta's in-vitro IC50 in serum (25 g/L of IVIG added) less the serum's own IgG (11.4 g/L), so
the two agree for IVIG given to a patient at the reference IgG whose own IgG stays put; they part when
the patient's own IgG falls (FcRn saturation, plasma exchange, FcRn inhibitors). Run:
``.venv/bin/python docs/experiments/complement_all_igg.py`` (about a minute).
"""
import dataclasses
import numpy as np
from ivigsim.model import library
from ivigsim.model.declaration import Assignment
from ivigsim.model.mechanisms.complement_scavenging import COMPLEMENT_SCAVENGING
from ivigsim.model.library import get_disease
from ivigsim.io.scenario_file import parse_scenario
from ivigsim.simulation import simulate

K = 25.0 - 11.4  # Basta's IC50 in serum, less the serum's own IgG (reference 11.4 g/L)
variant = dataclasses.replace(COMPLEMENT_SCAVENGING, assignments=(
    Assignment("complement_scavenged_fraction",
               f"min(1, complement_scavenging_strength * (igg_total_g_per_L - baseline_igg_g_per_L)"
               f" / (igg_total_g_per_L + {K}))", "dimensionless", "all IgG as C3b acceptor"),))
shared = tuple(variant if m.name == "complement_scavenging" else m for m in library.SHARED_MODULES)

def compiled(disease, comparators):
    d = get_disease(disease)
    saved = library.SHARED_MODULES
    library.SHARED_MODULES = shared
    try:
        return library.compose(d.module, comparators).compile()
    finally:
        library.SHARED_MODULES = saved

cases = [
    ("GBS 0.4 g/kg/day x 5", "gbs", {"standard": "gbs"}, False, [3, 7, 14, 28]),
    ("MG 2 g/kg over 2 days", "mg", {"course": {"total_g_per_kg": 2, "days": 2}}, False, [3, 7, 14, 28]),
    ("GBS plasma exchange x 5 (albumin)", "gbs", {"plasma_exchange": {"days": [0, 2, 4, 6, 8], "duration_h": 2}}, True, [1, 5, 9, 14]),
    ("MG nipocalimab 30 mg/kg", "mg", {"fcrn_inhibitor": {"drug": "nipocalimab", "days": [0], "mg_per_kg": 30}}, True, [3, 7, 14, 28]),
]
for label, disease, regimen, comp, days in cases:
    sc = parse_scenario({"disease": disease, "regimen": regimen, "simulation": {"days": 60, "output_every_days": 0.5}})
    a = simulate(sc)
    b = simulate(sc, model=compiled(disease, comp))

    ca = a["complement_activity_fraction_of_baseline"].values[0]; cb = b["complement_activity_fraction_of_baseline"].values[0]
    t = a.time.values
    idx = [int(np.argmin(abs(t - d))) for d in days]
    print(label)
    print("   complement deposition, % of baseline, days", days, ": IVIG-derived", [round(100*ca[i]) for i in idx],
          "; all IgG", [round(100*cb[i]) for i in idx])
    ro = {"gbs": "gbs_disability_score", "mg": "qmg_score"}[disease]
    if ro in a:
        ra, rb = a[ro].values[0], b[ro].values[0]
        print("   ", ro, "days", days, ":", [round(float(ra[i]), 2) for i in idx], "vs", [round(float(rb[i]), 2) for i in idx])
