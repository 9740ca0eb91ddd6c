"""Backup and restore as jobs, for the API and the worker (the CLI calls `app_export` and
`app_restore` directly).

    <data dir>/backups/<job id>/
        on-premise_backup-XXXXXXXX/   a backup job's output (downloaded as one .tar), or a
                                      restore job's input, checked when it arrived
        request.json                  a restore job's parameters (the app's new name)

A backup's folder stays `TOUCAN_BACKUP_RETENTION_HOURS` for its download, then the worker's
garbage collection removes it; a restore's input goes as soon as its job ends. An upload is
unpacked in the receiving process's scratch folder (swept if the process dies) and moves
under `backups/` only once it is checked and its job exists.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from toucan import __version__
from toucan.backup import app_restore, archive, tarball
from toucan.backup.app_export import backup_app
from toucan.backup.app_restore import RestoreReport, read_backup, restore_app
from toucan.backup.instance import APPS as INSTANCE_APPS
from toucan.backup.instance import KIND as INSTANCE_KIND
from toucan.backup.instance import InstanceRestoreReport, backup_instance, read_instance, restore_instance
from toucan.backup.progress import Advance
from toucan.db.engine import Database
from toucan.db.etl_models import Job
from toucan.errors import Conflict, NotFound
from toucan.jobs import scratch
from toucan.jobs.context import JobContext
from toucan.jobs.failure import JobFailed
from toucan.jobs.store import JobKind, JobState, JobView
from toucan.settings import Settings

FOLDER = "backups"
REQUEST_FILE = "request.json"
# Beside a backup checked by a dry run and kept for the restore that follows it.
UPLOAD_FILE = "checked-upload.json"


def backups_root(data_dir: Path) -> Path:
    return data_dir / FOLDER


def job_folder(data_dir: Path, job_id: str) -> Path:
    """The folder of a backup or restore job (its id is checked: it becomes a path)."""
    try:
        canonical = str(uuid.UUID(job_id))
    except ValueError:
        raise NotFound(f"No job {job_id[:60]!r}.", details={"job": job_id[:60]}) from None
    return backups_root(data_dir) / canonical


def backup_in(folder: Path) -> Path | None:
    """The one `on-premise_backup-XXXXXXXX` folder of a job's folder, if there is one."""
    found = sorted(p for p in folder.glob(f"{archive.PREFIX}*") if p.is_dir()) if folder.is_dir() else []
    return found[0] if len(found) == 1 else None


# --- progress ------------------------------------------------------------------------------


class JobProgress:
    """The Progress protocol for a job: step k of n fills the k-th n-th of its percentage
    (kept below 100 until the job ends), and each step and message is a log line."""

    def __init__(self, ctx: JobContext, steps: int) -> None:
        self.ctx = ctx
        self.steps = max(1, steps)
        self.started = 0

    def task(self, description: str, total: int | None) -> Advance:
        index = min(self.started, self.steps - 1)
        self.started += 1
        self.ctx.log(f"{description} ({total:,} bytes)." if total else f"{description}.")
        base, share = 100 * index / self.steps, 100 / self.steps
        self.ctx.progress(base)
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if total:
                self.ctx.progress(min(99.0, base + share * min(done, total) / total))

        return advance

    def say(self, message: str) -> None:
        self.ctx.log(message)


# --- backup ---------------------------------------------------------------------------------


def run_backup_job(ctx: JobContext) -> None:
    """The handler of `backup` jobs: the app's backup (the whole instance's for a job of no
    app) into the job's folder, for download."""
    folder = job_folder(ctx.settings.data_dir, ctx.job_id)
    if ctx.app_id is None:
        whole = backup_instance(
            ctx.db, ctx.settings.data_dir, folder, version=__version__, progress=JobProgress(ctx, 1)
        )
        ctx.log(
            f"Backed up the instance (version {__version__}) into {whole.directory.name}: apps "
            f"{', '.join(whole.manifest.contents['apps']) or 'none'}, {whole.manifest.contents['users']} users, "
            f"{whole.manifest.contents['groups']} groups. Passwords and secrets are never in a backup."
        )
        return
    result = backup_app(
        ctx.db, ctx.settings.data_dir, ctx.app_id, folder, version=__version__, progress=JobProgress(ctx, 1)
    )
    contents = result.manifest.contents
    size = sum(digest.size for digest in result.manifest.files.values())
    ctx.log(f"Backed up {ctx.app_id!r} (version {__version__}) into {result.directory.name}: {size:,} bytes.")
    ctx.log(f"Domains: {json.dumps(contents['domains'], sort_keys=True)}.")
    ctx.log(f"Uploaded files: {len(contents['source_files'])}.")
    if result.manifest.secrets:
        ctx.log(
            "Not in the backup (secrets never are): "
            + ", ".join(result.manifest.secrets)
            + ". Create them again where the backup is restored.",
            "warning",
        )


