"""Preprocess end to end with a real worker: uploads → sources → PIPELINE → one new version.

Also: a killed worker leaves the previous data serving and the job failed; a job queued with
no worker runs when one starts; builder code runs limited and without the backend's secrets.
"""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import Server
from tests.helpers.api import assert_error
from tests.helpers.workers import running_worker, wait_for_job, wait_for_state
from toucan.app import create_api
from toucan.db.engine import Database
from toucan.settings import Settings

APP = "sales-app"


@pytest.fixture
def app_id(client: TestClient, admin_headers: dict[str, str]) -> str:
    assert client.post("/small-apps", json={"id": APP, "name": "Sales"}, headers=admin_headers).status_code == 201
    return APP


def upload(client: TestClient, headers: dict[str, str], filename: str, content: bytes) -> None:
    response = client.post(
        f"/{APP}/data/sources",
        files={"file": (filename, content)},
        data={"data": json.dumps({"filename": filename})},
        headers=headers,
    )
    assert response.status_code == 201, response.text


def put_etl(client: TestClient, headers: dict[str, str], etl: dict[str, Any]) -> None:
    response = client.put(f"/{APP}/config/etl", json=etl, headers=headers)
    assert response.status_code == 200, response.text


def preprocess(client: TestClient, headers: dict[str, str]) -> str:
    response = client.post(f"/{APP}/data/preprocess?stage=staging", headers=headers)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def rows(client: TestClient, headers: dict[str, str], domain: str) -> list[dict[str, Any]]:
    response = client.post(
        f"/{APP}/data?stage=staging", json={"query": [{"name": "domain", "domain": domain}]}, headers=headers
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


SALES = b"country;revenue;cost\nFrance;100,5;40\nSpain;200;90\nFrance;50;10\n"
AUGMENT = """
import os

def add_margin(sales):
    sales["margin"] = sales["revenue"] - sales["cost"]
    return sales

def environment(sales):
    import pandas as pd
    return pd.DataFrame({"name": sorted(os.environ)})

def slow(sales):
    import time
    time.sleep(60)
    return sales

def greedy(sales):
    blob = bytearray(2 * 1024 * 1024 * 1024)
    return sales
"""


def sales_etl(**extra: Any) -> dict[str, Any]:
    return {
        "DATA_SOURCES": [
            {
                "domain": "raw_sales",
                "file": "sales.csv",
                "separator": ";",
                "decimal": ",",
                "validation": [
                    {"type": "columns", "expected": ["country", "revenue", "cost"]},
                    {"type": "dtypes", "expected": {"revenue": "number"}},
                ],
            },
            {"domain": "targets", "file": "targets.json"},
            {"domain": "unused", "file": "never-uploaded.csv", "load": False},
        ],
        "PIPELINE": [
            {"input_domains": ["raw_sales"], "function_name": "add_margin", "output_domain": "sales", "load": False},
            {
                "input_domains": ["sales", "targets"],
                "output_domain": "by_country",
                "pipeline": [
                    {"name": "domain", "domain": "sales"},
                    {
                        "name": "aggregate",
                        "on": ["country"],
                        "aggregations": [
                            {"aggfunction": "sum", "columns": ["margin"], "newcolumns": ["margin"]},
                        ],
                    },
                    {
                        "name": "join",
                        "right_pipeline": [{"name": "domain", "domain": "targets"}],
                        "type": "left",
                        "on": [["country", "country"]],
                    },
                    {"name": "sort", "columns": [{"column": "country", "order": "asc"}]},
                ],
            },
        ],
        **extra,
    }


def load_sales(client: TestClient, headers: dict[str, str]) -> None:
    put_etl(client, headers, sales_etl())  # first: uploads are read with the options it gives
    upload(client, headers, "sales.csv", SALES)
    upload(
        client, headers, "targets.json", b'[{"country": "France", "target": 90}, {"country": "Spain", "target": 100}]'
    )
    response = client.put(f"/{APP}/config/augment", content=AUGMENT, headers=headers)
    assert response.status_code == 200, response.text


def test_preprocess_loads_sources_runs_the_pipeline_and_writes_one_version(
    client: TestClient, admin_headers: dict[str, str], app_id: str, worker: Server
) -> None:
    load_sales(client, admin_headers)
    job = wait_for_job(client, admin_headers, preprocess(client, admin_headers))
    assert job["state"] == "succeeded", job
    assert job["progress"] == 100
    messages = "\n".join(line["message"] for line in job["log"])
    assert "add_margin" in messages and "Wrote 3 domains" in messages
    metadata = client.get(f"/{APP}/metadata?stage=staging", headers=admin_headers).json()
    assert sorted(d["name"] for d in metadata["domains"]) == ["by_country", "raw_sales", "targets"]
    assert rows(client, admin_headers, "by_country") == [
        {"country": "France", "margin": 100.5, "target": 90},
        {"country": "Spain", "margin": 110.0, "target": 100},
    ]
    # Production is untouched until released.
    assert client.get(f"/{APP}/metadata?stage=production", headers=admin_headers).json()["domains"] == []
    released = client.post(
        f"/{APP}/config/operations", json={"operations": ["release_design", "release_data"]}, headers=admin_headers
    )
    assert released.json()["results"]["release_data"]["domains"] == ["by_country", "raw_sales", "targets"]


def test_a_validation_failure_names_source_and_column_and_keeps_the_previous_data(
    client: TestClient, admin_headers: dict[str, str], app_id: str, worker: Server
) -> None:
    load_sales(client, admin_headers)
    assert wait_for_job(client, admin_headers, preprocess(client, admin_headers))["state"] == "succeeded"
    version = client.get(f"/{APP}/metadata?stage=staging", headers=admin_headers).json()["version"]
    upload(client, admin_headers, "sales.csv", b"country;revenue\nFrance;oops\n")
    job = wait_for_job(client, admin_headers, preprocess(client, admin_headers))
    assert job["state"] == "failed"
    assert "DATA_SOURCES[0] (raw_sales)" in job["error"]
    assert "column 'cost' is missing" in job["error"] and "column 'revenue' is string, expected number" in job["error"]
    latest = client.get(f"/{APP}/tracebacks/latest", headers=admin_headers).json()
    assert latest["id"] == job["id"] and "cost" in latest["traceback"]
    assert client.get(f"/{APP}/metadata?stage=staging", headers=admin_headers).json()["version"] == version
    assert len(rows(client, admin_headers, "raw_sales")) == 3


def test_builder_code_errors_time_and_memory_limits(
    client: TestClient, admin_headers: dict[str, str], app_id: str, worker: Server
) -> None:
    load_sales(client, admin_headers)

    def run_step(function: str) -> dict[str, Any]:
        etl = sales_etl()
        etl["PIPELINE"] = [{"input_domains": ["raw_sales"], "function_name": function, "output_domain": "out"}]
        put_etl(client, admin_headers, etl)
        return wait_for_job(client, admin_headers, preprocess(client, admin_headers))

    env_job = run_step("environment")
    assert env_job["state"] == "succeeded", env_job
    names = [r["name"] for r in rows(client, admin_headers, "out")]
    assert names and not [n for n in names if n.startswith("TOUCAN_") or "DATABASE" in n or "SECRET" in n]
    slow = run_step("slow")
    assert slow["state"] == "failed" and "TOUCAN_BUILDER_CODE_TIMEOUT" in slow["error"]
    greedy = run_step("greedy")
    assert greedy["state"] == "failed" and "TOUCAN_BUILDER_CODE_MEMORY_MB" in greedy["error"]
    missing = run_step("nope")
    assert missing["state"] == "failed" and "no function 'nope'" in missing["error"]
    broken = client.put(
        f"/{APP}/config/augment", content="def add_margin(sales):\n    return 1 / 0\n", headers=admin_headers
    )
    assert broken.status_code == 200
    failed = run_step("add_margin")
    assert "ZeroDivisionError" in failed["error"]
    assert 'File "augment.py", line 2, in add_margin' in failed["traceback"]
    assert "/work" not in failed["traceback"] and "site-packages" not in failed["traceback"]


def test_legacy_augment_runs_only_for_whitelisted_apps(
    settings: Settings, db: Database, admin_headers: dict[str, str]
) -> None:
    allowed = settings.model_copy(update={"old_augment_whitelist": [APP]})
    with TestClient(create_api(allowed, db), raise_server_exceptions=False) as client:
        assert client.post("/small-apps", json={"id": APP, "name": "S"}, headers=admin_headers).status_code == 201
        put_etl(client, admin_headers, {"DATA_SOURCES": [{"domain": "sales", "file": "sales.csv", "separator": ";"}]})
        upload(client, admin_headers, "sales.csv", SALES)
        legacy = (
            "def augment(dfs):\n"
            "    dfs['count'] = dfs['sales'].groupby('country').size().reset_index(name='n')\n"
            "    return dfs\n"
        )
        assert client.put(f"/{APP}/config/augment", content=legacy, headers=admin_headers).status_code == 200
        with running_worker(settings, TOUCAN_OLD_AUGMENT_WHITELIST=json.dumps([APP])):
            assert wait_for_job(client, admin_headers, preprocess(client, admin_headers))["state"] == "succeeded"
            assert sorted(r["n"] for r in rows(client, admin_headers, "count")) == [1, 2]
        # The same stored code on a worker whose whitelist no longer lists the app: refused.
        with running_worker(settings):
            job = wait_for_job(client, admin_headers, preprocess(client, admin_headers))
            assert job["state"] == "failed" and "TOUCAN_OLD_AUGMENT_WHITELIST" in job["error"]


def test_a_killed_worker_leaves_the_previous_data_and_a_failed_job(
    client: TestClient, admin_headers: dict[str, str], app_id: str, settings: Settings
) -> None:
    load_sales(client, admin_headers)
    with running_worker(settings) as first:
        assert wait_for_job(client, admin_headers, preprocess(client, admin_headers))["state"] == "succeeded"
        etl = sales_etl()
        etl["PIPELINE"] = [{"input_domains": ["raw_sales"], "function_name": "slow", "output_domain": "out"}]
        put_etl(client, admin_headers, etl)
        job_id = preprocess(client, admin_headers)
        wait_for_state(client, admin_headers, job_id, "running")
        os.killpg(first.pid, signal.SIGKILL)
        first.proc.wait()
    job = wait_for_job(client, admin_headers, job_id, timeout=30)
    assert job["state"] == "failed" and "stopped" in job["error"]
    assert sorted(
        d["name"] for d in client.get(f"/{APP}/metadata?stage=staging", headers=admin_headers).json()["domains"]
    ) == [
        "by_country",
        "raw_sales",
        "targets",
    ]
    assert len(rows(client, admin_headers, "raw_sales")) == 3


def test_a_job_queued_without_a_worker_runs_when_one_starts(
    client: TestClient, admin_headers: dict[str, str], app_id: str, settings: Settings
) -> None:
    load_sales(client, admin_headers)
    job_id = preprocess(client, admin_headers)
    assert client.get(f"/jobs/{job_id}", headers=admin_headers).json()["state"] == "queued"
    assert_error(
        client.post(f"/{APP}/data?stage=staging", json={"query": {"domain": "raw_sales"}}, headers=admin_headers), 404
    )
    with running_worker(settings):
        assert wait_for_job(client, admin_headers, job_id)["state"] == "succeeded"
    assert len(rows(client, admin_headers, "raw_sales")) == 3


def test_url_sources_pass_the_ssrf_guard_only_for_allowed_hosts(
    client: TestClient, admin_headers: dict[str, str], app_id: str, settings: Settings
) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Files(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"city,n\nLyon,1\nNice,2\n")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://reader:pw-in-url@127.0.0.1:{server.server_address[1]}/cities.csv?token=query-token-42"
        put_etl(client, admin_headers, {"DATA_SOURCES": [{"domain": "cities", "url": url}]})
        with running_worker(settings):
            refused = wait_for_job(client, admin_headers, preprocess(client, admin_headers))
        assert refused["state"] == "failed" and "TOUCAN_CONNECTORS_ALLOWED_HOSTS" in refused["error"], refused
        with running_worker(settings, TOUCAN_CONNECTORS_ALLOWED_HOSTS="127.0.0.1"):
            allowed = wait_for_job(client, admin_headers, preprocess(client, admin_headers))
        assert allowed["state"] == "succeeded", allowed
        # The log names the file it downloads, never the URL's credentials or query string.
        log = str(allowed["log"])
        assert f"127.0.0.1:{server.server_address[1]}/cities.csv" in log, log
        assert "query-token-42" not in log and "pw-in-url" not in log, log
        assert rows(client, admin_headers, "cities") == [{"city": "Lyon", "n": 1}, {"city": "Nice", "n": 2}]
    finally:
        server.shutdown()
