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
    from ivigsim.model.library import core_model
    from ivigsim.model.tables import output_markdown, parameter_markdown
    from ivigsim.validation.fcrn_effect import DAYS, fcrn_lowering_table
    from ivigsim.validation.runner import group_of, run_targets, verdict_markdown

    model = core_model()
    rows = fcrn_lowering_table()
    mechanism_modules = {m.name for m in model.modules if m.switch or m.name == "immune"}
    head = "| regimen | FcRn saturation | " + " | ".join(f"day {d}" for d in DAYS) + " |"
    fcrn = [head, "|---|---|" + "---|" * len(DAYS)]
    for r in rows:
        fcrn.append(f"| {r['regimen']} | {'on' if r['fcrn_saturation'] else 'off'} | "
                    + " | ".join(f"{v:.1f} %" for v in r["endogenous_pct"]) + " |")
    verdicts = run_targets()
    return {
        "parameters": parameter_markdown(model),
        "outputs": output_markdown(model),
        **disease_blocks(),
        "validation": verdict_markdown(verdicts),
        "comparator-validation": verdict_markdown(v for v in verdicts if group_of(v.target) == "comparators"),
        "fcrn-lowering": "\n".join(fcrn) + "\n",
        "mechanism-parameters": parameter_markdown(model, mechanism_modules),
        "attribution-diseases": disease_attribution_markdown(),
        "attribution-itp": attribution_markdown(),
        **comparator_blocks(),
        **safety_blocks(),
        **joint_blocks(),
    }


def joint_blocks() -> dict[str, str]:
    """docs/calibration.md's tables of the shipped joint calibration (joint.json): each fitted
    parameter with its Laplace interval, and the profile likelihoods that were run."""
    import json

    from ivigsim.validation.calibrate import JOINT_FILE

    doc = json.loads(JOINT_FILE.read_text())
    fmt = lambda v: "unbounded" if v is None else f"{v:.3g}"  # noqa: E731
    rows = ["| parameter | shipped | estimate | 95 % (Laplace) | identified |", "|---|---|---|---|---|"]
    for r in doc["parameters"]:
        edge = " (at the search box's edge)" if r["at_box_edge"] else ""
        rows.append(f"| `{r['name']}` | {r['shipped']:.4g} | {r['estimate']:.3g}{edge} | "
                    f"{fmt(r['lower95'])}-{fmt(r['upper95'])} | {r['identified']} |")
    laplace = {r["name"]: r for r in doc["parameters"]}
    section = doc.get("profiles", {})
    profiles = ["| parameter | re-fitted with it | around the estimate of (-2 log L) | estimate | 95 % (profile) | "
                "95 % (Laplace, this run) | bounded |", "|---|---|---|---|---|---|---|"]
    for r in section.get("results", []):
        lap = laplace[r["name"]]
        around = r.get("estimate_minus2_log_l", section.get("estimate_minus2_log_l"))
        profiles.append(f"| `{r['name']}` | {', '.join(f'`{n}`' for n in r['refitted']) or '-'} | "
                        f"{'this run' if abs(around - doc['objective']['estimate']['total']) < 1e-6 else 'an earlier run'}"
                        f" ({around:.2f}) | {r['estimate']:.3g} | {fmt(r['lower95'])} to {fmt(r['upper95'])} | "
                        f"{fmt(lap['lower95'])} to {fmt(lap['upper95'])} | {r['identified']} |")
    if len(profiles) == 2:
        profiles.append("| (none run) | | | | | | |")
    targets = ["| target | published | simulated at the shipped values | at the estimate |", "|---|---|---|---|"]
    at_estimate = {t["target"]: t for t in doc["objective"]["estimate"]["terms"]}
    for t in doc["objective"]["shipped"]["terms"]:
        e = at_estimate[t["target"]]
        targets.append(f"| `{t['target']}` | {t['published']:.3g} | {t['simulated']:.3g} (residual {t['residual']:+.2f}) | "
                       f"{e['simulated']:.3g} ({e['residual']:+.2f}) |")
    blocks = ["| block | parameters | -2 log L of its targets: shipped -> block at the estimate | of its checks | checks "
              "| adopted |", "|---|---|---|---|---|---|"]
    for r in doc.get("by_block", {}).get("results", []):
        blocks.append(f"| {r['block']} | {', '.join(f'`{n}`' for n in r['parameters'])} | "
                      f"{r['targets']['shipped']:.1f} -> {r['targets']['block_estimate']:.1f} | "
                      f"{r['checks']['shipped']:.1f} -> {r['checks']['block_estimate']:.1f} | {len(r['checks']['ids'])} | "
                      f"{'yes' if r.get('adopt') else 'no'} |")
    if len(blocks) == 2:
        blocks.append("| (not run) | | | | | |")
    return {"joint-parameters": "\n".join(rows) + "\n", "joint-profiles": "\n".join(profiles) + "\n",
            "joint-targets": "\n".join(targets) + "\n", "joint-by-block": "\n".join(blocks) + "\n",
            "joint-importance": importance_markdown(doc)}


