"""The FAQ's proxies, with Debian's Caddy on the Caddyfiles of deploy/: every one is valid;
Chromium logs in through the two-domain layout (frontend and API hosts, HTTP redirected to
HTTPS) and through the one-domain layout (the API under /_api/, stripped), with the
Authorization header passing; behind a proxy that strips it, the login page says so."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import chromium, clean_env, free_port, running_server
from tests.helpers.browser import shot
from tests.helpers.caddy import (
    BACKEND_DNS,
    DEPLOY,
    FRONTEND_DNS,
    Certificate,
    caddy_binary,
    caddy_env,
    for_test,
    make_certificate,
    running_caddy,
    running_frontend,
    through_proxy,
    validate,
)

ADMIN_PASSWORD = "caddy-admin-pw"
APP = "Behind Caddy"
# The FAQ's sample identity provider (no request reaches Google: the login page lists it).
GOOGLE = {
    "id": "google",
    "type": "OIDC",
    "name": "Google",
    "icon": "google",
    "config": {
        "providerConfig": {
            "issuer": "https://accounts.google.com",
            "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
            "token_endpoint": "https://oauth2.googleapis.com/token",
            "userinfo_endpoint": "https://openidconnect.googleapis.com/v1/userinfo",
            "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        },
        "defaultRedirectUrl": f"https://{FRONTEND_DNS}/",
        "appCredentials": {"client_id": "toucan-app", "client_secret": "toucan-secret"},
    },
}


@dataclass
class Layout:
    """One proxy layout: its Caddyfile and the ports Caddy listens on here."""

    caddyfile: str
    same_domain: bool = False
    strips_authorization: bool = False
    http_port: int = field(default_factory=free_port)
    https_port: int = field(default_factory=free_port)

    @property
    def frontend(self) -> str:
        return f"https://{FRONTEND_DNS}:{self.https_port}"

    @property
    def api_baseroute(self) -> str:
        return f"{self.frontend}/_api/" if self.same_domain else f"https://{BACKEND_DNS}:{self.https_port}"


LAYOUTS = {
    "two-domain": Layout("Caddyfile"),
    "same-domain": Layout("Caddyfile.same-domain", same_domain=True),
    "stripping": Layout("Caddyfile", strips_authorization=True),
}


def test_every_caddyfile_in_deploy_passes_caddy_validate(tmp_path: Path) -> None:
    cert = make_certificate(tmp_path / "certs", [FRONTEND_DNS, BACKEND_DNS])
    caddyfiles = sorted(DEPLOY.glob("Caddyfile*"))
    assert {p.name for p in caddyfiles} >= {"Caddyfile", "Caddyfile.same-domain"}
    env = caddy_env(tmp_path, cert, "frontend:80", "backend:80")
    for caddyfile in caddyfiles:
        checked = validate(caddyfile, env)
        assert checked.returncode == 0, f"{caddyfile.name}: {checked.stderr[-2000:]}"
        assert "Valid configuration" in checked.stdout + checked.stderr


def test_the_shipped_caddyfiles_keep_the_faq_ports_and_variables() -> None:
    for name in ("Caddyfile", "Caddyfile.same-domain"):
        text = (DEPLOY / name).read_text()
        assert re.search(r"^:7000 \{\n\tredir https://\{host\}\{uri\}", text, re.M), name
        assert "https://{$FRONTEND_DNS}:8000 {" in text and "tls {$SSL_CRT} {$SSL_KEY}" in text
        assert "{$FRONTEND_SERVICE}:80" in text and "{$BACKEND_SERVICE}:80" in text
    assert "https://{$BACKEND_DNS}:8000 {" in (DEPLOY / "Caddyfile").read_text()
    assert "handle_path /_api/*" in (DEPLOY / "Caddyfile.same-domain").read_text()


# --- Chromium through Caddy -------------------------------------------------------------------


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    caddy_binary()
    return make_certificate(tmp_path_factory.mktemp("certs"), [FRONTEND_DNS, BACKEND_DNS])


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`toucan-ctl serve --production` (the API at the root), as the backend container runs it;
    its host:port. The two-domain frontends' origins are allowed to call it."""
    env = clean_env(
        TOUCAN_DATA_DIR=str(tmp_path_factory.mktemp("caddy-backend")),
        TOUCAN_SUPER_ADMIN_PASSWORD=ADMIN_PASSWORD,
        TOUCAN_GUNICORN_WORKERS="1",
        TOUCAN_READY_CHECKS_JOBS="false",
        TOUCAN_FORWARDED_ALLOW_IPS="127.0.0.1",
        TOUCAN_CORS_ORIGINS=json.dumps([x.frontend for x in LAYOUTS.values() if not x.same_domain]),
    )
    with running_server(env, args=("--production",), ready_path="/health") as (base, _server):
        yield base.removeprefix("http://")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    rules = f"MAP {FRONTEND_DNS} 127.0.0.1, MAP {BACKEND_DNS} 127.0.0.1"
    with chromium(f"--host-resolver-rules={rules}") as b:
        yield b


