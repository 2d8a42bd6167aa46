"""Adverse events that belong to the comparators: declared, counted by exposure, not modelled.

Pure: takes exposures (sessions, infusions, doses per patient) as arrays, returns numbers.

The IVIG adverse-event models (``ivigsim.safety.events``) are driven by IVIG infusions only, so a
plasma-exchange, SCIG or FcRn-inhibitor session adds no IVIG event (and their numbers are not
touched here). Each comparator has its own events, listed below. ivigsim ships no probability for
any of them: the project's reference file (``calibration-targets.md``) gives no incidence (s.12.6
has the comparators' efficacy and IgG figures only, s.9 and s.12.5 IVIG's adverse events), and a
number without a source would be ours, not a publication's. So by default each event is
**reported, not modelled**: a trial reports per arm the exposure it would scale with (sessions,
infusions, doses per patient), and says that no risk is computed.

A trial or scenario file may **declare** a probability per exposure for an event (``DeclaredRate``: the user's
figure and its source, e.g. their unit's audit). Each exposure (session, dose, infusion) is then
an independent chance ``p`` of the event, so a patient with ``n`` exposures has the event at least
once with probability ``1 - (1 - p)^n`` and ``n p`` events expected (``declared_risk``). The
independence is an assumption (a patient who reacted once may be more or less likely to again).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ivigsim.errors import InputError

#: Why no comparator event has a number (the same for every one).
NOT_MODELLED = ("reported, not modelled: no incidence in calibration-targets.md (s.9, s.12.5 and s.12.6 give "
                "none for this treatment), so no probability is computed; the exposure is counted")
#: The status of an event whose probability per exposure the trial declared.
DECLARED = ("modelled from the probability per exposure the file declares (the user's assumption, not a "
            "figure ivigsim ships): each exposure an independent chance")
#: The source a declared rate carries when the file gives none.
DEFAULT_SOURCE = "declared in the file, no source given"
#: The longest source text a declared rate may carry (it is printed and written into summaries).
MAX_SOURCE_CHARS = 300


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


EVENTS_BY_NAME = {e.name: e for e in COMPARATOR_EVENTS}


@dataclass(frozen=True)
class DeclaredRate:
    """A probability per exposure (session, dose, infusion) of a comparator event, declared by the
    user with its source; ``field`` names where it was given, for the error."""

    probability: float
    source: str = DEFAULT_SOURCE
    field: str = "comparator_adverse_events"

    def __post_init__(self) -> None:
        p = self.probability
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not math.isfinite(p) or not 0 <= p <= 1:
            raise InputError(f"{self.field}.probability", "a probability per exposure from 0 to 1", p)
        if not isinstance(self.source, str) or not self.source.strip() or not self.source.isprintable() \
                or len(self.source) > MAX_SOURCE_CHARS:
            raise InputError(f"{self.field}.source", f"a printable text of 1 to {MAX_SOURCE_CHARS} characters",
                             self.source)


def check_event_names(names, field: str = "comparator_adverse_events") -> None:
    """Refuse a declared rate for an event that is not a comparator's (one line naming the known ones)."""
    for name in names:
        if name not in EVENTS_BY_NAME:
            raise InputError(field, f"comparator adverse events among {', '.join(EVENTS_BY_NAME)}", name)


def declared_risk(exposures: np.ndarray, probability: float) -> tuple[np.ndarray, np.ndarray]:
    """Per patient with ``exposures`` (sessions, doses or infusions) each an independent chance
    ``probability`` of the event: the probability of at least one, and the expected number.

    >>> p, n = declared_risk(np.array([0.0, 1.0, 3.0]), 0.1)
    >>> p.round(4).tolist(), n.round(4).tolist()
    ([0.0, 0.1, 0.271], [0.0, 0.1, 0.3])
    """
    n = np.asarray(exposures, dtype=float)
    return -np.expm1(n * np.log1p(-probability)) if probability < 1 else (n > 0).astype(float), n * probability


