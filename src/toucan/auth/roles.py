"""Roles and per-app privileges, and how they order."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    USER = "USER"
    ADMIN = "ADMIN"
    SUPER_ADMIN = "SUPER_ADMIN"


class AppPrivilege(StrEnum):
    VIEW = "view"
    VALIDATE = "validate"
    CONTRIBUTE = "contribute"


ROLE_RANK = {Role.USER: 0, Role.ADMIN: 1, Role.SUPER_ADMIN: 2}
# A privilege includes the ones ranked below it: a contributor can also view.
PRIVILEGE_RANK = {AppPrivilege.VIEW: 0, AppPrivilege.VALIDATE: 1, AppPrivilege.CONTRIBUTE: 2}


def is_admin(role: str) -> bool:
    return ROLE_RANK.get(Role(role), 0) >= ROLE_RANK[Role.ADMIN]


def implies(granted: str, wanted: AppPrivilege) -> bool:
    return PRIVILEGE_RANK[AppPrivilege(granted)] >= PRIVILEGE_RANK[wanted]
