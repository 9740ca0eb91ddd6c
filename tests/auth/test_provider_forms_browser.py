"""Sign-in providers made in the admin screen's forms, in Chromium, against the real local
identity providers: an OIDC provider filled from the issuer's discovery document, tested (a
wrong secret named), saved, then used to log in; a SAML2 provider imported from the IdP's
metadata and tested; field errors; the CSON view still there. No JSON typed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.auth.idp import OidcOP, SamlIdP, run_oidc_provider
from tests.helpers import ROOT, chromium, clean_env, running_server
from tests.helpers.sso import OIDC_CLIENTS

pytestmark = pytest.mark.browser

ADMIN_PASSWORD = "provider-forms-admin-pw"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CLIENT = OIDC_CLIENTS[1]  # client_secret_post
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not (ROOT / "frontend" / "dist" / "index.html").exists():
        pytest.fail("frontend/dist is missing: `make frontend` builds it (make test does)")
    env = clean_env(
        TOUCAN_DATA_DIR=str(tmp_path_factory.mktemp("provider-forms-data")),
        TOUCAN_SUPER_ADMIN_PASSWORD=ADMIN_PASSWORD,
        # The local IdPs listen on 127.0.0.1: the checks reach them as connectors would.
        TOUCAN_CONNECTORS_ALLOWED_HOSTS="127.0.0.1",
    )
    with running_server(env) as (base, _proc):
        yield base


@pytest.fixture(scope="module")
def op(stack: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcOP]:
    registered = {
        "client_id": CLIENT["client_id"],
        "client_secret": CLIENT["client_secret"],
        "token_endpoint_auth_method": CLIENT["method"],
        "redirect_uris": [f"{stack}/_api/auth/provider/corp-oidc/auth_callback"],
    }
    with run_oidc_provider(tmp_path_factory.mktemp("provider-forms-oidc"), [registered]) as provider:
        yield provider


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def _page(browser: Any, viewport: dict[str, int] | None = None, **options: Any) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport=viewport or {"width": 1440, "height": 900}, **options)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return context, page, errors


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar stays at the top of the shot
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def login_admin(page: Any, stack: str) -> None:
    page.goto(stack + "/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(stack + "/")


def stored_providers(stack: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{stack}/_api/instance-settings?format=json", auth=("admin", ADMIN_PASSWORD))
    response.raise_for_status()
    providers: list[dict[str, Any]] = response.json()["auth"]["providers"]
    return providers


def step(form: Any, name: str) -> Any:
    return form.locator(f"[data-testid=provider-check] li[data-step='{name}']")


def test_an_oidc_provider_made_in_the_form_is_tested_saved_and_logs_in(stack: str, op: OidcOP, browser: Any) -> None:
    context, page, errors = _page(browser)
    login_admin(page, stack)
    page.goto(stack + "/settings/instance")
    page.locator("[data-provider=local]").wait_for()
    page.click("[data-action=add-provider]")
    page.click("button[data-type=OIDC]")
    form = page.locator("[data-form=provider]")

    # Saving empty: every required field named, nothing sent.
    form.locator("[data-action=save-provider]").click()
    form.get_by_text("field(s) to fix below").wait_for()
    assert form.locator("input[name=provider-id] ~ .field-error").inner_text() == "Required."
    assert form.locator("input[name=provider-issuer][aria-invalid=true]").count() == 1
    shot(page, "admin-sso-oidc-errors-desktop")
    assert [p["id"] for p in stored_providers(stack)] == ["local"]

    form.locator("input[name=provider-id]").fill("corp-oidc")
    form.locator("input[name=provider-name]").fill("Corp OpenID")
    form.locator("input[name=provider-issuer]").fill(op.issuer)
    form.locator("[data-action=discover]").click()
    form.get_by_text(f"Settings read from {op.issuer}.").wait_for()
    discovery = op.discovery()
    assert form.locator("input[name=provider-token-endpoint]").input_value() == discovery["token_endpoint"]
    assert form.locator("input[name=provider-jwks-uri]").input_value() == discovery["jwks_uri"]
    form.locator("select[name=provider-auth-method]").select_option(CLIENT["method"])
    form.locator("input[name=provider-client-id]").fill(CLIENT["client_id"])
    form.locator("input[name=provider-client-secret]").fill("a-wrong-secret-0123456789abcdef")
    form.locator("input[name=provider-redirect-url]").fill(f"{stack}/login")

    # Test with a wrong secret: the client step fails and says what to check.
    form.locator("[data-action=test-provider]").click()
    failed = step(form, "client credentials")
    failed.wait_for()
    assert "step-fail" in (failed.get_attribute("class") or "")
    assert "check client_id and client_secret" in failed.inner_text()
    assert "Something is wrong" in form.locator("[data-testid=provider-check]").inner_text()
    assert "step-ok" in (step(form, "discovery document").get_attribute("class") or "")
    shot(page, "admin-sso-oidc-test-failed-desktop")

    form.locator("input[name=provider-client-secret]").fill(CLIENT["client_secret"])
    form.locator("[data-action=test-provider]").click()
    form.get_by_text("The provider answers as configured.").wait_for()
    assert "step-ok" in (step(form, "client credentials").get_attribute("class") or "")
    assert f"{stack}/_api/auth/provider/corp-oidc/auth_callback" in form.inner_text()
    shot(page, "admin-sso-oidc-test-ok-desktop")

    # A mistake only the server sees (a jq filter that does not compile) comes back under its field.
    form.locator("input[name=provider-mapping-name]").fill(".email | [")
    form.locator("[data-action=save-provider]").click()
    mapping_error = form.locator("input[name=provider-mapping-name] ~ .field-error")
    mapping_error.wait_for()
    assert "not a valid jq filter" in mapping_error.inner_text()
    assert [p["id"] for p in stored_providers(stack)] == ["local"]
    form.locator("input[name=provider-mapping-name]").fill(".email")
    form.locator("[data-action=save-provider]").click()
    page.get_by_text("Provider Corp OpenID saved.").wait_for()
    assert next(p for p in stored_providers(stack) if p["id"] == "corp-oidc")["config"]["mapping"] == {
        "nameId": ".email"
    }
    saved = next(p for p in stored_providers(stack) if p["id"] == "corp-oidc")
    assert saved["type"] == "OIDC" and saved["name"] == "Corp OpenID"
    assert saved["config"]["providerConfig"]["token_endpoint"] == discovery["token_endpoint"]
    assert saved["config"]["providerConfig"]["token_endpoint_auth_methods_supported"][0] == CLIENT["method"]
    assert saved["config"]["appCredentials"] == {"client_id": CLIENT["client_id"], "client_secret": "********"}

    # Edited again: the secret is "set", never shown; the test still uses the stored one.
    page.locator("[data-provider=corp-oidc] [data-action=edit]").click()
    assert form.locator("[data-secret=client-secret]").inner_text().startswith("✓ Set")
    assert form.locator("input[name=provider-client-secret]").count() == 0
    assert CLIENT["client_secret"] not in page.content()
    form.locator("[data-action=test-provider]").click()
    form.get_by_text("The provider answers as configured.").wait_for()
    form.get_by_role("button", name="Cancel").click()

    # The advanced view is the same settings as CSON, the secret masked.
    page.click("button[data-view=cson]")
    cson = page.locator("textarea[name=instance-settings]").input_value()
    assert "corp-oidc" in cson and "'********'" in cson and CLIENT["client_secret"] not in cson
    assert errors == []
    context.close()

    # The provider made in the form logs a user in.
    context, page, errors = _page(browser)
    page.goto(stack + "/login")
    page.click("a.btn:has-text('Corp OpenID')")
    page.wait_for_selector("#login")
    page.fill("#login", "bob")
    page.fill("#password", "bob-pw")
    page.click("#submit")
    page.wait_for_function("() => Object.values(localStorage).some((v) => String(v).startsWith('tct_'))")
    token = page.evaluate("() => Object.values(localStorage).find((v) => String(v).startsWith('tct_'))")
    me = httpx.get(f"{stack}/_api/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["username"] == "bob@example.com"
    context.close()


def test_a_saml_provider_imported_from_metadata_and_tested(stack: str, saml_idp: SamlIdP, browser: Any) -> None:
    context, page, errors = _page(browser)
    login_admin(page, stack)
    page.goto(stack + "/settings/instance")
    page.click("[data-action=add-provider]")
    page.click("button[data-type=SAML2]")
    form = page.locator("[data-form=provider]")
    form.locator("input[name=provider-id]").fill("corp-saml")
    form.locator("input[name=provider-name]").fill("Corporate SAML")
    form.locator("input[name=provider-metadata-url]").fill(saml_idp.entity_id)
    form.locator("[data-action=discover]").click()
    form.get_by_text(f"Metadata read from {saml_idp.entity_id}.").wait_for()
    assert form.locator("input[name=provider-idp-entity-id]").input_value() == saml_idp.entity_id
    assert form.locator("input[name=provider-sso-url]").input_value() == saml_idp.sso_url
    assert form.locator("textarea[name=provider-idp-cert]").input_value() == saml_idp.keys.cert_body
    form.locator("input[name=provider-sp-entity-id]").fill(f"{stack}/_api/saml")
    form.locator("input[name=provider-redirect-url]").fill(f"{stack}/login")
    form.locator("[data-action=test-provider]").click()
    form.get_by_text("The provider answers as configured.").wait_for()
    for name in ("settings", "IdP certificate", "IdP metadata", "sign-on URL"):
        assert "step-ok" in (step(form, name).get_attribute("class") or ""), name
    shot(page, "admin-sso-saml-test-desktop")
    form.locator("[data-action=save-provider]").click()
    page.get_by_text("Provider Corporate SAML saved.").wait_for()
    saved = next(p for p in stored_providers(stack) if p["id"] == "corp-saml")
    assert saved["config"]["idp"]["entityId"] == saml_idp.entity_id
    assert saved["config"]["sp"]["entityId"] == f"{stack}/_api/saml"
    assert "metadataUrl" not in str(saved)
    shot(page, "admin-sso-list-desktop")
    assert errors == []
    context.close()

    # On a phone: the list and a provider's form fit the screen.
    context, phone, errors = _page(browser, PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    login_admin(phone, stack)
    phone.goto(stack + "/settings/instance")
    phone.locator("[data-provider=corp-saml] [data-action=edit]").click()
    phone.locator("[data-action=test-provider]").click()
    phone.get_by_text("The provider answers as configured.").wait_for()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(phone, "admin-sso-saml-phone")
    assert errors == []
    context.close()
