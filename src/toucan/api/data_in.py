"""Data in: uploaded data sources (plain and chunked), preprocess, jobs, tracebacks,
augment.py and per-app secrets. Contributors only; the work happens in the etl and jobs modules."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile

from toucan import nesting
from toucan.api.answers import (
    TEXT,
    AugmentSaved,
    JobAnswer,
    JobList,
    JobQueued,
    ProviderStatus,
    SecretNames,
    SourceFile,
    SourceFileList,
    UploadState,
    raw,
)
from toucan.api.deps import ContextDep, ContributorDep, IdentityDep, require_app
from toucan.apps import configs
from toucan.apps.configs import ConfigKind, Stage
from toucan.apps.secrets import AppSecrets
from toucan.auth.roles import AppPrivilege
from toucan.errors import ErrorCode, NotFound, PayloadTooLarge, ValidationError
from toucan.etl.builder_code import check_augment
from toucan.etl.provider_check import check_provider
from toucan.etl.sources import SourceFiles
from toucan.formats import parse_json
from toucan.jobs.queue import JobQueue
from toucan.jobs.store import JobKind

router = APIRouter(tags=["data in"])

# Multipart framing around a file: allowed above TOUCAN_UPLOAD_MAX_BYTES before the file itself is measured.
MULTIPART_SLACK = 1024 * 1024


def get_jobs(request: Request) -> JobQueue:
    jobs: JobQueue = request.app.state.jobs
    return jobs


def get_sources(request: Request) -> SourceFiles:
    sources: SourceFiles = request.app.state.sources
    return sources


JobsDep = Annotated[JobQueue, Depends(get_jobs)]
SourcesDep = Annotated[SourceFiles, Depends(get_sources)]


def submit_preprocess(jobs: JobQueue, app: str, stage: Stage, author: str | None) -> dict[str, Any]:
    job_id = jobs.submit(JobKind.PREPROCESS, app_id=app, stage=stage.value, author=author)
    return {"id": job_id, "kind": JobKind.PREPROCESS.value, "state": "queued", "stage": stage.value}


# --- data sources ----------------------------------------------------------------------------


@router.get("/{app}/data/sources", response_model=SourceFileList, summary="Uploaded data-source files")
def list_sources(app: str, ctx: ContextDep, identity: ContributorDep, sources: SourcesDep) -> dict[str, Any]:
    return {"sources": [info.as_json() for info in sources.list(app)]}


@router.post(
    "/{app}/data/sources",
    response_model=SourceFile,
    status_code=201,
    summary='Upload a data-source file (multipart: `file`, and `data` = {"filename": ...})',
)
async def upload_source(
    app: str, request: Request, ctx: ContextDep, identity: ContributorDep, sources: SourcesDep
) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > sources.max_bytes + MULTIPART_SLACK:
        raise PayloadTooLarge(
            f"The file is larger than TOUCAN_UPLOAD_MAX_BYTES ({sources.max_bytes} bytes).",
            details={"limit": sources.max_bytes},
        )
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ValidationError(
            "Send the file as multipart/form-data with the fields 'file' (the content) and 'data' "
            '(JSON {"filename": <the name etl_config uses>}).',
            details={"content_type": request.headers.get("content-type")},
        )
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ValidationError("The form has no 'file' field holding the file.", details={"field": "file"})
        filename = _form_filename(form.get("data"), upload.filename, ctx.settings.max_nesting_depth)
        info = await run_in_threadpool(sources.save, app, filename, upload.file, author=identity.username)
    return info.as_json()


def _form_filename(raw: Any, fallback: str | None, max_depth: int) -> str:
    if raw is None:
        if fallback:
            return fallback
        raise ValidationError("The form has no 'data' field ({\"filename\": ...}).", details={"field": "data"})
    if not isinstance(raw, str):
        raise ValidationError("'data' is a JSON text field, not a file.", details={"field": "data"})
    deep = nesting.json_text_too_deep(raw, max_depth)
    if deep is not None:
        raise nesting.too_deep("The form field 'data'", max_depth, deep, field="data")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"'data' is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
            details={"field": "data", "line": exc.lineno, "column": exc.colno},
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("filename"), str):
        raise ValidationError('\'data\' must be {"filename": "<name>"}.', details={"field": "data.filename"})
    return str(data["filename"])


@router.delete("/{app}/data/sources/{filename}", status_code=204, summary="Delete an uploaded data-source file")
def delete_source(app: str, filename: str, ctx: ContextDep, identity: ContributorDep, sources: SourcesDep) -> Response:
    sources.delete(app, filename)
    return Response(status_code=204)


class UploadStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=255)
    size: int = Field(ge=0)


@router.post(
    "/{app}/data/sources/uploads",
    response_model=UploadState,
    status_code=201,
    summary="Start a chunked (resumable) upload",
)
def start_upload(
    app: str, body: UploadStart, ctx: ContextDep, identity: ContributorDep, sources: SourcesDep
) -> dict[str, Any]:
    return sources.start_upload(app, body.filename, body.size, author=identity.username)


@router.get(
    "/{app}/data/sources/uploads/{upload_id}",
    response_model=UploadState,
    summary="How many bytes of a chunked upload arrived",
)
def upload_state(
    app: str, upload_id: str, ctx: ContextDep, identity: ContributorDep, sources: SourcesDep
) -> dict[str, Any]:
    return sources.upload_state(app, upload_id)


@router.patch(
    "/{app}/data/sources/uploads/{upload_id}", response_model=UploadState, summary="Append a chunk at Upload-Offset"
)
async def append_chunk(
    app: str,
    upload_id: str,
    request: Request,
    ctx: ContextDep,
    identity: ContributorDep,
    sources: SourcesDep,
    upload_offset: Annotated[int, Header(ge=0)],
) -> dict[str, Any]:
    body = await _spool(request, sources.max_bytes)
    try:
        return await run_in_threadpool(sources.append, app, upload_id, upload_offset, body)
    finally:
        body.close()


async def _spool(request: Request, limit: int) -> Any:
    import tempfile

    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - closed by the caller
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            spool.close()
            raise PayloadTooLarge(f"The chunk is larger than {limit} bytes.", details={"limit": limit})
        spool.write(chunk)
    spool.seek(0)
    return spool


@router.post(
    "/{app}/data/sources/uploads/{upload_id}/complete", response_model=SourceFile, summary="Finish a chunked upload"
)
def complete_upload(
    app: str, upload_id: str, ctx: ContextDep, identity: ContributorDep, sources: SourcesDep
) -> dict[str, Any]:
    return sources.complete(app, upload_id, author=identity.username).as_json()


@router.delete("/{app}/data/sources/uploads/{upload_id}", status_code=204, summary="Abandon a chunked upload")
def cancel_upload(app: str, upload_id: str, ctx: ContextDep, identity: ContributorDep, sources: SourcesDep) -> Response:
    sources.cancel(app, upload_id)
    return Response(status_code=204)


# --- preprocess and jobs -----------------------------------------------------------------------


@router.post(
    "/{app}/data/preprocess",
    response_model=JobQueued,
    status_code=202,
    summary="Queue a preprocess job (data sources → domains)",
)
def preprocess(
    app: str, ctx: ContextDep, identity: ContributorDep, jobs: JobsDep, stage: Stage = Stage.STAGING
) -> dict[str, Any]:
    return submit_preprocess(jobs, app, stage, identity.username)


@router.get("/{app}/jobs", response_model=JobList, summary="Recent jobs of an app")
def app_jobs(app: str, ctx: ContextDep, identity: ContributorDep, jobs: JobsDep) -> dict[str, Any]:
    return {"jobs": [job.as_json(with_log=False) for job in jobs.store.list_for_app(app)]}


@router.get("/jobs/{job_id}", response_model=JobAnswer, summary="A job: state, progress (%), log lines and error")
def job(job_id: str, ctx: ContextDep, identity: IdentityDep, jobs: JobsDep) -> dict[str, Any]:
    view = jobs.store.get(job_id)
    if view.app_id is not None:
        try:
            require_app(ctx, identity, view.app_id, AppPrivilege.CONTRIBUTE)
        except NotFound:
            raise NotFound(f"No job {job_id!r}.", details={"job": job_id}) from None
    elif not identity.is_admin:
        raise NotFound(f"No job {job_id!r}.", details={"job": job_id})
    return view.as_json()


@router.get(
    "/{app}/tracebacks/latest", response_model=JobAnswer, summary="The last failed job of an app, with its report"
)
def latest_traceback(
    app: str, ctx: ContextDep, identity: ContributorDep, jobs: JobsDep, stage: Stage | None = None
) -> dict[str, Any]:
    view = jobs.store.latest_failure(app, stage.value if stage else None)
    if view is None:
        raise NotFound(f"No job of {app!r} has failed.", details={"app": app})
    return view.as_json()


@router.get(
    "/{app}/data/providers/{name}/status",
    response_model=ProviderStatus,
    summary="Check a data provider step by step: resolved, reached, logged in, queried (contributors)",
)
def provider_status(
    app: str, name: str, ctx: ContextDep, identity: ContributorDep, stage: Stage = Stage.STAGING
) -> dict[str, Any]:
    return check_provider(ctx.db, ctx.settings, app, stage, name)


# --- augment.py --------------------------------------------------------------------------------


@router.get(
    "/{app}/config/augment",
    summary="The app's augment.py (text)",
    response_class=Response,
    responses=raw("The Python source, empty when the app has none", content={"text/x-python": TEXT}),
)
def get_augment(app: str, ctx: ContextDep, identity: ContributorDep, stage: Stage = Stage.STAGING) -> Response:
    with ctx.db.readonly_session() as session:
        code = configs.read_config(session, app, stage, ConfigKind.AUGMENT).get("code", "")
    return Response(code, media_type="text/x-python; charset=utf-8")


@router.put(
    "/{app}/config/augment",
    response_model=AugmentSaved,
    summary="Replace staging's augment.py (text/x-python body, or JSON {code})",
)
async def put_augment(app: str, request: Request, ctx: ContextDep, identity: ContributorDep) -> dict[str, Any]:
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        document = parse_json(raw, ctx.settings.max_nesting_depth)
        if not isinstance(document, dict) or not isinstance(document.get("code"), str):
            raise ValidationError('A JSON body is {"code": "<augment.py>"}.', details={"field": "code"})
        code = document["code"]
    else:
        try:
            code = raw.decode()
        except UnicodeDecodeError:
            raise ValidationError("augment.py is not UTF-8 text.", code=ErrorCode.INVALID_AUGMENT) from None
    functions = check_augment(code, app, ctx.settings)
    with ctx.db.session() as session:
        row = configs.write_config(
            session, app, Stage.STAGING, ConfigKind.AUGMENT, {"code": code}, author=identity.username
        )
        version = row.version
    return {"stage": "staging", "version": version, "functions": sorted(functions)}


# --- secrets -------------------------------------------------------------------------------------


def _secrets(ctx: ContextDep) -> AppSecrets:
    return AppSecrets(ctx.db, ctx.settings.resolved_secret_key())


class SecretBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str


@router.get(
    "/{app}/secrets", response_model=SecretNames, summary="Names of the app's secrets (values are never returned)"
)
def list_secrets(app: str, ctx: ContextDep, identity: ContributorDep) -> dict[str, Any]:
    return {"secrets": _secrets(ctx).names(app)}


@router.put("/{app}/secrets/{name}", status_code=204, summary="Set a secret (write-only)")
def put_secret(app: str, name: str, body: SecretBody, ctx: ContextDep, identity: ContributorDep) -> Response:
    _secrets(ctx).put(app, name, body.value, author=identity.username)
    return Response(status_code=204)


@router.delete("/{app}/secrets/{name}", status_code=204, summary="Delete a secret")
def delete_secret(app: str, name: str, ctx: ContextDep, identity: ContributorDep) -> Response:
    _secrets(ctx).delete(app, name)
    return Response(status_code=204)
