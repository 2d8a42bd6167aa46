"""Adverse events that belong to the comparators: declared, counted by exposure, not modelled.

Pure: takes exposures (sessions, infusions, doses per patient) as arrays, returns numbers.

The IVIG adverse-event models (``ivigsim.safety.events``) are driven by IVIG infusions only, so a
plasma-exchange, SCIG or FcRn-inhibitor session adds no IVIG event (and their numbers are not
touched here). Each comparator has its own events, listed below. None has a probability: the
project's reference file (``calibration-targets.md``) gives no incidence for any of them (s.12.6
has the comparators' efficacy and IgG figures only, s.9 and s.12.5 IVIG's adverse events), and a
number without a source would be ours, not a publication's. So each event is **reported, not
modelled**: a trial reports per arm the exposure it would scale with (sessions, infusions, doses per
patient), and says that no risk is computed. A user with a per-session rate multiplies it by the
exposure; ivigsim does not ship one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

#: Why no comparator event has a number (the same for every one).
NOT_MODELLED = ("reported, not modelled: no incidence in calibration-targets.md (s.9, s.12.5 and s.12.6 give "
                "none for this treatment), so no probability is computed; the exposure is counted")


@dataclass(frozen=True)
class ComparatorEvent:
    """An adverse event that belongs to a comparator, and the exposure it would scale with."""

    name: str
    treatment: str  # plasma_exchange, scig, fcrn_inhibitor
    description: str
    #: The per-patient use column (``ivigsim.trial.comparators.USE_COLUMNS``) it scales with.
    exposure: str
    status: str = NOT_MODELLED


#: Plasma exchange: hypotension (volume shifts during the session), citrate reactions (the
#: anticoagulant binds calcium: paraesthesia, cramps, tetany) and complications of the vascular
#: access (central-line infection, thrombosis, pneumothorax at insertion). Subcutaneous IgG: local
#: infusion-site reactions. FcRn inhibitor: headache and infections (lower IgG). Listed so that a
#: trial says they exist; none is given a probability (``NOT_MODELLED``).
COMPARATOR_EVENTS = (
    ComparatorEvent("plex_hypotension", "plasma_exchange", "hypotension during a plasma-exchange session",
                    "plex_sessions"),
    ComparatorEvent("plex_citrate_reaction", "plasma_exchange",
                    "citrate reaction (hypocalcaemia: paraesthesia, cramps, tetany) during a session", "plex_sessions"),
    ComparatorEvent("plex_line_complication", "plasma_exchange",
                    "vascular-access complication (central-line infection or thrombosis, insertion injury)",
                    "plex_sessions"),
    ComparatorEvent("scig_site_reaction", "scig", "local infusion-site reaction (swelling, redness, itch)",
                    "scig_doses"),
    ComparatorEvent("fcrn_inhibitor_headache", "fcrn_inhibitor", "headache after an FcRn-inhibitor infusion",
                    "fcrn_inhibitor_infusions"),
    ComparatorEvent("fcrn_inhibitor_infection", "fcrn_inhibitor", "infection while IgG is lowered",
                    "fcrn_inhibitor_infusions"),
)


def comparator_events_summary(exposure: Mapping[str, np.ndarray]) -> dict:
    """Per comparator event with any exposure in an arm: its description, its status (not
    modelled) and the mean exposure per patient (sessions, doses or infusions); ``note``: one line."""
    events = {}
    for e in COMPARATOR_EVENTS:
        values = np.asarray(exposure.get(e.exposure, ()), dtype=float)
        values = values[np.isfinite(values)]
        if not values.size or not values.any():
            continue
        events[e.name] = {"treatment": e.treatment, "description": e.description, "status": e.status,
                          "exposure": e.exposure, "exposure_per_patient": float(values.mean()),
                          "probability": None}
    if not events:
        return {}
    names = ", ".join(e.removeprefix("plex_").removeprefix("scig_").removeprefix("fcrn_inhibitor_").replace("_", " ")
                      for e in events)
    return {"events": events, "note": f"{names}: reported, not modelled (no sourced incidence)"}
