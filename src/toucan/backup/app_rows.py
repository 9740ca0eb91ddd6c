"""The rows that make up one small app, as JSON, and back.

What belongs to an app: its `small_apps` row, its configs (every stage and kind), the domain
versions its stages point at with their tables, its stage heads, its uploaded source files'
rows, and the privileges on it (users and groups by name: their ids differ between stacks).
Not exported: secrets (names only, in the manifest), jobs and their logs (history of the
other stack), upload sessions in progress, tokens.

Each table is one JSON Lines member of database.tar.gz, one object per row, dates in ISO 8601.
A row from an older backup may lack a column added since: the column's default fills it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from toucan.apps.configs import ConfigKind, Stage, validate_config
from toucan.auth.roles import AppPrivilege
from toucan.backup.archive import BackupCorrupted
from toucan.db.domain_models import DomainTable, DomainVersion, StageHead
from toucan.db.etl_models import AppSecret, DataSourceFile
from toucan.db.models import AppConfig, Group, Privilege, SmallApp, TZDateTime, User
from toucan.errors import NotFound, ValidationError

FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
PRIVILEGES = tuple(p.value for p in AppPrivilege)

# Per table: the columns written (the app id and surrogate integer ids are not: the target
# stack gives its own).
COLUMNS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "small_apps": (SmallApp.__table__, ("id", "name", "description", "created_at", "updated_at")),
    "app_configs": (AppConfig.__table__, ("stage", "kind", "content", "version", "updated_at", "updated_by")),
    "domain_versions": (DomainVersion.__table__, ("id", "created_at", "created_by")),
    "domain_tables": (DomainTable.__table__, ("version_id", "domain", "file", "rows", "columns")),
    "stage_heads": (StageHead.__table__, ("stage", "version_id", "updated_at")),
    "data_source_files": (
        DataSourceFile.__table__,
        ("filename", "stored_as", "size", "sha256", "uploaded_at", "uploaded_by"),
    ),
}
# Privileges name their holder: {"user": "alice"} or {"group": "sales"}, and "privilege".
PRIVILEGE_COLUMNS = ("user", "group", "privilege")
TABLES = (*COLUMNS, "privileges")


@dataclass
class AppRows:
    """One app's rows, table by table, as JSON objects."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {name: [] for name in TABLES})

    @property
    def app(self) -> dict[str, Any]:
        return self.tables["small_apps"][0]

    def files(self, folder: str) -> set[str]:
        """The stored file names the rows name, in `domains` or `sources`."""
        if folder == "domains":
            return {row["file"] for row in self.tables["domain_tables"]}
        return {row["stored_as"] for row in self.tables["data_source_files"]}

    def domains(self) -> dict[str, list[str]]:
        """The domains of each stage."""
        by_version: dict[str, list[str]] = {}
        for row in self.tables["domain_tables"]:
            by_version.setdefault(row["version_id"], []).append(row["domain"])
        return {head["stage"]: sorted(by_version.get(head["version_id"], [])) for head in self.tables["stage_heads"]}

    def jsonl(self, table: str) -> bytes:
        return b"".join(
            json.dumps(row, sort_keys=True, ensure_ascii=False).encode() + b"\n" for row in self.tables[table]
        )


