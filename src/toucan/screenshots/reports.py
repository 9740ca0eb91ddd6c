"""Scheduled reports: pages of an app as one PDF, made on a cron schedule (in a time zone) as
their owner sees them, stored and listed; recipients are recorded (delivery by e-mail comes
later).

The scheduler calls `dispatch` every TOUCAN_REPORT_CHECK_SECONDS: it queues the runs that are
due (each report's next time moves on in the same UPDATE, so two schedulers never queue a run
twice), ends the runs that cannot end by themselves — past their budget, or whose job failed
because its worker was killed — and queues the retries of failed runs, with a backoff that
doubles. No state sticks: a run past its budget is failed, and the next one runs on time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from toucan.apps.configs import ConfigKind, Stage, read_config
from toucan.auth.identity import Identity, load_identity
from toucan.auth.roles import AppPrivilege
from toucan.db.engine import Database
from toucan.db.etl_models import Job
from toucan.db.models import User
from toucan.db.report_models import Report, ReportRun
from toucan.errors import NotFound, ToucanError, ValidationError
from toucan.jobs.context import JobContext
from toucan.jobs.failure import JobFailed
from toucan.jobs.queue import JobQueue
from toucan.jobs.store import JobKind, JobStore
from toucan.screenshots.cron import check_time_zone, parse_cron
from toucan.screenshots.exports import ExportFormat, RenderRequest, render
from toucan.screenshots.pages import find_story, parse_page
from toucan.settings import Settings

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


def reports_dir(settings: Settings) -> Path:
    return settings.data_dir / "reports"


def run_file(settings: Settings, report_id: int, run_id: int) -> Path:
    return reports_dir(settings) / str(report_id) / f"run-{run_id}.pdf"


@dataclass
class ReportInput:
    app: str
    name: str
    pages: list[str]
    cron: str
    time_zone: str = "UTC"
    variables: dict[str, Any] | None = None
    recipients: list[str] | None = None
    paused: bool = False
    budget_seconds: int = 300
    max_attempts: int = 3
    stage: Stage = Stage.PRODUCTION


def check_input(session: Session, data: ReportInput) -> None:
    """400 naming the field when pages, schedule, time zone or recipients are wrong."""
    parse_cron(data.cron)
    check_time_zone(data.time_zone)
    if not data.pages:
        raise ValidationError("A report has at least one page.", details={"field": "pages"})
    front = read_config(session, data.app, data.stage, ConfigKind.FRONT)
    for index, page in enumerate(data.pages):
        story = parse_page(page)
        if story is not None:
            try:
                find_story(front, story, data.app, data.stage)
            except NotFound as exc:
                raise ValidationError(exc.message, details={"field": f"pages[{index}]", "value": page}) from None
    for index, username in enumerate(data.recipients or []):
        user = session.scalar(select(User).where(User.username == username))
        if user is None or not load_identity(session, user).can(data.app, AppPrivilege.VIEW):
            raise ValidationError(
                f"Recipient {username!r} does not exist or may not view app {data.app!r}.",
                details={"field": f"recipients[{index}]", "value": username},
            )


def page_titles(session: Session, report: Report) -> dict[str, str]:
    """What each page of the report is called now (a story removed since keeps its id)."""
    front = read_config(session, report.app_id, Stage(report.stage), ConfigKind.FRONT)
    titles = {
        str(s.get("id")): str(s.get("title") or s.get("id")) for s in front.get("slides") or [] if isinstance(s, dict)
    }
    out = {}
    for page in report.pages:
        story = parse_page(page)
        out[page] = "home" if story is None else titles.get(story, story)
    return out


def report_json(report: Report, last: ReportRun | None = None, titles: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "page_titles": titles or {},
        "id": report.id,
        "app": report.app_id,
        "owner": report.owner,
        "name": report.name,
        "stage": report.stage,
        "pages": list(report.pages),
        "variables": dict(report.variables or {}),
        "recipients": list(report.recipients or []),
        "cron": report.cron,
        "time_zone": report.time_zone,
        "paused": report.paused,
        "budget_seconds": report.budget_seconds,
        "max_attempts": report.max_attempts,
        "next_run_at": report.next_run_at.isoformat() if report.next_run_at else None,
        "last_run": run_json(last) if last else None,
    }


def run_json(run: ReportRun) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": run.id,
        "report": run.report_id,
        "trigger": run.trigger,
        "attempt": run.attempt,
        "state": run.state,
        "scheduled_for": iso(run.scheduled_for),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "error": run.error,
        "retry_at": iso(run.retry_at) if not run.retried else None,
        "file_size": run.file_size,
    }


def visible(identity: Identity, report: Report) -> bool:
    return identity.is_admin or report.owner == identity.username


def get_report(session: Session, identity: Identity, report_id: int) -> Report:
    """The report, for its owner or an admin; 404 for anyone else."""
    report = session.get(Report, report_id)
    if report is None or not visible(identity, report):
        raise NotFound(f"No report {report_id}.", details={"report": report_id})
    return report


def schedule_next(report: Report, after: datetime | None = None) -> None:
    report.next_run_at = (
        None if report.paused else parse_cron(report.cron).next_after(after or _now(), report.time_zone)
    )


def last_runs(session: Session, report_ids: list[int]) -> dict[int, ReportRun]:
    out: dict[int, ReportRun] = {}
    if report_ids:
        for run in session.scalars(
            select(ReportRun).where(ReportRun.report_id.in_(report_ids)).order_by(ReportRun.id.desc())
        ):
            out.setdefault(run.report_id, run)
    return out


# --- runs ----------------------------------------------------------------------------------


def _submit(settings: Settings, db: Database, queue: JobQueue, report: Report, run_id: int) -> None:
    def link(job_id: str) -> None:
        with db.session() as session:
            session.execute(update(ReportRun).where(ReportRun.id == run_id).values(job_id=job_id))

    try:
        queue.submit(JobKind.REPORT, app_id=report.app_id, stage=report.stage, author=report.owner, prepare=link)
    except Exception as exc:
        _end_run(settings, db, run_id, "failed", f"The run could not be queued: {exc}", report.max_attempts)


def start_run(
    settings: Settings,
    db: Database,
    queue: JobQueue,
    report_id: int,
    trigger: str,
    attempt: int = 1,
    scheduled_for: datetime | None = None,
) -> int:
    """Record a run and queue its job; its id. A scheduled run is recorded for its slot of the
    schedule (`scheduled_for`), however late a busy scheduler dispatches it; others for now."""
    with db.session() as session:
        report = session.get(Report, report_id)
        if report is None:
            raise NotFound(f"No report {report_id}.", details={"report": report_id})
        run = ReportRun(
            report_id=report_id, trigger=trigger, attempt=attempt, scheduled_for=scheduled_for or _now(), state="queued"
        )
        session.add(run)
        session.flush()
        run_id = run.id
        session.expunge(report)
    # Ids come back after a database is emptied: no file of an earlier life passes for this run's.
    run_file(settings, report_id, run_id).unlink(missing_ok=True)
    _submit(settings, db, queue, report, run_id)
    return run_id


def _end_run(
    settings: Settings,
    db: Database,
    run_id: int,
    state: str,
    error: str | None,
    max_attempts: int,
    size: int | None = None,
) -> bool:
    """End a queued or running run (never one already ended); a failed one gets its retry time."""
    now = _now()
    with db.session() as session:
        run = session.get(ReportRun, run_id)
        if run is None or run.state not in ("queued", "running"):
            return False
        run.state, run.finished_at, run.error, run.file_size = state, now, error, size
        if state == "failed" and run.attempt < max_attempts and run.trigger != "manual":
            run.retry_at = now + timedelta(seconds=settings.report_retry_seconds * 2 ** (run.attempt - 1))
        return True


def dispatch(settings: Settings, db: Database, queue: JobQueue, now: datetime | None = None) -> int:
    """Queue what is due, end what cannot end, retry what failed; how many runs were queued."""
    now = now or _now()
    queued = 0
    store = JobStore(db, settings.job_heartbeat_timeout)
    store.reap_stale()
    with db.session() as session:
        # Runs past their budget, or whose job ended without saying (its worker was killed).
        open_runs = session.execute(
            select(ReportRun, Report.budget_seconds, Report.max_attempts, Job.state, Job.error)
            .join(Report, Report.id == ReportRun.report_id)
            .outerjoin(Job, Job.id == ReportRun.job_id)
            .where(ReportRun.state.in_(["queued", "running"]))
        ).all()
    for run, budget, max_attempts, job_state, job_error in open_runs:
        started = run.started_at or run.created_at
        if started is not None and started.tzinfo is None:
            started = started.replace(tzinfo=UTC)
        if job_state in ("failed", "succeeded"):
            # A succeeded job marks its run itself; here, it failed before it could.
            _end_run(settings, db, run.id, "failed", job_error or "The run's job ended without a PDF.", max_attempts)
        elif started is not None and now - started > timedelta(seconds=budget):
            message = f"The run took longer than its budget of {budget} s and was stopped; the next one runs on time."
            if _end_run(settings, db, run.id, "failed", message, max_attempts) and run.job_id:
                store.fail(run.job_id, message)
    with db.session() as session:
        due = session.scalars(
            select(Report).where(Report.paused.is_(False), Report.next_run_at.is_not(None), Report.next_run_at <= now)
        ).all()
        plans = [(r.id, r.next_run_at, parse_cron(r.cron).next_after(now, r.time_zone)) for r in due]
        retries = session.scalars(
            select(ReportRun).where(
                ReportRun.state == "failed",
                ReportRun.retried.is_(False),
                ReportRun.retry_at.is_not(None),
                ReportRun.retry_at <= now,
            )
        ).all()
        retry_plans = [(r.id, r.report_id, r.attempt + 1) for r in retries]
    for report_id, was, following in plans:
        with db.session() as session:
            moved = session.execute(
                update(Report).where(Report.id == report_id, Report.next_run_at == was).values(next_run_at=following)
            )
        if getattr(moved, "rowcount", 0):  # another scheduler did not take it first
            start_run(settings, db, queue, report_id, "schedule", scheduled_for=was)
            queued += 1
    for run_id, report_id, attempt in retry_plans:
        with db.session() as session:
            taken = session.execute(
                update(ReportRun).where(ReportRun.id == run_id, ReportRun.retried.is_(False)).values(retried=True)
            )
        if getattr(taken, "rowcount", 0):
            start_run(settings, db, queue, report_id, "retry", attempt)
            queued += 1
    return queued


def run_report_job(ctx: JobContext) -> None:
    """The handler of `report` jobs (toucan.worker): the report's pages as one PDF, stored."""
    with ctx.db.session() as session:
        run = session.scalar(select(ReportRun).where(ReportRun.job_id == ctx.job_id))
        if run is None:
            raise JobFailed("This job's report run is gone.")
        report = session.get(Report, run.report_id)
        if report is None:
            raise JobFailed("This job's report is gone.")
        if run.state != "queued":
            raise JobFailed(f"This run is already {run.state}.")
        run.state, run.started_at = "running", _now()
        owner = session.scalar(select(User).where(User.username == report.owner))
        if owner is None:
            error = f"The report's owner {report.owner!r} no longer exists."
            run.state, run.finished_at, run.error = "failed", _now(), error
            raise JobFailed(error)
        request = RenderRequest(
            app=report.app_id,
            stage=Stage(report.stage),
            pages=list(report.pages),
            format=ExportFormat.PDF,
            variables=dict(report.variables or {}),
            user_id=owner.id,
            title=report.name,
            time_zone=report.time_zone,
        )
        run_id, report_id, max_attempts, owner_name = run.id, report.id, report.max_attempts, report.owner
    ctx.log(f"report {report_id} run {run_id}: {len(request.pages)} page(s) as {owner_name}")
    try:
        data = render(ctx.settings, ctx.db, request, ctx.progress)
    except JobFailed as failed:
        _end_run(ctx.settings, ctx.db, run_id, "failed", failed.message, max_attempts)
        raise
    except ToucanError as exc:
        # What the owner can act on, e.g. a story of the report that its app no longer has.
        _end_run(ctx.settings, ctx.db, run_id, "failed", f"The run failed: {exc.message}", max_attempts)
        raise JobFailed(exc.message) from None
    except Exception as exc:
        _end_run(ctx.settings, ctx.db, run_id, "failed", f"The run failed ({type(exc).__name__}).", max_attempts)
        raise
    path = run_file(ctx.settings, report_id, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    if not _end_run(ctx.settings, ctx.db, run_id, "succeeded", None, max_attempts, len(data)):
        path.unlink(missing_ok=True)  # failed meanwhile (past its budget): no PDF for a failed run
        raise JobFailed("The run was stopped (past its budget) before it ended.")
    ctx.log(f"{path.name}: {len(data)} bytes")
