"""Adverse events per infusion, and a serious-adverse-event composite, per arm.

From the per-patient safety columns (``ivigsim.safety.trial``: ``ae_<event>_events``, a sampled
count with at most one event of a kind per infusion, and ``ae_<event>_probability``) and each
patient's number of infusions:

- **per infusion**: events / infusions pooled over the arm's patients, with a cluster-robust
  interval (``statistics.rate_per_exposure``: a patient's infusions share its susceptibility);
- **serious composite**: the patients with at least one serious event (observed, Wilson) and
  the expected share, the mean over patients of 1 - prod(1 - p_e): given a patient's drawn risk
  factors the events are independent in the safety model (each has its own susceptibility draw
  and its own uniforms), so that is the probability of at least one; and serious events per
  infusion.

``SERIOUS`` is a **declared grouping**, not a regulatory classification computed by the model:
thrombosis (arterial, venous), acute kidney injury, haemolysis and aseptic meningitis, the
events IVIG labels' boxed warnings and warnings sections single out (thrombosis, renal
dysfunction) and those that usually lead to hospital care. Whether one case meets the ICH E2A
definition of serious (death, hospitalisation, ...) is not modelled.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ivigsim.safety.events import EVENT_NAMES
from ivigsim.trial import statistics

#: The serious-adverse-event composite (a declared grouping; see the module docstring).
SERIOUS = ("arterial_thrombosis", "venous_thrombosis", "acute_kidney_injury", "haemolysis", "aseptic_meningitis")
assert set(SERIOUS) <= set(EVENT_NAMES)
SERIOUS_COLUMNS = tuple(f"ae_{e}_{what}" for e in SERIOUS for what in ("probability", "events"))
DECLARED = ("a declared grouping: thrombosis (arterial, venous), acute kidney injury, haemolysis, aseptic meningitis; "
            "seriousness of single cases (ICH E2A) is not modelled")


def per_infusion(events: np.ndarray, infusions: np.ndarray, level: float = statistics.LEVEL) -> dict:
    return statistics.rate_per_exposure(events, infusions, level).as_dict()


#: The composite's per-patient parts (``serious_parts``): what a streamed summary gathers
#: instead of the ten columns.
SERIOUS_PARTS = ("serious_free", "serious_count", "serious_ok")


def serious_parts(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per patient, from ``SERIOUS_COLUMNS``: prod(1 - p_e) (``serious_free``), the serious
    events summed (``serious_count``) and 1.0 where every column is finite (``serious_ok``).
    Accumulated one event at a time in the order of ``SERIOUS``: the same products and sums,
    bit for bit, as over a stacked table, in a few arrays of the patients' size."""
    first = np.asarray(columns[f"ae_{SERIOUS[0]}_probability"], float)
    free, count, ok = np.ones(len(first)), np.zeros(len(first)), np.ones(len(first), dtype=bool)
    for e in SERIOUS:
        p = np.asarray(columns[f"ae_{e}_probability"], float)
        k = np.asarray(columns[f"ae_{e}_events"], float)
        ok &= np.isfinite(p) & np.isfinite(k)
        free *= 1.0 - p
        count += k
    return {"serious_free": free, "serious_count": count, "serious_ok": ok.astype(float)}


def serious(parts: Mapping[str, np.ndarray], infusions: np.ndarray, level: float = statistics.LEVEL) -> dict:
    """The composite over ``SERIOUS`` from one arm's ``serious_parts``; NaN rows left out."""
    ok = np.asarray(parts["serious_ok"]) == 1.0
    any_p = 1.0 - np.asarray(parts["serious_free"])[ok]
    count = np.asarray(parts["serious_count"])[ok]
    return {"events": list(SERIOUS), "grouping": DECLARED,
            "expected_incidence": statistics.mean_t(any_p, level).as_dict(),
            "observed_incidence": statistics.wilson(int((count > 0).sum()), int(ok.sum()), level).as_dict(),
            "events_per_infusion": statistics.rate_per_exposure(count, np.asarray(infusions, float)[ok], level).as_dict()}


#: Per-patient composite columns an endpoint may read (``ivigsim.trial.endpoints.SAFETY_OUTPUTS``).
COMPOSITE_OUTPUTS = ("ae_serious_events", "ae_serious_probability")


def composite_column(columns: Mapping[str, np.ndarray], output: str) -> np.ndarray:
    """``ae_serious_events`` (serious events summed) or ``ae_serious_probability`` (1 - prod(1 - p_e),
    as ``serious``) of one arm's per-patient safety columns."""
    parts = serious_parts(columns)
    return parts["serious_count"] if output == "ae_serious_events" else 1.0 - parts["serious_free"]
