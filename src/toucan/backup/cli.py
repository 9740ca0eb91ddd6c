"""`toucan_backup` and `toucan_restore`: the FAQ's small-app migration between two stacks.

    toucan_backup                     BACKEND_URL_SPECIFIC, SMALL_APP_SPECIFIC, TOUCAN_DATABASE_URL
    toucan_restore DIR [STORAGE]      BACKEND_URL_SPECIFIC, BACKEND_USER_SPECIFIC,
                                      BACKEND_PASSWORD_SPECIFIC, SMALL_APPS_SPECIFIC,
                                      SMALL_APPS_NEW_NAME_SPECIFIC, TOUCAN_DATABASE_URL

Both read and write the metadata database (`TOUCAN_DATABASE_URL`, where the FAQ's toolbox had
`MONGO_URI`) and the storage folder (`/storage` in the image, `TOUCAN_DATA_DIR` otherwise)
directly; the backend at BACKEND_URL_SPECIFIC gives its version (backup) and checks that the
restoring user is one of its administrators (restore).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from toucan.backup.progress import Advance
from toucan.errors import ToucanError
from toucan.settings import Settings

out = Console()
err = Console(stderr=True)
TIMEOUT = 30.0


class RichProgress:
    """Progress bars on stderr (bytes, speed, time left)."""

    def __init__(self, bars: Progress) -> None:
        self.bars = bars

    def task(self, description: str, total: int | None) -> Advance:
        task = self.bars.add_task(description, total=total)
        return lambda n: self.bars.advance(task, n)

    def say(self, message: str) -> None:
        self.bars.console.print(message)


@contextmanager
def _progress() -> Iterator[RichProgress]:
    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )
    with bars:
        yield RichProgress(bars)


def _stop(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]{escape(message)}[/]")
    return typer.Exit(code)


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise _stop(f"{name} is not set: {_MEANING[name]}")
    return value


_MEANING = {
    "BACKEND_URL_SPECIFIC": "the URL of the stack's backend (https://api.example.com).",
    "SMALL_APP_SPECIFIC": "the name of the small app to back up.",
    "BACKEND_USER_SPECIFIC": "the username of an administrator of the target stack.",
    "BACKEND_PASSWORD_SPECIFIC": "that administrator's password.",
}


def _settings(storage: Path | None) -> Settings:
    """The settings, with the storage folder given (else TOUCAN_DATA_DIR). A MONGO_URI without
    TOUCAN_DATABASE_URL is the FAQ's toolbox command: say what replaces it."""
    if os.environ.get("MONGO_URI") and not os.environ.get("TOUCAN_DATABASE_URL"):
        raise _stop(
            "MONGO_URI is not used by this stack: its metadata is in a SQL database. Set TOUCAN_DATABASE_URL to the "
            "stack's database URL instead (the backend's TOUCAN_DATABASE_URL, e.g. "
            "postgresql+psycopg://user:password@host:5432/toucan)."
        )
    try:
        return Settings() if storage is None else Settings(data_dir=storage)
    except Exception as exc:  # pydantic's ValidationError: a setting with a wrong value
        raise _stop(f"Invalid settings: {exc}") from None


def _database(settings: Settings) -> Any:
    """The stack's database, reached and at this version's schema (no migration is run here)."""
    from toucan.db import migrate
    from toucan.db.engine import Database
    from toucan.db.reach import check_reach

    if not settings.data_dir.is_dir():
        raise _stop(f"The storage folder {settings.data_dir} does not exist: mount the stack's storage there.")
    db = Database.from_settings(settings)
    check_reach(db)
    plan = migrate.plan_upgrade(db.engine)
    if not plan.current:
        raise _stop("TOUCAN_DATABASE_URL names an empty database: it is not a Toucan stack's database.")
    if plan.pending:
        raise _stop(
            f"The stack's database is at an older schema than this tool ({len(plan.pending)} migrations behind): "
            "use the toolbox of the stack's own version, or upgrade the stack first."
        )
    return db


def _backend_version(url: str) -> str:
    try:
        answer = httpx.get(url.rstrip("/") + "/", timeout=TIMEOUT, follow_redirects=True)
        answer.raise_for_status()
        return str(answer.json()["version"])
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise _stop(f"BACKEND_URL_SPECIFIC ({url}): its GET / does not give a version: {exc}") from None


