"""`GET /metrics`: Prometheus text format, open or behind TOUCAN_METRICS_TOKEN."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from toucan.api.answers import TEXT, raw
from toucan.api.deps import ContextDep
from toucan.errors import AuthenticationError, ErrorCode
from toucan.jobs.metrics import job_system_exposition
from toucan.metrics import CONTENT_TYPE, process_exposition, token_allows

router = APIRouter(tags=["status"])


@router.get(
    "/metrics",
    summary="Metrics in the Prometheus text format (Bearer TOUCAN_METRICS_TOKEN when set)",
    response_class=Response,
    responses=raw("Prometheus text exposition format", content={CONTENT_TYPE: TEXT}),
)
async def metrics(request: Request, ctx: ContextDep) -> Response:
    if not token_allows(ctx.settings.metrics_token, request.headers.get("authorization")):
        raise AuthenticationError(
            "This route needs 'Authorization: Bearer <TOUCAN_METRICS_TOKEN>'.", code=ErrorCode.NOT_AUTHENTICATED
        )
    jobs = await run_in_threadpool(job_system_exposition, ctx.db, ctx.settings.job_system_stale_after)
    return Response(process_exposition() + jobs, media_type=CONTENT_TYPE)
