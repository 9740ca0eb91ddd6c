"""Migrations: they match the models, and several processes may start at once."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
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


def _drop(cleanup: object) -> None:
    if cleanup is not None:
        admin, name = cleanup  # type: ignore[misc]
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_upgrade_check_says_what_will_run_and_refuses_a_downgrade(database_url: str, tmp_path: Path) -> None:
    """`toucan-ctl upgrade-check`, run with the new version before an upgrade: the migrations
    that will run (none when up to date); a database a newer version migrated is refused by the
    check, by `migrate` and by `serve`, in one line and without touching it."""
    url, cleanup = _fresh_url(database_url, tmp_path)
    env = {"TOUCAN_DATABASE_URL": url, "TOUCAN_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "toucan.cli", *args], env=env, capture_output=True, text=True, timeout=120
        )

    every = [r.revision for r in reversed(list(ScriptDirectory.from_config(migrate.alembic_config()).walk_revisions()))]
    try:
        fresh = run("upgrade-check")
        assert fresh.returncode == 0, fresh.stderr
        assert "empty (a new database)" in fresh.stdout and f"{len(every)} migration(s) will run" in fresh.stdout
        engine = create_engine(url)
        assert inspect(engine).get_table_names() == []  # the check wrote nothing

        # A database left at an older revision: the later migrations, oldest first.
        config = migrate.alembic_config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, every[2])
        older = run("upgrade-check")
        assert older.returncode == 0, older.stderr
        listed = [line.split(":")[0].strip() for line in older.stdout.splitlines() if line.startswith("    ")]
        assert listed == every[3:]

        assert run("migrate").returncode == 0
        assert "up to date" in run("upgrade-check").stdout

        # A newer version migrated it: every command refuses, nothing is changed.
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
        tables = set(inspect(engine).get_table_names())
        for args in (("upgrade-check",), ("migrate",), ("serve", "--port", "8999")):
            refused = run(*args)
            assert refused.returncode != 0, args
            said = refused.stdout + refused.stderr
            assert "9999_from_the_future" in said and "newer version" in said, (args, said)
            assert "Traceback" not in said, (args, said)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "9999_from_the_future"
        assert set(inspect(engine).get_table_names()) == tables
        engine.dispose()
    finally:
        _drop(cleanup)


def test_user_locale_migration_keeps_existing_users_and_their_browser_language(
    database_url: str, tmp_path: Path
) -> None:
    """0009 adds `users.locale` on a database with users: they are kept, none has chosen a
    language (null: the browser's applies), and the downgrade drops the column only."""
    url, cleanup = _fresh_url(database_url, tmp_path)
    config = migrate.alembic_config()
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0008_reports")
            conn.execute(
                text(
                    "INSERT INTO users (username, role, disabled, attributes, provider, created_at, updated_at) "
                    "VALUES ('ana', 'USER', false, '{\"country\": \"France\"}', 'local', :now, :now)"
                ),
                {"now": "2026-12-01 10:00:00"},
            )
        assert "locale" not in {c["name"] for c in inspect(engine).get_columns("users")}
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0009_user_locale")
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT username, role, locale FROM users")).all()
        assert [tuple(r) for r in rows] == [("ana", "USER", None)]
        with engine.begin() as conn:
            conn.execute(text("UPDATE users SET locale = 'fr'"))
            config.attributes["connection"] = conn
            command.downgrade(config, "0008_reports")
        assert "locale" not in {c["name"] for c in inspect(engine).get_columns("users")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT username FROM users")).scalars().all() == ["ana"]
    finally:
        engine.dispose()
        _drop(cleanup)
