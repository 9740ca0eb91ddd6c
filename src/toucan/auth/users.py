"""Users, groups and their per-app privileges: the rules of who may change what."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from toucan.auth.identity import Identity
from toucan.auth.passwords import MIN_PASSWORD_LENGTH, hash_password
from toucan.auth.roles import ROLE_RANK, AppPrivilege, Role
from toucan.auth.tokens import revoke_user_tokens
from toucan.db.models import Group, Privilege, SmallApp, User
from toucan.errors import Conflict, NotFound, PermissionDenied, ValidationError

Privileges = dict[str, list[AppPrivilege]]

USERNAME_PATTERN = r"^[^\s/]{1,255}$"

# The interface languages (frontend/src/i18n.ts `dictionaries`); a test keeps both lists equal.
Locale = Literal["en", "fr"]
LOCALES: tuple[str, ...] = get_args(Locale)


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    username: str = Field(pattern=USERNAME_PATTERN)
    password: str | None = Field(default=None, min_length=MIN_PASSWORD_LENGTH, max_length=1024)
    role: Role = Role.USER
    groups: list[str] = Field(default_factory=list)
    privileges: Privileges = Field(default_factory=dict)
    disabled: bool = False
    expiration_date: AwareDatetime | None = Field(default=None, alias="expirationDate")
    attributes: dict[str, Any] = Field(default_factory=dict)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    password: str | None = Field(default=None, min_length=MIN_PASSWORD_LENGTH, max_length=1024)
    role: Role | None = None
    groups: list[str] | None = None
    privileges: Privileges | None = None
    disabled: bool | None = None
    expiration_date: AwareDatetime | None = Field(default=None, alias="expirationDate")
    attributes: dict[str, Any] | None = None


class MeUpdate(BaseModel):
    """What a user may change of their own account: their interface language (None: the
    browser's language applies)."""

    model_config = ConfigDict(extra="forbid")

    locale: Locale | None


class GroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    privileges: Privileges = Field(default_factory=dict)
    members: list[str] = Field(default_factory=list, max_length=10_000)

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class GroupUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    privileges: Privileges | None = None
    members: list[str] | None = Field(default=None, max_length=10_000)


# --- serialisation -------------------------------------------------------------------


def _grants(session: Session, *, user_id: int | None = None, group_id: int | None = None) -> dict[str, list[str]]:
    column = Privilege.user_id if user_id is not None else Privilege.group_id
    owner = user_id if user_id is not None else group_id
    grants: dict[str, list[str]] = {}
    rows = session.execute(
        select(Privilege.app_id, Privilege.privilege)
        .where(column == owner)
        .order_by(Privilege.app_id, Privilege.privilege)
    )
    for app_id, privilege in rows:
        grants.setdefault(app_id, []).append(privilege)
    return grants


def user_to_dict(session: Session, user: User) -> dict[str, Any]:
    """A user as the API shows it: never the password hash."""
    return {
        "username": user.username,
        "role": user.role,
        "groups": [g.name for g in user.groups],
        "privileges": _grants(session, user_id=user.id),
        "disabled": user.disabled,
        "expirationDate": user.expiration_date.isoformat() if user.expiration_date else None,
        "attributes": user.attributes or {},
        "provider": user.provider,
        "createdAt": user.created_at.isoformat(),
        "updatedAt": user.updated_at.isoformat(),
    }


def group_to_dict(session: Session, group: Group) -> dict[str, Any]:
    return {
        "name": group.name,
        "privileges": _grants(session, group_id=group.id),
        "members": sorted(u.username for u in group.users),
    }


# --- checks ----------------------------------------------------------------------------


def _require_admin(actor: Identity | None) -> None:
    if actor is not None and not actor.is_admin:
        raise PermissionDenied("Only administrators manage users and groups.")


def _check_may_manage(actor: Identity | None, target_role: Role) -> None:
    """An actor may not manage accounts, or hand out roles, ranked above their own."""
    if actor is None:  # the command line acts with the operator's full authority
        return
    _require_admin(actor)
    if ROLE_RANK[target_role] > ROLE_RANK[actor.role]:
        raise PermissionDenied(
            f"Only a super admin can manage {target_role.value} accounts.",
            details={"role": target_role.value},
        )


def _resolve_groups(session: Session, names: list[str]) -> list[Group]:
    groups = []
    for name in dict.fromkeys(names):
        group = session.scalar(select(Group).where(Group.name == name))
        if group is None:
            raise NotFound(f"Group {name!r} does not exist.", details={"field": "groups", "group": name})
        groups.append(group)
    return groups


def _set_grants(
    session: Session,
    privileges: Privileges,
    *,
    user_id: int | None = None,
    group_id: int | None = None,
) -> None:
    for app_id in privileges:
        if session.get(SmallApp, app_id) is None:
            raise NotFound(
                f"Small app {app_id!r} does not exist.",
                details={"field": f"privileges.{app_id}", "app": app_id},
            )
    column = Privilege.user_id if user_id is not None else Privilege.group_id
    owner = user_id if user_id is not None else group_id
    session.execute(delete(Privilege).where(column == owner))
    for app_id, wanted in privileges.items():
        for privilege in dict.fromkeys(wanted):
            session.add(Privilege(user_id=user_id, group_id=group_id, app_id=app_id, privilege=privilege.value))


def _set_members(session: Session, actor: Identity | None, group: Group, usernames: list[str]) -> None:
    """Make `usernames` the group's members; adding or removing an account needs the right to manage it."""
    wanted = dict.fromkeys(usernames)
    users = list(session.scalars(select(User).where(User.username.in_(wanted)))) if wanted else []
    found = {u.username for u in users}
    for username in wanted:
        if username not in found:
            raise NotFound(f"User {username!r} does not exist.", details={"field": "members", "username": username})
    current = set(group.users)
    for user in current.symmetric_difference(users):
        _check_may_manage(actor, Role(user.role))
    group.users = sorted(users, key=lambda u: u.username)


def _super_admin_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User).where(User.role == Role.SUPER_ADMIN)) or 0


