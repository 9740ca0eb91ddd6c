"""Version checks of the studio: PUT of a config with the version read (If-Match or
?version=) is refused with 409 config_conflict when staging changed meanwhile, naming what
changed, by whom and when; a release is refused when staging moved since its diff; a chart
naming a column its data lacks is refused by POST /{app}/charts/check."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers.api import assert_error

CSV = {"Content-Type": "text/csv"}
QUERY = [{"name": "domain", "domain": "sales"}]


def _front(*slides: tuple[str, str]) -> dict[str, Any]:
    return {"slides": [{"id": i, "title": t} for i, t in slides]}


@pytest.fixture
def shop(client: TestClient, admin_headers: dict[str, str]) -> str:
    for app in ("shop", "other"):
        client.post("/small-apps", json={"id": app, "name": app.title()}, headers=admin_headers).raise_for_status()
    return "shop"


def _put(client: TestClient, headers: dict[str, str], body: dict[str, Any], **extra: str) -> Any:
    return client.put("/shop/config?stage=staging", json=body, headers={**headers, **extra})


def test_get_gives_the_version_and_a_put_with_it_saves(
    client: TestClient, admin_headers: dict[str, str], shop: str
) -> None:
    assert client.get("/shop/config?stage=staging", headers=admin_headers).headers["X-Config-Version"] == "0"
    assert _put(client, admin_headers, _front(("a", "A")), **{"If-Match": "0"}).headers["X-Config-Version"] == "1"
    got = client.get("/shop/config?stage=staging", headers=admin_headers)
    assert got.headers["X-Config-Version"] == "1"
    # Quoted (as an ETag) or as ?version=: both read the same.
    assert _put(client, admin_headers, _front(("a", "A2")), **{"If-Match": '"1"'}).headers["X-Config-Version"] == "2"
    saved = client.put("/shop/config?stage=staging&version=2", json=_front(("a", "A3")), headers=admin_headers)
    assert saved.status_code == 200 and saved.headers["X-Config-Version"] == "3"
    etl = client.get("/shop/config/etl?stage=staging", headers=admin_headers)
    assert etl.headers["X-Config-Version"] == "0"


def test_a_stale_version_is_a_409_naming_what_changed_by_whom_and_when(
    client: TestClient, admin_headers: dict[str, str], shop: str, make_user: Any
) -> None:
    alice = make_user("alice", privileges={"shop": ["contribute"]})
    bob = make_user("bob", privileges={"shop": ["contribute"]})
    assert _put(client, alice, _front(("intro", "Intro"), ("sales", "Sales"))).status_code == 200
    read = client.get("/shop/config?stage=staging", headers=alice).headers["X-Config-Version"]
    # Bob renames a story, removes one and adds one; Alice, still on her version, saves hers.
    assert _put(client, bob, _front(("intro", "Welcome"), ("costs", "Costs")), **{"If-Match": read}).status_code == 200
    mine = _front(("intro", "Intro"), ("sales", "Sales by country"))
    error = assert_error(_put(client, alice, mine, **{"If-Match": read}), 409, "config_conflict")
    details = error["details"]
    assert details["expected_version"] == 1 and details["current_version"] == 2
    assert details["updated_by"] == "bob" and details["updated_at"]
    stories = details["changes"]["stories"]
    assert stories["added"] == [{"id": "costs", "title": "Costs"}]
    assert stories["removed"] == [{"id": "sales", "title": "Sales by country"}]
    assert stories["changed"] == [{"id": "intro", "title": "Welcome"}]
    assert "bob" in error["message"]
    # Nothing was written: Bob's version stays.
    stored = client.get("/shop/config?stage=staging", headers=alice)
    assert stored.headers["X-Config-Version"] == "2" and stored.json()["slides"][0]["title"] == "Welcome"
    # ?version= is checked the same way.
    assert_error(client.put("/shop/config?stage=staging&version=1", json=mine, headers=alice), 409, "config_conflict")
    # Overwrite: without a version the PUT keeps working as before (API compatibility).
    over = _put(client, alice, mine, **{"If-Match": "*"})
    assert over.status_code == 200 and over.headers["X-Config-Version"] == "3"
    assert client.get("/shop/config?stage=staging", headers=bob).json() == mine
    assert _put(client, bob, _front(("a", "A"))).headers["X-Config-Version"] == "4"


def test_the_etl_config_is_checked_too(client: TestClient, admin_headers: dict[str, str], shop: str) -> None:
    url = "/shop/config/etl?stage=staging"
    assert client.put(url, json={"DATA_SOURCES": []}, headers={**admin_headers, "If-Match": "0"}).status_code == 200
    sources = {"DATA_SOURCES": [{"domain": "sales", "file": "sales.csv"}]}
    assert client.put(url, json=sources, headers=admin_headers).status_code == 200
    error = assert_error(
        client.put(url, json={"DATA_SOURCES": [], "PIPELINE": []}, headers={**admin_headers, "If-Match": "1"}),
        409,
        "config_conflict",
    )
    assert error["details"]["kind"] == "etl" and error["details"]["changes"]["keys"] == ["DATA_SOURCES", "PIPELINE"]


def test_a_bad_version_is_a_400_naming_it(client: TestClient, admin_headers: dict[str, str], shop: str) -> None:
    error = assert_error(_put(client, admin_headers, _front(), **{"If-Match": "yesterday"}), 400, "bad_request")
    assert "If-Match" in error["message"] and error["details"]["field"] == "If-Match"
    assert_error(client.put("/shop/config?stage=staging&version=-1", json=_front(), headers=admin_headers), 400)
    assert_error(client.put("/shop/config?stage=staging&version=abc", json=_front(), headers=admin_headers), 400)
    assert client.get("/shop/config?stage=staging", headers=admin_headers).headers["X-Config-Version"] == "0"


def test_attackers_learn_nothing_from_versions(
    client: TestClient, admin_headers: dict[str, str], shop: str, make_user: Any
) -> None:
    assert _put(client, admin_headers, _front(("secret", "Secret plan"))).status_code == 200
    viewer = make_user("vera", privileges={"shop": ["view"]})
    stranger = make_user("sam", privileges={"other": ["contribute"]})
    # A viewer cannot write, with or without a version, and is not told what staging holds.
    for headers, status in ((viewer, 403), (stranger, 404)):
        for version in ("1", "0"):
            error = assert_error(_put(client, headers, _front(("x", "X")), **{"If-Match": version}), status)
            assert "Secret" not in str(error)
        assert_error(client.get("/shop/config?stage=staging", headers=headers), status)
    assert client.get("/shop/config?stage=staging", headers=admin_headers).headers["X-Config-Version"] == "1"


def test_a_release_is_refused_when_staging_moved_since_its_diff(
    client: TestClient, admin_headers: dict[str, str], shop: str
) -> None:
    assert _put(client, admin_headers, _front(("a", "One"))).status_code == 200
    client.put("/shop/domain/sales?stage=staging", content="x\n1\n", headers={**admin_headers, **CSV})
    diff = client.get("/shop/release/diff", headers=admin_headers).json()
    versions = diff["staging_versions"]
    assert versions["configs"]["front"] == 1 and versions["domain_version"]
    # Someone saves staging between the diff and the confirm.
    assert _put(client, admin_headers, _front(("a", "One"), ("b", "Two"))).status_code == 200
    body = {"operations": ["release_design", "release_data"], "staging_versions": versions}
    refused = client.post("/shop/config/operations", json=body, headers=admin_headers)
    error = assert_error(refused, 409, "config_conflict")
    assert error["details"]["changed"] == ["front config"]
    assert client.get("/shop/releases", headers=admin_headers).json()["releases"] == []
    # New data meanwhile refuses a data release, not a design one computed on the new configs.
    fresh = client.get("/shop/release/diff", headers=admin_headers).json()["staging_versions"]
    client.put("/shop/domain/sales?stage=staging", content="x\n1\n2\n", headers={**admin_headers, **CSV})
    data = {"operations": ["release_data"], "staging_versions": fresh}
    refused = client.post("/shop/config/operations", json=data, headers=admin_headers)
    error = assert_error(refused, 409, "config_conflict")
    assert error["details"]["changed"] == ["data"]
    design = {"operations": ["release_design"], "staging_versions": fresh}
    assert client.post("/shop/config/operations", json=design, headers=admin_headers).status_code == 200
    # Without staging_versions, releasing works as before.
    plain = {"operations": ["release_data"]}
    assert client.post("/shop/config/operations", json=plain, headers=admin_headers).status_code == 200
    assert len(client.get("/shop/releases", headers=admin_headers).json()["releases"]) == 2


def test_chart_check_names_a_missing_column(
    client: TestClient, admin_headers: dict[str, str], shop: str, make_user: Any
) -> None:
    client.put(
        "/shop/domain/sales?stage=staging", content="country,revenue\nFrance,3\n", headers={**admin_headers, **CSV}
    ).raise_for_status()
    ok = client.post(
        "/shop/charts/check",
        json={"chart": {"type": "bar", "x": "country", "y": ["revenue"]}, "query": QUERY},
        headers=admin_headers,
    )
    assert ok.status_code == 200, ok.text
    assert [c["name"] for c in ok.json()["columns"]] == ["country", "revenue"]
    error = assert_error(
        client.post(
            "/shop/charts/check",
            json={"chart": {"type": "bar", "x": "country", "y": ["revenue", "margin"]}, "query": QUERY},
            headers=admin_headers,
        ),
        400,
        "validation_error",
    )
    assert "'margin'" in error["message"] and "y[1]" in error["message"]
    assert error["details"]["errors"][0]["path"] == "chart.y[1]"
    assert_error(client.post("/shop/charts/check", json={"chart": "bar", "query": QUERY}, headers=admin_headers), 400)
    # Attackers: a viewer of the app, a builder of another app, nobody.
    builder = make_user("bob", privileges={"other": ["contribute"]})
    viewer = make_user("vera", privileges={"shop": ["view", "validate"]})
    body = {"chart": {"type": "bar", "x": "country"}, "query": QUERY}
    assert_error(client.post("/shop/charts/check", json=body, headers=viewer), 403)
    assert_error(client.post("/shop/charts/check", json=body, headers=builder), 404)
    assert_error(client.post("/shop/charts/check", json=body), 401)
