"""Run targets, compare with published figures, and report (table and Markdown)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ivigsim.validation import mechanism_checks as mc
from ivigsim.validation.pk import PK_SIMULATIONS
from ivigsim.validation.targets import MECHANISM_TARGETS, PK_TARGETS, Target
from ivigsim.validation.trial_targets import DISEASE_TARGETS, READOUTS, run_trial_targets

def _safety_targets() -> tuple[tuple[Target, Callable[[], float]], ...]:
    """Adverse-event rows of calibration-targets s.9 (ivigsim.safety.calibration), in per cent."""
    from ivigsim.safety.calibration import TARGETS

    out = []
    for t in TARGETS:
        if t.id == "arterial-thrombosis-hr":  # a hazard ratio with its published 95 % CI, not a rate
            target = Target(t.id, t.quantity, t.published, "ratio", t.source, "abstract", t.role, "level",
                            interval=(1.25, 9.25))
            out.append((target, lambda t=t: t.simulated()))
        else:
            target = Target(t.id, t.quantity, 100 * t.published, "%", t.source, "abstract", t.role, "rate")
            out.append((target, lambda t=t: 100 * t.simulated()))
    return tuple(out)


SAFETY: tuple[tuple[Target, Callable[[], float]], ...] = _safety_targets()
ALL_TARGETS: tuple[Target, ...] = PK_TARGETS + MECHANISM_TARGETS + DISEASE_TARGETS + tuple(t for t, _ in SAFETY)
SIMULATIONS: dict[str, Callable[..., float]] = {
    **PK_SIMULATIONS,
    "fcgr-onset": mc.fcgr_onset_days,
    "fcgr-duration": mc.fcgr_duration_days,
    "treg-day7": mc.treg_day7_pct,
    "complement-day14": mc.complement_day14_pct,
    "complement-0.5-g-per-kg": mc.complement_after_half_g_pct,
    **{t.id: f for t, f in SAFETY},
}


#: Figure and report groups: the PK core, the mechanisms, each disease, adverse events.
GROUPS: dict[str, str] = {"pk": "IgG pharmacokinetics", "mechanisms": "Mechanisms", "itp": "ITP",
                          "mg": "Myasthenia gravis", "gbs": "Guillain-Barre syndrome", "cidp": "CIDP",
                          "kawasaki": "Kawasaki disease", "safety": "Adverse events"}


def group_of(target: Target) -> str:
    if target in PK_TARGETS:
        return "pk"
    if target in MECHANISM_TARGETS:
        return "mechanisms"
    if target.id in READOUTS:
        return READOUTS[target.id].trial.split("-")[0]  # trial files are named after their disease
    return "safety"


@dataclass(frozen=True)
class Verdict:
    target: Target
    simulated: float
    #: 95 % interval of the simulated value (trial estimates); NaN for deterministic simulations.
    lower: float = float("nan")
    upper: float = float("nan")

    @property
    def passed(self) -> bool:
        return self.target.accepts(self.simulated)

    @property
    def label(self) -> str:
        """pass; GAP (fails, for a documented reason); FAIL (fails, and should not)."""
        if self.passed:
            return "pass"
        return "GAP" if self.target.known_gap else "FAIL"

    @property
    def unexpected_failure(self) -> bool:
        return self.label == "FAIL"


def run_targets(targets: Iterable[Target] = ALL_TARGETS, fast: bool = False) -> list[Verdict]:
    """Simulate every target. ``fast``: disease trials with a few hundred patients per arm."""
    targets = list(targets)
    from_trials = run_trial_targets([t for t in targets if t.id in READOUTS], fast=fast)
    return [Verdict(t, *from_trials[t.id]) if t.id in READOUTS else Verdict(t, SIMULATIONS[t.id]()) for t in targets]


def _interval(t: Target) -> str:
    lo, hi = t.acceptance
    how = ("published" if t.interval else "Wilson, counts" if t.counts
           else "+/-10 pp" if t.kind == "rate" else "+/-20 %")
    return f"{lo:.3g}-{hi:.3g} ({how})"


def _simulated_interval(v: Verdict) -> str:
    return "-" if math.isnan(v.lower) else f"{v.lower:.3g} to {v.upper:.3g}"


def verdict_rows(verdicts: Iterable[Verdict]) -> list[dict]:
    return [
        {
            "target": v.target.id,
            "group": group_of(v.target),
            "quantity": v.target.quantity,
            "role": v.target.role,
            "published": v.target.published,
            "unit": v.target.unit,
            "accepted": _interval(v.target),
            "simulated": round(v.simulated, 4),
            "simulated_interval": _simulated_interval(v),
            "passed": v.passed,
            "verdict": v.label,
            "known_gap": v.target.known_gap,
            "source": v.target.source,
        }
        for v in verdicts
    ]


def verdict_markdown(verdicts: Iterable[Verdict]) -> str:
    lines = [
        "| target | quantity | role | published | accepted | simulated | simulated 95 % interval | verdict | source |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in verdict_rows(verdicts):
        lines.append(
            f"| {r['target']} | {r['quantity']} | {r['role']} | {r['published']:.3g} {r['unit']} | "
            f"{r['accepted']} | {r['simulated']:.3g} | {r['simulated_interval']} | {r['verdict']} | {r['source']} |"
        )
    gaps = [r for r in verdict_rows(verdicts) if r["verdict"] == "GAP"]
    lines += [""] + [f"- GAP `{r['target']}`: {r['known_gap']}" for r in gaps]
    return "\n".join(lines).rstrip() + "\n"
