"""Single sign-on routes (`/auth/provider/{id}/...`).

A login through an external provider ends with a 303 to the provider's `defaultRedirectUrl`:
`#token=<token>` on success, `#sso_error=<code>&message=<text>` on an error the operator or
the user can act on (also logged). URLs given to identity providers are built from the
request, so behind a TLS proxy they carry the external scheme, host and prefix.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from toucan.api.answers import TEXT, OidcRegistration, raw
from toucan.api.deps import Context, ContextDep
from toucan.auth import instance_settings
from toucan.auth.instance_settings import InstanceSettings
from toucan.auth.providers import ExternalProvider, LocalProvider, OidcProvider, Provider, Saml2Provider, oidc, saml2
from toucan.auth.sso import redirect_with_error, redirect_with_token
from toucan.errors import ToucanError, ValidationError

router = APIRouter(tags=["sso"])
log = logging.getLogger("toucan.sso")

# Logins through a provider answer redirects: to the provider, then back to the web app with a
# token (or an error) in the URL.
REDIRECT: dict[str, Any] = {
    "status_code": 303,
    "response_class": RedirectResponse,
    "response_description": "To the identity provider (or back to the web app with the error)",
}
BACK_TO_APP: dict[str, Any] = {
    "status_code": 303,
    "response_class": RedirectResponse,
    "response_description": "Back to the web app (`defaultRedirectUrl`) with a token, or with the error",
}


# --- providers ---------------------------------------------------------------------------------


def _settings(ctx: Context) -> InstanceSettings:
    with ctx.db.session() as session:
        return instance_settings.current(session)


def provider_summary(request: Request, provider: Provider) -> dict[str, Any]:
    """What the login page needs to show a provider; nothing secret."""
    if isinstance(provider, LocalProvider):
        url = str(request.url_for("login"))
    else:
        url = str(request.url_for("sso_login", provider_id=provider.id))
    return {
        "id": provider.id,
        "type": provider.type,
        "name": provider.name or provider.id,
        "icon": provider.icon,
        "discrete": provider.discrete,
        "login_url": url,
    }


def list_providers(request: Request, ctx: Context) -> list[dict[str, Any]]:
    return [provider_summary(request, p) for p in _settings(ctx).auth.providers]


def _acs_url(request: Request, provider: Saml2Provider) -> str:
    return str(request.url_for("sso_acs", provider_id=provider.id))


def _redirect_uri(request: Request, provider: OidcProvider) -> str:
    return provider.config.redirectUri or str(request.url_for("sso_callback", provider_id=provider.id))


def _fail(provider: ExternalProvider, error: ToucanError) -> RedirectResponse:
    log.warning("SSO login through %s failed: [%s] %s", provider.id, error.code, error.message)
    return RedirectResponse(redirect_with_error(provider.config.defaultRedirectUrl, error), status_code=303)


def _succeed(provider: ExternalProvider, token: str) -> RedirectResponse:
    response = RedirectResponse(redirect_with_token(provider.config.defaultRedirectUrl, token), status_code=303)
    response.delete_cookie(oidc.STATE_COOKIE, path="/")
    return response


@router.get(
    "/auth/provider/{provider_id}/metadata",
    name="sso_metadata",
    summary="A provider's SP metadata",
    responses=raw(
        "SAML2: the service provider's metadata XML; OpenID Connect: what to register at the provider",
        OidcRegistration,
        {"application/samlmetadata+xml": TEXT},
    ),
)
def provider_metadata(provider_id: str, request: Request, ctx: ContextDep) -> Response:
    provider = _settings(ctx).external_provider(provider_id)
    if isinstance(provider, Saml2Provider):
        xml = saml2.metadata_xml(provider, _acs_url(request, provider))
        return Response(
            xml,
            media_type="application/samlmetadata+xml",
            headers={"Content-Disposition": f'inline; filename="{provider.id}-metadata.xml"'},
        )
    # OIDC has no SP metadata; what the identity provider's administrator needs to register.
    return JSONResponse(
        {
            "redirect_uris": [
                _redirect_uri(request, provider),
                str(request.url_for("sso_callback_alias", provider_id=provider.id)),
            ],
            "client_id": provider.config.appCredentials.client_id,
            "token_endpoint_auth_method": provider.config.auth_method,
            "scopes": provider.config.scopes,
        }
    )


@router.get("/auth/provider/{provider_id}", include_in_schema=False)
def provider_metadata_short(provider_id: str, request: Request, ctx: ContextDep) -> Response:
    """The FAQ's shorter metadata URL."""
    return provider_metadata(provider_id, request, ctx)


@router.get(
    "/auth/provider/{provider_id}/login",
    name="sso_login",
    summary="Start a login at the identity provider",
    **REDIRECT,
)
def provider_login(provider_id: str, request: Request, ctx: ContextDep) -> Response:
    provider = _settings(ctx).external_provider(provider_id)
    secure = request.url.scheme == "https"
    try:
        if isinstance(provider, Saml2Provider):
            with ctx.db.session() as session:
                url = saml2.login_url(session, provider, _acs_url(request, provider))
            return RedirectResponse(url, status_code=303)
        url, state = oidc.login_url(ctx.db, provider, _redirect_uri(request, provider))
    except ToucanError as exc:
        return _fail(provider, exc)
    response = RedirectResponse(url, status_code=303)
    # Binds the answer to this browser: a callback carrying someone else's state is refused.
    response.set_cookie(oidc.STATE_COOKIE, state, max_age=600, path="/", httponly=True, secure=secure, samesite="lax")
    return response


@router.post(
    "/auth/provider/{provider_id}/acs", name="sso_acs", summary="SAML2 assertion consumer service", **BACK_TO_APP
)
async def provider_acs(provider_id: str, request: Request, ctx: ContextDep) -> Response:
    provider = _settings(ctx).external_provider(provider_id)
    if not isinstance(provider, Saml2Provider):
        raise ValidationError(f"The provider {provider_id!r} is not a SAML2 provider.")
    form = await request.form()
    post_data = {k: v for k, v in form.items() if isinstance(v, str)}
    acs_url = _acs_url(request, provider)

    def complete() -> str:
        with ctx.db.session() as session:
            return saml2.complete_login(session, provider, acs_url, post_data, ctx.token_ttl)

    try:
        token = await run_in_threadpool(complete)
    except ToucanError as exc:
        return _fail(provider, exc)
    return _succeed(provider, token)


def _oidc_callback(provider_id: str, request: Request, ctx: Context) -> Response:
    provider = _settings(ctx).external_provider(provider_id)
    if not isinstance(provider, OidcProvider):
        raise ValidationError(f"The provider {provider_id!r} is not an OpenID Connect provider.")
    try:
        token = oidc.complete_login(
            ctx.db, provider, dict(request.query_params), request.cookies.get(oidc.STATE_COOKIE), ctx.token_ttl
        )
    except ToucanError as exc:
        response = _fail(provider, exc)
        response.delete_cookie(oidc.STATE_COOKIE, path="/")
        return response
    return _succeed(provider, token)


@router.get(
    "/auth/provider/{provider_id}/auth_callback", name="sso_callback", summary="OpenID Connect callback", **BACK_TO_APP
)
def provider_callback(provider_id: str, request: Request, ctx: ContextDep) -> Response:
    return _oidc_callback(provider_id, request, ctx)


@router.get(
    "/auth/provider/{provider_id}/callback",
    name="sso_callback_alias",
    summary="OpenID Connect callback",
    **BACK_TO_APP,
)
def provider_callback_alias(provider_id: str, request: Request, ctx: ContextDep) -> Response:
    return _oidc_callback(provider_id, request, ctx)
