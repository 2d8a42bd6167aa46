"""Property-based: documents generated from the JSON Schemas, and shipped examples with random
mutations, give either a clean refusal (``InputError``) or a finite simulation; never a crash.

The documents are drawn by ``from_schema`` below, a small strategy over the subset of JSON
Schema that pydantic writes (objects, arrays, enums, anyOf, $ref, numbers, strings):
hypothesis-jsonschema 0.23 fails with the locked Hypothesis (its object strategy uses an
internal API that Hypothesis removed), so it is not a dependency.

Spans are shortened before simulating (the property is about what input can do to the code,
not about long runs), and trials are checked by building them (``build_trial``), which
validates everything a run would, without running."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivigsim.errors import InputError
from ivigsim.io.scenario_file import parse_scenario, scenario_json_schema

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
TRIALS = sorted((ROOT / "examples" / "trials").glob("*.yaml"))
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])

def from_schema(schema: dict, root: dict | None = None, depth: int = 0) -> st.SearchStrategy:
    """Values valid for ``schema`` (mostly: bounds are respected where pydantic states them)."""
    root = root or schema
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        return st.deferred(lambda: from_schema(root["$defs"][name], root, depth + 1))
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([from_schema(s, root, depth + 1) for s in schema[key]])
    kind = schema.get("type")
    if kind == "object" and "properties" in schema:
        required = set(schema.get("required", ()))
        fields = {k: from_schema(v, root, depth + 1) for k, v in schema["properties"].items()}
        optional = [k for k in fields if k not in required]
        return st.fixed_dictionaries({k: fields[k] for k in required},
                                     optional={k: fields[k] for k in optional} if depth < 4 else {})
    if kind == "object":
        values = from_schema(schema.get("additionalProperties") or {"type": "number"}, root, depth + 1)
        return st.dictionaries(st.text(max_size=20), values, max_size=3)
    if kind == "array":
        items = schema.get("prefixItems")
        if items:
            return st.tuples(*[from_schema(i, root, depth + 1) for i in items]).map(list)
        return st.lists(from_schema(schema.get("items", {}), root, depth + 1), max_size=3)
    if kind == "number":
        return st.floats(min_value=schema.get("minimum"), max_value=schema.get("maximum"), allow_nan=False)
    if kind == "integer":
        return st.integers(min_value=schema.get("minimum", -10**6), max_value=schema.get("maximum", 10**6))
    if kind == "boolean":
        return st.booleans()
    if kind == "string":
        return st.text(max_size=20)
    if kind == "null":
        return st.none()
    return st.one_of(st.none(), st.booleans(), st.floats(allow_nan=False), st.text(max_size=10))


#: What a mutation may put in place of a value: wrong types, extremes, junk text.
JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**30, max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["1e999", "-0", "nan", "154 lb", "3 weeks", "2 g/kg", "__import__('os')", "\x1b[2J", ""]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _paths(doc, prefix=()):
    """Every path to a value in a nested document."""
    yield prefix
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from _paths(value, (*prefix, i))


def _set(doc, path, value):
    if not path:
        return value
    doc = copy.deepcopy(doc)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


def _short(doc):
    """The same document with a short span, so a generated 20-year simulation stays quick."""
    if isinstance(doc, dict):
        sim = doc.get("simulation")
        if isinstance(sim, dict):
            sim = dict(sim)
            sim["days"] = 14
            sim.pop("output_every_days", None)
            doc = {**doc, "simulation": sim}
    return doc


def _simulate_or_refuse(doc) -> None:
    from ivigsim.simulation import simulate

    try:
        ds = simulate(parse_scenario(doc))
    except InputError as exc:  # at parse time, or when the model meets the parameters
        assert str(exc).count("\n") == 0 and len(str(exc)) < 2000
        return
    if int(ds["solver_status"][0]) == 0:
        for name in ("igg_total_g_per_L", "autoantibody_fraction_of_baseline"):
            values = ds[name].values
            assert np.isfinite(values).all() and (values >= -1e-9).all(), name


@SETTINGS
@given(from_schema(scenario_json_schema()))
def test_documents_from_the_scenario_schema_are_refused_cleanly_or_simulated(doc):
    _simulate_or_refuse(_short(doc))


@SETTINGS
@given(st.sampled_from(EXAMPLES), st.data(), JUNK)
@pytest.mark.slow  # 2 s or more (README run under 5 minutes): in CI and with --run-slow
def test_mutated_example_scenarios_are_refused_cleanly_or_simulated(path, data, junk):
    doc = yaml.safe_load(path.read_text())
    where = data.draw(st.sampled_from(list(_paths(doc))[1:]))
    _simulate_or_refuse(_short(_set(doc, where, junk)))


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(TRIALS), st.data(), JUNK)
def test_mutated_trial_files_are_refused_cleanly_or_build(tmp_path_factory, path, data, junk):
    from ivigsim.io.trial_file import load_trial

    doc = yaml.safe_load(path.read_text())
    where = data.draw(st.sampled_from(list(_paths(doc))[1:]))
    mutated = tmp_path_factory.mktemp("trial") / path.name
    try:
        text = yaml.safe_dump(_set(doc, where, junk), allow_unicode=True)
    except (yaml.YAMLError, ValueError):
        return
    mutated.write_text(text)
    for extra in ("covariates.csv",):  # trial files may read a file beside them
        if (path.parent / extra).exists():
            (mutated.parent / extra).write_text((path.parent / extra).read_text())
    try:
        trial = load_trial(mutated)
    except InputError as exc:
        assert str(exc).count("\n") == 0 and len(str(exc)) < 2000
        return
    assert trial.size >= 1 and math.isfinite(trial.days)
