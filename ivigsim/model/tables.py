"""Tables generated from the model declaration (for docs and the CLI)."""

from __future__ import annotations

from collections.abc import Collection

from ivigsim.model.compose import Model


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
            "description": p.description,
        }
        for m in model.modules
        if modules is None or m.name in modules
        for p in m.parameters
    ]


def parameter_markdown(model: Model, modules: Collection[str] | None = None) -> str:
    lines = [
        "| module | parameter | value | unit | provenance | source |",
        "|---|---|---|---|---|---|",
    ]
    for r in parameter_rows(model, modules):
        lines.append(
            f"| {r['module']} | `{r['name']}` | {r['value']:.4g} | {r['unit']} | {r['provenance']} | {r['source']} |"
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
