"""Which mechanism carries how much of IVIG's effect: knock-outs and Shapley values.

For a scenario and a read-out (an output at a day, its change from baseline, its peak
or nadir), every coalition of mechanisms (each on as in the scenario, or off) is
simulated in one batch, 2**M patients for M mechanisms (128 for all seven), so exact
enumeration is cheap. From the coalition values v(S):

- **total effect**: v(all on) - v(none on);
- **knock-out effect** of mechanism i: v(all on) - v(all on but i);
- **Shapley value** of i: the average, over every order of switching mechanisms on, of
  the change i makes when it joins. Shapley values add up exactly to the total effect;
  when mechanisms do not interact they equal the knock-out effects.

**Across treatments.** When the regimen gives a comparator (plasma exchange, subcutaneous IgG,
an FcRn inhibitor: ``ivigsim.dosing.comparators``), each comparator it gives is one more player
of the game (``TREATMENT_PLAYERS``): its own effect, "on" with its sessions as prescribed and "off"
without them (IgG removal by the exchange; FcRn blockade by the inhibitor; the IgG absorbed from
SCIG, which then acts through IVIG's mechanisms, the other players). The players' coalitions are
every on/off combination of mechanisms and treatments, so ``none_on`` is the patient with no
mechanism of IVIG and no comparator given, ``all_on`` the scenario as written, and the Shapley
values (mechanisms and treatments together) still add up exactly to the total. Every coalition
runs on the comparator model, one engine batch per subset of treatments given. A regimen without
comparators is attributed exactly as before.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import product

import numpy as np
import xarray as xr

from ivigsim.errors import InputError
from ivigsim.model.library import MECHANISMS, compiled_model
from ivigsim.scenario import Scenario
from ivigsim.simulation import simulate_variants

Readout = Callable[[xr.Dataset], np.ndarray]  # Dataset of variants -> one value per variant

SUMMARIES = ("value", "change", "peak", "nadir")
#: Comparator treatments that take part in attribution as players when the regimen gives them, in
#: this order after the mechanisms: each is switched off by removing its parts from the regimen.
TREATMENT_PLAYERS = ("plasma_exchange", "scig", "fcrn_inhibitor")


def readout(output: str, day: float | None = None, summary: str = "value") -> Readout:
    """A read-out of one output: its value or change from baseline on ``day``, or its peak or nadir."""
    if summary not in SUMMARIES:
        raise InputError("--summary", f"one of {', '.join(SUMMARIES)}", summary)
    if summary in ("value", "change") and day is None:
        raise InputError("--day", f"a day for the '{summary}' read-out", "none")

    def read(ds: xr.Dataset) -> np.ndarray:
        if output not in ds or ds[output].dims != ("patient", "time"):
            names = [n for n, v in ds.data_vars.items() if v.dims == ("patient", "time")]
            raise InputError("--output", f"one of {', '.join(names)}", output)
        series = ds[output]
        if summary == "peak":
            return series.max("time").values
        if summary == "nadir":
            return series.min("time").values
        times = ds["time"].values
        if not times[0] <= day <= times[-1]:
            raise InputError("--day", f"a day within the simulated 0-{times[-1]:g}", day)
        # Linear in time, as xarray's interp would be, without importing scipy.interpolate
        # (0.13 s of a one-patient run's start-up).
        values = series.values
        at = np.array([np.interp(day, times, row) for row in values])
        return at - series.isel(time=0).values if summary == "change" else at

    return read


@dataclass(frozen=True)
class Attribution:
    mechanisms: tuple[str, ...]
    all_on: float
    none_on: float
    knockout: dict[str, float]
    shapley: dict[str, float]

    @property
    def total(self) -> float:
        return self.all_on - self.none_on

    @property
    def interaction(self) -> float:
        """Total effect minus the sum of knock-outs: how far the mechanisms interact."""
        return self.total - sum(self.knockout.values())

    def share(self, mechanism: str) -> float:
        return self.shapley[mechanism] / self.total if self.total else float("nan")


def shapley_values(values: dict[tuple[bool, ...], float], n: int) -> list[float]:
    """Exact Shapley values from the value of every coalition (tuples of on/off flags)."""
    phi = [0.0] * n
    for i in range(n):
        for coalition, v in values.items():
            if coalition[i]:
                continue
            size = sum(coalition)
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            joined = coalition[:i] + (True,) + coalition[i + 1:]
            phi[i] += weight * (values[joined] - v)
    return phi


def coalition_variants(scenario: Scenario, mechanisms: Sequence[str] | None = None):
    """The model, the mechanisms that take part, every on/off coalition of them and, per
    coalition, the switch overrides that make it: what ``attribute`` simulates."""
    model = compiled_model(scenario.disease)
    switches = model.model.switches
    strengths = model.model.switch_overrides(scenario.mechanisms)
    names = list(mechanisms) if mechanisms is not None else [m.name for m in MECHANISMS]
    for name in names:
        if name not in switches:
            raise InputError("mechanisms", f"one of {', '.join(switches)}", name)
    # A mechanism the scenario switched off takes no part; the others keep their strength.
    names = [n for n in names if strengths.get(switches[n], model.model.parameter(switches[n]).value) > 0]
    if not names:
        raise InputError("mechanisms", "at least one mechanism switched on", scenario.mechanisms)
    coalitions = list(product((False, True), repeat=len(names)))
    variants = [
        {switches[n]: (strengths.get(switches[n], model.model.parameter(switches[n]).value) if on else 0.0)
         for n, on in zip(names, c)}
        for c in coalitions
    ]
    return model, names, coalitions, variants


def from_values(names: Sequence[str], coalitions: Sequence[tuple[bool, ...]], values: Sequence[float]) -> Attribution:
    """Knock-outs and Shapley values from the read-out of every coalition (in ``coalitions``' order)."""
    values = dict(zip(coalitions, (float(v) for v in values)))
    every, nothing = tuple([True] * len(names)), tuple([False] * len(names))
    knockout = {n: values[every] - values[every[:i] + (False,) + every[i + 1:]] for i, n in enumerate(names)}
    return Attribution(
        mechanisms=tuple(names),
        all_on=values[every],
        none_on=values[nothing],
        knockout=knockout,
        shapley=dict(zip(names, shapley_values(values, len(names)))),
    )


def treatment_players(scenario: Scenario) -> list[str]:
    """The comparator treatments the scenario's regimen gives (``TREATMENT_PLAYERS`` order)."""
    if scenario.regimen is None:
        return []
    from ivigsim.dosing.comparators import FcRnInhibitor, PlasmaExchange, SubcutaneousIgG

    kinds = {PlasmaExchange: "plasma_exchange", SubcutaneousIgG: "scig", FcRnInhibitor: "fcrn_inhibitor"}
    given = {kinds[type(p)] for p in scenario.regimen.parts if type(p) in kinds}
    return [t for t in TREATMENT_PLAYERS if t in given]


def without_treatments(scenario: Scenario, removed: Sequence[str]) -> Scenario:
    """``scenario`` with the parts of the comparator treatments ``removed`` taken out of its regimen
    (no regimen if nothing is left): a treatment player switched off."""
    if not removed or scenario.regimen is None:
        return scenario
    from ivigsim.dosing.comparators import FcRnInhibitor, PlasmaExchange, SubcutaneousIgG

    kinds = {PlasmaExchange: "plasma_exchange", SubcutaneousIgG: "scig", FcRnInhibitor: "fcrn_inhibitor"}
    parts = tuple(p for p in scenario.regimen.parts if kinds.get(type(p)) not in removed)
    return replace(scenario, regimen=replace(scenario.regimen, parts=parts) if parts else None)


@dataclass(frozen=True)
class _TreatmentGame:
    """The players of attribution across treatments and how each coalition is run: the
    mechanisms' names, coalitions and parameter variants (``coalition_variants``), the treatments
    taking part, and, per on/off combination of those treatments, the scenario without the ones
    off; every coalition on the comparator model."""

    names: list[str]
    coalitions: list[tuple[bool, ...]]
    variants: list[dict]
    treatments: list[str]
    model: object

    def subsets(self, scenario: Scenario):
        """(which treatments are on, the scenario with the others removed), every combination."""
        for given in product((False, True), repeat=len(self.treatments)):
            yield given, without_treatments(scenario, [t for t, on in zip(self.treatments, given) if not on])

    def result(self, values: dict[tuple[bool, ...], float]) -> Attribution:
        return from_values([*self.names, *self.treatments], list(values), list(values.values()))


def _treatment_game(scenario: Scenario, mechanisms: Sequence[str] | None, treatments: list[str]) -> _TreatmentGame:
    if mechanisms is not None:
        unknown = [n for n in mechanisms if n in TREATMENT_PLAYERS and n not in treatments]
        if unknown:
            raise InputError("mechanisms", f"a mechanism, or a treatment the regimen gives ({', '.join(treatments)})",
                             unknown[0])
        treatments = [t for t in treatments if t in mechanisms]
        mechanisms = [n for n in mechanisms if n not in TREATMENT_PLAYERS]
    if mechanisms is not None and not mechanisms:
        names, coalitions, variants = [], [()], [{}]
    else:
        _, names, coalitions, variants = coalition_variants(scenario, mechanisms)
    model = compiled_model(scenario.disease, comparators=True)  # every coalition on one model
    return _TreatmentGame(names, coalitions, variants, treatments, model)


def _attribute_across_treatments(scenario: Scenario, read: Readout, mechanisms: Sequence[str] | None,
                                 treatments: list[str]) -> Attribution:
    """``attribute`` with the regimen's comparator treatments as players (module docstring)."""
    game = _treatment_game(scenario, mechanisms, treatments)
    values: dict[tuple[bool, ...], float] = {}
    for given, sub in game.subsets(scenario):
        ds = simulate_variants(sub, game.variants, game.model)
        failed = int((ds["solver_status"] != 0).sum())
        if failed:
            raise InputError("simulation", "every coalition to solve", f"{failed} failed solves")
        values |= {c + given: float(v) for c, v in zip(game.coalitions, read(ds))}
    return game.result(values)


def _across_treatments(scenario: Scenario, mechanisms: Sequence[str] | None) -> list[str]:
    """The treatments that take part as players: those the regimen gives, unless ``mechanisms``
    names players and none of them is a treatment (then the mechanisms alone, as before)."""
    treatments = treatment_players(scenario)
    return treatments if treatments and (mechanisms is None or any(n in TREATMENT_PLAYERS for n in mechanisms)) else []


def attribute(scenario: Scenario, read: Readout, mechanisms: Sequence[str] | None = None) -> Attribution:
    """Knock-out and Shapley attribution of ``read`` over the scenario's mechanisms (and, when the
    regimen gives comparators, over those treatments too: module docstring)."""
    treatments = _across_treatments(scenario, mechanisms)
    if treatments:
        return _attribute_across_treatments(scenario, read, mechanisms, treatments)
    model, names, coalitions, variants = coalition_variants(scenario, mechanisms)
    ds = simulate_variants(scenario, variants, model)
    failed = int((ds["solver_status"] != 0).sum())
    if failed:
        raise InputError("simulation", "every coalition to solve", f"{failed} failed solves")
    return from_values(names, coalitions, read(ds))


def carried_by(scenario: Scenario, output: str, day: float, top: int = 3) -> str:
    """One line: which mechanisms carried the change in ``output`` by ``day`` (Shapley shares)."""
    # Only the span up to the read-out matters: simulate that, on a coarse grid.
    short = replace(scenario, days=day, output_every_days=day)
    result = attribute(short, readout(output, day))
    if result.total == 0:
        return f"{'the treatment' if treatment_players(scenario) else 'IVIG'} did not change {output} by day {day:g}"
    ranked = sorted(result.mechanisms, key=lambda m: -abs(result.shapley[m]))[:top]
    shares = ", ".join(f"{m} {100 * result.share(m):.0f} %" for m in ranked)
    return f"change in {output} by day {day:g} ({result.total:+.3g}) carried by: {shares}"


# --- parameter uncertainty (ivigsim.uncertainty) ----------------------------------------------

#: Patients x output times per engine batch for ``attribute_ensemble``. Every coalition of
#: every vector at once would be 128 x N patients (12,800 for N = 100; on a 225-point grid
#: about 1.5 GB of trajectories, ~60 numbers per patient-time); batches of whole vectors up
#: to this size keep it near 120 MB.
BATCH_POINTS = 250_000


@dataclass(frozen=True)
class AttributionBand:
    """Attribution at the shipped parameters (``point``) and under each parameter vector of an
    ensemble whose coalitions all solved (``members``): intervals from parameter uncertainty."""

    point: Attribution
    members: tuple[Attribution, ...]
    level: float
    failed: int = 0

    def _band(self, values) -> tuple[float, float, float]:
        from ivigsim.uncertainty import band

        values = np.array([v for v in values if math.isfinite(v)], dtype=float)
        if not len(values):
            return (float("nan"),) * 3
        return tuple(float(x) for x in band(values, self.level))

    def total(self) -> tuple[float, float, float]:
        """(median, lower, upper) of the total effect over the members."""
        return self._band(a.total for a in self.members)

    def shapley(self, mechanism: str) -> tuple[float, float, float]:
        return self._band(a.shapley[mechanism] for a in self.members)

    def knockout(self, mechanism: str) -> tuple[float, float, float]:
        return self._band(a.knockout[mechanism] for a in self.members)

    def share(self, mechanism: str) -> tuple[float, float, float]:
        """(median, lower, upper) of the mechanism's Shapley share of the total effect (a
        member whose total effect is 0 has no share and is left out)."""
        return self._band(a.share(mechanism) for a in self.members)


def attribute_ensemble(scenario: Scenario, read: Readout, ensemble, level: float,
                       mechanisms: Sequence[str] | None = None) -> AttributionBand:
    """``attribute`` at the shipped parameters and under each vector of ``ensemble`` (an
    ``ivigsim.uncertainty.Ensemble``): every coalition of every vector, in engine batches of
    whole vectors (``BATCH_POINTS``). A vector any of whose coalitions fails is left out and
    counted; the point's coalitions must all solve, as in ``attribute``. With comparators as
    players, each vector's coalitions run once per on/off combination of the treatments, with
    the same parameter vector (``simulation.ensemble_variants`` of the scenario as written, so a
    treatment switched off changes nothing else)."""
    from ivigsim.simulation import ensemble_variants, output_times

    point = attribute(scenario, read, mechanisms)
    treatments = _across_treatments(scenario, mechanisms)
    if treatments:
        game = _treatment_game(scenario, mechanisms, treatments)
        runs = list(game.subsets(scenario))
        model, names, coalitions, variants = game.model, game.names, game.coalitions, game.variants
    else:
        model, names, coalitions, variants = coalition_variants(scenario, mechanisms)
        runs = [((), scenario)]
    vectors = ensemble_variants(scenario, ensemble, model)
    per_batch = max(1, BATCH_POINTS // (len(variants) * len(output_times(scenario.days, scenario.output_every_days))))
    members, failed = [], 0
    for start in range(0, len(vectors), per_batch):
        chunk = vectors[start:start + per_batch]
        values = [dict() for _ in chunk]  # per vector: coalition (mechanisms + treatments on) -> value
        ok = np.ones(len(chunk), dtype=bool)
        for given, sub in runs:
            ds = simulate_variants(sub, [{**vec, **v} for vec in chunk for v in variants], model)
            read_out = np.asarray(read(ds), dtype=float).reshape(len(chunk), len(variants))
            ok &= (ds["solver_status"].values == 0).reshape(len(chunk), len(variants)).all(axis=1)
            for j, row in enumerate(read_out):
                values[j] |= {c + given: float(v) for c, v in zip(coalitions, row)}
        failed += int((~ok).sum())
        players = [*names, *treatments]
        members += [from_values(players, list(v), list(v.values())) for v, good in zip(values, ok) if good]
    if not members:
        raise InputError("--ensemble", "parameter vectors whose coalitions solve", "every vector failed")
    return AttributionBand(point, tuple(members), level, failed)
