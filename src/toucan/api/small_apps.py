"""Small apps: list, create, read, update, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from toucan.api.answers import SmallAppAnswer
from toucan.api.deps import ContextDep, IdentityDep
from toucan.apps import small_apps as domain
from toucan.apps.small_apps import AppCreate, AppUpdate
from toucan.auth.roles import AppPrivilege

router = APIRouter(tags=["small apps"])


@router.get("/small-apps", response_model=list[SmallAppAnswer], summary="The small apps the caller may see")
def list_apps(ctx: ContextDep, identity: IdentityDep) -> list[dict[str, Any]]:
    with ctx.db.readonly_session() as session:
        return [domain.app_to_dict(a) for a in domain.list_apps(session, identity)]


@router.post(
    "/small-apps", response_model=SmallAppAnswer, status_code=201, summary="Create a small app (administrators)"
)
def create_app(body: AppCreate, ctx: ContextDep, identity: IdentityDep) -> dict[str, Any]:
    with ctx.db.session() as session:
        return domain.app_to_dict(domain.create_app(session, identity, body))


@router.get("/small-apps/{app_id}", response_model=SmallAppAnswer, summary="One small app")
def get_app(app_id: str, ctx: ContextDep, identity: IdentityDep) -> dict[str, Any]:
    with ctx.db.readonly_session() as session:
        return domain.app_to_dict(domain.get_app_for(session, identity, app_id, AppPrivilege.VIEW))


@router.patch(
    "/small-apps/{app_id}", response_model=SmallAppAnswer, summary="Rename or describe a small app (contributors)"
)
def update_app(app_id: str, body: AppUpdate, ctx: ContextDep, identity: IdentityDep) -> dict[str, Any]:
    with ctx.db.session() as session:
        return domain.app_to_dict(domain.update_app(session, identity, app_id, body))


@router.delete("/small-apps/{app_id}", status_code=204, summary="Delete a small app (administrators)")
def delete_app(app_id: str, ctx: ContextDep, identity: IdentityDep) -> Response:
    with ctx.db.session() as session:
        domain.delete_app(session, identity, app_id)
    return Response(status_code=204)
