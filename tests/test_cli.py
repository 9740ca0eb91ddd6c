"""`toucan-ctl`: serve (embedded and production), create-user, set-password, frontend-params."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.helpers import TOUCAN_CTL, Server, clean_env, running_server


def _read_banner(server: Server) -> str:
    return server.wait_for_output("/_api/me")


def test_serve_creates_the_super_admin_prints_the_login_and_serves_the_api(tmp_path: Path, database_url: str) -> None:
    env = clean_env(TOUCAN_DATA_DIR=str(tmp_path))
    if not database_url.startswith("sqlite"):
        env["TOUCAN_DATABASE_URL"] = database_url
        # A shared test database: use another username so the generated password path runs.
    env["TOUCAN_SUPER_ADMIN_USERNAME"] = "root-" + tmp_path.name[-6:].lower()
    with running_server(env) as (base, proc):
        banner = _read_banner(proc)
        match = re.search(r"Log in as (\S+) with password (\S+)", banner)
        assert match, banner
        username, password = match.groups()
        assert username == env["TOUCAN_SUPER_ADMIN_USERNAME"]
        root = httpx.get(base + "/_api/").json()
        assert root["version"] and root["api_version"]
        token = httpx.post(base + "/_api/login", json={"username": username, "password": password}).json()["token"]
        me = httpx.get(base + "/_api/me", headers={"Authorization": f"Bearer {token}"}).json()
        assert me["role"] == "SUPER_ADMIN"
        assert httpx.get(base + "/_api/me", auth=(username, password)).status_code == 200
        assert httpx.get(base + "/_api", follow_redirects=False).status_code == 307
    # Second start: the password is not printed again.
    with running_server(env) as (_base, proc):
        banner = _read_banner(proc)
        assert "with password" not in banner
        assert "set-password" in banner


def test_serve_refuses_mongodb_settings_with_the_replacement(tmp_path: Path) -> None:
    env = clean_env(TOUCAN_DATA_DIR=str(tmp_path), TOUCAN_MONGODB_HOST="mongodb://mongo:27017/api-toucan")
    result = subprocess.run([*TOUCAN_CTL, "serve"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "TOUCAN_DATABASE_URL" in result.stderr
    assert not (tmp_path / "toucan.sqlite").exists()


def test_serve_production_runs_gunicorn_workers_with_the_api_at_the_root(tmp_path: Path) -> None:
    env = clean_env(
        TOUCAN_DATA_DIR=str(tmp_path),
        TOUCAN_GUNICORN_WORKERS="2",
        TOUCAN_SUPER_ADMIN_PASSWORD="prod-password-1",
        # No job worker here: gunicorn alone is under test.
        TOUCAN_READY_CHECKS_JOBS="false",
    )
    with running_server(env, args=("--production",), ready_path="/ready") as (base, proc):
        assert httpx.get(base + "/").json()["api_version"]
        assert httpx.get(base + "/me", auth=("admin", "prod-password-1")).status_code == 200
        children = subprocess.run(
            ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        assert len(children) == 2


def test_create_user_and_set_password(tmp_path: Path) -> None:
    env = clean_env(TOUCAN_DATA_DIR=str(tmp_path), TOUCAN_SUPER_ADMIN_PASSWORD="admin-password")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*TOUCAN_CTL, *args], env=env, capture_output=True, text=True, timeout=60, check=False)

    created = run("create-user", "scripted", "--password", "scripted-pw-1", "--role", "ADMIN")
    assert created.returncode == 0, created.stderr
    assert run("create-user", "scripted", "--password", "scripted-pw-1").returncode == 1
    bad = run("create-user", "other", "--password", "short")
    assert bad.returncode == 2 and "password" in bad.stderr
    assert run("set-password", "scripted", "--password", "changed-pw-2").returncode == 0
    assert run("set-password", "ghost", "--password", "changed-pw-2").returncode == 1
    with running_server(env) as (base, _proc):
        assert httpx.get(base + "/_api/me", auth=("scripted", "changed-pw-2")).json()["role"] == "ADMIN"


def test_frontend_params_writes_the_runtime_files(tmp_path: Path) -> None:
    (tmp_path / "embed-params.json").write_text('{"API_BASEROUTE": "old", "OTHER": 1}')
    result = subprocess.run(
        [
            *TOUCAN_CTL,
            "frontend-params",
            "https://toucan.example.com/_api/",
            "--directory",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    js = (tmp_path / "scripts" / "tc-params.js").read_text()
    assert js.startswith("window.TC_PARAMS = ") and '"API_BASEROUTE": "https://toucan.example.com/_api/"' in js
    assert '"OTHER": 1' in (tmp_path / "embed-params.json").read_text()


@pytest.mark.parametrize(("command", "args"), [("toucan_backup", []), ("toucan_restore", ["/tmp/on-premise_backup-x"])])
def test_the_backup_tools_name_the_setting_they_miss(command: str, args: list[str]) -> None:
    import shutil
    import sys

    exe = shutil.which(command, path=str(Path(sys.executable).parent))
    assert exe, f"{command} console script missing"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_SPECIFIC")}
    result = subprocess.run([exe, *args], capture_output=True, text=True, timeout=30, check=False, env=env)
    assert result.returncode == 2, result.stderr
    assert "BACKEND_URL_SPECIFIC is not set" in result.stderr


def test_release_makes_staging_production(tmp_path: Path) -> None:
    """`toucan-ctl release APP`: the same release as the API's, from a shell."""
    from toucan.apps.configs import ConfigKind, Stage, read_config, write_config
    from toucan.apps.small_apps import AppCreate, create_app
    from toucan.data.domains import domain_store_for
    from toucan.data.release import history as release_history
    from toucan.db.engine import Database
    from toucan.etl.ingest import UploadFormat, ingest_file
    from toucan.settings import Settings

    env = clean_env(TOUCAN_DATA_DIR=str(tmp_path), TOUCAN_SUPER_ADMIN_PASSWORD="admin-password")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*TOUCAN_CTL, *args], env=env, capture_output=True, text=True, timeout=60, check=False)

    assert run("migrate").returncode == 0
    settings = Settings(data_dir=tmp_path)
    db = Database.from_settings(settings)
    with db.session() as session:
        create_app(session, None, AppCreate(id="shop", name="Shop"))
        write_config(session, "shop", Stage.STAGING, ConfigKind.FRONT, {"slides": [{"id": "s1"}]}, author=None)
    store = domain_store_for(settings, db)
    csv = tmp_path / "sales.csv"
    csv.write_text("a\n1\n2\n")
    staged = ingest_file(store, "shop", "sales", csv, UploadFormat.CSV)
    store.commit("shop", Stage.STAGING, {"sales": staged}, replace_all=False, author=None)
    missing = run("release", "nope")
    assert missing.returncode == 1 and "nope" in missing.stderr
    released = run("release", "shop")
    assert released.returncode == 0, released.stderr
    assert "1 domains" in released.stdout
    with db.readonly_session() as session:
        assert read_config(session, "shop", Stage.PRODUCTION, ConfigKind.FRONT)["slides"] == [{"id": "s1"}]
    # One release, design and data, in the app's history.
    (recorded,) = release_history(db, "shop")
    assert (recorded["created_by"], recorded["design"], recorded["data"]) == ("toucan-ctl", True, True)
    assert f"release {recorded['id']}" in released.stdout
    assert set(domain_store_for(settings, db).snapshot("shop", Stage.PRODUCTION).domains) == {"sales"}