def importance_markdown(doc: dict) -> str:
    """docs/calibration.md's importance-sampling check of the Laplace normal (``calibrate --importance``)."""
    sec = doc.get("importance")
    if not sec:
        return "(not run)\n"
    r = sec["rise_over_quadratic"]
    head = (f"{sec['draws']} draws, {sec['failed_draws']} failed, {sec['below_estimate']} below the estimate's -2 log L; "
            f"**Pareto k {float(sec['pareto_k']):.2f}** ({'reliable' if sec['reliable'] else 'unreliable'}: k < 0.7 "
            f"is), **effective sample size {sec['effective_sample_size']:.0f}**; exact rise over the quadratic's: "
            f"median {r['median']:.2f}, 90 % of draws {r['q05']:.2f}-{r['q95']:.2f}, correlation {r['correlation']:.2f}; "
            f"the departures below explain R^2 = {sec['departure_r2']:.2f} of the difference; "
            f"{sec['runtime_s'] / 60:.0f} min.\n\n")
    weighted = sec["reliable"]
    rows = ["| parameter | estimate | 95 % (Laplace) | SD drawn (fitting scale) | odd departure (per SD) | "
            "even departure (per SD^2) |" + (" 95 % (importance-weighted) |" if weighted else ""),
            "|---|---|---|---|---|---|" + ("---|" if weighted else "")]
    for p in sec["parameters"]:
        lo, hi = p["laplace95"]
        line = (f"| `{p['name']}` | {p['estimate']:.3g} | {lo:.3g}-{hi:.3g} | {p['drawn_sd']:.2f} | "
                f"{p['departure_odd']:+.1f} | {p['departure_even']:+.1f} |")
        if weighted:
            line += f" {p['weighted95'][0]:.3g}-{p['weighted95'][1]:.3g} |"
        rows.append(line)
    return head + "\n".join(rows) + "\n"


def safety_blocks() -> dict[str, str]:
    """The tables of docs/safety.md: the adverse-event targets, covariates, coefficients and pathogens."""
    from ivigsim.validation.safety_tables import blocks as safety_tables

    return {f"safety-{name}": text for name, text in safety_tables().items()}


def disease_blocks() -> dict[str, str]:
    """Every registered disease (``ivigsim.model.library.DISEASES``): its readouts, outputs and parameters."""
    from ivigsim.model.library import DISEASES, build_model
    from ivigsim.model.tables import output_markdown, parameter_markdown

    real = [d for d in DISEASES.values() if d.name != "none"]
    readouts = ["| disease | readout | label | scale | better | thresholds |", "|---|---|---|---|---|---|"]
    readouts += [f"| {d.title} (`{d.name}`) | `{r.name}` | {r.label} | {r.scale[0]:g}-{r.scale[1]:g} | {r.better} | "
                 + ("; ".join(f"{t.value:g}: {t.meaning}" for t in r.thresholds) or "-") + " |"
                 for d in real for r in d.readouts]
    return {
        "disease-readouts": "\n".join(readouts) + "\n",
        "disease-outputs": "\n".join(
            f"### {d.title} (`disease: {d.name}`)\n\n" + output_markdown(build_model(d), {d.module.name})
            for d in real),
        "disease-parameters": "\n".join(
            f"### {d.title}\n\n" + parameter_markdown(build_model(d), {d.module.name}) for d in real),
    }


def comparator_blocks() -> dict[str, str]:
    """The comparators' parameters and outputs (their own model variant), and the checks of
    docs/comparators.md against calibration-targets s.11 and s.12.6."""
    from ivigsim.model.comparators import COMPARATORS
    from ivigsim.model.library import build_model
    from ivigsim.model.tables import output_markdown, parameter_markdown
    from ivigsim.validation import fcrn_blockade

    model = build_model(None, comparators=True)
    names = {m.name for m in COMPARATORS}
    return {
        "comparator-parameters": parameter_markdown(model, names),
        "nipocalimab-constants": nipocalimab_markdown(),
        "valenzuela-igg": valenzuela_igg_markdown(),
        "comparator-outputs": output_markdown(model, names),
        "comparator-checks": comparator_checks_markdown(),
        "ivig-during-fcrn-blockade": fcrn_blockade.markdown(),
    }


