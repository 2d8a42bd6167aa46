"""Markdown tables of the safety models and their targets for docs/safety.md, from the code.

The project's docs generator writes them (``python docs/generate.py``, blocks
``generated:safety-NAME``); ``tests/test_safety_calibration.py`` and ``tests/test_docs.py``
fail when the committed page differs.
"""

from __future__ import annotations

from ivigsim.safety.events import COVARIATES, coefficient_markdown
from ivigsim.safety.infection import PATHOGENS, STEPS
from ivigsim.validation.safety_adults import targets_markdown as adult_targets_markdown
from ivigsim.validation.safety_calibration import targets_markdown


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
    """The tables by block name (``docs/generate.py`` names them ``safety-NAME``)."""
    return {"targets": targets_markdown(), "adult-targets": adult_targets_markdown(), "covariates": covariate_markdown(),
            "coefficients": coefficient_markdown(), "pathogens": pathogen_rows()}