def _to_json(table: Any, names: tuple[str, ...], row: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(row, name)
        if isinstance(value, datetime):
            value = value.isoformat()
        out[name] = value
    return out


def collect(session: Session, app_id: str) -> AppRows:
    """Every row of `app_id` a backup holds; NotFound when there is no such app."""
    app = session.get(SmallApp, app_id)
    if app is None:
        raise NotFound(f"No small app {app_id!r} in this stack.", details={"app": app_id})
    rows = AppRows()

    def add(table: str, items: Any) -> None:
        target, names = COLUMNS[table]
        rows.tables[table].extend(_to_json(target, names, item) for item in items)

    add("small_apps", [app])
    add(
        "app_configs",
        session.scalars(select(AppConfig).where(AppConfig.app_id == app_id).order_by(AppConfig.stage, AppConfig.kind)),
    )
    heads = list(session.scalars(select(StageHead).where(StageHead.app_id == app_id).order_by(StageHead.stage)))
    in_use = sorted({head.version_id for head in heads})
    add("domain_versions", session.scalars(select(DomainVersion).where(DomainVersion.id.in_(in_use))))
    add(
        "domain_tables",
        session.scalars(
            select(DomainTable)
            .where(DomainTable.version_id.in_(in_use))
            .order_by(DomainTable.version_id, DomainTable.domain)
        ),
    )
    add("stage_heads", heads)
    add(
        "data_source_files",
        session.scalars(
            select(DataSourceFile).where(DataSourceFile.app_id == app_id).order_by(DataSourceFile.filename)
        ),
    )
    privileges = session.execute(
        select(User.username, Group.name, Privilege.privilege)
        .select_from(Privilege)
        .outerjoin(User, User.id == Privilege.user_id)
        .outerjoin(Group, Group.id == Privilege.group_id)
        .where(Privilege.app_id == app_id)
        .order_by(User.username, Group.name, Privilege.privilege)
    )
    rows.tables["privileges"] = [{"user": user, "group": group, "privilege": p} for user, group, p in privileges]
    return rows


def stored_secret_names(session: Session, app_id: str) -> set[str]:
    return set(session.scalars(select(AppSecret.name).where(AppSecret.app_id == app_id)))


# --- reading a backup's rows back ------------------------------------------------------------


def parse(members: dict[str, bytes]) -> AppRows:
    """The rows of database.tar.gz, checked: known tables and columns, valid configs and file
    names, stage heads that name exported versions. Anything else: BackupCorrupted."""
    rows = AppRows()
    for table in TABLES:
        member = f"{table}.jsonl"
        if member not in members:
            raise BackupCorrupted(f"database.tar.gz has no {member}.", details={"member": member})
        allowed = set(PRIVILEGE_COLUMNS if table == "privileges" else COLUMNS[table][1])
        for number, line in enumerate(members[member].splitlines(), start=1):
            if not line.strip():
                continue
            where = f"database.tar.gz {member} line {number}"
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise BackupCorrupted(
                    f"{where} is not JSON: {exc}.", details={"member": member, "line": number}
                ) from None
            if not isinstance(row, dict):
                raise BackupCorrupted(f"{where} is not an object.", details={"member": member, "line": number})
            unknown = sorted(set(row) - allowed)
            if unknown:
                raise BackupCorrupted(
                    f"{where} has columns this version does not know: {', '.join(unknown)}.",
                    details={"member": member, "line": number, "columns": unknown},
                )
            rows.tables[table].append(row if table == "privileges" else _from_json(table, row, where))
    _check(rows)
    return rows


def _from_json(table: str, row: dict[str, Any], where: str) -> dict[str, Any]:
    target, _ = COLUMNS[table]
    out: dict[str, Any] = {}
    for name, value in row.items():
        column = target.columns[name]
        if isinstance(column.type, TZDateTime) and value is not None:
            try:
                value = datetime.fromisoformat(str(value))
            except ValueError:
                raise BackupCorrupted(f"{where}: {name} is not a date ({value!r}).") from None
            if value.tzinfo is None:
                raise BackupCorrupted(f"{where}: {name} has no time zone ({row[name]!r}).")
        elif value is None and not column.nullable and column.default is None:
            raise BackupCorrupted(f"{where}: {name} may not be empty.")
        out[name] = value
    return out


def _require(rows: list[dict[str, Any]], table: str, names: tuple[str, ...], kind: type | tuple[type, ...]) -> None:
    for number, row in enumerate(rows, start=1):
        for name in names:
            if not isinstance(row.get(name), kind):
                raise BackupCorrupted(
                    f"database.tar.gz {table}.jsonl row {number}: {name} is missing or of the wrong type.",
                    details={"member": f"{table}.jsonl", "row": number, "column": name},
                )


def _check(rows: AppRows) -> None:
    t = rows.tables
    if len(t["small_apps"]) != 1:
        raise BackupCorrupted("database.tar.gz holds no small app, or more than one.")
    _require(t["small_apps"], "small_apps", ("id", "name"), str)
    _require(t["app_configs"], "app_configs", ("stage", "kind"), str)
    _require(t["app_configs"], "app_configs", ("content",), dict)
    _require(t["domain_versions"], "domain_versions", ("id",), str)
    _require(t["domain_tables"], "domain_tables", ("version_id", "domain", "file"), str)
    _require(t["domain_tables"], "domain_tables", ("rows",), int)
    _require(t["domain_tables"], "domain_tables", ("columns",), list)
    _require(t["stage_heads"], "stage_heads", ("stage", "version_id"), str)
    _require(t["data_source_files"], "data_source_files", ("filename", "stored_as", "sha256"), str)
    _require(t["data_source_files"], "data_source_files", ("size",), int)
    stages = {s.value for s in Stage}
    for row in t["app_configs"]:
        if row["stage"] not in stages or row["kind"] not in {k.value for k in ConfigKind}:
            raise BackupCorrupted(
                f"A config of stage {row['stage']!r} and kind {row['kind']!r} is not one this version has."
            )
        try:
            validate_config(ConfigKind(row["kind"]), row["content"])
        except ValidationError as exc:
            raise ValidationError(
                f"The {row['stage']} {row['kind']} config of the backup is not valid here: {exc.message}",
                details={"stage": row["stage"], "kind": row["kind"], "error": exc.details},
            ) from None
    versions = {row["id"] for row in t["domain_versions"]}
    for row in t["stage_heads"]:
        if row["stage"] not in stages or row["version_id"] not in versions:
            raise BackupCorrupted(f"The stage head {row['stage']!r} names a version the backup does not hold.")
    for row in t["domain_tables"]:
        if row["version_id"] not in versions:
            raise BackupCorrupted(f"The domain {row['domain']!r} belongs to a version the backup does not hold.")
    for folder in ("domains", "sources"):
        for name in rows.files(folder):
            if not FILE_NAME.match(name):
                raise BackupCorrupted(f"The rows name the file {name[:200]!r}, which is not a stored file name.")
    for number, row in enumerate(t["privileges"], start=1):
        holder = [key for key in ("user", "group") if isinstance(row.get(key), str)]
        if len(holder) != 1 or row.get("privilege") not in PRIVILEGES:
            raise BackupCorrupted(
                f"database.tar.gz privileges.jsonl row {number}: one of user or group, and a privilege among "
                f"{', '.join(PRIVILEGES)}."
            )
