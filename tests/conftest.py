"""Shared fixtures: a real metadata database (SQLite file, or PostgreSQL when
TOUCAN_TEST_DATABASE_URL points at a server), the API driven over HTTP with a test client."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.helpers import Server
from tests.helpers.api import PASSWORD, SUPER_ADMIN_PASSWORD, bearer, login
from tests.helpers.workers import running_worker
from toucan.app import create_api
from toucan.auth.users import UserCreate, create_user
from toucan.bootstrap import ensure_schema, ensure_super_admin
from toucan.db.engine import Database
from toucan.db.models import Base
from toucan.settings import Settings


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database for this test session: a SQLite file, or a new PostgreSQL database."""
    server = os.environ.get("TOUCAN_TEST_DATABASE_URL")
    if not server:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'toucan.sqlite'}"
        return
    name = f"toucan_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def session_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def base_settings(database_url: str, session_data_dir: Path) -> Settings:
    return Settings(
        data_dir=session_data_dir,
        database_url=database_url,
        super_admin_password=SUPER_ADMIN_PASSWORD,
        secret_key="test-secret-key",
        job_heartbeat_timeout=3,
    )


def _wipe(db: Database) -> None:
    with db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(scope="session")
def migrated_db(base_settings: Settings) -> Iterator[Database]:
    db = Database.from_settings(base_settings)
    ensure_schema(db, base_settings)
    yield db
    db.dispose()


@pytest.fixture
def db(migrated_db: Database, base_settings: Settings) -> Iterator[Database]:
    """The session's database, emptied before each test, with the super admin created."""
    _wipe(migrated_db)
    ensure_super_admin(migrated_db, base_settings)
    yield migrated_db


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return base_settings


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_api(settings, db), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def admin_headers(client: TestClient, settings: Settings) -> dict[str, str]:
    return bearer(login(client, settings.super_admin_username, SUPER_ADMIN_PASSWORD))


@pytest.fixture
def make_user(db: Database, client: TestClient) -> Any:
    """Create a user directly through the domain module and return auth headers for them."""

    def _make(
        username: str,
        role: str = "USER",
        privileges: dict[str, list[str]] | None = None,
        **extra: Any,
    ) -> dict[str, str]:
        with db.session() as session:
            create_user(
                session,
                None,
                UserCreate.model_validate(
                    {
                        "username": username,
                        "password": PASSWORD,
                        "role": role,
                        "privileges": privileges or {},
                        **extra,
                    }
                ),
            )
        return bearer(login(client, username, PASSWORD))

    return _make


@pytest.fixture
def worker(settings: Settings, db: Database) -> Iterator[Server]:
    """A real job worker (`toucan-ctl worker`) on the test database and data dir."""
    with running_worker(settings) as server:
        yield server
