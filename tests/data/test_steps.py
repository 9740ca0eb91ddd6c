"""The step language declared once (data/pipeline/registry.py): models, spellings, errors,
nesting, the generated reference."""

from __future__ import annotations

import copy
import subprocess
import sys
import time
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from tests.data.conformance import FIXTURE_VARIABLES, FIXTURES, NOT_SQL, Case, cases
from toucan.data.pipeline import reference
from toucan.data.pipeline.registry import MAX_NESTING, REGISTRY, parse_pipeline
from toucan.data.pipeline.sql import ident
from toucan.data.pipeline.step import Spec, Step, to_camel
from toucan.data.query import compile_request
from toucan.errors import NotFound, NotSupported, ToucanError, ValidationError
from toucan.templating import render

ROOT = Path(__file__).resolve().parents[2]
SALES = {"name": "domain", "domain": "sales"}


def _resolve(domain: str) -> str:
    """Domains as tables, like the service's resolver: an unknown one is a 404."""
    if not domain.isprintable():
        raise NotFound(f"No domain {domain!r}.")
    return ident(domain)


def _compile(pipeline: Any) -> tuple[str, list[Any]]:
    compiled = compile_request(pipeline, resolve_domain=_resolve, row_filters={})
    return compiled.sql, compiled.params


def _outcome(pipeline: Any) -> tuple[Any, ...]:
    """The SQL, or the error (some fixtures hold other dialects' SQL): what must not change."""
    try:
        return _compile(pipeline)
    except ToucanError as exc:
        return type(exc).__name__, exc.message, exc.details


def _error(pipeline: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        _compile(pipeline)
    return info.value


# --- spellings ---------------------------------------------------------------------------------


def _inner_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if typing.get_origin(annotation) is None and not isinstance(annotation, types.UnionType):
        return []
    return [m for arg in typing.get_args(annotation) for m in _inner_models(arg)]


def respell(value: Any, style: str, model: type[BaseModel] | None = None) -> Any:
    """`value` with every field of every step (and part of a step) spelled in `style`:
    `snake` (the canonical spelling) or `camel`."""
    if isinstance(value, list):
        return [respell(v, style, model) for v in value]
    if not isinstance(value, dict):
        return value
    if model is None:  # a step: its model from its name
        kind = REGISTRY.get(value.get("name"))  # type: ignore[arg-type]
        if kind is None:
            return value
        model = kind.model
    if not issubclass(model, Spec):  # conditions: one-word keys
        return value
    spellings = model.field_spellings()
    out: dict[str, Any] = {}
    for key, v in value.items():
        field = next((f for f, names in spellings.items() if key in names), None)
        if field is None:  # a legacy key the model rewrites
            out[key] = v
            continue
        canonical = spellings[field][0]
        camel = to_camel(canonical)
        assert camel in spellings[field] or camel == canonical, (model.__name__, camel)
        inner = _inner_models(model.model_fields[field].annotation)
        nested_model = next((m for m in inner if issubclass(m, Spec)), None)
        if field in ("right_pipeline", "pipelines"):
            v = respell(v, style) if field == "right_pipeline" else [respell(p, style) for p in v]
        elif nested_model is not None:
            v = respell(v, style, nested_model)
        out[canonical if style == "snake" else camel] = v
    return out


SQL_CASES = [c for c in cases() if c.step not in NOT_SQL]


def _pipeline(case: Case) -> list[dict[str, Any]]:
    steps = render(case.data["step"]["pipeline"], FIXTURE_VARIABLES)
    return [{"name": "domain", "domain": "__input"}, *steps]


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="conformance fixtures not found")
@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in SQL_CASES])
def test_every_fixture_validates_in_both_spellings_and_compiles_to_the_same_sql(case: Case) -> None:
    pipeline = _pipeline(case)
    sql = _outcome(pipeline)
    snake, camel = respell(pipeline, "snake"), respell(pipeline, "camel")
    assert _outcome(snake) == sql
    assert _outcome(camel) == sql
    if len(sql) == 3:  # refused (another dialect's SQL, a pipeline without domain): refused alike
        return
    # One canonical form: both spellings dump alike, and the dump compiles the same.
    dumps = [[s.model_dump(by_alias=True) for s in parse_pipeline(p)] for p in (pipeline, snake, camel)]  # type: ignore[union-attr]
    assert dumps[0] == dumps[1] == dumps[2]
    assert _outcome(dumps[0]) == sql


