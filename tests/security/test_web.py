"""Logins and the web app, attacked from outside: guessing passwords, locking others out,
choosing one's address with forwarded headers, framing and sniffing the pages."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import SUPER_ADMIN_PASSWORD, assert_error, basic
from toucan.app import create_api
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
