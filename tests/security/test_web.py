"""Logins and the web app, attacked from outside: guessing passwords, locking others out,
choosing one's address with forwarded headers, framing and sniffing the pages."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.helpers.api import SUPER_ADMIN_PASSWORD, assert_error, basic
from toucan.app import create_api, create_embedded_app
from toucan.db.engine import Database
from toucan.settings import Settings

ATTACKER = "203.0.113.66"
ADMIN_HOME = "198.51.100.7"
PROXY = "127.0.0.1"  # TOUCAN_FORWARDED_ALLOW_IPS' default

WRONG = {"username": "admin", "password": "guess"}
RIGHT = {"username": "admin", "password": SUPER_ADMIN_PASSWORD}

From = Callable[[str], TestClient]


@pytest.fixture
def from_address(client: TestClient) -> From:
    """A client of the same app whose requests come from `address` (the TCP peer)."""

    def _at(address: str) -> TestClient:
        return TestClient(client.app, client=(address, 40000), raise_server_exceptions=False)

    return _at


def _statuses(responses: list[int]) -> Counter[int]:
    return Counter(responses)


def test_a_stranger_cannot_lock_the_admin_out(from_address: From, settings: Settings) -> None:
    attacker = from_address(ATTACKER)
    answers = [attacker.post("/login", json=WRONG).status_code for _ in range(settings.login_max_failures + 3)]
    assert answers == [401] * settings.login_max_failures + [429] * 3
    # The attacker is stopped, with a JSON error that says how long to wait.
    refused = attacker.post("/login", json=RIGHT)
    error = assert_error(refused, 429, "rate_limited")
    assert refused.headers["Retry-After"] == str(error["details"]["retry_after"])
    # The admin, from their own address, logs in at once, with a password or Basic auth.
    admin = from_address(ADMIN_HOME)
    assert admin.post("/login", json=RIGHT).status_code == 200
    assert admin.get("/me", headers=basic("admin", SUPER_ADMIN_PASSWORD)).status_code == 200


def test_basic_auth_guesses_are_limited_without_locking_the_admin_out(from_address: From, settings: Settings) -> None:
    attacker = from_address(ATTACKER)
    answers = [
        attacker.get("/me", headers=basic("admin", "guess")).status_code for _ in range(settings.login_max_failures + 2)
    ]
    assert answers == [401] * settings.login_max_failures + [429] * 2
    assert_error(attacker.get("/me", headers=basic("admin", SUPER_ADMIN_PASSWORD)), 429, "rate_limited")
    admin = from_address(ADMIN_HOME)
    assert admin.get("/me", headers=basic("admin", SUPER_ADMIN_PASSWORD)).status_code == 200
    assert admin.post("/login", json=RIGHT).status_code == 200


def test_one_address_trying_many_usernames_is_stopped(from_address: From, settings: Settings) -> None:
    attacker = from_address(ATTACKER)
    limit = settings.login_max_failures_per_address
    assert limit > settings.login_max_failures  # else the per-username limit would answer first
    for i in range(limit):
        assert_error(attacker.post("/login", json={"username": f"user{i}", "password": "guess"}), 401)
    # One guess per username, but the address has used its share: any username is refused.
    refused = attacker.post("/login", json={"username": "someone-new", "password": "guess"})
    error = assert_error(refused, 429, "rate_limited")
    assert "address" in error["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert_error(attacker.get("/me", headers=basic("admin", SUPER_ADMIN_PASSWORD)), 429, "rate_limited")
    # Other addresses are not concerned.
    assert_error(from_address(ADMIN_HOME).post("/login", json={"username": "user0", "password": "x"}), 401)
    assert from_address(ADMIN_HOME).post("/login", json=RIGHT).status_code == 200


def test_x_forwarded_for_from_a_client_that_is_no_proxy_is_ignored(from_address: From, settings: Settings) -> None:
    attacker = from_address(ATTACKER)
    answers = [
        attacker.post("/login", json=WRONG, headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code
        for i in range(settings.login_max_failures + 2)
    ]
    assert answers == [401] * settings.login_max_failures + [429] * 2


def test_x_forwarded_for_from_the_trusted_proxy_names_the_client(from_address: From, settings: Settings) -> None:
    proxy = from_address(PROXY)
    for _ in range(settings.login_max_failures):
        assert_error(proxy.post("/login", json=WRONG, headers={"X-Forwarded-For": ATTACKER}), 401)
    # The attacker prepends addresses of their choice; the proxy appends the one it saw.
    spoofed = {"X-Forwarded-For": f"{ADMIN_HOME}, {ATTACKER}"}
    assert_error(proxy.post("/login", json=RIGHT, headers=spoofed), 429, "rate_limited")
    assert proxy.post("/login", json=RIGHT, headers={"X-Forwarded-For": ADMIN_HOME}).status_code == 200


@pytest.fixture
def second_worker(settings: Settings, db: Database) -> Iterator[FastAPI]:
    """Another backend process as far as the limit is concerned: its own app and engine."""
    other_db = Database.from_settings(settings)
    app = create_api(settings, other_db)
    yield app
    app.state.ctx.data.close()
    other_db.dispose()


def test_concurrent_guesses_over_two_workers_get_no_more_than_the_limit(
    client: TestClient, second_worker: FastAPI, from_address: From, settings: Settings
) -> None:
    apps = [client.app, second_worker]
    attempts = 16
    barrier = threading.Barrier(attempts)
    answers: list[int] = []
    lock = threading.Lock()

    def guess(i: int) -> None:
        with TestClient(apps[i % 2], client=(ATTACKER, 40000 + i), raise_server_exceptions=False) as c:
            barrier.wait()
            status = c.post("/login", json=WRONG).status_code
        with lock:
            answers.append(status)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Exactly the limit's worth of passwords was checked, whichever worker took them.
    assert _statuses(answers) == {401: settings.login_max_failures, 429: attempts - settings.login_max_failures}
    assert_error(from_address(ATTACKER).post("/login", json=RIGHT), 429, "rate_limited")
    assert from_address(ADMIN_HOME).post("/login", json=RIGHT).status_code == 200


# --- Security headers ---------------------------------------------------------------

API_CSP = "default-src 'none'; frame-ancestors 'none'"


def _csp(response: Any) -> dict[str, str]:
    """The Content-Security-Policy as {directive: sources}."""
    policy: dict[str, str] = {}
    for part in response.headers["content-security-policy"].split(";"):
        name, _, sources = part.strip().partition(" ")
        policy[name] = sources.strip()
    return policy


def test_every_api_answer_forbids_sniffing_framing_and_running_anything(
    client: TestClient, admin_headers: dict[str, str], from_address: From, settings: Settings
) -> None:
    attacker = from_address(ATTACKER)
    for _ in range(settings.login_max_failures):
        attacker.post("/login", json=WRONG)
    answers = {
        "ok": client.get("/"),
        "authenticated": client.get("/me", headers=admin_headers),
        "401": client.get("/me"),
        "404": client.get("/no/such/route"),
        "400": client.post("/login", json={"username": 3}),
        "413": client.post("/login", content=b"x" * (settings.max_body_bytes + 1)),
        "429": attacker.post("/login", json=RIGHT),
        "openapi": client.get("/openapi.json"),
    }
    for name, response in answers.items():
        assert response.headers.get("content-security-policy") == API_CSP, name
        assert response.headers.get("x-content-type-options") == "nosniff", name
        assert response.headers.get("x-frame-options") == "DENY", name
        assert response.headers.get_list("content-security-policy") == [API_CSP], f"{name}: one policy only"
    assert answers["413"].status_code == 413 and answers["429"].status_code == 429


def test_the_api_docs_page_works_and_is_never_framed(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    # Swagger UI needs its CDN scripts: the policy only forbids frames there.
    assert _csp(docs) == {"frame-ancestors": "'none'"}
    assert docs.headers["x-frame-options"] == "DENY"
    assert docs.headers["x-content-type-options"] == "nosniff"


def _built_frontend(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "scripts").mkdir()
    (dist / "index.html").write_text('<html><body><script type="module" src="/assets/app.js"></script></body></html>')
    (dist / "assets" / "app.js").write_text("console.log(1)")
    (dist / "scripts" / "tc-params.js").write_text("window.TC_PARAMS = {}")
    return dist


def _embedded(settings: Settings, db: Database, tmp_path: Path, **update: Any) -> TestClient:
    app = create_embedded_app(settings.model_copy(update={"frontend_dir": _built_frontend(tmp_path), **update}), db)
    return TestClient(app, raise_server_exceptions=False)


def test_web_app_pages_run_only_their_own_scripts_and_are_framed_only_by_the_app(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    c = _embedded(settings, db, tmp_path)
    for path in ("/", "/login", "/apps/alpha/stories/x", "/assets/app.js", "/scripts/tc-params.js"):
        response = c.get(path)
        assert response.status_code == 200, path
        policy = _csp(response)
        assert policy["script-src"] == "'self'", path  # no inline script, no eval
        assert policy["object-src"] == "'none'" and policy["base-uri"] == "'self'", path
        assert policy["frame-ancestors"] == "'self'", path
        assert "'unsafe-inline'" not in policy["default-src"] + policy["style-src-elem"], path
        assert response.headers["x-frame-options"] == "SAMEORIGIN", path
        assert response.headers["x-content-type-options"] == "nosniff", path
    # The API under /_api keeps its own, stricter, policy.
    api = c.get("/_api/")
    assert api.headers["content-security-policy"] == API_CSP
    assert api.headers.get_list("content-security-policy") == [API_CSP]


def test_embedding_in_other_sites_follows_the_setting(settings: Settings, db: Database, tmp_path: Path) -> None:
    allowed = "'self' https://intranet.example.com"
    c = _embedded(settings, db, tmp_path, frame_ancestors=allowed)
    page = c.get("/")
    assert _csp(page)["frame-ancestors"] == allowed
    # X-Frame-Options cannot name another site: left out so the embed works in old browsers too.
    assert "x-frame-options" not in page.headers
    assert c.get("/_api/").headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    "value", ["", "https://a.example; script-src *", "'none' https://a.example", "'unsafe-inline'", "a,b"]
)
def test_a_frame_ancestors_setting_that_would_change_the_policy_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="frame_ancestors"):
        Settings(frame_ancestors=value)


@pytest.mark.parametrize(
    "value", ["'none'", "'self'  https://intranet.example.com:8443", "https://*.example.com", "https:"]
)
def test_frame_ancestors_takes_csp_sources(value: str) -> None:
    assert Settings(frame_ancestors=value).frame_ancestors == " ".join(value.split())
