"""A whole instance: every small app, the users, the groups and the instance settings, for
disaster recovery or a move to new machines.

    on-premise_backup-XXXXXXXX/
    ├── laputa_version
    ├── database.tar.gz      users, groups, memberships and the instance settings (JSON Lines)
    ├── manifest.json        kind "instance", the apps, sizes and SHA-256s
    └── apps/<app>/          one small-app backup per app (see `archive`), restored one by one

Never in it: passwords (not even their hashes), login tokens, app secrets, the instance
settings' secrets (client secrets, private keys: masked). A restored local user sets a new
password (`toucan-ctl set-password`, or an administrator in the users screen); the report lists
them. Users and groups that exist on the target are kept as they are (memberships from the
backup are added); the others are created.

A restore checks every file of every app first. Then users, groups and settings are written in
one transaction, and each app is restored all or nothing (`app_restore`): a failure stops at
that app, the apps before it restored, the ones after it untouched — run it again.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from toucan import __version__
from toucan.apps.small_apps import validate_app_id
from toucan.auth import instance_settings
from toucan.auth.roles import Role
from toucan.backup import archive
from toucan.backup.app_export import BackupResult, write_app_backup
from toucan.backup.app_restore import RestoreReport, read_backup, restore_app
from toucan.backup.app_rows import AppRows
from toucan.backup.progress import QUIET, Progress
from toucan.db import migrate
from toucan.db.engine import Database
from toucan.db.models import Group, InstanceSettingsVersion, SmallApp, User, UserGroup
from toucan.errors import ValidationError
from toucan.settings import Settings

KIND = "instance"
APPS = "apps"
INSTANCE_FILES = (archive.VERSION_FILE, archive.DATABASE_FILE)
USER_COLUMNS = ("username", "role", "disabled", "expiration_date", "attributes", "provider")


def backup_instance(
    db: Database, data_dir: Path, output: Path, *, version: str, progress: Progress = QUIET
) -> BackupResult:
    """Write the backup of the whole instance into a new folder of `output`."""
    directory = archive.new_backup_dir(output)
    try:
        with db.readonly_session() as session:
            app_ids = list(session.scalars(select(SmallApp.id).order_by(SmallApp.id)))
            members = _instance_members(session)
        manifest = archive.Manifest(
            app="",
            name="",
            version=version,
            schema=sorted(migrate.current_revisions(db.engine)),
            created_at=datetime.now(UTC).isoformat(),
            kind=KIND,
        )
        (directory / archive.VERSION_FILE).write_text(version + "\n")
        manifest.files[archive.VERSION_FILE] = archive.digest_of(directory / archive.VERSION_FILE)
        manifest.files[archive.DATABASE_FILE] = archive.write_members(directory / archive.DATABASE_FILE, members)
        secrets: dict[str, list[str]] = {}
        for app_id in app_ids:
            folder = directory / APPS / app_id
            folder.mkdir(parents=True)
            progress.say(f"Backing up {app_id}")
            app_manifest = write_app_backup(db, data_dir, app_id, folder, version=version, progress=progress)
            if app_manifest.secrets:
                secrets[app_id] = app_manifest.secrets
        manifest.contents = {
            "apps": app_ids,
            "users": members["users.jsonl"].count(b"\n"),
            "groups": members["groups.jsonl"].count(b"\n"),
            "app_secrets": secrets,
        }
        manifest.write(directory)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return BackupResult(directory, manifest)


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(row, sort_keys=True, ensure_ascii=False, default=str).encode() + b"\n" for row in rows)


def _instance_members(session: Any) -> dict[str, bytes]:
    users = [
        {
            name: (value.isoformat() if isinstance(value, datetime) else value)
            for name, value in ((c, getattr(user, c)) for c in USER_COLUMNS)
        }
        for user in session.scalars(select(User).order_by(User.username))
    ]
    groups = [{"name": name} for name in session.scalars(select(Group.name).order_by(Group.name))]
    memberships = [
        {"user": user, "group": group}
        for user, group in session.execute(
            select(User.username, Group.name)
            .join(UserGroup, UserGroup.user_id == User.id)
            .join(Group, Group.id == UserGroup.group_id)
            .order_by(User.username, Group.name)
        )
    ]
    latest = session.scalars(select(InstanceSettingsVersion).order_by(InstanceSettingsVersion.id.desc())).first()
    settings = [{"content": instance_settings.mask_secrets(latest.content)}] if latest is not None else []
    return {
        "users.jsonl": _jsonl(users),
        "groups.jsonl": _jsonl(groups),
        "user_groups.jsonl": _jsonl(memberships),
        "instance_settings.jsonl": _jsonl(settings),
    }


@dataclass
class InstanceRestoreReport:
    dry_run: bool
    source_version: str
    users_created: list[str] = field(default_factory=list)
    users_kept: list[str] = field(default_factory=list)
    # Local users created without a password: one must be set before they can log in.
    users_without_password: list[str] = field(default_factory=list)
    groups_created: list[str] = field(default_factory=list)
    settings: str = "none in the backup"
    apps: list[RestoreReport] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "source_version": self.source_version,
            "users_created": self.users_created,
            "users_kept": self.users_kept,
            "users_without_password": self.users_without_password,
            "groups_created": self.groups_created,
            "settings": self.settings,
            "apps": [app.to_json() for app in self.apps],
        }

    def lines(self) -> list[str]:
        verb = "Would restore" if self.dry_run else "Restored"
        out = [f"{verb} an instance backup of version {self.source_version}."]
        out.append(f"  Users created: {', '.join(self.users_created) or 'none'}.")
        if self.users_kept:
            out.append(f"  Users already here, kept as they are: {', '.join(self.users_kept)}.")
        if self.users_without_password:
            out.append(
                "  Passwords are never in a backup. Set one for these local users (toucan-ctl set-password "
                f"USERNAME, or the users screen): {', '.join(self.users_without_password)}."
            )
        out.append(f"  Groups created: {', '.join(self.groups_created) or 'none'}.")
        out.append(f"  Instance settings: {self.settings}.")
        for app in self.apps:
            out.extend(app.lines())
        return out


def read_instance(
    directory: Path, progress: Progress = QUIET
) -> tuple[archive.Manifest, dict[str, list[dict[str, Any]]], dict[str, AppRows]]:
    """The manifest, rows and each app's rows of an instance backup, every file of every app
    checked first; raises before anything is written."""
    manifest = archive.Manifest.read(directory)
    archive.check_compatible(manifest, kind=KIND, version=__version__, known_revisions=migrate.known_revisions())
    archive.verify(directory, manifest, names=INSTANCE_FILES)
    members = archive.read_members(directory / archive.DATABASE_FILE)
    rows = {name: _read_jsonl(members, name) for name in ("users", "groups", "user_groups", "instance_settings")}
    apps = [str(app) for app in manifest.contents.get("apps") or []]
    for app_id in apps:  # names of folders: nothing but app ids
        try:
            validate_app_id(app_id)
        except ValueError:
            raise archive.BackupCorrupted(f"The manifest lists {app_id[:60]!r}, which is not an app id.") from None
    # Every app checked before anything is written.
    return manifest, rows, {app_id: read_backup(directory / APPS / app_id, progress)[1] for app_id in apps}


def restore_instance(
    settings: Settings,
    db: Database,
    directory: Path,
    *,
    dry_run: bool = False,
    progress: Progress = QUIET,
    author: str | None = None,
) -> InstanceRestoreReport:
    manifest, rows, apps = read_instance(directory, progress)
    report = InstanceRestoreReport(dry_run=dry_run, source_version=manifest.version)
    with db.session() as session:
        _restore_people(session, rows, report)
        _restore_settings(session, rows["instance_settings"], report, settings.max_nesting_depth)
        if dry_run:
            session.rollback()
    for app_id in apps:
        report.apps.append(
            restore_app(settings, db, directory / APPS / app_id, dry_run=dry_run, progress=progress, author=author)
        )
    return report


def _read_jsonl(members: dict[str, bytes], table: str) -> list[dict[str, Any]]:
    data = members.get(f"{table}.jsonl")
    if data is None:
        raise archive.BackupCorrupted(f"database.tar.gz has no {table}.jsonl.")
    rows = []
    for number, line in enumerate(data.splitlines(), start=1):
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if not isinstance(row, dict):
            raise archive.BackupCorrupted(f"database.tar.gz {table}.jsonl line {number} is not a JSON object.")
        rows.append(row)
    return rows


def _restore_people(session: Any, rows: dict[str, list[dict[str, Any]]], report: InstanceRestoreReport) -> None:
    groups = {g.name: g for g in session.scalars(select(Group))}
    for row in rows["groups"]:
        name = row.get("name")
        if isinstance(name, str) and name and name not in groups:
            groups[name] = Group(name=name)
            session.add(groups[name])
            report.groups_created.append(name)
    users = {u.username: u for u in session.scalars(select(User))}
    roles = {role.value for role in Role}
    for row in rows["users"]:
        username = row.get("username")
        if not isinstance(username, str) or not username:
            raise archive.BackupCorrupted("users.jsonl holds a user without a username.")
        if username in users:
            report.users_kept.append(username)
            continue
        role = row.get("role") if row.get("role") in roles else Role.USER.value
        expiration = row.get("expiration_date")
        user = User(
            username=username,
            password_hash=None,
            role=role,
            disabled=bool(row.get("disabled")),
            expiration_date=datetime.fromisoformat(expiration) if isinstance(expiration, str) else None,
            attributes=row.get("attributes") if isinstance(row.get("attributes"), dict) else {},
            provider=str(row.get("provider") or "local"),
        )
        session.add(user)
        users[username] = user
        report.users_created.append(username)
        if user.provider == "local":
            report.users_without_password.append(username)
    session.flush()
    for row in rows["user_groups"]:
        member, group = users.get(str(row.get("user"))), groups.get(str(row.get("group")))
        if member is not None and group is not None and group not in member.groups:
            member.groups.append(group)


def _restore_settings(session: Any, rows: list[dict[str, Any]], report: InstanceRestoreReport, max_depth: int) -> None:
    if not rows or not isinstance(rows[-1].get("content"), dict):
        return
    try:
        instance_settings.save(session, json.dumps(rows[-1]["content"]), "json", "restore", max_depth=max_depth)
    except ValidationError as exc:
        report.settings = (
            "not restored, this stack's are kept: the backup's need secrets this stack does not store (client "
            f"secrets and keys are never in a backup): {exc.message} Set them in the instance settings screen"
        )
        return
    report.settings = "restored (secrets masked in the backup were kept from this stack's settings)"
