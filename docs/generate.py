"""Regenerate the parts of the docs that come from the code: `python docs/generate.py`.

Generated blocks sit between `<!-- BEGIN generated:NAME -->` and `<!-- END generated:NAME -->`
markers; the test suite fails when a committed block differs from what the code gives.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DOCS = Path(__file__).parent


def blocks() -> dict[str, str]:
    from ivigsim.model.library import DISEASES, build_model, core_model
    from ivigsim.model.tables import output_markdown, parameter_markdown
    from ivigsim.validation.fcrn_effect import DAYS, fcrn_lowering_table
    from ivigsim.validation.runner import run_targets, verdict_markdown

    model = core_model()
    rows = fcrn_lowering_table()
    mechanism_modules = {m.name for m in model.modules if m.switch or m.name == "immune"}
    head = "| regimen | FcRn saturation | " + " | ".join(f"day {d}" for d in DAYS) + " |"
    fcrn = [head, "|---|---|" + "---|" * len(DAYS)]
    for r in rows:
        fcrn.append(f"| {r['regimen']} | {'on' if r['fcrn_saturation'] else 'off'} | "
                    + " | ".join(f"{v:.1f} %" for v in r["endogenous_pct"]) + " |")
    return {
        "parameters": parameter_markdown(model),
        "outputs": output_markdown(model),
        "disease-outputs": "\n".join(
            f"### {d.title} (`disease: {d.name}`)\n\n" + output_markdown(build_model(d.name), {d.module.name})
            for d in DISEASES.values() if d.name != "none"),
        "validation": verdict_markdown(run_targets()),
        "fcrn-lowering": "\n".join(fcrn) + "\n",
        "mechanism-parameters": parameter_markdown(model, mechanism_modules),
        "disease-parameters": "\n".join(
            f"### {d.title}\n\n" + parameter_markdown(build_model(d.name), {d.module.name})
            for d in DISEASES.values() if d.name != "none"),
        "attribution-diseases": disease_attribution_markdown(),
        "attribution-itp": attribution_markdown(),
    }


def disease_attribution_markdown() -> str:
    """For each disease, which mechanisms carry the change in its readout (typical patient)."""
    from ivigsim.attribution import attribute, readout
    from ivigsim.dosing import get_regimen
    from ivigsim.model.library import DISEASES
    from ivigsim.scenario import Scenario

    days = {"itp": 7.0, "mg": 14.0, "gbs": 28.0, "cidp": 42.0, "kawasaki": 2.0}
    lines = ["| disease | readout, day | no mechanism | all | FcRn | anti-idiotype | FcgR blockade | B cells | Tregs "
             "| cytokines | complement |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for d in DISEASES.values():
        if d.name == "none":
            continue
        name, day = d.readouts[0], days[d.name]
        a = attribute(Scenario(disease=d.name, regimen=get_regimen(d.indication), days=day,
                               output_every_days=day), readout(name, day))
        shares = " | ".join(f"{100 * a.share(m):.0f} %" for m in a.mechanisms)
        lines.append(f"| {d.name} | `{name}`, day {day:g} | {a.none_on:.3g} | {a.all_on:.3g} | {shares} |")
    return "\n".join(lines) + "\n"


def attribution_markdown() -> str:
    from ivigsim.attribution import attribute, readout
    from ivigsim.dosing import get_regimen
    from ivigsim.scenario import Scenario

    scenario = Scenario(regimen=get_regimen("itp"), days=28.0)
    lines = []
    for output, day in (("autoantibody_fraction_of_baseline", 14.0), ("cytokine_fraction_of_baseline", 3.0),
                        ("b_cell_activity_fraction_of_baseline", 14.0)):
        a = attribute(scenario, readout(output, day))
        lines += [f"`{output}` on day {day:g}: {a.none_on:.3f} with no mechanism, {a.all_on:.3f} with all "
                  f"(total effect {a.total:+.3f}; interaction {a.interaction:+.3f})", "",
                  "| mechanism | knock-out | Shapley | share |", "|---|---|---|---|"]
        lines += [f"| {m} | {a.knockout[m]:+.4f} | {a.shapley[m]:+.4f} | {100 * a.share(m):.1f} % |"
                  for m in a.mechanisms]
        lines.append("")
    return "\n".join(lines)


def render(text: str, generated: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        name = match.group(1)
        return f"<!-- BEGIN generated:{name} -->\n{generated[name]}<!-- END generated:{name} -->"

    return re.sub(r"<!-- BEGIN generated:([\w-]+) -->\n.*?<!-- END generated:\1 -->", replace, text, flags=re.S)


def schemas() -> dict[Path, str]:
    """The JSON Schemas of the scenario and trial files, published under docs/schemas/."""
    import json

    from ivigsim.io.scenario_file import scenario_json_schema
    from ivigsim.io.trial_file import trial_json_schema

    return {DOCS / "schemas" / "scenario.schema.json": json.dumps(scenario_json_schema(), indent=2) + "\n",
            DOCS / "schemas" / "trial.schema.json": json.dumps(trial_json_schema(), indent=2) + "\n"}


def stale_files(generated: dict[str, str] | None = None) -> list[Path]:
    generated = generated or blocks()
    stale = [p for p in sorted(DOCS.glob("*.md")) if render(p.read_text(), generated) != p.read_text()]
    return stale + [p for p, text in schemas().items() if not p.exists() or p.read_text() != text]


def main() -> int:
    for path, text in schemas().items():
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"updated {path}")
    generated = blocks()
    for path in sorted(DOCS.glob("*.md")):
        text = path.read_text()
        new = render(text, generated)
        if new != text:
            path.write_text(new)
            print(f"updated {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
