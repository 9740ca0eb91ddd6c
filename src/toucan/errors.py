"""Domain errors. The API turns each into a JSON `{"error": {"code", "message", "details", "request_id"}}`.

Domain modules raise these; they never import the HTTP layer.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Every `error.code` the API can answer, with the usual HTTP status and what it means.

    docs/api.md lists them from here (`python -m toucan.reference_docs`); an error raised with
    a code not declared here does not type-check.
    """

    status: int
    meaning: str

    def __new__(cls, value: str, status: int, meaning: str) -> ErrorCode:
        member = str.__new__(cls, value)
        member._value_ = value
        member.status = status
        member.meaning = meaning
        return member

    # --- the request --------------------------------------------------------------------
    BAD_REQUEST = ("bad_request", 400, "The request is malformed (a header, a parameter); the message says which.")
    VALIDATION_ERROR = (
        "validation_error",
        400,
        "A field has the wrong shape or value; `details.errors` (or `details.field`) says where.",
    )
    INVALID_JSON = (
        "invalid_json",
        400,
        "The body (or a JSON document in it) is not valid JSON; the position is given.",
    )
    INVALID_CSON = ("invalid_cson", 400, "A CSON document does not parse; the line is given.")
    NOT_SUPPORTED = (
        "not_supported",
        400,
        "A valid request for something this stack does not do (geographic steps, MongoDB `custom` steps).",
    )
    MISSING_VARIABLE = ("missing_variable", 400, "A `{{ variable }}` of the request or config has no value.")
    TOO_DEEP = (
        "too_deep",
        400,
        "A body, config or data request is nested deeper than `TOUCAN_MAX_NESTING_DEPTH`; `details.path` says where.",
    )
    PAYLOAD_TOO_LARGE = ("payload_too_large", 413, "The body is larger than the setting named in the message allows.")
    METHOD_NOT_ALLOWED = ("method_not_allowed", 405, "The route exists, not with this HTTP method.")
    NOT_ACCEPTABLE = ("not_acceptable", 406, "The route cannot answer in the format the `Accept` header asks for.")
    UNSUPPORTED_MEDIA_TYPE = ("unsupported_media_type", 415, "The body's `Content-Type` is not one the route reads.")
    NOT_FOUND = ("not_found", 404, "No such route, app, domain, job, user or version.")
    CONFLICT = ("conflict", 409, "The request conflicts with the current state (a name taken, a version moved).")
    # --- who is asking ------------------------------------------------------------------
    NOT_AUTHENTICATED = ("not_authenticated", 401, "No valid credentials: log in, or send a token.")
    MISSING_AUTHORIZATION = (
        "missing_authorization",
        401,
        "The route needs an `Authorization` header and none arrived (a proxy may strip it).",
    )
    INVALID_AUTHORIZATION = ("invalid_authorization", 401, "The `Authorization` header is neither Bearer nor Basic.")
    INVALID_TOKEN = ("invalid_token", 401, "The token is unknown, expired or revoked.")
    INVALID_CREDENTIALS = ("invalid_credentials", 401, "Wrong username or password.")
    ACCOUNT_DISABLED = ("account_disabled", 401, "The account is disabled by an administrator.")
    ACCOUNT_EXPIRED = ("account_expired", 401, "The account's expiry date has passed.")
    LOCAL_LOGIN_DISABLED = (
        "local_login_disabled",
        403,
        "Password login is off for this user or instance (identity providers only).",
    )
    FORBIDDEN = ("forbidden", 403, "The caller lacks the privilege or role the message names.")
    RATE_LIMITED = ("rate_limited", 429, "Too many attempts; `Retry-After` says when to try again.")
    # --- apps, configs and data ---------------------------------------------------------
    MISPLACED_SECRET = (
        "misplaced_secret",
        400,
        "`{{ secrets.name }}` outside a connector credential field; `details.path` names the field.",
    )
    INVALID_DOMAIN_NAME = ("invalid_domain_name", 400, "A domain name breaks the rule: letters, digits, `_`, `-`.")
    INVALID_CUSTOM_SQL = (
        "invalid_custom_sql",
        400,
        "A `customsql` step reads something other than its CTEs, `##PREVIOUS_STEP##` or the app's domains.",
    )
    OUTSIDE_REACH = (
        "outside_reach",
        403,
        "A query tried to read a file outside its app's data and was stopped (docs/security.md).",
    )
    QUERY_ERROR = ("query_error", 400, "DuckDB refused the compiled query (a missing column, a bad cast).")
    QUERY_TIMEOUT = ("query_timeout", 504, "The query ran longer than `TOUCAN_QUERY_TIMEOUT`.")
    INVALID_FILE = (
        "invalid_file",
        400,
        "An uploaded or downloaded file cannot be read as its type; the line is given.",
    )
    TOO_MANY_CELLS = (
        "too_many_cells",
        413,
        "An Excel sheet holds more cells than `TOUCAN_UPLOAD_MAX_CELLS`; `details.sheet` names it.",
    )
    UPLOAD_CONFLICT = (
        "upload_conflict",
        409,
        "Another upload of the same file name was stored meanwhile: upload again.",
    )
    OFFSET_MISMATCH = ("offset_mismatch", 409, "A resumable upload's chunk does not start where the upload stands.")
    UPLOAD_INCOMPLETE = ("upload_incomplete", 409, "A resumable upload was finished before all its bytes arrived.")
    INVALID_AUGMENT = ("invalid_augment", 400, "augment.py does not parse or does not define what is called.")
    LEGACY_AUGMENT_REFUSED = (
        "legacy_augment_refused",
        400,
        "augment.py defines the legacy `augment(dfs)` and the app is not in `TOUCAN_OLD_AUGMENT_WHITELIST`.",
    )
    CONFIG_CONFLICT = (
        "config_conflict",
        409,
        "Staging changed since the version sent (`If-Match`, `?version=`, a release's `staging_versions`) was read; "
        "`details` names what changed, by whom and when.",
    )
    RELEASE_NOT_KEPT = (
        "release_not_kept",
        409,
        "A rollback to a release whose design or data is no longer kept (older than the last 10 releases).",
    )
    # --- connectors ---------------------------------------------------------------------
    CONNECTOR_ERROR = ("connector_error", 502, "The data provider failed: unreachable, login refused, or an error.")
    CONNECTOR_TIMEOUT = ("connector_timeout", 504, "The data provider did not answer in time.")
    SOURCE_QUERY_FAILED = ("source_query_failed", 400, "The data provider refused what the data source asks for.")
    MISSING_CONNECTOR_DRIVER = (
        "missing_connector_driver",
        400,
        "The connector's driver is not installed; the message gives the `toucan-ctl install_connectors` line.",
    )
    UNKNOWN_CONNECTOR_TYPE = ("unknown_connector_type", 400, "No connector has this `type`; the known ones are listed.")
    UNKNOWN_CONNECTOR_EXTRA = ("unknown_connector_extra", 400, "No connector extra has this name.")
    INSTALL_FAILED = ("install_failed", 500, "Installing a connector extra failed (`toucan-ctl install_connectors`).")
    HOST_NOT_ALLOWED = (
        "host_not_allowed",
        400,
        "The URL's host is private or not allowed (`TOUCAN_CONNECTORS_ALLOWED_HOSTS`, SSRF guard).",
    )
    INVALID_URL = ("invalid_url", 400, "A URL does not parse or has no host.")
    PATH_NOT_ALLOWED = ("path_not_allowed", 400, "A file-based database path lies outside the allowed folders.")
    INVALID_METADATA = ("invalid_metadata", 400, "An identity provider's SAML metadata cannot be read.")
    # --- single sign-on (in the login page's `#sso_error=` fragment, and in the logs) ------
    IDP_ERROR = ("idp_error", 401, "The identity provider answered with an error, or could not be reached.")
    IDP_REFUSED = ("idp_refused", 401, "The identity provider refused the login (the user cancelled or lacks access).")
    INVALID_RESPONSE = ("invalid_response", 401, "The SAML response or OIDC callback is malformed or incomplete.")
    INVALID_ID_TOKEN = ("invalid_id_token", 401, "The OIDC ID token's signature, audience, nonce or dates are wrong.")
    WRONG_ISSUER = ("wrong_issuer", 401, "The answer comes from another issuer than the provider's configured one.")
    UNSIGNED_RESPONSE = ("unsigned_response", 401, "The SAML response or assertion is not signed.")
    TAMPERED_RESPONSE = ("tampered_response", 401, "The SAML response's signature does not match its content.")
    REPLAYED_RESPONSE = ("replayed_response", 401, "This SAML response was already used.")
    CLOCK_SKEW = ("clock_skew", 401, "The assertion's validity window does not include now (check both clocks).")
    USERINFO_INVALID = ("userinfo_invalid", 401, "The OIDC userinfo answer is not a JSON object of claims.")
    IDP_UNREACHABLE = ("idp_unreachable", 401, "The identity provider's endpoints could not be reached.")
    INVALID_CLIENT = ("invalid_client", 401, "The identity provider refused the client id or secret.")
    REDIRECT_URI_MISMATCH = (
        "redirect_uri_mismatch",
        401,
        "The identity provider does not know the callback URL (`/auth_callback` behind the public URL).",
    )
    STATE_MISMATCH = ("state_mismatch", 401, "The login's state does not match this browser's: start the login again.")
    UNKNOWN_REQUEST = ("unknown_request", 401, "No login was started here for this answer, or it expired.")
    UNKNOWN_USER = ("unknown_user", 401, "No user has this name and the provider does not create users.")
    WRONG_AUDIENCE = ("wrong_audience", 401, "The assertion or token is meant for another service provider or client.")
    WRONG_CERTIFICATE = (
        "wrong_certificate",
        401,
        "The response is signed with another certificate than the configured one.",
    )
    MAPPING_FAILED = ("mapping_failed", 401, "The provider's attribute mapping (jq) failed or gave no username.")
    # --- backups ----------------------------------------------------------------------
    BACKUP_CORRUPTED = (
        "backup_corrupted",
        400,
        "A backup file does not match its manifest (size, SHA-256) or cannot be read: nothing was restored.",
    )
    BACKUP_TOO_NEW = (
        "backup_too_new",
        409,
        "The backup was made by a newer version (major version, schema or format): upgrade this stack first.",
    )
    # --- the server ---------------------------------------------------------------------
    SERVICE_UNAVAILABLE = ("service_unavailable", 503, "A part the request needs is down (database, job system).")
    INTERNAL_ERROR = ("internal_error", 500, "A bug: the server's log has the details (never sent to the client).")
    ERROR = ("error", 0, "Another HTTP error; the status says which.")


