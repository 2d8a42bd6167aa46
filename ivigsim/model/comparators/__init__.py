"""Treatments compared with IVIG, acting on the same patient: plasma exchange, subcutaneous
IgG and an FcRn inhibitor.

Each is a module driven by its own inputs (0 unless a regimen schedules it). The library
composes them into the comparator variant of every disease model
(``ivigsim.model.library.build_model(disease, comparators=True)``), so a scenario can give any
of them, alone or with IVIG; the IVIG-only variant holds ``NO_COMPARATORS`` instead. None
is a mechanism of IVIG (no strength switch; attribution does not list them).
See docs/comparators.md.
"""

from ivigsim.model.comparators.fcrn_inhibitor import FCRN_INHIBITOR, INHIBITOR_INPUT, NO_FCRN_INHIBITOR
from ivigsim.model.comparators.plasma_exchange import (DONOR_PLASMA_INPUT, EXCHANGE_INPUT, NO_PLASMA_EXCHANGE,
                                                      PLASMA_EXCHANGE)
from ivigsim.model.comparators.scig import SCIG, SCIG_INPUT

#: In the order the composed model lists them (after the disease: existing indices are kept).
COMPARATORS = (PLASMA_EXCHANGE, SCIG, FCRN_INHIBITOR)
#: What the IVIG-only variant holds in their place (complement untouched, no inhibitor occupancy).
NO_COMPARATORS = (NO_PLASMA_EXCHANGE, NO_FCRN_INHIBITOR)
#: The inputs the comparators add (a model without them has none of these).
COMPARATOR_INPUTS = (EXCHANGE_INPUT, DONOR_PLASMA_INPUT, SCIG_INPUT, INHIBITOR_INPUT)

__all__ = ["COMPARATORS", "COMPARATOR_INPUTS", "NO_COMPARATORS", "NO_FCRN_INHIBITOR", "NO_PLASMA_EXCHANGE", "DONOR_PLASMA_INPUT", "EXCHANGE_INPUT", "FCRN_INHIBITOR", "INHIBITOR_INPUT",
           "PLASMA_EXCHANGE", "SCIG", "SCIG_INPUT"]
