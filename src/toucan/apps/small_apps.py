"""Small apps: creation (with slug ids), listing what a caller may see, update, deletion."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from toucan.auth.identity import Identity
from toucan.auth.roles import AppPrivilege
from toucan.db.models import Privilege, SmallApp
from toucan.errors import Conflict, NotFound, PermissionDenied

MAX_ID_BYTES = 30
ID_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?$")
# First path segments the API uses itself: an app id there would shadow a route.
RESERVED_IDS = frozenset(
    {
        "auth",
        "users",
        "groups",
        "small-apps",
        "jobs",
        "me",
        "login",
        "logout",
        "health",
        "ready",
        "instance-settings",
        "pipeline-steps",
        "openapi-json",
        "docs",
        "redoc",
        "settings",
        "api",
        "static",
        "backup",
        "restore",
    }
)


def slugify(name: str) -> str:
    """A URL-safe id from a display name: ASCII, lowercase, dashes, at most 30 bytes."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    slug = slug[:MAX_ID_BYTES].rstrip("-") or "app"
    return f"{slug}-app"[:MAX_ID_BYTES] if slug in RESERVED_IDS else slug


def validate_app_id(value: str) -> str:
    if len(value.encode()) > MAX_ID_BYTES:
        raise ValueError(f"must be at most {MAX_ID_BYTES} bytes")
    if not ID_PATTERN.match(value):
        raise ValueError("must be lowercase letters, digits, '-' or '_', starting and ending with a letter or digit")
    if value in RESERVED_IDS:
        raise ValueError(f"{value!r} is reserved by the API")
    return value


class AppCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    name: str = Field(min_length=1, max_length=255)
    description: str = Field(default="", max_length=10_000)

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str | None) -> str | None:
        return None if value is None else validate_app_id(value)


class AppUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=10_000)


def app_to_dict(app: SmallApp) -> dict[str, Any]:
    return {
        "id": app.id,
        "name": app.name,
        "description": app.description,
        "created_at": app.created_at.isoformat(),
        "updated_at": app.updated_at.isoformat(),
    }


def _unique_id(session: Session, base: str) -> str:
    candidate, n = base, 1
    while session.get(SmallApp, candidate) is not None:
        n += 1
        suffix = f"-{n}"
        candidate = base[: MAX_ID_BYTES - len(suffix)].rstrip("-") + suffix
    return candidate


def get_app(session: Session, app_id: str) -> SmallApp:
    app = session.get(SmallApp, app_id)
    if app is None:
        raise NotFound(f"Small app {app_id!r} does not exist.", details={"app": app_id})
    return app


def get_app_for(session: Session, identity: Identity, app_id: str, wanted: AppPrivilege) -> SmallApp:
    """The app, when `identity` holds `wanted` on it.

    An app the caller may not even view answers 404, so its existence is not revealed.
    """
    app = session.get(SmallApp, app_id)
    check_app_access(identity, app_id, app is not None, wanted)
    assert app is not None
    return app


def check_app_access(identity: Identity, app_id: str, exists: bool, wanted: AppPrivilege) -> None:
    """Raise unless the app exists and `identity` holds `wanted` on it (404 when it may not view it)."""
    if not exists or not identity.can(app_id, AppPrivilege.VIEW):
        raise NotFound(f"Small app {app_id!r} does not exist.", details={"app": app_id})
    if not identity.can(app_id, wanted):
        raise PermissionDenied(
            f"You need the {wanted.value!r} privilege on {app_id!r} for this.",
            details={"app": app_id, "privilege": wanted.value},
        )


def list_apps(session: Session, identity: Identity) -> list[SmallApp]:
    """The apps `identity` may view."""
    apps = session.scalars(select(SmallApp).order_by(SmallApp.name, SmallApp.id))
    return [a for a in apps if identity.can(a.id, AppPrivilege.VIEW)]


def create_app(session: Session, identity: Identity | None, data: AppCreate) -> SmallApp:
    if identity is not None and not identity.is_admin:
        raise PermissionDenied("Only administrators create small apps.")
    if data.id is not None:
        if session.get(SmallApp, data.id) is not None:
            raise Conflict(f"Small app {data.id!r} already exists.", details={"id": data.id})
        app_id = data.id
    else:
        app_id = _unique_id(session, slugify(data.name))
    app = SmallApp(id=app_id, name=data.name, description=data.description)
    session.add(app)
    session.flush()
    return app


def update_app(session: Session, identity: Identity, app_id: str, data: AppUpdate) -> SmallApp:
    app = get_app_for(session, identity, app_id, AppPrivilege.CONTRIBUTE)
    if data.name is not None:
        app.name = data.name
    if data.description is not None:
        app.description = data.description
    session.flush()
    return app


def delete_app(session: Session, identity: Identity, app_id: str) -> None:
    app = get_app_for(session, identity, app_id, AppPrivilege.VIEW)
    if not identity.is_admin:
        raise PermissionDenied("Only administrators delete small apps.")
    session.execute(delete(Privilege).where(Privilege.app_id == app_id))
    session.delete(app)
