"""Run targets, compare with published figures, and report (table and Markdown)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ivigsim.validation.pk import PK_SIMULATIONS
from ivigsim.validation.targets import PK_TARGETS, Target

ALL_TARGETS: tuple[Target, ...] = PK_TARGETS
SIMULATIONS: dict[str, Callable[..., float]] = dict(PK_SIMULATIONS)


@dataclass(frozen=True)
class Verdict:
    target: Target
    simulated: float

    @property
    def passed(self) -> bool:
        return self.target.accepts(self.simulated)


def run_targets(targets: Iterable[Target] = ALL_TARGETS) -> list[Verdict]:
    return [Verdict(t, SIMULATIONS[t.id]()) for t in targets]


def _interval(t: Target) -> str:
    lo, hi = t.acceptance
    how = "published" if t.interval else ("+/-10 pp" if t.kind == "rate" else "+/-20 %")
    return f"{lo:.3g}-{hi:.3g} ({how})"


def verdict_rows(verdicts: Iterable[Verdict]) -> list[dict]:
    return [
        {
            "target": v.target.id,
            "quantity": v.target.quantity,
            "role": v.target.role,
            "published": v.target.published,
            "unit": v.target.unit,
            "accepted": _interval(v.target),
            "simulated": round(v.simulated, 4),
            "passed": v.passed,
            "source": v.target.source,
        }
        for v in verdicts
    ]


def verdict_markdown(verdicts: Iterable[Verdict]) -> str:
    lines = [
        "| target | quantity | role | published | accepted | simulated | verdict | source |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in verdict_rows(verdicts):
        lines.append(
            f"| {r['target']} | {r['quantity']} | {r['role']} | {r['published']:.3g} {r['unit']} | "
            f"{r['accepted']} | {r['simulated']:.3g} | {'pass' if r['passed'] else 'FAIL'} | {r['source']} |"
        )
    return "\n".join(lines) + "\n"
