""" "Test this provider" and "fetch from the IdP" against the real local identity providers
(oidc-provider, SimpleSAMLphp): each step's verdict, a wrong secret or certificate named, the
SSRF guard of the connectors applied, secrets never in an answer, super admins only."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.auth.idp import KeyPair, OidcOP, SamlIdP, make_keypair
from tests.helpers.api import assert_error
from tests.helpers.sso import oidc_provider, put_settings, saml_provider
from toucan.settings import Settings

TEST = "/instance-settings/providers/test"
DISCOVER = "/instance-settings/providers/discover"


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    # The local IdPs listen on 127.0.0.1: allowed as a connector's host would be.
    return base_settings.model_copy(update={"connectors_allowed_hosts": ["127.0.0.1"]})


def _steps(body: dict[str, Any]) -> dict[str, bool | None]:
    return {s["name"]: s["ok"] for s in body["steps"]}


def test_an_oidc_provider_passes_every_step(client: TestClient, admin_headers: dict[str, str], oidc_op: OidcOP) -> None:
    for client_id in ("basic-client", "post-client", "jwt-client"):
        provider = oidc_provider(oidc_op, client_id)
        response = client.post(TEST, json={"provider": provider}, headers=admin_headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["ok"] is True, body
        assert _steps(body) == {
            "settings": True,
            "discovery document": True,
            "signing keys (jwks_uri)": True,
            "client credentials": True,
            "redirect URI": None,
        }, body
        assert f"/auth/provider/{client_id}/auth_callback" in body["steps"][-1]["detail"]
        assert provider["config"]["appCredentials"]["client_secret"] not in response.text


def test_a_wrong_secret_and_a_stale_endpoint_are_named(
    client: TestClient, admin_headers: dict[str, str], oidc_op: OidcOP
) -> None:
    provider = oidc_provider(oidc_op, "post-client")
    provider["config"]["appCredentials"]["client_secret"] = "not-the-secret-0123456789abcdef"
    provider["config"]["providerConfig"]["userinfo_endpoint"] = f"{oidc_op.issuer}/old-userinfo"
    body = client.post(TEST, json={"provider": provider}, headers=admin_headers).json()
    assert body["ok"] is False
    steps = {s["name"]: s for s in body["steps"]}
    assert steps["client credentials"]["ok"] is False
    assert "check client_id and client_secret" in steps["client credentials"]["detail"]
    assert steps["discovery document"]["ok"] is False
    assert "userinfo_endpoint" in steps["discovery document"]["detail"]
    assert "not-the-secret" not in str(body)


def test_the_stored_secret_stands_behind_the_mask(
    client: TestClient, admin_headers: dict[str, str], oidc_op: OidcOP
) -> None:
    """The form sends what GET /instance-settings gave: the mask stands for the stored secret."""
    provider = oidc_provider(oidc_op, "basic-client")
    put_settings(client, admin_headers, {"auth": {"providers": [{"id": "local", "type": "local"}, provider]}})
    masked = client.get("/instance-settings?format=json", headers=admin_headers).json()["auth"]["providers"][1]
    assert masked["config"]["appCredentials"]["client_secret"] == "********"
    body = client.post(TEST, json={"provider": masked}, headers=admin_headers).json()
    assert _steps(body)["client credentials"] is True, body
    # A new provider cannot borrow a secret through the mask.
    other = {**copy.deepcopy(masked), "id": "elsewhere"}
    error = assert_error(client.post(TEST, json={"provider": other}, headers=admin_headers), 400)
    assert "client_secret" in error["message"] and "none is stored" in error["message"]


def test_a_saml_provider_passes_and_a_wrong_certificate_fails(
    client: TestClient, admin_headers: dict[str, str], saml_idp: SamlIdP, sp_keys: KeyPair
) -> None:
    provider = saml_provider(saml_idp, sp_keys, "corp")
    body = client.post(TEST, json={"provider": provider}, headers=admin_headers).json()
    assert body["ok"] is True, body
    assert _steps(body) == {
        "settings": True,
        "IdP certificate": True,
        "IdP metadata": True,
        "sign-on URL": True,
        "SP key pair": True,
        "at the IdP": None,
    }, body
    assert sp_keys.key_pem not in str(body)

    other = make_keypair("not-the-idp")
    provider["config"]["idp"]["x509cert"] = other.cert_body
    provider["config"]["sp"]["privateKey"] = other.key_pem  # not sp.x509cert's key either
    body = client.post(TEST, json={"provider": provider}, headers=admin_headers).json()
    assert body["ok"] is False
    steps = {s["name"]: s for s in body["steps"]}
    assert steps["IdP metadata"]["ok"] is False and "x509cert is not one of" in steps["IdP metadata"]["detail"]
    assert steps["SP key pair"]["ok"] is False
    assert other.key_pem not in str(body)


def test_invalid_providers_answer_400_with_the_field(client: TestClient, admin_headers: dict[str, str]) -> None:
    bad = {"id": "x", "type": "OIDC", "config": {"defaultRedirectUrl": "https://t.example.com/login"}}
    error = assert_error(client.post(TEST, json={"provider": bad}, headers=admin_headers), 400)
    assert error["message"].startswith("Invalid provider at config.providerConfig")
    assert {e["path"] for e in error["details"]["errors"]} >= {"config.providerConfig", "config.appCredentials"}
    assert_error(client.post(TEST, json={"provider": "nope"}, headers=admin_headers), 400)
    assert_error(client.post(DISCOVER, json={"type": "LDAP", "url": "x"}, headers=admin_headers), 400)


def test_discover_reads_the_idps_own_description(
    client: TestClient, admin_headers: dict[str, str], oidc_op: OidcOP, saml_idp: SamlIdP
) -> None:
    oidc = client.post(DISCOVER, json={"type": "OIDC", "url": oidc_op.issuer}, headers=admin_headers)
    assert oidc.status_code == 200, oidc.text
    assert oidc.json()["document"]["token_endpoint"] == oidc_op.discovery()["token_endpoint"]
    saml = client.post(DISCOVER, json={"type": "SAML2", "url": saml_idp.entity_id}, headers=admin_headers)
    assert saml.status_code == 200, saml.text
    idp = saml.json()["document"]
    assert idp["entityId"] == saml_idp.entity_id
    assert idp["singleSignOnService"]["url"] == saml_idp.sso_url
    assert idp["x509cert"] == saml_idp.keys.cert_body
    # Not an IdP: a clear 400.
    not_meta = client.post(DISCOVER, json={"type": "SAML2", "url": f"{oidc_op.issuer}/jwks"}, headers=admin_headers)
    assert "not SAML metadata" in assert_error(not_meta, 400)["message"]


def test_the_ssrf_guard_applies_without_the_allowed_hosts(
    base_settings: Settings, db: Any, admin_headers: dict[str, str], oidc_op: OidcOP
) -> None:
    """As for connectors: an IdP on this host or a private network is reached only when
    TOUCAN_CONNECTORS_ALLOWED_HOSTS lists it; the cloud's metadata address never."""
    from toucan.app import create_api

    with TestClient(create_api(base_settings, db), raise_server_exceptions=False) as guarded:
        token = admin_headers
        body = guarded.post(TEST, json={"provider": oidc_provider(oidc_op, "basic-client")}, headers=token).json()
        steps = {s["name"]: s for s in body["steps"]}
        assert steps["discovery document"]["ok"] is False
        assert "TOUCAN_CONNECTORS_ALLOWED_HOSTS" in steps["discovery document"]["detail"]
        assert steps["client credentials"]["ok"] is False
        metadata = guarded.post(DISCOVER, json={"type": "OIDC", "url": "http://169.254.169.254/latest"}, headers=token)
        assert "link-local" in assert_error(metadata, 400, "host_not_allowed")["message"]
        file_url = guarded.post(DISCOVER, json={"type": "SAML2", "url": "file:///etc/passwd"}, headers=token)
        assert_error(file_url, 400)


