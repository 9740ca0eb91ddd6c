"""Every error as JSON `{"error": {"code", "message", "details", "request_id"}}`, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from toucan.errors import ErrorCode, ToucanError
from toucan.formats import error_path
from toucan.logs import REQUEST_ID_HEADER, current_request_id

log = logging.getLogger("toucan.api")

_HTTP_CODES = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.NOT_AUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    406: ErrorCode.NOT_ACCEPTABLE,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
}


def error_response(
    status: int, code: ErrorCode, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    request_id = current_request_id()
    body = {"error": {"code": code, "message": message, "details": details, "request_id": request_id}}
    if request_id:
        # A 500 is answered outside RequestIdMiddleware: its header is set here.
        headers = {**(headers or {}), REQUEST_ID_HEADER: request_id}
    return JSONResponse(body, status_code=status, headers=headers)


def _toucan_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ToucanError)
    headers = {}
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="toucan"'
    if exc.status == 429 and isinstance(exc.details, dict) and "retry_after" in exc.details:
        headers["Retry-After"] = str(exc.details["retry_after"])
    return error_response(exc.status, exc.code, exc.message, exc.details, headers)


def _request_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        where = loc[0] if loc else "body"
        path = error_path(tuple(loc[1:])) if len(loc) > 1 else "(root)"
        if err.get("type") == "json_invalid":
            ctx = err.get("ctx") or {}
            return error_response(
                400,
                ErrorCode.INVALID_JSON,
                f"The request body is not valid JSON: {ctx.get('error', 'syntax error')}.",
                {"position": loc[1] if len(loc) > 1 else None},
            )
        errors.append({"in": where, "path": path, "message": err.get("msg", "invalid")})
    first = errors[0] if errors else {"in": "body", "path": "(root)", "message": "invalid"}
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return error_response(
        400,
        ErrorCode.VALIDATION_ERROR,
        f"Invalid {first['in']} at {first['path']}: {first['message']}{more}",
        {"errors": errors},
    )


def _http_exception(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, ErrorCode.ERROR)
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 404 and message == "Not Found":
        message = "No such route. The API's routes are listed at /openapi.json."
    return error_response(exc.status_code, code, message, None, dict(exc.headers or {}))


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Logged with the trace for operators; the client only gets a reference.
    # exc_info given: the handler runs outside the `except` block, where log.exception
    # would find no exception and log "NoneType: None".
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        500, ErrorCode.INTERNAL_ERROR, "Something went wrong on the server; the error is in its logs."
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ToucanError, _toucan_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(Exception, _unexpected)
