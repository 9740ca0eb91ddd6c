"""Request dependencies: the stack's context and the caller's identity."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from toucan.apps.small_apps import get_app_for
from toucan.auth import ratelimit
from toucan.auth.capture_tokens import check_capture_request, is_capture_token, read_capture_token
from toucan.auth.identity import Identity, load_identity
from toucan.auth.local_login import check_password_login_allowed
from toucan.auth.login import check_account_usable, check_password
from toucan.auth.roles import AppPrivilege
from toucan.auth.tokens import identity_for_token
from toucan.data.reads import RequestReads
from toucan.data.service import DataService
from toucan.db.engine import Database
from toucan.db.models import User
from toucan.errors import AuthenticationError, ErrorCode, PermissionDenied
from toucan.settings import Settings

MISSING_AUTHORIZATION = (
    "This request has no Authorization header. Log in first and send "
    "'Authorization: Bearer <token>'. If you did, a proxy between your browser and the "
    "backend may be stripping the Authorization header: ask your IT team to let it through."
)


@dataclass
class Context:
    """What every request handler may use, built once per process by the app factory."""

    settings: Settings
    db: Database
    data: DataService

    @property
    def reads(self) -> RequestReads:
        return self.data.reads

    @property
    def token_ttl(self) -> timedelta:
        return timedelta(hours=self.settings.token_ttl_hours)

    @property
    def login_limits(self) -> ratelimit.Limits:
        return ratelimit.Limits(
            per_username=self.settings.login_max_failures,
            per_address=self.settings.login_max_failures_per_address,
        )


async def get_context(request: Request) -> Context:
    # async: FastAPI would run a plain function in the threadpool, on every request.
    ctx: Context = request.app.state.ctx
    return ctx


ContextDep = Annotated[Context, Depends(get_context)]


def client_address(request: Request) -> str:
    """The client's address: the TCP peer, or X-Forwarded-For when the peer is a trusted
    proxy (ForwardedMiddleware rewrote it then)."""
    return request.client.host if request.client else ""


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _basic_identity(ctx: Context, value: str, address: str) -> Identity:
    try:
        username, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationError("Malformed Basic credentials.", code=ErrorCode.INVALID_CREDENTIALS) from None
    if not sep:
        raise AuthenticationError("Malformed Basic credentials.", code=ErrorCode.INVALID_CREDENTIALS)
    user = check_password(ctx.db, username, password, address, ctx.login_limits)
    with ctx.db.session() as session:
        user = session.merge(user)
        check_account_usable(user)
        identity = load_identity(session, user)
    check_password_login_allowed(ctx.db, identity)
    return identity


def _bearer_identity(ctx: Context, raw: str) -> Identity:
    # The primary, not the read replica: a token issued a moment ago must work at once.
    found = identity_for_token(ctx.reads, raw)
    if found is None:
        raise AuthenticationError(
            "This token is invalid, expired or revoked. Log in again.", code=ErrorCode.INVALID_TOKEN
        )
    check_account_usable(found)
    return found.identity


def _capture_identity(ctx: Context, raw: str, request: Request) -> Identity:
    """The identity behind a capture token (auth/capture_tokens.py): its user, on its one
    app and page only; any other route, app, stage or page answers 403."""
    scope = read_capture_token(ctx.settings.resolved_secret_key(), raw)
    if scope is None:
        raise AuthenticationError(
            "This capture token is invalid or expired: each capture gets its own, good for a few minutes.",
            code=ErrorCode.INVALID_TOKEN,
        )
    route = request.scope.get("route")
    # The data route checks its body against the page (toucan.screenshots.pages.check_capture_data).
    request.state.capture_scope = scope
    check_capture_request(
        scope, request.method, getattr(route, "path", None), request.path_params, request.query_params
    )
    with ctx.db.readonly_session() as session:
        user = session.get(User, scope.user_id)
        if user is None:
            raise AuthenticationError("This capture token's user no longer exists.", code=ErrorCode.INVALID_TOKEN)
        check_account_usable(user)
        identity = load_identity(session, user)
    # Only the app it was made for, whatever else its user may reach.
    return Identity(
        user_id=identity.user_id,
        username=identity.username,
        role=identity.role,
        groups=identity.groups,
        privileges={scope.app: identity.privileges.get(scope.app, frozenset())},
        attributes=identity.attributes,
    )


async def current_identity(request: Request, ctx: ContextDep) -> Identity:
    """The authenticated caller: Bearer token, or HTTP Basic for scripts.

    A token costs one indexed read on every request, so a revocation counts at once; it
    runs on the event loop (see data/reads.py). Basic credentials need a password hash:
    in the threadpool.
    """
    header = request.headers.get("authorization")
    if not header:
        raise AuthenticationError(MISSING_AUTHORIZATION, code=ErrorCode.MISSING_AUTHORIZATION)
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        return await run_in_threadpool(_basic_identity, ctx, value.strip(), client_address(request))
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthenticationError(
            "The Authorization header must be 'Bearer <token>' or 'Basic <credentials>'.",
            code=ErrorCode.INVALID_AUTHORIZATION,
        )
    if is_capture_token(value.strip()):
        return await run_in_threadpool(_capture_identity, ctx, value.strip(), request)
    return _bearer_identity(ctx, value.strip())


IdentityDep = Annotated[Identity, Depends(current_identity)]


def require_app(ctx: Context, identity: Identity, app: str, privilege: AppPrivilege) -> None:
    """The one check of "the caller holds `privilege` on `app`" for the routes (404 when the
    caller may not even view the app, 403 when it may but lacks `privilege`); the data
    service checks the same rule (`check_app_access`) for its own callers."""
    with ctx.db.readonly_session() as session:
        get_app_for(session, identity, app, privilege)


@dataclass(frozen=True)
class AppAccess:
    """The caller on the route's `/{app}`, for routes whose privilege depends on the request
    (the stage read, the config kind): `require(privilege)` checks it."""

    ctx: Context
    identity: Identity
    app: str

    def require(self, privilege: AppPrivilege) -> Identity:
        require_app(self.ctx, self.identity, self.app, privilege)
        return self.identity


async def app_access(app: str, ctx: ContextDep, identity: IdentityDep) -> AppAccess:
    return AppAccess(ctx, identity, app)


def app_privilege(privilege: AppPrivilege) -> Callable[..., Awaitable[Identity]]:
    """The dependency of a `/{app}/…` route that needs `privilege`: the caller, checked before
    the route reads its body."""

    async def checked(app: str, ctx: ContextDep, identity: IdentityDep) -> Identity:
        await run_in_threadpool(require_app, ctx, identity, app, privilege)
        return identity

    return checked


AppAccessDep = Annotated[AppAccess, Depends(app_access)]
ContributorDep = Annotated[Identity, Depends(app_privilege(AppPrivilege.CONTRIBUTE))]


def admin_identity(identity: IdentityDep) -> Identity:
    if not identity.is_admin:
        raise PermissionDenied("This needs an administrator.")
    return identity


AdminDep = Annotated[Identity, Depends(admin_identity)]


def super_admin_identity(identity: IdentityDep) -> Identity:
    if not identity.is_super_admin:
        raise PermissionDenied("Only a super admin reads or changes the instance settings.")
    return identity


SuperAdminDep = Annotated[Identity, Depends(super_admin_identity)]
