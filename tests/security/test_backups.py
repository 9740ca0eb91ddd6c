"""Backups as an attacker tries them. Builders (contribute on an app) and viewers reach only
their app and admins cannot become super admins; so nobody but an admin backs up, downloads or
restores, a download names a backup job of its app or answers 404, and an uploaded `.tar` holds
the one backup folder with its four files or is refused — with a JSON 4xx, writing nothing."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import tarfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.helpers import Server
from tests.helpers.api import assert_error
from tests.helpers.backups import backup_tar, make_app, members_of, resign, state_of, tar_of
from tests.helpers.workers import wait_for_job
from toucan import __version__
from toucan.backup import archive
from toucan.backup.app_export import backup_app
from toucan.backup.jobs import backups_root
from toucan.db.engine import Database
from toucan.db.etl_models import Job
from toucan.db.models import User
from toucan.jobs.scratch import scratch_root
from toucan.jobs.store import JobKind, JobStore
from toucan.settings import Settings

TAR = {"Content-Type": "application/x-tar"}


@pytest.fixture
def shop(client: TestClient, admin_headers: dict[str, str], settings: Settings, db: Database, tmp_path: Path) -> Path:
    """Apps `shop` and `other`, and a backup folder of `shop` made as the worker makes it."""
    make_app(client, admin_headers, "shop")
    make_app(client, admin_headers, "other", sales="country,revenue\nItaly,1\n")
    return backup_app(db, settings.data_dir, "shop", tmp_path / "made", version=__version__).directory


def post_restore(client: TestClient, headers: dict[str, str], body: bytes, **query: str) -> Any:
    return client.post("/restore", params=query, content=body, headers={**headers, **TAR})


@pytest.fixture(autouse=True)
def no_backups_yet(settings: Settings) -> None:
    """Backups other tests left in the session's data dir (kept for their retention) are not
    this test's leftovers."""
    shutil.rmtree(backups_root(settings.data_dir), ignore_errors=True)


def leftovers(settings: Settings) -> list[Path]:
    """What a refused upload could have left: job folders, unpacked uploads."""
    found = list(backups_root(settings.data_dir).glob("*")) if backups_root(settings.data_dir).exists() else []
    return found + list(scratch_root(settings.data_dir).glob("*/backup-upload-*"))


def test_builders_and_viewers_can_neither_back_up_nor_download_nor_restore(
    client: TestClient, admin_headers: dict[str, str], make_user: Any, shop: Path, settings: Settings, db: Database
) -> None:
    builder = make_user("builder", privileges={"shop": ["contribute"]})
    viewer = make_user("viewer", privileges={"shop": ["view"]})
    job_id = JobStore(db, 30).create(JobKind.BACKUP, app_id="shop", stage=None, author="admin")
    before = state_of(client, admin_headers, "shop")
    for headers in (builder, viewer):
        assert_error(client.post("/shop/backup", headers=headers), 403, "forbidden")
        assert_error(client.get(f"/shop/backup/{job_id}", headers=headers), 403, "forbidden")
        assert_error(post_restore(client, headers, backup_tar(shop)), 403, "forbidden")
        assert_error(post_restore(client, headers, backup_tar(shop), dry_run="true"), 403, "forbidden")
        assert_error(post_restore(client, headers, backup_tar(shop), new_name="mine"), 403, "forbidden")
    assert_error(client.post("/shop/backup"), 401)
    assert_error(post_restore(client, {}, backup_tar(shop)), 401)
    with db.readonly_session() as session:
        assert session.scalars(select(Job.kind)).all() == ["backup"]  # only the one made above
    assert state_of(client, admin_headers, "shop") == before
    assert state_of(client, admin_headers, "mine") == {"exists": False}
    assert leftovers(settings) == []


def test_a_download_names_a_backup_job_of_its_app_or_answers_404(
    client: TestClient, admin_headers: dict[str, str], shop: Path, db: Database
) -> None:
    store = JobStore(db, 30)
    preprocess = store.create(JobKind.PREPROCESS, app_id="shop", stage="staging", author="admin")
    store.succeed(preprocess)
    others = store.create(JobKind.BACKUP, app_id="other", stage=None, author="admin")
    store.succeed(others)
    for path in (
        f"/shop/backup/{uuid.uuid4()}",  # no such job
        f"/shop/backup/{preprocess}",  # a job that is not a backup
        f"/shop/backup/{others}",  # another app's backup
        "/shop/backup/..%2F..%2Fetc%2Fpasswd",
        "/shop/backup/not-a-job",
        f"/nope/backup/{others}",
    ):
        assert_error(client.get(path, headers=admin_headers), 404, "not_found")
    assert_error(client.post("/nope/backup", headers=admin_headers), 404, "not_found")


