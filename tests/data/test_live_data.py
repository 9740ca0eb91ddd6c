"""Live data through the data route: read at request time, data permissions applied, pushed
down to the source when the query allows it, slow sources answer a clear error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.helpers import PG, scratch_schema
from tests.helpers.api import assert_error
from tests.helpers.connectors import LOCAL_HOSTS
from toucan.app import create_api
from toucan.db.engine import Database
from toucan.settings import Settings

APP = "live-app"


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    """Live data read from this machine's PostgreSQL: loopback allowed for database providers."""
    return base_settings.model_copy(update={"connectors_allowed_hosts": LOCAL_HOSTS})


@pytest.fixture
def schema() -> Iterator[str]:
    with scratch_schema(
        "live",
        "CREATE TABLE {schema}.sales (country text, amount int)",
        "INSERT INTO {schema}.sales VALUES ('France', 10), ('France', 5), ('Spain', 7)",
    ) as name:
        yield name


def _etl(schema: str, query: str | None = None) -> dict[str, Any]:
    return {
        "DATA_PROVIDERS": [
            {"name": "pg", "type": "postgres", "host": "127.0.0.1", "user": "postgres", "database": "test"}
        ],
        "DATA_SOURCES": [
            {
                "domain": "sales",
                "name": "pg",
                "query": query or f"SELECT * FROM {schema}.sales",
                "live_data": True,
                "cache_ttl": 0,
            }
        ],
        "DATA_PERMISSIONS": [
            {
                "domain": "sales",
                "scope": "ALL_USERS",
                "effect": "CUSTOM",
                "condition": {"column": "country", "operator": "eq", "value": "{{ user.attributes.country }}"},
            }
        ],
    }


def _setup(client: TestClient, headers: dict[str, str], etl: dict[str, Any]) -> None:
    assert client.post("/small-apps", json={"id": APP, "name": "Live"}, headers=headers).status_code == 201
    assert client.put(f"/{APP}/config/etl", json=etl, headers=headers).status_code == 200
    released = client.post(f"/{APP}/config/operations", json={"operations": ["release_design"]}, headers=headers)
    assert released.status_code == 200, released.text


def test_live_rows_follow_the_source_and_permissions_apply(
    client: TestClient, admin_headers: dict[str, str], make_user: Any, schema: str, settings: Settings
) -> None:
    _setup(client, admin_headers, _etl(schema))
    viewer = make_user("pierre", privileges={APP: ["view"]}, attributes={"country": "France"})
    total = [
        {"name": "domain", "domain": "sales"},
        {
            "name": "aggregate",
            "on": ["country"],
            "aggregations": [{"aggfunction": "sum", "columns": ["amount"], "newcolumns": ["amount"]}],
        },
    ]

    def ask(query: Any) -> list[dict[str, Any]]:
        response = client.post(f"/{APP}/data", json={"query": query}, headers=viewer)
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()["data"]
        return rows

    assert ask(total) == [{"country": "France", "amount": 15}]
    assert sorted(r["amount"] for r in ask({"domain": "sales"})) == [5, 10]
    # Widening attempts see nothing more.
    assert ask({"domain": "sales", "country": "Spain"}) == []
    assert (
        ask(
            [
                {"name": "domain", "domain": "sales"},
                {"name": "filter", "condition": {"column": "country", "operator": "ne", "value": "x"}},
            ]
        )
        != []
    )
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"INSERT INTO {schema}.sales VALUES ('France', 100), ('Spain', 1)")
    assert ask(total) == [{"country": "France", "amount": 115}]
    # The aggregate ran on PostgreSQL: its answer is what was fetched, not the whole table.
    pushed = list((settings.data_dir / "live" / APP / "production").rglob("q-*/*.parquet"))
    assert pushed, "no pushed-down query result was stored"


def test_a_slow_live_source_answers_a_timeout(
    settings: Settings, db: Database, admin_headers: dict[str, str], schema: str
) -> None:
    quick = settings.model_copy(update={"connector_timeout": 1.0})
    with TestClient(create_api(quick, db), raise_server_exceptions=False) as client:
        _setup(client, admin_headers, _etl(schema, query="SELECT 'France' AS country, 1 AS amount FROM pg_sleep(5)"))
        error = assert_error(
            client.post(f"/{APP}/data", json={"query": {"domain": "sales"}}, headers=admin_headers), 504
        )
        assert "sales" in error["message"]


def test_a_live_source_naming_an_unknown_provider_is_a_clear_error(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    etl = {"DATA_SOURCES": [{"domain": "sales", "name": "nope", "query": "SELECT 1", "live_data": True}]}
    _setup(client, admin_headers, etl)
    error = assert_error(client.post(f"/{APP}/data", json={"query": {"domain": "sales"}}, headers=admin_headers), 400)
    assert "nope" in error["message"]


def test_a_live_source_without_its_provider_fails_only_where_it_is_read(
    client: TestClient, admin_headers: dict[str, str], schema: str
) -> None:
    etl = _etl(schema)
    etl["DATA_SOURCES"][0]["name"] = "missing"
    etl["DATA_PERMISSIONS"] = []
    _setup(client, admin_headers, etl)
    csv = "country,target\nFrance,3\n"
    put = client.put(
        f"/{APP}/domain/targets?stage=staging", content=csv, headers={**admin_headers, "Content-Type": "text/csv"}
    )
    assert put.status_code == 200, put.text
    ok = client.post(f"/{APP}/data?stage=staging", json={"query": {"domain": "targets"}}, headers=admin_headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["data"] == [{"country": "France", "target": 3}]
    error = assert_error(
        client.post(f"/{APP}/data?stage=staging", json={"query": {"domain": "sales"}}, headers=admin_headers), 400
    )
    assert "'missing'" in error["message"] and "DATA_PROVIDERS" in error["message"]
