"""Tables generated from the model declaration (for docs and the CLI)."""

from __future__ import annotations

from collections.abc import Collection

from ivigsim.model.compose import Model
from ivigsim.model.declaration import Parameter

#: What the number in a population's variability mapping means, by scale (docs/trials.md).
VARIABILITY_MEANING = {"log": "CV (log-normal)", "logit": "omega (logit-normal)"}


def variability_meaning(p: Parameter) -> str:
    """How the parameter varies between patients: what its number in a variability mapping is."""
    return VARIABILITY_MEANING[p.variability_scale] if p.may_vary else "-"


def parameter_rows(model: Model, modules: Collection[str] | None = None) -> list[dict]:
    """One row per parameter, optionally only those of the named modules."""
    return [
        {
            "module": m.name,
            "name": p.name,
            "value": p.value,
            "unit": p.unit,
            "provenance": p.provenance,
            "source": p.source,
            "bounds": list(p.bounds),
            "variability_scale": p.variability_scale if p.may_vary else None,
            "variability": variability_meaning(p),
            "description": p.description,
        }
        for m in model.modules
        if modules is None or m.name in modules
        for p in m.parameters
    ]


def parameter_markdown(model: Model, modules: Collection[str] | None = None) -> str:
    lines = [
        "| module | parameter | value | unit | provenance | variability | source |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in parameter_rows(model, modules):
        lines.append(
            f"| {r['module']} | `{r['name']}` | {r['value']:.4g} | {r['unit']} | {r['provenance']} | {r['variability']} "
            f"| {r['source']} |"
        )
    return "\n".join(lines) + "\n"


def output_markdown(model: Model, modules: Collection[str] | None = None) -> str:
    """The result variables (outputs, states, inputs), optionally only those of some modules."""
    lines = ["| output | unit | meaning |", "|---|---|---|"]
    chosen = [m for m in model.modules if modules is None or m.name in modules]
    for m in chosen:
        for a in m.assignments:
            if a.output:
                lines.append(f"| `{a.name}` | {a.unit} | {a.description} |")
    for m in chosen:
        for s in m.states:
            lines.append(f"| `{s.name}` | {s.unit} | state: {s.description or s.name} |")
    for m in chosen:
        for i in m.inputs:
            lines.append(f"| `{i.name}` | {i.unit} | input: {i.description} |")
    return "\n".join(lines) + "\n"
