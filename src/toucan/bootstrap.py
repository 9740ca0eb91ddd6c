"""First start: the secret key, the schema, and the super admin."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from toucan.auth.passwords import generate_password, hash_password
from toucan.auth.roles import Role
from toucan.connectors.extras import install_extras
from toucan.db import migrate
from toucan.db.engine import Database
from toucan.db.models import User
from toucan.db.reach import check_reach
from toucan.errors import ValidationError
from toucan.settings import Settings


@dataclass(frozen=True)
class SuperAdmin:
    username: str
    created: bool
    # Only when this call generated it: shown once, never stored in clear.
    generated_password: str | None


def ensure_schema(db: Database, settings: Settings) -> None:
    """Migrate to the latest schema (cheap when already there)."""
    if migrate.current_revisions(db.engine) != migrate.head_revisions():
        migrate.upgrade(db.engine, settings.data_dir)


def ensure_super_admin(db: Database, settings: Settings) -> SuperAdmin:
    """Create the configured super admin unless that user exists."""
    username = settings.super_admin_username
    with db.session() as session:
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            return SuperAdmin(username, created=False, generated_password=None)
    generated = None if settings.super_admin_password else generate_password()
    password = settings.super_admin_password or generated
    assert password is not None
    try:
        with db.session() as session:
            session.add(User(username=username, password_hash=hash_password(password), role=Role.SUPER_ADMIN))
    except IntegrityError:  # another process created it at the same moment
        return SuperAdmin(username, created=False, generated_password=None)
    return SuperAdmin(username, created=True, generated_password=generated)


def install_connector_extras(settings: Settings) -> None:
    """Install the TOUCAN_EXTRA_CONNECTORS drivers (quick when already installed): the API and workers call it."""
    try:
        install_extras(settings.extra_connectors)
    except ValidationError as exc:  # an unknown name: say which setting holds it
        raise ValidationError(f"TOUCAN_EXTRA_CONNECTORS: {exc.message}", exc.details, code=exc.code) from None


def prepare(settings: Settings) -> tuple[Database, SuperAdmin]:
    """Everything a process needs before serving: connector extras, data dir, secret key, schema, super admin."""
    install_connector_extras(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.resolved_secret_key()
    db = Database.from_settings(settings)
    check_reach(db)  # a wrong URL or CA: one sentence naming the setting, not a traceback
    ensure_schema(db, settings)
    return db, ensure_super_admin(db, settings)
