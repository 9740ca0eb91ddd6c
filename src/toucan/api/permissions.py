"""Data permissions (row-level rules) of an app, for the admin screen: `GET/PUT /{app}/permissions`
and `POST /{app}/permissions/preview` ("test as user"). Administrators only: the preview shows
another user's attributes and rows."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from toucan.api.answers import Answer
from toucan.api.configs import VersionQuery, expected_version
from toucan.api.deps import AdminDep, ContextDep
from toucan.apps.configs import Stage
from toucan.apps.permission_rules import PermissionRule
from toucan.data import permission_editor

router = APIRouter(tags=["data permissions"])


class PermissionDomain(Answer):
    name: str
    rows: int
    columns: list[dict[str, str]]


class PermissionRules(Answer):
    stage: str
    rules: list[dict[str, Any]]
    domains: list[PermissionDomain] = Field(default_factory=list)
    version: int = Field(
        description="The ETL config's version (also in X-Config-Version): send it back in `If-Match` when "
        "saving to be refused with 409 config_conflict if the ETL config was saved meanwhile"
    )


class PermissionPreview(Answer):
    domain: str
    user: dict[str, Any]
    admin: bool = Field(description="Administrators see every row, whatever the rules")
    can_view: bool = Field(description="Whether the user may open the app at all")
    applied_rules: list[int] = Field(description="Indexes of the rules that decide what the user sees")
    see_all: bool
    conditions: list[dict[str, Any]] = Field(description="The applied conditions, rendered for this user")
    rows_total: int
    rows_visible: int
    columns: list[dict[str, str]]
    data: list[dict[str, Any]]


class RulesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[PermissionRule]


class PreviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=255, description="The user to see the domain as")
    domain: str = Field(min_length=1, max_length=255)
    rules: list[PermissionRule] | None = Field(
        default=None, description="Rules not saved yet (the form's); the stage's saved rules when left out"
    )
    limit: Annotated[int, Field(ge=1, le=permission_editor.PREVIEW_ROWS_MAX)] = 20


@router.get(
    "/{app}/permissions",
    response_model=PermissionRules,
    summary="The app's data permissions at a stage, with the domains and columns they can name (admins)",
)
def get_permissions(
    app: str, response: Response, ctx: ContextDep, _admin: AdminDep, stage: Stage = Stage.STAGING
) -> dict[str, Any]:
    answer = permission_editor.read_rules(ctx.db, ctx.data.store, app, stage)
    response.headers["X-Config-Version"] = str(answer["version"])
    return answer


@router.put(
    "/{app}/permissions",
    response_model=PermissionRules,
    summary="Replace the staging ETL config's DATA_PERMISSIONS, checked against the domains (admins); "
    "with If-Match (the version read), 409 config_conflict if the ETL config was saved since",
)
async def put_permissions(
    app: str,
    body: RulesBody,
    request: Request,
    response: Response,
    ctx: ContextDep,
    admin: AdminDep,
    version: VersionQuery = None,
) -> dict[str, Any]:
    answer = await run_in_threadpool(
        permission_editor.save_rules,
        ctx.db,
        ctx.data.store,
        app,
        body.rules,
        author=admin.username,
        expected_version=expected_version(request, version),
    )
    response.headers["X-Config-Version"] = str(answer["version"])
    return answer


@router.post(
    "/{app}/permissions/preview",
    response_model=PermissionPreview,
    summary="The rows of a domain one user would see under the rules (admins)",
)
async def preview_permissions(
    app: str, body: PreviewBody, ctx: ContextDep, _admin: AdminDep, stage: Stage = Stage.STAGING
) -> dict[str, Any]:
    return await run_in_threadpool(
        permission_editor.preview_as,
        ctx.db,
        ctx.data.store,
        ctx.data.engine,
        app,
        stage,
        body.username,
        body.domain,
        body.rules,
        limit=body.limit,
    )
