"""A whole instance's backup through the API, for super admins, with a real job worker: back up
(a job), download one `.tar` holding every app, check it (dry run) and restore it. Admins who
are not super admins are refused: an instance restore creates users. Crafted instance `.tar`s
are refused before anything is written."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import Server
from tests.helpers.api import assert_error
from tests.helpers.backups import make_app, rows
from tests.helpers.workers import running_worker, wait_for_job
from toucan.db.engine import Database
from toucan.settings import Settings


@pytest.fixture(scope="module")
def backup_worker(base_settings: Settings, migrated_db: Database) -> Iterator[Server]:
    with running_worker(base_settings) as server:
        yield server


def _restore(client: TestClient, headers: dict[str, str], tar: bytes, **query: str) -> Any:
    return client.post("/restore", params=query, content=tar, headers={**headers, "Content-Type": "application/x-tar"})


def _instance_tar(client: TestClient, admin: dict[str, str]) -> bytes:
    queued = client.post("/backup", headers=admin)
    assert queued.status_code == 202, queued.text
    assert queued.json()["kind"] == "backup" and queued.json()["app"] is None
    job = wait_for_job(client, admin, queued.json()["id"])
    assert job["state"] == "succeeded", job
    answer = client.get(f"/backup/{job['id']}", headers=admin)
    assert answer.status_code == 200, answer.text
    assert int(answer.headers["content-length"]) == len(answer.content)
    return answer.content


def _rewrite(tar: bytes, change: Any) -> bytes:
    """The same .tar with its members passed through `change(info, data) -> [(info, data)...]`."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(tar)) as source, tarfile.open(fileobj=out, mode="w") as target:
        for info in source.getmembers():
            data = source.extractfile(info).read() if info.isfile() else b""  # type: ignore[union-attr]
            for new_info, new_data in change(info, data):
                new_info.size = len(new_data)
                target.addfile(new_info, io.BytesIO(new_data) if new_info.isfile() else None)
    return out.getvalue()


def test_a_super_admin_backs_up_and_restores_the_whole_instance(
    client: TestClient, admin_headers: dict[str, str], backup_worker: Server
) -> None:
    make_app(client, admin_headers, "north")
    make_app(client, admin_headers, "south")
    tar = _instance_tar(client, admin_headers)
    with tarfile.open(fileobj=io.BytesIO(tar)) as opened:
        names = opened.getnames()
    folder = names[0]
    for app in ("north", "south"):
        for member in ("laputa_version", "manifest.json", "database.tar.gz", "storage.tar.gz"):
            assert f"{folder}/apps/{app}/{member}" in names

    # North changes after the backup; the restore brings the backed-up content back.
    before = rows(client, admin_headers, "north")
    client.delete("/small-apps/north", headers=admin_headers)
    preview = _restore(client, admin_headers, tar, dry_run="true")
    assert preview.status_code == 200, preview.text
    report = preview.json()
    assert report["dry_run"] is True and {a["app"] for a in report["apps"]} == {"north", "south"}
    assert [a["replaced"] for a in report["apps"] if a["app"] == "north"] == [False]
    assert client.get("/small-apps/north", headers=admin_headers).status_code == 404  # a dry run writes nothing

    queued = _restore(client, admin_headers, tar)
    assert queued.status_code == 202, queued.text
    job = wait_for_job(client, admin_headers, queued.json()["id"])
    assert job["state"] == "succeeded", job
    assert any("Restored an instance backup" in line["message"] for line in job["log"]), job["log"]
    assert rows(client, admin_headers, "north") == before


def test_an_admin_who_is_not_super_admin_cannot_back_up_or_restore_the_instance(
    client: TestClient, admin_headers: dict[str, str], make_user: Any, backup_worker: Server
) -> None:
    make_app(client, admin_headers, "east")
    tar = _instance_tar(client, admin_headers)
    admin = make_user("plain-admin", role="ADMIN")
    assert_error(client.post("/backup", headers=admin), 403)
    job = client.post("/backup", headers=admin_headers).json()["id"]
    assert_error(client.get(f"/backup/{job}", headers=admin), 403)
    refused = _restore(client, admin, tar, dry_run="true")
    assert_error(refused, 403)
    assert "super admins" in refused.json()["error"]["message"]
    # A super admin cannot rename a whole instance's apps.
    assert_error(_restore(client, admin_headers, tar, dry_run="true", new_name="other"), 400)
    # An app's download route does not give the instance's backup.
    assert_error(client.get(f"/east/backup/{job}", headers=admin_headers), 404)


CRAFTED = {
    "an app its manifest does not list": lambda info, data: (
        [(info, data)]
        + (
            [(_copy(info, info.name.replace("/apps/west/", "/apps/ghost/")), data)]
            if "/apps/west/" in info.name or info.name.endswith("/apps/west")
            else []
        )
    ),
    "a path that climbs out": lambda info, data: [
        (_copy(info, info.name.replace("/apps/west/", "/apps/../west/")), data)
    ],
    "an extra file in an app": lambda info, data: (
        [(info, data)]
        + (
            [(_copy(info, info.name.replace("manifest.json", "run.sh")), b"echo")]
            if "/apps/west/manifest" in info.name
            else []
        )
    ),
    "an app without its storage": lambda info, data: (
        [] if info.name.endswith("/apps/west/storage.tar.gz") else [(info, data)]
    ),
}


def _copy(info: tarfile.TarInfo, name: str) -> tarfile.TarInfo:
    new = tarfile.TarInfo(name)
    new.type, new.mode, new.mtime = info.type, info.mode, info.mtime
    return new


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_a_crafted_instance_tar_is_refused(
    case: str, client: TestClient, admin_headers: dict[str, str], backup_worker: Server
) -> None:
    make_app(client, admin_headers, "west")
    tar = _rewrite(_instance_tar(client, admin_headers), CRAFTED[case])
    answer = _restore(client, admin_headers, tar, dry_run="true")
    assert_error(answer, 400)
