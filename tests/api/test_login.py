"""Local login: tokens, HTTP Basic, the stripped-header message, the rate limit, logout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.helpers.api import PASSWORD, SUPER_ADMIN_PASSWORD, assert_error, basic, bearer, login
from toucan.settings import Settings


def test_login_returns_a_token_that_authenticates(client: TestClient, settings: Settings) -> None:
    response = client.post("/login", json={"username": "admin", "password": SUPER_ADMIN_PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["role"] == "SUPER_ADMIN"
    me = client.get("/me", headers=bearer(body["token"]))
    assert me.status_code == 200
    assert me.json()["username"] == settings.super_admin_username


def test_wrong_password_and_unknown_user_get_the_same_answer(client: TestClient) -> None:
    wrong = client.post("/login", json={"username": "admin", "password": "nope"})
    unknown = client.post("/login", json={"username": "ghost", "password": "nope"})
    assert (
        assert_error(wrong, 401, "invalid_credentials")["message"]
        == assert_error(unknown, 401, "invalid_credentials")["message"]
    )


def test_missing_authorization_header_names_the_header_and_the_proxy(client: TestClient) -> None:
    error = assert_error(client.get("/me"), 401, "missing_authorization")
    assert "Authorization" in error["message"]
    assert "proxy" in error["message"]


def test_malformed_and_invalid_tokens_are_refused(client: TestClient) -> None:
    assert_error(client.get("/me", headers={"Authorization": "Token abc"}), 401, "invalid_authorization")
    assert_error(client.get("/me", headers=bearer("tct_forged")), 401, "invalid_token")
    assert_error(client.get("/me", headers={"Authorization": "Basic !!!"}), 401, "invalid_credentials")


def test_http_basic_works_for_scripts(client: TestClient) -> None:
    response = client.get("/me", headers=basic("admin", SUPER_ADMIN_PASSWORD))
    assert response.status_code == 200
    assert response.json()["role"] == "SUPER_ADMIN"
    assert_error(client.get("/me", headers=basic("admin", "wrong")), 401, "invalid_credentials")


def test_five_failures_in_a_minute_answer_429_with_the_wait(client: TestClient) -> None:
    for _ in range(5):
        assert_error(client.post("/login", json={"username": "admin", "password": "bad"}), 401)
    response = client.post("/login", json={"username": "admin", "password": SUPER_ADMIN_PASSWORD})
    error = assert_error(response, 429, "rate_limited")
    wait = error["details"]["retry_after"]
    assert 1 <= wait <= 60
    assert response.headers["Retry-After"] == str(wait)
    assert f"{wait} seconds" in error["message"]
    # Basic auth is subject to the same limit, and other usernames are not affected.
    assert_error(client.get("/me", headers=basic("admin", SUPER_ADMIN_PASSWORD)), 429)
    assert client.post("/login", json={"username": "other", "password": "x"}).status_code == 401


def test_rate_limit_forgets_failures_older_than_a_minute(client: TestClient, db) -> None:  # type: ignore[no-untyped-def]
    from toucan.db.models import LoginAttempt

    old = datetime.now(UTC) - timedelta(seconds=61)
    with db.session() as session:
        session.add_all(LoginAttempt(username="admin", address="testclient", pending=False, at=old) for _ in range(10))
    assert client.post("/login", json={"username": "admin", "password": SUPER_ADMIN_PASSWORD}).status_code == 200


def test_logout_revokes_the_token(client: TestClient) -> None:
    token = login(client, "admin", SUPER_ADMIN_PASSWORD)
    other = login(client, "admin", SUPER_ADMIN_PASSWORD)
    assert client.post("/logout", headers=bearer(token)).json() == {"revoked": True}
    assert_error(client.get("/me", headers=bearer(token)), 401, "invalid_token")
    assert client.get("/me", headers=bearer(other)).status_code == 200


def test_expired_token_is_refused(client: TestClient, db) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    from toucan.db.models import Token

    token = login(client, "admin", SUPER_ADMIN_PASSWORD)
    with db.session() as session:
        session.execute(update(Token).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert_error(client.get("/me", headers=bearer(token)), 401, "invalid_token")


def test_disabled_and_expired_accounts_cannot_log_in(client: TestClient, make_user, admin_headers) -> None:  # type: ignore[no-untyped-def]
    headers = make_user("carol")
    client.patch("/users/carol", json={"disabled": True}, headers=admin_headers).raise_for_status()
    assert_error(client.get("/me", headers=headers), 401)  # tokens revoked on disable
    assert_error(
        client.post("/login", json={"username": "carol", "password": PASSWORD}),
        401,
        "account_disabled",
    )
    client.patch("/users/carol", json={"disabled": False}, headers=admin_headers).raise_for_status()
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    client.patch("/users/carol", json={"expirationDate": past}, headers=admin_headers).raise_for_status()
    assert_error(
        client.post("/login", json={"username": "carol", "password": PASSWORD}),
        401,
        "account_expired",
    )
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    client.patch("/users/carol", json={"expirationDate": future}, headers=admin_headers).raise_for_status()
    assert client.post("/login", json={"username": "carol", "password": PASSWORD}).status_code == 200


def test_login_body_is_validated(client: TestClient) -> None:
    error = assert_error(client.post("/login", json={"username": "admin"}), 400, "validation_error")
    assert error["details"]["errors"][0]["path"] == "password"
    assert_error(client.post("/login", json={"username": 3, "password": ["x"]}), 400, "validation_error")


def test_a_successful_login_forgets_the_failures_of_its_username_from_its_address(client: TestClient) -> None:
    for _ in range(4):
        assert_error(client.post("/login", json={"username": "admin", "password": "bad"}), 401)
    assert client.post("/login", json={"username": "admin", "password": SUPER_ADMIN_PASSWORD}).status_code == 200
    for _ in range(4):
        assert_error(client.post("/login", json={"username": "admin", "password": "bad"}), 401)
    assert client.post("/login", json={"username": "admin", "password": SUPER_ADMIN_PASSWORD}).status_code == 200


def test_an_attempt_left_pending_by_a_dead_process_counts_as_a_failure(client: TestClient, db) -> None:  # type: ignore[no-untyped-def]
    from toucan.auth.ratelimit import ORPHANED
    from toucan.db.models import LoginAttempt

    # Five checks whose process died mid-way: they neither block the next answer forever
    # nor let a burst of guesses through uncounted.
    orphaned_at = datetime.now(UTC) - ORPHANED - timedelta(seconds=1)
    with db.session() as session:
        session.add_all(
            LoginAttempt(username="admin", address="testclient", pending=True, at=orphaned_at) for _ in range(5)
        )
    assert_error(
        client.post("/login", json={"username": "admin", "password": SUPER_ADMIN_PASSWORD}), 429, "rate_limited"
    )


def test_credentials_with_the_nul_character_are_wrong_credentials(client: TestClient) -> None:
    # No username holds NUL (PostgreSQL cannot even compare it): found by schemathesis as a 500.
    assert_error(client.get("/me", headers=basic("ad\x00min", "x")), 401, "invalid_credentials")
    assert_error(client.get("/me", headers=basic("admin", "pw\x00")), 401, "invalid_credentials")
    for _ in range(5):
        client.get("/me", headers=basic("ad\x00min", "x"))
    assert_error(client.get("/me", headers=basic("ad\x00min", "x")), 429, "rate_limited")
