"""Run targets, compare with published figures, and report (table and Markdown).

The verdict rule (``Verdict``):

- a value from a virtual trial carries its 95 % interval (Monte Carlo error: Wilson for a
  rate, t for a mean, order statistics for a median, paired differences for a difference
  between arms); it passes if that interval overlaps the accepted interval. A deterministic
  simulation passes if its value lies inside the accepted interval;
- a target that fails with a documented reason (``known_gap``) is ``GAP``, any other failure
  ``FAIL``;
- an identity (``role="identity"``: holds by construction) that holds is ``IDENTITY``, and is
  not counted among the targets that pass; an identity that does not hold is ``FAIL`` (the
  construction it rests on has changed).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ivigsim.validation import mechanism_checks as mc
from ivigsim.validation.comparator_checks import COMPARATOR_MODELS, COMPARATOR_SIMULATIONS
from ivigsim.validation.pk import PK_SIMULATIONS
from ivigsim.validation.targets import COMPARATOR_TARGETS, MECHANISM_TARGETS, PK_TARGETS, Target
from ivigsim.validation.trial_targets import DISEASE_TARGETS, READOUTS, run_trial_targets

#: Adverse-event rows that hold by construction, with the reason (``ivigsim.validation.safety_calibration``
#: keeps its own role column; validation overrides it here).
SAFETY_IDENTITIES: dict[str, str] = {
    "aseptic-meningitis": "the migraine share of Sekul's cohort is derived from this same row (0.07 / 0.46: the share "
    "that makes the fitted 50 % with and 4 % without migraine average to 11 %), so the overall rate is 11 % by "
    "arithmetic",
}
#: Adverse-event rates published as counts (k of n).
SAFETY_COUNTS: dict[str, tuple[int, int]] = {"aseptic-meningitis": (6, 54),
                                              # Cornblath 2023 (ProCID): shares of patients, arms of 35 and 38
                                              "headache-0.5-g-per-kg": (1, 35), "headache-2-g-per-kg": (9, 38)}


def _safety_targets() -> tuple[tuple[Target, Callable[[], float]], ...]:
    """Adverse-event rows of calibration-targets s.9 (ivigsim.validation.safety_calibration), in per cent."""
    from ivigsim.validation.safety_calibration import TARGETS

    out = []
    for t in TARGETS:
        why = SAFETY_IDENTITIES.get(t.id, "")
        role = "identity" if why else t.role
        if t.id == "arterial-thrombosis-hr":  # a hazard ratio with its published 95 % CI, not a rate
            target = Target(t.id, t.quantity, t.published, "ratio", t.source, "abstract", role, "level",
                            interval=(1.25, 9.25), by_construction=why)
            out.append((target, lambda t=t: t.simulated()))
        else:
            target = Target(t.id, t.quantity, 100 * t.published, "%", t.source, "abstract", role, "rate",
                            counts=SAFETY_COUNTS.get(t.id), by_construction=why)
            out.append((target, lambda t=t: 100 * t.simulated()))
    return tuple(out) + _adult_safety_targets()


def _adult_safety_targets() -> tuple[tuple[Target, Callable[[], float]], ...]:
    """Adult adverse-event rows of calibration-targets s.12.5 (ivigsim.validation.safety_adults): rates in per cent."""
    from ivigsim.validation.safety_adults import TARGETS

    out = []
    for t in TARGETS:
        scale = 100.0 if t.kind == "rate" else 1.0
        target = Target(t.id, t.quantity, scale * t.published, t.unit, t.source, t.confidence, t.role, t.kind,
                        interval=t.interval, note=t.note, known_gap=t.known_gap, counts=t.counts,
                        by_construction=t.by_construction)
        out.append((target, lambda t=t, scale=scale: scale * t.simulated()))
    return tuple(out)


SAFETY: tuple[tuple[Target, Callable[[], float]], ...] = _safety_targets()
ALL_TARGETS: tuple[Target, ...] = (PK_TARGETS + MECHANISM_TARGETS + DISEASE_TARGETS + COMPARATOR_TARGETS
                                   + tuple(t for t, _ in SAFETY))
SIMULATIONS: dict[str, Callable[..., float]] = {
    **PK_SIMULATIONS,
    "fcgr-onset": mc.fcgr_onset_days,
    "fcgr-duration": mc.fcgr_duration_days,
    "treg-day7": mc.treg_day7_pct,
    "complement-day14": mc.complement_day14_pct,
    "complement-0.5-g-per-kg": mc.complement_after_half_g_pct,
    **COMPARATOR_SIMULATIONS,
    **{t.id: f for t, f in SAFETY},
}


def group_of(target: Target) -> str:
    if target in PK_TARGETS:
        return "pk"
    if target in MECHANISM_TARGETS:
        return "mechanisms"
    if target in COMPARATOR_TARGETS:
        return "comparators"
    if target.id in READOUTS:
        return _disease_of_trial(READOUTS[target.id].trial)
    return "safety"


def _disease_of_trial(file_name: str) -> str:
    """Trial files are named after their disease (``itp-robak-2009.yaml``): the longest
    registered disease name the file name starts with."""
    from ivigsim.model.library import DISEASES

    named = [d for d in DISEASES if file_name.startswith(f"{d}-")]
    return max(named, key=len) if named else file_name.split("-")[0]


def _groups() -> dict[str, str]:
    from ivigsim.model.library import DISEASES

    with_targets = {group_of(t) for t in DISEASE_TARGETS}
    return {"pk": "IgG pharmacokinetics", "mechanisms": "Mechanisms",
            **{d.name: d.title for d in DISEASES.values() if d.name in with_targets},
            "comparators": "Comparators (plasma exchange, FcRn inhibitors, SCIG)", "safety": "Adverse events"}


#: Figure and report groups: the PK core, the mechanisms, each registered disease with
#: targets (titled by its declaration), adverse events.
GROUPS: dict[str, str] = _groups()


@dataclass(frozen=True)
class Verdict:
    target: Target
    simulated: float
    #: 95 % interval of the simulated value (trial estimates); NaN for deterministic simulations.
    lower: float = float("nan")
    upper: float = float("nan")

    @property
    def has_interval(self) -> bool:
        return math.isfinite(self.lower) and math.isfinite(self.upper)

    @property
    def point_inside(self) -> bool:
        return math.isfinite(self.simulated) and self.target.accepts(self.simulated)

    @property
    def passed(self) -> bool:
        """Inside the accepted interval, allowing for Monte Carlo error: a value with a simulated
        95 % interval passes if that interval overlaps the accepted one."""
        if self.point_inside:
            return True
        if not (math.isfinite(self.simulated) and self.has_interval):
            return False
        lo, hi = self.target.acceptance
        return self.lower <= hi and self.upper >= lo

    @property
    def by_interval_only(self) -> bool:
        """Passes only because its 95 % interval reaches the accepted interval (the point is outside)."""
        return self.passed and not self.point_inside

    @property
    def label(self) -> str:
        """pass; IDENTITY (holds by construction, not counted); GAP (fails, for a documented
        reason); FAIL (fails, and should not: includes an identity that no longer holds)."""
        if self.passed:
            return "IDENTITY" if self.target.role == "identity" else "pass"
        return "GAP" if self.target.known_gap and self.target.counted else "FAIL"

    @property
    def unexpected_failure(self) -> bool:
        return self.label == "FAIL"


#: The model each deterministic PK or mechanism simulation runs (None: the model without a
#: disease), and parameters it reads beyond that model's own: which parameter overrides reach
#: it. Not listed: the model without a disease. Adverse-event rows take none (their
#: coefficients live in ``ivigsim.safety``, not in the model).
SIMULATION_MODELS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "gbs-delta-igg-day14": ("gbs", ()),  # simulated in the typical GBS patient
    "fcgr-duration": (None, ("phagocytosis_cooperativity",)),  # Bussel's measure uses the ITP model's n
    **{k: (d, ()) for k, d in COMPARATOR_MODELS.items()},  # the typical gMG patient
}
SAFETY_IDS: frozenset[str] = frozenset(t.id for t, _ in SAFETY)


def simulation_parameter_names(target_id: str) -> frozenset[str]:
    """The parameters a deterministic simulation reads: its model's (with the comparators for a
    comparator target, whose treatments are parts of that model) and any listed beside it."""
    from ivigsim.model.library import build_model

    if target_id in SAFETY_IDS:
        return frozenset()
    disease, extra = SIMULATION_MODELS.get(target_id, (None, ()))
    return frozenset(build_model(disease, target_id in COMPARATOR_SIMULATIONS).parameter_names) | set(extra)


def simulation_parameters(target_id: str, overrides: Mapping[str, float]) -> dict[str, float]:
    """The overrides that reach a deterministic simulation: those its model declares (or it reads)."""
    names = simulation_parameter_names(target_id)
    return {k: float(v) for k, v in overrides.items() if k in names}


def run_targets(targets: Iterable[Target] = ALL_TARGETS, fast: bool = False, *,
                overrides: Mapping[str, float] | None = None, sizes: Mapping[str, int] | None = None,
                seed: int | None = None, softness: float = 0.0) -> list[Verdict]:
    """Simulate every target. ``fast``: disease trials with a few hundred patients per arm.

    For calibration (``ivigsim.validation.joint``), each optional and without effect on a
    default run: ``overrides`` applies parameter values to every simulation whose model
    declares them (``simulation_parameters``; trials: ``trial_targets.with_overrides``),
    ``sizes`` sets patients per arm by trial file, ``seed`` every trial's seed, ``softness``
    soft criteria in the trials' fractions and durations (``endpoints.soft_endpoints``)."""
    targets = list(targets)
    from_trials = run_trial_targets([t for t in targets if t.id in READOUTS], fast=fast, overrides=overrides,
                                    sizes=sizes, seed=seed, softness=softness)

    def deterministic(t: Target) -> Verdict:
        if not overrides or t.id in SAFETY_IDS:
            return Verdict(t, SIMULATIONS[t.id]())
        return Verdict(t, SIMULATIONS[t.id](simulation_parameters(t.id, overrides)))

    return [Verdict(t, *from_trials[t.id]) if t.id in READOUTS else deterministic(t) for t in targets]


