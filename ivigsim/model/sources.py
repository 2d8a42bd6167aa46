"""Citations used by parameters, written once.

Each string names the publication and, where it matters, the row of the project's
calibration-target file it was copied from (``docs/calibration.md`` lists them all).
"""

EIN_WALDMANN_1969 = "Ein & Waldmann 1969, J Immunol 103(2):345 (abstract)"
KIM_2007 = "Kim et al. 2007, Clin Immunol 122(2):146, PMID 17046328 (nlmixr2lib transcription)"
VALENZUELA_2025 = "Valenzuela et al. 2025, CPT Pharmacometrics Syst Pharmacol 14(12):2074"
CHENG_2025 = "Cheng et al. 2025, Br J Clin Pharmacol, doi:10.1002/bcp.70420 (nlmixr2lib transcription)"
KUITWAARD_2009 = "Kuitwaard et al. 2009, Ann Neurol 66(5):597, PMID 19938102"
WALDMANN_STROBER_1969 = "Waldmann & Strober 1969, IgG turnover studies"
BT511_PHASE1 = "Phase 1 study of a 5 % IVIG (BT 511), healthy volunteers"
JUNGHANS_1997 = "Junghans 1997, Blood 90(10):3815"
