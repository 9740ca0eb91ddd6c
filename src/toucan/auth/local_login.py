"""The rule of password login (`POST /login`, HTTP Basic): on when the instance settings list a
provider of type `local`; a super admin's password over HTTP Basic always works."""

from __future__ import annotations

from toucan.auth import instance_settings
from toucan.auth.identity import Identity
from toucan.db.engine import Database
from toucan.errors import ErrorCode, PermissionDenied

LOCAL_LOGIN_OFF = (
    "Logging in with a username and password is turned off on this instance (no provider of type "
    "'local' in the instance settings): use the single sign-on buttons of the login page."
)


def local_login_enabled(db: Database) -> bool:
    """Whether the instance settings offer password login (a provider of type `local`)."""
    with db.readonly_session() as session:
        return instance_settings.current(session).local_login_enabled


def check_password_login_allowed(db: Database, identity: Identity | None = None) -> None:
    """The rule of password login, for `POST /login` and HTTP Basic alike: refused (403
    `local_login_disabled`) when the instance has no `local` provider — except for a super
    admin's own password over HTTP Basic (`identity`), the path back in when SSO breaks."""
    if identity is not None and identity.is_super_admin:
        return
    if not local_login_enabled(db):
        raise PermissionDenied(LOCAL_LOGIN_OFF, code=ErrorCode.LOCAL_LOGIN_DISABLED)