def _interval(t: Target) -> str:
    lo, hi = t.acceptance
    if t.one_sided and t.kind != "rate":  # a rate's open side stops at 0 or 100 %: shown as a range
        bound = f"<= {hi:.3g}" if t.interval[0] is None else f">= {lo:.3g}"
        return f"{bound} (published, one-sided)"
    if t.interval:
        how = "published, one-sided" if t.one_sided else "published"
    elif t.counts:
        how = f"Wilson, {t.counts[0]}/{t.counts[1]}"
    elif t.kind == "rate":
        band = (t.published - 10.0, t.published + 10.0)
        how = "+/-10 pp" + (", not below 0" if lo > band[0] else "") + (", not above 100" if hi < band[1] else "")
    else:
        how = "+/-20 %"
    return f"{lo:.3g}-{hi:.3g} ({how})"


def _simulated_interval(v: Verdict) -> str:
    return "-" if math.isnan(v.lower) else f"{v.lower:.3g} to {v.upper:.3g}"


def verdict_rows(verdicts: Iterable[Verdict], parameter: ParameterIntervals | None = None) -> list[dict]:
    """One row per verdict; with ``parameter`` (``validate --ensemble``) each row also has
    ``parameter_interval`` (and ``parameter_median``), beside the sampling interval."""
    rows = [
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
            "passed_by_interval_only": v.by_interval_only,
            "verdict": v.label,
            "counted": v.target.counted,
            "known_gap": v.target.known_gap,
            "by_construction": v.target.by_construction,
            "source": v.target.source,
        }
        for v in verdicts
    ]
    if parameter is not None:
        for r in rows:
            r["parameter_median"], r["parameter_interval"] = parameter.median(r["target"]), parameter.text(r["target"])
    return rows