def test_rollback_puts_production_back_to_a_past_release(tmp_path: Path) -> None:
    """`toucan-ctl rollback APP [--release ID]`: the API's rollback from a shell; without
    --release, production goes back to the release before the latest."""
    from toucan.apps.configs import ConfigKind, Stage, read_config, write_config
    from toucan.apps.small_apps import AppCreate, create_app
    from toucan.data.domains import domain_store_for
    from toucan.data.release import history as release_history
    from toucan.data.release import release as release_app
    from toucan.db.engine import Database
    from toucan.etl.ingest import UploadFormat, ingest_file
    from toucan.settings import Settings

    env = clean_env(TOUCAN_DATA_DIR=str(tmp_path), TOUCAN_SUPER_ADMIN_PASSWORD="admin-password")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*TOUCAN_CTL, *args], env=env, capture_output=True, text=True, timeout=60, check=False)

    assert run("migrate").returncode == 0
    settings = Settings(data_dir=tmp_path)
    db = Database.from_settings(settings)
    store = domain_store_for(settings, db)
    with db.session() as session:
        create_app(session, None, AppCreate(id="shop", name="Shop"))

    def stage(title: str, rows: str) -> int:
        with db.session() as session:
            write_config(session, "shop", Stage.STAGING, ConfigKind.FRONT, {"slides": [{"id": title}]}, author=None)
        csv = tmp_path / "sales.csv"
        csv.write_text(rows)
        staged = ingest_file(store, "shop", "sales", csv, UploadFormat.CSV)
        store.commit("shop", Stage.STAGING, {"sales": staged}, replace_all=False, author=None)
        return release_app(db, store, "shop", design=True, data=True, author="builder").release_id

    def production() -> tuple[str, int]:
        with db.readonly_session() as session:
            slide = read_config(session, "shop", Stage.PRODUCTION, ConfigKind.FRONT)["slides"][0]["id"]
        rows = store.snapshot("shop", Stage.PRODUCTION).domains["sales"].rows
        return slide, rows

    none_yet = run("rollback", "shop")
    assert none_yet.returncode == 1 and "no release" in none_yet.stderr
    first = stage("first", "a\n1\n")
    only_one = run("rollback", "shop")
    assert only_one.returncode == 1 and "one release" in only_one.stderr
    second = stage("second", "a\n1\n2\n3\n")
    assert production() == ("second", 3)

    # No --release: back to the release before the latest.
    back = run("rollback", "shop")
    assert back.returncode == 0, back.stderr
    assert production() == ("first", 1)
    newest = release_history(db, "shop")[0]
    assert (newest["rollback_of"], newest["created_by"]) == (first, "toucan-ctl")
    assert f"release {newest['id']}" in back.stdout and f"rolled back to release {first}" in back.stdout

    # --release ID: forward again to the second release.
    again = run("rollback", "shop", "--release", str(second))
    assert again.returncode == 0, again.stderr
    assert production() == ("second", 3)
    assert release_history(db, "shop")[0]["rollback_of"] == second

    # Wrong app, a release of no app, an id beyond the id column: clear errors, nothing changed.
    assert "nope" in run("rollback", "nope").stderr
    unknown = run("rollback", "shop", "--release", "999")
    assert unknown.returncode == 1 and "Release 999" in unknown.stderr and "Nothing was changed" in unknown.stderr
    assert run("rollback", "shop", "--release", str(2**40)).returncode == 2
    assert production() == ("second", 3) and len(release_history(db, "shop")) == 4


