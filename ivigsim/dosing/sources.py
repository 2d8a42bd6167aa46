"""Citations used by the dosing package, written once.

Each string names the publication or label and the row of the project's calibration
targets (``reference/calibration-targets.md``, section 10 "Dosing conventions", or
section 9 "Adverse events") that the figure was copied from. A number in this package
that cites none of these says it is an assumption.
"""

from __future__ import annotations

S10 = "calibration-targets.md s.10"
S9 = "calibration-targets.md s.9"

NBA_CALCULATOR = f"Australian National Blood Authority dose calculator via {S10} (dosing weight in obesity)"
LABELS_10_PERCENT = f"IVIG 10 % product labels via {S10} (10 % product rates)"
OCTAGAM_10_LABEL = f"Octagam 10 % label via {S10} (10 % product rates: 12 mg/kg/min)"
OCTAGAM_5_LABEL = f"Octagam 5 % label via {S10} (5 % product rates)"
PRIVIGEN_LABEL = f"Privigen US PI and EU SmPC via {S10} (ITP row; 10 % product rates: 4 mg/kg/min for ITP)"
#: The acute renal failure reports and their link to sucrose: the MMWR counts 88 US reports (a count,
#: not a share); that about 88 % of US reports involved sucrose-containing products is the FDA's 1999
#: letter (s.9 "acute renal failure and sucrose").
CDC_MMWR_1999 = (f"CDC MMWR 1999;48(24):518, PMID 10401909 via {S9} (acute renal failure: 88 US reports); "
                 f"FDA Dear Doctor letter, 24 Sept 1999 via {S9} (about 88 % of them with sucrose products)")

ITP_PRIVIGEN = f"Privigen US PI and EU SmPC via {S10} (ITP)"
GBS_SMPC = f"SmPC; trials via {S10} (GBS)"
KAWASAKI_MCCRINDLE_2017 = f"McCrindle et al. 2017, Circulation 135:e927 via {S10} (Kawasaki)"
CIDP_LABELS = f"labels; guidelines via {S10} (CIDP); Hughes et al. 2008 (ICE) via calibration-targets.md s.7"
MG_TRIALS = f"trials via {S10} (MG exacerbation)"
PID_LABELS = f"labels via {S10} (PID replacement)"