def verdict_markdown(verdicts: Iterable[Verdict], parameter: ParameterIntervals | None = None) -> str:
    extra = f" parameter-uncertainty {100 * parameter.level:.0f} % interval |" if parameter else ""
    lines = [
        "| target | quantity | role | published | accepted | simulated | simulated 95 % interval |" + extra
        + " verdict | source |",
        "|---|---|---|---|---|---|---|" + ("---|" if parameter else "") + "---|---|",
    ]
    verdicts = list(verdicts)
    for r in verdict_rows(verdicts, parameter):
        shown = r["verdict"] + (" (interval)" if r["passed_by_interval_only"] else "")
        lines.append(
            f"| {r['target']} | {r['quantity']} | {r['role']} | {r['published']:.3g} {r['unit']} | "
            f"{r['accepted']} | {r['simulated']:.3g} | {r['simulated_interval']} |"
            + (f" {r['parameter_interval']} |" if parameter else "") + f" {shown} | {r['source']} |"
        )
    lines += ["", f"{summary_line(verdicts)}.", ""] + [f"- {line}" for line in report_notes(verdicts)]
    if parameter is not None:
        lines.append(f"- {parameter.note()}")
    return "\n".join(lines).rstrip() + "\n"


def report_notes(verdicts: Iterable[Verdict]) -> list[str]:
    """One line per documented gap, per identity and per pass that rests on the Monte Carlo interval."""
    verdicts = list(verdicts)
    lines = []
    for v in verdicts:
        t = v.target
        if t.known_gap:
            if v.label == "GAP":
                lines.append(f"GAP `{t.id}`: {t.known_gap}")
            else:
                how = "by its 95 % interval only, the Monte Carlo rule" if v.by_interval_only else "here"
                lines.append(f"documented gap `{t.id}` passes {how}: simulated {v.simulated:.3g}, interval "
                             f"{_simulated_interval(v)}, accepted {_interval(t)}. As documented: {t.known_gap}")
    for v in verdicts:
        if v.target.role == "identity":
            state = "IDENTITY" if v.label == "IDENTITY" else "identity NOT holding (FAIL)"
            lines.append(f"{state} `{v.target.id}`, not counted: {v.target.by_construction}")
    for v in verdicts:
        if v.by_interval_only and not v.target.known_gap:
            lines.append(f"`{v.target.id}` passes by its interval only: simulated {v.simulated:.3g} is outside "
                         f"{_interval(v.target)}, its 95 % interval {_simulated_interval(v)} overlaps it")
    return lines


