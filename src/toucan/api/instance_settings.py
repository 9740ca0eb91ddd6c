"""The instance settings (`/instance-settings`): identity providers and other instance-wide
keys, as CSON or JSON, versioned; super admins only (secrets masked in every answer)."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from toucan.api.answers import TEXT, Answer, InstanceSettingsSaved, InstanceSettingsVersion, raw
from toucan.api.deps import ContextDep, SuperAdminDep
from toucan.auth import instance_settings, provider_check
from toucan.auth.instance_settings import Format
from toucan.auth.providers import Saml2Provider
from toucan.connectors.network import fetch_url
from toucan.errors import ValidationError
from toucan.settings import Settings

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


# --- identity providers: test one, read an IdP's own description ---------------------------------

# An IdP's discovery document, keys or metadata: small documents.
_PROVIDER_FETCH_MAX_BYTES = 2 * 1024 * 1024
_PROVIDER_FETCH_TIMEOUT = 10.0


def _fetcher(settings: Settings) -> provider_check.Fetch:
    """Outbound requests of the checks, through the connectors' SSRF guard
    (TOUCAN_CONNECTORS_ALLOWED_HOSTS lists the private hosts an IdP may be on)."""

    def fetch(method: str, url: str, headers: dict[str, str], body: bytes | None) -> provider_check.Fetched:
        response = fetch_url(
            url,
            settings,
            method=method,
            headers=headers,
            data=body.decode() if body is not None else None,
            raise_for_status=False,
            max_bytes=_PROVIDER_FETCH_MAX_BYTES,
            timeout=_PROVIDER_FETCH_TIMEOUT,
        )
        return provider_check.Fetched(response.status_code, dict(response.headers), response.content)

    return fetch


class ProviderTestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: dict[str, Any] = Field(
        description="The provider as in the instance settings (saved or not); a masked secret stands for the stored one"
    )
    metadata_url: str | None = Field(
        default=None, max_length=2000, description="SAML2: the IdP's metadata URL (default: its entityId, when a URL)"
    )


class ProviderCheck(Answer):
    provider: str
    type: str
    ok: bool = Field(description="False when a step failed")
    steps: list[dict[str, Any]] = Field(description="`{name, ok, detail}`; ok null: not checked, or for information")


class DiscoverBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["OIDC", "SAML2"]
    url: str = Field(
        min_length=1, max_length=2000, description="OIDC: the issuer (or its discovery URL); SAML2: the metadata URL"
    )


class Discovered(Answer):
    type: str
    document: dict[str, Any] = Field(description="OIDC: the discovery document; SAML2: the `idp` block")


@router.post(
    "/instance-settings/providers/test",
    response_model=ProviderCheck,
    summary="Check an identity provider step by step against the IdP it names (super admins)",
)
def test_provider(body: ProviderTestBody, request: Request, ctx: ContextDep, _admin: SuperAdminDep) -> dict[str, Any]:
    with ctx.db.readonly_session() as session:
        stored = instance_settings.current_document(session)
    restored = instance_settings.restore_secrets({"auth": {"providers": [body.provider]}}, stored)
    provider = provider_check.parse_provider(restored["auth"]["providers"][0])
    route = "sso_acs" if isinstance(provider, Saml2Provider) else "sso_callback"
    callback = str(request.url_for(route, provider_id=provider.id))
    return provider_check.check_provider(
        provider, _fetcher(ctx.settings), callback_url=callback, metadata_url=body.metadata_url
    )


@router.post(
    "/instance-settings/providers/discover",
    response_model=Discovered,
    summary="Read an IdP's discovery document (OIDC) or metadata (SAML2) to fill a provider's form (super admins)",
)
def discover_provider(body: DiscoverBody, ctx: ContextDep, _admin: SuperAdminDep) -> dict[str, Any]:
    fetch = _fetcher(ctx.settings)
    if body.type == "OIDC":
        document = provider_check.discover_oidc(body.url, fetch)
    else:
        document = provider_check.discover_saml(body.url, fetch)
    return {"type": body.type, "document": document}
