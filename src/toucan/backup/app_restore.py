"""Restore one small app from an `on-premise_backup-XXXXXXXX` folder, replacing an app of the
same name — all or nothing.

1. The manifest is read and every file checked against it (size, SHA-256); a backup made by a
   newer version is refused. The rows are read and checked. Nothing is written before this.
2. The files are extracted, one streaming pass, into this process's scratch folder under new
   names (never a name a file of the app already has), then moved next to the app's files.
3. One transaction replaces the app's rows: configs, domain versions and stage heads, uploaded
   files, privileges. The app's old domain versions are marked superseded (queries already
   running on them finish; the store's garbage collection removes them after its grace
   period) and its old uploaded files are removed once the transaction is committed.

A failure or a kill before the commit leaves the old app as it was, serving: the scratch
folder is swept once the process is gone, and moved files no row names are garbage the domain
store removes. New domain versions mean new cache keys: a running backend serves the restored
app at once. The app's secrets stay as they were on this stack (a backup holds none): the
report lists those the restored configs use and this stack lacks.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError, StatementError

from toucan import __version__
from toucan.apps.configs import Stage
from toucan.apps.secrets import referenced_secrets
from toucan.apps.small_apps import validate_app_id
from toucan.backup import archive
from toucan.backup.app_rows import COLUMNS, AppRows, parse, stored_secret_names
from toucan.backup.progress import QUIET, Advance, Progress
from toucan.data.domains import DomainStore, check_domain_name, domain_store_for
from toucan.data.release import record_in
from toucan.data.release_diff import stage_state
from toucan.db import migrate
from toucan.db.domain_models import DomainTable, DomainVersion, StageHead
from toucan.db.engine import Database
from toucan.db.etl_models import DataSourceFile, UploadSession
from toucan.db.models import AppConfig, Group, Privilege, SmallApp, User
from toucan.errors import ValidationError
from toucan.jobs import scratch
from toucan.settings import Settings

FOLDERS = ("domains", "sources")


@dataclass
class RestoreReport:
    """What a restore did, or would do (`dry_run`)."""

    app: str
    source_app: str
    source_version: str
    name: str
    dry_run: bool
    replaced: bool
    configs: list[str] = field(default_factory=list)
    domains: dict[str, list[str]] = field(default_factory=dict)
    source_files: list[str] = field(default_factory=list)
    storage_bytes: int = 0
    privileges: list[str] = field(default_factory=list)
    privileges_skipped: list[str] = field(default_factory=list)
    # Secrets the restored configs use and this stack's app lacks: to create again.
    secrets_to_recreate: list[str] = field(default_factory=list)
    replaced_before: dict[str, Any] = field(default_factory=dict)
    # The app's release history records the restore: rolling back to the release before it
    # brings the replaced content back (while it is among the kept releases).
    release: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "source_app": self.source_app,
            "source_version": self.source_version,
            "name": self.name,
            "dry_run": self.dry_run,
            "replaced": self.replaced,
            "replaced_before": self.replaced_before,
            "configs": self.configs,
            "domains": self.domains,
            "source_files": self.source_files,
            "storage_bytes": self.storage_bytes,
            "privileges": self.privileges,
            "privileges_skipped": self.privileges_skipped,
            "secrets_to_recreate": self.secrets_to_recreate,
            "release": self.release,
        }

    def lines(self) -> list[str]:
        """The report for an operator, one line per fact."""
        verb = "Would" if self.dry_run else "Did"
        what = f"replace the small app {self.app!r}" if self.replaced else f"create the small app {self.app!r}"
        out = [f"{verb} {what} from the backup of {self.source_app!r} (version {self.source_version})."]
        if self.replaced:
            before = self.replaced_before
            out.append(
                f"  Its current content goes: {len(before.get('configs', []))} configs, domains "
                f"{_stages(before.get('domains', {}))}, {len(before.get('source_files', []))} uploaded files."
            )
        out.append(f"  Configs: {', '.join(self.configs) or 'none'}.")
        out.append(f"  Domains: {_stages(self.domains)}.")
        out.append(
            f"  Uploaded files: {', '.join(self.source_files) or 'none'} ({self.storage_bytes:,} bytes of storage)."
        )
        out.append(f"  Privileges: {', '.join(self.privileges) or 'none'}.")
        if self.privileges_skipped:
            skipped = ", ".join(self.privileges_skipped)
            out.append(f"  Privileges not restored (no such user or group on this stack): {skipped}.")
        if self.release is not None:
            undo = " Roll back to the release before it (the app's Releases page) to undo it." if self.replaced else ""
            out.append(f"  Recorded as release {self.release} of the app's history.{undo}")
        if self.secrets_to_recreate:
            out.append(
                "  Secrets are never in a backup. Create these again on this stack (the app's jobs that use them "
                f"fail, saying so, until then): {', '.join(self.secrets_to_recreate)}."
            )
        return out


def _stages(domains: dict[str, list[str]]) -> str:
    return "; ".join(f"{stage}: {', '.join(names) or '-'}" for stage, names in sorted(domains.items())) or "none"


def read_backup(directory: Path, progress: Progress = QUIET) -> tuple[archive.Manifest, AppRows]:
    """The manifest and rows of a backup, every file checked first; raises before anything is written."""
    manifest = archive.Manifest.read(directory)
    archive.check_compatible(manifest, kind="small_app", version=__version__, known_revisions=migrate.known_revisions())
    total = sum(manifest.files[name].size for name in archive.CHECKED_FILES if name in manifest.files)
    archive.verify(directory, manifest, progress.task("Checking the backup's checksums", total))
    rows = parse(archive.read_members(directory / archive.DATABASE_FILE))
    for row in rows.tables["domain_tables"]:
        check_domain_name(row["domain"], "domain_tables.domain")
    return manifest, rows


def restore_app(
    settings: Settings,
    db: Database,
    directory: Path,
    *,
    new_id: str | None = None,
    dry_run: bool = False,
    progress: Progress = QUIET,
    author: str | None = None,
) -> RestoreReport:
    manifest, rows = read_backup(directory, progress)
    target = target_id(new_id or rows.app["id"])
    report = _plan(db, manifest, rows, target, dry_run)
    if dry_run:
        return report
    data_dir = settings.data_dir
    staging = Path(scratch.process_folder(data_dir)) / f"restore-{uuid.uuid4().hex}"
    moved: list[Path] = []
    try:
        names = _extract(directory / archive.STORAGE_FILE, rows, staging, progress)
        moved = _move_into_place(staging, names, data_dir, target)
        store = domain_store_for(settings, db)
        old_sources = _replace_rows(db, store, rows, target, names, report, author or "toucan_restore")
    except BaseException:
        for path in moved:
            path.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for stored in old_sources:
        (data_dir / "sources" / target / stored).unlink(missing_ok=True)
    store.collect_garbage(target)
    return report


def target_id(value: str) -> str:
    """`value` checked as the id of the restored app (400 saying why when it cannot be one)."""
    try:
        return validate_app_id(value)
    except ValueError as exc:
        raise ValidationError(
            f"{value[:60]!r} cannot be a small app's name: {exc}.", details={"field": "SMALL_APPS_NEW_NAME_SPECIFIC"}
        ) from None


def _plan(db: Database, manifest: archive.Manifest, rows: AppRows, target: str, dry_run: bool) -> RestoreReport:
    t = rows.tables
    name = t["small_apps"][0]["name"] if target == rows.app["id"] else target
    report = RestoreReport(
        app=target,
        source_app=rows.app["id"],
        source_version=manifest.version,
        name=name,
        dry_run=dry_run,
        replaced=False,
        configs=sorted(f"{row['stage']} {row['kind']}" for row in t["app_configs"]),
        domains=rows.domains(),
        source_files=sorted(row["filename"] for row in t["data_source_files"]),
        storage_bytes=int(manifest.contents.get("storage_bytes") or manifest.files[archive.STORAGE_FILE].size),
    )
    with db.readonly_session() as session:
        existing = session.get(SmallApp, target)
        if existing is not None:
            report.replaced = True
            heads = session.execute(
                select(StageHead.stage, DomainTable.domain)
                .join(DomainTable, DomainTable.version_id == StageHead.version_id)
                .where(StageHead.app_id == target)
            )
            before: dict[str, list[str]] = {}
            for stage, domain in heads:
                before.setdefault(stage, []).append(domain)
            report.replaced_before = {
                "configs": sorted(
                    f"{s} {k}"
                    for s, k in session.execute(
                        select(AppConfig.stage, AppConfig.kind).where(AppConfig.app_id == target)
                    )
                ),
                "domains": {stage: sorted(names) for stage, names in before.items()},
                "source_files": sorted(
                    session.scalars(select(DataSourceFile.filename).where(DataSourceFile.app_id == target))
                ),
            }
        users = set(session.scalars(select(User.username)))
        groups = set(session.scalars(select(Group.name)))
        have = stored_secret_names(session, target)
    for row in t["privileges"]:
        holder = f"user {row['user']}" if row.get("user") else f"group {row['group']}"
        label = f"{holder}: {row['privilege']}"
        found = row["user"] in users if row.get("user") else row["group"] in groups
        (report.privileges if found else report.privileges_skipped).append(label)
    needed: set[str] = set()
    for row in t["app_configs"]:
        needed |= referenced_secrets(row["content"])
    report.secrets_to_recreate = sorted((needed | set(manifest.secrets)) - have)
    return report


def check_storage(storage: Path, rows: AppRows) -> None:
    """Read storage.tar.gz through as a restore does, writing nothing: every member readable,
    every file the rows name present, each uploaded file matching its SHA-256."""
    _extract(storage, rows, None, QUIET)


def _extract(storage: Path, rows: AppRows, staging: Path | None, progress: Progress) -> dict[tuple[str, str], str]:
    """Write each file the rows name into `staging/<folder>/<new name>` (with no staging folder,
    only read and check them); (folder, old name) → new name."""
    wanted = {folder: rows.files(folder) for folder in FOLDERS}
    sha256 = {row["stored_as"]: row["sha256"] for row in rows.tables["data_source_files"]}
    names: dict[tuple[str, str], str] = {}
    advance = progress.task("Restoring the app's files", storage.stat().st_size)
    try:
        _extract_members(storage, wanted, sha256, staging, names, advance)
    except archive.READ_ERRORS as exc:  # a member cut short: raised while reading it
        raise archive.unreadable(archive.STORAGE_FILE, exc) from None
    missing = sorted(f"{folder}/{name}" for folder in FOLDERS for name in wanted[folder] if (folder, name) not in names)
    if missing:
        raise archive.BackupCorrupted(
            f"storage.tar.gz lacks files the rows name: {', '.join(missing[:5])}.", details={"missing": missing[:20]}
        )
    return names


def _extract_members(
    storage: Path,
    wanted: dict[str, set[str]],
    sha256: dict[str, str],
    staging: Path | None,
    names: dict[tuple[str, str], str],
    advance: Advance,
) -> None:
    with open(storage, "rb") as raw:
        reader = archive.ProgressReader(raw, advance)
        for folder, name, _size, stream in archive.storage_members_of(reader):
            if name not in wanted[folder] or (folder, name) in names:
                continue
            new_name = f"{uuid.uuid4().hex}{Path(name).suffix.lower()[:16]}"
            digest = hashlib.sha256()
            if staging is None:
                while chunk := stream.read(archive.CHUNK):
                    digest.update(chunk)
            else:
                target = staging / folder / new_name
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "wb") as out:
                    while chunk := stream.read(archive.CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
            if folder == "sources" and digest.hexdigest() != sha256[name]:
                raise archive.BackupCorrupted(
                    f"The uploaded file {name} in storage.tar.gz does not match its SHA-256.",
                    details={"member": f"sources/{name}"},
                )
            names[(folder, name)] = new_name


def _move_into_place(staging: Path, names: dict[tuple[str, str], str], data_dir: Path, target: str) -> list[Path]:
    """Move the staged files next to the app's files (same file system: a rename). Fresh
    modification times: the domain store's garbage collection leaves young files alone."""
    moved: list[Path] = []
    try:
        for (folder, _), new_name in names.items():
            destination = data_dir / folder / target / new_name
            destination.parent.mkdir(parents=True, exist_ok=True)
            source = staging / folder / new_name
            os.utime(source)
            os.replace(source, destination)
            moved.append(destination)
    except BaseException:
        for path in moved:
            path.unlink(missing_ok=True)
        raise
    return moved


