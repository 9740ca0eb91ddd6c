"""Small apps: ids, visibility and who may change them."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.helpers.api import assert_error


def test_id_is_derived_from_the_name_as_a_slug_of_at_most_30_bytes(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    first = client.post(
        "/small-apps",
        json={"name": "Ventes Île-de-France — Synthèse annuelle 2026"},
        headers=admin_headers,
    )
    assert first.status_code == 201
    app_id = first.json()["id"]
    assert app_id == "ventes-ile-de-france-synthese"
    assert len(app_id.encode()) <= 30
    second = client.post(
        "/small-apps",
        json={"name": "Ventes Île-de-France — Synthèse annuelle 2026"},
        headers=admin_headers,
    )
    assert second.json()["id"] == "ventes-ile-de-france-synthes-2"
    assert client.post("/small-apps", json={"name": "Users"}, headers=admin_headers).json()["id"] == "users-app"


def test_explicit_ids_are_validated(client: TestClient, admin_headers: dict[str, str]) -> None:
    for bad in ("Has Caps", "x" * 31, "-dash", "users", "a/b", "é"):
        error = assert_error(client.post("/small-apps", json={"id": bad, "name": "n"}, headers=admin_headers), 400)
        assert error["details"]["errors"][0]["path"] == "id"
    client.post("/small-apps", json={"id": "sales", "name": "Sales"}, headers=admin_headers).raise_for_status()
    assert_error(
        client.post("/small-apps", json={"id": "sales", "name": "Again"}, headers=admin_headers),
        409,
    )
    assert_error(client.post("/small-apps", json={"id": "x"}, headers=admin_headers), 400)


def test_list_shows_only_apps_the_caller_may_see(
    client: TestClient, admin_headers: dict[str, str], make_user: Any
) -> None:
    for app_id in ("sales", "hr", "ops"):
        client.post("/small-apps", json={"id": app_id, "name": app_id}, headers=admin_headers).raise_for_status()
    viewer = make_user("vic", privileges={"sales": ["view"]})
    nobody = make_user("nat")
    assert [a["id"] for a in client.get("/small-apps", headers=viewer).json()] == ["sales"]
    assert client.get("/small-apps", headers=nobody).json() == []
    assert len(client.get("/small-apps", headers=admin_headers).json()) == 3
    # An app one may not see is reported as missing, not as forbidden.
    assert_error(client.get("/small-apps/hr", headers=viewer), 404)
    assert client.get("/small-apps/sales", headers=viewer).json()["id"] == "sales"


def test_only_admins_create_and_delete_and_contributors_rename(
    client: TestClient, admin_headers: dict[str, str], make_user: Any
) -> None:
    client.post("/small-apps", json={"id": "sales", "name": "Sales"}, headers=admin_headers).raise_for_status()
    viewer = make_user("vic", privileges={"sales": ["view"]})
    builder = make_user("bea", privileges={"sales": ["contribute"]})
    assert_error(client.post("/small-apps", json={"name": "Mine"}, headers=builder), 403)
    assert_error(client.patch("/small-apps/sales", json={"name": "X"}, headers=viewer), 403)
    assert (
        client.patch("/small-apps/sales", json={"name": "Sales 2026"}, headers=builder).json()["name"] == "Sales 2026"
    )
    assert_error(client.delete("/small-apps/sales", headers=builder), 403)
    assert client.delete("/small-apps/sales", headers=admin_headers).status_code == 204
    assert_error(client.get("/small-apps/sales", headers=admin_headers), 404)
    # Privileges on a deleted app go with it.
    assert client.get("/me", headers=builder).json()["privileges"] == {}
