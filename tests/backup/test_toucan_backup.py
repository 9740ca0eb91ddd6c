"""`toucan_backup` and `toucan_restore` as the FAQ runs them, between two running stacks: one
on SQLite (the embedded default), one on PostgreSQL. The tools are the installed console
scripts, run as processes with the FAQ's environment variables; what the target stack serves
is read through its running backend's HTTP API."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.helpers import clean_env, running_server
from toucan.apps.configs import ConfigKind, Stage, write_config
from toucan.apps.secrets import AppSecrets, render_provider_secrets
from toucan.apps.small_apps import AppCreate, create_app
from toucan.auth.users import UserCreate, create_user
from toucan.data.domains import domain_store_for
from toucan.db import migrate
from toucan.db.engine import Database
from toucan.demo_seed import DEMO_APP, seed_demo
from toucan.errors import ValidationError
from toucan.etl.sources import SourceFiles
from toucan.settings import Settings

# SQLite → PostgreSQL whatever the suite's database: run once (the SQLite pass).
pytestmark = [pytest.mark.postgres, pytest.mark.own_stacks]

BIN = Path(sys.executable).parent
ADMIN_PASSWORD = "restore-admin-pw-1"
SECRET_VALUE = "s3cr3t-never-in-a-backup-7f1c"
TARGETS_CSV = b"region,target\nNorth,100\nSouth,250\nEast,175\n"
SECRET_KEY_A = "stack-a-secret-key-0123456789abcdef"
SECRET_KEY_B = "stack-b-secret-key-0123456789abcdef"


@dataclass
class Stack:
    name: str
    settings: Settings
    db: Database
    base: str
    env: dict[str, str]

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(self.base + path, headers=self.headers, timeout=30, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.post(self.base + path, headers=self.headers, timeout=30, **kw)

    @property
    def headers(self) -> dict[str, str]:
        token = httpx.post(
            self.base + "/login", json={"username": "admin", "password": ADMIN_PASSWORD}, timeout=30
        ).json()["token"]
        return {"Authorization": f"Bearer {token}"}

    def rows(self, app: str, domain: str, stage: str = "production") -> list[dict[str, Any]]:
        answer = self.post(
            f"/{app}/data?stage={stage}", json={"query": [{"name": "domain", "domain": domain}], "limit": 100_000}
        )
        assert answer.status_code == 200, answer.text
        return sorted(answer.json()["data"], key=lambda row: json.dumps(row, sort_keys=True, default=str))


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return clean_env(
        TOUCAN_DATA_DIR=str(settings.data_dir),
        TOUCAN_DATABASE_URL=settings.resolved_database_url,
        TOUCAN_SECRET_KEY=settings.secret_key or "",
        TOUCAN_SUPER_ADMIN_PASSWORD=ADMIN_PASSWORD,
        TOUCAN_GUNICORN_WORKERS="1",
        TOUCAN_READY_CHECKS_JOBS="false",
        **extra,
    )


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    base = make_url(
        os.environ.get("TOUCAN_TEST_DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    name = f"toucan_restore_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _seed_source_stack(settings: Settings, db: Database) -> None:
    """Stack A: the demo app, an uploaded file, a secret its etl_config uses, two users."""
    seed_demo(db, settings.data_dir, rows=2000, users_password="demo-users-pw-1")
    SourceFiles(db, settings.data_dir, 10_000_000).save(DEMO_APP, "targets.csv", io.BytesIO(TARGETS_CSV), author="test")
    AppSecrets(db, settings.resolved_secret_key()).put(DEMO_APP, "warehouse_password", SECRET_VALUE, author="test")
    etl = {
        "DATA_PROVIDERS": [
            {
                "name": "warehouse",
                "type": "postgres",
                "host": "warehouse.example.com",
                "user": "reader",
                "password": "{{ secrets.warehouse_password }}",
            }
        ],
        "DATA_SOURCES": [
            {"domain": "sales", "type": "parquet", "file": "sales.parquet"},
            {"domain": "targets", "type": "csv", "file": "targets.csv"},
        ],
    }
    with db.session() as session:
        write_config(session, DEMO_APP, Stage.STAGING, ConfigKind.ETL, etl, author="test")


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> Iterator[tuple[Stack, Stack]]:
    root = tmp_path_factory.mktemp("stacks")
    settings_a = Settings(data_dir=root / "a", secret_key=SECRET_KEY_A, super_admin_password=ADMIN_PASSWORD)
    settings_b = Settings(
        data_dir=root / "b", database_url=pg_url, secret_key=SECRET_KEY_B, super_admin_password=ADMIN_PASSWORD
    )
    dbs = []
    for settings in (settings_a, settings_b):
        settings.data_dir.mkdir(parents=True)
        db = Database.from_settings(settings)
        migrate.upgrade(db.engine, settings.data_dir)
        dbs.append(db)
    _seed_source_stack(settings_a, dbs[0])
    with dbs[1].session() as session:  # on B, only the viewer exists: the builder's privilege is skipped
        create_user(session, None, UserCreate.model_validate({"username": "demo-viewer", "password": "other-pw-123"}))
    env_a, env_b = _env(settings_a), _env(settings_b)
    with (
        running_server(env_a, args=("--production",), ready_path="/ready") as (base_a, _),
        running_server(env_b, args=("--production",), ready_path="/ready") as (base_b, _),
    ):
        yield (
            Stack("a", settings_a, dbs[0], base_a, env_a),
            Stack("b", settings_b, dbs[1], base_b, env_b),
        )
    for db in dbs:
        db.dispose()


def _run(tool: str, env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / tool), *args], env={**env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=300, cwd=cwd
    )


def _backup(stack: Stack, output: Path, app: str = DEMO_APP) -> Path:
    env = {**stack.env, "BACKEND_URL_SPECIFIC": stack.base, "SMALL_APP_SPECIFIC": app}
    done = _run("toucan_backup", env, "--output", str(output), "--storage", str(stack.settings.data_dir))
    assert done.returncode == 0, done.stderr + done.stdout
    (folder,) = output.glob("on-premise_backup-*")
    return folder


def _restore(stack: Stack, folder: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        **stack.env,
        "BACKEND_URL_SPECIFIC": stack.base,
        "BACKEND_USER_SPECIFIC": "admin",
        "BACKEND_PASSWORD_SPECIFIC": ADMIN_PASSWORD,
        **extra,
    }
    return _run("toucan_restore", env, str(folder), str(stack.settings.data_dir), *args)


@pytest.fixture(scope="module")
def backup(stacks: tuple[Stack, Stack], tmp_path_factory: pytest.TempPathFactory) -> Path:
    a, _ = stacks
    return _backup(a, tmp_path_factory.mktemp("backup"))


def _all_bytes(folder: Path) -> bytes:
    """Every file of the backup, the archives' members decompressed."""
    out = b""
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        out += path.read_bytes()
        if path.name.endswith(".tar.gz"):
            with tarfile.open(path) as tar:
                for member in tar.getmembers():
                    handle = tar.extractfile(member)
                    out += handle.read() if handle else b""
    return out


