"""The whole SSO round trip in Chromium: the login page's provider button, the identity
provider's own login form, and back to the web app logged in (or with the error shown)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.auth.idp import KeyPair, OidcOP, SamlIdP, run_oidc_provider
from tests.helpers import ROOT, chromium, clean_env, running_server
from tests.helpers.sso import OIDC_CLIENTS

pytestmark = pytest.mark.browser

ADMIN_PASSWORD = "sso-browser-admin-pw"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`toucan-ctl serve` with the built frontend (API under /_api)."""
    if not (ROOT / "frontend" / "dist" / "index.html").exists():
        pytest.fail("frontend/dist is missing: `make frontend` builds it (make test does)")
    env = clean_env(
        TOUCAN_DATA_DIR=str(tmp_path_factory.mktemp("sso-browser-data")),
        TOUCAN_SUPER_ADMIN_PASSWORD=ADMIN_PASSWORD,
    )
    with running_server(env) as (base, _proc):
        yield base


@pytest.fixture(scope="module")
def stack_op(stack: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcOP]:
    """oidc-provider with a client whose redirect URI is the running stack's."""
    client = OIDC_CLIENTS[0]
    registered = {
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
        "token_endpoint_auth_method": client["method"],
        "redirect_uris": [f"{stack}/_api/auth/provider/oidc/auth_callback"],
    }
    with run_oidc_provider(tmp_path_factory.mktemp("sso-browser-oidc"), [registered]) as op:
        yield op


@pytest.fixture(scope="module")
def configured(stack: str, stack_op: OidcOP, saml_idp: SamlIdP, sp_keys: KeyPair) -> str:
    """Instance settings with a SAML2 and an OIDC provider, uploaded as the super admin."""
    api = f"{stack}/_api"
    saml_idp.trust_sp(f"{api}/saml", f"{api}/auth/provider/saml/acs")
    discovery = stack_op.discovery()
    client = OIDC_CLIENTS[0]
    document: dict[str, Any] = {
        "auth": {
            "providers": [
                {"id": "local", "type": "local"},
                {
                    "id": "saml",
                    "type": "SAML2",
                    "name": "Corporate SAML",
                    "icon": "building",
                    "config": {
                        "defaultRedirectUrl": f"{stack}/login",
                        "sp": {"entityId": f"{api}/saml", "x509cert": sp_keys.cert_body},
                        "idp": saml_idp.provider_config(),
                    },
                },
                {
                    "id": "oidc",
                    "type": "OIDC",
                    "name": "Test OpenID",
                    "icon": "openid",
                    "config": {
                        "defaultRedirectUrl": f"{stack}/login",
                        "providerConfig": discovery,
                        "appCredentials": {"client_id": client["client_id"], "client_secret": client["client_secret"]},
                    },
                },
            ]
        }
    }
    token = httpx.post(f"{api}/login", json={"username": "admin", "password": ADMIN_PASSWORD}).json()["token"]
    response = httpx.put(f"{api}/instance-settings", json=document, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return stack


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def logged_in_as(page: Any, base: str) -> str:
    """The username the web app's session belongs to, asked with its own token."""
    token = page.evaluate("() => Object.values(localStorage).find((v) => String(v).startsWith('tct_'))")
    assert token, "no token in localStorage"
    me = httpx.get(f"{base}/_api/me", headers={"Authorization": f"Bearer {token}"}).json()
    return str(me["username"])


def saml_login(page: Any, base: str) -> None:
    page.goto(base + "/login")
    page.click("a.btn:has-text('Corporate SAML')")
    page.wait_for_selector("input[name=username]")
    shot(page, "sso-saml-idp-form")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "alice-pw")
    page.click("#submit_button")
    # Back on the login page with the token in the fragment, which the page keeps and removes.
    page.wait_for_function("() => Object.values(localStorage).some((v) => String(v).startsWith('tct_'))")
    page.wait_for_url(lambda url: "#token=" not in url)


def test_saml_button_logs_in_through_simplesamlphp(configured: str, page: Any) -> None:
    saml_login(page, configured)
    assert logged_in_as(page, configured) == "alice"
    page.goto(configured + "/")
    page.wait_for_load_state("networkidle")
    assert page.url == configured + "/"  # the store, not sent back to the login page
    shot(page, "sso-saml-logged-in")


def test_oidc_button_logs_in_through_oidc_provider(configured: str, page: Any) -> None:
    page.goto(configured + "/login")
    page.click("a.btn:has-text('Test OpenID')")
    page.wait_for_selector("#login")
    page.fill("#login", "bob")
    page.fill("#password", "bob-pw")
    page.click("#submit")
    page.wait_for_function("() => Object.values(localStorage).some((v) => String(v).startsWith('tct_'))")
    assert logged_in_as(page, configured) == "bob@example.com"


def test_login_page_opens_the_store_after_sso(configured: str, page: Any) -> None:
    saml_login(page, configured)
    page.wait_for_url(configured + "/", timeout=5000)


def test_an_sso_error_is_shown_on_the_login_page(configured: str, page: Any) -> None:
    page.goto(configured + "/login")
    page.click("a.btn:has-text('Test OpenID')")
    page.wait_for_selector("#login")
    page.fill("#login", "carol")  # her IdP sends email_verified as a string
    page.fill("#password", "carol-pw")
    page.click("#submit")
    alert = page.locator("[role=alert]")
    alert.wait_for()
    assert "email_verified" in alert.inner_text()
    shot(page, "sso-error")