def finished_backup(settings: Settings, view: JobView) -> Path:
    """The folder of a backup job that succeeded and is still kept; NotFound / Conflict otherwise."""
    if view.kind != JobKind.BACKUP.value:
        raise NotFound(f"No backup job {view.id!r}.", details={"job": view.id})
    if view.state in (JobState.QUEUED.value, JobState.RUNNING.value):
        raise Conflict(
            f"The backup is still {view.state}: download it once its job has succeeded.",
            details={"job": view.id, "state": view.state},
        )
    if view.state != JobState.SUCCEEDED.value:
        raise Conflict(
            f"The backup failed, there is nothing to download: {view.error or 'see its log'}",
            details={"job": view.id, "state": view.state},
        )
    directory = backup_in(job_folder(settings.data_dir, view.id))
    if directory is None:
        raise NotFound(
            f"The backup of job {view.id!r} was removed: backups are kept TOUCAN_BACKUP_RETENTION_HOURS "
            f"({settings.backup_retention_hours:g} h). Back the app up again.",
            details={"job": view.id},
        )
    return directory


# --- restore --------------------------------------------------------------------------------


def receive(settings: Settings, stream: tarball.Readable) -> Path:
    """Unpack an uploaded backup `.tar` into a new folder of this process's scratch space and
    check it whole (manifest, version, checksums, rows); returns the backup folder. Nothing
    outside the scratch space is written; the caller removes `folder.parent` when done."""
    landing = scratch.process_folder(settings.data_dir) / f"backup-upload-{uuid.uuid4().hex}"
    landing.mkdir()
    try:
        directory = tarball.unpack(stream, landing)
        if archive.Manifest.read(directory).kind == INSTANCE_KIND:
            _, _, apps = read_instance(directory)
            for app_id, rows in apps.items():
                app_restore.check_storage(directory / INSTANCE_APPS / app_id / archive.STORAGE_FILE, rows)
        else:
            _, rows = read_backup(directory)
            app_restore.check_storage(directory / archive.STORAGE_FILE, rows)
    except BaseException:
        shutil.rmtree(landing, ignore_errors=True)
        raise
    return directory


def discard(received: Path) -> None:
    """Remove what `receive` wrote."""
    shutil.rmtree(received.parent, ignore_errors=True)


def is_instance(received: Path) -> bool:
    """Whether a received backup is a whole instance's (checked by `receive`)."""
    return archive.Manifest.read(received).kind == INSTANCE_KIND


def preview_restore(
    settings: Settings, db: Database, received: Path, new_name: str | None
) -> RestoreReport | InstanceRestoreReport:
    """What restoring a received backup would do (nothing is written)."""
    if is_instance(received):
        return restore_instance(settings, db, received, dry_run=True)
    return restore_app(settings, db, received, new_id=new_name, dry_run=True)


def stage_restore(settings: Settings, received: Path, new_name: str | None) -> Callable[[str], None]:
    """The `prepare` of a restore job: moves the received backup into the job's folder with
    the job's parameters, where `run_restore_job` finds them."""

    def prepare(job_id: str) -> None:
        folder = job_folder(settings.data_dir, job_id)
        folder.mkdir(parents=True)
        (folder / REQUEST_FILE).write_text(json.dumps({"new_name": new_name}))
        # The scratch space is on the data dir: a rename, whatever the backup's size.
        received.rename(folder / received.name)
        discard(received)

    return prepare


