"""Log lines and request ids: `TOUCAN_LOG_FORMAT=json` writes one JSON object per line, each
carrying the id of the request it belongs to (also sent back in `X-Request-ID` and in error
bodies), so an operator goes from a user's error message to every line of that request."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
# An id a proxy or client sends is kept when it is this tame (it lands in log lines as is).
_GIVEN_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{8,128}$")
# Set by RequestIdMiddleware for the request's task; threads of the request inherit it.
_request_id: ContextVar[str | None] = ContextVar("toucan_request_id", default=None)
# Attributes every LogRecord has: the others were given with `extra=` and go into the JSON.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's copy of the message with terminal colours
}

access_log = logging.getLogger("toucan.access")


def current_request_id() -> str | None:
    """The id of the request being served, if any."""
    return _request_id.get()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, pid, request_id, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str, log_format: str) -> None:
    """Send every log line to stderr, as text or JSON (TOUCAN_LOG_FORMAT), at `level`.

    Servers' and Celery's loggers then go through the same handler, so a JSON log has no
    line of another shape."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    if log_format == "json":
        logging.captureWarnings(True)  # warnings.warn(...) as log lines, not raw text
        _keep_celery_off_logging()
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "gunicorn.error", "gunicorn.access", "celery"):
            logger = logging.getLogger(name)
            logger.handlers.clear()
            logger.propagate = True


def _keep_celery_off_logging() -> None:
    """Celery configures logging itself (its own line format) unless a receiver of its
    `setup_logging` signal does: this one leaves the configuration above in place."""
    from celery.signals import setup_logging

    setup_logging.connect(_logging_configured, weak=False)


def _logging_configured(**_: Any) -> None:
    return None


class RequestIdMiddleware:
    """Give each request an id (the caller's `X-Request-ID` when tame, else a new one), send it
    back in `X-Request-ID`, and, with `access_log`, write one line per request with its id.

    The id is not reset after the request: each request runs in its own task, and the error
    handler of the server (outside this middleware) still needs it for a 500's body."""

    def __init__(self, app: ASGIApp, access_log: bool = False) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        request_id = given if _GIVEN_ID.match(given) else uuid.uuid4().hex
        _request_id.set(request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.access_log:
                access_log.info(
                    "%s %s %s",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    },
                )
