"""The data routes: `/data`, `/query/preview`, `/metadata`, domain download and upload, release."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.background import BackgroundTask
from starlette.responses import FileResponse

from toucan.api.answers import BINARY, ROWS, TEXT, DataAnswer, DataReleased, DomainWritten, Metadata, raw
from toucan.api.deps import AppAccessDep, Context, ContextDep, ContributorDep, IdentityDep
from toucan.apps.configs import ConfigKind, Stage, read_config
from toucan.auth.capture_tokens import CaptureScope
from toucan.auth.roles import AppPrivilege
from toucan.data.domains import check_domain_name
from toucan.data.release import release_data
from toucan.data.request_export import ExportFormat, export_request
from toucan.data.service import (
    PREVIEW_ROWS,
    DataRequest,
    DownloadFormat,
    export_domain,
    stage_read_privilege,
)
from toucan.errors import PayloadTooLarge, ValidationError
from toucan.etl.ingest import UploadFormat, format_from_content_type, ingest_file
from toucan.screenshots.pages import check_capture_data

router = APIRouter(tags=["data"])
# The routes that answer most requests, registered before every other router (see
# `create_api`): routes are matched one by one, which cost ~0.1 ms a request at the end of
# the list. `POST /{app}/data` and `POST /{app}/query/preview` shadow no other route.
query_router = APIRouter(tags=["data"])

JSON = "application/json"


@query_router.post(
    "/{app}/data",
    summary="Run a data request (pipeline or Mongo-style) on a stage's domains",
    responses=raw("One page of the answer's rows, its columns and the total", DataAnswer),
)
async def data(
    app: str,
    body: DataRequest,
    ctx: ContextDep,
    identity: IdentityDep,
    request: Request,
    stage: Stage = Stage.PRODUCTION,
) -> Response:
    scope: CaptureScope | None = getattr(request.state, "capture_scope", None)
    if scope is not None:
        await run_in_threadpool(_check_capture_data, ctx, scope, body)
    payload = await ctx.data.query(app, stage, identity, body, privilege=stage_read_privilege(stage))
    return Response(payload, media_type=JSON)


def _check_capture_data(ctx: Context, scope: CaptureScope, body: DataRequest) -> None:
    """A capture token runs only the data requests of its page (auth/capture_tokens.py)."""
    stage = Stage(scope.stage)
    with ctx.db.readonly_session() as session:
        front = read_config(session, scope.app, stage, ConfigKind.FRONT)
    check_capture_data(front, scope.app, stage, scope.page, scope.variables, body.query, body.variables)


@query_router.post(
    "/{app}/query/preview",
    summary="Preview a data request on staging (contributors)",
    responses=raw("The first rows of the answer, its columns and the total", DataAnswer),
)
async def preview(
    app: str,
    body: DataRequest,
    ctx: ContextDep,
    identity: IdentityDep,
    stage: Stage = Stage.STAGING,
) -> Response:
    payload = await ctx.data.query(
        app, stage, identity, body, privilege=AppPrivilege.CONTRIBUTE, default_limit=PREVIEW_ROWS
    )
    return Response(payload, media_type=JSON)


@router.post(
    "/{app}/data/export",
    summary="A data request's whole answer as a CSV or Excel file (the caller's row filters applied)",
    response_class=FileResponse,
    responses=raw(
        "Every row of the answer (up to TOUCAN_EXPORT_MAX_ROWS) as a file",
        content={"text/csv": TEXT, ExportFormat.XLSX.media_type: BINARY},
    ),
)
async def export(
    app: str,
    body: DataRequest,
    ctx: ContextDep,
    identity: IdentityDep,
    stage: Stage = Stage.PRODUCTION,
    format: ExportFormat = ExportFormat.CSV,
    filename: Annotated[str, Query(max_length=100, pattern=r"^[^/\\\x00-\x1f\"]*$")] = "data",
) -> FileResponse:
    exported = await export_request(
        ctx.data,
        app,
        stage,
        identity,
        body,
        format,
        privilege=stage_read_privilege(stage),
        max_rows=ctx.settings.export_max_rows,
    )
    return FileResponse(
        exported.path,
        media_type=format.media_type,
        filename=f"{filename.strip() or 'data'}.{format.value}",
        headers={"X-Toucan-Rows": str(exported.rows), "X-Toucan-Truncated": str(exported.truncated).lower()},
        background=BackgroundTask(exported.path.unlink, missing_ok=True),
    )


@router.get("/{app}/metadata", response_model=Metadata, summary="Domains of a stage: rows, columns and types")
def metadata(app: str, ctx: ContextDep, access: AppAccessDep, stage: Stage = Stage.PRODUCTION) -> dict[str, Any]:
    identity = access.require(stage_read_privilege(stage))
    return ctx.data.visible_metadata(app, stage, identity)


@router.get(
    "/{app}/domain/{domain}",
    summary="Download a domain as CSV, JSON or Parquet (contributors)",
    responses=raw(
        "The domain's rows as a file, in the asked format",
        content={"text/csv": TEXT, "application/json": ROWS, "application/vnd.apache.parquet": BINARY},
    ),
)
async def download(
    app: str,
    domain: str,
    ctx: ContextDep,
    identity: ContributorDep,
    stage: Stage = Stage.STAGING,
    format: DownloadFormat = DownloadFormat.CSV,
) -> FileResponse:
    path = await export_domain(ctx.data, app, stage, identity, domain, format)
    media = {
        DownloadFormat.CSV: "text/csv",
        DownloadFormat.JSON: JSON,
        DownloadFormat.PARQUET: "application/vnd.apache.parquet",
    }[format]
    return FileResponse(
        path,
        media_type=media,
        filename=f"{domain}.{format.value}",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


async def _receive_to_file(request: Request, limit: int) -> Path:
    fd, name = tempfile.mkstemp(prefix="toucan-upload-")
    path = Path(name)
    size = 0
    try:
        with os.fdopen(fd, "wb") as handle:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(
                        f"The file is larger than {limit} bytes (TOUCAN_UPLOAD_MAX_BYTES).",
                        details={"limit": limit},
                    )
                handle.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if size == 0:
        path.unlink(missing_ok=True)
        raise ValidationError("The request body is empty: send the CSV or Parquet file as the body.")
    return path


@router.put(
    "/{app}/domain/{domain}",
    response_model=DomainWritten,
    summary="Replace a staging domain with a CSV or Parquet body (contributors)",
)
async def upload(
    app: str,
    domain: str,
    request: Request,
    ctx: ContextDep,
    identity: ContributorDep,
    stage: Stage = Stage.STAGING,
    format: UploadFormat | None = None,
    delimiter: str = ",",
) -> dict[str, Any]:
    check_domain_name(domain)
    if stage is not Stage.STAGING:
        raise ValidationError("Domains are written to staging, then released.", details={"stage": stage.value})
    fmt = format or format_from_content_type(request.headers.get("content-type"))
    if fmt is None:
        raise ValidationError(
            "Say what the body is: Content-Type text/csv or application/vnd.apache.parquet, or ?format=csv|parquet.",
            details={"content_type": request.headers.get("content-type")},
        )
    source = await _receive_to_file(request, ctx.settings.upload_max_bytes)
    try:
        staged = await run_in_threadpool(ingest_file, ctx.data.store, app, domain, source, fmt, delimiter)
    finally:
        source.unlink(missing_ok=True)
    snapshot = await run_in_threadpool(
        ctx.data.store.commit,
        app,
        stage,
        {domain: staged},
        replace_all=False,
        author=identity.username,
    )
    info = snapshot.get(domain)
    return {
        "domain": domain,
        "stage": stage.value,
        "version": snapshot.version_id,
        "rows": info.rows,
        "columns": info.columns,
    }


@router.post(
    "/{app}/data/release", response_model=DataReleased, summary="Make staging's domains production's (no data copied)"
)
def release(app: str, ctx: ContextDep, identity: ContributorDep) -> dict[str, Any]:
    return {"stage": "production", **release_data(ctx.db, ctx.data.store, app, author=identity.username)}
