"""Markdown tables of the safety models for docs/safety.md, generated from the code.

The blocks sit between ``<!-- BEGIN safety:NAME -->`` and ``<!-- END safety:NAME -->``;
``python -m ivigsim.safety.tables docs/safety.md`` rewrites them, and
``tests/test_safety_calibration.py`` fails when the committed page differs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .adults import targets_markdown as adult_targets_markdown
from .calibration import targets_markdown
from .events import COVARIATES, coefficient_markdown
from .infection import PATHOGENS, STEPS

_BLOCK = re.compile(r"<!-- BEGIN safety:([\w-]+) -->\n.*?<!-- END safety:\1 -->", flags=re.S)


def covariate_markdown() -> str:
    return "\n".join(["| covariate | meaning |", "|---|---|",
                      *(f"| `{c.name}` | {c.meaning} |" for c in COVARIATES.values())]) + "\n"


def pathogen_rows() -> str:
    head = ("| pathogen | enveloped | residual risk per donation | titre, log10 units/mL | solvent-detergent "
            "| nanofiltration | low pH | neutralising antibodies |\n|---|---|---|---|---|---|---|---|\n")
    return head + "".join(
        f"| {p.name} | {'yes' if p.enveloped else 'no'} | 1 in {1 / p.residual_risk_per_donation:,.0f} | "
        f"{p.titre_log10_per_mL:g} | " + " | ".join(f"{p.log10_reduction[s]:g}" for s in STEPS) + " |\n"
        for p in PATHOGENS)


def blocks() -> dict[str, str]:
    return {"targets": targets_markdown(), "adult-targets": adult_targets_markdown(), "covariates": covariate_markdown(),
            "coefficients": coefficient_markdown(), "pathogens": pathogen_rows()}


def render(text: str, generated: dict[str, str] | None = None) -> str:
    generated = generated or blocks()

    def replace(match: re.Match) -> str:
        name = match.group(1)
        return f"<!-- BEGIN safety:{name} -->\n{generated[name]}<!-- END safety:{name} -->"

    return _BLOCK.sub(replace, text)


def main(path: str) -> int:  # pragma: no cover - a maintenance command
    page = Path(path)
    page.write_text(render(page.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/safety.md"))
