"""Scheduled reports (`/reports`): their owner (or an admin) creates, edits, pauses, test-runs
and deletes them, reads each run's log line and downloads its PDF. The work is in
toucan.screenshots.reports."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from toucan.api.answers import BINARY, raw
from toucan.api.data_in import JobsDep
from toucan.api.deps import ContextDep, IdentityDep, require_app
from toucan.apps.configs import Stage
from toucan.data.service import stage_read_privilege
from toucan.db.report_models import Report, ReportRun
from toucan.errors import NotFound
from toucan.screenshots import reports as domain

router = APIRouter(tags=["reports"])

# Ids are 32-bit columns: a larger one names no report (PostgreSQL would refuse to compare it).
ReportId = Annotated[int, Path(ge=1, le=2**31 - 1, description="A report's id")]
RunId = Annotated[int, Path(ge=1, le=2**31 - 1, description="A run of the report")]
Page = Annotated[str, Field(max_length=230, description="'home' or 'story:<story id>'")]


class ReportBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    app: str = Field(max_length=30)
    name: str = Field(min_length=1, max_length=200)
    pages: list[Page] = Field(min_length=1, max_length=50)
    cron: str = Field(max_length=120, description="minute hour day month weekday (or seconds first)")
    time_zone: str = Field(default="UTC", max_length=64)
    variables: dict[str, Any] = Field(default_factory=dict)
    recipients: list[Annotated[str, Field(max_length=255)]] = Field(default_factory=list, max_length=200)
    paused: bool = False
    budget_seconds: int = Field(default=300, ge=10, le=3600)
    max_attempts: int = Field(default=3, ge=1, le=10)
    stage: Stage = Stage.PRODUCTION


class ReportPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    pages: list[Page] | None = Field(default=None, min_length=1, max_length=50)
    cron: str | None = Field(default=None, max_length=120)
    time_zone: str | None = Field(default=None, max_length=64)
    variables: dict[str, Any] | None = None
    recipients: list[Annotated[str, Field(max_length=255)]] | None = Field(default=None, max_length=200)
    paused: bool | None = None
    budget_seconds: int | None = Field(default=None, ge=10, le=3600)
    max_attempts: int | None = Field(default=None, ge=1, le=10)


def _input(report: Report) -> domain.ReportInput:
    return domain.ReportInput(
        app=report.app_id,
        name=report.name,
        pages=list(report.pages),
        cron=report.cron,
        time_zone=report.time_zone,
        variables=dict(report.variables or {}),
        recipients=list(report.recipients or []),
        paused=report.paused,
        budget_seconds=report.budget_seconds,
        max_attempts=report.max_attempts,
        stage=Stage(report.stage),
    )


@router.get("/reports", summary="The caller's scheduled reports (every one for admins), with their last run")
def list_reports(ctx: ContextDep, identity: IdentityDep, app: str | None = None) -> dict[str, Any]:
    with ctx.db.readonly_session() as session:
        query = select(Report).order_by(Report.app_id, Report.name, Report.id)
        if not identity.is_admin:
            query = query.where(Report.owner == identity.username)
        if app is not None:
            query = query.where(Report.app_id == app)
        reports = session.scalars(query).all()
        last = domain.last_runs(session, [r.id for r in reports])
        return {"reports": [domain.report_json(r, last.get(r.id), domain.page_titles(session, r)) for r in reports]}


@router.post("/reports", status_code=201, summary="Create a scheduled report of pages of an app the caller views")
def create_report(body: ReportBody, ctx: ContextDep, identity: IdentityDep) -> dict[str, Any]:
    require_app(ctx, identity, body.app, stage_read_privilege(body.stage))
    data = domain.ReportInput(**body.model_dump())
    with ctx.db.session() as session:
        domain.check_input(session, data)
        report = Report(
            app_id=body.app,
            owner=identity.username,
            name=body.name,
            stage=body.stage.value,
            pages=body.pages,
            variables=body.variables,
            recipients=body.recipients,
            cron=body.cron,
            time_zone=body.time_zone,
            paused=body.paused,
            budget_seconds=body.budget_seconds,
            max_attempts=body.max_attempts,
        )
        domain.schedule_next(report)
        session.add(report)
        session.flush()
        return domain.report_json(report)


@router.get("/reports/{report_id}", summary="A scheduled report and its last run")
def get_report(report_id: ReportId, ctx: ContextDep, identity: IdentityDep) -> dict[str, Any]:
    with ctx.db.readonly_session() as session:
        report = domain.get_report(session, identity, report_id)
        return domain.report_json(report, domain.last_runs(session, [report.id]).get(report.id))


@router.patch("/reports/{report_id}", summary="Change a report: pages, schedule, filters, recipients; pause it")
def update_report(report_id: ReportId, body: ReportPatch, ctx: ContextDep, identity: IdentityDep) -> dict[str, Any]:
    with ctx.db.session() as session:
        report = domain.get_report(session, identity, report_id)
        changes = body.model_dump(exclude_unset=True)
        data = _input(report)
        for key, value in changes.items():
            setattr(data, key, value)
        # The owner may have lost the app since: a change needs the app still.
        require_app(ctx, identity, report.app_id, stage_read_privilege(data.stage))
        domain.check_input(session, data)
        for key, value in changes.items():
            setattr(report, key, value)
        report.updated_at = datetime.now(UTC)
        domain.schedule_next(report)
        return domain.report_json(report)


@router.delete("/reports/{report_id}", status_code=204, summary="Delete a report, its runs and their PDFs")
def delete_report(report_id: ReportId, ctx: ContextDep, identity: IdentityDep) -> Response:
    import shutil

    with ctx.db.session() as session:
        report = domain.get_report(session, identity, report_id)
        session.delete(report)
    shutil.rmtree(domain.reports_dir(ctx.settings) / str(report_id), ignore_errors=True)
    return Response(status_code=204)


@router.post("/reports/{report_id}/run", status_code=202, summary="Test-run a report now (paused ones too)")
def run_report(report_id: ReportId, ctx: ContextDep, identity: IdentityDep, jobs: JobsDep) -> dict[str, Any]:
    with ctx.db.readonly_session() as session:
        report = domain.get_report(session, identity, report_id)
        app, stage = report.app_id, Stage(report.stage)
    require_app(ctx, identity, app, stage_read_privilege(stage))
    run_id = domain.start_run(ctx.settings, ctx.db, jobs, report_id, "manual")
    with ctx.db.readonly_session() as session:
        run = session.get(ReportRun, run_id)
        assert run is not None
        return domain.run_json(run)


@router.get("/reports/{report_id}/runs", summary="A report's execution log: one line per run, newest first")
def report_runs(
    report_id: ReportId, ctx: ContextDep, identity: IdentityDep, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> dict[str, Any]:
    with ctx.db.readonly_session() as session:
        domain.get_report(session, identity, report_id)
        runs = session.scalars(
            select(ReportRun)
            .where(ReportRun.report_id == report_id)
            .order_by(ReportRun.id.desc())
            .limit(max(1, min(limit, 500)))
        ).all()
        return {"runs": [domain.run_json(r) for r in runs]}


@router.get(
    "/reports/{report_id}/runs/{run_id}/pdf",
    summary="The PDF a run made",
    response_class=FileResponse,
    responses=raw("The report's PDF", content={"application/pdf": BINARY}),
)
def report_pdf(report_id: ReportId, run_id: RunId, ctx: ContextDep, identity: IdentityDep) -> FileResponse:
    with ctx.db.readonly_session() as session:
        report = domain.get_report(session, identity, report_id)
        run = session.get(ReportRun, run_id)
        name = report.name
        if run is None or run.report_id != report_id:
            raise NotFound(f"Report {report_id} has no run {run_id}.", details={"run": run_id})
    path = domain.run_file(ctx.settings, report_id, run_id)
    if not path.is_file():
        raise NotFound(f"Run {run_id} made no PDF (it failed, or is not finished).", details={"run": run_id})
    return FileResponse(path, media_type="application/pdf", filename=f"{name} - run {run_id}.pdf")
