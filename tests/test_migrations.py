"""Migrations: they match the models, and several processes may start at once."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from toucan.db import migrate
from toucan.db.engine import Database
from toucan.db.models import Base


def test_migrations_produce_exactly_the_models(migrated_db: Database) -> None:
    with migrated_db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert migrate.current_revisions(migrated_db.engine) == migrate.head_revisions()


def _fresh_url(database_url: str, tmp_path: Path) -> tuple[str, object]:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{tmp_path / 'race.sqlite'}", None
    name = f"toucan_race_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return url.set(database=name).render_as_string(hide_password=False), (admin, name)


def test_concurrent_migrations_on_an_empty_database(database_url: str, tmp_path: Path) -> None:
    url, cleanup = _fresh_url(database_url, tmp_path)
    try:
        env = {
            "TOUCAN_DATABASE_URL": url,
            "TOUCAN_DATA_DIR": str(tmp_path),
            "PATH": "/usr/bin:/bin",
        }
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "toucan.cli", "migrate"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
        assert all(code == 0 for code, _, _ in results), results
        # Exactly one process found the database empty; the others saw it migrated.
        assert sum("was empty" in out for _, out, _ in results) == 1, results
        engine = create_engine(url)
        assert {"users", "small_apps", "app_configs"} <= set(inspect(engine).get_table_names())
        engine.dispose()
    finally:
        if cleanup is not None:
            admin, name = cleanup  # type: ignore[misc]
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
