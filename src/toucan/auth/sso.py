"""What every single sign-on provider shares: the common settings, the attribute mapping
(jq filters), provisioning of users, `userTemplate` privileges and groups, login state kept
between the redirect to the identity provider and its answer, and the final token.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlsplit

import jq
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from toucan.auth.login import check_account_usable
from toucan.auth.roles import AppPrivilege
from toucan.auth.tokens import issue_token
from toucan.auth.users import USERNAME_PATTERN, UserCreate, create_user
from toucan.db.models import Group, Privilege, SmallApp, SSOPendingLogin, SSOSeenMessage, User
from toucan.errors import AuthenticationError, ErrorCode, ToucanError

log = logging.getLogger("toucan.sso")

PROVIDER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
# A login must come back from the identity provider within this time.
PENDING_TTL = timedelta(minutes=10)


# --- settings shared by SAML2 and OIDC ---------------------------------------------------------


@lru_cache(maxsize=256)
def compile_jq(program: str) -> Any:
    """A compiled jq program (cached: the same filters run at every login)."""
    return jq.compile(program)


def _check_jq(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        compile_jq(value)
    except ValueError as exc:
        raise ValueError(f"not a valid jq filter: {str(exc).splitlines()[0]}") from None
    return value


class UserTemplate(BaseModel):
    """Applied at every login: the user's own privileges (and groups) are set to these."""

    model_config = ConfigDict(extra="forbid")

    privileges: dict[str, list[AppPrivilege]] = Field(default_factory=dict)
    groups: list[str] = Field(default_factory=list)


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nameId: str | None = Field(default=None, description="jq filter giving the username")
    groups: str | None = Field(default=None, description="jq filter giving group names")
    userTemplate: UserTemplate | None = None

    _check = field_validator("nameId", "groups")(_check_jq)


class SSOConfig(BaseModel):
    """Keys every external provider's `config` block accepts besides its own."""

    model_config = ConfigDict(extra="forbid")

    defaultRedirectUrl: str
    user_provisioning: bool = True
    mapping: Mapping = Field(default_factory=Mapping)

    @field_validator("defaultRedirectUrl")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise ValueError("must be the frontend's absolute URL, e.g. 'https://toucan.example.com'")
        return value


class ProviderBase(BaseModel):
    """Properties common to every provider (the FAQ's "Common properties")."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=PROVIDER_ID_PATTERN)
    name: str = ""
    icon: str = ""
    discrete: bool = False


# --- login outcome ----------------------------------------------------------------------------


def redirect_with_token(default_redirect_url: str, token: str) -> str:
    """`<defaultRedirectUrl>#token=<token>`: a fragment never reaches servers or logs."""
    return f"{default_redirect_url.split('#')[0]}#token={quote(token, safe='')}"


def redirect_with_error(default_redirect_url: str, error: ToucanError) -> str:
    fragment = f"sso_error={quote(error.code, safe='')}&message={quote(error.message, safe='')}"
    return f"{default_redirect_url.split('#')[0]}#{fragment}"


def sso_error(code: ErrorCode, message: str, **details: Any) -> AuthenticationError:
    """An error the login page shows and the logs keep; `message` says what to do."""
    return AuthenticationError(message, details=details or None, code=code)


# --- login state ----------------------------------------------------------------------------------


def new_state() -> str:
    return secrets.token_urlsafe(32)


def store_pending(session: Session, key: str, provider_id: str, data: dict[str, Any]) -> None:
    """Remember a login sent to an identity provider (and forget expired ones)."""
    now = datetime.now(UTC)
    session.execute(delete(SSOPendingLogin).where(SSOPendingLogin.expires_at < now))
    session.add(SSOPendingLogin(id=key, provider_id=provider_id, data=data, expires_at=now + PENDING_TTL))


def consume_pending(session: Session, key: str, provider_id: str) -> dict[str, Any] | None:
    """The data of a pending login, removed so it can complete once; None when unknown or expired."""
    row = session.get(SSOPendingLogin, key)
    if row is None or row.provider_id != provider_id or row.expires_at <= datetime.now(UTC):
        return None
    data = dict(row.data)
    # Removing the row is what makes the login single-use: when two requests race,
    # only the one whose DELETE hits a row goes on.
    result = session.execute(delete(SSOPendingLogin).where(SSOPendingLogin.id == key))
    if getattr(result, "rowcount", 1) != 1:
        return None
    return data


def was_seen(session: Session, message_id: str) -> bool:
    return session.get(SSOSeenMessage, message_id) is not None


def mark_seen(session: Session, message_ids: list[str], until: datetime) -> bool:
    """Record used message ids; False when one was recorded already (a replay)."""
    now = datetime.now(UTC)
    session.execute(delete(SSOSeenMessage).where(SSOSeenMessage.expires_at < now))
    try:
        with session.begin_nested():
            for message_id in dict.fromkeys(message_ids):
                session.add(SSOSeenMessage(id=message_id[:255], expires_at=until))
            session.flush()
    except IntegrityError:
        return False
    return True


# --- attributes → user ------------------------------------------------------------------------


def unwrap_single_values(attributes: dict[str, Any]) -> dict[str, Any]:
    """SAML attributes are lists; a list of one value becomes that value (`["a@b"]` → `"a@b"`)."""
    return {k: v[0] if isinstance(v, list) and len(v) == 1 else v for k, v in attributes.items()}


def _run_jq(program: str, attributes: dict[str, Any], what: str) -> Any:
    try:
        return compile_jq(program).input_value(attributes).first()
    except StopIteration:
        return None
    except ValueError as exc:
        raise sso_error(
            ErrorCode.MAPPING_FAILED,
            f"The jq filter {program!r} of mapping.{what} failed on the identity provider's attributes: {exc}. "
            f"Attributes received: {', '.join(sorted(attributes)) or 'none'}.",
        ) from None


def map_username(mapping: Mapping, attributes: dict[str, Any], default: str | None) -> str:
    """The username: `mapping.nameId` applied to the attributes, else the provider's default."""
    value: Any = default
    if mapping.nameId:
        value = _run_jq(mapping.nameId, attributes, "nameId")
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        source = f"the jq filter {mapping.nameId!r} of mapping.nameId" if mapping.nameId else "the identity provider"
        raise sso_error(
            ErrorCode.MAPPING_FAILED,
            f"No username: {source} gave {value!r}. Attributes received: "
            f"{', '.join(sorted(attributes)) or 'none'}. Fix mapping.nameId in the instance settings.",
        )
    value = value.strip()
    if not re.match(USERNAME_PATTERN, value):
        raise sso_error(
            ErrorCode.MAPPING_FAILED,
            f"The username {value!r} from the identity provider is not valid here (no spaces or '/', "
            "at most 255 characters). Change mapping.nameId in the instance settings.",
        )
    return value


def map_groups(mapping: Mapping, attributes: dict[str, Any]) -> list[str] | None:
    """Group names from `mapping.groups`, or None when no filter is configured."""
    if not mapping.groups:
        return None
    value = _run_jq(mapping.groups, attributes, "groups")
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    return [str(v).strip() for v in values if isinstance(v, str | int) and str(v).strip()]


def _set_template_privileges(session: Session, user: User, privileges: dict[str, list[AppPrivilege]]) -> None:
    session.execute(delete(Privilege).where(Privilege.user_id == user.id))
    for app_id, wanted in privileges.items():
        if session.get(SmallApp, app_id) is None:
            log.warning("userTemplate names the small app %r, which does not exist: skipped", app_id)
            continue
        for privilege in dict.fromkeys(wanted):
            session.add(Privilege(user_id=user.id, app_id=app_id, privilege=privilege.value))


def _groups_named(session: Session, names: list[str]) -> list[Group]:
    groups = []
    for name in dict.fromkeys(n[:255] for n in names):
        group = session.scalar(select(Group).where(Group.name == name))
        if group is None:
            group = Group(name=name)
            session.add(group)
            session.flush()
        groups.append(group)
    return groups


def login_user(
    session: Session,
    provider_id: str,
    config: SSOConfig,
    attributes: dict[str, Any],
    default_username: str | None,
    token_ttl: timedelta,
) -> tuple[User, str]:
    """Find or create the user the identity provider vouched for, apply the mapping, issue a token."""
    username = map_username(config.mapping, attributes, default_username)
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        if not config.user_provisioning:
            raise sso_error(
                ErrorCode.UNKNOWN_USER,
                f"The user {username!r} does not exist in Toucan and this identity provider does not create "
                "users (user_provisioning is false). An administrator must create this user first.",
                username=username,
            )
        try:
            user = create_user(
                session,
                None,
                UserCreate(username=username, attributes=attributes),
                provider=provider_id,
            )
        except PydanticValidationError:
            raise sso_error(ErrorCode.MAPPING_FAILED, f"The username {username!r} is not valid here.") from None
        log.info("SSO provider %s created the user %r", provider_id, username)
    else:
        user.attributes = {**(user.attributes or {}), **attributes}
    check_account_usable(user)
    template = config.mapping.userTemplate
    group_names = map_groups(config.mapping, attributes)
    if template is not None:
        _set_template_privileges(session, user, template.privileges)
        if template.groups:
            group_names = [*(group_names or []), *template.groups]
    if group_names is not None:
        user.groups = _groups_named(session, group_names)
    session.flush()
    token = issue_token(session, user, token_ttl)
    log.info("SSO login of %r through provider %s", username, provider_id)
    return user, token
