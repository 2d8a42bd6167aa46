"""Per-arm adverse-event incidences of a trial, with intervals, from the per-patient safety
columns that ``ivigsim.safety.trial.safety_columns`` computes (trial statistics on science output)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ivigsim.safety.comparators import DeclaredRate, comparator_events_summary, events_note
from ivigsim.safety.events import EVENTS
from ivigsim.trial import statistics


def summarise_safety(columns: Mapping[str, np.ndarray], events=EVENTS, level: float = statistics.LEVEL) -> dict:
    """Per event: expected incidence (mean probability, t interval) and observed (Wilson)."""
    out = {}
    for e in events:
        probability = np.asarray(columns[f"ae_{e.name}_probability"], float)
        counts = np.asarray(columns[f"ae_{e.name}_events"], float)
        ok = np.isfinite(probability) & np.isfinite(counts)
        out[e.name] = {
            "expected_incidence": statistics.mean_t(probability[ok], level).as_dict(),
            "observed_incidence": statistics.wilson(int((counts[ok] > 0).sum()), int(ok.sum()), level).as_dict(),
            "events_per_patient": float(counts[ok].mean()) if ok.any() else None,
        }
    return out


def summarise_comparator_events(columns: Mapping[str, np.ndarray], rates: Mapping[str, DeclaredRate] | None = None,
                                level: float = statistics.LEVEL) -> dict:
    """An arm's ``comparator_adverse_events`` from its per-patient use columns (``ivigsim.safety.
    comparators``): every event of the comparators it gives, and for those the trial declares a
    rate for, the expected incidence (each patient's probability of at least one event, mean with a
    t interval) and the expected events per patient. No sampled events: the exposure is known per
    patient, so the mean probability is the incidence, without a second draw's noise."""
    summary = comparator_events_summary(columns, rates)
    for e in summary.get("events", {}).values():
        risk = e.pop("risk", None)
        if risk is not None:
            probability, expected = risk
            e["expected_incidence"] = statistics.mean_t(probability, level).as_dict()
            e["expected_events_per_patient"] = statistics.mean_t(expected, level).as_dict()
    if summary:
        summary["note"] = events_note(summary["events"])
    return summary
