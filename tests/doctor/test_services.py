"""`toucan-ctl doctor`'s checks of the database, Redis, storage and the job system: each one
passes on a working stack and, broken, fails with the fix named."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.helpers import free_port
from toucan.apps.configs import Stage
from toucan.apps.secrets import AppSecrets
from toucan.apps.small_apps import AppCreate, create_app
from toucan.data.domains import domain_store_for
from toucan.db.engine import Database
from toucan.doctor.findings import Verdict
from toucan.doctor.services import (
    check_database,
    check_jobs,
    check_redis,
    check_shared_storage,
    check_storage,
)
from toucan.etl.ingest import UploadFormat, ingest_file
from toucan.jobs import liveness
from toucan.settings import Settings

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"


def _one(findings: list, check: str):  # type: ignore[no-untyped-def]
    return next(f for f in findings if f.check == check)


def test_the_stacks_database_passes_with_its_migrations(settings: Settings, db: Database) -> None:
    findings = check_database(settings)
    assert _one(findings, "database").verdict == Verdict.OK
    assert _one(findings, "migrations").verdict == Verdict.OK


def test_a_database_on_a_closed_port_fails_with_where_to_look(settings: Settings) -> None:
    broken = settings.model_copy(update={"database_url": f"postgresql+psycopg://u:hunter2@127.0.0.1:{free_port()}/x"})
    [finding] = check_database(broken)
    assert finding.verdict == Verdict.FAIL
    assert "cannot be reached" in (finding.fix or "") and "TOUCAN_DATABASE_URL" in (finding.fix or "")
    assert "hunter2" not in finding.summary  # the password is never shown


def test_a_database_that_does_not_exist_names_createdb(settings: Settings) -> None:
    broken = settings.model_copy(update={"database_url": f"{POSTGRES}/toucan_doctor_nowhere"})
    [finding] = check_database(broken)
    assert finding.verdict == Verdict.FAIL
    assert "createdb" in (finding.fix or "")


def test_tls_required_from_a_server_without_it_names_sslmode(settings: Settings) -> None:
    broken = settings.model_copy(update={"database_url": f"{POSTGRES}/postgres?sslmode=require"})
    [finding] = check_database(broken)
    assert finding.verdict == Verdict.FAIL
    assert "sslmode" in (finding.fix or "") and "sslrootcert" in (finding.fix or "")


def test_a_missing_or_wrong_ca_file_fails_before_connecting(settings: Settings, tmp_path: Path) -> None:
    missing = settings.model_copy(
        update={"database_url": f"{POSTGRES}/postgres?sslmode=verify-full&sslrootcert={tmp_path}/ca.crt"}
    )
    [finding] = check_database(missing)
    assert finding.verdict == Verdict.FAIL and "cannot be read" in finding.summary
    assert "sslrootcert" in (finding.fix or "")
    (tmp_path / "ca.crt").write_text("not a certificate")
    [finding] = check_database(missing)
    assert finding.verdict == Verdict.FAIL and "no PEM certificate" in finding.summary


def test_a_plain_connection_to_a_remote_host_warns(settings: Settings) -> None:
    # libpq connects to hostaddr; the host name is what the check reads, as it would be for a remote server.
    remote = settings.model_copy(
        update={"database_url": "postgresql+psycopg://postgres@db.example.com:5432/postgres?hostaddr=127.0.0.1"}
    )
    findings = check_database(remote)
    assert _one(findings, "database").verdict == Verdict.OK
    tls = _one(findings, "database-tls")
    assert tls.verdict == Verdict.WARN and "sslmode=verify-full" in (tls.fix or "")


def test_a_sqlite_file_that_is_not_there_or_empty(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    [finding] = check_database(settings)
    assert finding.verdict == Verdict.FAIL and "toucan-ctl migrate" in (finding.fix or "")
    assert not (tmp_path / "toucan.sqlite").exists()  # the doctor changes nothing
    (tmp_path / "toucan.sqlite").touch()
    findings = check_database(settings)
    assert _one(findings, "database").verdict == Verdict.OK
    migrations = _one(findings, "migrations")
    assert migrations.verdict == Verdict.FAIL and "toucan-ctl migrate" in (migrations.fix or "")


def test_a_schema_behind_or_ahead_of_this_version(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    engine = create_engine(settings.resolved_database_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        conn.execute(text("INSERT INTO alembic_version VALUES ('0001')"))
    behind = _one(check_database(settings), "migrations")
    assert behind.verdict == Verdict.FAIL and "toucan-ctl migrate" in (behind.fix or "")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    engine.dispose()
    ahead = _one(check_database(settings), "migrations")
    assert (
        ahead.verdict == Verdict.FAIL and "newer version" in ahead.summary and "upgrade this host" in (ahead.fix or "")
    )


def test_redis_answers_or_not(settings: Settings) -> None:
    assert check_redis(settings.model_copy(update={"redis_url": None})).verdict == Verdict.SKIP
    assert check_redis(settings.model_copy(update={"redis_url": "redis://127.0.0.1:6379/0"})).verdict == Verdict.OK
    closed = check_redis(settings.model_copy(update={"redis_url": f"redis://:pw@127.0.0.1:{free_port()}/0"}))
    assert closed.verdict == Verdict.FAIL
    assert "TOUCAN_REDIS_URL" in (closed.fix or "") and ":pw@" not in closed.summary


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory nobody can write, root included (the tests may run as root)."""
    directory = tmp_path / "frozen"
    directory.mkdir()
    made = subprocess.run(["chattr", "+i", str(directory)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"chattr +i is not possible here: {made.stderr!r}")
    try:
        yield directory
    finally:
        subprocess.run(["chattr", "-i", str(directory)], check=True)


def test_storage_writable_or_not(tmp_path: Path, read_only_dir: Path) -> None:
    missing = check_storage(Settings(data_dir=tmp_path / "data"))
    assert missing.verdict == Verdict.FAIL and "does not exist" in missing.summary
    assert not (tmp_path / "data").exists()
    (tmp_path / "data").mkdir()
    assert check_storage(Settings(data_dir=tmp_path / "data")).verdict == Verdict.OK
    finding = check_storage(Settings(data_dir=read_only_dir))
    assert finding.verdict == Verdict.FAIL
    assert "write access to TOUCAN_DATA_DIR" in (finding.fix or "")


def _domain_and_secret(settings: Settings, db: Database, tmp_path: Path) -> None:
    with db.session() as session:
        create_app(session, None, AppCreate(id="shop", name="Shop"))
    store = domain_store_for(settings, db)
    csv = tmp_path / "sales.csv"
    csv.write_text("a\n1\n2\n")
    staged = ingest_file(store, "shop", "sales", csv, UploadFormat.CSV)
    store.commit("shop", Stage.STAGING, {"sales": staged}, replace_all=False, author=None)
    AppSecrets(db, settings.resolved_secret_key()).put("shop", "token", "s3cret", author=None)


def test_shared_storage_finds_the_data_files_and_the_secret_key(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    _domain_and_secret(settings, db, tmp_path)
    passing = check_shared_storage(settings, db)
    assert passing.verdict == Verdict.OK and "decrypts" in passing.summary
    elsewhere = check_shared_storage(settings.model_copy(update={"data_dir": tmp_path / "other"}), db)
    assert elsewhere.verdict == Verdict.FAIL
    assert "shared volume" in (elsewhere.fix or "") and "shop/" in elsewhere.summary
    other_key = check_shared_storage(settings.model_copy(update={"secret_key": "another key"}), db)
    assert other_key.verdict == Verdict.FAIL and "TOUCAN_SECRET_KEY" in (other_key.fix or "")


def test_jobs_need_a_consuming_worker_and_a_beating_scheduler(settings: Settings, db: Database) -> None:
    down = check_jobs(settings, db)
    assert down.verdict == Verdict.FAIL
    assert "toucan-ctl worker" in (down.fix or "") and "toucan-ctl scheduler" in (down.fix or "")
    liveness.beat(db, liveness.WORKER, "worker:test:1")
    half = check_jobs(settings, db)
    assert half.verdict == Verdict.FAIL and "toucan-ctl worker" not in (half.fix or "")
    liveness.beat(db, liveness.SCHEDULER, "scheduler:test:1")
    up = check_jobs(settings, db)
    assert up.verdict == Verdict.OK and "1 live worker" in up.summary
