"""The instance settings (`/instance-settings`): identity providers and other instance-wide
keys, as CSON or JSON, versioned; super admins only (secrets masked in every answer)."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from toucan.api.answers import TEXT, InstanceSettingsSaved, InstanceSettingsVersion, raw
from toucan.api.deps import ContextDep, SuperAdminDep
from toucan.auth import instance_settings
from toucan.auth.instance_settings import Format
from toucan.errors import ValidationError

router = APIRouter(tags=["instance settings"])
log = logging.getLogger("toucan.instance_settings")


@router.get(
    "/instance-settings",
    summary="The instance settings (secrets masked), as CSON or JSON",
    responses=raw(
        "instance_settings.cson as CSON text, or as JSON with format=json; secrets masked",
        content={"text/plain": TEXT, "application/json": {"type": "object"}},
    ),
)
def get_instance_settings(
    ctx: ContextDep,
    _admin: SuperAdminDep,
    format: Literal["cson", "json"] = "cson",
    version: Annotated[int | None, Query(description="An older version, from /instance-settings/history")] = None,
) -> Response:
    with ctx.db.session() as session:
        if version is None:
            document = instance_settings.current_document(session)
        else:
            document = instance_settings.version_document(session, version)
    text = instance_settings.export(document, format)
    if format == "json":
        return Response(text, media_type="application/json")
    return PlainTextResponse(text, headers={"Content-Disposition": 'inline; filename="instance_settings.cson"'})


@router.put(
    "/instance-settings",
    response_model=InstanceSettingsSaved,
    summary="Replace the instance settings (CSON or JSON body)",
)
async def put_instance_settings(
    request: Request,
    ctx: ContextDep,
    admin: SuperAdminDep,
    format: Literal["cson", "json"] | None = None,
) -> dict[str, Any]:
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError("The instance settings must be UTF-8 text.") from None
    is_json = request.headers.get("content-type", "").startswith("application/json")
    fmt: Format = format or ("json" if is_json else "cson")

    def save() -> dict[str, Any]:
        with ctx.db.session() as session:
            row, warnings = instance_settings.save(
                session, text, fmt, admin.username, max_depth=ctx.settings.max_nesting_depth
            )
            return {
                "version": row.id,
                "warnings": warnings,
                "settings": instance_settings.mask_secrets(row.content),
            }

    result = await run_in_threadpool(save)
    log.info("instance settings version %s saved by %s", result["version"], admin.username)
    return result


@router.get(
    "/instance-settings/history",
    response_model=list[InstanceSettingsVersion],
    summary="Saved versions of the instance settings, newest first",
)
def instance_settings_history(ctx: ContextDep, _admin: SuperAdminDep) -> list[dict[str, Any]]:
    with ctx.db.session() as session:
        entries = instance_settings.history(session)
    return [{"version": e.version, "createdAt": e.created_at.isoformat(), "createdBy": e.created_by} for e in entries]
