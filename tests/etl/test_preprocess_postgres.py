"""Preprocess with PostgreSQL sources, through a real worker: a table streamed by COPY, a query
with a parameter streamed through a cursor, json typed from its values; a failing source fails
the job naming its domain and the provider."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import Server, scratch_schema
from tests.helpers.connectors import LOCAL_HOSTS
from tests.helpers.workers import running_worker, wait_for_job
from toucan.db.engine import Database
from toucan.settings import Settings

APP = "pg-app"
ROWS = 120_001  # more than two fetches of a cursor (50,000 rows each)


@pytest.fixture
def worker(settings: Settings, db: Database) -> Iterator[Server]:
    """A worker whose database providers may reach this machine's PostgreSQL (loopback)."""
    with running_worker(settings, TOUCAN_CONNECTORS_ALLOWED_HOSTS=json.dumps(LOCAL_HOSTS)) as server:
        yield server


@pytest.fixture
def orders() -> Iterator[str]:
    with scratch_schema(
        "prep",
        "CREATE TABLE {schema}.orders (id int, day date, amount numeric(10, 2), note text)",
        "INSERT INTO {schema}.orders SELECT i, DATE '2023-12-01' + i % 60, (i % 1000) / 10.0, "
        f"CASE WHEN i % 7 = 0 THEN NULL ELSE 'n' || i END FROM generate_series(1, {ROWS}) AS i",
    ) as schema:
        yield f"{schema}.orders"


def _etl(orders: str, **extra: Any) -> dict[str, Any]:
    provider = {"name": "crm", "type": "postgres", "host": "127.0.0.1", "user": "postgres", "database": "test"}
    return {
        "DATA_PROVIDERS": [provider],
        "DATA_SOURCES": [
            {"domain": "orders", "name": "crm", "table": orders},
            {
                "domain": "recent",
                "name": "crm",
                "query": f"SELECT id, day, amount FROM {orders} WHERE day >= :since",
                "parameters": {"since": "2024-01-01"},  # text in the JSON config, a date for PostgreSQL
            },
            {
                "domain": "tagged",
                "name": "crm",
                "query": f"SELECT id, json_build_object('n', id) AS tags FROM {orders} WHERE id <= 2 ORDER BY id",
            },
        ],
        **extra,
    }


def _load(client: TestClient, headers: dict[str, str], etl: dict[str, Any]) -> dict[str, Any]:
    assert client.post("/small-apps", json={"id": APP, "name": "PG"}, headers=headers).status_code == 201
    assert client.put(f"/{APP}/config/etl", json=etl, headers=headers).status_code == 200
    response = client.post(f"/{APP}/data/preprocess?stage=staging", headers=headers)
    assert response.status_code == 202, response.text
    return wait_for_job(client, headers, response.json()["id"])


def test_postgres_sources_load_streamed_with_their_types(
    client: TestClient, admin_headers: dict[str, str], worker: Server, orders: str
) -> None:
    job = _load(client, admin_headers, _etl(orders))
    assert job["state"] == "succeeded", job
    metadata = client.get(f"/{APP}/metadata?stage=staging", headers=admin_headers).json()
    domains = {d["name"]: d for d in metadata["domains"]}
    recent = sum(1 for i in range(1, ROWS + 1) if i % 60 >= 31)
    assert {name: d["rows"] for name, d in domains.items()} == {"orders": ROWS, "recent": recent, "tagged": 2}
    assert [(c["name"], c["type"]) for c in domains["orders"]["columns"]] == [
        ("id", "integer"),
        ("day", "date"),
        ("amount", "float"),
        ("note", "string"),
    ]
    query = [
        {"name": "domain", "domain": "orders"},
        {"name": "filter", "condition": {"column": "id", "operator": "in", "value": [7, 999]}},
    ]
    response = client.post(f"/{APP}/data?stage=staging", json={"query": query}, headers=admin_headers)
    assert response.status_code == 200, response.text
    assert sorted(response.json()["data"], key=lambda row: row["id"]) == [
        {"id": 7, "day": "2023-12-08", "amount": 0.7, "note": None},
        {"id": 999, "day": "2024-01-09", "amount": 99.9, "note": "n999"},
    ]
    response = client.post(f"/{APP}/data?stage=staging", json={"query": {"domain": "tagged"}}, headers=admin_headers)
    assert response.json()["data"] == [{"id": 1, "tags": {"n": 1}}, {"id": 2, "tags": {"n": 2}}]


def test_a_failing_postgres_source_fails_the_job_naming_it(
    client: TestClient, admin_headers: dict[str, str], worker: Server, orders: str
) -> None:
    etl = _etl(orders)
    # The rows stream into the domain file until one fails.
    etl["DATA_SOURCES"][0] = {
        "domain": "orders",
        "name": "crm",
        "query": f"SELECT 1 / (id - 100000) AS x FROM {orders}",
    }
    job = _load(client, admin_headers, etl)
    assert job["state"] == "failed"
    assert "DATA_SOURCES[0] (orders)" in job["error"] and "'crm'" in job["error"]
    assert "division by zero" in job["error"]
