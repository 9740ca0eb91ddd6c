"""Data-source uploads (plain and chunked), augment.py, secrets and job records through the API."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.helpers.api import assert_error
from toucan.db.engine import Database
from toucan.db.etl_models import AppSecret
from toucan.settings import Settings

APP = "sales-app"
CSV = b"country,revenue\nFrance,10\nSpain,20\n"


@pytest.fixture
def app_id(client: TestClient, admin_headers: dict[str, str]) -> str:
    response = client.post("/small-apps", json={"id": APP, "name": "Sales"}, headers=admin_headers)
    assert response.status_code == 201, response.text
    return APP


def upload(client: TestClient, headers: dict[str, str], filename: str, content: bytes) -> Any:
    return client.post(
        f"/{APP}/data/sources",
        files={"file": (filename, content, "application/octet-stream")},
        data={"data": json.dumps({"filename": filename})},
        headers=headers,
    )


def test_upload_list_replace_and_delete(client: TestClient, admin_headers: dict[str, str], app_id: str) -> None:
    first = upload(client, admin_headers, "sales.csv", CSV)
    assert first.status_code == 201, first.text
    assert first.json()["rows"] == 2 and first.json()["size"] == len(CSV)
    second = upload(client, admin_headers, "sales.csv", CSV + b"Italy,30\n")
    assert second.json()["rows"] == 3
    listed = client.get(f"/{APP}/data/sources", headers=admin_headers).json()["sources"]
    assert [(s["filename"], s["size"]) for s in listed] == [("sales.csv", len(CSV) + 9)]
    assert client.delete(f"/{APP}/data/sources/sales.csv", headers=admin_headers).status_code == 204
    assert client.get(f"/{APP}/data/sources", headers=admin_headers).json()["sources"] == []
    assert_error(client.delete(f"/{APP}/data/sources/sales.csv", headers=admin_headers), 404)


def test_an_unreadable_file_is_rejected_with_its_line_and_the_previous_stays(
    client: TestClient, admin_headers: dict[str, str], app_id: str, settings: Settings
) -> None:
    assert upload(client, admin_headers, "sales.csv", CSV).status_code == 201
    error = assert_error(upload(client, admin_headers, "sales.csv", b"a,b\n1,2\n3,4,5\n"), 400, "invalid_file")
    assert error["details"]["line"] == 3
    listed = client.get(f"/{APP}/data/sources", headers=admin_headers).json()["sources"]
    assert listed[0]["size"] == len(CSV)
    stored = client.app.state.sources.path_of(APP, "sales.csv")  # type: ignore[attr-defined]
    assert stored.read_bytes() == CSV
    assert not list(stored.parent.glob(".*.upload"))


def test_upload_uses_the_options_etl_config_gives_the_file(
    client: TestClient, admin_headers: dict[str, str], app_id: str
) -> None:
    etl = {"DATA_SOURCES": [{"domain": "sales", "file": "sales.txt", "type": "csv", "separator": ";"}]}
    assert client.put(f"/{APP}/config/etl", json=etl, headers=admin_headers).status_code == 200
    response = upload(client, admin_headers, "sales.txt", b"a;b\n1;2\n3;4\n")
    assert response.status_code == 201, response.text
    assert response.json()["rows"] == 2


def test_bad_upload_requests(client: TestClient, admin_headers: dict[str, str], app_id: str) -> None:
    assert_error(client.post(f"/{APP}/data/sources", content=CSV, headers=admin_headers), 400)
    no_file = client.post(
        f"/{APP}/data/sources",
        data={"data": '{"filename": "x.csv"}'},
        files={"other": ("x", b"1")},
        headers=admin_headers,
    )
    assert assert_error(no_file, 400)["details"]["field"] == "file"
    bad_json = client.post(
        f"/{APP}/data/sources", data={"data": "{nope"}, files={"file": ("x.csv", CSV)}, headers=admin_headers
    )
    assert assert_error(bad_json, 400)["details"]["field"] == "data"
    bad_name = upload(client, admin_headers, "../etc/passwd", CSV)
    assert assert_error(bad_name, 400)["details"]["field"] == "data.filename"


def test_upload_size_limit(settings: Settings, db: Database, admin_headers: dict[str, str]) -> None:
    from toucan.app import create_api

    small = settings.model_copy(update={"upload_max_bytes": 1024})
    with TestClient(create_api(small, db), raise_server_exceptions=False) as client:
        assert client.post("/small-apps", json={"id": APP, "name": "S"}, headers=admin_headers).status_code == 201
        error = assert_error(upload(client, admin_headers, "big.csv", b"a\n" + b"1\n" * 2000), 413)
        assert error["details"]["limit"] == 1024
        assert client.get(f"/{APP}/data/sources", headers=admin_headers).json()["sources"] == []


def test_chunked_upload_resumes_from_the_server_offset(
    client: TestClient, admin_headers: dict[str, str], settings: Settings
) -> None:
    # A new app id: its first file arrives by chunks (no folder of earlier uploads).
    app_id = f"chunked-{uuid.uuid4().hex[:8]}"
    assert client.post("/small-apps", json={"id": app_id, "name": "C"}, headers=admin_headers).status_code == 201
    assert not (settings.data_dir / "sources" / app_id).exists()
    content = b"country,revenue\n" + b"".join(f"c{i},{i}\n".encode() for i in range(5000))
    started = client.post(
        f"/{app_id}/data/sources/uploads", json={"filename": "big.csv", "size": len(content)}, headers=admin_headers
    )
    assert started.status_code == 201, started.text
    upload_id = started.json()["id"]
    url = f"/{app_id}/data/sources/uploads/{upload_id}"
    part = client.patch(url, content=content[:10000], headers={**admin_headers, "Upload-Offset": "0"})
    assert part.json()["offset"] == 10000
    # The connection broke during the next chunk: the client asks where to resume.
    wrong = client.patch(url, content=content[5000:], headers={**admin_headers, "Upload-Offset": "5000"})
    assert assert_error(wrong, 409, "offset_mismatch")["details"]["offset"] == 10000
    assert client.get(url, headers=admin_headers).json()["offset"] == 10000
    early = client.post(f"{url}/complete", headers=admin_headers)
    assert assert_error(early, 409, "upload_incomplete")["details"] == {"offset": 10000, "size": len(content)}
    rest = client.patch(url, content=content[10000:], headers={**admin_headers, "Upload-Offset": "10000"})
    assert rest.json()["offset"] == len(content)
    done = client.post(f"{url}/complete", headers=admin_headers)
    assert done.status_code == 200, done.text
    assert done.json()["rows"] == 5000
    assert_error(client.get(url, headers=admin_headers), 404)
    too_long = client.post(
        f"/{app_id}/data/sources/uploads", json={"filename": "x.csv", "size": 3}, headers=admin_headers
    ).json()["id"]
    over = client.patch(
        f"/{app_id}/data/sources/uploads/{too_long}", content=b"abcdef", headers={**admin_headers, "Upload-Offset": "0"}
    )
    assert_error(over, 400)
    assert client.get(f"/{app_id}/data/sources/uploads/{too_long}", headers=admin_headers).json()["offset"] == 0


def test_viewers_cannot_touch_data_sources(client: TestClient, make_user: Any, app_id: str) -> None:
    viewer = make_user("viewer", privileges={APP: ["view"]})
    assert_error(upload(client, viewer, "sales.csv", CSV), 403)
    assert_error(client.get(f"/{APP}/data/sources", headers=viewer), 403)
    assert_error(client.post(f"/{APP}/data/preprocess", headers=viewer), 403)
    assert_error(client.get(f"/{APP}/secrets", headers=viewer), 403)
    stranger = make_user("stranger")
    assert_error(client.get(f"/{APP}/jobs", headers=stranger), 404)


def test_augment_is_stored_checked_and_legacy_needs_the_whitelist(
    client: TestClient, admin_headers: dict[str, str], app_id: str, settings: Settings, db: Database
) -> None:
    code = "def add_margin(sales):\n    sales['m'] = 1\n    return sales\n"
    stored = client.put(f"/{APP}/config/augment", content=code, headers=admin_headers)
    assert stored.status_code == 200, stored.text
    assert stored.json()["functions"] == ["add_margin"]
    assert client.get(f"/{APP}/config/augment", headers=admin_headers).text == code
    error = assert_error(client.put(f"/{APP}/config/augment", content="def f(:\n", headers=admin_headers), 400)
    assert error["details"]["line"] == 1
    legacy = "def augment(dfs):\n    return dfs\n"
    refused = assert_error(client.put(f"/{APP}/config/augment", content=legacy, headers=admin_headers), 400)
    assert refused["code"] == "legacy_augment_refused"
    assert "PIPELINE" in refused["message"] and "TOUCAN_OLD_AUGMENT_WHITELIST" in refused["message"]
    assert client.get(f"/{APP}/config/augment", headers=admin_headers).text == code
    from toucan.app import create_api

    allowed = settings.model_copy(update={"old_augment_whitelist": [APP]})
    with TestClient(create_api(allowed, db), raise_server_exceptions=False) as other:
        assert other.put(f"/{APP}/config/augment", content=legacy, headers=admin_headers).status_code == 200


def test_secrets_are_write_only_and_encrypted(
    client: TestClient, admin_headers: dict[str, str], app_id: str, db: Database
) -> None:
    value = "s3cr3t-db-password"
    assert client.put(f"/{APP}/secrets/db_password", json={"value": value}, headers=admin_headers).status_code == 204
    listed = client.get(f"/{APP}/secrets", headers=admin_headers)
    assert [s["name"] for s in listed.json()["secrets"]] == ["db_password"]
    assert value not in listed.text
    with db.readonly_session() as session:
        ciphertext = session.scalar(select(AppSecret.ciphertext))
    assert ciphertext is not None and value.encode() not in ciphertext
    assert_error(client.put(f"/{APP}/secrets/bad-name", json={"value": "x"}, headers=admin_headers), 400)
    assert_error(client.put(f"/{APP}/secrets/x", json={"value": ""}, headers=admin_headers), 400)
    assert client.delete(f"/{APP}/secrets/db_password", headers=admin_headers).status_code == 204
    assert client.get(f"/{APP}/secrets", headers=admin_headers).json()["secrets"] == []


def test_preprocess_answers_a_queued_job_that_waits_for_a_worker(
    client: TestClient, admin_headers: dict[str, str], app_id: str
) -> None:
    response = client.post(f"/{APP}/data/preprocess?stage=staging", headers=admin_headers)
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    job = client.get(f"/jobs/{job_id}", headers=admin_headers).json()
    assert (job["state"], job["kind"], job["app"], job["progress"]) == ("queued", "preprocess", APP, 0)
    listed = client.get(f"/{APP}/jobs", headers=admin_headers).json()["jobs"]
    assert [j["id"] for j in listed] == [job_id]
    operations = client.post(
        f"/{APP}/config/operations", json={"operations": ["preprocess_data_sources"]}, headers=admin_headers
    )
    assert operations.json()["results"]["preprocess_data_sources"]["state"] == "queued"
    assert_error(client.get("/jobs/not-a-job", headers=admin_headers), 404)
    assert_error(client.get(f"/{APP}/tracebacks/latest", headers=admin_headers), 404)


def test_unreachable_broker_fails_the_job_with_503(
    settings: Settings, db: Database, admin_headers: dict[str, str]
) -> None:
    from toucan.app import create_api

    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    api = create_api(broken, db)
    with TestClient(api, raise_server_exceptions=False) as client:
        assert client.post("/small-apps", json={"id": APP, "name": "S"}, headers=admin_headers).status_code == 201
        queue = api.state.jobs
        queue.celery.conf.broker_connection_timeout = 1
        queue.celery.conf.broker_connection_max_retries = 0
        error = assert_error(client.post(f"/{APP}/data/preprocess", headers=admin_headers), 503)
        job = client.get(f"/jobs/{error['details']['job']}", headers=admin_headers).json()
        assert job["state"] == "failed"
