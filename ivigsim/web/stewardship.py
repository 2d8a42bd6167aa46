"""Stewardship on the web page, as plain functions over documents: several regimens for one
patient side by side (``ivigsim compare``) and the fewest grams per year that keep a response
(``ivigsim optimise``). Nothing here knows HTTP; bad input raises ``InputError`` naming the
field as the API's body names it (``scenarios.1.patient.weight_kg``, ``doses``), with the
library's own message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ivigsim.errors import InputError
from ivigsim.web import service
from ivigsim.web.service import LIMITS, clean

# --- several regimens for one patient ---------------------------------------------------------


def build_regimens(documents: Any, labels: Sequence[str] | None = None) -> tuple[list, list[str] | None]:
    """The library's scenarios from 2 to ``LIMITS.regimens`` scenario documents (each checked by
    ``parse_scenario`` within the web's limits; a field is prefixed with its place in the list)."""
    if not isinstance(documents, list) or not 2 <= len(documents) <= LIMITS.regimens:
        got = len(documents) if isinstance(documents, list) else type(documents).__name__
        raise InputError("scenarios", f"a list of 2 to {LIMITS.regimens} scenario documents on the web page (the "
                         "command line compares up to 10)", got)
    scenarios = []
    for k, document in enumerate(documents):
        with service.with_prefix(f"scenarios.{k}"):
            scenarios.append(service.build_scenario(document))
    if labels is not None:
        labels = [str(label) for label in labels]
        if len(labels) != len(scenarios):
            raise InputError("labels", f"one label per scenario ({len(scenarios)})", len(labels))
        if len(set(labels)) != len(labels):
            raise InputError("labels", "a different label for each scenario", ", ".join(labels))
    return scenarios, labels


def run_regimens(scenarios: list, labels: list[str] | None):
    """``ivigsim.compare.compare``: the scenarios in as few engine batches as their models allow."""
    from ivigsim.compare import compare, labels_for

    try:
        return compare(scenarios, labels if labels is not None else labels_for(scenarios))
    except InputError as exc:
        if exc.field == "FILES":  # the CLI's name for its arguments; the API's is the list
            raise InputError("scenarios", exc.expected, exc.got) from None
        raise


def regimens_result(comparison) -> dict:
    """What the API returns and the catalogue keeps: the table (one record per scenario, the
    CLI's CSV columns), its printed lines, the notes, and each row as the library holds it."""
    return clean({
        "disease": comparison.disease, "labels": [r.label for r in comparison.rows],
        "keys": [chr(ord("A") + k) for k in range(len(comparison.rows))],
        "table": comparison.table().to_dict(orient="records"),
        "lines": comparison.lines(), "notes": list(comparison.notes), "engine_calls": comparison.engine_calls,
        "rows": [asdict(r) for r in comparison.rows],
    })


def table_csv(comparison) -> bytes:
    """The table as ``ivigsim compare`` writes ``compare.csv``."""
    return comparison.table().to_csv(index=False).encode("utf-8")


def comparison_from_stored(result: dict, datasets: list):
    """A ``Comparison`` from a stored result and its datasets: what the figure is drawn from."""
    from ivigsim.compare import Comparison, Row

    rows = []
    for r in result["rows"]:  # JSON has no NaN: a number the library left NaN is back as NaN
        fields = {k: np.nan if v is None and k.endswith(("_g_per_L", "_g", "_day")) else v for k, v in r.items()}
        fields["course_risks"] = tuple((str(e), np.nan if p is None else p) for e, p in r.get("course_risks") or ())
        rows.append(Row(**fields))
    return Comparison(tuple(rows), tuple(datasets), tuple(result.get("notes") or ()), int(result.get("engine_calls", 1)))


def comparison_figure(comparison, title: str, fmt: str = "png") -> bytes:
    from ivigsim.plot_stewardship import compare_figure

    return service.figure_bytes(compare_figure(comparison, title), fmt)


# --- the optimiser --------------------------------------------------------------------------

#: The CLI's option names, as the API's body names them.
_OPTIONS = {"--endpoint": "endpoint", "--target": "target", "--doses": "doses", "--intervals": "intervals",
            "--doses x --intervals": "doses", "--doses/--intervals": "doses", "--arm": "arm", "--size": "size"}


@dataclass(frozen=True)
class Optimisation:
    """A checked optimisation request: the trial, its grid and the rule."""

    trial: Any
    endpoint: str
    target: float
    grid: Any
    conservative: bool
    arm: str | None
    size: int

    @property
    def candidates(self) -> int:
        return len(self.grid.pairs())


def build_optimisation(document: Any, endpoint: Any, target: Any, doses: Any, intervals: Any,
                       conservative: bool = False, arm: str | None = None, size: int | None = None) -> Optimisation:
    """Everything ``ivigsim optimise`` checks before it runs, by the same functions (every
    candidate's regimen compiled), within the web's limits; fields named as in the API's body."""
    from dataclasses import replace

    from ivigsim.trial.optimise import Grid, candidate_trials, check_target

    trial = service.build_trial(document)
    with _option_names():
        target = check_target(target)
        if not isinstance(doses, list) or not isinstance(intervals, list):
            raise InputError("--doses" if not isinstance(doses, list) else "--intervals", "a list of numbers",
                             type(doses if not isinstance(doses, list) else intervals).__name__)
        grid = Grid(tuple(doses), tuple(intervals))
        if size is not None:
            if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= LIMITS.trial_size:
                raise InputError("--size", f"a whole number of patients per candidate from 1 to {LIMITS.trial_size:,} "
                                 "on the web page", size)
            trial = replace(trial, size=size)
        n = len(grid.pairs())
        if n > LIMITS.optimise_candidates:
            raise InputError("--doses x --intervals", f"at most {LIMITS.optimise_candidates} candidates on the web "
                             f"page (the command line takes 400)", n)
        if n * trial.size > LIMITS.optimise_patients:
            raise InputError("--size", f"candidates x patients per candidate of at most {LIMITS.optimise_patients:,} "
                             f"on the web page ({n} candidates: at most {LIMITS.optimise_patients // n:,} patients "
                             "each)", trial.size)
        if not isinstance(endpoint, str):
            raise InputError("--endpoint", "the name of a fraction endpoint of the trial", endpoint)
        candidate_trials(trial, endpoint, grid, arm)  # every refusal before anything is queued
    return Optimisation(trial, endpoint, target, grid, bool(conservative), arm, trial.size)


def _option_names():
    from contextlib import contextmanager

    @contextmanager
    def guard():
        try:
            yield
        except InputError as exc:
            field = _OPTIONS.get(exc.field, exc.field)
            if field == exc.field:
                raise
            raise type(exc)(field, exc.expected, exc.got) from None

    return guard()


def optimum_result(optimum) -> dict:
    """The optimiser's answer as the CLI's ``optimum.json``, with its printed lines and table."""
    return clean({**optimum.as_dict(), "lines": optimum.lines(),
                  "table": optimum.table().to_dict(orient="records")})


def optimum_csv(optimum) -> bytes:
    """The table as ``ivigsim optimise`` writes ``candidates.csv``."""
    return optimum.table().to_csv(index=False).encode("utf-8")


def optimum_figure(optimum, fmt: str = "png") -> bytes:
    from ivigsim.plot_stewardship import optimise_figure

    return service.figure_bytes(optimise_figure(optimum), fmt)
