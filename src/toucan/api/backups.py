"""Backups of one small app, for administrators: back up (a job), download the `.tar`, restore
from one (a dry run answers at once, a restore is a job). The work is in toucan.backup.jobs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio.from_thread
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.requests import ClientDisconnect

from toucan.api.answers import BINARY, InstanceRestoreReportAnswer, JobAnswer, RestoreReportAnswer, raw
from toucan.api.data_in import JobsDep
from toucan.api.deps import AdminDep, Context, ContextDep, SuperAdminDep, require_app
from toucan.auth.roles import AppPrivilege
from toucan.backup import jobs as backup_jobs
from toucan.backup import tarball
from toucan.backup.app_restore import target_id
from toucan.errors import NotFound, PermissionDenied, ValidationError
from toucan.jobs.queue import JobQueue
from toucan.jobs.store import JobKind

router = APIRouter(tags=["backups"])

TAR = "application/x-tar"


@router.post(
    "/{app}/backup",
    response_model=JobAnswer,
    status_code=202,
    summary="Queue a backup of the app (administrators); download it from GET /{app}/backup/{job_id}",
)
def backup(app: str, ctx: ContextDep, admin: AdminDep, jobs: JobsDep) -> dict[str, Any]:
    require_app(ctx, admin, app, AppPrivilege.VIEW)  # 404 for an app that does not exist
    job_id = jobs.submit(JobKind.BACKUP, app_id=app, stage=None, author=admin.username)
    return jobs.store.get(job_id).as_json(with_log=False)


@router.get(
    "/{app}/backup/{job_id}",
    summary="Download a finished backup: one .tar of its on-premise_backup-XXXXXXXX folder (administrators)",
    response_class=StreamingResponse,
    responses=raw("The backup folder as an uncompressed .tar (`tar xf` gives it back)", content={TAR: BINARY}),
)
def download(app: str, job_id: str, ctx: ContextDep, admin: AdminDep, jobs: JobsDep) -> StreamingResponse:
    directory = _finished(ctx, jobs, job_id, app)
    return _tar_answer(directory, f"{app}_{directory.name}.tar")


@router.post(
    "/backup",
    response_model=JobAnswer,
    status_code=202,
    summary="Queue a backup of the whole instance: every app, users, groups, settings (super admins)",
)
def backup_instance(ctx: ContextDep, admin: SuperAdminDep, jobs: JobsDep) -> dict[str, Any]:
    job_id = jobs.submit(JobKind.BACKUP, app_id=None, stage=None, author=admin.username)
    return jobs.store.get(job_id).as_json(with_log=False)


@router.get(
    "/backup/{job_id}",
    summary="Download a finished backup of the whole instance: one .tar (super admins)",
    response_class=StreamingResponse,
    responses=raw("The backup folder as an uncompressed .tar (`tar xf` gives it back)", content={TAR: BINARY}),
)
def download_instance(job_id: str, ctx: ContextDep, admin: SuperAdminDep, jobs: JobsDep) -> StreamingResponse:
    directory = _finished(ctx, jobs, job_id, None)
    return _tar_answer(directory, f"instance_{directory.name}.tar")


def _finished(ctx: Context, jobs: JobQueue, job_id: str, app: str | None) -> Path:
    """The folder of a finished backup job of `app` (None: of the whole instance); 404 otherwise."""
    backup_jobs.job_folder(ctx.settings.data_dir, job_id)  # 404 for what cannot be a job id
    view = jobs.store.get(job_id)
    if view.app_id != app:
        if app is None:
            raise NotFound(f"No backup job {job_id!r} of the whole instance.", details={"job": job_id})
        raise NotFound(f"No backup job {job_id!r} of {app!r}.", details={"job": job_id, "app": app})
    return backup_jobs.finished_backup(ctx.settings, view)


def _tar_answer(directory: Path, filename: str) -> StreamingResponse:
    return StreamingResponse(
        tarball.tar_stream(directory),
        media_type=TAR,
        headers={
            "Content-Length": str(tarball.tar_size(directory)),
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


class _RequestBody:
    """The request's body as a blocking binary file, for a worker thread: each read takes the
    next chunks from the event loop, so the body is never held whole."""

    def __init__(self, request: Request) -> None:
        self._chunks = request.stream().__aiter__()
        self._buffer = bytearray()
        self._done = False
        self.received = 0

    async def _next(self) -> bytes:
        return await self._chunks.__anext__()

    def _more(self) -> bool:
        if self._done:
            return False
        try:
            chunk = anyio.from_thread.run(self._next)
        except StopAsyncIteration:
            self._done = True
            return False
        self.received += len(chunk)
        self._buffer += chunk
        return True

    def read(self, size: int = -1, /) -> bytes:
        while (size < 0 or len(self._buffer) < size) and self._more():
            pass
        if size < 0:
            size = len(self._buffer)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


@router.post(
    "/restore",
    response_model=RestoreReportAnswer | InstanceRestoreReportAnswer,
    summary="Restore a small app (administrators) or a whole instance (super admins) from a backup's .tar: "
    "dry run → the report, else a job (202)",
    responses={202: {"model": JobAnswer, "description": "The restore job, queued; its log carries the report"}},
    openapi_extra={"requestBody": {"required": True, "content": {TAR: {"schema": BINARY}}}},
)
async def restore(
    request: Request,
    ctx: ContextDep,
    admin: AdminDep,
    jobs: JobsDep,
    new_name: str | None = Query(
        default=None, max_length=200, description="Restore as this small app id instead of the backup's"
    ),
    dry_run: bool = Query(
        default=False,
        description="Check the backup and answer what a restore would do, with the `upload` id that restores it "
        "without sending it again",
    ),
    upload: str | None = Query(
        default=None,
        max_length=60,
        description="Restore the backup a dry run of yours checked (its answer's `upload`), with no body",
    ),
) -> Any:
    if upload is not None:
        return await _restore_checked(request, ctx, admin, jobs, upload, new_name, dry_run)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type.startswith(("multipart/", "application/json", "application/x-www-form-urlencoded")):
        raise ValidationError(
            "Send the backup's .tar as the request body itself (Content-Type: application/x-tar), not as a form "
            "or JSON.",
            details={"content_type": content_type},
        )
    if new_name is not None:
        new_name = target_id(new_name.strip()) if new_name.strip() else None
    body = _RequestBody(request)
    try:
        received = await run_in_threadpool(backup_jobs.receive, ctx.settings, body)
    except ClientDisconnect:
        raise ValidationError("The upload stopped before the whole backup arrived.") from None
    try:
        if backup_jobs.is_instance(received):
            if not admin.is_super_admin:
                raise PermissionDenied("Restoring a whole instance creates users: only super admins do it.")
            if new_name is not None:
                raise ValidationError(
                    "new_name renames one small app: a whole instance's backup restores every app under its name.",
                    details={"field": "new_name"},
                )
        if dry_run:
            report = await run_in_threadpool(backup_jobs.preview_restore, ctx.settings, ctx.db, received, new_name)
            kept = await run_in_threadpool(backup_jobs.keep_checked, ctx.settings, received, admin.username, new_name)
            return {**report.to_json(), "upload": kept}
        return await _queue_restore(ctx, admin, jobs, received, new_name)
    finally:
        backup_jobs.discard(received)


async def _queue_restore(
    ctx: ContextDep, admin: AdminDep, jobs: JobsDep, received: Path, new_name: str | None
) -> JSONResponse:
    prepare = backup_jobs.stage_restore(ctx.settings, received, new_name)
    job_id = await run_in_threadpool(
        jobs.submit, JobKind.RESTORE, app_id=None, stage=None, author=admin.username, prepare=prepare
    )
    view = await run_in_threadpool(jobs.store.get, job_id)
    return JSONResponse(view.as_json(with_log=False), status_code=202)


async def _restore_checked(
    request: Request,
    ctx: ContextDep,
    admin: AdminDep,
    jobs: JobsDep,
    upload: str,
    new_name: str | None,
    dry_run: bool,
) -> JSONResponse:
    """Restore a backup the caller's dry run checked and kept: the file is not sent twice."""
    if dry_run:
        raise ValidationError("upload restores a checked backup: it takes no dry_run.", details={"field": "dry_run"})
    if new_name is not None:
        raise ValidationError(
            "A checked backup restores under the name its dry run was checked with: check it again to rename it.",
            details={"field": "new_name"},
        )
    async for chunk in request.stream():
        if chunk:
            raise ValidationError(
                "With upload, send no body: the backup is the one checked.", details={"field": "body"}
            )
    received, checked_name = await run_in_threadpool(backup_jobs.take_checked, ctx.settings, upload, admin.username)
    try:
        # Its checks were made when it arrived; who may restore it is checked again now.
        if backup_jobs.is_instance(received) and not admin.is_super_admin:
            raise PermissionDenied("Restoring a whole instance creates users: only super admins do it.")
        return await _queue_restore(ctx, admin, jobs, received, checked_name)
    finally:
        backup_jobs.discard(received)