def test_viewers_builders_and_admins_are_refused(
    client: TestClient, admin_headers: dict[str, str], make_user: Any, oidc_op: OidcOP
) -> None:
    """As the attacker: the routes fetch URLs from the server and read the stored secrets;
    only a super admin (who edits the instance settings) may call them."""
    client.post("/small-apps", json={"id": "shop", "name": "Shop"}, headers=admin_headers).raise_for_status()
    viewer = make_user("viewer", privileges={"shop": ["view"]})
    builder = make_user("builder", privileges={"shop": ["contribute"]})
    admin = make_user("plain-admin", role="ADMIN")
    provider = oidc_provider(oidc_op, "basic-client")
    for headers in (viewer, builder, admin):
        assert_error(client.post(TEST, json={"provider": provider}, headers=headers), 403)
        assert_error(client.post(DISCOVER, json={"type": "OIDC", "url": oidc_op.issuer}, headers=headers), 403)
    assert_error(client.post(TEST, json={"provider": provider}), 401)


def _oidc_document(issuer: str = "https://op.example.com") -> dict[str, Any]:
    return {
        "id": "op",
        "type": "OIDC",
        "config": {
            "defaultRedirectUrl": "https://toucan.example.com/login",
            "providerConfig": {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/auth",
                "token_endpoint": f"{issuer}/token",
                "jwks_uri": f"{issuer}/jwks",
            },
            "appCredentials": {"client_id": "app", "client_secret": "s3cret-value"},
        },
    }


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        # The IdP answers garbage everywhere: each step says so, none raises.
        (
            {"/.well-known/openid-configuration": (404, b"no"), "/jwks": (200, b"[1, 2]"), "/token": (500, b"oops")},
            {"discovery document": False, "signing keys (jwks_uri)": False, "client credentials": None},
        ),
        (
            {
                "/.well-known/openid-configuration": (200, b'{"issuer": "https://elsewhere"}'),
                "/jwks": (200, b'{"keys": [{"kty": "RSA"}]}'),
                "/token": (400, b'{"error": "invalid_client"}'),
            },
            {"discovery document": False, "signing keys (jwks_uri)": False, "client credentials": False},
        ),
        (
            {
                "/.well-known/openid-configuration": (200, b"not json"),
                "/jwks": (200, b'{"keys": []}'),
                "/token": (400, b'{"error": "invalid_grant"}'),
            },
            {"discovery document": False, "signing keys (jwks_uri)": False, "client credentials": True},
        ),
    ],
)
def test_each_oidc_step_answers_whatever_the_idp_sends(
    answers: dict[str, tuple[int, bytes]], expected: dict[str, bool | None]
) -> None:
    from toucan.auth.provider_check import Fetched, check_provider, parse_provider

    sent: list[tuple[str, str, bytes | None]] = []

    def fetch(method: str, url: str, headers: dict[str, str], body: bytes | None) -> Fetched:
        sent.append((method, url, body))
        path = url.removeprefix("https://op.example.com")
        status, content = answers[path]
        return Fetched(status, {}, content)

    body = check_provider(parse_provider(_oidc_document()), fetch, callback_url="https://t.example.com/cb")
    assert {k: v for k, v in _steps(body).items() if k in expected} == expected
    assert body["ok"] is False
    assert "s3cret-value" not in str(body)
    # The client's secret went to the token endpoint only, in the form (client_secret_basic: a header).
    assert [m for m, _, _ in sent] == ["GET", "GET", "POST"]
