"""`GET /metrics` (Prometheus text format), request ids in headers, error bodies and JSON log
lines, and the slow-query log line, through the API."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.api import assert_error, bearer
from toucan.app import create_api
from toucan.db.engine import Database
from toucan.jobs import liveness
from toucan.jobs.store import JobKind, JobStore
from toucan.logs import JsonFormatter
from toucan.settings import Settings

CSV = "country,revenue\nFrance,100\nSpain,70\nItaly,90\nPeru,10\nChad,5\n"


def samples(client: TestClient, headers: dict[str, str] | None = None) -> dict[tuple[str, tuple[Any, ...]], float]:
    """Every sample of /metrics, by name and sorted labels."""
    response = client.get("/metrics", headers=headers or {})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _count(found: dict[tuple[str, tuple[Any, ...]], float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def _app_with_data(client: TestClient, headers: dict[str, str], app: str) -> None:
    client.post("/small-apps", json={"id": app, "name": app}, headers=headers).raise_for_status()
    client.put(
        f"/{app}/domain/sales?stage=staging", content=CSV, headers={**headers, "Content-Type": "text/csv"}
    ).raise_for_status()


def _query(client: TestClient, headers: dict[str, str], app: str, steps: list[dict[str, Any]]) -> Any:
    return client.post(f"/{app}/data?stage=staging", json={"query": steps}, headers=headers)


def test_requests_are_timed_by_route_template_never_by_app_name(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    _app_with_data(client, admin_headers, "confidential-merger")
    before = samples(client)
    for _ in range(3):
        client.get("/health")
    _query(client, admin_headers, "confidential-merger", [{"name": "domain", "domain": "sales"}]).raise_for_status()
    client.get("/no/such/route/confidential-merger")
    response = client.get("/metrics")
    assert "confidential-merger" not in response.text
    after = samples(client)
    name = "toucan_http_request_duration_seconds_count"
    health = dict(method="GET", route="/health", status="200")
    assert _count(after, name, **health) - _count(before, name, **health) == 3
    data = dict(method="POST", route="/{app}/data", status="200")
    assert _count(after, name, **data) - _count(before, name, **data) == 1
    unmatched = dict(method="GET", route="(unmatched)", status="404")
    assert _count(after, name, **unmatched) - _count(before, name, **unmatched) == 1


def test_data_cache_hits_misses_and_query_time(client: TestClient, admin_headers: dict[str, str]) -> None:
    _app_with_data(client, admin_headers, "shop")
    before = samples(client)
    query = [{"name": "domain", "domain": "sales"}, {"name": "top", "rank_on": "revenue", "sort": "desc", "limit": 2}]
    for _ in range(3):
        _query(client, admin_headers, "shop", query).raise_for_status()
    after = samples(client)
    assert (
        _count(after, "toucan_data_cache_requests_total", result="miss")
        - _count(before, "toucan_data_cache_requests_total", result="miss")
        == 1
    )
    assert (
        _count(after, "toucan_data_cache_requests_total", result="hit")
        - _count(before, "toucan_data_cache_requests_total", result="hit")
        == 2
    )
    ran = _count(after, "toucan_data_query_duration_seconds_count") - _count(
        before, "toucan_data_query_duration_seconds_count"
    )
    assert ran == 1


def test_jobs_by_state_queue_depth_and_heartbeats(client: TestClient, db: Database, settings: Settings) -> None:
    empty = samples(client)
    assert _count(empty, "toucan_job_queue_depth") == 0
    assert _count(empty, "toucan_job_system_alive", kind="worker") == 0
    store = JobStore(db, settings.job_heartbeat_timeout)
    client.app.state.ctx  # noqa: B018 - the app is built (its schema exists)
    ids = [store.create(JobKind.PREPROCESS, app_id=None, stage=None, author=None) for _ in range(3)]
    store.fail_unsent(ids[0], "broker down")
    liveness.beat(db, liveness.WORKER, "worker:host-a:41")
    liveness.beat(db, liveness.SCHEDULER, "scheduler:host-b:7")
    found = samples(client)
    assert _count(found, "toucan_job_queue_depth") == 2
    assert _count(found, "toucan_jobs", state="queued", kind="preprocess") == 2
    assert _count(found, "toucan_jobs", state="failed", kind="preprocess") == 1
    assert _count(found, "toucan_job_system_alive", kind="worker") == 1
    assert _count(found, "toucan_job_system_alive", kind="scheduler") == 1
    age = _count(found, "toucan_job_system_beat_age_seconds", kind="worker", process="worker:host-a:41")
    assert 0 <= age < 10


def test_a_metrics_token_is_required_once_set(settings: Settings, db: Database) -> None:
    guarded = settings.model_copy(update={"metrics_token": "scrape-me"})
    with TestClient(create_api(guarded, db)) as client:
        assert_error(client.get("/metrics"), 401, "not_authenticated")
        assert_error(client.get("/metrics", headers=bearer("wrong")), 401, "not_authenticated")
        assert samples(client, bearer("scrape-me"))
    with TestClient(create_api(settings.model_copy(update={"metrics_enabled": False}), db)) as client:
        assert_error(client.get("/metrics"), 404, "not_found")


def test_every_answer_has_a_request_id_and_errors_carry_it(client: TestClient) -> None:
    first, second = client.get("/health"), client.get("/health")
    assert len(first.headers["x-request-id"]) == 32
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    given = client.get("/health", headers={"X-Request-ID": "lb-7f3a9c2e-0001"})
    assert given.headers["x-request-id"] == "lb-7f3a9c2e-0001"
    # An id that could break a log line is replaced.
    forged = client.get("/health", headers={"X-Request-ID": 'x" injected=1'})
    assert forged.headers["x-request-id"] != 'x" injected=1' and len(forged.headers["x-request-id"]) == 32
    error = assert_error(client.get("/me", headers={"X-Request-ID": "support-ticket-4242"}), 401)
    assert error["request_id"] == "support-ticket-4242"
    # Errors answered by the middleware, before any route, carry it too.
    too_big = client.post("/login", content=b"x" * (11 * 1024 * 1024), headers={"Content-Type": "application/json"})
    assert assert_error(too_big, 413)["request_id"] == too_big.headers["x-request-id"]


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """What the `toucan` loggers write, formatted as TOUCAN_LOG_FORMAT=json does."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("toucan")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_an_unexpected_error_answers_500_with_the_id_of_its_log_line(
    settings: Settings, db: Database, json_log: io.StringIO
) -> None:
    api = create_api(settings, db)

    @api.get("/boom")
    def boom() -> None:
        raise RuntimeError("kaboom")

    with TestClient(api, raise_server_exceptions=False) as client:
        error = assert_error(client.get("/boom"), 500, "internal_error")
    assert "kaboom" not in json.dumps(error)
    [line] = [entry for entry in _lines(json_log) if "unhandled error" in entry["message"]]
    assert line["request_id"] == error["request_id"] and "RuntimeError: kaboom" in line["exception"]