def test_connectors_check_tests_each_provider_of_an_app(tmp_path: Path) -> None:
    """`toucan-ctl connectors --check APP`: every DATA_PROVIDERS entry checked step by step from
    a shell, as the data page's "Test connection" does; exit 1 when one fails, secrets never
    printed."""
    from toucan.apps.configs import ConfigKind, Stage, write_config
    from toucan.apps.small_apps import AppCreate, create_app
    from toucan.db.engine import Database
    from toucan.settings import Settings

    password = "Never-Printed-9b1"
    env = clean_env(TOUCAN_DATA_DIR=str(tmp_path), TOUCAN_CONNECTORS_ALLOWED_HOSTS="127.0.0.1")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*TOUCAN_CTL, *args], env=env, capture_output=True, text=True, timeout=90, check=False)

    assert run("migrate").returncode == 0
    db = Database.from_settings(Settings(data_dir=tmp_path))
    good = {"name": "crm", "type": "postgres", "host": "127.0.0.1", "user": "postgres", "database": "test"}
    closed = {**good, "name": "erp", "port": 1, "password": password}
    with db.session() as session:
        create_app(session, None, AppCreate(id="shop", name="Shop"))
        etl = {"DATA_PROVIDERS": [good, closed]}
        write_config(session, "shop", Stage.STAGING, ConfigKind.ETL, etl, author=None)
        create_app(session, None, AppCreate(id="empty", name="Empty"))

    both = run("connectors", "--check", "shop")
    assert both.returncode == 1, both.stdout + both.stderr
    lines = both.stdout.splitlines()
    assert "✓ crm (postgres)" in lines and "✗ erp (postgres)" in lines, both.stdout
    assert any("✓ query ran" in line for line in lines), both.stdout
    assert any("✗ port open" in line and "127.0.0.1:1" in line for line in lines), both.stdout
    assert password not in both.stdout + both.stderr

    one = run("connectors", "--check", "shop", "--provider", "crm")
    assert one.returncode == 0, one.stdout + one.stderr
    assert "crm" in one.stdout and "erp" not in one.stdout

    unknown = run("connectors", "--check", "shop", "--provider", "nope")
    assert unknown.returncode == 1 and "nope" in unknown.stderr and "crm" in unknown.stderr

    assert "nothing to check" in run("connectors", "--check", "empty").stdout
    no_app = run("connectors", "--check", "ghost")
    assert no_app.returncode == 1 and "ghost" in no_app.stderr
    assert run("connectors", "--check", "shop", "--stage", "prod").returncode == 2
