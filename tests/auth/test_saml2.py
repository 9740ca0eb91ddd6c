"""SAML2 login through Debian's SimpleSAMLphp (its real login form), and every way its answer is refused."""

from __future__ import annotations

import base64
import copy
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from lxml import etree

from tests.auth.idp import KeyPair, SamlIdP, make_keypair, saml_idp_login
from tests.helpers.api import assert_error, bearer
from tests.helpers.sso import fragment, path_of, put_settings, saml_provider
from toucan.app import create_api
from toucan.db.engine import Database
from toucan.settings import Settings

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS = {"samlp": SAMLP, "saml": SAML, "ds": "http://www.w3.org/2000/09/xmldsig#"}


def start(client: TestClient, provider_id: str, **kw: Any) -> str:
    response = client.get(f"/auth/provider/{provider_id}/login", follow_redirects=False, **kw)
    assert response.status_code == 303, response.text
    location: str = response.headers["location"]
    return location


def post_response(client: TestClient, form: dict[str, str], target: str | None = None, **kw: Any) -> dict[str, str]:
    """POST the IdP's answer to the ACS URL like the browser does; the fragment Toucan redirects to."""
    data = {k: v for k, v in form.items() if k in ("SAMLResponse", "RelayState")}
    response = client.post(target or path_of(form["action"]), data=data, follow_redirects=False, **kw)
    assert response.status_code == 303, response.text
    return fragment(response.headers["location"])


def idp_answer(
    client: TestClient, browser: httpx.Client, provider_id: str = "saml", user: str = "alice"
) -> dict[str, str]:
    """Start a login at Toucan, log in at SimpleSAMLphp's form; the form it posts back."""
    return saml_idp_login(browser, start(client, provider_id), user, f"{user}-pw")


def settings_with(*providers: dict[str, Any]) -> dict[str, Any]:
    return {"auth": {"providers": [{"id": "local", "type": "local"}, *providers]}}


def response_xml(form: dict[str, str]) -> Any:
    return etree.fromstring(base64.b64decode(form["SAMLResponse"]))


def with_xml(form: dict[str, str], root: Any) -> dict[str, str]:
    return {**form, "SAMLResponse": base64.b64encode(etree.tostring(root)).decode()}


@pytest.fixture
def saml(client: TestClient, admin_headers: dict[str, str], saml_idp: SamlIdP, sp_keys: KeyPair) -> dict[str, Any]:
    """One SAML2 provider, `saml`, configured as in the FAQ."""
    provider = saml_provider(saml_idp, sp_keys)
    put_settings(client, admin_headers, settings_with(provider))
    return provider


def test_full_sp_initiated_login_with_signed_requests(
    client: TestClient, saml: dict[str, Any], idp_browser: httpx.Client
) -> None:
    start_url = start(client, "saml")
    # python3-saml signed the AuthnRequest; SimpleSAMLphp checks it (validate.authnrequest).
    assert "Signature=" in start_url and "SigAlg=" in start_url
    result = post_response(client, saml_idp_login(idp_browser, start_url, "alice", "alice-pw"))
    assert set(result) == {"token"}
    me = client.get("/me", headers=bearer(result["token"])).json()
    assert me["username"] == "alice"
    assert me["attributes"]["email"] == "alice@example.com"  # a single value is unwrapped
    assert me["attributes"]["groups"] == ["analysts", "staff"]  # several stay a list


def test_sso_users_are_provisioned_with_the_provider_id(
    client: TestClient, admin_headers: dict[str, str], saml: dict[str, Any], idp_browser: httpx.Client
) -> None:
    post_response(client, idp_answer(client, idp_browser, user="bob"))
    user = client.get("/users/bob", headers=admin_headers).json()
    assert user["provider"] == "saml"


def test_providers_list_shows_login_urls_and_no_secret(client: TestClient, saml: dict[str, Any]) -> None:
    providers = client.get("/auth/providers").json()
    assert [p["id"] for p in providers] == ["local", "saml"]
    assert providers[0]["login_url"] == "http://testserver/login"
    assert providers[1] == {
        "id": "saml",
        "type": "SAML2",
        "name": "SAML saml",
        "icon": "key",
        "discrete": False,
        "login_url": "http://testserver/auth/provider/saml/login",
    }
    assert "PRIVATE" not in client.get("/auth/providers").text


def test_metadata_describes_the_service_provider(client: TestClient, saml: dict[str, Any], sp_keys: KeyPair) -> None:
    response = client.get("/auth/provider/saml/metadata")
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    assert root.get("entityID") == "http://testserver/saml"
    acs = root.find(".//{urn:oasis:names:tc:SAML:2.0:metadata}AssertionConsumerService")
    assert acs.get("Location") == "http://testserver/auth/provider/saml/acs"
    assert acs.get("Binding") == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    assert sp_keys.cert_body in response.text
    assert "PRIVATE KEY" not in response.text
    # The FAQ's shorter URL serves the same document.
    assert client.get("/auth/provider/saml").content == response.content
    assert_error(client.get("/auth/provider/nope/metadata"), 404)


def test_signed_metadata(
    client: TestClient, admin_headers: dict[str, str], saml_idp: SamlIdP, sp_keys: KeyPair
) -> None:
    provider = saml_provider(saml_idp, sp_keys)
    provider["config"]["security"]["signMetadata"] = True
    put_settings(client, admin_headers, settings_with(provider))
    root = etree.fromstring(client.get("/auth/provider/saml/metadata").content)
    assert root.find("ds:Signature", NS) is not None


# --- refused answers ---------------------------------------------------------------------------


def test_wrong_idp_certificate(
    client: TestClient, admin_headers: dict[str, str], saml_idp: SamlIdP, sp_keys: KeyPair, idp_browser: httpx.Client
) -> None:
    provider = saml_provider(saml_idp, sp_keys)
    provider["config"]["idp"]["x509cert"] = make_keypair("not-the-idp").cert_body
    put_settings(client, admin_headers, settings_with(provider))
    result = post_response(client, idp_answer(client, idp_browser))
    assert result["sso_error"] == "wrong_certificate"
    assert "idp.x509cert" in result["message"]


def test_tampered_assertion_is_refused(client: TestClient, saml: dict[str, Any], idp_browser: httpx.Client) -> None:
    form = idp_answer(client, idp_browser)
    root = response_xml(form)
    root.find(".//saml:Assertion/saml:Subject/saml:NameID", NS).text = "admin"
    result = post_response(client, with_xml(form, root))
    assert result["sso_error"] == "tampered_response", result


def test_signature_wrapping_is_refused(client: TestClient, saml: dict[str, Any], idp_browser: httpx.Client) -> None:
    """XSW: an unsigned evil assertion next to the genuine signed one."""
    form = idp_answer(client, idp_browser)
    root = response_xml(form)
    genuine = root.find("saml:Assertion", NS)
    evil = copy.deepcopy(genuine)
    evil.set("ID", "_evil" + genuine.get("ID"))
    evil.remove(evil.find("ds:Signature", NS))
    evil.find("saml:Subject/saml:NameID", NS).text = "admin"
    genuine.addprevious(evil)
    result = post_response(client, with_xml(form, root))
    assert result["sso_error"] == "tampered_response", result


def test_signature_wrapping_inside_the_signature_is_refused(
    client: TestClient, saml: dict[str, Any], idp_browser: httpx.Client
) -> None:
    """XSW: the genuine assertion hidden in the signature's Object, an evil one in its place."""
    form = idp_answer(client, idp_browser)
    root = response_xml(form)
    genuine = root.find("saml:Assertion", NS)
    evil = copy.deepcopy(genuine)
    evil.find("saml:Subject/saml:NameID", NS).text = "admin"
    signature = evil.find("ds:Signature", NS)
    obj = etree.SubElement(signature, "{http://www.w3.org/2000/09/xmldsig#}Object")
    root.replace(genuine, evil)
    obj.append(genuine)
    result = post_response(client, with_xml(form, root))
    assert result["sso_error"] in ("tampered_response", "invalid_response"), result
    assert "token" not in result


def test_replayed_response_is_refused(client: TestClient, saml: dict[str, Any], idp_browser: httpx.Client) -> None:
    form = idp_answer(client, idp_browser)
    assert "token" in post_response(client, form)
    result = post_response(client, form)
    assert result["sso_error"] == "replayed_response"


