"""Bad input gets a 4xx JSON error saying what and where — never a 500 or a trace."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import assert_error


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
    client: TestClient, admin_headers: dict[str, str], monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    import toucan.apps.small_apps as small_apps

    def boom(*_a, **_k):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internals")

    monkeypatch.setattr(small_apps, "list_apps", boom)
    response = client.get("/small-apps", headers=admin_headers)
    assert_error(response, 500, "internal_error")
    assert "secret internals" not in response.text