class ToucanError(Exception):
    """Base class: `status` is the HTTP status the API answers with."""

    status = 400
    code = ErrorCode.BAD_REQUEST

    def __init__(self, message: str, details: Any = None, *, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code


class ValidationError(ToucanError):
    """Input that does not have the expected shape; `details` says where."""

    status = 400
    code = ErrorCode.VALIDATION_ERROR


class AuthenticationError(ToucanError):
    status = 401
    code = ErrorCode.NOT_AUTHENTICATED


class PermissionDenied(ToucanError):
    status = 403
    code = ErrorCode.FORBIDDEN


class NotFound(ToucanError):
    status = 404
    code = ErrorCode.NOT_FOUND


class Conflict(ToucanError):
    status = 409
    code = ErrorCode.CONFLICT


class PayloadTooLarge(ToucanError):
    status = 413
    code = ErrorCode.PAYLOAD_TOO_LARGE


class RateLimited(ToucanError):
    status = 429
    code = ErrorCode.RATE_LIMITED


class QueryTimeout(ToucanError):
    status = 504
    code = ErrorCode.QUERY_TIMEOUT


class NotSupported(ToucanError):
    """A valid request for something this stack does not do (e.g. geographic steps)."""

    status = 400
    code = ErrorCode.NOT_SUPPORTED


class ServiceUnavailable(ToucanError):
    status = 503
    code = ErrorCode.SERVICE_UNAVAILABLE