def keep_checked(settings: Settings, received: Path, owner: str, new_name: str | None) -> str:
    """Keep a backup a dry run checked, for `owner` to restore without sending it again;
    returns its id. It goes with the other folders of `backups/` after
    TOUCAN_BACKUP_RETENTION_HOURS."""
    upload_id = str(uuid.uuid4())
    folder = job_folder(settings.data_dir, upload_id)
    folder.mkdir(parents=True)
    (folder / UPLOAD_FILE).write_text(json.dumps({"owner": owner, "new_name": new_name}))
    # The scratch space is on the data dir: a rename, whatever the backup's size.
    received.rename(folder / received.name)
    discard(received)
    return upload_id


def take_checked(settings: Settings, upload_id: str, owner: str) -> tuple[Path, str | None]:
    """The backup `owner` had checked as `upload_id`, and the name it was checked under. Taken
    once: a second restore of it, another admin's id or an expired one is not found."""
    missing = NotFound(
        "No checked backup has this id: it was restored already, expired (TOUCAN_BACKUP_RETENTION_HOURS) or is "
        "another administrator's. Send the backup again.",
        details={"upload": upload_id[:60]},
    )
    try:
        folder = job_folder(settings.data_dir, upload_id)
        meta = json.loads((folder / UPLOAD_FILE).read_text())
    except (NotFound, OSError, ValueError):
        raise missing from None
    if meta.get("owner") != owner:
        raise missing
    # Claimed by a rename: of two restores sent at once, one finds it.
    claimed = folder.with_name(f"{folder.name}.taken-{uuid.uuid4().hex}")
    try:
        folder.rename(claimed)
    except OSError:
        raise missing from None
    directory = backup_in(claimed)
    if directory is None:
        shutil.rmtree(claimed, ignore_errors=True)
        raise missing
    return directory, meta.get("new_name")


def run_restore_job(ctx: JobContext) -> None:
    """The handler of `restore` jobs: restore the job's received backup; the report goes to
    the log. The input is removed when the job ends, whatever the outcome."""
    folder = job_folder(ctx.settings.data_dir, ctx.job_id)
    try:
        directory = backup_in(folder)
        if directory is None or not (folder / REQUEST_FILE).is_file():
            raise JobFailed(
                "The backup to restore is gone (removed after TOUCAN_BACKUP_RETENTION_HOURS, or never arrived): "
                "send it again."
            )
        request = json.loads((folder / REQUEST_FILE).read_text())
        report: RestoreReport | InstanceRestoreReport
        if is_instance(directory):
            report = restore_instance(ctx.settings, ctx.db, directory, progress=JobProgress(ctx, 2), author=ctx.author)
        else:
            report = restore_app(
                ctx.settings,
                ctx.db,
                directory,
                new_id=request.get("new_name"),
                progress=JobProgress(ctx, 2),
                author=ctx.author,
            )
        for line in report.lines():
            ctx.log(line.strip(), "warning" if line.lstrip().startswith(("Secrets", "Privileges not")) else "info")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- retention ------------------------------------------------------------------------------


def _newest_change(folder: Path) -> float:
    newest = folder.stat().st_mtime
    for path in folder.rglob("*"):
        try:
            newest = max(newest, path.stat().st_mtime)
        except OSError:
            continue
    return newest


def remove_expired(settings: Settings, db: Database, now: float | None = None) -> int:
    """Remove the job folders under `backups/` untouched for TOUCAN_BACKUP_RETENTION_HOURS,
    except those of jobs still queued or running; returns how many."""
    root = backups_root(settings.data_dir)
    if not root.is_dir():
        return 0
    cutoff = (now if now is not None else time.time()) - settings.backup_retention_hours * 3600
    with db.readonly_session() as session:
        active = set(
            session.scalars(select(Job.id).where(Job.state.in_([JobState.QUEUED.value, JobState.RUNNING.value])))
        )
    removed = 0
    for folder in root.iterdir():
        if not folder.is_dir() or folder.name in active:
            continue
        try:
            expired = _newest_change(folder) < cutoff
        except OSError:
            continue
        if expired:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed
