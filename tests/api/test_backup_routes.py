"""Backups through the API with a real job worker: back up an app, download one `.tar`, restore
it (a dry run first) under a new name or over the app, and backups removed after their
retention by the worker's garbage collection."""

from __future__ import annotations

import io
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import Server
from tests.helpers.backups import SALES, make_app, rows, state_of
from tests.helpers.workers import running_worker, wait_for_job
from toucan.backup import archive
from toucan.backup.app_restore import read_backup
from toucan.backup.jobs import backups_root
from toucan.db.engine import Database
from toucan.jobs.celery_app import GC_TASK
from toucan.jobs.queue import JobQueue
from toucan.jobs.store import JobKind
from toucan.settings import Settings

RETENTION_HOURS = 2 / 3600  # two seconds: the garbage collection test waits them out


@pytest.fixture(scope="module")
def backup_worker(base_settings: Settings, migrated_db: Database) -> Iterator[Server]:
    with running_worker(base_settings, TOUCAN_BACKUP_RETENTION_HOURS=str(RETENTION_HOURS)) as server:
        yield server


def back_up(client: TestClient, admin: dict[str, str], app: str) -> dict[str, Any]:
    queued = client.post(f"/{app}/backup", headers=admin)
    assert queued.status_code == 202, queued.text
    assert queued.json()["kind"] == "backup" and queued.json()["app"] == app
    job = wait_for_job(client, admin, queued.json()["id"])
    assert job["state"] == "succeeded", job
    return job


def download(client: TestClient, admin: dict[str, str], app: str, job_id: str) -> bytes:
    response = client.get(f"/{app}/backup/{job_id}", headers=admin)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-tar"
    assert int(response.headers["content-length"]) == len(response.content)
    assert "attachment" in response.headers["content-disposition"]
    return response.content


def restore(client: TestClient, admin: dict[str, str], tar: bytes, **query: str) -> Any:
    return client.post("/restore", params=query, content=tar, headers={**admin, "Content-Type": "application/x-tar"})


def test_a_backup_job_gives_one_tar_that_tar_xf_turns_into_what_toucan_restore_reads(
    client: TestClient, admin_headers: dict[str, str], backup_worker: Server, tmp_path: Path
) -> None:
    make_app(client, admin_headers, "shop")
    job = back_up(client, admin_headers, "shop")
    assert job["progress"] == 100
    log = [line["message"] for line in job["log"]]
    assert any(m.startswith("Archiving the app's files") for m in log), log
    assert any("shop_token" in m and "Not in the backup" in m for m in log), log

    tar = download(client, admin_headers, "shop", job["id"])
    with tarfile.open(fileobj=io.BytesIO(tar)) as opened:
        names = sorted(opened.getnames())
    folder = names[0]
    assert folder.startswith(archive.PREFIX)
    assert names == sorted(
        [folder]
        + [f"{folder}/{name}" for name in ("laputa_version", "manifest.json", "database.tar.gz", "storage.tar.gz")]
    )
    (tmp_path / "x.tar").write_bytes(tar)
    subprocess.run(["tar", "xf", "x.tar"], cwd=tmp_path, check=True)
    manifest, app_rows = read_backup(tmp_path / folder)  # what toucan_restore checks first
    assert manifest.app == "shop" and app_rows.app["id"] == "shop"
    assert manifest.secrets == ["shop_token"]


def test_a_restore_under_a_new_name_after_its_dry_run_copies_the_app_and_touches_no_other(
    client: TestClient, admin_headers: dict[str, str], backup_worker: Server, settings: Settings, make_user: Any
) -> None:
    make_app(client, admin_headers, "shop")
    make_app(client, admin_headers, "other", sales="country,revenue\nItaly,1\n")
    make_user("bob", privileges={"shop": ["view"]})
    before = {app: state_of(client, admin_headers, app) for app in ("shop", "other")}
    tar = download(client, admin_headers, "shop", back_up(client, admin_headers, "shop")["id"])

    preview = restore(client, admin_headers, tar, new_name="shop-copy", dry_run="true")
    assert preview.status_code == 200, preview.text
    report = preview.json()
    assert report["dry_run"] is True and report["replaced"] is False
    assert report["app"] == "shop-copy" and report["source_app"] == "shop"
    assert report["domains"] == {"staging": ["sales"]}
    assert report["source_files"] == ["sales.csv"]
    assert report["privileges"] == ["user bob: view"]
    assert report["secrets_to_recreate"] == ["shop_token"]
    assert state_of(client, admin_headers, "shop-copy") == {"exists": False}  # a dry run writes nothing

    queued = restore(client, admin_headers, tar, new_name="shop-copy")
    assert queued.status_code == 202, queued.text
    assert queued.json()["kind"] == "restore"
    job = wait_for_job(client, admin_headers, queued.json()["id"])
    assert job["state"] == "succeeded", job
    log = [line["message"] for line in job["log"]]
    assert "Did create the small app 'shop-copy' from the backup of 'shop' (version" in " ".join(log), log
    assert any("shop_token" in m for m in log), log

    assert rows(client, admin_headers, "shop-copy") == rows(client, admin_headers, "shop")
    assert client.get("/shop-copy/data/sources", headers=admin_headers).json()["sources"][0]["filename"] == "sales.csv"
    assert {app: state_of(client, admin_headers, app) for app in ("shop", "other")} == before
    # The restore's input is gone once its job ended; the backup stays for its download.
    assert not (backups_root(settings.data_dir) / job["id"]).exists()
    assert (backups_root(settings.data_dir) / preview_job_id(client, admin_headers, "shop")).is_dir()


def preview_job_id(client: TestClient, admin: dict[str, str], app: str) -> str:
    jobs = client.get(f"/{app}/jobs", headers=admin).json()["jobs"]
    return str(next(j["id"] for j in jobs if j["kind"] == "backup"))


def test_a_restore_over_the_same_app_puts_back_what_the_backup_holds(
    client: TestClient, admin_headers: dict[str, str], backup_worker: Server
) -> None:
    make_app(client, admin_headers, "shop")
    tar = download(client, admin_headers, "shop", back_up(client, admin_headers, "shop")["id"])
    changed = client.put(
        "/shop/domain/sales?stage=staging",
        content="country,revenue\nPeru,99\n",
        headers={**admin_headers, "Content-Type": "text/csv"},
    )
    assert changed.status_code == 200
    assert rows(client, admin_headers, "shop") == [{"country": "Peru", "revenue": 99}]

    report = restore(client, admin_headers, tar, dry_run="true").json()
    assert report["replaced"] is True and report["app"] == "shop"
    assert report["replaced_before"]["domains"] == {"staging": ["sales"]}
    assert report["secrets_to_recreate"] == []  # the app here has its secret

    job = wait_for_job(client, admin_headers, restore(client, admin_headers, tar).json()["id"])
    assert job["state"] == "succeeded", job
    assert any(line["message"].startswith("Did replace the small app 'shop'") for line in job["log"]), job["log"]
    expected = [
        dict(zip(("country", "revenue"), (c, int(r)), strict=True))
        for c, r in (line.split(",") for line in SALES.strip().splitlines()[1:])
    ]
    assert rows(client, admin_headers, "shop") == expected


def test_a_download_before_the_backup_ends_or_after_it_failed_says_why(
    client: TestClient, admin_headers: dict[str, str], settings: Settings, db: Database
) -> None:
    make_app(client, admin_headers, "shop")
    jobs = JobQueue(settings, db)
    queued = jobs.store.create(JobKind.BACKUP, app_id="shop", stage=None, author="admin")
    response = client.get(f"/shop/backup/{queued}", headers=admin_headers)
    assert response.status_code == 409 and "still queued" in response.json()["error"]["message"]
    jobs.store.fail(queued, "The disk is full.")
    response = client.get(f"/shop/backup/{queued}", headers=admin_headers)
    assert response.status_code == 409 and "The disk is full." in response.json()["error"]["message"]


def test_the_worker_garbage_collection_removes_backups_after_their_retention(
    client: TestClient, admin_headers: dict[str, str], backup_worker: Server, settings: Settings, db: Database
) -> None:
    make_app(client, admin_headers, "shop")
    job_id = back_up(client, admin_headers, "shop")["id"]
    folder = backups_root(settings.data_dir) / job_id
    assert folder.is_dir()
    time.sleep(RETENTION_HOURS * 3600 + 0.5)
    JobQueue(settings, db).celery.send_task(GC_TASK)
    deadline = time.monotonic() + 30
    while folder.exists():
        assert time.monotonic() < deadline, "the worker's garbage collection left the expired backup"
        time.sleep(0.1)
    response = client.get(f"/shop/backup/{job_id}", headers=admin_headers)
    assert response.status_code == 404
    assert "TOUCAN_BACKUP_RETENTION_HOURS" in response.json()["error"]["message"]