def _state(stack: Stack, app: str) -> dict[str, Any]:
    """What the target stack holds of an app, through its API."""
    answer = stack.get(f"/{app}/metadata?stage=production")
    return {
        "metadata": answer.json() if answer.status_code == 200 else answer.status_code,
        "front": stack.get(f"/{app}/config?stage=staging").json(),
        "etl": stack.get(f"/{app}/config/etl?stage=staging").json(),
        "sources": stack.get(f"/{app}/data/sources").json()["sources"],
    }


def test_the_backup_is_the_faqs_folder_with_checksums_and_no_secret(backup: Path, stacks: tuple[Stack, Stack]) -> None:
    a, _ = stacks
    assert backup.name.startswith("on-premise_backup-") and len(backup.name) == len("on-premise_backup-") + 8
    assert sorted(p.name for p in backup.iterdir()) == [
        "database.tar.gz",
        "laputa_version",
        "manifest.json",
        "storage.tar.gz",
    ]
    version = httpx.get(a.base + "/").json()["version"]
    assert (backup / "laputa_version").read_text().strip() == version
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["app"] == DEMO_APP and manifest["version"] == version
    for name in ("laputa_version", "database.tar.gz", "storage.tar.gz"):
        data = (backup / name).read_bytes()
        assert manifest["files"][name] == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    with tarfile.open(backup / "database.tar.gz") as tar:
        assert sorted(tar.getnames()) == sorted(
            f"{t}.jsonl"
            for t in (
                "small_apps",
                "app_configs",
                "domain_versions",
                "domain_tables",
                "stage_heads",
                "data_source_files",
                "privileges",
            )
        )
        privileges = [json.loads(line) for line in tar.extractfile("privileges.jsonl").read().splitlines()]  # type: ignore[union-attr]
    assert {(p["user"], p["privilege"]) for p in privileges} == {
        ("demo-viewer", "view"),
        ("demo-builder", "contribute"),
    }
    with tarfile.open(backup / "storage.tar.gz") as tar:
        names = tar.getnames()
    # One domain file, and one file per uploaded source (the demo's own and the test's).
    sources = a.get(f"/{DEMO_APP}/data/sources").json()["sources"]
    assert {f["filename"] for f in sources} == {"sales.parquet", "targets.csv"}
    assert sum(n.startswith("domains/") for n in names) == 1
    assert sum(n.startswith("sources/") for n in names) == len(sources)
    # Secrets: the name is listed (to recreate), the value is nowhere, even encrypted.
    assert manifest["secrets"] == ["warehouse_password"]
    everything = _all_bytes(backup)
    assert SECRET_VALUE.encode() not in everything
    assert b"ciphertext" not in everything and b"app_secrets" not in everything


