"""Login limits: failed password checks per (username, client address), and per address.

A stranger's failures never block a username from another address, so nobody can lock the
admin out; one address trying many usernames meets the per-address limit.

Attempts are rows of the metadata database, so every worker and replica counts the same
ones. Each attempt is stored (pending) before its password is checked and answered in
arrival order, once the earlier attempts from its address have settled: a burst of
concurrent guesses over several processes gets exactly as many answers as one guess after
another would.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from toucan.db.engine import Database
from toucan.db.models import LoginAttempt
from toucan.errors import RateLimited

WINDOW = timedelta(minutes=1)
# A pending attempt this old belongs to a process that died while checking it: a failure.
ORPHANED = timedelta(seconds=30)
POLL_SECONDS = 0.01
KEY_LENGTH = 255  # the columns' size; longer usernames cannot exist anyway


@dataclass(frozen=True)
class Limits:
    """Failures allowed within WINDOW: per username from one address, and per address."""

    per_username: int
    per_address: int


@dataclass(frozen=True)
class Attempt:
    """A stored attempt, waiting for `settle`."""

    id: int
    username: str
    address: str


def begin(db: Database, username: str, address: str, limits: Limits) -> Attempt:
    """Store a pending attempt, or raise RateLimited at once when a limit is already reached."""
    username, address = _key(username), _key(address)
    now = datetime.now(UTC)
    with db.session() as session:
        session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - WINDOW))
        refusal = _refusal(session, username, address, limits, now, before_id=None)
        if refusal is None:
            row = LoginAttempt(username=username, address=address, pending=True, at=now)
            session.add(row)
            session.flush()
            return Attempt(id=row.id, username=username, address=address)
    raise refusal


def settle(db: Database, attempt: Attempt, limits: Limits, succeeded: bool) -> None:
    """Answer `attempt` in arrival order: RateLimited when earlier failures used up a limit
    (whatever the password was), else keep its failure or, on success, forget the failures
    of its username from its address."""
    _wait_for_earlier(db, attempt)
    now = datetime.now(UTC)
    with db.session() as session:
        refusal = _refusal(session, attempt.username, attempt.address, limits, now, before_id=attempt.id)
        if refusal is not None:
            session.execute(delete(LoginAttempt).where(LoginAttempt.id == attempt.id))
        elif succeeded:
            session.execute(
                delete(LoginAttempt).where(
                    LoginAttempt.address == attempt.address,
                    LoginAttempt.username == attempt.username,
                    LoginAttempt.id <= attempt.id,
                )
            )
        else:
            session.execute(update(LoginAttempt).where(LoginAttempt.id == attempt.id).values(pending=False))
    if refusal is not None:
        raise refusal


def _key(text: str) -> str:
    # PostgreSQL text cannot hold NUL; the replacement keeps one key per username.
    return text[:KEY_LENGTH].replace("\x00", "\ufffd")


def abandon(db: Database, attempt: Attempt) -> None:
    """Forget an attempt whose check failed for another reason than the password (an error)."""
    with db.session() as session:
        session.execute(delete(LoginAttempt).where(LoginAttempt.id == attempt.id))


def _wait_for_earlier(db: Database, attempt: Attempt) -> None:
    # Ends by itself: a pending attempt older than ORPHANED no longer counts as pending.
    while True:
        with db.session() as session:
            earlier = session.scalar(
                select(LoginAttempt.id)
                .where(
                    LoginAttempt.address == attempt.address,
                    LoginAttempt.id < attempt.id,
                    LoginAttempt.pending.is_(True),
                    LoginAttempt.at > datetime.now(UTC) - ORPHANED,
                )
                .limit(1)
            )
        if earlier is None:
            return
        time.sleep(POLL_SECONDS)


def _refusal(
    session: Session, username: str, address: str, limits: Limits, now: datetime, before_id: int | None
) -> RateLimited | None:
    """The error to answer when the failures (before `before_id`) reach a limit, else None."""
    failed: list[Any] = [
        LoginAttempt.address == address,
        LoginAttempt.at > now - WINDOW,
        or_(LoginAttempt.pending.is_(False), LoginAttempt.at <= now - ORPHANED),
    ]
    if before_id is not None:
        failed.append(LoginAttempt.id < before_id)
    refusals: list[tuple[int, str]] = []
    for where, limit, message in (
        ([*failed, LoginAttempt.username == username], limits.per_username, "for this username from your address"),
        (failed, limits.per_address, "from your address"),
    ):
        recent = session.scalars(
            select(LoginAttempt.at).where(*where).order_by(LoginAttempt.at.desc()).limit(limit)
        ).all()
        if len(recent) >= limit:
            # Allowed again when the oldest of the last `limit` failures leaves the window.
            refusals.append((max(1, math.ceil((recent[-1] + WINDOW - now).total_seconds())), message))
    if not refusals:
        return None
    wait, message = max(refusals)
    return RateLimited(f"Too many failed logins {message}. Try again in {wait} seconds.", details={"retry_after": wait})