def _check_admin(url: str, username: str, password: str) -> str:
    """The role of the user at the backend; stops unless an administrator."""
    base = url.rstrip("/")
    try:
        login = httpx.post(f"{base}/login", json={"username": username, "password": password}, timeout=TIMEOUT)
        if login.status_code in (401, 403):
            raise _stop(f"{base} refused the login of BACKEND_USER_SPECIFIC ({username}): {_message(login)}")
        login.raise_for_status()
        token = login.json()["token"]
        me = httpx.get(f"{base}/me", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
        me.raise_for_status()
        role = str(me.json()["role"])
        httpx.post(f"{base}/logout", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise _stop(f"BACKEND_URL_SPECIFIC ({base}) could not check the user: {exc}") from None
    if role not in ("ADMIN", "SUPER_ADMIN"):
        raise _stop(f"BACKEND_USER_SPECIFIC ({username}) is not an administrator of {base} (role {role}).")
    return role


def _message(answer: httpx.Response) -> str:
    try:
        return str(answer.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {answer.status_code}"


backup_cli = typer.Typer(add_completion=False)
restore_cli = typer.Typer(add_completion=False)


@backup_cli.command()
def backup(
    output: Annotated[
        Path, typer.Option(help="Where the on-premise_backup-XXXXXXXX folder is written (the image's /tmp).")
    ] = Path("."),
    storage: Annotated[
        Path | None, typer.Option(help="The stack's storage folder (default: TOUCAN_DATA_DIR; /storage in the image).")
    ] = None,
    app: Annotated[str | None, typer.Option(help="The small app (default: SMALL_APP_SPECIFIC).")] = None,
    instance: Annotated[
        bool, typer.Option("--instance", help="Back up the whole instance: every app, the users, groups and settings.")
    ] = False,
) -> None:
    """Back up one small app of a stack (or the whole instance): rows and files, with a
    manifest of checksums."""
    from toucan.backup.app_export import backup_app
    from toucan.backup.instance import backup_instance

    url = _required("BACKEND_URL_SPECIFIC")
    app_id = None if instance else app or _required("SMALL_APP_SPECIFIC")
    settings = _settings(storage)
    version = _backend_version(url)
    try:
        db = _database(settings)
        with _progress() as progress:
            if app_id is None:
                result = backup_instance(db, settings.data_dir, output, version=version, progress=progress)
            else:
                result = backup_app(db, settings.data_dir, app_id, output, version=version, progress=progress)
    except ToucanError as exc:
        raise _stop(exc.message, 1) from None
    if app_id is None:
        contents = result.manifest.contents
        out.print(f"Backed up the instance (version {version}) into {result.directory}")
        apps = ", ".join(contents["apps"]) or "none"
        out.print(f"  Apps: {apps}; users: {contents['users']}; groups: {contents['groups']}.")
        out.print("  Not in the backup: passwords, app secrets and the instance settings' secrets.")
        return
    contents = result.manifest.contents
    out.print(f"Backed up {app_id!r} (version {version}) into {result.directory}")
    out.print(f"  Domains: {json.dumps(contents['domains'])}")
    out.print(f"  Uploaded files: {len(contents['source_files'])}, storage {contents['storage_bytes']:,} bytes.")
    if result.manifest.secrets:
        out.print(
            "  Not in the backup (secrets never are): "
            + ", ".join(result.manifest.secrets)
            + ". Create them again on the target stack."
        )


@restore_cli.command()
def restore(
    directory: Annotated[Path, typer.Argument(help="The on-premise_backup-XXXXXXXX folder.")],
    storage: Annotated[
        Path | None, typer.Argument(help="The target stack's storage folder (default: TOUCAN_DATA_DIR).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check the backup and print what would change.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Restore one small app into a stack, replacing an app of the same name (all or nothing)."""
    from toucan.backup.app_restore import restore_app
    from toucan.jobs.scratch import sweep

    url = _required("BACKEND_URL_SPECIFIC")
    username = _required("BACKEND_USER_SPECIFIC")
    password = _required("BACKEND_PASSWORD_SPECIFIC")
    wanted = os.environ.get("SMALL_APPS_SPECIFIC", "").strip() or None
    new_name = os.environ.get("SMALL_APPS_NEW_NAME_SPECIFIC", "").strip() or None
    settings = _settings(storage)
    role = _check_admin(url, username, password)
    report: Any
    try:
        from toucan.backup.archive import Manifest
        from toucan.backup.instance import KIND, restore_instance

        manifest = Manifest.read(directory)
        if manifest.kind == KIND and role != "SUPER_ADMIN":
            raise _stop(
                f"Restoring a whole instance creates users: BACKEND_USER_SPECIFIC ({username}) must be a super admin."
            )
        if wanted is not None and manifest.kind != KIND and wanted != manifest.app:
            raise _stop(f"SMALL_APPS_SPECIFIC is {wanted!r}, but this backup holds the small app {manifest.app!r}.")
        db = _database(settings)
        sweep(settings.data_dir, settings.job_time_limit)
        with _progress() as progress:
            if manifest.kind == KIND:
                report = restore_instance(settings, db, directory, dry_run=dry_run, progress=progress)
            else:
                report = restore_app(
                    settings, db, directory, new_id=new_name, dry_run=dry_run, progress=progress, author=username
                )
    except ToucanError as exc:
        raise _stop(exc.message, 1) from None
    if as_json:
        out.print_json(json.dumps(report.to_json()))
    else:
        for line in report.lines():
            out.print(escape(line), highlight=False)


def backup_main() -> None:
    backup_cli()


def restore_main() -> None:
    restore_cli()
