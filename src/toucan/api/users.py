"""Admin API for users and groups."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from toucan.api.answers import GroupAnswer, UserAnswer
from toucan.api.deps import AdminDep, ContextDep
from toucan.auth import users as domain
from toucan.auth.users import GroupCreate, GroupUpdate, UserCreate, UserUpdate

router = APIRouter(tags=["users"])


@router.get("/users", response_model=list[UserAnswer], summary="List users")
def list_users(ctx: ContextDep, _admin: AdminDep) -> list[dict[str, Any]]:
    with ctx.db.readonly_session() as session:
        return [domain.user_to_dict(session, u) for u in domain.list_users(session)]


@router.post("/users", response_model=UserAnswer, status_code=201, summary="Create a user")
def create_user(body: UserCreate, ctx: ContextDep, admin: AdminDep) -> dict[str, Any]:
    with ctx.db.session() as session:
        return domain.user_to_dict(session, domain.create_user(session, admin, body))


@router.get("/users/{username}", response_model=UserAnswer, summary="One user")
def get_user(username: str, ctx: ContextDep, _admin: AdminDep) -> dict[str, Any]:
    with ctx.db.readonly_session() as session:
        return domain.user_to_dict(session, domain.get_user(session, username))


@router.patch("/users/{username}", response_model=UserAnswer, summary="Update, disable or expire a user")
def update_user(username: str, body: UserUpdate, ctx: ContextDep, admin: AdminDep) -> dict[str, Any]:
    with ctx.db.session() as session:
        return domain.user_to_dict(session, domain.update_user(session, admin, username, body))


@router.delete("/users/{username}", status_code=204, summary="Delete a user")
def delete_user(username: str, ctx: ContextDep, admin: AdminDep) -> Response:
    with ctx.db.session() as session:
        domain.delete_user(session, admin, username)
    return Response(status_code=204)


@router.get("/groups", response_model=list[GroupAnswer], summary="List groups")
def list_groups(ctx: ContextDep, _admin: AdminDep) -> list[dict[str, Any]]:
    with ctx.db.readonly_session() as session:
        return [domain.group_to_dict(session, g) for g in domain.list_groups(session)]


@router.post("/groups", response_model=GroupAnswer, status_code=201, summary="Create a group")
def create_group(body: GroupCreate, ctx: ContextDep, admin: AdminDep) -> dict[str, Any]:
    with ctx.db.session() as session:
        return domain.group_to_dict(session, domain.create_group(session, admin, body))


@router.get("/groups/{name}", response_model=GroupAnswer, summary="One group")
def get_group(name: str, ctx: ContextDep, _admin: AdminDep) -> dict[str, Any]:
    with ctx.db.readonly_session() as session:
        return domain.group_to_dict(session, domain.get_group(session, name))


@router.patch("/groups/{name}", response_model=GroupAnswer, summary="Rename a group or change its privileges")
def update_group(name: str, body: GroupUpdate, ctx: ContextDep, admin: AdminDep) -> dict[str, Any]:
    with ctx.db.session() as session:
        return domain.group_to_dict(session, domain.update_group(session, admin, name, body))


@router.delete("/groups/{name}", status_code=204, summary="Delete a group")
def delete_group(name: str, ctx: ContextDep, admin: AdminDep) -> Response:
    with ctx.db.session() as session:
        domain.delete_group(session, admin, name)
    return Response(status_code=204)
