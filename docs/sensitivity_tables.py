"""Fill the tables of docs/sensitivity.md: `python docs/sensitivity_tables.py` (a few minutes).

Each table is the global sensitivity of one read-out of a shipped example scenario
(`examples/*.yaml`), by `ivigsim.sensitivity`: Sobol' indices (S1, ST with 95 % bootstrap
intervals) and, beside them, the Morris mu* rank of the same parameter from an independent
design, so a reader sees where the two methods agree. The blocks sit between
`<!-- BEGIN sensitivity:NAME -->` and `<!-- END sensitivity:NAME -->`; `--check` reports the
blocks that differ from what the code gives now, without writing (too slow for the test
suite, which checks only that every case has its block).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "sensitivity.md"
BLOCK = re.compile(r"<!-- BEGIN sensitivity:([\w-]+) -->\n.*?<!-- END sensitivity:\1 -->", flags=re.S)

#: Sobol' base samples (N(D + 2) solves per table), Morris trajectories, the seed, rows shown.
SOBOL_N = 1024
MORRIS_N = 64
SEED = 0
TOP = 10


@dataclass(frozen=True)
class Case:
    name: str  # the block's name
    example: str  # file under examples/
    output: str
    summary: str = "day"
    day: float | None = None


CASES = (
    Case("itp-platelets-day7", "itp-standard.yaml", "platelets_1e9_per_L", day=7.0),
    Case("mg-qmg-day14", "obese-adjusted-weight.yaml", "qmg_score", day=14.0),
    Case("gbs-score-day28", "gbs-5-day-course.yaml", "gbs_disability_score", day=28.0),
    Case("cidp-incat-day168", "cidp-maintenance.yaml", "incat_score", day=168.0),
    Case("kawasaki-temperature-day2", "kawasaki-child.yaml", "body_temperature_C", day=2.0),
    Case("kawasaki-fever-days", "kawasaki-child.yaml", "fever", summary="auc"),
    Case("healthy-ivig-auc", "healthy-0.2-g-per-kg.yaml", "igg_ivig_g_per_L", summary="auc"),
    Case("itp-igg-auc-day28", "itp-standard.yaml", "igg_total_g_per_L", summary="auc", day=28.0),
)


def case_markdown(case: Case) -> str:
    from ivigsim.io.scenario_file import load_scenario
    from ivigsim.sensitivity import sensitivity

    scenario = load_scenario(ROOT / "examples" / case.example)
    kw = dict(summary=case.summary, day=case.day, seed=SEED)
    sobol = sensitivity(scenario, case.output, method="sobol", n=SOBOL_N, **kw)
    morris = sensitivity(scenario, case.output, method="morris", n=MORRIS_N, **kw)
    rank = {row["parameter"]: i + 1 for i, row in enumerate(morris.rows())}
    rows = sobol.rows()
    lines = [f"`examples/{case.example}`: {sobol.caption()} Morris: {MORRIS_N} trajectories, "
             f"{morris.n_evaluations:,} solves, {morris.n_failed} failed.", "",
             "| parameter | range | S1 (95 % CI) | ST (95 % CI) | Morris rank |", "|---|---|---|---|---|"]
    for r in rows[:TOP]:
        unit = "" if r["unit"] == "dimensionless" else f" {r['unit']}"
        star = "" if r["range_basis"].startswith("assumed") else " *"
        lines.append(f"| `{r['parameter']}` | {r['low']:.3g}-{r['high']:.3g}{unit}{star} | "
                     f"{r['S1']:.2f} +/- {r['S1_conf']:.2f} | {r['ST']:.2f} +/- {r['ST_conf']:.2f} | "
                     f"{rank[r['parameter']]} |")
    rest = rows[TOP:]
    if rest:
        lines.append(f"\nThe other {len(rest)} parameters: ST <= {max(r['ST'] for r in rest):.2g} each.")
    if sobol.held:
        lines.append("Held: " + "; ".join(f"`{n}` ({why})" for n, why in sobol.held) + ".")
    return "\n".join(lines) + "\n"


def ranges_markdown() -> str:
    """The ranges that come from a disease's between-subject variability (the rest are assumed)."""
    from ivigsim.model.library import DISEASES
    from ivigsim.scenario import Scenario
    from ivigsim.sensitivity import parameter_ranges

    lines = ["| disease | parameter | typical | range | from |", "|---|---|---|---|---|"]
    for d in DISEASES.values():
        ranges, _ = parameter_ranges(Scenario(disease=None if d.name == "none" else d.name))
        for r in ranges:
            if not r.basis.startswith("assumed"):
                unit = "" if r.unit == "dimensionless" else f" {r.unit}"
                lines.append(f"| {d.name} | `{r.name}` | {r.typical:.3g}{unit} | {r.low:.3g}-{r.high:.3g} "
                             f"| {r.basis} |")
    return "\n".join(lines) + "\n"


def blocks() -> dict[str, str]:
    out = {"settings": f"Sobol' N = {SOBOL_N} base samples, Morris {MORRIS_N} trajectories "
                       f"(4 levels), seed {SEED}, the {TOP} parameters with the largest ST shown.\n",
           "ranges": ranges_markdown()}
    for case in CASES:
        print(f"  {case.name} ...", file=sys.stderr, flush=True)
        out[case.name] = case_markdown(case)
    return out


def render(text: str, generated: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        name = match.group(1)
        return f"<!-- BEGIN sensitivity:{name} -->\n{generated[name]}<!-- END sensitivity:{name} -->"

    return BLOCK.sub(replace, text)


def main(argv: list[str]) -> int:
    text = PAGE.read_text(encoding="utf-8")
    new = render(text, blocks())
    if "--check" in argv:
        stale = [m.group(1) for m in BLOCK.finditer(text) if m.group(0) not in new]
        print("stale: " + ", ".join(stale) if stale else "current")
        return 1 if stale else 0
    if new != text:
        PAGE.write_text(new, encoding="utf-8")
        print(f"updated {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