def test_camel_case_spellings_weaverbird_accepts_are_accepted() -> None:
    snake = {"name": "top", "rank_on": "revenue", "sort": "desc", "limit": 2, "groups": ["country"]}
    camel = {"name": "top", "rankOn": "revenue", "sort": "desc", "limit": 2, "groups": ["country"]}
    assert _compile([SALES, camel]) == _compile([SALES, snake])
    for name, kind in REGISTRY.items():
        for field, names in kind.model.field_spellings().items():
            if field != "name":
                assert names[0] == field or field in ("condition", "else_value"), (name, names)
                assert to_camel(names[0]) in names, (name, names)


def test_a_step_dumps_its_canonical_form() -> None:
    (_, cumsum) = parse_pipeline(
        [SALES, {"name": "cumsum", "toCumSum": [["revenue", None]], "referenceColumn": "date", "groups": ["c"]}]
    )
    assert isinstance(cumsum, Step)
    assert cumsum.model_dump(by_alias=True) == {
        "name": "cumsum",
        "to_cumsum": [("revenue", None)],
        "reference_column": "date",
        "groupby": ["c"],
    }
    ite = parse_pipeline(
        [SALES, {"name": "ifthenelse", "newColumn": "x", "if": {"column": "a", "value": 1}, "then": 1, "else": 2}]
    )[1]
    assert ite.model_dump(by_alias=True, exclude_defaults=True) == {  # type: ignore[union-attr]
        "name": "ifthenelse",
        "if": {"column": "a", "value": 1},
        "then": 1,
        "else": 2,
        "new_column": "x",
    }


def test_legacy_forms_are_still_accepted() -> None:
    same = [
        ({"name": "rename", "to_rename": ["a", "b"]}, {"name": "rename", "to_rename": [["a", "b"]]}),
        ({"name": "rename", "oldname": "a", "newname": "b"}, {"name": "rename", "to_rename": [["a", "b"]]}),
        ({"name": "fillna", "column": "a", "value": 0}, {"name": "fillna", "columns": ["a"], "value": 0}),
        (
            {"name": "cumsum", "valueColumn": "v", "referenceColumn": "d"},
            {"name": "cumsum", "to_cumsum": [["v", ""]], "reference_column": "d"},
        ),
        (
            {"name": "aggregate", "aggregations": [{"column": "v", "aggfunction": "sum", "newcolumn": "t"}]},
            {"name": "aggregate", "aggregations": [{"columns": ["v"], "agg_function": "sum", "new_columns": ["t"]}]},
        ),
        (
            {"name": "dateextract", "column": "d", "operation": "year"},
            {"name": "dateextract", "column": "d", "date_info": ["year"], "new_columns": ["d_year"]},
        ),
    ]  # fmt: skip
    for legacy, current in same:
        assert _compile([SALES, legacy]) == _compile([SALES, current]), legacy


# --- errors ------------------------------------------------------------------------------------


def test_errors_name_the_step_the_field_and_what_was_expected() -> None:
    error = _error([SALES, {"name": "top", "rankOn": "revenue", "limit": "three"}])
    assert error.details == {"step": 1, "name": "top", "field": "limit", "problem": "int_parsing"}
    assert "Step 1 (top)" in error.message and "'limit'" in error.message and "integer" in error.message

    error = _error([SALES, {"name": "top", "limit": 3}])
    assert error.details["field"] == "rank_on"
    assert "'rank_on' (or 'rankOn') is missing" in error.message

    error = _error([SALES, {"name": "top", "rank_on": "a", "rankOn": "b", "limit": 3}])
    assert "same field" in error.message and error.details["field"] == "rankOn"

    error = _error([SALES, {"name": "top", "rank_on": "a", "limit": 3, "sort": "up"}])
    assert "'asc' or 'desc'" in error.message and error.details["field"] == "sort"

    error = _error([SALES, {"name": "select", "columns": ["a"], "colour": "red"}])
    assert "unknown field 'colour'" in error.message and "columns" in error.message
    assert error.details["field"] == "colour"

    error = _error([SALES, {"name": "aggregate", "aggregations": [{"columns": ["a"], "aggfunction": "median"}]}])
    assert error.details["field"] == "aggregations"
    assert error.details["location"] == ["aggregations", 0, "aggfunction"]
    assert '"median"' in error.message and "'count distinct'" in error.message

    error = _error([SALES, {"name": "filter", "condition": {"or": [{"column": "a", "operator": "equals"}]}}])
    assert error.details["location"] == ["condition", "or", 0]
    assert "unknown operator 'equals'" in error.message and "notmatches" in error.message

    error = _error([SALES, {"name": "fitler", "condition": {}}])
    assert error.details == {"step": 1, "name": "fitler", "field": "name"} and "'filter'" in error.message

    error = _error([SALES, {"name": "select", "columns": ["a\x00b"]}])
    assert "control characters" in error.message


def test_nested_pipelines_give_the_path() -> None:
    join = {"name": "join", "right_pipeline": [SALES, {"name": "top", "limit": 1}], "on": [["a", "a"]]}
    assert _error([SALES, join]).details["step"] == [1, 1]
    append = {"name": "append", "pipelines": ["sales", [SALES, {"name": "sort", "columns": [{"column": 1}]}]]}
    error = _error([SALES, {"name": "select", "columns": ["a"]}, append])
    assert error.details["step"] == [2, 1, 1] and error.details["location"] == ["columns", 0, "column"]
    assert error.message.startswith("Step 2.1.1 (sort)")
    assert _error([SALES, {**join, "right_pipeline": [{"name": "top"}]}]).details == {"step": [1, 0], "field": "domain"}


# Malformed values of every type in every field of every fixture step: a 400 (or a valid
# step), never another exception, and never Python's own words.
ODD_VALUES: list[Any] = [None, 0, -1, 2.5, True, "", "x", "\x00", [], [None], [[]], {}, {"a": 1}, [{"a": 1}]]
PYTHON_WORDS = ("object has no attribute", "NoneType", "unhashable", "not subscriptable", "not iterable", "Traceback")


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="conformance fixtures not found")
def test_malformed_fields_are_400s_in_our_words() -> None:
    seen: set[tuple[str, str]] = set()
    for case in SQL_CASES:
        pipeline = _pipeline(case)
        for index, step in enumerate(pipeline[1:], start=1):
            for key in step:
                if key == "name" or (step["name"], key) in seen:
                    continue
                seen.add((step["name"], key))
                for odd in ODD_VALUES:
                    broken = copy.deepcopy(pipeline)
                    broken[index][key] = odd
                    try:
                        _compile(broken)
                    except ToucanError as exc:
                        assert not any(w in exc.message for w in PYTHON_WORDS), (case.id, key, odd, exc.message)
    assert len(seen) > 100


# --- nesting -----------------------------------------------------------------------------------


def _nested_condition(depth: int, key: str = "and") -> dict[str, Any]:
    condition: dict[str, Any] = {"column": "a", "operator": "eq", "value": 1}
    for _ in range(depth):
        condition = {key: [condition]}
    return condition


def _nested_pipelines(depth: int, step: str) -> list[dict[str, Any]]:
    pipeline: list[dict[str, Any]] = [SALES]
    for _ in range(depth):
        if step == "append":
            pipeline = [SALES, {"name": "append", "pipelines": [pipeline]}]
        else:
            pipeline = [SALES, {"name": "join", "right_pipeline": pipeline, "on": [["a", "a"]]}]
    return pipeline


def _nested_else(depth: int) -> dict[str, Any]:
    branch: Any = 0
    for _ in range(depth):
        branch = {"if": {"column": "a", "value": 1}, "then": 1, "else": branch}
    return {"name": "ifthenelse", "new_column": "x", **branch}


@pytest.mark.parametrize(
    "deep",
    [
        [SALES, {"name": "filter", "condition": _nested_condition(1000)}],
        [SALES, {"name": "filter", "condition": _nested_condition(1000, "or")}],
        _nested_pipelines(1000, "append"),
        _nested_pipelines(1000, "join"),
        [SALES, _nested_else(1000)],
        [{"$match": {"domain": "sales", **{"$and": [_nested_condition(1000, "$and")]}}}],
        [{"$match": {"domain": "sales"}}, {"$project": {"x": _nested_condition(1000, "$add")}}],
    ],
    ids=["and", "or", "append", "join", "ifthenelse", "mongo-match", "mongo-expr"],
)
def test_deep_nesting_is_a_400_never_a_recursion_error(deep: Any) -> None:
    with pytest.raises(ValidationError) as info:
        _compile(deep)
    assert info.value.code == "too_deep", info.value.message
    assert str(MAX_NESTING) in info.value.message and "TOUCAN_MAX_NESTING_DEPTH" in info.value.message


def test_reasonable_nesting_compiles() -> None:
    """Within TOUCAN_MAX_NESTING_DEPTH (64 levels of objects and lists by default)."""
    _compile([SALES, {"name": "filter", "condition": _nested_condition(25)}])
    _compile(_nested_pipelines(12, "append"))
    _compile(_nested_pipelines(12, "join"))
    _compile([SALES, _nested_else(25)])


def test_geographic_and_mongo_steps_are_not_supported() -> None:
    for name in ("dissolve", "simplify", "custom"):
        with pytest.raises(NotSupported) as info:
            _compile([SALES, {"name": name}])
        assert info.value.details == {"step": 1, "name": name}


# --- speed -------------------------------------------------------------------------------------


def test_validating_a_ten_step_pipeline_costs_well_under_a_millisecond() -> None:
    sys.path.insert(0, str(ROOT / "bench" / "data"))
    from compile_time import TEN_STEPS  # type: ignore[import-not-found]

    parse_pipeline(TEN_STEPS)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(200):
            parse_pipeline(TEN_STEPS)
        best = min(best, (time.perf_counter() - start) / 200)
    assert best < 0.0005, f"{best * 1e6:.0f} µs"  # ~60 µs on the bench machine: room for a loaded one


# --- the reference -----------------------------------------------------------------------------


def test_the_step_reference_in_the_docs_is_generated_from_the_models() -> None:
    doc = (ROOT / "docs" / "pipelines.md").read_text()
    assert reference.updated(doc) == doc, "docs/pipelines.md is stale: run `make docs`"
    for name in REGISTRY:
        assert f"| `{name}`<br>" in doc


def test_the_reference_check_command_fails_when_the_docs_differ(tmp_path: Path, monkeypatch: Any) -> None:
    ok = subprocess.run([sys.executable, "-m", "toucan.data.pipeline.reference", "--check"], capture_output=True)
    assert ok.returncode == 0, ok.stderr
    stale = tmp_path / "pipelines.md"
    stale.write_text((ROOT / "docs" / "pipelines.md").read_text().replace("| `top`<br>", "| `topp`<br>"))
    monkeypatch.setattr(reference, "DOC_PATH", stale)
    monkeypatch.setattr(sys, "argv", ["reference", "--check"])
    with pytest.raises(SystemExit) as info:
        reference.main()
    assert info.value.code == 1
