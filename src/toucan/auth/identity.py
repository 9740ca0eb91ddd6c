"""Who is calling: the user, role, groups and effective privileges of a request."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import JSON, Select, bindparam, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction

from toucan.auth.roles import AppPrivilege, Role, implies, is_admin
from toucan.db.models import Group, Privilege, Token, User, UserGroup


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


# --- one statement per request ----------------------------------------------------------


class json_array_agg(GenericFunction[Any]):
    """The values of a column as one JSON array (`[]` or NULL when there is no row)."""

    type = JSON()
    inherit_cache = True


@compiles(json_array_agg, "sqlite")
def _json_array_agg_sqlite(element: json_array_agg, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_group_array({compiler.process(element.clauses, **kw)})"


@compiles(json_array_agg, "postgresql")
def _json_array_agg_postgresql(element: json_array_agg, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_agg({compiler.process(element.clauses, **kw)})"


@dataclass(frozen=True)
class TokenIdentity:
    """What a token's row says: whose it is, whether it may still be used, and the identity."""

    identity: Identity
    token_expires_at: datetime
    token_revoked: bool
    disabled: bool
    expiration_date: datetime | None


def _token_identity_statement() -> Select[*tuple[Any, ...]]:
    groups = (
        select(json_array_agg(Group.name))
        .join_from(UserGroup, Group, Group.id == UserGroup.group_id)
        .where(UserGroup.user_id == User.id)
        .scalar_subquery()
    )
    # Correlated explicitly: nested two levels down, `users` would otherwise join in afresh
    # and every user would get the privileges of every group.
    member_of = select(UserGroup.group_id).where(UserGroup.user_id == User.id).correlate(User)
    # "app:privilege": privileges never contain ':', so the last ':' splits them.
    grants = (
        select(json_array_agg(Privilege.app_id + ":" + Privilege.privilege))
        .where(or_(Privilege.user_id == User.id, Privilege.group_id.in_(member_of)))
        .scalar_subquery()
    )
    return (
        select(
            User.id,
            User.username,
            User.role,
            User.disabled,
            User.expiration_date,
            User.attributes,
            Token.expires_at,
            Token.revoked,
            groups,
            grants,
        )
        .join_from(Token, User, User.id == Token.user_id)
        .where(Token.token_hash == bindparam("token_hash"))
    )


_TOKEN_IDENTITY = _token_identity_statement()


class RowReader(Protocol):
    """Runs a statement and returns its first row (`toucan.data.reads.RequestReads`)."""

    def one(self, statement: Select[*tuple[Any, ...]], params: Mapping[str, Any]) -> Sequence[Any] | None: ...


def read_token_identity(reader: RowReader, token_hash: str) -> TokenIdentity | None:
    """The identity behind a token digest, groups and privileges included, in one statement.

    Nothing is cached: a revoked token or a changed privilege counts from the next request.
    """
    row = reader.one(_TOKEN_IDENTITY, {"token_hash": token_hash})
    if row is None:
        return None
    user_id, username, role, disabled, expiration_date, attributes, expires_at, revoked, groups, grants = row
    privileges: dict[str, set[str]] = {}
    for grant in grants or ():
        app_id, _, privilege = grant.rpartition(":")
        privileges.setdefault(app_id, set()).add(privilege)
    identity = Identity(
        user_id=user_id,
        username=username,
        role=Role(role),
        groups=tuple(sorted(groups or ())),
        privileges={app: frozenset(p) for app, p in privileges.items()},
        attributes=dict(attributes or {}),
    )
    return TokenIdentity(identity, expires_at, bool(revoked), bool(disabled), expiration_date)
