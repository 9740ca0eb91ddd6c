"""What a builder does, through the API only: upload a CSV and an Excel file, declare a
PostgreSQL source, an HTTP API source and a live source, run preprocess, follow the job's
progress, see the domains, query them through /data, release to production."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook

from tests.helpers import PG, scratch_schema
from tests.helpers.workers import running_worker
from toucan.app import create_api
from toucan.db.engine import Database
from toucan.settings import Settings

APP = "builder-app"
API_TOKEN = "shop-api-token-123"


@pytest.fixture
def pg_schema() -> Iterator[str]:
    with scratch_schema(
        "flow",
        "CREATE TABLE {schema}.customers (id int, country text, segment text)",
        "INSERT INTO {schema}.customers VALUES (1, 'France', 'SMB'), (2, 'Spain', 'Enterprise')",
    ) as schema:
        yield schema


class _Shop(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {API_TOKEN}":
            self.send_response(401)
            self.end_headers()
            return
        body = json.dumps({"items": [{"country": "France", "orders": 3}, {"country": "Spain", "orders": 5}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def shop_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Shop)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def _excel() -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Targets"
    sheet.append(["country", "target"])
    sheet.append(["France", 100])
    sheet.append(["Spain", 150])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_a_builder_loads_queries_and_releases_data(
    settings: Settings, db: Database, admin_headers: dict[str, str], pg_schema: str, shop_api: str
) -> None:
    allowed = settings.model_copy(update={"connectors_allowed_hosts": ["127.0.0.1"]})
    with TestClient(create_api(allowed, db), raise_server_exceptions=False) as client:
        h = admin_headers
        assert client.post("/small-apps", json={"id": APP, "name": "Builder"}, headers=h).status_code == 201
        assert client.put(f"/{APP}/secrets/shop_token", json={"value": API_TOKEN}, headers=h).status_code == 204
        etl = {
            "DATA_PROVIDERS": [
                {"name": "crm", "type": "postgres", "host": "127.0.0.1", "user": "postgres", "database": "test"},
                {
                    "name": "shop",
                    "type": "http_api",
                    "baseroute": shop_api,
                    "headers": {"Authorization": "Bearer {{ secrets.shop_token }}"},
                },
            ],
            "DATA_SOURCES": [
                {"domain": "sales", "file": "sales.csv"},
                {"domain": "targets", "file": "targets.xlsx", "sheetname": "Targets"},
                {"domain": "customers", "name": "crm", "table": f"{pg_schema}.customers"},
                {"domain": "orders", "name": "shop", "url": "/orders", "filter": ".items"},
                {
                    "domain": "live_customers",
                    "name": "crm",
                    "query": f"SELECT country, count(*) AS n FROM {pg_schema}.customers GROUP BY country",
                    "live_data": True,
                    "cache_ttl": 0,
                },
            ],
            "PIPELINE": [
                {
                    "input_domains": ["sales", "targets"],
                    "output_domain": "performance",
                    "pipeline": [
                        {"name": "domain", "domain": "sales"},
                        {
                            "name": "join",
                            "right_pipeline": [{"name": "domain", "domain": "targets"}],
                            "type": "left",
                            "on": [["country", "country"]],
                        },
                        {"name": "formula", "new_column": "ratio", "formula": "revenue / target"},
                    ],
                }
            ],
        }
        assert client.put(f"/{APP}/config/etl", json=etl, headers=h).status_code == 200
        for name, content in (("sales.csv", b"country,revenue\nFrance,50\nSpain,300\n"), ("targets.xlsx", _excel())):
            uploaded = client.post(
                f"/{APP}/data/sources",
                files={"file": (name, content)},
                data={"data": json.dumps({"filename": name})},
                headers=h,
            )
            assert uploaded.status_code == 201, uploaded.text

        with running_worker(settings, TOUCAN_CONNECTORS_ALLOWED_HOSTS='["127.0.0.1"]'):
            job_id = client.post(f"/{APP}/data/preprocess?stage=staging", headers=h).json()["id"]
            seen: list[int] = []
            deadline = time.monotonic() + 60
            while (job := client.get(f"/jobs/{job_id}", headers=h).json())["state"] not in ("succeeded", "failed"):
                seen.append(job["progress"])
                assert time.monotonic() < deadline, job
                time.sleep(0.05)
        assert job["state"] == "succeeded", json.dumps(job)[-1500:]
        assert job["progress"] == 100 and seen == sorted(seen)
        assert any("orders" in line["message"] for line in job["log"])
        assert API_TOKEN not in json.dumps(job)

        metadata = client.get(f"/{APP}/metadata?stage=staging", headers=h).json()
        assert {d["name"]: d["rows"] for d in metadata["domains"]} == {
            "customers": 2,
            "orders": 2,
            "performance": 2,
            "sales": 2,
            "targets": 2,
        }

        def query(q: Any, stage: str = "staging") -> list[dict[str, Any]]:
            response = client.post(f"/{APP}/data?stage={stage}", json={"query": q}, headers=h)
            assert response.status_code == 200, response.text
            rows: list[dict[str, Any]] = response.json()["data"]
            return rows

        assert query(
            [{"name": "domain", "domain": "performance"}, {"name": "sort", "columns": [{"column": "country"}]}]
        ) == [
            {"country": "France", "revenue": 50, "target": 100, "ratio": 0.5},
            {"country": "Spain", "revenue": 300, "target": 150, "ratio": 2.0},
        ]
        assert query({"domain": "orders", "country": "Spain"}) == [{"country": "Spain", "orders": 5}]
        assert query({"domain": "customers", "segment": "SMB"}) == [{"id": 1, "country": "France", "segment": "SMB"}]

        live = [{"name": "domain", "domain": "live_customers"}, {"name": "sort", "columns": [{"column": "country"}]}]
        assert query(live) == [{"country": "France", "n": 1}, {"country": "Spain", "n": 1}]
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f"INSERT INTO {pg_schema}.customers VALUES (3, 'Spain', 'SMB')")
        assert query(live) == [{"country": "France", "n": 1}, {"country": "Spain", "n": 2}]

        released = client.post(
            f"/{APP}/config/operations", json={"operations": ["release_design", "release_data"]}, headers=h
        )
        assert released.status_code == 200, released.text
        assert query({"domain": "orders", "country": "France"}, stage="production") == [
            {"country": "France", "orders": 3}
        ]
        assert query(live, stage="production")[1] == {"country": "Spain", "n": 2}
