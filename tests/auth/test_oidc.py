"""OpenID Connect login through oidc-provider (npm): the code flow with each client
authentication method, userinfo variants, and the errors an operator can act on."""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.auth.idp import OidcOP, oidc_idp_login, run_oidc_provider
from tests.helpers import free_port
from tests.helpers.api import bearer
from tests.helpers.sso import OIDC_CLIENTS, TESTSERVER, fragment, oidc_provider, path_of, put_settings


def settings_with(*providers: dict[str, Any]) -> dict[str, Any]:
    return {"auth": {"providers": [{"id": "local", "type": "local"}, *providers]}}


def login(
    client: TestClient, browser: httpx.Client, provider_id: str, user: str = "alice", password: str | None = None
) -> dict[str, str]:
    """Click the provider's button, log in at the IdP, follow its redirect back to Toucan."""
    response = client.get(f"/auth/provider/{provider_id}/login", follow_redirects=False)
    assert response.status_code == 303, response.text
    callback = oidc_idp_login(browser, response.headers["location"], user, password or f"{user}-pw")
    assert str(callback).startswith(TESTSERVER), callback
    response = client.get(path_of(str(callback)), follow_redirects=False)
    assert response.status_code == 303, response.text
    return fragment(response.headers["location"])


@pytest.mark.parametrize("client_id", [c["client_id"] for c in OIDC_CLIENTS])
def test_code_flow_with_each_client_auth_method(
    client: TestClient, admin_headers: dict[str, str], oidc_op: OidcOP, idp_browser: httpx.Client, client_id: str
) -> None:
    provider = oidc_provider(oidc_op, client_id)
    assert (
        provider["config"]["providerConfig"]["token_endpoint_auth_methods_supported"][0]
        == (oidc_op.clients[client_id]["token_endpoint_auth_method"])
    )
    put_settings(client, admin_headers, settings_with(provider))
    result = login(client, idp_browser, client_id)
    assert set(result) == {"token"}, result
    me = client.get("/me", headers=bearer(result["token"])).json()
    # No mapping: the username is the verified email; claims become attributes.
    assert me["username"] == "alice@example.com"
    assert me["attributes"]["sub"] == "alice"
    assert me["attributes"]["email_verified"] is True
    assert client.get("/users/alice@example.com", headers=admin_headers).json()["provider"] == client_id


def test_authorization_request_has_pkce_state_and_nonce(
    client: TestClient, admin_headers: dict[str, str], oidc_op: OidcOP
) -> None:
    put_settings(client, admin_headers, settings_with(oidc_provider(oidc_op, "basic-client")))
    response = client.get("/auth/provider/basic-client/login", follow_redirects=False)
    params = httpx.URL(response.headers["location"]).params
    assert params["code_challenge_method"] == "S256" and params["code_challenge"]
    assert params["state"] and params["nonce"]
    assert params["scope"] == "openid email"
    assert params["redirect_uri"] == f"{TESTSERVER}/auth/provider/basic-client/auth_callback"
    assert "toucan_sso_state" in response.headers["set-cookie"]
    assert "httponly" in response.headers["set-cookie"].lower()


def test_userinfo_by_get_with_the_authorization_header(
    client: TestClient, admin_headers: dict[str, str], oidc_op: OidcOP, idp_browser: httpx.Client
) -> None:
    provider = oidc_provider(
        oidc_op,
        "basic-client",
        userInfoRequest={
            "method": "GET",
            "behavior": {"use_authorization_header": True},
            "headers": {"X-Whatever": "hola"},
        },
        scopes=["openid", "email", "profile"],
    )
    put_settings(client, admin_headers, settings_with(provider))
    result = login(client, idp_browser, "basic-client", "bob")
    assert client.get("/me", headers=bearer(result["token"])).json()["username"] == "bob@example.com"


def test_userinfo_by_post_with_the_token_in_the_body(
    client: TestClient, admin_headers: dict[str, str], oidc_op: OidcOP, idp_browser: httpx.Client
) -> None:
    provider = oidc_provider(oidc_op, "post-client", userInfoRequest={"method": "POST"})
    put_settings(client, admin_headers, settings_with(provider))
    assert "token" in login(client, idp_browser, "post-client", "bob")


