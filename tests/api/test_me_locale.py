"""The interface language a user chose is kept on the server: `GET /me` gives it, `PATCH /me`
changes the caller's own, and nobody else's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.helpers.api import PASSWORD, assert_error, basic, bearer, login
from toucan.auth.capture_tokens import issue_capture_token
from toucan.auth.users import LOCALES
from toucan.db.engine import Database
from toucan.db.models import User
from toucan.settings import Settings


def _stored(db: Database, username: str) -> str | None:
    with db.readonly_session() as session:
        return session.scalar(select(User.locale).where(User.username == username))


def test_a_new_user_has_not_chosen_so_the_browser_language_applies(make_user: Any, client: TestClient) -> None:
    headers = make_user("ana")
    assert client.get("/me", headers=headers).json()["locale"] is None


def test_the_choice_is_stored_and_follows_the_user_to_a_new_login(
    make_user: Any, client: TestClient, db: Database
) -> None:
    headers = make_user("ana")
    changed = client.patch("/me", json={"locale": "fr"}, headers=headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["locale"] == "fr"
    assert changed.json()["username"] == "ana"
    assert _stored(db, "ana") == "fr"
    # Another device: a new login answers the choice, and so does /me with that token.
    answer = client.post("/login", json={"username": "ana", "password": PASSWORD}).json()
    assert answer["user"]["locale"] == "fr"
    assert client.get("/me", headers=bearer(answer["token"])).json()["locale"] == "fr"
    # HTTP Basic (scripts) may change it too; null goes back to the browser's language.
    assert client.patch("/me", json={"locale": "en"}, headers=basic("ana", PASSWORD)).json()["locale"] == "en"
    assert client.patch("/me", json={"locale": None}, headers=headers).json()["locale"] is None
    assert _stored(db, "ana") is None


def test_an_unsupported_or_malformed_locale_is_a_clear_400(make_user: Any, client: TestClient, db: Database) -> None:
    headers = make_user("ana")
    client.patch("/me", json={"locale": "fr"}, headers=headers).raise_for_status()
    for body in ({"locale": "de"}, {"locale": "FR"}, {"locale": ""}, {"locale": 3}, {"locale": ["fr"]}, {}):
        error = assert_error(client.patch("/me", json=body, headers=headers), 400, "validation_error")
        assert "locale" in str(error["details"]), (body, error)
    error = assert_error(client.patch("/me", json={"locale": "de"}, headers=headers), 400)
    assert "'en'" in error["message"] + str(error["details"]) and "'fr'" in error["message"] + str(error["details"])
    not_json = {**headers, "Content-Type": "application/json"}
    assert_error(client.patch("/me", content=b"{not json", headers=not_json), 400)
    assert _stored(db, "ana") == "fr"  # unchanged by every refused request


def test_a_user_changes_only_their_own_locale(make_user: Any, client: TestClient, db: Database) -> None:
    ana = make_user("ana")
    make_user("bob")
    client.patch("/me", json={"locale": "en"}, headers=ana).raise_for_status()
    # No field names another user; a username, role or attribute slipped in is refused whole.
    for body in (
        {"locale": "fr", "username": "bob"},
        {"locale": "fr", "role": "SUPER_ADMIN"},
        {"locale": "fr", "attributes": {"country": "France"}},
    ):
        assert_error(client.patch("/me", json=body, headers=ana), 400, "validation_error")
    client.patch("/me?username=bob", json={"locale": "fr"}, headers=ana).raise_for_status()
    assert _stored(db, "bob") is None
    assert _stored(db, "ana") == "fr"
    me = client.get("/me", headers=ana).json()
    assert me["role"] == "USER" and me["attributes"] == {}
    # An admin's PATCH /users/{name} cannot set it either: it is the user's own choice.
    admin = bearer(login(client, "admin", "super-secret-admin-pw"))
    assert_error(client.patch("/users/bob", json={"locale": "fr"}, headers=admin), 400, "validation_error")
    assert _stored(db, "bob") is None


def test_anonymous_and_bad_tokens_are_refused(client: TestClient) -> None:
    assert_error(client.patch("/me", json={"locale": "fr"}), 401, "missing_authorization")
    assert_error(client.patch("/me", json={"locale": "fr"}, headers=bearer("tct_forged")), 401, "invalid_token")
    wrong = basic("admin", "wrong")
    assert_error(client.patch("/me", json={"locale": "fr"}, headers=wrong), 401, "invalid_credentials")


def test_a_revoked_token_cannot_change_it(make_user: Any, client: TestClient, db: Database) -> None:
    headers = make_user("ana")
    client.post("/logout", headers=headers).raise_for_status()
    assert_error(client.patch("/me", json={"locale": "fr"}, headers=headers), 401, "invalid_token")
    assert _stored(db, "ana") is None


def test_a_capture_token_cannot_change_its_users_locale(
    make_user: Any, client: TestClient, db: Database, settings: Settings
) -> None:
    make_user("ana")
    with db.readonly_session() as session:
        user_id = session.scalar(select(User.id).where(User.username == "ana"))
    assert user_id is not None
    token = issue_capture_token(
        str(settings.secret_key), user_id=user_id, app="sales", stage="production", page="home", ttl=60
    )
    assert_error(client.patch("/me", json={"locale": "fr"}, headers=bearer(token)), 403)
    assert _stored(db, "ana") is None


def test_the_server_accepts_exactly_the_languages_the_frontend_speaks() -> None:
    source = (Path(__file__).resolve().parents[2] / "frontend" / "src" / "i18n.ts").read_text()
    found = re.search(r"export const dictionaries: Record<string, Dict> = \{([^}]*)\}", source)
    assert found, "frontend/src/i18n.ts no longer declares `dictionaries` as this test reads it"
    assert tuple(name.strip() for name in found.group(1).split(",")) == LOCALES