def test_wrong_audience_is_refused(
    client: TestClient, admin_headers: dict[str, str], saml: dict[str, Any], idp_browser: httpx.Client
) -> None:
    form = idp_answer(client, idp_browser)
    # The IdP answered for http://testserver/saml; this SP now calls itself something else.
    changed = copy.deepcopy(saml)
    changed["config"]["sp"]["entityId"] = "http://testserver/another-sp"
    put_settings(client, admin_headers, settings_with(changed))
    result = post_response(client, form)
    assert result["sso_error"] == "wrong_audience"
    assert "sp.entityId" in result["message"]


def test_expired_assertion_is_refused_naming_the_clocks(
    client: TestClient, admin_headers: dict[str, str], saml_idp: SamlIdP, sp_keys: KeyPair, idp_browser: httpx.Client
) -> None:
    # SimpleSAMLphp issues assertions that expired 15 minutes ago, beyond the 5 minutes of drift.
    provider = saml_provider(saml_idp, sp_keys, "saml-expired", lifetime=-900)
    put_settings(client, admin_headers, settings_with(provider))
    result = post_response(client, idp_answer(client, idp_browser, "saml-expired"))
    assert result["sso_error"] == "clock_skew"
    assert "NTP" in result["message"]


def test_response_for_another_request_is_refused(
    client: TestClient, admin_headers: dict[str, str], saml_idp: SamlIdP, sp_keys: KeyPair, idp_browser: httpx.Client
) -> None:
    first = saml_provider(saml_idp, sp_keys, "saml")
    second = saml_provider(saml_idp, sp_keys, "saml-b")
    put_settings(client, admin_headers, settings_with(first, second))
    form = idp_answer(client, idp_browser, "saml")
    result = post_response(client, form, "/auth/provider/saml-b/acs")
    assert result["sso_error"] == "unknown_request"
    # The answer still works where it belongs.
    assert "token" in post_response(client, form)


def test_unsolicited_response_is_refused(client: TestClient, saml: dict[str, Any], idp_browser: httpx.Client) -> None:
    form = idp_answer(client, idp_browser)
    root = response_xml(form)
    del root.attrib["InResponseTo"]
    result = post_response(client, with_xml(form, root))
    assert result["sso_error"] == "unknown_request"


def test_errors_are_logged_without_secrets(
    client: TestClient,
    saml: dict[str, Any],
    idp_browser: httpx.Client,
    caplog: pytest.LogCaptureFixture,
    sp_keys: KeyPair,
) -> None:
    form = idp_answer(client, idp_browser)
    post_response(client, form)
    with caplog.at_level(logging.INFO, logger="toucan"):
        post_response(client, form)
    assert "replayed_response" in caplog.text
    assert "PRIVATE KEY" not in caplog.text and sp_keys.key_pem[40:80] not in caplog.text


# --- provisioning and mapping -----------------------------------------------------------------------


def test_unknown_user_refused_when_provisioning_is_off(
    client: TestClient, admin_headers: dict[str, str], saml_idp: SamlIdP, sp_keys: KeyPair, idp_browser: httpx.Client
) -> None:
    provider = saml_provider(saml_idp, sp_keys, user_provisioning=False)
    put_settings(client, admin_headers, settings_with(provider))
    result = post_response(client, idp_answer(client, idp_browser))
    assert result["sso_error"] == "unknown_user"
    assert "administrator must create" in result["message"]
    assert client.get("/users/alice", headers=admin_headers).status_code == 404
    created = client.post("/users", json={"username": "alice"}, headers=admin_headers)
    assert created.status_code in (200, 201), created.text
    assert "token" in post_response(client, idp_answer(client, idp_browser))


def test_mapping_name_id_template_privileges_and_groups(
    client: TestClient, admin_headers: dict[str, str], saml_idp: SamlIdP, sp_keys: KeyPair, idp_browser: httpx.Client
) -> None:
    assert client.post("/small-apps", json={"id": "small-app", "name": "S"}, headers=admin_headers).status_code in (
        200,
        201,
    )
    provider = saml_provider(
        saml_idp,
        sp_keys,
        mapping={
            "nameId": ".email",
            "groups": ".groups",
            "userTemplate": {"privileges": {"small-app": ["view"]}},
        },
    )
    put_settings(client, admin_headers, settings_with(provider))
    result = post_response(client, idp_answer(client, idp_browser))
    me = client.get("/me", headers=bearer(result["token"])).json()
    assert me["username"] == "alice@example.com"
    assert me["groups"] == ["analysts", "staff"]
    assert me["privileges"] == {"small-app": ["view"]}
    # The template is applied at every login: a privilege granted by hand is replaced.
    client.patch("/users/alice@example.com", json={"privileges": {"small-app": ["contribute"]}}, headers=admin_headers)
    result = post_response(client, idp_answer(client, idp_browser))
    assert client.get("/me", headers=bearer(result["token"])).json()["privileges"] == {"small-app": ["view"]}