def test_restore_into_a_postgresql_stack_with_a_new_name(backup: Path, stacks: tuple[Stack, Stack]) -> None:
    a, b = stacks
    done = _restore(b, backup, SMALL_APPS_SPECIFIC=DEMO_APP, SMALL_APPS_NEW_NAME_SPECIFIC="sales-copy")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "create the small app 'sales-copy'" in done.stdout
    assert "warehouse_password" in done.stdout  # to recreate
    assert "user demo-builder: contribute" in done.stdout  # no such user on B: listed as not restored

    # B's running backend serves the restored app, the same rows as A.
    assert b.rows("sales-copy", "sales") == a.rows(DEMO_APP, "sales")
    assert b.rows("sales-copy", "sales", stage="staging") == a.rows(DEMO_APP, "sales", stage="staging")
    source_a, source_b = _state(a, DEMO_APP), _state(b, "sales-copy")
    assert source_b["front"] == source_a["front"] and source_b["etl"] == source_a["etl"]
    assert [(f["filename"], f["sha256"]) for f in source_b["sources"]] == [
        (f["filename"], f["sha256"]) for f in source_a["sources"]
    ]
    assert ("targets.csv", hashlib.sha256(TARGETS_CSV).hexdigest()) in [
        (f["filename"], f["sha256"]) for f in source_b["sources"]
    ]
    path = SourceFiles(b.db, b.settings.data_dir, 10_000_000).path_of("sales-copy", "targets.csv")
    assert path is not None and path.read_bytes() == TARGETS_CSV
    # The viewer of A is a viewer of the copy on B.
    viewer = httpx.post(b.base + "/login", json={"username": "demo-viewer", "password": "other-pw-123"}).json()
    me = httpx.get(b.base + "/me", headers={"Authorization": f"Bearer {viewer['token']}"}).json()
    assert "sales-copy" in json.dumps(me)

    # No secret came along: the job that needs it says which one is missing.
    values = AppSecrets(b.db, b.settings.resolved_secret_key()).values("sales-copy")
    assert values == {}
    etl = b.get("/sales-copy/config/etl?stage=staging").json()
    with pytest.raises(ValidationError, match="warehouse_password"):
        render_provider_secrets(etl, values)


