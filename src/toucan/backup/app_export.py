"""Back up one small app into an `on-premise_backup-XXXXXXXX` folder (see `archive`)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from toucan.apps.secrets import referenced_secrets
from toucan.backup import archive
from toucan.backup.app_rows import TABLES, AppRows, collect, stored_secret_names
from toucan.backup.progress import QUIET, Progress
from toucan.db import migrate
from toucan.db.engine import Database
from toucan.errors import Conflict


@dataclass(frozen=True)
class BackupResult:
    directory: Path
    manifest: archive.Manifest


def backup_app(
    db: Database, data_dir: Path, app_id: str, output: Path, *, version: str, progress: Progress = QUIET
) -> BackupResult:
    """Write the backup of `app_id` into a new `on-premise_backup-XXXXXXXX` folder of `output`.
    `version` is the backend's (written to laputa_version). A failure leaves no folder behind."""
    directory = archive.new_backup_dir(output)
    try:
        manifest = write_app_backup(db, data_dir, app_id, directory, version=version, progress=progress)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return BackupResult(directory, manifest)


def write_app_backup(
    db: Database, data_dir: Path, app_id: str, directory: Path, *, version: str, progress: Progress = QUIET
) -> archive.Manifest:
    """Write the files of the backup of `app_id` into `directory` (which exists)."""
    with db.readonly_session() as session:
        rows = collect(session, app_id)
        secret_names = stored_secret_names(session, app_id)
    for row in rows.tables["app_configs"]:
        secret_names |= referenced_secrets(row["content"])
    files = _storage_files(rows, data_dir, app_id)
    manifest = archive.Manifest(
        app=app_id,
        name=rows.app["name"],
        version=version,
        schema=sorted(migrate.current_revisions(db.engine)),
        created_at=datetime.now(UTC).isoformat(),
        secrets=sorted(secret_names),
    )
    (directory / archive.VERSION_FILE).write_text(version + "\n")
    manifest.files[archive.VERSION_FILE] = archive.digest_of(directory / archive.VERSION_FILE)
    manifest.files[archive.DATABASE_FILE] = _write_database(directory / archive.DATABASE_FILE, rows)
    manifest.files[archive.STORAGE_FILE] = _write_storage(directory / archive.STORAGE_FILE, files, progress)
    manifest.contents = {
        "rows": {table: len(rows.tables[table]) for table in TABLES},
        "domains": rows.domains(),
        "source_files": sorted(row["filename"] for row in rows.tables["data_source_files"]),
        "storage_bytes": sum(path.stat().st_size for _, path in files),
    }
    manifest.write(directory)
    return manifest


def _storage_files(rows: AppRows, data_dir: Path, app_id: str) -> list[tuple[str, Path]]:
    """(member name, path) of every file the rows name; all must exist."""
    files = [
        (f"{folder}/{name}", data_dir / folder / app_id / name)
        for folder in ("domains", "sources")
        for name in sorted(rows.files(folder))
    ]
    missing = [member for member, path in files if not path.is_file()]
    if missing:
        raise Conflict(
            f"The app's files changed while the backup read them ({', '.join(missing[:5])} is gone): "
            "a load or an upload replaced them. Run the backup again.",
            details={"missing": missing[:20]},
        )
    return files


def _write_database(path: Path, rows: AppRows) -> archive.FileDigest:
    return archive.write_members(path, {f"{table}.jsonl": rows.jsonl(table) for table in TABLES})


def _write_storage(path: Path, files: list[tuple[str, Path]], progress: Progress) -> archive.FileDigest:
    total = sum(p.stat().st_size for _, p in files)
    advance = progress.task("Archiving the app's files", total)
    writer = archive.TarWriter(path, compresslevel=archive.STORAGE_COMPRESSLEVEL)
    try:
        for member, file in files:
            try:
                writer.add_file(member, file, advance)
            except FileNotFoundError:
                raise Conflict(
                    f"{member} was removed while the backup read it: a load or an upload replaced it. "
                    "Run the backup again.",
                    details={"missing": [member]},
                ) from None
    except BaseException:
        writer.abort()
        raise
    return writer.close()
