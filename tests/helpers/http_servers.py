"""Small HTTP servers in a thread of the test: the API, a frontend docroot, a proxy."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from tests.helpers import free_port


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """Serve `app` on a free local port; yield its base URL (`http://127.0.0.1:PORT`)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def docroot_app(directory: Path) -> Starlette:
    """A frontend's docroot served as a static web server would."""
    return Starlette(routes=[Mount("/", app=StaticFiles(directory=directory))])


def proxy_app(upstream: str, drop_headers: Iterable[str] = ()) -> Starlette:
    """A reverse proxy to `upstream` that forwards everything but `drop_headers` (lower case)."""
    dropped = {"host", "content-length", *drop_headers}

    async def forward(request: Request) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in dropped}
        async with httpx.AsyncClient() as client:
            answer = await client.request(
                request.method,
                f"{upstream}/{request.path_params['path']}",
                params=request.query_params,
                headers=headers,
                content=await request.body(),
            )
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in ("content-length", "content-encoding")}
        return Response(answer.content, status_code=answer.status_code, headers=kept)

    return Starlette(
        routes=[Route("/{path:path}", forward, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])]
    )
