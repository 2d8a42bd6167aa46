"""Per-arm adverse-event incidences of a trial, with intervals, from the per-patient safety
columns that ``ivigsim.safety.trial.safety_columns`` computes (trial statistics on science output)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

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
