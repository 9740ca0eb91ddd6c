"""Opaque bearer tokens: random strings whose SHA-256 is stored, revocable at logout."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from toucan.auth.identity import RowReader, TokenIdentity, read_token_identity
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


def identity_for_token(reader: RowReader, raw: str) -> TokenIdentity | None:
    """The identity of a valid, unrevoked, unexpired token, read in one statement."""
    found = read_token_identity(reader, _digest(raw))
    if found is None or found.token_revoked or found.token_expires_at <= datetime.now(UTC):
        return None
    return found


def revoke_token(session: Session, raw: str) -> bool:
    result = session.execute(update(Token).where(Token.token_hash == _digest(raw)).values(revoked=True))
    return bool(getattr(result, "rowcount", 0))


def revoke_user_tokens(session: Session, user_id: int) -> None:
    session.execute(update(Token).where(Token.user_id == user_id).values(revoked=True))