def _info(name: str, kind: bytes, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def crafted(shop: Path) -> dict[str, bytes]:
    """Each way an uploaded .tar may lie, by name."""
    top = shop.name
    files = members_of(shop)
    whole = [(f"{top}/{name}", data) for name, data in files.items()]
    database = files[archive.DATABASE_FILE]
    storage = files[archive.STORAGE_FILE]
    return {
        "symlink": tar_of(
            [*whole[:3], (f"{top}/storage.tar.gz", _info(f"{top}/storage.tar.gz", tarfile.SYMTYPE, "/etc/passwd"))]
        ),
        "hard link": tar_of(
            [*whole[:3], (f"{top}/storage.tar.gz", _info(f"{top}/storage.tar.gz", tarfile.LNKTYPE, "/etc/passwd"))]
        ),
        "device": tar_of([*whole, ("dev", _info(f"{top}/zero", tarfile.CHRTYPE))]),
        "dot-dot": tar_of([*whole, (f"{top}/../escape.txt", b"out")]),
        "dot-dot first": tar_of([(f"../{top}/manifest.json", files[archive.MANIFEST_FILE])]),
        "absolute": tar_of([("/tmp/escape.txt", b"out"), *whole]),
        "extra file": tar_of([*whole, (f"{top}/extra.sh", b"#!/bin/sh\n")]),
        "second folder": tar_of([*whole, ("on-premise_backup-00000000/manifest.json", b"{}")]),
        "other folder": backup_tar(shop, name="not-a-backup"),
        "nested": tar_of([(f"{top}/domains/x.parquet", b"x"), *whole]),
        "twice": tar_of([*whole, whole[0]]),
        "missing file": tar_of(whole[:3]),
        "empty": tar_of([]),
        "not a tar": b'{"hello": "world"}' * 100,
        "truncated tar": backup_tar(shop)[: len(backup_tar(shop)) // 2 + 100],
        "checksum mismatch": backup_tar(shop, {archive.DATABASE_FILE: database[:-8] + b"\0" * 8}),
        "truncated database gzip": backup_tar(
            shop, resign(files, **{archive.DATABASE_FILE: database[: len(database) // 2]})
        ),
        "truncated storage gzip": backup_tar(
            shop, resign(files, **{archive.STORAGE_FILE: storage[: len(storage) // 2]})
        ),
        "manifest lies about size": backup_tar(shop, {archive.STORAGE_FILE: storage + b"x"}),
    }


@pytest.mark.parametrize("dry_run", ["true", "false"])
def test_a_crafted_tar_is_refused_with_a_4xx_and_changes_nothing(
    client: TestClient, admin_headers: dict[str, str], shop: Path, settings: Settings, dry_run: str
) -> None:
    before = {app: state_of(client, admin_headers, app) for app in ("shop", "other")}
    for what, body in crafted(shop).items():
        for query in ({}, {"new_name": "copy"}):
            response = post_restore(client, admin_headers, body, dry_run=dry_run, **query)
            assert 400 <= response.status_code < 500, f"{what}: {response.status_code} {response.text}"
            error = assert_error(response, response.status_code)
            assert error["code"] in ("backup_corrupted", "validation_error"), (what, error)
    assert {app: state_of(client, admin_headers, app) for app in ("shop", "other")} == before
    assert state_of(client, admin_headers, "copy") == {"exists": False}
    assert leftovers(settings) == []
    assert not (settings.data_dir / "escape.txt").exists() and not Path("/tmp/escape.txt").exists()


def test_a_refusal_names_what_was_wrong(client: TestClient, admin_headers: dict[str, str], shop: Path) -> None:
    tars = crafted(shop)
    said = {
        what: post_restore(client, admin_headers, tars[what], dry_run="true").json()["error"]["message"]
        for what in ("symlink", "dot-dot", "absolute", "extra file", "checksum mismatch", "missing file")
    }
    assert "a link" in said["symlink"]
    assert "climbs out" in said["dot-dot"] and "escape.txt" in said["dot-dot"]
    assert "absolute path" in said["absolute"]
    assert "extra.sh" in said["extra file"]
    assert "SHA-256 of database.tar.gz" in said["checksum mismatch"]
    assert "lacks storage.tar.gz" in said["missing file"]


def test_a_backup_from_a_newer_version_is_refused_with_409(
    client: TestClient, admin_headers: dict[str, str], shop: Path
) -> None:
    files = members_of(shop)
    manifest = json.loads(files[archive.MANIFEST_FILE])
    manifest["version"] = "99.0.0"
    body = backup_tar(shop, {archive.MANIFEST_FILE: json.dumps(manifest).encode()})
    assert_error(post_restore(client, admin_headers, body, dry_run="true"), 409, "backup_too_new")
    assert_error(post_restore(client, admin_headers, body), 409, "backup_too_new")


def test_a_restore_name_that_cannot_be_an_app_id_is_refused_before_the_upload_is_read(
    client: TestClient, admin_headers: dict[str, str], shop: Path
) -> None:
    for name in ("../other", "UPPER case", "x" * 40, "a/b"):
        assert_error(post_restore(client, admin_headers, backup_tar(shop), new_name=name), 400, "validation_error")


def _edited_database(files: dict[str, bytes], **members: bytes) -> dict[str, bytes]:
    """The backup's files with members of database.tar.gz replaced or added, checksums re-made."""
    with tarfile.open(fileobj=io.BytesIO(files[archive.DATABASE_FILE])) as tar:
        current = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb") as zipped, tarfile.open(fileobj=zipped, mode="w") as tar:
        for name, data in (current | members).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return resign(files, **{archive.DATABASE_FILE: out.getvalue()})


def _jsonl(*rows: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


def test_a_backup_edited_to_promote_users_or_reach_another_app_changes_neither(
    client: TestClient, admin_headers: dict[str, str], make_user: Any, shop: Path, db: Database, worker: Server
) -> None:
    """An admin who edits a backup (and its checksums) restores rows of that one app: a
    `users` member is not read, and a privilege row names no app but the restored one."""
    make_user("eve", role="ADMIN")
    files = members_of(shop)
    before = state_of(client, admin_headers, "other")
    elsewhere = _edited_database(
        files, **{"privileges.jsonl": _jsonl({"user": "eve", "privilege": "contribute", "app": "other"})}
    )
    assert_error(post_restore(client, admin_headers, backup_tar(shop, elsewhere)), 400, "backup_corrupted")

    promoted = _edited_database(
        files,
        **{
            "users.jsonl": _jsonl({"username": "eve", "role": "SUPER_ADMIN"}),
            "privileges.jsonl": _jsonl({"user": "eve", "privilege": "contribute"}),
        },
    )
    queued = post_restore(client, admin_headers, backup_tar(shop, promoted), new_name="copy")
    assert queued.status_code == 202, queued.text
    job = wait_for_job(client, admin_headers, queued.json()["id"])
    assert job["state"] == "succeeded", job
    with db.readonly_session() as session:
        roles = dict(session.execute(select(User.username, User.role)).all())
    assert roles["eve"] == "ADMIN" and list(roles.values()).count("SUPER_ADMIN") == 1
    assert client.get("/users/eve", headers=admin_headers).json()["privileges"] == {"copy": ["contribute"]}
    assert state_of(client, admin_headers, "other") == before


def test_a_checked_backup_is_restored_once_by_its_checker_without_sending_it_again(
    client: TestClient,
    admin_headers: dict[str, str],
    settings: Settings,
    shop: Path,
    make_user: Any,
    base_settings: Settings,
) -> None:
    from tests.helpers.workers import running_worker

    tar = backup_tar(shop)
    checked = post_restore(client, admin_headers, tar, new_name="shop-copy", dry_run="true")
    assert checked.status_code == 200, checked.text
    upload = checked.json()["upload"]
    assert checked.json()["app"] == "shop-copy"
    assert state_of(client, admin_headers, "shop-copy") == {"exists": False}  # a dry run restores nothing

    # Another administrator, a builder or a viewer cannot restore it; nor can a made-up id.
    other_admin = make_user("ada", role="ADMIN")
    builder = make_user("bea", privileges={"shop": ["contribute"]})
    assert_error(post_restore(client, other_admin, b"", upload=upload), 404)
    assert_error(post_restore(client, builder, b"", upload=upload), 403)
    assert_error(post_restore(client, admin_headers, b"", upload=str(uuid.uuid4())), 404)
    assert_error(post_restore(client, admin_headers, b"", upload="../../etc"), 404)
    # It restores under the name it was checked with, with no body and no second dry run.
    assert_error(post_restore(client, admin_headers, b"", upload=upload, new_name="elsewhere"), 400)
    assert_error(post_restore(client, admin_headers, tar, upload=upload), 400)
    assert_error(post_restore(client, admin_headers, b"", upload=upload, dry_run="true"), 400)

    with running_worker(base_settings):
        queued = post_restore(client, admin_headers, b"", upload=upload)
        assert queued.status_code == 202, queued.text
        job = wait_for_job(client, admin_headers, queued.json()["id"])
    assert job["state"] == "succeeded", job
    assert state_of(client, admin_headers, "shop-copy")["exists"] is True
    # Taken once: the same id again is not found, and nothing of it is left on disk.
    assert_error(post_restore(client, admin_headers, b"", upload=upload), 404)
    assert leftovers(settings) == []


def test_an_admin_cannot_restore_a_whole_instance_through_a_checked_upload(
    client: TestClient, admin_headers: dict[str, str], settings: Settings, db: Database, make_user: Any, tmp_path: Path
) -> None:
    """The super admin checks an instance backup; an admin who learns its id cannot restore it
    (ids are per owner), and the id stays the super admin's."""
    from toucan.backup.instance import backup_instance

    make_app(client, admin_headers, "shop")
    folder = backup_instance(db, settings.data_dir, tmp_path / "made", version=__version__).directory
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        tar.add(folder, arcname=folder.name)
    admin = make_user("ada", role="ADMIN")
    assert_error(post_restore(client, admin, out.getvalue(), dry_run="true"), 403)
    checked = post_restore(client, admin_headers, out.getvalue(), dry_run="true")
    assert checked.status_code == 200, checked.text
    upload = checked.json()["upload"]
    assert_error(post_restore(client, admin, b"", upload=upload), 404)
    assert (backups_root(settings.data_dir) / upload).is_dir()  # still the super admin's to restore
