"""Citations used by parameters, written once.

Each string names the publication and, where it matters, the row of the project's
calibration-target file it was copied from (``docs/calibration.md`` lists them all).
"""

EIN_WALDMANN_1969 = "Ein & Waldmann 1969, J Immunol 103(2):345 (abstract)"
KIM_2007 = "Kim et al. 2007, Clin Immunol 122(2):146, PMID 17046328 (nlmixr2lib transcription)"
VALENZUELA_2025 = "Valenzuela et al. 2025, CPT Pharmacometrics Syst Pharmacol 14(12):2074"
LEMMENS_2006 = ("Lemmens, Bernstein & Brodsky 2006, Obes Surg 16(6):773, 'Estimating blood volume in obese and "
                "morbidly obese patients': indexed blood volume 70 / sqrt(BMI / 22) mL/kg")
CHENG_2025 = "Cheng et al. 2025, Br J Clin Pharmacol, doi:10.1002/bcp.70420 (nlmixr2lib transcription)"
KUITWAARD_2009 = "Kuitwaard et al. 2009, Ann Neurol 66(5):597, PMID 19938102"
WALDMANN_STROBER_1969 = "Waldmann & Strober 1969, IgG turnover studies"
BT511_PHASE1 = "Thurmann et al. 1995, Eur J Clin Pharmacol 49:237 (phase 1 study of a 5 % IVIG, BT 511, healthy volunteers)"
JUNGHANS_1997 = "Junghans 1997, Blood 90(10):3815"
#: Bussel et al. 1983: Fc-receptor blockade in 11 of 11 tested, lasting 3-4 weeks (12 chronic ITP).
BUSSEL_1983 = "Bussel et al. 1983, Blood 62:480 (12 chronic ITP)"
#: The Kawasaki disease Treg cohort of calibration-targets s.3: CD4+CD25+FOXP3+ share of CD4 T cells
#: 4.19 % before IVIG, 8.02 % at day 7; 7.32 % in the 20 healthy controls.
KAWASAKI_TREG_2013 = ("Eur J Pediatr 2013;172(6):833, PMID 23340699 (18 Kawasaki disease patients, 20 healthy "
                      "controls; authors not shown in the stored record)")