def nipocalimab_markdown() -> str:
    """Nipocalimab's constants: the module's parameters it replaces, with their sources."""
    from ivigsim.model.comparators.fcrn_inhibitor import FCRN_INHIBITOR, NIPOCALIMAB, NIPOCALIMAB_VARIABILITY

    declared = {p.name: p for p in FCRN_INHIBITOR.parameters}
    rows = ["| parameter | nipocalimab | between-patient CV | efgartigimod (the parameter's own value) | unit | source |",
            "|---|---|---|---|---|---|"]
    for name, (value, source) in NIPOCALIMAB.items():
        p = declared[name]
        cv = NIPOCALIMAB_VARIABILITY.get(name)
        rows.append(f"| `{name}` | {value:.4g} | {'-' if cv is None else f'{100 * cv[0]:.1f} %'} | {p.value:.4g} | "
                    f"{p.unit} | {source} |")
    return "\n".join(rows) + "\n"


def valenzuela_igg_markdown() -> str:
    """ivigsim's IgG core against Valenzuela 2025's own IgG model, both under nipocalimab (75-kg adult)."""
    import numpy as np

    from ivigsim.validation.comparator_checks import nipocalimab_against_valenzuela

    rows = ["| nipocalimab (75-kg adult, IgG 11.4 g/L) | deepest lowering (day): ivigsim; Valenzuela's model "
            "| IgG at day 28, % of baseline: ivigsim; Valenzuela's model | largest difference over the course |",
            "|---|---|---|---|"]
    for mg_per_kg, days in ((15, [0]), (30, [0]), (60, [0, 14, 28, 42])):
        t, ours, theirs = nipocalimab_against_valenzuela(mg_per_kg, days)
        at28 = int(np.argmin(abs(t - 28.0)))
        label = "1 dose" if len(days) == 1 else "every 2 weeks x 4"
        rows.append(f"| {mg_per_kg} mg/kg, {label} | {100 * (1 - ours.min()):.1f} % (day {t[ours.argmin()]:.0f}); "
                    f"{100 * (1 - theirs.min()):.1f} % (day {t[theirs.argmin()]:.0f}) | {100 * ours[at28]:.0f}; "
                    f"{100 * theirs[at28]:.0f} | {100 * np.abs(ours - theirs).max():.1f} points |")
    return "\n".join(rows) + "\n"


