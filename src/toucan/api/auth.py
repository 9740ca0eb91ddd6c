"""Login, logout, identity and the list of identity providers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from toucan.api.answers import LoginAnswer, LogoutAnswer, Me, ProviderSummary
from toucan.api.deps import ContextDep, IdentityDep, bearer_token, client_address
from toucan.api.sso import list_providers
from toucan.apps.small_apps import list_apps
from toucan.auth.identity import Identity
from toucan.auth.local_login import check_password_login_allowed
from toucan.auth.login import login as do_login
from toucan.auth.tokens import revoke_token
from toucan.auth.users import MeUpdate, own_locale, set_own_locale
from toucan.db.models import SmallApp

router = APIRouter(tags=["auth"])


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=255)
    password: str = Field(min_length=1, max_length=1024)


def me_dict(ctx: ContextDep, identity: Identity) -> dict[str, Any]:
    with ctx.db.readonly_session() as session:
        app_ids = list(session.scalars(select(SmallApp.id))) if identity.is_admin else None
        if not identity.is_admin:
            visible = {a.id for a in list_apps(session, identity)}
        locale = own_locale(session, identity)
    privileges = identity.effective_privileges(app_ids)
    if not identity.is_admin:
        privileges = {k: v for k, v in privileges.items() if k in visible}
    return {
        "username": identity.username,
        "role": identity.role.value,
        "groups": list(identity.groups),
        "privileges": privileges,
        "attributes": identity.attributes,
        "locale": locale,
    }


@router.post(
    "/login", response_model=LoginAnswer, summary="Log in with a username and password; returns a bearer token"
)
def login(body: LoginBody, request: Request, ctx: ContextDep) -> dict[str, Any]:
    check_password_login_allowed(ctx.db)
    result = do_login(ctx.db, body.username, body.password, client_address(request), ctx.token_ttl, ctx.login_limits)
    return {"token": result.token, "user": me_dict(ctx, result.identity)}


@router.post("/logout", response_model=LogoutAnswer, summary="Revoke the bearer token of this request")
def logout(request: Request, identity: IdentityDep, ctx: ContextDep) -> dict[str, bool]:
    token = bearer_token(request)
    revoked = False
    if token:
        with ctx.db.session() as session:
            revoked = revoke_token(session, token)
    return {"revoked": revoked}


@router.get("/me", response_model=Me, summary="The caller: identity, role, groups and effective privileges")
def me(identity: IdentityDep, ctx: ContextDep) -> dict[str, Any]:
    return me_dict(ctx, identity)


@router.patch("/me", response_model=Me, summary="Change the caller's own preferences: their interface language")
def update_me(body: MeUpdate, identity: IdentityDep, ctx: ContextDep) -> dict[str, Any]:
    with ctx.db.session() as session:
        set_own_locale(session, identity, body.locale)
    # What was written, not a read that a lagging read replica could answer from before it.
    return {**me_dict(ctx, identity), "locale": body.locale}


@router.get("/auth/providers", response_model=list[ProviderSummary], summary="Identity providers the login page offers")
def providers(request: Request, ctx: ContextDep) -> list[dict[str, Any]]:
    return list_providers(request, ctx)