def summary_line(verdicts: Iterable[Verdict]) -> str:
    """How many targets pass, checks and calibration apart; identities are not counted."""
    verdicts = list(verdicts)
    counted = [v for v in verdicts if v.target.counted]

    def tally(role: str, name: str) -> str:
        mine = [v for v in counted if v.target.role == role]
        gaps = sum(v.label == "GAP" for v in mine)
        return (f"{sum(v.label == 'pass' for v in mine)} of {len(mine)} {name}"
                + (f", {gaps} known gap(s), documented" if gaps else ""))

    passed = sum(v.label == "pass" for v in counted)
    identities = sum(v.target.role == "identity" for v in verdicts)
    return (f"{passed} of {len(counted)} targets pass ({tally('check', 'checks')}; "
            f"{tally('calibration', 'calibration targets')}); {identities} identities (hold by construction) shown, "
            "not counted")


# --- parameter uncertainty (``validate --ensemble``; ivigsim.uncertainty) ----------------------


@dataclass(frozen=True)
class ParameterIntervals:
    """Per target, the simulated value's median and band over a parameter ensemble: every
    simulation and trial re-run under each vector with the same seeds (common random numbers),
    so the band is the parameters' doing, apart from the sampling interval of the point run.
    The verdicts stay those of the shipped parameters."""

    values: Mapping[str, tuple[float, float, float]]  # target id -> (median, lower, upper)
    level: float
    vectors: int
    failed: Mapping[str, int]  # target id -> vectors whose value was not finite

    def median(self, target_id: str) -> float:
        return round(self.values[target_id][0], 4)

    def text(self, target_id: str) -> str:
        _, lo, hi = self.values[target_id]
        return "-" if math.isnan(lo) else f"{lo:.3g} to {hi:.3g}"

    def note(self) -> str:
        from ivigsim.uncertainty import describe

        failed = sum(1 for n in self.failed.values() if n)
        return (f"parameter-uncertainty interval: {describe(self.vectors, self.level)}; every trial re-run under each "
                "vector with the same seeds; verdicts are those of the shipped parameters"
                + (f"; {failed} target(s) had vectors that failed, left out" if failed else ""))


def parameter_intervals(targets: Iterable[Target], ensemble, level: float, fast: bool = False,
                        progress: Callable[[], None] | None = None) -> ParameterIntervals:
    """Run ``targets`` once per vector of ``ensemble`` (an ``ivigsim.uncertainty.Ensemble``),
    each vector moving the calibrated parameters from their shipped values (the values a
    plain run uses: ``joint.shipped_values``) on their fitting scale; ``progress`` is called
    after each vector."""
    import numpy as np

    from ivigsim.uncertainty import band
    from ivigsim.validation.joint import fit_parameter, shipped_values

    targets = list(targets)
    centre = shipped_values(ensemble.names)
    bounds = {n: fit_parameter(n).bounds for n in ensemble.names}
    runs = []
    for overrides in ensemble.values(centre, bounds):
        runs.append([v.simulated for v in run_targets(targets, fast, overrides=overrides)])
        if progress is not None:
            progress()
    table = np.array(runs, dtype=float).reshape(len(runs), len(targets))
    values, failed = {}, {}
    for k, t in enumerate(targets):
        column = table[:, k][np.isfinite(table[:, k])]
        failed[t.id] = len(runs) - len(column)
        values[t.id] = tuple(float(x) for x in band(column, level)) if len(column) else (math.nan,) * 3
    return ParameterIntervals(values, level, len(runs), failed)