def comparator_checks_markdown() -> str:
    """What the comparators give for the figures of s.11 and s.12.6 (checks, none fitted)."""
    from ivigsim.io.scenario_file import parse_scenario
    from ivigsim.simulation import simulate

    def run(regimen: dict, days: float, every: float = 0.125, **extra) -> tuple:
        ds = simulate(parse_scenario({"regimen": regimen, "simulation": {"days": days, "output_every_days": every},
                                      **extra}))
        return ds.time.values, ds["igg_total_g_per_L"].values[0]

    def at(t, c, day):
        return float(c[abs(t - day).argmin()] / c[0])

    rows = ["| treatment (70-kg man unless stated) | quantity | model | published |",
            "|---|---|---|---|"]
    for pv in (1.0, 1.5):
        t, c = run({"plasma_exchange": {"days": [0], "plasma_volumes": pv, "duration_h": 2}}, 7.0, 1 / 48)
        end = 2.0 / 24
        rows.append(f"| plasma exchange, 1 session of {pv:g} plasma volume{'' if pv == 1 else 's'} (Kaplan, Hct 0.45), "
                    "albumin | total IgG "
                    f"at the session's end; at 24, 48, 72 h | {100 * at(t, c, end):.0f} %; {100 * at(t, c, 1):.0f}, "
                    f"{100 * at(t, c, 2):.0f}, {100 * at(t, c, 3):.0f} % of baseline | 1/3-1/4 just after, about 1/2 "
                    "re-equilibrated (Hanafusa 2014, for 1-1.5 volumes); not recovered to about 100 % by 48-72 h "
                    "(Blood 1980) |")
    t, c = run({"plasma_exchange": {"days": [0, 2, 4, 6, 8], "duration_h": 2}}, 14.0)
    rows.append(f"| plasma exchange, 5 sessions of 1 plasma volume on alternate days | lowest total IgG | "
                f"{100 * c.min() / c[0]:.0f} % of baseline | - |")
    for label, days, extra in (("1 dose", [0], {}), ("4 weekly doses", [0, 7, 14, 21], {}),
                               ("4 weekly doses, typical gMG patient (`disease: mg`)", [0, 7, 14, 21], {"disease": "mg"})):
        t, c = run({"fcrn_inhibitor": {"days": days}}, 112.0, 0.25, **extra)
        i = int(c.argmin())
        last = days[-1]
        rows.append(f"| efgartigimod 10 mg/kg IV, {label} | deepest IgG lowering (day); IgG 8 weeks after the last "
                    f"dose | {100 * (1 - c[i] / c[0]):.0f} % (day {t[i]:.0f}); {100 * at(t, c, last + 56):.0f} % of "
                    "baseline | up to 50 % after one dose, about 75 % with repeated doses, back to baseline about 8 "
                    "weeks after the last (Ulrichts 2018, J Clin Invest 128(10):4372); -55.9 % mean in ADAPT/ADAPT+ gMG |")
    for mg_per_kg, days in ((15, [0]), (60, [0, 14, 28, 42])):
        t, c = run({"fcrn_inhibitor": {"drug": "nipocalimab", "days": days, "mg_per_kg": mg_per_kg}}, 56.0, 0.25,
                   disease="mg")
        i = int(c.argmin())
        label = "1 dose" if len(days) == 1 else "every 2 weeks (days 0, 14, 28, 42)"
        rows.append(f"| nipocalimab {mg_per_kg} mg/kg IV, {label}, typical gMG patient | deepest IgG lowering "
                    f"(day) within 8 weeks; at week 8 | {100 * (1 - c[i] / c[0]):.0f} % (day {t[i]:.0f}); "
                    f"{100 * (1 - c[-1] / c[0]):.0f} % | up to 83 % at 60 mg/kg every 2 weeks (Vivacity-MG) |")
    pid = {"patient": {"weight_kg": 62, "sex": "female"}, "indication": "pid",
           "parameters": {"baseline_igg_g_per_L": 3.0}}
    ivig = {"maintenance": {"g_per_kg": 0.4, "every_days": 28, "start_day": 0, "count": 13,
                            "infusion": {"rate_mg_per_kg_min": 4}}}
    scig = {"scig": {"g_per_kg": 0.1, "every_days": 7, "count": 52}}
    out = {}
    for name, regimen in (("IVIG 0.4 g/kg every 4 weeks", ivig), ("SCIG 0.1 g/kg weekly", scig)):
        t, c = run(regimen, 364.0, **pid)
        last = t >= 336.0
        out[name] = (c[last].mean(), c[last].min(), c[last].max())
    (iv_mean, iv_min, iv_max), (sc_mean, sc_min, sc_max) = out.values()
    rows.append(f"| PID (62-kg woman, own IgG 3 g/L), 0.4 g/kg a month as IVIG every 4 weeks or SCIG weekly, "
                f"weeks 49-52 | mean rise over baseline per 100 mg/kg/month; trough; peak | IVIG "
                f"{100 * (iv_mean - 3.0) / 4:.0f} mg/dL, {iv_min:.2f}, {iv_max:.2f} g/L; SCIG "
                f"{100 * (sc_mean - 3.0) / 4:.0f} mg/dL, {sc_min:.2f}, {sc_max:.2f} g/L "
                f"(ratio {(sc_mean - 3.0) / (iv_mean - 3.0):.2f}) | 121 vs 84 mg/dL per 100 mg/kg/month, ratio 0.694 "
                "(Berger 2013, J Clin Immunol 33(5):984); SCIG: lower peaks, higher troughs |")
    return "\n".join(rows) + "\n"


def disease_attribution_markdown() -> str:
    """For each disease, which mechanisms carry the change in its readout (typical patient)."""
    from ivigsim.attribution import attribute, readout
    from ivigsim.dosing import get_regimen
    from ivigsim.model.library import DISEASES
    from ivigsim.scenario import Scenario

    lines = ["| disease | readout, day | no mechanism | all | FcRn | anti-idiotype | FcgR blockade | B cells | Tregs "
             "| cytokines | complement |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for d in DISEASES.values():
        if d.name == "none":
            continue
        # The main readout on the day the disease's trials read it (its declaration says which).
        name, day = d.readouts[0].name, d.readouts[0].endpoint_day
        a = attribute(Scenario(disease=d, regimen=get_regimen(d.indication), days=day,
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
