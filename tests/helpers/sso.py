"""SSO tests: instance settings and providers for the local SAML and OIDC identity providers."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from tests.auth.idp import KeyPair, OidcOP, SamlIdP

FRONTEND = "https://toucan.example.com/login"


TESTSERVER = "http://testserver"


# The OIDC clients registered at oidc-provider: one per token endpoint auth method.
OIDC_CLIENTS = [
    {
        "client_id": "basic-client",
        "client_secret": "basic-secret-0123456789abcdef0123456789",
        "method": "client_secret_basic",
    },
    {
        "client_id": "post-client",
        "client_secret": "post-secret-0123456789abcdef0123456789",
        "method": "client_secret_post",
    },
    {
        "client_id": "jwt-client",
        "client_secret": "jwt-secret-0123456789abcdef0123456789abcdef",
        "method": "client_secret_jwt",
    },
]


def put_settings(client: TestClient, headers: dict[str, str], document: dict[str, Any]) -> dict[str, Any]:
    response = client.put("/instance-settings", json=document, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def saml_provider(
    idp: SamlIdP,
    sp_keys: KeyPair,
    provider_id: str = "saml",
    *,
    entity_id: str | None = None,
    signed_requests: bool = True,
    lifetime: int | None = None,
    **config: Any,
) -> dict[str, Any]:
    """A SAML2 provider as the FAQ writes it, registered at the IdP too."""
    entity_id = entity_id or f"{TESTSERVER}/{provider_id}"
    acs = f"{TESTSERVER}/auth/provider/{provider_id}/acs"
    idp.trust_sp(entity_id, acs, sp_cert=sp_keys.cert_body if signed_requests else None, assertion_lifetime=lifetime)
    return {
        "id": provider_id,
        "name": f"SAML {provider_id}",
        "type": "SAML2",
        "icon": "key",
        "config": {
            "defaultRedirectUrl": FRONTEND,
            "security": {"authnRequestsSigned": signed_requests, "wantAssertionsSigned": True},
            "sp": {
                "entityId": entity_id,
                "assertionConsumerService": {
                    "url": acs,
                    "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
                },
                "NameIDFormat": "urn:oasis:names:tc:SAML:2.0:nameid-format:unspecified",
                "x509cert": sp_keys.cert_body,
                "privateKey": sp_keys.key_pem,
            },
            "idp": idp.provider_config(),
            **config,
        },
    }


def oidc_provider(op: OidcOP, client_id: str, **config: Any) -> dict[str, Any]:
    discovery = op.discovery()
    method = op.clients[client_id]["token_endpoint_auth_method"]
    methods = [method] + [m for m in discovery["token_endpoint_auth_methods_supported"] if m != method]
    return {
        "id": client_id,
        "name": f"OIDC {client_id}",
        "type": "OIDC",
        "icon": "openid",
        "config": {
            "providerConfig": {**discovery, "token_endpoint_auth_methods_supported": methods},
            "defaultRedirectUrl": FRONTEND,
            "appCredentials": {"client_id": client_id, "client_secret": op.clients[client_id]["client_secret"]},
            **config,
        },
    }


def fragment(location: str) -> dict[str, str]:
    """The `#token=...` or `#sso_error=...&message=...` of a redirect to the frontend."""
    assert location.startswith(FRONTEND + "#"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).fragment).items()}


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