def test_email_verified_as_a_string_is_refused_by_default(
    client: TestClient, admin_headers: dict[str, str], oidc_op: OidcOP, idp_browser: httpx.Client
) -> None:
    put_settings(client, admin_headers, settings_with(oidc_provider(oidc_op, "basic-client")))
    result = login(client, idp_browser, "basic-client", "carol")
    assert result["sso_error"] == "userinfo_invalid"
    assert "email_verified" in result["message"] and "ignore" in result["message"]


@pytest.mark.parametrize("schema", [{"ignore": ["email_verified"]}, {"validate_only": ["sub", "email"]}])
def test_email_verified_as_a_string_is_accepted_when_relaxed(
    client: TestClient,
    admin_headers: dict[str, str],
    oidc_op: OidcOP,
    idp_browser: httpx.Client,
    schema: dict[str, Any],
) -> None:
    provider = oidc_provider(oidc_op, "basic-client", userInfoRequest={"user_info_schema": schema})
    put_settings(client, admin_headers, settings_with(provider))
    result = login(client, idp_browser, "basic-client", "carol")
    assert client.get("/me", headers=bearer(result["token"])).json()["username"] == "carol@example.com"


def test_the_faqs_callback_url_works_too(
    client: TestClient, admin_headers: dict[str, str], oidc_op: OidcOP, idp_browser: httpx.Client
) -> None:
    provider = oidc_provider(oidc_op, "basic-client", redirectUri=f"{TESTSERVER}/auth/provider/basic-client/callback")
    put_settings(client, admin_headers, settings_with(provider))
    assert "token" in login(client, idp_browser, "basic-client")


def test_mapping_and_template_apply_to_oidc(
    client: TestClient, admin_headers: dict[str, str], oidc_op: OidcOP, idp_browser: httpx.Client
) -> None:
    client.post("/small-apps", json={"id": "sales", "name": "Sales"}, headers=admin_headers)
    provider = oidc_provider(
        oidc_op,
        "basic-client",
        scopes=["openid", "email", "profile"],
        mapping={"nameId": ".sub", "groups": ".groups", "userTemplate": {"privileges": {"sales": ["view"]}}},
    )
    put_settings(client, admin_headers, settings_with(provider))
    result = login(client, idp_browser, "basic-client")
    me = client.get("/me", headers=bearer(result["token"])).json()
    assert (me["username"], me["groups"], me["privileges"]) == ("alice", ["analysts", "staff"], {"sales": ["view"]})


# --- errors an operator can act on -------------------------------------------------------------------


