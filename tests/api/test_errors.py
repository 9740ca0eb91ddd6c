"""Bad input gets a 4xx JSON error saying what and where — never a 500 or a trace."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.helpers.api import assert_error


def test_malformed_json_is_400(client: TestClient, admin_headers: dict[str, str]) -> None:
    response = client.post(
        "/small-apps",
        content=b"{not json",
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert_error(response, 400, "invalid_json")


def test_wrong_types_name_the_field(client: TestClient, admin_headers: dict[str, str]) -> None:
    error = assert_error(
        client.post("/small-apps", json={"name": 42}, headers=admin_headers),
        400,
        "validation_error",
    )
    assert error["details"]["errors"][0]["path"] == "name"
    assert "name" in error["message"]
    error = assert_error(client.post("/small-apps", json={"name": "x", "colour": "red"}, headers=admin_headers), 400)
    assert error["details"]["errors"][0]["path"] == "colour"


def test_oversized_bodies_are_413(client: TestClient, admin_headers: dict[str, str], settings) -> None:  # type: ignore[no-untyped-def]
    big = b'{"name": "' + b"x" * (settings.max_body_bytes + 1) + b'"}'
    error = assert_error(
        client.post(
            "/small-apps",
            content=big,
            headers={**admin_headers, "Content-Type": "application/json"},
        ),
        413,
        "payload_too_large",
    )
    assert error["details"]["limit"] == settings.max_body_bytes

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536

    streamed = client.put(
        "/sales/config?stage=staging",
        content=chunks(),
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert_error(streamed, 413, "payload_too_large")


def test_unknown_routes_methods_apps_and_users_are_json_4xx(client: TestClient, admin_headers: dict[str, str]) -> None:
    assert_error(client.get("/no/such/route"), 404, "not_found")
    assert_error(client.delete("/login"), 405, "method_not_allowed")
    assert_error(client.get("/small-apps/ghost", headers=admin_headers), 404)
    assert_error(client.patch("/users/ghost", json={"disabled": True}, headers=admin_headers), 404)
    assert_error(client.get("/groups/ghost", headers=admin_headers), 404)


def test_unexpected_errors_are_500_json_without_trace(
    client: TestClient, admin_headers: dict[str, str], monkeypatch, caplog
) -> None:  # type: ignore[no-untyped-def]
    import toucan.apps.small_apps as small_apps

    def boom(*_a, **_k):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internals")

    monkeypatch.setattr(small_apps, "list_apps", boom)
    with caplog.at_level("ERROR", logger="toucan.api"):
        response = client.get("/small-apps", headers=admin_headers)
    assert_error(response, 500, "internal_error")
    assert "secret internals" not in response.text
    # The operator's log has the trace the client does not get (it was "NoneType: None").
    assert "RuntimeError: secret internals" in caplog.text and "in boom" in caplog.text


def test_text_with_the_nul_character_is_refused_and_the_answer_says_where(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    # PostgreSQL cannot store or even compare text holding NUL: found by schemathesis as 500s.
    error = assert_error(
        client.post("/users", json={"username": "eve\u0000", "password": "eve-password-1"}, headers=admin_headers),
        400,
        "validation_error",
    )
    assert error["details"]["errors"][0] == {
        "in": "body",
        "path": "username",
        "message": "text cannot contain the NUL character (\\u0000)",
    }
    assert "eve" not in {u["username"][:3] for u in client.get("/users", headers=admin_headers).json()}
    nested = {"name": "analysts", "privileges": {"alpha\u0000": ["view"]}}
    error = assert_error(client.post("/groups", json=nested, headers=admin_headers), 400, "validation_error")
    assert error["details"]["errors"][0]["path"] == "privileges.alpha\\u0000"
    assert_error(client.get("/groups/analysts", headers=admin_headers), 404)
    # An escaped backslash followed by "u0000" is plain text, not the character.
    literal = client.post("/groups", json={"name": "back\\u0000slash"}, headers=admin_headers)
    assert literal.status_code == 201, literal.text
    # In the path and in the query string too.
    error = assert_error(client.get("/users/ev%00e", headers=admin_headers), 400, "validation_error")
    assert error["details"]["errors"][0]["in"] == "path"
    error = assert_error(client.get("/instance-settings?format=%00", headers=admin_headers), 400, "validation_error")
    assert error["details"]["errors"][0] == {
        "in": "query",
        "path": "format",
        "message": "text cannot contain the NUL character (\\u0000)",
    }


def test_nul_in_a_raw_text_body_is_a_4xx(client: TestClient, admin_headers: dict[str, str]) -> None:
    client.post("/small-apps", json={"id": "alpha", "name": "Alpha"}, headers=admin_headers).raise_for_status()
    response = client.put(
        "/alpha/config/augment",
        content="def augment(dfs):\n    return dfs  # \x00\n",
        headers={**admin_headers, "Content-Type": "text/plain"},
    )
    assert 400 <= response.status_code < 500, response.text
