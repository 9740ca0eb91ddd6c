"""`GET /` (versions), `/health` and `/ready`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from toucan.api.answers import Health, Readiness, VersionInfo
from toucan.api.deps import ContextDep
from toucan.build_info import version_info
from toucan.health import readiness

router = APIRouter(tags=["status"])


@router.get("/", response_model=VersionInfo, summary="Backend version and build")
def root() -> dict[str, Any]:
    return version_info()


@router.get("/health", response_model=Health, summary="Alive")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    responses={200: {"model": Readiness}, 503: {"model": Readiness}},
    summary="Database, Redis, storage and the job system each checked; 503 when one fails",
)
async def ready(ctx: ContextDep) -> JSONResponse:
    ok, checks = await run_in_threadpool(readiness, ctx.settings, ctx.db)
    return JSONResponse({"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503)
