"""`GET /pipeline-steps`: the step language's JSON Schema, for the studio's forms."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.data.conformance import FIXTURE_VARIABLES, FIXTURES, NOT_SQL, cases
from tests.helpers.api import assert_error
from toucan.data.pipeline.registry import REGISTRY, parse_pipeline
from toucan.errors import NotSupported, ValidationError
from toucan.templating import render

jsonschema_rs = pytest.importorskip("jsonschema_rs")  # installed with the test tools (schemathesis)


def _catalog(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get("/pipeline-steps", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _validators(body: dict[str, Any]) -> dict[str, Any]:
    return {step["name"]: jsonschema_rs.validator_for(step["schema"]) for step in body["steps"]}


def test_anonymous_callers_get_401(client: TestClient) -> None:
    assert_error(client.get("/pipeline-steps"), 401)


def test_any_logged_in_user_gets_every_step_with_its_family_and_schema(
    client: TestClient, make_user: Any, admin_headers: dict[str, str]
) -> None:
    body = _catalog(client, make_user("nobody"))  # no privilege on any app
    assert body == _catalog(client, admin_headers)
    families = [f["name"] for f in body["families"]]
    assert [s["name"] for s in body["steps"]] == list(REGISTRY)
    assert "eq" in body["operators"] and "notmatches" in body["operators"]
    for step in body["steps"]:
        assert step["family"] in families and step["title"] and step["description"]
        schema = step["schema"]
        assert schema["properties"]["name"]["const"] == step["name"]
        assert schema["additionalProperties"] is False
        # The example validates, and compiles.
        assert jsonschema_rs.validator_for(schema).is_valid(step["example"]), step["name"]
        parse_pipeline([{"name": "domain", "domain": "sales"}, step["example"]])
    top = next(s for s in body["steps"] if s["name"] == "top")["schema"]
    assert top["properties"]["sort"]["enum"] == ["asc", "desc"]
    assert top["properties"]["rankOn"]["x-spelling-of"] == "rank_on"
    assert {"anyOf": [{"required": ["rank_on"]}, {"required": ["rankOn"]}]} in top["allOf"]
    assert "limit" in top["required"]
    aggregate = next(s for s in body["steps"] if s["name"] == "aggregate")["schema"]
    assert "count distinct" in aggregate["$defs"]["Aggregation"]["properties"]["agg_function"]["enum"]
    granularity = next(s for s in body["steps"] if s["name"] == "dategranularity")["schema"]
    assert "isoWeek" in granularity["properties"]["granularity"]["anyOf"][0]["enum"]


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="conformance fixtures not found")
def test_the_schema_validates_every_conformance_fixture_step(client: TestClient, admin_headers: dict[str, str]) -> None:
    validators = _validators(_catalog(client, admin_headers))
    checked = 0
    for case in cases():
        if case.step in NOT_SQL:
            continue
        # As compiled: templates rendered (the fixtures' dates are datetimes: as JSON, text).
        todo = json.loads(json.dumps(render(case.data["step"]["pipeline"], FIXTURE_VARIABLES), default=str))
        while todo:  # the steps, and those of nested pipelines
            step = todo.pop()
            errors = [e.message for e in validators[step["name"]].iter_errors(step)]
            assert not errors, (case.id, step, errors)
            checked += 1
            nested = step.get("right_pipeline", step.get("rightPipeline"))
            for pipeline in [nested, *step.get("pipelines", [])] if step["name"] in ("join", "append") else []:
                todo.extend(pipeline if isinstance(pipeline, list) else [])
    assert checked > 500


def test_the_schema_refuses_what_the_models_refuse(client: TestClient, admin_headers: dict[str, str]) -> None:
    validators = _validators(_catalog(client, admin_headers))
    top = validators["top"]
    assert top.is_valid({"name": "top", "rankOn": "a", "limit": 1})
    assert not top.is_valid({"name": "top", "rank_on": "a", "rankOn": "b", "limit": 1})  # one spelling
    assert not top.is_valid({"name": "top", "limit": 1})  # required
    assert not top.is_valid({"name": "top", "rank_on": "a", "limit": 1, "colour": "red"})  # unknown field
    assert not top.is_valid({"name": "top", "rank_on": "a", "limit": 1, "sort": "up"})  # enum
    assert not validators["filter"].is_valid({"name": "filter", "condition": {"column": "a", "operator": "equals"}})
    assert validators["filter"].is_valid(
        {"name": "filter", "condition": {"and": [{"column": "a", "operator": "in", "value": [1]}]}}
    )


# --- the form description of every step, and the canonical form -----------------------------


def test_every_step_the_compiler_knows_has_a_form_description(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    """No step type without a form: each registry entry is in the catalog with a schema whose
    every field (canonical spelling) has a type the studio's forms draw (a JSON Schema type,
    an enum, a $ref to a part or a union of those)."""
    body = _catalog(client, admin_headers)
    by_name = {step["name"]: step for step in body["steps"]}
    assert set(by_name) == set(REGISTRY)
    for name, kind in REGISTRY.items():
        schema = by_name[name]["schema"]
        fields = [k for k, v in schema["properties"].items() if k != "name" and "x-spelling-of" not in v]
        # The form's fields are the model's fields, by their canonical spelling.
        assert sorted(fields) == sorted(
            spellings[0] for f, spellings in kind.model.field_spellings().items() if f != "name"
        )
        for field in fields:
            prop = schema["properties"][field]
            typed = any(key in prop for key in ("type", "enum", "const", "$ref", "anyOf", "oneOf"))
            # Untyped: any JSON value (fillna's `value`), which the form asks as a value.
            assert typed or set(prop) <= {"title", "description", "default"}, (name, field, prop)
        assert by_name[name]["title"] and by_name[name]["family"]


def test_canonical_writes_one_spelling_and_keeps_the_meaning(client: TestClient, make_user: Any) -> None:
    headers = make_user("reader")  # any logged-in user
    pipeline = [
        {"name": "domain", "domain": "sales"},
        {"name": "top", "rankOn": "revenue", "limit": 3},
        {
            "name": "aggregate",
            "on": ["c"],
            "aggregations": [{"aggfunction": "sum", "columns": ["r"], "newcolumns": ["t"]}],
        },
        {"name": "rename", "oldname": "t", "newname": "total"},
        {
            "name": "join",
            "rightPipeline": [{"name": "domain", "domain": "b"}, {"name": "formula", "newColumn": "x", "formula": "1"}],
            "on": [["c", "c"]],
        },
    ]
    response = client.post("/pipeline-steps/canonical", json={"pipeline": pipeline}, headers=headers)
    assert response.status_code == 200, response.text
    out = response.json()["pipeline"]
    assert out == [
        {"name": "domain", "domain": "sales"},
        {"name": "top", "rank_on": "revenue", "limit": 3},
        {
            "name": "aggregate",
            "on": ["c"],
            "aggregations": [{"columns": ["r"], "agg_function": "sum", "new_columns": ["t"]}],
        },
        {"name": "rename", "to_rename": [["t", "total"]]},
        {
            "name": "join",
            "right_pipeline": [
                {"name": "domain", "domain": "b"},
                {"name": "formula", "formula": "1", "new_column": "x"},
            ],
            "on": [["c", "c"]],
        },
    ]
    again = client.post("/pipeline-steps/canonical", json={"pipeline": out}, headers=headers)
    assert again.json()["pipeline"] == out  # idempotent
    assert parse_pipeline(out) == parse_pipeline(pipeline)


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="conformance fixtures not found")
def test_canonical_form_of_every_conformance_pipeline_parses_to_the_same_steps() -> None:
    from toucan.data.pipeline.registry import canonical

    checked = 0
    for case in cases():
        if case.step in NOT_SQL:
            continue
        pipeline = json.loads(json.dumps(render(case.data["step"]["pipeline"], FIXTURE_VARIABLES), default=str))
        if not pipeline or pipeline[0].get("name") != "domain":  # the fixtures' steps read their input
            pipeline = [{"name": "domain", "domain": "input"}, *pipeline]
        try:
            before = parse_pipeline(pipeline)
        except (ValidationError, NotSupported):
            continue  # a fixture of a refused pipeline
        out = canonical(pipeline)
        assert parse_pipeline(out) == before, case.id
        assert canonical(out) == out, case.id
        checked += 1
    assert checked > 250


def test_canonical_answers_400_naming_the_step_and_field(client: TestClient, admin_headers: dict[str, str]) -> None:
    pipeline = [{"name": "domain", "domain": "sales"}, {"name": "top", "rankOn": "revenue", "limit": "many"}]
    response = client.post("/pipeline-steps/canonical", json={"pipeline": pipeline}, headers=admin_headers)
    body = assert_error(response, 400)
    assert body["details"]["step"] == 1 and body["details"]["field"] == "limit"
    assert assert_error(client.post("/pipeline-steps/canonical", json={"pipeline": []}, headers=admin_headers), 400)
    assert_error(client.post("/pipeline-steps/canonical", json={"pipeline": pipeline}), 401)


def test_the_frontend_form_tests_read_the_current_catalog() -> None:
    """frontend/src/pipeline.test.ts checks the forms of every step of this copy."""
    from toucan.data.pipeline.reference import CATALOG_PATH, catalog_text

    assert CATALOG_PATH.read_text() == catalog_text(), "run `make docs`"