def _replace_rows(
    db: Database,
    store: DomainStore,
    rows: AppRows,
    target: str,
    names: dict[tuple[str, str], str],
    report: RestoreReport,
    author: str,
) -> list[str]:
    """One transaction: the app's rows become the backup's. Returns the app's former uploaded
    files (to remove once committed)."""
    t = rows.tables
    now = datetime.now(UTC)
    versions = {row["id"]: str(uuid.uuid4()) for row in t["domain_versions"]}
    try:
        with db.session() as session:
            existing = session.get(SmallApp, target, with_for_update=True)
            before = stage_state(session, store, target, Stage.PRODUCTION)
            old_sources = list(session.scalars(select(DataSourceFile.stored_as).where(DataSourceFile.app_id == target)))
            old_config_versions = dict(
                session.execute(
                    select(AppConfig.stage + ":" + AppConfig.kind, AppConfig.version).where(AppConfig.app_id == target)
                ).all()
            )
            app_row = t["small_apps"][0]
            if existing is None:
                session.execute(
                    insert(SmallApp).values(_values("small_apps", {**app_row, "id": target, "name": report.name}))
                )
            else:
                session.execute(delete(StageHead).where(StageHead.app_id == target))
                session.execute(
                    update(DomainVersion)
                    .where(DomainVersion.app_id == target, DomainVersion.superseded_at.is_(None))
                    .values(superseded_at=now)
                )
                session.execute(delete(AppConfig).where(AppConfig.app_id == target))
                session.execute(delete(DataSourceFile).where(DataSourceFile.app_id == target))
                session.execute(delete(UploadSession).where(UploadSession.app_id == target))
                session.execute(delete(Privilege).where(Privilege.app_id == target))
                values = _values("small_apps", app_row)
                values.pop("id", None)
                values["name"] = report.name
                values["updated_at"] = now
                session.execute(update(SmallApp).where(SmallApp.id == target).values(values))
            for row in t["app_configs"]:
                values = _values("app_configs", row)
                old = old_config_versions.get(f"{row['stage']}:{row['kind']}")
                # A config's version only grows: a client holding the old one sees the change.
                values["version"] = max(int(values.get("version") or 1), old + 1) if old else values.get("version", 1)
                session.execute(insert(AppConfig).values({**values, "app_id": target}))
            for row in t["domain_versions"]:
                session.execute(
                    insert(DomainVersion).values(
                        {**_values("domain_versions", row), "id": versions[row["id"]], "app_id": target}
                    )
                )
            for row in t["domain_tables"]:
                session.execute(
                    insert(DomainTable).values(
                        {
                            **_values("domain_tables", row),
                            "version_id": versions[row["version_id"]],
                            "file": names[("domains", row["file"])],
                        }
                    )
                )
            for row in t["stage_heads"]:
                session.execute(
                    insert(StageHead).values(
                        {
                            **_values("stage_heads", row),
                            "app_id": target,
                            "version_id": versions[row["version_id"]],
                            "updated_at": now,
                        }
                    )
                )
            for row in t["data_source_files"]:
                session.execute(
                    insert(DataSourceFile).values(
                        {
                            **_values("data_source_files", row),
                            "app_id": target,
                            "stored_as": names[("sources", row["stored_as"])],
                        }
                    )
                )
            users = dict(session.execute(select(User.username, User.id)).all())
            groups = dict(session.execute(select(Group.name, Group.id)).all())
            for row in t["privileges"]:
                user_id = users.get(row["user"]) if row.get("user") else None
                group_id = groups.get(row["group"]) if row.get("group") else None
                if user_id is None and group_id is None:
                    continue
                session.execute(
                    insert(Privilege).values(
                        user_id=user_id, group_id=group_id, app_id=target, privilege=row["privilege"]
                    )
                )
            session.flush()
            report.release = record_in(session, store, target, before, author=author)
    except (IntegrityError, StatementError) as exc:
        raise archive.BackupCorrupted(
            f"The backup's rows could not be written: {type(exc.orig or exc).__name__}: {str(exc.orig or exc)[:300]}. "
            "Nothing was restored.",
        ) from None
    return old_sources


def _values(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """The row's values for the columns this version has (a column the backup lacks takes its default)."""
    target, names = COLUMNS[table]
    return {name: row[name] for name in names if name in row and name in target.columns}