def test_json_access_lines_carry_the_request_id(settings: Settings, db: Database, json_log: io.StringIO) -> None:
    with TestClient(create_api(settings.model_copy(update={"log_format": "json"}), db)) as client:
        answer = client.get("/health")
    [line] = [entry for entry in _lines(json_log) if entry["logger"] == "toucan.access"]
    assert line["request_id"] == answer.headers["x-request-id"]
    assert line["status"] == 200 and line["path"] == "/health" and line["duration_ms"] >= 0
    assert line["level"] == "INFO" and line["time"].endswith("+00:00")


def test_slow_queries_write_a_line_with_the_request_id(
    settings: Settings, db: Database, admin_headers: dict[str, str], json_log: io.StringIO
) -> None:
    slow_settings = settings.model_copy(update={"slow_query_ms": 1})
    # 5 rows joined with themselves 9 times: about 2 million combinations, well over 1 ms.
    heavy = [
        {"name": "domain", "domain": "sales"},
        {
            "name": "customsql",
            "query": "SELECT count(*) AS n FROM " + ", ".join(f"##PREVIOUS_STEP## t{i}" for i in range(9)),
        },
    ]
    with TestClient(create_api(slow_settings, db)) as client:
        _app_with_data(client, admin_headers, "shop")
        before = _count(samples(client), "toucan_data_slow_queries_total")
        answer = _query(client, admin_headers, "shop", heavy)
        assert answer.status_code == 200, answer.text
        assert _count(samples(client), "toucan_data_slow_queries_total") == before + 1
    [line] = [entry for entry in _lines(json_log) if entry["logger"] == "toucan.data.slow"]
    assert line["request_id"] == answer.headers["x-request-id"]
    assert line["app"] == "shop" and line["stage"] == "staging" and line["duration_ms"] >= 1
    assert "AS t8" in line["sql"] and line["level"] == "WARNING"
    # Under the threshold: no line.
    patient = settings.model_copy(update={"slow_query_ms": 60_000})
    with TestClient(create_api(patient, db)) as client:
        _query(client, admin_headers, "shop", [{"name": "domain", "domain": "sales"}]).raise_for_status()
    assert len([e for e in _lines(json_log) if e["logger"] == "toucan.data.slow"]) == 1
