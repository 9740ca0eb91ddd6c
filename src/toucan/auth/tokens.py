"""Opaque bearer tokens: random strings whose SHA-256 is stored, revocable at logout."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from toucan.db.models import Token, User

TOKEN_PREFIX = "tct_"


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(session: Session, user: User, ttl: timedelta) -> str:
    """Create a token for `user`; the raw value is returned once and never stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    session.add(Token(token_hash=_digest(raw), user_id=user.id, created_at=now, expires_at=now + ttl))
    # Expired tokens are useless; drop this user's while we are here.
    session.execute(delete(Token).where(Token.user_id == user.id, Token.expires_at < now))
    return raw


def user_for_token(session: Session, raw: str) -> User | None:
    """The user a valid, unrevoked, unexpired token belongs to."""
    token = session.scalar(select(Token).where(Token.token_hash == _digest(raw)))
    if token is None or token.revoked or token.expires_at <= datetime.now(UTC):
        return None
    return session.get(User, token.user_id)


def revoke_token(session: Session, raw: str) -> bool:
    result = session.execute(update(Token).where(Token.token_hash == _digest(raw)).values(revoked=True))
    return bool(getattr(result, "rowcount", 0))


def revoke_user_tokens(session: Session, user_id: int) -> None:
    session.execute(update(Token).where(Token.user_id == user_id).values(revoked=True))
