"""SQLAlchemy models of the metadata database. Alembic migrations follow these."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class TZDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone: it is UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="USER")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    expiration_date: Mapped[datetime | None] = mapped_column(TZDateTime())
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    provider: Mapped[str] = mapped_column(String(100), default="local")
    # The interface language the user chose (auth/users.py LOCALES); None: their browser's.
    locale: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow, onupdate=utcnow)

    groups: Mapped[list[Group]] = relationship(secondary="user_groups", back_populates="users", order_by="Group.name")


class Group(Base):
    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)

    users: Mapped[list[User]] = relationship(secondary="user_groups", back_populates="groups")


class UserGroup(Base):
    __tablename__ = "user_groups"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)


class Privilege(Base):
    """One privilege (`view`, `validate`, `contribute`) on one app for a user or a group."""

    __tablename__ = "privileges"
    __table_args__ = (
        UniqueConstraint("user_id", "group_id", "app_id", "privilege", name="uq_privilege"),
        Index("ix_privileges_app", "app_id"),
        # Group privileges are read on every request (the caller's identity).
        Index("ix_privileges_group", "group_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    app_id: Mapped[str] = mapped_column(String(30))
    privilege: Mapped[str] = mapped_column(String(20))


class Token(Base):
    """A login token; only its SHA-256 is stored, so a database leak leaks no session."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(TZDateTime())
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginAttempt(Base):
    """A password check, kept a minute for the login limits (shared by every worker and replica).

    Pending while its password is checked, then a failure; a successful check is deleted.
    """

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_address_username_at", "address", "username", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(255))
    address: Mapped[str] = mapped_column(String(255))
    pending: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class SmallApp(Base):
    __tablename__ = "small_apps"

    id: Mapped[str] = mapped_column(String(30), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow, onupdate=utcnow)


class AppConfig(Base):
    """One config document (`front` or `etl`) of one app at one stage."""

    __tablename__ = "app_configs"
    __table_args__ = (UniqueConstraint("app_id", "stage", "kind", name="uq_app_config"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("small_apps.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    content: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(255))


class InstanceSettingsVersion(Base):
    """One saved `instance_settings.cson`; the newest row is in force, older ones are history."""

    __tablename__ = "instance_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(255))


class SSOPendingLogin(Base):
    """A login sent to an identity provider and not answered yet (SAML request id or OIDC state)."""

    __tablename__ = "sso_pending_logins"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    expires_at: Mapped[datetime] = mapped_column(TZDateTime(), index=True)


class SSOSeenMessage(Base):
    """IDs of SAML responses and assertions already used, so a replayed response is refused."""

    __tablename__ = "sso_seen_messages"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(TZDateTime(), index=True)
