"""Who is calling: the user, role, groups and effective privileges of a request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from toucan.auth.roles import AppPrivilege, Role, implies, is_admin
from toucan.db.models import Privilege, User


@dataclass(frozen=True)
class Identity:
    user_id: int
    username: str
    role: Role
    groups: tuple[str, ...] = ()
    # Explicit grants, from the user and their groups: app id -> privileges.
    privileges: dict[str, frozenset[str]] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def is_admin(self) -> bool:
        return is_admin(self.role)

    @property
    def is_super_admin(self) -> bool:
        return self.role == Role.SUPER_ADMIN

    def can(self, app_id: str, wanted: AppPrivilege) -> bool:
        """Admins may do anything on any app; others need a grant that implies `wanted`."""
        if self.is_admin:
            return True
        return any(implies(p, wanted) for p in self.privileges.get(app_id, ()))

    def effective_privileges(self, app_ids: list[str] | None = None) -> dict[str, list[str]]:
        """Per app, every privilege the caller holds, implied ones included."""
        apps = app_ids if self.is_admin and app_ids is not None else list(self.privileges)
        return {
            app: [p.value for p in AppPrivilege if self.can(app, p)]
            for app in sorted(apps)
            if self.can(app, AppPrivilege.VIEW)
        }

    def template_variables(self) -> dict[str, Any]:
        """What data requests and permission rules may refer to as `user.*`."""
        return {
            "username": self.username,
            "role": self.role.value,
            "groups": list(self.groups),
            "attributes": dict(self.attributes),
        }


def load_identity(session: Session, user: User) -> Identity:
    """The identity of `user`, privileges of their groups included."""
    group_ids = [g.id for g in user.groups]
    rows = session.execute(
        select(Privilege.app_id, Privilege.privilege).where(
            or_(Privilege.user_id == user.id, Privilege.group_id.in_(group_ids))
        )
    ).all()
    grants: dict[str, set[str]] = {}
    for app_id, privilege in rows:
        grants.setdefault(app_id, set()).add(privilege)
    return Identity(
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        groups=tuple(g.name for g in user.groups),
        privileges={app: frozenset(p) for app, p in grants.items()},
        attributes=dict(user.attributes or {}),
    )