@pytest.fixture(scope="module")
def seeded(backend: str) -> str:
    """An app to list, and the FAQ's Google provider for the login page (set up directly)."""
    admin = ("admin", ADMIN_PASSWORD)
    created = httpx.post(f"http://{backend}/small-apps", json={"name": APP}, auth=admin)
    assert created.status_code in (200, 201), created.text
    document = {"auth": {"providers": [{"id": "local", "type": "local"}, GOOGLE]}}
    put = httpx.put(f"http://{backend}/instance-settings", json=document, auth=admin)
    assert put.status_code == 200, put.text
    return backend


@contextmanager
def proxy(layout: Layout, backend: str, cert: Certificate, directory: Path) -> Iterator[Layout]:
    """The frontend service with `layout`'s API_BASEROUTE, and Caddy on its Caddyfile."""
    text = for_test((DEPLOY / layout.caddyfile).read_text(), layout.http_port, layout.https_port)
    if layout.strips_authorization:
        # What some corporate proxies do; here, between Caddy and the backend.
        old = "\treverse_proxy {$BACKEND_SERVICE}\n"
        assert old in text
        text = text.replace(old, "\treverse_proxy {$BACKEND_SERVICE} {\n\t\theader_up -Authorization\n\t}\n")
    caddyfile = directory / "Caddyfile"
    caddyfile.write_text(text)
    with running_frontend(directory / "docroot", layout.api_baseroute) as frontend:
        env = caddy_env(directory, cert, frontend, backend)
        with running_caddy(caddyfile, env, (layout.http_port, layout.https_port)):
            yield layout


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, ignore_https_errors=True)
    yield context
    context.close()


def log_in(page: Any, layout: Layout) -> list[Any]:
    """Open the FAQ's http:// address, follow the redirect, sign in; the API's answers seen."""
    answers: list[Any] = []
    page.on("response", lambda r: answers.append(r) if r.request.resource_type in ("fetch", "xhr") else None)
    page.goto(f"http://{FRONTEND_DNS}:{layout.http_port}/login")
    assert page.url == f"{layout.frontend}/login", "port 7000 redirects to HTTPS"
    page.get_by_text("backend v").wait_for()
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    return answers


def assert_logged_in_through(page: Any, layout: Layout, answers: list[Any]) -> None:
    page.wait_for_url(layout.frontend + "/")
    page.locator(".tile", has_text=APP).wait_for()
    base = layout.api_baseroute.rstrip("/")
    called = {a.url.removeprefix(base): a.status for a in answers}
    assert all(a.url.startswith(base + "/") for a in answers), [a.url for a in answers]
    # The login, then calls that need the token: Authorization went through both ways.
    assert called["/login"] == 200 and called["/me"] == 200 and called["/small-apps"] == 200, called


