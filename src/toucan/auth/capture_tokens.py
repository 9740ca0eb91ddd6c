"""Capture tokens: what the screenshot browser authenticates with.

A capture token is minted by the worker for one capture and is good for that capture only:
one user (the person who asked for the export or owns the report, so their row filters
apply), one app, one stage, one page (`home` or `story:<id>`), for a few minutes. It is
signed with the stack's secret key (HMAC-SHA256) and never stored: it is not a user's
session and cannot become one, and it is never an admin's token used on somebody's behalf.

What it may call is a short list of read routes of its app (`CAPTURE_ROUTES`): the page's
own content and the data requests of its charts, at its stage. Anything else (another
app, another page, a write route, `/me`, a login) answers 403. A data request must moreover
be one the captured page sends for the capture's variables (carried in the token): a chart's
or KPI's request of that page, or the value list of one of its filters
(toucan.screenshots.pages.check_capture_data); another story's data or an ad-hoc query
answers 403.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from toucan.errors import ErrorCode, PermissionDenied

CAPTURE_TOKEN_PREFIX = "tcc_"
# (method, route template): the routes a capture token may call, on its own app only.
CAPTURE_ROUTES = frozenset({("GET", "/{app}/capture"), ("POST", "/{app}/data")})
_PURPOSE = b"toucan-capture-token-v1"


@dataclass(frozen=True)
class CaptureScope:
    """What one capture token allows: whose eyes, which app, stage and page, until when."""

    user_id: int
    app: str
    stage: str
    page: str
    expires_at: float
    # The capture's variables (the requester's filter values): the data requests must use them.
    variables: dict[str, Any] = field(default_factory=dict)

    def as_payload(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "u": self.user_id,
            "a": self.app,
            "s": self.stage,
            "p": self.page,
            "e": self.expires_at,
        }
        if self.variables:
            payload["v"] = self.variables
        return payload


def _key(secret_key: str) -> bytes:
    # Derived: a capture token's signature says nothing about the key other tokens use.
    return hmac.new(secret_key.encode(), _PURPOSE, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_capture_token(
    secret_key: str,
    *,
    user_id: int,
    app: str,
    stage: str,
    page: str,
    ttl: float,
    variables: Mapping[str, Any] | None = None,
) -> str:
    """A token for one capture of `page` of `app` at `stage` with `variables`, as `user_id`
    sees it, for `ttl` seconds."""
    scope = CaptureScope(user_id, app, stage, page, round(time.time() + ttl, 3), dict(variables or {}))
    body = json.dumps({**scope.as_payload(), "n": secrets.token_urlsafe(9)}, separators=(",", ":")).encode()
    signature = hmac.new(_key(secret_key), body, hashlib.sha256).digest()
    return f"{CAPTURE_TOKEN_PREFIX}{_b64(body)}.{_b64(signature)}"


def is_capture_token(raw: str) -> bool:
    return raw.startswith(CAPTURE_TOKEN_PREFIX)


def read_capture_token(secret_key: str, raw: str, now: float | None = None) -> CaptureScope | None:
    """The scope of a well-signed, unexpired capture token; None otherwise."""
    if not is_capture_token(raw):
        return None
    body_text, _, signature_text = raw[len(CAPTURE_TOKEN_PREFIX) :].partition(".")
    try:
        body, signature = _unb64(body_text), _unb64(signature_text)
    except (binascii.Error, ValueError):
        return None
    if not hmac.compare_digest(signature, hmac.new(_key(secret_key), body, hashlib.sha256).digest()):
        return None
    try:
        payload = json.loads(body)
        variables = payload.get("v", {})
        if not isinstance(variables, dict):
            return None
        scope = CaptureScope(
            int(payload["u"]),
            str(payload["a"]),
            str(payload["s"]),
            str(payload["p"]),
            float(payload["e"]),
            variables,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if scope.expires_at <= (time.time() if now is None else now):
        return None
    return scope


def check_capture_request(
    scope: CaptureScope, method: str, route: str | None, path_params: Mapping[str, str], query: Mapping[str, str]
) -> None:
    """Refuse (403) a request a capture token does not cover: another route, app, stage or page."""
    where = {"route": route, "method": method}
    if (method.upper(), route) not in CAPTURE_ROUTES:
        raise PermissionDenied(
            "A capture token only reads the page it was made for; this route is not one it may call.",
            details=where,
            code=ErrorCode.FORBIDDEN,
        )
    if path_params.get("app") != scope.app:
        raise PermissionDenied(
            "This capture token was made for another app.", details={**where, "app": path_params.get("app")}
        )
    if query.get("stage", "production") != scope.stage:
        raise PermissionDenied(
            "This capture token was made for another stage.", details={**where, "stage": query.get("stage")}
        )
    if route == "/{app}/capture" and query.get("page", "home") != scope.page:
        raise PermissionDenied(
            "This capture token was made for another page.", details={**where, "page": query.get("page")}
        )
