"""Local login: username + password → token, with the rate limit and account checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from toucan.auth import ratelimit
from toucan.auth.identity import Identity, load_identity
from toucan.auth.passwords import verify_password
from toucan.auth.tokens import issue_token
from toucan.db.engine import Database
from toucan.db.models import User
from toucan.errors import AuthenticationError, ErrorCode


@dataclass(frozen=True)
class LoginResult:
    token: str
    identity: Identity


class AccountState(Protocol):
    """What decides whether an account may be used: a `User` row or a token's identity row."""

    @property
    def disabled(self) -> bool: ...

    @property
    def expiration_date(self) -> datetime | None: ...


def check_account_usable(user: AccountState) -> None:
    """Raise when a disabled or expired account tries to log in or use a token."""
    if user.disabled:
        raise AuthenticationError(
            "This account is disabled. Ask an administrator to enable it.",
            code=ErrorCode.ACCOUNT_DISABLED,
        )
    if user.expiration_date is not None and user.expiration_date <= datetime.now(UTC):
        raise AuthenticationError(
            f"This account expired on {user.expiration_date.isoformat()}. Ask an administrator to extend it.",
            code=ErrorCode.ACCOUNT_EXPIRED,
        )


def verify_credentials(session: Session, username: str, password: str) -> User | None:
    """The user whose local password matches, else None (constant work either way)."""
    # No username holds NUL, and PostgreSQL cannot even compare text holding it.
    user = None if "\x00" in username else session.scalar(select(User).where(User.username == username))
    ok = verify_password(user.password_hash if user else None, password)
    return user if ok and user is not None else None


def check_password(db: Database, username: str, password: str, address: str, limits: ratelimit.Limits) -> User:
    """The user with this password, under the login limits of `address` (the client's).

    Raises RateLimited when the limits are used up, AuthenticationError for a wrong
    username or password (the failure is committed first, so it counts).
    """
    attempt = ratelimit.begin(db, username, address, limits)
    try:
        with db.session() as session:
            user = verify_credentials(session, username, password)
    except BaseException:
        ratelimit.abandon(db, attempt)
        raise
    ratelimit.settle(db, attempt, limits, succeeded=user is not None)
    if user is None:
        raise AuthenticationError("Wrong username or password.", code=ErrorCode.INVALID_CREDENTIALS)
    return user


def login(
    db: Database, username: str, password: str, address: str, token_ttl: timedelta, limits: ratelimit.Limits
) -> LoginResult:
    """Check the password under the login limits of `address`, then issue a token."""
    user = check_password(db, username, password, address, limits)
    with db.session() as session:
        user = session.merge(user)
        check_account_usable(user)
        token = issue_token(session, user, token_ttl)
        identity = load_identity(session, user)
    return LoginResult(token=token, identity=identity)
