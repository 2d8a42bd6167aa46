"""Citations used by the comparator modules, written once (as ``ivigsim.model.sources``).

Rows of ``calibration-targets.md`` s.11 and s.12.6 are named where a figure comes from them;
anything else is marked as not in that file, to be checked before formal citation.
"""

#: s.12.6: SCIG bioavailability 65.0 % (Gamunex), 65.5 % (Hizentra), 67.2 % (Gammagard),
#: 69.0 % (Vivaglobin) of IVIG; serum IgG rise per 100 mg/kg/month 84 vs 121 mg/dL (69.4 %).
BERGER_2013 = ("Berger, Jolles, Orange & Sleasman 2013, J Clin Immunol 33(5):984, PMID 23456255 "
               "(calibration-targets s.12.6)")
#: s.11: up to 50 % IgG lowering after one dose, about 75 % with repeated doses, back to baseline
#: about 8 weeks after the last; the SPR affinities are in the article's text (14.2 nM at pH 6.0,
#: 320 nM at pH 7.4).
ULRICHTS_2018 = "Ulrichts et al. 2018, J Clin Invest 128(10):4372, doi:10.1172/JCI97911 (calibration-targets s.11)"
#: Efgartigimod's kinetics in healthy adults (not in the calibration file): after the fourth weekly
#: 10 mg/kg 1-h infusion, Cmax 194 ug/mL at the infusion's end and AUC 0-168 h 5300 ug h/mL.
JING_2024 = ("Jing et al. 2024, Drugs R D 24(4):505-515, doi:10.1007/s40268-024-00490-6 (abstract: healthy Chinese "
             "adults, IV efgartigimod weekly x 4; not in calibration-targets)")
#: Label dosing of efgartigimod (not in the calibration file).
VYVGART_LABEL = ("VYVGART (efgartigimod alfa-fcab) US prescribing information, January 2024: 10 mg/kg IV over "
                 "1 h once weekly for 4 weeks; 1200 mg per infusion at 120 kg or more (not in calibration-targets)")
#: s.12.6: 1-1.5 plasma volumes leave IgG at 1/3-1/4 just after, about 1/2 after re-equilibration.
HANAFUSA_2014 = ("Hanafusa 2014, 'Determination of dosage and frequency of therapy' (Springer chapter), "
                 "doi:10.1007/978-4-431-54412-8_14 (calibration-targets s.12.6)")
#: s.12.6: first-order exchange of a purely intravascular substance, 1 - exp(-N).
EXCHANGE_FORMULA = "first-order exchange, fraction removed 1 - exp(-N) for N plasma volumes (calibration-targets s.12.6)"
#: Kaplan's estimated plasma volume (not in the calibration file).
KAPLAN_1990 = ("Kaplan 1990, ASAIO Trans 36(3):M597 'A simple and accurate method for prescribing plasma "
               "exchange': EPV = (1 - Hct)(b + c x weight), b = 1530 mL and c = 41 mL/kg in men, 864 mL and "
               "47.2 mL/kg in women (as commonly quoted; not in calibration-targets: check before formal citation)")
VALENZUELA_2025 = "Valenzuela et al. 2025, CPT Pharmacometrics Syst Pharmacol 14(12):2074"
#: s.12.6: IgG (with IgM, fibrinogen, C3) not recovered to about 100 % by 48-72 h after albumin exchanges.
BLOOD_1980 = "Blood 1980;56(6):1055, 30 albumin-replacement exchanges in 10 individuals (authors not shown; calibration-targets s.12.6)"
#: s.12.6: mean total IgG reduction -55.9 % (SE 1.15) over up to 7 cycles, AChR+ gMG (n = 111).
ADAPT_PLUS = "ADAPT+ concluding analysis, MDA conference abstract (calibration-targets s.12.6)"
#: s.12.6: nipocalimab lowered IgG by up to 83 % at 60 mg/kg every 2 weeks (68 gMG, 8 weeks). The row
#: gives no kinetics or affinity of the drug.
VIVACITY_MG = "Vivacity-MG (NCT03772587), trial summary and sponsor press release (calibration-targets s.12.6)"
JCI_2023_COVARIATES = ("J Clin Immunol 2023;43(8):2127-2135, PMID 37773562 (integrated popPK model of 8 trials, PID "
                       "switching from IVIG; authors not shown; calibration-targets s.12.7)")
