"""Screenshots and PDF exports: the capture view's page (`GET /{app}/capture`), exports as
jobs (`POST /{app}/exports`, `GET /exports/{id}`) and their expiring download links. The
work is in toucan.screenshots."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from toucan.api.answers import BINARY, JobAnswer, raw
from toucan.api.data_in import JobsDep
from toucan.api.deps import AppAccessDep, ContextDep, IdentityDep, require_app
from toucan.apps.configs import Stage
from toucan.auth.users import own_locale
from toucan.data.service import stage_read_privilege
from toucan.errors import NotFound, PermissionDenied
from toucan.jobs.store import JobKind, JobState, JobView
from toucan.screenshots import exports as domain
from toucan.screenshots.pages import HOME, capture_page

router = APIRouter(tags=["exports"])


@router.get("/{app}/capture", summary="One page (home or story) as the capture view draws it, with its filters")
def get_capture_page(
    app: str,
    ctx: ContextDep,
    access: AppAccessDep,
    response: Response,
    stage: Stage = Stage.PRODUCTION,
    page: Annotated[str, Query(max_length=230, description="'home' or 'story:<story id>'")] = HOME,
) -> dict[str, Any]:
    # One user's page: never kept by a browser (the screenshot tabs are reused, see capture.py).
    response.headers["Cache-Control"] = "no-store"
    access.require(stage_read_privilege(stage))
    with ctx.db.readonly_session() as session:
        # Drawn in the language of the user it is for (None: never chosen).
        return {**capture_page(session, app, stage, page), "locale": own_locale(session, access.identity)}


class ExportBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page: domain.ExportPage = Field(description="story, home, or report (several stories in one PDF)")
    story: str | None = Field(default=None, max_length=200, description="The story of page=story")
    stories: list[Annotated[str, Field(max_length=200)]] | None = Field(
        default=None, max_length=domain.MAX_PAGES, description="The stories of page=report (all when omitted)"
    )
    format: domain.ExportFormat = domain.ExportFormat.PDF
    stage: Stage = Stage.PRODUCTION
    variables: dict[str, Any] = Field(default_factory=dict, description="The filters' values (requester id → value)")


class ExportAnswer(JobAnswer):
    download_url: str | None = Field(default=None, description="The file, without credentials, until expires_at")
    expires_at: int | None = None
    partial_url: str | None = Field(default=None, description="A failed capture: the page as it was")
    report: str | None = Field(
        default=None, description="A failed capture: the page's state, console errors, failed requests"
    )


def _answer(ctx: ContextDep, job: JobView) -> dict[str, Any]:
    answer = job.as_json(with_log=False)
    if job.state == JobState.SUCCEEDED.value and domain.result_path(ctx.settings, job.id) is not None:
        answer["download_url"], answer["expires_at"] = domain.signed_link(ctx.settings, job.id, "file")
    if job.state == JobState.FAILED.value:
        answer["report"] = job.traceback  # what the page showed: console errors, failed requests
    if job.state == JobState.FAILED.value and domain.partial_path(ctx.settings, job.id).is_file():
        answer["partial_url"], _ = domain.signed_link(ctx.settings, job.id, "partial")
    return answer


@router.post(
    "/{app}/exports",
    response_model=ExportAnswer,
    status_code=202,
    summary="Queue an export of a story, the home or a report (PNG or PDF), as the caller sees it",
)
def create_export(app: str, body: ExportBody, ctx: ContextDep, identity: IdentityDep, jobs: JobsDep) -> dict[str, Any]:
    require_app(ctx, identity, app, stage_read_privilege(body.stage))
    with ctx.db.readonly_session() as session:
        pages = domain.plan_pages(session, app, body.stage, body.page, body.story, body.stories)
    domain.check_format(body.page, body.format, pages)
    request = {
        "app": app,
        "stage": body.stage.value,
        "pages": pages,
        "format": body.format.value,
        "variables": body.variables,
        "user_id": identity.user_id,
    }
    job_id = jobs.submit(
        JobKind.EXPORT,
        app_id=app,
        stage=body.stage.value,
        author=identity.username,
        prepare=lambda job_id: domain.write_request(ctx.settings, job_id, request),
    )
    return _answer(ctx, jobs.store.get(job_id))


def _own_export(ctx: ContextDep, jobs: JobsDep, identity: IdentityDep, export_id: str) -> JobView:
    job = jobs.store.get(export_id)
    # Somebody else's export is not there for the caller (admins see every one).
    if job.kind != JobKind.EXPORT.value or not (identity.is_admin or job.created_by == identity.username):
        raise NotFound(f"No export {export_id!r}.", details={"export": export_id})
    return job


@router.get("/exports/{export_id}", response_model=ExportAnswer, summary="An export's state and download link")
async def get_export(export_id: str, ctx: ContextDep, identity: IdentityDep, jobs: JobsDep) -> dict[str, Any]:
    job = await run_in_threadpool(_own_export, ctx, jobs, identity, export_id)
    return _answer(ctx, job)


@router.get(
    "/exports/{export_id}/{what}",
    summary="Download an export's file (or a failed one's partial screenshot) through its signed link",
    response_class=FileResponse,
    responses=raw("The PNG or PDF", content={"image/png": BINARY, "application/pdf": BINARY}),
)
def download_export(
    export_id: str,
    what: str,
    ctx: ContextDep,
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query(max_length=128)],
) -> FileResponse:
    if what not in ("file", "partial"):
        raise NotFound(f"No {what!r} of an export: 'file' or 'partial'.", details={"what": what})
    if not domain.check_link(ctx.settings, export_id, what, expires, signature):
        raise PermissionDenied(
            "This download link is expired or altered: open the export again for a fresh one.",
            details={"export": export_id},
        )
    path = (
        domain.result_path(ctx.settings, export_id) if what == "file" else domain.partial_path(ctx.settings, export_id)
    )
    if path is None or not path.is_file():
        raise NotFound(f"Export {export_id!r} has no {what} (not finished, or removed).", details={"export": export_id})
    media = "image/png" if path.suffix == ".png" else "application/pdf"
    return FileResponse(path, media_type=media, filename=f"{export_id[:8]}-{path.name}")
