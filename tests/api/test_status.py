"""`GET /`, `/health`, `/ready` and the OpenAPI document."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from toucan import API_VERSION, __version__
from toucan.app import create_api
from toucan.db.engine import Database
from toucan.db.etl_models import JobSystemBeat
from toucan.jobs import liveness
from toucan.settings import Settings


def test_root_shows_version_api_version_and_build(client: TestClient) -> None:
    body = client.get("/").json()
    assert body["version"] == __version__
    assert body["api_version"] == API_VERSION
    assert "python" in body["build"] and "commit" in body["build"]


def test_health_answers_without_authentication(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_ready_reports_each_check(client: TestClient, db: Database) -> None:
    # No job worker and no scheduler yet: not ready, and the answer says what to start.
    response = client.get("/ready")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"]["ok"] and checks["storage"]["ok"]
    assert "redis" not in checks  # not configured: embedded fallbacks
    assert checks["jobs"]["ok"] is False and checks["jobs"]["workers"] == 0
    assert "toucan-ctl worker" in checks["jobs"]["error"] and "toucan-ctl scheduler" in checks["jobs"]["error"]
    # A worker somewhere (this test's process stands for it) and the scheduler beat.
    liveness.beat(db, liveness.WORKER, "worker:elsewhere:1")
    liveness.beat(db, liveness.SCHEDULER, "scheduler:elsewhere:2")
    response = client.get("/ready")
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["jobs"]["workers"] == 1


def test_ready_counts_only_recent_signs_of_life(settings: Settings, db: Database) -> None:
    liveness.beat(db, liveness.WORKER, "worker:elsewhere:1")
    liveness.beat(db, liveness.SCHEDULER, "scheduler:elsewhere:2")
    with db.session() as session:
        session.execute(update(JobSystemBeat).values(beat_at=datetime.now(UTC) - timedelta(seconds=31)))
    with TestClient(create_api(settings, db)) as c:
        response = c.get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["jobs"]["workers"] == 0
    # An operator who keeps the API in rotation while workers are down says so.
    relaxed = settings.model_copy(update={"ready_checks_jobs": False})
    with TestClient(create_api(relaxed, db)) as c:
        response = c.get("/ready")
    assert response.status_code == 200 and "jobs" not in response.json()["checks"]


def test_ready_is_503_when_storage_is_not_writable(settings: Settings, db: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the data dir should be")
    broken = settings.model_copy(update={"data_dir": blocked})
    with TestClient(create_api(broken, db)) as c:
        response = c.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["storage"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


def test_ready_checks_redis_when_configured(settings: Settings, db: Database) -> None:
    up = settings.model_copy(update={"redis_url": "redis://127.0.0.1:6379/0"})
    with TestClient(create_api(up, db)) as c:
        assert c.get("/ready").json()["checks"]["redis"]["ok"] is True
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    with TestClient(create_api(down, db)) as c:
        response = c.get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["ok"] is False


def test_openapi_document_lists_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/login",
        "/logout",
        "/me",
        "/users",
        "/groups",
        "/small-apps",
        "/{app}/config",
        "/{app}/config/etl",
        "/pipeline-steps",
    ):
        assert path in paths


def test_openapi_document_describes_every_answer(client: TestClient) -> None:
    """Every operation says what it answers on success: a schema for each media type of its
    2xx answer, or a redirect / no body — including the routes that write their own bytes
    (/data, configs, downloads, SSO), so clients and the studio can be generated from it."""
    paths = client.get("/openapi.json").json()["paths"]
    undescribed = []
    for path, operations in paths.items():
        for method, operation in operations.items():
            answers = {code: answer for code, answer in operation["responses"].items() if code[0] in "23"}
            described = answers and all(
                code in ("204", "303")
                or (answer.get("content") and all(media.get("schema") for media in answer["content"].values()))
                for code, answer in answers.items()
            )
            if not described:
                undescribed.append(f"{method.upper()} {path}")
    assert undescribed == []


def test_the_documented_answers_are_what_the_routes_answer(client: TestClient, admin_headers: dict[str, str]) -> None:
    """The raw-bytes routes' documented models parse their real answers."""
    from toucan.api.answers import DataAnswer, PipelineStepsAnswer
    from toucan.apps.configs import EtlConfig, FrontConfig

    assert client.post("/small-apps", json={"id": "shop", "name": "Shop"}, headers=admin_headers).status_code < 300
    csv = {**admin_headers, "Content-Type": "text/csv"}
    assert client.put("/shop/domain/sales?stage=staging", content="a,b\n1,x\n2,y\n", headers=csv).status_code == 200
    data = client.post(
        "/shop/data?stage=staging", json={"query": [{"name": "domain", "domain": "sales"}]}, headers=admin_headers
    )
    assert data.status_code == 200, data.text
    answer = DataAnswer.model_validate(data.json())
    assert answer.total == len(answer.data) == 2 and [column.name for column in answer.columns] == ["a", "b"]
    steps = PipelineStepsAnswer.model_validate(client.get("/pipeline-steps", headers=admin_headers).json())
    assert {step.name for step in steps.steps} >= {"filter", "aggregate", "top"}
    FrontConfig.model_validate(client.get("/shop/config?stage=staging", headers=admin_headers).json())
    EtlConfig.model_validate(client.get("/shop/config/etl", headers=admin_headers).json())