def test_mapping_to_a_missing_attribute_says_which_exist(
    client: TestClient, admin_headers: dict[str, str], saml_idp: SamlIdP, sp_keys: KeyPair, idp_browser: httpx.Client
) -> None:
    provider = saml_provider(saml_idp, sp_keys, mapping={"nameId": ".Email"})
    put_settings(client, admin_headers, settings_with(provider))
    result = post_response(client, idp_answer(client, idp_browser))
    assert result["sso_error"] == "mapping_failed"
    assert "email, groups, uid" in result["message"]


def test_disabled_user_cannot_log_in_through_sso(
    client: TestClient, admin_headers: dict[str, str], saml: dict[str, Any], idp_browser: httpx.Client
) -> None:
    client.post("/users", json={"username": "alice", "disabled": True}, headers=admin_headers)
    result = post_response(client, idp_answer(client, idp_browser))
    assert result["sso_error"] == "account_disabled"


# --- behind a TLS proxy --------------------------------------------------------------------------------


@pytest.fixture
def proxied_client(settings: Settings, db: Database) -> Iterator[TestClient]:
    """The API behind a reverse proxy it trusts (TOUCAN_FORWARDED_ALLOW_IPS=*)."""
    with TestClient(create_api(settings.model_copy(update={"forwarded_allow_ips": "*"}), db)) as c:
        yield c


PROXY_HEADERS = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "toucan.example.com", "X-Forwarded-Prefix": "/_api"}


def test_behind_a_tls_proxy_urls_are_external(
    proxied_client: TestClient,
    admin_headers: dict[str, str],
    saml_idp: SamlIdP,
    sp_keys: KeyPair,
    idp_browser: httpx.Client,
) -> None:
    client = proxied_client
    external_acs = "https://toucan.example.com/_api/auth/provider/saml/acs"
    provider = saml_provider(saml_idp, sp_keys)
    # No ACS URL in the settings: it is built from the request, as the proxy describes it.
    del provider["config"]["sp"]["assertionConsumerService"]["url"]
    saml_idp.trust_sp("http://testserver/saml", external_acs, sp_cert=sp_keys.cert_body)
    put_settings(client, admin_headers, settings_with(provider))
    metadata = client.get("/auth/provider/saml/metadata", headers=PROXY_HEADERS).text
    assert f'Location="{external_acs}"' in metadata
    providers = client.get("/auth/providers", headers=PROXY_HEADERS).json()
    assert providers[1]["login_url"] == "https://toucan.example.com/_api/auth/provider/saml/login"

    form = saml_idp_login(idp_browser, start(client, "saml", headers=PROXY_HEADERS), "alice", "alice-pw")
    assert form["action"] == external_acs
    # The proxy strips /_api and forwards to the backend.
    result = post_response(client, form, "/auth/provider/saml/acs", headers=PROXY_HEADERS)
    assert "token" in result


def test_without_forwarded_headers_the_destination_mismatch_is_explained(
    proxied_client: TestClient,
    admin_headers: dict[str, str],
    saml_idp: SamlIdP,
    sp_keys: KeyPair,
    idp_browser: httpx.Client,
) -> None:
    client = proxied_client
    external_acs = "https://toucan.example.com/_api/auth/provider/saml/acs"
    provider = saml_provider(saml_idp, sp_keys)
    provider["config"]["sp"]["assertionConsumerService"]["url"] = external_acs
    saml_idp.trust_sp("http://testserver/saml", external_acs, sp_cert=sp_keys.cert_body)
    put_settings(client, admin_headers, settings_with(provider))
    form = saml_idp_login(idp_browser, start(client, "saml"), "alice", "alice-pw")
    # A proxy that does not send X-Forwarded-*: the backend sees http://testserver.
    result = post_response(client, form, "/auth/provider/saml/acs")
    assert result["sso_error"] == "redirect_uri_mismatch"
    assert "X-Forwarded-Proto" in result["message"]
