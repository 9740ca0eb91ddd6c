"""Application factories: the API alone (production) and the embedded stack."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from toucan import __version__
from toucan.api import (
    auth,
    backups,
    charts,
    configs,
    data,
    data_in,
    exports,
    instance_settings,
    metrics,
    permissions,
    pipeline_steps,
    releases,
    reports,
    root,
    small_apps,
    sso,
    users,
)
from toucan.api.deps import Context
from toucan.api.errors import install_error_handlers
from toucan.api.middleware import (
    BodyLimitMiddleware,
    ForwardedMiddleware,
    JsonBodyMiddleware,
    SecurityHeadersMiddleware,
)
from toucan.bootstrap import ensure_schema
from toucan.data.service import build_data_service
from toucan.db.engine import Database
from toucan.etl.sources import SourceFiles
from toucan.frontend_files import frontend_app, no_frontend_response
from toucan.jobs.queue import JobQueue
from toucan.logs import RequestIdMiddleware, configure_logging
from toucan.metrics import RequestMetricsMiddleware
from toucan.security_headers import api_headers, web_app_headers
from toucan.settings import Settings

API_PREFIX = "/_api"
log = logging.getLogger("toucan")


def is_upload(method: str, path: str) -> bool:
    """File uploads stream to disk under their own limits (TOUCAN_UPLOAD_MAX_BYTES; a backup's
    .tar, the disk's free space)."""
    segments = path.rstrip("/").split("/")
    return (
        (method == "PUT" and len(segments) >= 3 and segments[-2] == "domain")
        or (method == "POST" and path.rstrip("/").endswith("/data/sources"))
        or (method == "PATCH" and len(segments) >= 3 and segments[-2] == "uploads")
        or (method == "POST" and path.rstrip("/").endswith("/restore"))
    )


def create_api(settings: Settings, db: Database | None = None) -> FastAPI:
    """The REST API with every route at the root (what sits behind `https://backend/`)."""
    database = db or Database.from_settings(settings)
    ensure_schema(database, settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        api.state.ctx.data.close()
        if db is None:
            database.dispose()

    api = FastAPI(
        title="Toucan stack API",
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    api.state.ctx = Context(settings=settings, db=database, data=build_data_service(settings, database))
    api.state.jobs = JobQueue(settings, database)
    api.state.sources = SourceFiles(
        database,
        settings.data_dir,
        settings.upload_max_bytes,
        memory_mb=settings.duckdb_memory_mb,
        max_cells=settings.upload_max_cells,
    )
    install_error_handlers(api)
    api.include_router(data.query_router)  # first: the most frequent requests
    for module in (
        root,
        auth,
        users,
        small_apps,
        configs,
        data,
        data_in,
        backups,
        releases,
        instance_settings,
        pipeline_steps,
        permissions,
        charts,
        sso,
        exports,
        reports,
    ):
        api.include_router(module.router)
    if settings.metrics_enabled:
        api.include_router(metrics.router)
    if settings.cors_origins:
        api.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            # Upload-Offset: chunked uploads; If-Match / X-Config-Version: config version checks
            allow_headers=["Authorization", "Content-Type", "Upload-Offset", "If-Match"],
            expose_headers=["X-Config-Version", "X-Toucan-Rows", "X-Toucan-Truncated", "Content-Disposition"],
            max_age=600,
        )
    # Inside the body limit, which has read the body whole (and refused it when too large).
    api.add_middleware(JsonBodyMiddleware, max_depth=settings.max_nesting_depth, exempt=is_upload)
    api.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, exempt=is_upload)
    # Inside the proxy check, which copies the scope: this one sees the route the router matched.
    api.add_middleware(RequestMetricsMiddleware)
    api.add_middleware(ForwardedMiddleware, trusted=settings.forwarded_allow_ips)
    api.add_middleware(SecurityHeadersMiddleware, headers_for=api_headers)
    # Outermost: every answer and every log line of the request carry its id.
    api.add_middleware(RequestIdMiddleware, access_log=settings.log_format == "json")
    return api


def create_embedded_app(settings: Settings, db: Database | None = None) -> Starlette:
    """The embedded stack: the API under `/_api`, the built frontend at `/`."""
    api = create_api(settings, db)
    frontend = frontend_app(settings.resolved_frontend_dir())

    async def redirect_api(_request: Request) -> Response:
        return Response(status_code=307, headers={"Location": f"{API_PREFIX}/"})

    routes = [Route(API_PREFIX, redirect_api), Mount(API_PREFIX, app=api)]
    if frontend is not None:
        routes.append(Mount("/", app=frontend))
    else:

        async def missing(_request: Request) -> Response:
            return no_frontend_response()

        routes.append(Route("/{path:path}", missing))
    # The web app's pages; the API's answers under /_api carry their own (never overwritten).
    page_headers = web_app_headers(settings.frame_ancestors)
    headers = Middleware(SecurityHeadersMiddleware, headers_for=lambda _path: page_headers)
    return Starlette(routes=routes, middleware=[headers], lifespan=api.router.lifespan_context)


def create_production_app() -> FastAPI:
    """Gunicorn's entry point (`toucan.app:create_production_app()`); settings from env."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_api(settings)
