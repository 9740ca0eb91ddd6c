"""Data permissions edited on their own (`/{app}/permissions`): read with the domains' columns,
checked and saved into the staging ETL config, previewed as a user; administrators only."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.helpers.api import assert_error

SALES_CSV = "country,city,revenue\nFrance,Paris,100\nFrance,Lyon,50\nSpain,Madrid,70\nItaly,Roma,90\n"

BY_COUNTRY: dict[str, Any] = {
    "domain": "sales",
    "scope": "ALL_USERS",
    "effect": "CUSTOM",
    "condition": {"column": "country", "operator": "eq", "value": "{{ user.attributes.country }}"},
}
MANAGERS: dict[str, Any] = {"domain": "sales", "scope": "USER_GROUP", "group": "managers", "effect": "SEE_ALL"}


def _app(client: TestClient, headers: dict[str, str], app: str = "sales") -> None:
    client.post("/small-apps", json={"id": app, "name": app.title()}, headers=headers).raise_for_status()
    response = client.put(
        f"/{app}/domain/sales?stage=staging", content=SALES_CSV, headers={**headers, "Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text


def test_rules_saved_in_the_staging_etl_config_and_previewed_as_a_user(
    client: TestClient, admin_headers: dict[str, str], make_user: Any
) -> None:
    _app(client, admin_headers)
    # The rest of the ETL config is kept by a save.
    client.put("/sales/config/etl", json={"DATA_SOURCES": [], "EXTRA": 1}, headers=admin_headers).raise_for_status()
    client.post("/groups", json={"name": "managers"}, headers=admin_headers).raise_for_status()
    viewer = make_user("ann", privileges={"sales": ["view"]}, attributes={"country": "France"})
    make_user("bob", privileges={"sales": ["view"]}, attributes={"country": "Spain"}, groups=["managers"])

    empty = client.get("/sales/permissions", headers=admin_headers).json()
    assert empty["rules"] == []
    (domain,) = empty["domains"]
    assert domain["name"] == "sales" and domain["rows"] == 4
    assert [c["name"] for c in domain["columns"]] == ["country", "city", "revenue"]

    saved = client.put("/sales/permissions", json={"rules": [BY_COUNTRY, MANAGERS]}, headers=admin_headers)
    assert saved.status_code == 200, saved.text
    assert saved.json()["rules"] == [BY_COUNTRY, MANAGERS]
    etl = client.get("/sales/config/etl", headers=admin_headers).json()
    assert etl["DATA_PERMISSIONS"] == [BY_COUNTRY, MANAGERS] and etl["EXTRA"] == 1
    assert client.get("/sales/permissions", headers=admin_headers).json()["rules"] == [BY_COUNTRY, MANAGERS]

    # Saved rules, as ann: her country's rows only, and why.
    ann = client.post("/sales/permissions/preview", json={"username": "ann", "domain": "sales"}, headers=admin_headers)
    assert ann.status_code == 200, ann.text
    body = ann.json()
    assert sorted(r["city"] for r in body["data"]) == ["Lyon", "Paris"]
    assert (body["rows_visible"], body["rows_total"], body["applied_rules"]) == (2, 4, [0])
    assert body["conditions"] == [{"column": "country", "operator": "eq", "value": "France"}]
    assert body["user"]["attributes"] == {"country": "France"} and body["can_view"] is True
    # bob is a manager: the group rule OR-ed with his country's gives every row.
    bob = client.post("/sales/permissions/preview", json={"username": "bob", "domain": "sales"}, headers=admin_headers)
    assert (bob.json()["rows_visible"], bob.json()["see_all"], bob.json()["applied_rules"]) == (4, True, [0, 1])

    # Rules not saved yet (the form's): a default that shows nothing.
    draft = [{"domain": "sales", "scope": "DEFAULT", "effect": "SEE_NOTHING"}, MANAGERS]
    ann_draft = client.post(
        "/sales/permissions/preview", json={"username": "ann", "domain": "sales", "rules": draft}, headers=admin_headers
    ).json()
    assert (ann_draft["rows_visible"], ann_draft["data"], ann_draft["applied_rules"]) == (0, [], [0])

    # The preview is what the viewer's own data requests get, once released.
    client.post("/sales/config/operations", json={"operations": ["release_design"]}, headers=admin_headers)
    client.post("/sales/data/release", headers=admin_headers).raise_for_status()
    rows = client.post("/sales/data", json={"query": {"domain": "sales"}}, headers=viewer).json()["data"]
    assert sorted(r["city"] for r in rows) == sorted(r["city"] for r in body["data"])


def test_bad_rules_answer_400_naming_the_rule_and_field(client: TestClient, admin_headers: dict[str, str]) -> None:
    _app(client, admin_headers)

    def put(*rules: dict[str, Any]) -> Any:
        return client.put("/sales/permissions", json={"rules": list(rules)}, headers=admin_headers)

    no_column = assert_error(
        put(MANAGERS, {**BY_COUNTRY, "condition": {"column": "region", "operator": "eq", "value": "x"}}), 400
    )
    assert "rules[1].condition.column" in no_column["message"] and "'region'" in no_column["message"]
    assert "country, city, revenue" not in no_column["message"]  # listed sorted
    assert "city, country, revenue" in no_column["message"]
    no_domain = assert_error(put({**MANAGERS, "domain": "targets"}), 400)
    assert "rules[0].domain" in no_domain["message"] and "'targets'" in no_domain["message"]
    bad_operator = assert_error(put({**BY_COUNTRY, "condition": {"column": "country", "operator": "like"}}), 400)
    assert "rules[0].condition" in bad_operator["message"]
    inconsistent = assert_error(put({**MANAGERS, "group": None}), 400)
    assert "group" in inconsistent["message"]
    # Nothing was saved by the refused puts.
    assert client.get("/sales/permissions", headers=admin_headers).json()["rules"] == []
    # A user without the attribute a rule reads: said plainly.
    assert client.post("/users", json={"username": "cy", "password": "pass-word-1"}, headers=admin_headers).is_success
    put(BY_COUNTRY).raise_for_status()
    missing = assert_error(
        client.post("/sales/permissions/preview", json={"username": "cy", "domain": "sales"}, headers=admin_headers),
        400,
        "missing_variable",
    )
    assert "user.attributes.country" in missing["message"] and "'cy'" in missing["message"]
    unknown_user = client.post(
        "/sales/permissions/preview", json={"username": "zed", "domain": "sales"}, headers=admin_headers
    )
    assert "zed" in assert_error(unknown_user, 404)["message"]
    unknown_domain = client.post(
        "/sales/permissions/preview", json={"username": "cy", "domain": "nope"}, headers=admin_headers
    )
    assert "nope" in assert_error(unknown_domain, 404)["message"]
    assert_error(client.get("/nope/permissions", headers=admin_headers), 404)
    assert_error(client.put("/nope/permissions", json={"rules": []}, headers=admin_headers), 404)


def test_viewers_and_builders_are_refused_every_permission_route(
    client: TestClient, admin_headers: dict[str, str], make_user: Any
) -> None:
    """As the attacker: a viewer of the app, and its builder (contribute), try to read the rules,
    rewrite them to see everything, or preview another user's rows."""
    _app(client, admin_headers)
    client.put("/sales/permissions", json={"rules": [BY_COUNTRY]}, headers=admin_headers).raise_for_status()
    make_user("victim", privileges={"sales": ["view"]}, attributes={"country": "Italy"})
    viewer = make_user("viewer", privileges={"sales": ["view"]}, attributes={"country": "France"})
    builder = make_user("builder", privileges={"sales": ["contribute"]})
    open_all = {"rules": [{"domain": "sales", "scope": "ALL_USERS", "effect": "SEE_ALL"}]}
    for headers in (viewer, builder):
        assert_error(client.get("/sales/permissions", headers=headers), 403)
        assert_error(client.put("/sales/permissions", json=open_all, headers=headers), 403)
        preview = client.post(
            "/sales/permissions/preview", json={"username": "victim", "domain": "sales"}, headers=headers
        )
        assert_error(preview, 403)
    assert_error(client.get("/sales/permissions"), 401)
    assert client.get("/sales/permissions", headers=admin_headers).json()["rules"] == [BY_COUNTRY]
    # An admin (not super admin) may use them.
    admin = make_user("helper-admin", role="ADMIN")
    assert client.get("/sales/permissions", headers=admin).status_code == 200