def test_redirect_uri_mismatch_is_shown_by_the_idp_and_logged(
    client: TestClient,
    admin_headers: dict[str, str],
    oidc_op: OidcOP,
    idp_browser: httpx.Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider = oidc_provider(oidc_op, "basic-client", redirectUri="https://toucan.example.com/not-registered")
    put_settings(client, admin_headers, settings_with(provider))
    with caplog.at_level(logging.INFO, logger="toucan"):
        response = client.get("/auth/provider/basic-client/login", follow_redirects=False)
    page = idp_browser.get(response.headers["location"])
    assert page.status_code == 400
    assert "redirect_uri" in page.text
    # The operator finds the URL to register in the logs (and at /auth/provider/<id>/metadata).
    assert "redirect_uri=https://toucan.example.com/not-registered" in caplog.text
    info = client.get("/auth/provider/basic-client/metadata").json()
    assert info["redirect_uris"][0] == "https://toucan.example.com/not-registered"


def test_wrong_client_secret(
    client: TestClient, admin_headers: dict[str, str], oidc_op: OidcOP, idp_browser: httpx.Client
) -> None:
    provider = oidc_provider(oidc_op, "basic-client")
    provider["config"]["appCredentials"]["client_secret"] = "not-the-secret"
    put_settings(client, admin_headers, settings_with(provider))
    result = login(client, idp_browser, "basic-client")
    assert result["sso_error"] == "invalid_client"
    assert "client_secret" in result["message"]


def test_idp_unreachable(
    client: TestClient,
    admin_headers: dict[str, str],
    oidc_op: OidcOP,
    idp_browser: httpx.Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider = oidc_provider(oidc_op, "basic-client")
    closed = f"http://127.0.0.1:{free_port()}/token"
    provider["config"]["providerConfig"]["token_endpoint"] = closed
    put_settings(client, admin_headers, settings_with(provider))
    with caplog.at_level(logging.INFO, logger="toucan"):
        result = login(client, idp_browser, "basic-client")
    assert result["sso_error"] == "idp_unreachable"
    assert closed in result["message"]
    assert "idp_unreachable" in caplog.text
    assert oidc_op.clients["basic-client"]["client_secret"] not in caplog.text


def test_callback_from_another_browser_is_refused(
    client: TestClient, admin_headers: dict[str, str], oidc_op: OidcOP, idp_browser: httpx.Client
) -> None:
    put_settings(client, admin_headers, settings_with(oidc_provider(oidc_op, "basic-client")))
    response = client.get("/auth/provider/basic-client/login", follow_redirects=False)
    callback = oidc_idp_login(idp_browser, response.headers["location"], "alice", "alice-pw")
    client.cookies.clear()  # the callback link opened in another browser (login CSRF)
    response = client.get(path_of(str(callback)), follow_redirects=False)
    assert fragment(response.headers["location"])["sso_error"] == "state_mismatch"


def test_wrong_issuer_in_provider_config(
    client: TestClient, admin_headers: dict[str, str], oidc_op: OidcOP, idp_browser: httpx.Client
) -> None:
    provider = oidc_provider(oidc_op, "basic-client")
    provider["config"]["providerConfig"]["issuer"] = "https://accounts.example.com"
    put_settings(client, admin_headers, settings_with(provider))
    result = login(client, idp_browser, "basic-client")
    assert result["sso_error"] == "invalid_id_token"
    assert "issuer" in result["message"]


def test_unknown_user_with_provisioning_off(
    client: TestClient, admin_headers: dict[str, str], oidc_op: OidcOP, idp_browser: httpx.Client
) -> None:
    put_settings(client, admin_headers, settings_with(oidc_provider(oidc_op, "basic-client", user_provisioning=False)))
    result = login(client, idp_browser, "basic-client")
    assert result["sso_error"] == "unknown_user"


@pytest.fixture(scope="module")
def skewed_op(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcOP]:
    """An identity provider whose clock is 10 minutes fast."""
    client = copy.deepcopy(OIDC_CLIENTS[0])
    registered = {
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
        "token_endpoint_auth_method": client["method"],
        "redirect_uris": [f"{TESTSERVER}/auth/provider/{client['client_id']}/auth_callback"],
    }
    with run_oidc_provider(tmp_path_factory.mktemp("oidc-skewed"), [registered], clock_offset_seconds=600) as op:
        yield op


def test_clock_skew_is_explained(
    client: TestClient, admin_headers: dict[str, str], skewed_op: OidcOP, idp_browser: httpx.Client
) -> None:
    put_settings(client, admin_headers, settings_with(oidc_provider(skewed_op, "basic-client")))
    result = login(client, idp_browser, "basic-client")
    assert result["sso_error"] == "clock_skew"
    assert "NTP" in result["message"]


def test_id_token_signed_by_another_key_is_refused(
    client: TestClient, admin_headers: dict[str, str], oidc_op: OidcOP, skewed_op: OidcOP, idp_browser: httpx.Client
) -> None:
    provider = oidc_provider(oidc_op, "basic-client")
    # Another identity provider's keys: the id_token's signature cannot match them.
    provider["config"]["providerConfig"]["jwks_uri"] = skewed_op.discovery()["jwks_uri"]
    put_settings(client, admin_headers, settings_with(provider))
    result = login(client, idp_browser, "basic-client")
    assert result["sso_error"] == "wrong_certificate"
    assert "jwks_uri" in result["message"]