@pytest.mark.browser
def test_two_domains_chromium_logs_in_through_caddy(
    seeded: str, cert: Certificate, context: Any, tmp_path: Path
) -> None:
    with proxy(LAYOUTS["two-domain"], seeded, cert, tmp_path) as layout:
        # The FAQ's version checks, as curl sends them, with our certificate checked.
        version = through_proxy("GET", BACKEND_DNS, layout.https_port, "/", cert)
        assert version.status_code == 200 and version.json()["version"]
        assert version.headers["strict-transport-security"] == "max-age=31536000"
        # The backend's own security headers pass through once, unchanged.
        assert version.headers.get_list("content-security-policy") == ["default-src 'none'; frame-ancestors 'none'"]
        page_version = through_proxy("GET", FRONTEND_DNS, layout.https_port, "/tucana-version.txt", cert)
        assert page_version.status_code == 200 and page_version.text.strip().startswith("v")
        # A script with Basic credentials: the header reaches the backend.
        me = through_proxy("GET", BACKEND_DNS, layout.https_port, "/me", cert, auth=("admin", ADMIN_PASSWORD))
        assert me.status_code == 200 and me.json()["username"] == "admin"

        page = context.new_page()
        answers = log_in(page, layout)
        assert_logged_in_through(page, layout, answers)
        shot(page, "caddy-two-domains")


@pytest.mark.browser
def test_one_domain_with_the_api_under_a_stripped_prefix(
    seeded: str, cert: Certificate, context: Any, tmp_path: Path
) -> None:
    with proxy(LAYOUTS["same-domain"], seeded, cert, tmp_path) as layout:
        version = through_proxy("GET", FRONTEND_DNS, layout.https_port, "/_api/", cert)
        assert version.status_code == 200 and version.json()["version"]
        # URLs the backend builds keep the external scheme, host, port and the /_api prefix.
        providers = through_proxy("GET", FRONTEND_DNS, layout.https_port, "/_api/auth/providers", cert).json()
        google = next(p for p in providers if p["id"] == "google")
        assert google["login_url"] == f"{layout.frontend}/_api/auth/provider/google/login"

        page = context.new_page()
        page.goto(f"{layout.frontend}/login")
        button = page.locator("a[data-provider=google]")
        assert button.get_attribute("href") == google["login_url"]
        # The provider's icon (instance settings' `icon`), drawn with Font Awesome's font.
        icon = button.locator("i.fa.fa-google")
        icon.wait_for()
        page.wait_for_function("() => document.fonts.check('16px FontAwesome')")
        drawn = icon.evaluate(
            "(i) => [getComputedStyle(i).fontFamily, getComputedStyle(i, '::before').content.codePointAt(1),"
            " i.offsetWidth]"
        )
        assert drawn[0] == "FontAwesome" and drawn[1] == 0xF1A0 and drawn[2] > 0, drawn
        shot(page, "caddy-one-domain-login")
        page.close()

        page = context.new_page()
        answers = log_in(page, layout)
        assert_logged_in_through(page, layout, answers)
        shot(page, "caddy-one-domain")


@pytest.mark.browser
def test_a_proxy_that_strips_authorization_shows_the_faq_message(
    seeded: str, cert: Certificate, context: Any, tmp_path: Path
) -> None:
    with proxy(LAYOUTS["stripping"], seeded, cert, tmp_path) as layout:
        me = through_proxy("GET", BACKEND_DNS, layout.https_port, "/me", cert, auth=("admin", ADMIN_PASSWORD))
        assert me.status_code == 401 and me.json()["error"]["code"] == "missing_authorization"

        page = context.new_page()
        answers = log_in(page, layout)
        alert = page.get_by_role("alert")
        alert.wait_for()
        assert "did not receive the Authorization header: a proxy between your browser and the backend" in (
            alert.inner_text()
        )
        assert page.url.startswith(f"{layout.frontend}/login")
        assert [a.status for a in answers if a.url.endswith("/me")] == [401]
        assert page.evaluate("() => localStorage.getItem('toucan.token')") is None
        shot(page, "caddy-stripped-authorization")

        # A session kept from before the proxy changed: back to the login page, with the message.
        token = httpx.post(f"http://{seeded}/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        page.evaluate("(t) => localStorage.setItem('toucan.token', t)", token.json()["token"])
        page.goto(f"{layout.frontend}/")
        page.wait_for_url(re.compile(re.escape(f"{layout.frontend}/login")))
        page.get_by_role("alert").wait_for()
        assert "a proxy between your browser and the backend" in page.get_by_role("alert").inner_text()
