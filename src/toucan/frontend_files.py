"""Serving the built frontend (static SPA) from the embedded stack."""

from __future__ import annotations

from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from toucan.errors import ErrorCode

# Operators edit these at run time (FAQ): browsers must always re-read them.
RUNTIME_CONFIG_FILES = frozenset({"scripts/tc-params.js", "embed-params.json", "tucana-version.txt", "index.html"})
IMMUTABLE = "public, max-age=31536000, immutable"


class FrontendFiles(StaticFiles):
    """Static files with cache headers, and index.html for client-side routes."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or "." in Path(path).name:
                raise
            response = await super().get_response("index.html", scope)
            path = "index.html"
        if response.status_code == 404 and "." not in Path(path).name:
            response = await super().get_response("index.html", scope)
            path = "index.html"
        normalized = path.lstrip("./") or "index.html"
        if normalized in RUNTIME_CONFIG_FILES or normalized in ("", "."):
            response.headers["Cache-Control"] = "no-cache"
        elif normalized.startswith("assets/"):
            response.headers["Cache-Control"] = IMMUTABLE
        return response


def frontend_app(directory: Path | None) -> StaticFiles | None:
    if directory is None or not (directory / "index.html").exists():
        return None
    return FrontendFiles(directory=directory, html=True)


def no_frontend_response() -> Response:
    # The API's error shape, so a client reading `error.message` reads this one too.
    message = (
        "The frontend is not built. Run `make run` (it builds frontend/dist), "
        "or point TOUCAN_FRONTEND_DIR at a built frontend. The API is at /_api/."
    )
    return JSONResponse(
        {"error": {"code": ErrorCode.NOT_FOUND.value, "message": message, "details": None}},
        status_code=ErrorCode.NOT_FOUND.status,
    )
