"""Exports: a story, an app's home or a report (several pages) as PNG or PDF, made by a job.

The request is checked and planned here (which pages, as whom), written next to the job
(`<data dir>/exports/<job id>/request.json`), and the worker's handler captures each page
with a capture token of the requester's, then writes `export.png` or `export.pdf` there.
The file is downloaded through a signed link that expires (TOUCAN_EXPORT_LINK_TTL_SECONDS),
and removed after TOUCAN_EXPORT_RETENTION_HOURS.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from toucan.apps.configs import Stage
from toucan.auth.capture_tokens import issue_capture_token
from toucan.db.engine import Database
from toucan.db.models import SmallApp
from toucan.errors import ValidationError
from toucan.jobs.context import JobContext
from toucan.jobs.failure import JobFailed
from toucan.screenshots.browser import pool_for
from toucan.screenshots.capture import CaptureFailed, capture, capture_url, with_token
from toucan.screenshots.pages import HOME, find_story, page_title, parse_page, story_ids, story_page
from toucan.screenshots.pdf import merge_pdfs
from toucan.settings import Settings

MAX_PAGES = 50


class ExportPage(StrEnum):
    STORY = "story"
    HOME = "home"
    REPORT = "report"


class ExportFormat(StrEnum):
    PNG = "png"
    PDF = "pdf"

    @property
    def media_type(self) -> str:
        return "image/png" if self is ExportFormat.PNG else "application/pdf"


def exports_dir(settings: Settings) -> Path:
    return settings.data_dir / "exports"


def job_dir(settings: Settings, job_id: str) -> Path:
    return exports_dir(settings) / job_id


def plan_pages(
    session: Session, app_id: str, stage: Stage, page: ExportPage, story: str | None, stories: Sequence[str] | None
) -> list[str]:
    """The pages an export captures, checked against the app's stories at `stage`."""
    from toucan.apps.configs import ConfigKind, read_config

    front = read_config(session, app_id, stage, ConfigKind.FRONT)
    if page is ExportPage.HOME:
        return [HOME]
    if page is ExportPage.STORY:
        if not story:
            raise ValidationError(
                'An export of a story names it: {"page": "story", "story": "<story id>"}.',
                details={"field": "story"},
            )
        find_story(front, story, app_id, stage)
        return [story_page(story)]
    chosen = list(stories) if stories else story_ids(session, app_id, stage)
    for story_id in chosen:
        find_story(front, story_id, app_id, stage)
    if not chosen:
        raise ValidationError(
            f"App {app_id!r} has no story at {stage.value}: a report needs at least one.", details={"field": "stories"}
        )
    if len(chosen) > MAX_PAGES:
        raise ValidationError(f"A report has at most {MAX_PAGES} pages.", details={"field": "stories"})
    return [story_page(s) for s in chosen]


def check_format(page: ExportPage, fmt: ExportFormat, pages: Sequence[str]) -> None:
    if fmt is ExportFormat.PNG and len(pages) != 1:
        raise ValidationError(
            'A PNG holds one page; a report of several pages is a PDF: send "format": "pdf".',
            details={"field": "format", "page": page.value, "pages": len(pages)},
        )


def write_request(settings: Settings, job_id: str, request: dict[str, Any]) -> None:
    folder = job_dir(settings, job_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "request.json").write_text(json.dumps(request, ensure_ascii=False))


@dataclass(frozen=True)
class RenderRequest:
    app: str
    stage: Stage
    pages: list[str]
    format: ExportFormat
    variables: dict[str, Any]
    user_id: int
    title: str = ""
    time_zone: str = "UTC"