def test_restore_overwrites_an_app_of_the_same_name_without_a_restart(
    backup: Path, stacks: tuple[Stack, Stack]
) -> None:
    a, b = stacks
    # B has its own demo-sales: other data, another domain, another uploaded file.
    seed_demo(b.db, b.settings.data_dir, rows=300)
    SourceFiles(b.db, b.settings.data_dir, 10_000_000).save(
        DEMO_APP, "old.csv", io.BytesIO(b"a,b\n1,2\n"), author="test"
    )
    store = domain_store_for(b.settings, b.db)
    staged = store.stage_file(
        DEMO_APP, lambda conn, path: conn.execute(f"COPY (SELECT 1 AS x) TO '{path}' (FORMAT parquet)")
    )
    store.commit(DEMO_APP, Stage.STAGING, {"leftover": staged}, replace_all=False, author="test")
    released = b.post(f"/{DEMO_APP}/config/operations", json={"operations": ["release_design", "release_data"]})
    assert released.status_code == 200, released.text
    assert len(b.rows(DEMO_APP, "sales")) == 300  # served (and cached) before the restore
    old_files = {p.name for p in (b.settings.data_dir / "sources" / DEMO_APP).iterdir()}

    dry = _restore(b, backup, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Would replace the small app 'demo-sales'" in dry.stdout and "leftover" in dry.stdout
    assert len(b.rows(DEMO_APP, "sales")) == 300  # the dry run changed nothing

    done = _restore(b, backup)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "replace the small app 'demo-sales'" in done.stdout
    # The same running backend now serves the backup's content, and only it.
    assert b.rows(DEMO_APP, "sales") == a.rows(DEMO_APP, "sales")
    metadata = b.get(f"/{DEMO_APP}/metadata?stage=production").json()
    assert "leftover" not in json.dumps(metadata)
    restored = [f["filename"] for f in b.get(f"/{DEMO_APP}/data/sources").json()["sources"]]
    assert restored == [f["filename"] for f in a.get(f"/{DEMO_APP}/data/sources").json()["sources"]]
    assert "old.csv" not in restored
    assert _state(b, DEMO_APP)["etl"] == _state(a, DEMO_APP)["etl"]
    # The old uploaded file is gone from the storage; no file lingers that no row names.
    remaining = {p.name for p in (b.settings.data_dir / "sources" / DEMO_APP).iterdir()}
    assert not remaining & old_files and len(remaining) == len(restored)

    # The restore is a release of the app's history: rolling back to the one before it brings
    # the replaced production back (its design and data), on the same running backend.
    history = b.get(f"/{DEMO_APP}/releases").json()["releases"]
    assert "Recorded as release" in done.stdout and f"release {history[0]['id']}" in done.stdout
    assert history[0]["created_by"] == "admin"
    rolled = b.post(f"/{DEMO_APP}/releases/{history[1]['id']}/rollback")
    assert rolled.status_code == 200, rolled.text
    assert len(b.rows(DEMO_APP, "sales")) == 300
    assert "leftover" in json.dumps(b.get(f"/{DEMO_APP}/metadata?stage=production").json())


def _corrupt_copy(backup: Path, tmp_path: Path, name: str) -> Path:
    copy = tmp_path / backup.name
    shutil.copytree(backup, copy)
    data = bytearray((copy / name).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / name).write_bytes(bytes(data))
    return copy


def test_a_corrupted_backup_is_refused_and_changes_nothing(
    backup: Path, stacks: tuple[Stack, Stack], tmp_path: Path
) -> None:
    _, b = stacks
    before = _state(b, "sales-copy")
    for name in ("storage.tar.gz", "database.tar.gz"):
        copy = _corrupt_copy(backup, tmp_path / name, name)
        done = _restore(b, copy, SMALL_APPS_NEW_NAME_SPECIFIC="sales-copy")
        assert done.returncode == 1, done.stdout
        assert f"The SHA-256 of {name} does not match the manifest" in done.stderr
        assert "Traceback" not in done.stderr
    # A truncated archive: its size no longer matches.
    copy = tmp_path / "truncated" / backup.name
    shutil.copytree(backup, copy)
    with open(copy / "storage.tar.gz", "r+b") as handle:
        handle.truncate(100)
    done = _restore(b, copy, SMALL_APPS_NEW_NAME_SPECIFIC="sales-copy")
    assert done.returncode == 1 and "storage.tar.gz is 100 bytes where the manifest says" in done.stderr
    assert _state(b, "sales-copy") == before


def test_the_tools_say_what_is_wrong_with_their_settings(
    backup: Path, stacks: tuple[Stack, Stack], tmp_path: Path
) -> None:
    a, b = stacks
    env = {k: v for k, v in a.env.items() if k != "TOUCAN_DATABASE_URL"}
    faq = {
        **env,
        "MONGO_URI": "mongodb://user:pw@mongo:27017",
        "BACKEND_URL_SPECIFIC": a.base,
        "SMALL_APP_SPECIFIC": DEMO_APP,
    }
    done = _run("toucan_backup", faq, "--output", str(tmp_path))
    assert done.returncode == 2 and "Set TOUCAN_DATABASE_URL" in done.stderr, done.stderr
    done = _run("toucan_backup", {**a.env, "BACKEND_URL_SPECIFIC": a.base}, "--output", str(tmp_path))
    assert done.returncode == 2 and "SMALL_APP_SPECIFIC is not set" in done.stderr
    done = _run(
        "toucan_backup",
        {**a.env, "BACKEND_URL_SPECIFIC": a.base, "SMALL_APP_SPECIFIC": "no-such-app"},
        "--output",
        str(tmp_path),
    )
    assert done.returncode == 1 and "No small app 'no-such-app'" in done.stderr
    assert not list(tmp_path.glob("on-premise_backup-*"))  # nothing left behind
    # Restore: the user must be an administrator of the target stack.
    done = _restore(b, backup, BACKEND_USER_SPECIFIC="demo-viewer", BACKEND_PASSWORD_SPECIFIC="other-pw-123")
    assert done.returncode == 2 and "is not an administrator" in done.stderr
    done = _restore(b, backup, BACKEND_PASSWORD_SPECIFIC="wrong-password")
    assert done.returncode == 2 and "refused the login" in done.stderr
    done = _restore(b, backup, SMALL_APPS_SPECIFIC="another-app")
    assert done.returncode == 2 and "this backup holds the small app 'demo-sales'" in done.stderr


def _rewrite_manifest(backup: Path, tmp_path: Path, **changes: Any) -> Path:
    copy = tmp_path / backup.name
    shutil.copytree(backup, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest.update(changes)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


def test_a_backup_from_a_newer_version_is_refused_and_an_older_one_restored(
    backup: Path, stacks: tuple[Stack, Stack], tmp_path: Path
) -> None:
    _, b = stacks
    newer = _rewrite_manifest(backup, tmp_path / "major", version="99.0.0")
    done = _restore(b, newer, SMALL_APPS_NEW_NAME_SPECIFIC="from-newer")
    assert done.returncode == 1 and "a newer major version" in done.stderr
    newer = _rewrite_manifest(backup, tmp_path / "schema", schema=["0099_from_the_future"])
    done = _restore(b, newer, SMALL_APPS_NEW_NAME_SPECIFIC="from-newer")
    assert done.returncode == 1 and "0099_from_the_future" in done.stderr
    assert b.get("/small-apps/from-newer").status_code == 404

    # An older version's backup: an earlier schema, rows without a column added since.
    older = tmp_path / "older" / backup.name
    shutil.copytree(backup, older)
    members: dict[str, bytes] = {}
    with tarfile.open(older / "database.tar.gz") as tar:
        for member in tar.getmembers():
            members[member.name] = tar.extractfile(member).read()  # type: ignore[union-attr]
    configs = [json.loads(line) for line in members["app_configs.jsonl"].splitlines()]
    for row in configs:
        del row["updated_by"]
    members["app_configs.jsonl"] = b"".join(json.dumps(row).encode() + b"\n" for row in configs)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (older / "database.tar.gz").write_bytes(buffer.getvalue())
    manifest = json.loads((older / "manifest.json").read_text())
    manifest["version"] = "0.0.9"
    manifest["schema"] = ["0005_login_attempts"]
    manifest["files"]["database.tar.gz"] = {
        "size": len(buffer.getvalue()),
        "sha256": hashlib.sha256(buffer.getvalue()).hexdigest(),
    }
    (older / "manifest.json").write_text(json.dumps(manifest))
    done = _restore(b, older, SMALL_APPS_NEW_NAME_SPECIFIC="from-older")
    assert done.returncode == 0, done.stderr
    assert len(b.rows("from-older", "sales")) == 2000


def test_a_restore_killed_half_way_leaves_the_old_app_serving(stacks: tuple[Stack, Stack], tmp_path: Path) -> None:
    a, b = stacks
    # A big app on A: a 120 MB uploaded file, so that the restore is still extracting when killed.
    big = "big-app"
    with a.db.session() as session:
        create_app(session, None, AppCreate(id=big, name="Big"))
    csv = tmp_path / "big.csv"
    with open(csv, "wb") as out:
        out.write(b"id,payload\n")
        line = 0
        while out.tell() < 120_000_000:
            chunk = b"".join(
                b"%d,%s\n" % (line + i, hashlib.sha256(b"%d" % (line + i)).hexdigest().encode()) for i in range(20_000)
            )
            out.write(chunk)
            line += 20_000
    with open(csv, "rb") as handle:
        SourceFiles(a.db, a.settings.data_dir, 10**9).save(big, "big.csv", handle, author="test")
    first = _restore(b, _backup(a, tmp_path / "v1", app=DEMO_APP), SMALL_APPS_NEW_NAME_SPECIFIC=big)
    assert first.returncode == 0, first.stderr
    before = _state(b, big)
    rows_before = b.rows(big, "sales")

    folder = _backup(a, tmp_path / "v2", app=big)
    env = {
        **b.env,
        "BACKEND_URL_SPECIFIC": b.base,
        "BACKEND_USER_SPECIFIC": "admin",
        "BACKEND_PASSWORD_SPECIFIC": ADMIN_PASSWORD,
    }
    proc = subprocess.Popen(
        [str(BIN / "toucan_restore"), str(folder), str(b.settings.data_dir)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    scratch = b.settings.data_dir / "tmp"
    deadline = time.monotonic() + 120
    while not any(p.stat().st_size > 1_000_000 for p in scratch.glob("*/restore-*/sources/*")):
        assert proc.poll() is None, "the restore ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    # The old app is intact and served; no row names a missing file, no file of the app is new.
    assert _state(b, big) == before
    assert b.rows(big, "sales") == rows_before
    listed = {f["filename"] for f in before["sources"]}
    assert listed == {"sales.parquet", "targets.csv"}  # the demo's, as restored first
    files = {p.name for p in (b.settings.data_dir / "sources" / big).iterdir()}
    assert len(files) == len(listed)
    # The killed process's scratch folder is swept by the next restore (or worker start).
    done = _restore(b, folder)
    assert done.returncode == 0, done.stderr
    assert not list(scratch.glob("*/restore-*"))
    assert [f["filename"] for f in b.get(f"/{big}/data/sources").json()["sources"]] == ["big.csv"]


def test_gzip_damage_inside_a_matching_checksum_is_still_a_clear_error(
    backup: Path, stacks: tuple[Stack, Stack], tmp_path: Path
) -> None:
    """A backup whose manifest was rewritten to match a damaged storage archive: the damage is
    found while reading, before the transaction, and the app is untouched."""
    _, b = stacks
    copy = tmp_path / backup.name
    shutil.copytree(backup, copy)
    data = (copy / "storage.tar.gz").read_bytes()
    damaged = gzip.compress(gzip.decompress(data)[: len(gzip.decompress(data)) // 2])
    (copy / "storage.tar.gz").write_bytes(damaged)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"]["storage.tar.gz"] = {"size": len(damaged), "sha256": hashlib.sha256(damaged).hexdigest()}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    before = _state(b, "sales-copy")
    done = _restore(b, copy, SMALL_APPS_NEW_NAME_SPECIFIC="sales-copy")
    assert done.returncode == 1, done.stdout
    assert "storage.tar.gz" in done.stderr and "Traceback" not in done.stderr
    assert _state(b, "sales-copy") == before


OIDC_SECRET = "oidc-client-secret-never-exported-42"
SETTINGS_DOCUMENT = {
    "auth": {
        "providers": [
            {"id": "local", "type": "local", "name": "Company login"},
            {
                "id": "corp",
                "name": "Corp SSO",
                "type": "OIDC",
                "config": {
                    "providerConfig": {
                        "issuer": "https://idp.example.com",
                        "authorization_endpoint": "https://idp.example.com/auth",
                        "token_endpoint": "https://idp.example.com/token",
                        "jwks_uri": "https://idp.example.com/jwks",
                    },
                    "defaultRedirectUrl": "https://toucan.example.com",
                    "appCredentials": {"client_id": "toucan", "client_secret": OIDC_SECRET},
                },
            },
        ]
    }
}


@pytest.fixture
def empty_stack(tmp_path: Path) -> Iterator[Stack]:
    """A new stack (SQLite), as after a disaster: nothing but its super admin."""
    settings = Settings(data_dir=tmp_path / "c", secret_key="stack-c-secret-key-0123456789abc")
    settings.data_dir.mkdir()
    db = Database.from_settings(settings)
    migrate.upgrade(db.engine, settings.data_dir)
    env = _env(settings)
    with running_server(env, args=("--production",), ready_path="/ready") as (base, _):
        yield Stack("c", settings, db, base, env)
    db.dispose()


def test_a_whole_instance_restored_on_a_new_stack(
    stacks: tuple[Stack, Stack], empty_stack: Stack, tmp_path: Path
) -> None:
    a, _ = stacks
    c = empty_stack
    admin = a.headers
    assert httpx.post(a.base + "/groups", json={"name": "analysts"}, headers=admin).status_code == 201
    joined = httpx.patch(a.base + "/users/demo-viewer", json={"groups": ["analysts"]}, headers=admin)
    assert joined.status_code == 200, joined.text
    saved = httpx.put(a.base + "/instance-settings", json=SETTINGS_DOCUMENT, headers=admin)
    assert saved.status_code == 200, saved.text
    hashes = [
        row[0]
        for row in a.db.engine.connect().execute(
            text("SELECT password_hash FROM users WHERE password_hash IS NOT NULL")
        )
    ]
    assert hashes

    env = {**a.env, "BACKEND_URL_SPECIFIC": a.base}
    done = _run("toucan_backup", env, "--instance", "--output", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr + done.stdout
    (folder,) = (tmp_path / "out").glob("on-premise_backup-*")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["kind"] == "instance"
    assert DEMO_APP in manifest["contents"]["apps"]
    everything = _all_bytes(folder) + b"".join(_all_bytes(app) for app in (folder / "apps").iterdir())
    for secret in (OIDC_SECRET, SECRET_VALUE, *hashes):
        assert secret.encode() not in everything

    # An admin who is not a super admin cannot restore a whole instance (it creates users).
    with c.db.session() as session:
        create_user(
            session, None, UserCreate.model_validate({"username": "ops", "password": "ops-password-1", "role": "ADMIN"})
        )
    refused = _restore(c, folder, BACKEND_USER_SPECIFIC="ops", BACKEND_PASSWORD_SPECIFIC="ops-password-1")
    assert refused.returncode == 2 and "must be a super admin" in refused.stderr
    assert c.get("/small-apps").json() == []

    restored = _restore(c, folder)
    assert restored.returncode == 0, restored.stderr + restored.stdout
    out = " ".join(restored.stdout.split())
    assert "Set one for these local users" in out and "demo-viewer" in out and "demo-builder" in out
    # The settings need the OIDC client secret, which no backup holds: this stack's are kept, and said so.
    assert "Instance settings: not restored" in out

    # Users, groups and memberships are back; the apps are served with the same rows.
    assert c.rows(DEMO_APP, "sales") == a.rows(DEMO_APP, "sales")
    group = c.get("/groups/analysts").json()
    assert "demo-viewer" in json.dumps(group)
    # No password came along: the restored user cannot log in until one is set.
    login = httpx.post(c.base + "/login", json={"username": "demo-viewer", "password": "demo-users-pw-1"})
    assert login.status_code == 401
    subprocess.run(
        [str(BIN / "toucan-ctl"), "set-password", "demo-viewer", "--password", "new-password-123"],
        env=c.env,
        check=True,
        capture_output=True,
    )
    token = httpx.post(c.base + "/login", json={"username": "demo-viewer", "password": "new-password-123"}).json()[
        "token"
    ]
    viewer = {"Authorization": f"Bearer {token}"}
    query = {"query": [{"name": "domain", "domain": "sales"}], "limit": 1}
    assert httpx.post(f"{c.base}/{DEMO_APP}/data?stage=production", json=query, headers=viewer).status_code == 200