def test_a_save_over_a_stale_version_is_a_conflict_and_keeps_the_other_save(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    _app(client, admin_headers)
    read = client.get("/sales/permissions?stage=staging", headers=admin_headers)
    assert read.status_code == 200
    version = read.json()["version"]
    assert read.headers["X-Config-Version"] == str(version)
    # Another admin saves the ETL config (or its rules) after this editor read it.
    theirs = client.put(
        "/sales/permissions", json={"rules": [MANAGERS]}, headers={**admin_headers, "If-Match": str(version)}
    )
    assert theirs.status_code == 200, theirs.text
    assert theirs.json()["version"] == version + 1 and theirs.headers["X-Config-Version"] == str(version + 1)
    # This editor saves over the version it read: refused, nothing written.
    mine = client.put(
        "/sales/permissions", json={"rules": [BY_COUNTRY]}, headers={**admin_headers, "If-Match": str(version)}
    )
    assert_error(mine, 409, "config_conflict")
    assert mine.json()["error"]["details"]["current_version"] == version + 1
    stored = client.get("/sales/config/etl?stage=staging", headers=admin_headers).json()
    assert stored["DATA_PERMISSIONS"] == [MANAGERS]
    # A bad If-Match is a 400 naming the header; `*` overwrites (the rest of the config kept).
    bad = client.put("/sales/permissions", json={"rules": [BY_COUNTRY]}, headers={**admin_headers, "If-Match": "x"})
    assert_error(bad, 400)
    assert bad.json()["error"]["details"] == {"field": "If-Match"}
    over = client.put("/sales/permissions", json={"rules": [BY_COUNTRY]}, headers={**admin_headers, "If-Match": "*"})
    assert over.status_code == 200
    assert client.get("/sales/permissions", headers=admin_headers).json()["rules"] == [BY_COUNTRY]
    # The ETL editor that read before the rules were saved is refused too (one version for both).
    etl = client.put(
        "/sales/config/etl", json={"DATA_SOURCES": []}, headers={**admin_headers, "If-Match": str(version)}
    )
    assert_error(etl, 409, "config_conflict")
