"""Admin API for users and groups, and the privilege matrix."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.helpers.api import PASSWORD, SUPER_ADMIN_PASSWORD, assert_error, login


def _app(client: TestClient, headers: dict[str, str], app_id: str = "sales") -> None:
    client.post("/small-apps", json={"id": app_id, "name": app_id.title()}, headers=headers).raise_for_status()


def test_admin_creates_lists_updates_and_deletes_a_user(client: TestClient, admin_headers: dict[str, str]) -> None:
    _app(client, admin_headers)
    created = client.post(
        "/users",
        json={
            "username": "dave",
            "password": PASSWORD,
            "privileges": {"sales": ["view"]},
            "attributes": {"country": "FR"},
        },
        headers=admin_headers,
    )
    assert created.status_code == 201
    body = created.json()
    assert body["privileges"] == {"sales": ["view"]}
    assert "password" not in str(body).lower().replace("'password'", "")
    assert "password_hash" not in body
    assert [u["username"] for u in client.get("/users", headers=admin_headers).json()] == [
        "admin",
        "dave",
    ]
    patched = client.patch("/users/dave", json={"role": "ADMIN"}, headers=admin_headers).json()
    assert patched["role"] == "ADMIN"
    assert client.delete("/users/dave", headers=admin_headers).status_code == 204
    assert_error(client.get("/users/dave", headers=admin_headers), 404, "not_found")


def test_user_validation_errors_name_the_field(client: TestClient, admin_headers: dict[str, str]) -> None:
    error = assert_error(
        client.post("/users", json={"username": "x", "password": "short"}, headers=admin_headers),
        400,
    )
    assert error["details"]["errors"][0]["path"] == "password"
    error = assert_error(client.post("/users", json={"username": "x", "role": "KING"}, headers=admin_headers), 400)
    assert error["details"]["errors"][0]["path"] == "role"
    error = assert_error(
        client.post(
            "/users",
            json={"username": "x", "privileges": {"nope": ["view"]}},
            headers=admin_headers,
        ),
        404,
    )
    assert error["details"]["field"] == "privileges.nope"
    error = assert_error(
        client.post("/users", json={"username": "x", "privileges": {"nope": ["fly"]}}, headers=admin_headers),
        400,
    )
    assert error["details"]["errors"][0]["path"] == "privileges.nope[0]"
    client.post("/users", json={"username": "x"}, headers=admin_headers).raise_for_status()
    assert_error(client.post("/users", json={"username": "x"}, headers=admin_headers), 409, "conflict")


def test_a_plain_user_cannot_manage_users_or_groups(client: TestClient, make_user: Any) -> None:
    headers = make_user("eve")
    assert_error(client.get("/users", headers=headers), 403, "forbidden")
    assert_error(client.post("/users", json={"username": "mallory"}, headers=headers), 403)
    assert_error(client.patch("/users/eve", json={"role": "ADMIN"}, headers=headers), 403)
    assert_error(client.post("/groups", json={"name": "g"}, headers=headers), 403)


def test_an_admin_cannot_become_or_make_a_super_admin(
    client: TestClient, make_user: Any, admin_headers: dict[str, str]
) -> None:
    headers = make_user("alice", role="ADMIN")
    assert_error(client.patch("/users/alice", json={"role": "SUPER_ADMIN"}, headers=headers), 403)
    assert_error(
        client.post("/users", json={"username": "boss", "role": "SUPER_ADMIN"}, headers=headers),
        403,
    )
    make_user("bob")
    assert_error(client.patch("/users/bob", json={"role": "SUPER_ADMIN"}, headers=headers), 403)
    # ... nor touch a super admin's account.
    assert_error(client.patch("/users/admin", json={"password": "new-password-1"}, headers=headers), 403)
    assert_error(client.delete("/users/admin", headers=headers), 403)
    assert client.get("/me", headers=headers).json()["role"] == "ADMIN"
    # An admin can still manage plain users.
    assert client.patch("/users/bob", json={"role": "ADMIN"}, headers=headers).status_code == 200
    # A super admin can promote.
    assert client.patch("/users/alice", json={"role": "SUPER_ADMIN"}, headers=admin_headers).status_code == 200


def test_the_last_super_admin_cannot_be_demoted_or_deleted(
    client: TestClient, make_user: Any, admin_headers: dict[str, str]
) -> None:
    assert_error(client.patch("/users/admin", json={"role": "USER"}, headers=admin_headers), 403)  # own role
    other = make_user("root2", role="SUPER_ADMIN")
    assert client.patch("/users/admin", json={"role": "ADMIN"}, headers=other).status_code == 200
    assert_error(client.patch("/users/root2", json={"role": "ADMIN"}, headers=other), 403)
    assert_error(client.delete("/users/root2", headers=other), 403)


def test_password_change_logs_the_user_out(client: TestClient, make_user: Any, admin_headers: dict[str, str]) -> None:
    headers = make_user("frank")
    client.patch("/users/frank", json={"password": "another password"}, headers=admin_headers).raise_for_status()
    assert_error(client.get("/me", headers=headers), 401, "invalid_token")
    assert_error(client.post("/login", json={"username": "frank", "password": PASSWORD}), 401)
    assert login(client, "frank", "another password")


def test_groups_grant_privileges_to_their_members(
    client: TestClient, make_user: Any, admin_headers: dict[str, str]
) -> None:
    _app(client, admin_headers, "sales")
    _app(client, admin_headers, "hr")
    group = client.post(
        "/groups",
        json={"name": "analysts", "privileges": {"sales": ["contribute"]}},
        headers=admin_headers,
    )
    assert group.status_code == 201
    headers = make_user("gina", groups=["analysts"], privileges={"hr": ["view"]})
    me = client.get("/me", headers=headers).json()
    assert me["groups"] == ["analysts"]
    assert me["privileges"] == {"hr": ["view"], "sales": ["view", "validate", "contribute"]}
    assert client.get("/groups/analysts", headers=admin_headers).json()["members"] == ["gina"]
    client.patch("/groups/analysts", json={"privileges": {}}, headers=admin_headers).raise_for_status()
    assert client.get("/me", headers=headers).json()["privileges"] == {"hr": ["view"]}
    client.patch("/groups/analysts", json={"name": "data"}, headers=admin_headers).raise_for_status()
    assert client.get("/me", headers=headers).json()["groups"] == ["data"]
    assert client.delete("/groups/data", headers=admin_headers).status_code == 204
    assert client.get("/me", headers=headers).json()["groups"] == []
    assert_error(
        client.post("/users", json={"username": "h", "groups": ["nope"]}, headers=admin_headers),
        404,
    )


def test_me_for_admins_lists_every_app(client: TestClient, admin_headers: dict[str, str]) -> None:
    _app(client, admin_headers, "sales")
    me = client.get("/me", headers=admin_headers).json()
    assert me["privileges"] == {"sales": ["view", "validate", "contribute"]}


def test_an_admin_sets_a_groups_members_by_name(
    client: TestClient, make_user: Any, admin_headers: dict[str, str]
) -> None:
    _app(client, admin_headers, "sales")
    make_user("ann")
    bob = make_user("bob")
    created = client.post(
        "/groups",
        json={"name": "north", "privileges": {"sales": ["view"]}, "members": ["ann", "ann"]},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["members"] == ["ann"]
    patched = client.patch("/groups/north", json={"members": ["bob", "ann"]}, headers=admin_headers)
    assert patched.json()["members"] == ["ann", "bob"]
    assert client.get("/me", headers=bob).json()["privileges"] == {"sales": ["view"]}
    # Renaming or changing privileges alone keeps the members.
    client.patch("/groups/north", json={"privileges": {}}, headers=admin_headers).raise_for_status()
    assert client.get("/groups/north", headers=admin_headers).json()["members"] == ["ann", "bob"]
    assert client.patch("/groups/north", json={"members": ["bob"]}, headers=admin_headers).json()["members"] == ["bob"]
    assert client.get("/users/ann", headers=admin_headers).json()["groups"] == []


def test_group_members_are_checked_and_super_admins_are_out_of_an_admins_reach(
    client: TestClient, make_user: Any, admin_headers: dict[str, str]
) -> None:
    _app(client, admin_headers, "sales")
    admin = make_user("alice", role="ADMIN")
    viewer = make_user("vera", privileges={"sales": ["view"]})
    builder = make_user("ben", privileges={"sales": ["contribute"]})
    client.post("/groups", json={"name": "team"}, headers=admin_headers).raise_for_status()
    for headers in (viewer, builder):
        assert_error(client.patch("/groups/team", json={"members": ["vera"]}, headers=headers), 403, "forbidden")
        assert_error(client.post("/groups", json={"name": "mine", "members": ["vera"]}, headers=headers), 403)
    error = assert_error(client.patch("/groups/team", json={"members": ["ghost"]}, headers=admin), 404, "not_found")
    assert error["details"] == {"field": "members", "username": "ghost"}
    assert_error(client.patch("/groups/team", json={"members": "vera"}, headers=admin), 400)
    assert_error(client.patch("/groups/team", json={"members": [1]}, headers=admin), 400)
    # An admin may neither add a super admin to a group nor take one out.
    assert_error(client.patch("/groups/team", json={"members": ["admin"]}, headers=admin), 403, "forbidden")
    assert_error(client.post("/groups", json={"name": "x", "members": ["admin"]}, headers=admin), 403)
    assert client.get("/groups", headers=admin_headers).json()[0]["members"] == []
    client.patch("/groups/team", json={"members": ["admin", "vera"]}, headers=admin_headers).raise_for_status()
    assert_error(client.patch("/groups/team", json={"members": ["vera"]}, headers=admin), 403, "forbidden")
    # ...but may change the others while leaving the super admin where they are.
    kept = client.patch("/groups/team", json={"members": ["admin"]}, headers=admin)
    assert kept.status_code == 200 and kept.json()["members"] == ["admin"]
    assert [g["name"] for g in client.get("/groups", headers=admin_headers).json()] == ["team"]


def test_an_admin_resets_a_password_but_never_a_super_admins(
    client: TestClient, make_user: Any, admin_headers: dict[str, str]
) -> None:
    admin = make_user("alice", role="ADMIN")
    make_user("carl")
    assert client.patch("/users/carl", json={"password": "a-new-password-9"}, headers=admin).status_code == 200
    assert login(client, "carl", "a-new-password-9")
    assert_error(client.patch("/users/carl", json={"password": "short"}, headers=admin), 400)
    assert_error(client.patch("/users/admin", json={"password": "a-new-password-9"}, headers=admin), 403)
    assert_error(client.patch("/users/carl", json={"password": "a-new-password-9"}, headers=make_user("v")), 403)
    assert login(client, "admin", SUPER_ADMIN_PASSWORD)