#: What one exposure of each kind is called, for the printed note.
EXPOSURE_UNITS = {"plex_sessions": "session", "scig_doses": "dose", "fcrn_inhibitor_infusions": "infusion"}


def _short(name: str) -> str:
    return name.removeprefix("plex_").removeprefix("scig_").removeprefix("fcrn_inhibitor_").replace("_", " ")


def _per_exposure(e: dict) -> str:
    return f"{100 * e['probability']:.3g} % per {EXPOSURE_UNITS[e['exposure']]}, declared: {e['source']}"


def _note(declared: list[str], reported: list[str]) -> str:
    """The declared events' texts, then the names of those reported, not modelled, in one line."""
    parts = [", ".join(declared)] if declared else []
    parts += [", ".join(reported) + ": reported, not modelled (no sourced incidence)"] if reported else []
    return "; ".join(parts)


def events_note(events: Mapping[str, dict]) -> str:
    """One line over an arm's comparator events (``comparator_events_summary``'s ``events``): the
    declared ones with their incidence where the trial has summarised it (``expected_incidence``),
    then those reported, not modelled."""
    declared, reported = [], []
    for name, e in events.items():
        if e["probability"] is None:
            reported.append(_short(name))
            continue
        incidence = e.get("expected_incidence", {}).get("estimate")
        declared.append(f"{_short(name)} {100 * incidence:.3g} % of patients ({_per_exposure(e)})"
                        if incidence is not None else f"{_short(name)} ({_per_exposure(e)})")
    return _note(declared, reported)


def comparator_events_summary(exposure: Mapping[str, np.ndarray],
                              rates: Mapping[str, DeclaredRate] | None = None) -> dict:
    """Per comparator event with any exposure in an arm: its description, its status and the mean
    exposure per patient (sessions, doses or infusions); with a declared rate (``rates``), that
    probability per exposure and its source, and ``risk``: each patient's probability of at least
    one event and expected number (``declared_risk``), for the trial to summarise; ``note``: one line."""
    rates = rates or {}
    events = {}
    for e in COMPARATOR_EVENTS:
        values = np.asarray(exposure.get(e.exposure, ()), dtype=float)
        values = values[np.isfinite(values)]
        if not values.size or not values.any():
            continue
        entry = {"treatment": e.treatment, "description": e.description, "status": e.status,
                 "exposure": e.exposure, "exposure_per_patient": float(values.mean()), "probability": None}
        rate = rates.get(e.name)
        if rate is not None:
            entry |= {"status": DECLARED, "probability": float(rate.probability), "source": rate.source,
                      "risk": declared_risk(values, float(rate.probability))}
        events[e.name] = entry
    if not events:
        return {}
    return {"events": events, "note": events_note(events)}


#: The session kinds of ``ivigsim.dosing.comparators.Session`` and the exposure each counts.
SESSION_EXPOSURES = {"plasma_exchange": "plex_sessions", "scig": "scig_doses",
                     "fcrn_inhibitor": "fcrn_inhibitor_infusions"}


def patient_events_note(exposures: Mapping[str, int], rates: Mapping[str, DeclaredRate] | None = None) -> str:
    """One line for one patient with ``exposures`` (sessions, doses, infusions by exposure
    column): each declared event's probability of at least one over them, then the events
    reported, not modelled; empty without a comparator."""
    summary = comparator_events_summary({k: np.array([float(v)]) for k, v in exposures.items()}, rates)
    declared, reported = [], []
    for name, e in summary.get("events", {}).items():
        if e["probability"] is None:
            reported.append(_short(name))
            continue
        n = int(exposures[e["exposure"]])
        unit = EXPOSURE_UNITS[e["exposure"]]
        declared.append(f"{_short(name)} {100 * float(e['risk'][0][0]):.3g} % over {n} {unit}{'s' if n != 1 else ''} "
                        f"({_per_exposure(e)})")
    return _note(declared, reported)
