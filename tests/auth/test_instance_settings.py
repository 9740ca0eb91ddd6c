"""`instance_settings.cson`: download and upload by a super admin, validation with line and
path, masked secrets, history, and what it changes at the login page."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.auth.idp import KeyPair, SamlIdP
from tests.helpers.api import SUPER_ADMIN_PASSWORD, assert_error, basic
from tests.helpers.sso import saml_provider
from toucan.auth.instance_settings import MASK
from toucan.formats import parse_cson

# The FAQ's complete SAML2 example and its OpenID Connect template, as an operator pastes
# them into instance_settings.cson (placeholders filled in, comments kept).
FAQ_DOCUMENT = textwrap.dedent(
    """\
    # instance_settings.cson
    auth:
      providers: [
        {
          id: 'local'
          type: 'local'
          name: 'Username and password'
        }
        {
          id: 'corporate-saml'
          name: 'Corporate SSO'
          type: 'SAML2'
          icon: 'building'
          config:
            defaultRedirectUrl: 'https://toucan.example.com'
            security: # Optional, see https://github.com/onelogin/python-saml#settings for reference
              authnRequestsSigned: false
              signedMetaData: true
            sp: # This part will be used to generate the metadata XML file
              entityId: 'https://api-toucan.example.com'
              assertionConsumerService:
                url: 'https://api-toucan.example.com/auth/provider/corporate-saml/acs'
                binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST'
              NameIDFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:unspecified'
              x509cert: '{sp_cert}'
            idp: # This part is where you declare the information about the third party identity provider
              entityId: 'https://idp.example.com/metadata'
              singleSignOnService:
                url: 'https://idp.example.com/sso'
                binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect'
              x509cert: '{idp_cert}'
            user_provisioning: false # users won't be created on-the-fly
            mapping:
              nameId: '.Email' # replace the username with the "Email" attribute
              userTemplate:
                privileges:
                  SmallAppName: ["view"] # users will see all small apps
        }
        {
          id: 'google'
          name: 'Google'
          type: 'OIDC'
          icon: 'google'
          config:
            providerConfig:
              issuer: "https://accounts.google.com"
              authorization_endpoint: "https://accounts.google.com/o/oauth2/v2/auth"
              token_endpoint: "https://oauth2.googleapis.com/token"
              userinfo_endpoint: "https://openidconnect.googleapis.com/v1/userinfo"
              revocation_endpoint: "https://oauth2.googleapis.com/revoke"
              jwks_uri: "https://www.googleapis.com/oauth2/v3/certs"
              response_types_supported: [
                "code"
                "token"
                "id_token"
                "code token"
                "code id_token"
                "token id_token"
                "code token id_token"
                "none"
              ]
              subject_types_supported: [
                "public"
              ]
              id_token_signing_alg_values_supported: [
                "RS256"
              ]
              scopes_supported: [
                "openid"
                "email"
                "profile"
              ]
              token_endpoint_auth_methods_supported: [
                "client_secret_post"
                "client_secret_basic"
              ]
              claims_supported: [
                "aud"
                "email"
                "email_verified"
                "sub"
              ]
              code_challenge_methods_supported: [
                "plain"
                "S256"
              ]
            defaultRedirectUrl: 'https://toucan.example.com'
            appCredentials:
              client_id: 'your app-client id'
              client_secret: 'your app-secret id'
            userInfoRequest:
              method: "GET"
              behavior:
                use_authorization_header: true
              user_info_schema:
                ignore: ["email_verified"]
        }
      ]
    """
)


@pytest.fixture
def faq_text(sp_keys: KeyPair, saml_idp_keys: KeyPair) -> str:
    return FAQ_DOCUMENT.replace("{sp_cert}", sp_keys.cert_body).replace("{idp_cert}", saml_idp_keys.cert_body)


@pytest.fixture(scope="session")
def saml_idp_keys() -> KeyPair:
    from tests.auth.idp import make_keypair

    return make_keypair("faq-idp")


def put_cson(client: TestClient, headers: dict[str, str], text: str) -> Any:
    return client.put("/instance-settings", content=text.encode(), headers={**headers, "Content-Type": "text/plain"})


def test_without_saved_settings_only_the_local_provider(client: TestClient, admin_headers: dict[str, str]) -> None:
    assert [p["id"] for p in client.get("/auth/providers").json()] == ["local"]
    document = client.get("/instance-settings?format=json", headers=admin_headers).json()
    assert document["auth"]["providers"][0]["type"] == "local"
    assert client.get("/instance-settings/history", headers=admin_headers).json() == []


def test_the_faqs_examples_are_accepted_as_written(
    client: TestClient, admin_headers: dict[str, str], faq_text: str
) -> None:
    response = put_cson(client, admin_headers, faq_text)
    assert response.status_code == 200, response.text
    providers = client.get("/auth/providers").json()
    assert [(p["id"], p["type"]) for p in providers] == [
        ("local", "local"),
        ("corporate-saml", "SAML2"),
        ("google", "OIDC"),
    ]
    assert providers[2]["login_url"] == "http://testserver/auth/provider/google/login"
    assert "your app-secret id" not in response.text


def test_cson_download_masks_secrets_and_round_trips(
    client: TestClient, admin_headers: dict[str, str], faq_text: str, sp_keys: KeyPair
) -> None:
    assert put_cson(client, admin_headers, faq_text).status_code == 200
    downloaded = client.get("/instance-settings", headers=admin_headers)
    assert downloaded.status_code == 200
    assert downloaded.headers["content-type"].startswith("text/plain")
    assert "your app-secret id" not in downloaded.text
    assert f"client_secret: '{MASK}'" in downloaded.text or f'client_secret: "{MASK}"' in downloaded.text
    # Uploading the download unchanged keeps the stored secret.
    assert put_cson(client, admin_headers, downloaded.text).status_code == 200
    versions = client.get("/instance-settings/history", headers=admin_headers).json()
    assert [v["version"] for v in versions] == sorted((v["version"] for v in versions), reverse=True)
    assert len(versions) == 2 and versions[0]["createdBy"] == "admin"
    from toucan.auth import instance_settings

    db = client.app.state.ctx.db  # type: ignore[attr-defined]
    with db.session() as session:
        stored = instance_settings.current_document(session)
    google = next(p for p in stored["auth"]["providers"] if p["id"] == "google")
    assert google["config"]["appCredentials"]["client_secret"] == "your app-secret id"


def test_json_format_both_ways(client: TestClient, admin_headers: dict[str, str]) -> None:
    document = {"auth": {"providers": [{"id": "local", "type": "local"}]}, "features": {"comments": True}}
    assert client.put("/instance-settings?format=json", json=document, headers=admin_headers).status_code == 200
    assert client.get("/instance-settings?format=json", headers=admin_headers).json() == document


def test_a_mask_with_no_stored_secret_is_refused(client: TestClient, admin_headers: dict[str, str]) -> None:
    document = {
        "auth": {
            "providers": [
                {
                    "id": "g",
                    "type": "OIDC",
                    "config": {
                        "defaultRedirectUrl": "https://toucan.example.com",
                        "providerConfig": {
                            "issuer": "https://i",
                            "authorization_endpoint": "https://i/a",
                            "token_endpoint": "https://i/t",
                            "jwks_uri": "https://i/k",
                        },
                        "appCredentials": {"client_id": "c", "client_secret": MASK},
                    },
                }
            ]
        }
    }
    error = assert_error(client.put("/instance-settings", json=document, headers=admin_headers), 400)
    assert "auth.providers[0].config.appCredentials.client_secret" in error["message"]


def test_syntax_error_gives_the_line_and_changes_nothing(
    client: TestClient, admin_headers: dict[str, str], faq_text: str
) -> None:
    assert put_cson(client, admin_headers, faq_text).status_code == 200
    broken = faq_text.replace("type: 'OIDC'", "type: 'OIDC", 1)
    error = assert_error(put_cson(client, admin_headers, broken), 400, "invalid_cson")
    assert "line" in error["message"] and error["details"]["line"]
    assert len(client.get("/instance-settings/history", headers=admin_headers).json()) == 1
    assert len(client.get("/auth/providers").json()) == 3


def test_validation_errors_give_path_and_line(client: TestClient, admin_headers: dict[str, str], faq_text: str) -> None:
    broken = "\n".join(line for line in faq_text.splitlines() if "jwks_uri" not in line)
    error = assert_error(put_cson(client, admin_headers, broken), 400, "validation_error")
    assert "auth.providers[2].config.providerConfig.jwks_uri" in error["message"]
    first = error["details"]["errors"][0]
    assert first["path"] == "auth.providers[2].config.providerConfig.jwks_uri"
    line = broken.splitlines()[first["line"] - 1]
    assert "providerConfig" in line
    # A typo in a key is named.
    typo = faq_text.replace("NameIDFormat:", "NameIdFormat:")
    error = assert_error(put_cson(client, admin_headers, typo), 400, "validation_error")
    paths = [e["path"] for e in error["details"]["errors"]]
    assert "auth.providers[1].config.sp.NameIdFormat" in paths
    line = typo.splitlines()[error["details"]["errors"][0]["line"] - 1]
    assert "NameIdFormat" in line


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"type": "LDAP"}, "does not match any of the expected tags"),
        ({"id": "has space"}, "should match pattern"),
        ({"config": {"mapping": {"nameId": ".Email["}}}, "not a valid jq filter"),
        ({"config": {"defaultRedirectUrl": "toucan.example.com"}}, "absolute URL"),
        ({"config": {"idp": {"x509cert": "not a certificate"}}}, "not an X.509 certificate"),
        ({"config": {"security": {"authnRequestsSigned": True}}}, "sp.privateKey"),
    ],
)
def test_invalid_providers_are_refused_with_a_reason(
    client: TestClient,
    admin_headers: dict[str, str],
    saml_idp: SamlIdP,
    sp_keys: KeyPair,
    change: dict[str, Any],
    message: str,
) -> None:
    provider = saml_provider(saml_idp, sp_keys, signed_requests=False)
    del provider["config"]["sp"]["privateKey"]
    for key, value in change.items():
        if key == "config":
            for sub, sub_value in value.items():
                if isinstance(sub_value, dict) and isinstance(provider["config"].get(sub), dict):
                    provider["config"][sub] = {**provider["config"][sub], **sub_value}
                else:
                    provider["config"][sub] = sub_value
        else:
            provider[key] = value
    response = client.put("/instance-settings", json={"auth": {"providers": [provider]}}, headers=admin_headers)
    error = assert_error(response, 400, "validation_error")
    assert message in error["message"], error


def test_duplicate_provider_ids_are_refused(client: TestClient, admin_headers: dict[str, str]) -> None:
    document = {"auth": {"providers": [{"id": "local", "type": "local"}, {"id": "local", "type": "local"}]}}
    error = assert_error(client.put("/instance-settings", json=document, headers=admin_headers), 400)
    assert "two providers have the id 'local'" in error["message"]


def test_only_a_super_admin_reads_or_writes(client: TestClient, make_user: Any) -> None:
    admin = make_user("an-admin", role="ADMIN")
    assert_error(client.get("/instance-settings", headers=admin), 403)
    assert_error(client.put("/instance-settings", json={}, headers=admin), 403)
    assert_error(client.get("/instance-settings"), 401)


def test_local_provider_can_be_turned_off(client: TestClient, admin_headers: dict[str, str], oidc_doc: Any) -> None:
    response = client.put("/instance-settings", json=oidc_doc, headers=admin_headers)
    assert response.status_code == 200
    assert response.json()["warnings"] and "POST /login" in response.json()["warnings"][0]
    assert [p["type"] for p in client.get("/auth/providers").json()] == ["OIDC"]
    error = assert_error(client.post("/login", json={"username": "admin", "password": SUPER_ADMIN_PASSWORD}), 403)
    assert error["code"] == "local_login_disabled"
    # Tokens issued before keep working, so the super admin can turn it back on.
    assert client.get("/me", headers=admin_headers).status_code == 200
    # HTTP Basic stays the super admin's recovery path, and only theirs.
    assert client.get("/me", headers=basic("admin", SUPER_ADMIN_PASSWORD)).status_code == 200
    client.post(
        "/users", json={"username": "eve", "password": "eve-password-1"}, headers=admin_headers
    ).raise_for_status()
    error = assert_error(client.get("/me", headers=basic("eve", "eve-password-1")), 403)
    assert error["code"] == "local_login_disabled"


@pytest.fixture
def oidc_doc() -> dict[str, Any]:
    return {
        "auth": {
            "providers": [
                {
                    "id": "g",
                    "type": "oidc",  # any case
                    "discrete": True,
                    "config": {
                        "defaultRedirectUrl": "https://toucan.example.com",
                        "providerConfig": {
                            "issuer": "https://i.example.com",
                            "authorization_endpoint": "https://i.example.com/a",
                            "token_endpoint": "https://i.example.com/t",
                            "jwks_uri": "https://i.example.com/k",
                        },
                        "appCredentials": {"client_id": "c", "client_secret": "s"},
                    },
                }
            ]
        }
    }


def test_comments_end_lines_and_fill_blocks_but_not_strings() -> None:
    text = "a: 'x # not a comment' # a comment\n###\nblock\n###\nb: \"#{y}\"\n"
    assert parse_cson(text, 64) == {"a": "x # not a comment", "b": "#{y}"}


def test_unknown_saml_security_keys_are_warned_about(
    client: TestClient, admin_headers: dict[str, str], faq_text: str
) -> None:
    response = put_cson(client, admin_headers, faq_text)
    assert any("security.signedMetaData" in w and "signMetadata" in w for w in response.json()["warnings"])


def test_stored_settings_that_no_longer_validate_keep_their_valid_providers(
    client: TestClient, admin_headers: dict[str, str], oidc_doc: dict[str, Any]
) -> None:
    from toucan.db.models import InstanceSettingsVersion

    broken = {"auth": {"providers": [{"id": "local", "type": "local"}, {"id": "x", "type": "SAML2", "config": {}}]}}
    db = client.app.state.ctx.db  # type: ignore[attr-defined]
    with db.session() as session:
        session.add(InstanceSettingsVersion(content=broken, created_by="an older version"))
    assert [p["id"] for p in client.get("/auth/providers").json()] == ["local"]
    assert client.post("/login", json={"username": "admin", "password": SUPER_ADMIN_PASSWORD}).status_code == 200
