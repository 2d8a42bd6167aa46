"""Citations used by the safety package, written once.

Each string names the publication (or label) and the row of the project's calibration
targets (``reference/calibration-targets.md``, s.9 "Adverse events" or s.10 "Dosing
conventions") that the figure was copied from. A coefficient that cites none of these
says it is an assumption (``ASSUMPTION``) and why the value was chosen.
"""

from __future__ import annotations

S9 = "calibration-targets.md s.9"
S10 = "calibration-targets.md s.10"

#: "per-infusion rates, children": immediate 3.5 %, delayed 20.9 %, delayed headache 12.8 %
#: of infusions (24 % of children); 345 infusions, 58 children.
ADC_2006 = f"Arch Dis Child 2006;91(8):651 via {S9} (per-infusion rates, children)"
#: "headache vs maintenance dose": 2.9 % to 23.7 % across 0.5-2 g/kg arms (CIDP; ProCID). Shares of
#: patients: the safety population of 142 randomised 1:2:1 has arms of 35, 69 and 38 (the 34, 69 and 36
#: analysed for efficacy plus the 3 without post-infusion data), and 1/35 = 2.9 %, 9/38 = 23.7 %.
CORNBLATH_2023 = f"Cornblath et al. 2023, Drug Saf via {S9} (headache vs maintenance dose)"
#: "aseptic meningitis": 11 % (6/54) after 2 g/kg; 50 % with migraine history vs 4 % without.
SEKUL_1994 = f"Sekul et al. 1994, Ann Intern Med 121(4):259, PMID 8037406 via {S9} (aseptic meningitis)"
#: "arterial thrombosis": HR 3.4 (1.25-9.25) on the infusion day and the day after; 1.8 % 1-year baseline.
#: The same abstract gives the venous end point: a baseline 1-year risk of 1.1 % and a statistically
#: non-significant excess (0.3 %, 95 % CI -0.4 to 1.5 %); there is no venous row in s.9.
AMMANN_2016 = f"Ammann et al. 2016, Blood 127(2):200 via {S9} (arterial thrombosis)"
#: "acute renal failure": 88 US case reports 1985-1998 (about 120 worldwide), a count of reports,
#: not a share; of those with risk conditions, 65 % aged > 65, 56 % diabetic, 26 % prior renal disease.
CDC_MMWR_1999 = f"CDC MMWR 1999;48(24):518, PMID 10401909 via {S9} (acute renal failure)"
#: "acute renal failure and sucrose": about 88 % of US reports with sucrose-containing products.
FDA_LETTER_1999 = f"FDA Dear Doctor letter, 24 Sept 1999 via {S9} (acute renal failure and sucrose)"
#: "sucrose products' market share": about 40 % of the IVIG market.
CHAPMAN_2004 = f"Chapman et al. 2004, Ann Pharmacother via {S9} (sucrose products' market share)"
#: "haemolysis, risk factors": non-O blood group, high dose (>= 2 g/kg) for an inflammatory or immune
#: disorder; a review of 129 case reports that gives NO incidence.
PADMORE_2015 = f"Padmore 2015, Transfusion 55 Suppl 2:S59 via {S9} (haemolysis, risk factors)"
#: "haemolysis, incidence": about 1.6 %, 16 cases among about 1,000 patients given IVIG at one centre
#: (a 2008 case series; the doses are not in the row).
DAW_2008 = f"Daw et al. 2008, Transfusion (as summarised by the Notify library) via {S9} (haemolysis, incidence)"
#: "anaphylaxis and IgA": anti-IgA in up to 40 % of selective IgA deficiency; severe IgA
#: deficiency about 1 in 300-500.
RACHID_BONILLA_2012 = f"Rachid & Bonilla 2012, JACI 129(3):628 via {S9} (anaphylaxis and IgA)"
#: "reactions and rate": reactions cluster at fast rates (> 1.5 mL/kg/h in one series),
#: first infusions and high doses.
RATE_SERIES = f"several series via {S9} (reactions and rate: > 1.5 mL/kg/h, first infusions)"
#: "patients at risk of thrombosis or renal failure: the slowest practicable rate, e.g. < 3.3 mg/kg/min".
BOXED_WARNINGS = f"boxed warnings via {S10} (patients at risk of thrombosis or renal failure)"
#: "Kawasaki: 2 g/kg once over 10-12 h" -- the longest single infusion in standard use.
KAWASAKI_DURATION = f"McCrindle 2017 via {S10} (Kawasaki: 2 g/kg over 10-12 h)"
#: The IgG rise of ivigsim's own PK model (``ivigsim.simulation.simulate``).
IVIGSIM_PK = "ivigsim's PK model (ivigsim.simulation.simulate), derived"

S125 = "calibration-targets.md s.12.5"
#: "infusion rate and headache": headache and, less often, low-grade fever on the 2-day ITP regimen
#: when flow exceeded 0.04 mL/kg/min (adults).
KURLANDER_1987 = f"Kurlander et al. 1987, Am J Med 83(4A):17, PMID 3118704 via {S125} (infusion rate and headache)"
#: "product-related headache per infusion, fast rate escalation": 6.1 % (90/1,482) of infusions, PID;
#: more frequent in adults, women and 21-day schedules.
GENG_2023 = f"Geng et al. 2023, Front Immunol, doi:10.3389/fimmu.2022.1075527 via {S125} (product-related headache)"

ASSUMPTION = "assumption"
