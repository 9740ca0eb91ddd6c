"""Login rate limit: N failures for one username within a minute block further attempts.

Failures are rows in the metadata database, so every worker and replica sees them.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from toucan.db.models import LoginFailure
from toucan.errors import RateLimited

WINDOW = timedelta(minutes=1)


def check_allowed(session: Session, username: str, max_failures: int) -> None:
    """Raise RateLimited (with the wait in seconds) when `username` failed too often."""
    now = datetime.now(UTC)
    recent = session.scalars(
        select(LoginFailure.at)
        .where(LoginFailure.username == username, LoginFailure.at > now - WINDOW)
        .order_by(LoginFailure.at.desc())
        .limit(max_failures)
    ).all()
    if len(recent) < max_failures:
        return
    # Allowed again when the oldest of the last N failures leaves the window.
    wait = max(1, math.ceil((recent[-1] + WINDOW - now).total_seconds()))
    raise RateLimited(
        f"Too many failed logins for this username. Try again in {wait} seconds.",
        details={"retry_after": wait},
    )


def record_failure(session: Session, username: str) -> None:
    now = datetime.now(UTC)
    session.add(LoginFailure(username=username, at=now))
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - WINDOW))


def clear_failures(session: Session, username: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))