def render(
    settings: Settings,
    db: Database,
    request: RenderRequest,
    progress: Callable[[float], None] | None = None,
    keep_partial: Path | None = None,
) -> bytes:
    """Capture every page of `request` as its user sees them; one PNG, or one PDF of all.
    A page that fails raises JobFailed with what it showed (its partial screenshot written to
    `keep_partial` when given)."""
    pool = pool_for(settings)
    secret = settings.resolved_secret_key()
    frontend = settings.resolved_screenshot_frontend_url()
    with db.readonly_session() as session:
        app = session.get(SmallApp, request.app)
        app_name = app.name if app is not None else request.app
        titles = [page_title(session, request.app, request.stage, p) for p in request.pages]
    stamp = _stamp(request.time_zone)
    parts: list[bytes] = []
    for index, (page, title) in enumerate(zip(request.pages, titles, strict=True)):
        token = issue_capture_token(
            secret,
            user_id=request.user_id,
            app=request.app,
            stage=request.stage.value,
            page=page,
            ttl=settings.screenshot_timeout + 60,
            variables=request.variables,
        )
        url = capture_url(frontend, request.app, parse_page(page), request.stage.value, request.variables)
        header = f"{app_name} — {title}" if title != app_name else app_name
        try:
            job = partial(
                capture,
                url=with_token(url, token),
                fmt=request.format.value,
                timeout=settings.screenshot_timeout,
                title=header,
                subtitle=stamp,
            )
            captured = pool.run(job, timeout=settings.screenshot_timeout * 2 + 60)
        except CaptureFailed as failed:
            if keep_partial is not None and failed.partial_png:
                keep_partial.parent.mkdir(parents=True, exist_ok=True)
                keep_partial.write_bytes(failed.partial_png)
            raise JobFailed(
                f"Error while rendering the screenshot of {page} of {request.app}: {failed.message}", failed.report()
            ) from None
        parts.append(captured.data)
        if progress is not None:
            progress(100 * (index + 1) / (len(request.pages) + 1))
    if request.format is ExportFormat.PNG:
        return parts[0]
    return merge_pdfs(parts, title=request.title or app_name)


def _stamp(time_zone: str) -> str:
    from zoneinfo import ZoneInfo

    now = datetime.now(ZoneInfo(time_zone))
    return now.strftime("%Y-%m-%d %H:%M ") + (now.tzname() or time_zone)


def result_path(settings: Settings, job_id: str) -> Path | None:
    """The finished file of an export job, None when there is none (yet, or any more)."""
    for fmt in ExportFormat:
        path = job_dir(settings, job_id) / f"export.{fmt.value}"
        if path.is_file():
            return path
    return None


def partial_path(settings: Settings, job_id: str) -> Path:
    return job_dir(settings, job_id) / "partial.png"


def run_export_job(ctx: JobContext) -> None:
    """The handler of `export` jobs (toucan.worker)."""
    path = job_dir(ctx.settings, ctx.job_id) / "request.json"
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise JobFailed("The export's request is gone (removed after TOUCAN_EXPORT_RETENTION_HOURS).") from None
    request = RenderRequest(
        app=raw["app"],
        stage=Stage(raw["stage"]),
        pages=list(raw["pages"]),
        format=ExportFormat(raw["format"]),
        variables=dict(raw.get("variables") or {}),
        user_id=int(raw["user_id"]),
        title=str(raw.get("title") or ""),
    )
    ctx.log(f"capturing {len(request.pages)} page(s) of {request.app} as {request.format.value.upper()}")
    data = render(ctx.settings, ctx.db, request, ctx.progress, keep_partial=partial_path(ctx.settings, ctx.job_id))
    out = job_dir(ctx.settings, ctx.job_id) / f"export.{request.format.value}"
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    ctx.log(f"{out.name}: {len(data)} bytes")


# --- download links ---------------------------------------------------------------------


def _signature(secret_key: str, job_id: str, what: str, expires: int) -> str:
    key = hmac.new(secret_key.encode(), b"toucan-export-link-v1", hashlib.sha256).digest()
    return hmac.new(key, f"{job_id}:{what}:{expires}".encode(), hashlib.sha256).hexdigest()


def signed_link(settings: Settings, job_id: str, what: str = "file") -> tuple[str, int]:
    """The API path of an export's file (`file` or `partial`) and when its link expires."""
    expires = int(time.time()) + settings.export_link_ttl_seconds
    signature = _signature(settings.resolved_secret_key(), job_id, what, expires)
    return f"/exports/{job_id}/{what}?expires={expires}&signature={signature}", expires


def check_link(settings: Settings, job_id: str, what: str, expires: int, signature: str) -> bool:
    if expires < time.time():
        return False
    expected = _signature(settings.resolved_secret_key(), job_id, what, expires)
    return hmac.compare_digest(expected, signature)


def remove_expired(settings: Settings) -> int:
    """Remove exports older than TOUCAN_EXPORT_RETENTION_HOURS; returns how many."""
    folder = exports_dir(settings)
    if not folder.is_dir():
        return 0
    cutoff = time.time() - settings.export_retention_hours * 3600
    removed = 0
    for entry in folder.iterdir():
        if entry.is_dir() and entry.stat().st_mtime < cutoff:
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed
