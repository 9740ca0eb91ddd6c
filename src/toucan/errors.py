"""Domain errors. The API turns each into a JSON `{"error": {"code", "message", "details"}}`.

Domain modules raise these; they never import the HTTP layer.
"""

from __future__ import annotations

from typing import Any


class ToucanError(Exception):
    """Base class: `status` is the HTTP status the API answers with."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: Any = None, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code


class ValidationError(ToucanError):
    """Input that does not have the expected shape; `details` says where."""

    status = 400
    code = "validation_error"


class AuthenticationError(ToucanError):
    status = 401
    code = "not_authenticated"


class PermissionDenied(ToucanError):
    status = 403
    code = "forbidden"


class NotFound(ToucanError):
    status = 404
    code = "not_found"


class Conflict(ToucanError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ToucanError):
    status = 413
    code = "payload_too_large"


class RateLimited(ToucanError):
    status = 429
    code = "rate_limited"


class QueryTimeout(ToucanError):
    status = 504
    code = "query_timeout"


class NotSupported(ToucanError):
    """A valid request for something this stack does not do (e.g. geographic steps)."""

    status = 400
    code = "not_supported"


class ServiceUnavailable(ToucanError):
    status = 503
    code = "service_unavailable"