# --- users -------------------------------------------------------------------------------


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"User {username!r} does not exist.", details={"username": username})
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def create_user(session: Session, actor: Identity | None, data: UserCreate, *, provider: str = "local") -> User:
    """Create a user; `actor` None means the command line (operator authority)."""
    _check_may_manage(actor, data.role)
    if session.scalar(select(User.id).where(User.username == data.username)) is not None:
        raise Conflict(f"User {data.username!r} already exists.", details={"username": data.username})
    user = User(
        username=data.username,
        password_hash=hash_password(data.password) if data.password else None,
        role=data.role.value,
        disabled=data.disabled,
        expiration_date=data.expiration_date,
        attributes=data.attributes,
        provider=provider,
        groups=_resolve_groups(session, data.groups),
    )
    session.add(user)
    session.flush()
    _set_grants(session, data.privileges, user_id=user.id)
    return user


def update_user(session: Session, actor: Identity | None, username: str, data: UserUpdate) -> User:
    user = get_user(session, username)
    _check_may_manage(actor, Role(user.role))
    fields = data.model_fields_set
    if data.role is not None and data.role != user.role:
        if actor is not None and actor.user_id == user.id:
            raise PermissionDenied("You cannot change your own role; ask another administrator.")
        _check_may_manage(actor, data.role)
        if user.role == Role.SUPER_ADMIN and _super_admin_count(session) <= 1:
            raise Conflict("This is the last super admin; make another one first.")
        user.role = data.role.value
    if data.password is not None:
        user.password_hash = hash_password(data.password)
        revoke_user_tokens(session, user.id)
    if data.groups is not None:
        user.groups = _resolve_groups(session, data.groups)
    if data.privileges is not None:
        _set_grants(session, data.privileges, user_id=user.id)
    if data.disabled is not None:
        if data.disabled and actor is not None and actor.user_id == user.id:
            raise PermissionDenied("You cannot disable your own account.")
        user.disabled = data.disabled
        if data.disabled:
            revoke_user_tokens(session, user.id)
    if "expiration_date" in fields:
        user.expiration_date = data.expiration_date
    if data.attributes is not None:
        user.attributes = data.attributes
    session.flush()
    return user


def delete_user(session: Session, actor: Identity | None, username: str) -> None:
    user = get_user(session, username)
    _check_may_manage(actor, Role(user.role))
    if actor is not None and actor.user_id == user.id:
        raise PermissionDenied("You cannot delete your own account.")
    if user.role == Role.SUPER_ADMIN and _super_admin_count(session) <= 1:
        raise Conflict("This is the last super admin; make another one first.")
    session.delete(user)


def set_own_locale(session: Session, identity: Identity, locale: str | None) -> None:
    """The caller's interface language, kept on their user so it follows them across devices."""
    user = session.get(User, identity.user_id)
    if user is None:
        raise NotFound("Your user no longer exists.")
    user.locale = locale


def own_locale(session: Session, identity: Identity) -> str | None:
    """The interface language the caller chose, or None."""
    return session.scalar(select(User.locale).where(User.id == identity.user_id))


def set_password(session: Session, username: str, password: str) -> User:
    """Set a local password (command line); revokes the user's tokens."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    user = get_user(session, username)
    user.password_hash = hash_password(password)
    revoke_user_tokens(session, user.id)
    return user


# --- groups ------------------------------------------------------------------------------


def get_group(session: Session, name: str) -> Group:
    group = session.scalar(select(Group).where(Group.name == name))
    if group is None:
        raise NotFound(f"Group {name!r} does not exist.", details={"group": name})
    return group


def list_groups(session: Session) -> list[Group]:
    return list(session.scalars(select(Group).order_by(Group.name)))


def create_group(session: Session, actor: Identity | None, data: GroupCreate) -> Group:
    _require_admin(actor)
    if session.scalar(select(Group.id).where(Group.name == data.name)) is not None:
        raise Conflict(f"Group {data.name!r} already exists.", details={"group": data.name})
    group = Group(name=data.name)
    session.add(group)
    session.flush()
    _set_grants(session, data.privileges, group_id=group.id)
    _set_members(session, actor, group, data.members)
    session.flush()
    return group


def update_group(session: Session, actor: Identity | None, name: str, data: GroupUpdate) -> Group:
    _require_admin(actor)
    group = get_group(session, name)
    if data.name is not None and data.name != group.name:
        if session.scalar(select(Group.id).where(Group.name == data.name)) is not None:
            raise Conflict(f"Group {data.name!r} already exists.", details={"group": data.name})
        group.name = data.name
    if data.privileges is not None:
        _set_grants(session, data.privileges, group_id=group.id)
    if data.members is not None:
        _set_members(session, actor, group, data.members)
    session.flush()
    return group


def delete_group(session: Session, actor: Identity | None, name: str) -> None:
    _require_admin(actor)
    session.delete(get_group(session, name))
