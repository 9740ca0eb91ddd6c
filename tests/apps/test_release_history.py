"""Safe release through HTTP: what releasing staging would change, the release history, and
rollback of production to a past release (design and data, in one transaction)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

from tests.helpers.api import assert_error
from toucan.data.domains import domain_store_for
from toucan.data.release import RELEASES_KEPT
from toucan.db.domain_models import DomainTable, DomainVersion
from toucan.db.engine import Database
from toucan.db.release_models import Release
from toucan.settings import Settings

CSV = {"Content-Type": "text/csv"}


def _front(*slides: tuple[str, str], home: str = "Shop") -> dict[str, Any]:
    return {"slides": [{"id": i, "title": t} for i, t in slides], "home": {"title": home}}


def _stage(client: TestClient, headers: dict[str, str], front: dict[str, Any], **domains: str) -> None:
    response = client.put("/shop/config?stage=staging", json=front, headers=headers)
    assert response.status_code == 200, response.text
    for name, csv in domains.items():
        response = client.put(f"/shop/domain/{name}?stage=staging", content=csv, headers={**headers, **CSV})
        assert response.status_code == 200, response.text


def _release_all(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.post(
        "/shop/config/operations", json={"operations": ["release_design", "release_data"]}, headers=headers
    )
    assert response.status_code == 200, response.text
    results: dict[str, Any] = response.json()["results"]
    return results


def _history(client: TestClient, headers: dict[str, str], app: str = "shop") -> list[dict[str, Any]]:
    response = client.get(f"/{app}/releases", headers=headers)
    assert response.status_code == 200, response.text
    releases: list[dict[str, Any]] = response.json()["releases"]
    return releases


def _production_titles(client: TestClient, headers: dict[str, str]) -> list[str]:
    return [s["title"] for s in client.get("/shop/config?stage=production", headers=headers).json()["slides"]]


def _production_rows(client: TestClient, headers: dict[str, str]) -> dict[str, int]:
    meta = client.get("/shop/metadata?stage=production", headers=headers).json()
    return {d["name"]: d["rows"] for d in meta["domains"]}


def _app(client: TestClient, headers: dict[str, str], app: str = "shop") -> None:
    client.post("/small-apps", json={"id": app, "name": app.title()}, headers=headers).raise_for_status()


def test_the_diff_names_stories_configs_and_domains_with_row_counts(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    _app(client, admin_headers)
    _stage(client, admin_headers, _front(("a", "Sales"), ("b", "Costs")), sales="x\n1\n2\n", old="y\n1\n")
    _release_all(client, admin_headers)

    # Nothing staged since: the diff says so.
    same = client.get("/shop/release/diff", headers=admin_headers).json()
    assert same["design"]["changed"] is False and same["data"]["changed"] is False
    assert [d["change"] for d in same["data"]["domains"]] == ["unchanged", "unchanged"]

    # Story a renamed, b removed, c added; home changed; sales reloaded with 3 rows, old
    # dropped (a full load in staging would; here: a new version without it), new added.
    _stage(client, admin_headers, _front(("c", "Margins"), ("a", "Revenue"), home="Shop 2"), sales="x\n1\n2\n3\n")
    _stage(client, admin_headers, _front(("c", "Margins"), ("a", "Revenue"), home="Shop 2"), new="z\n1\n")
    diff = client.get("/shop/release/diff", headers=admin_headers).json()
    stories = diff["design"]["stories"]
    assert stories["added"] == [{"id": "c", "title": "Margins", "title_before": None}]
    assert stories["removed"] == [{"id": "b", "title": "Costs", "title_before": None}]
    assert stories["changed"] == [{"id": "a", "title": "Revenue", "title_before": "Sales"}]
    assert diff["design"]["home_changed"] is True and diff["design"]["requesters_changed"] is False
    assert {c["kind"]: c["changed"] for c in diff["design"]["configs"]} == {
        "front": True,
        "etl": False,
        "augment": False,
    }
    domains = {d["name"]: d for d in diff["data"]["domains"]}
    assert domains["sales"] == {"name": "sales", "change": "changed", "rows_before": 2, "rows_after": 3}
    assert domains["new"] == {"name": "new", "change": "added", "rows_before": None, "rows_after": 1}
    assert domains["old"]["change"] == "unchanged"  # an upload replaces one domain, keeps the others
    assert diff["data"]["changed"] is True and diff["staging_has_data"] is True

    # An ETL config change is a design change too.
    etl = {"DATA_SOURCES": [{"domain": "sales", "type": "csv", "file": "sales.csv"}]}
    assert client.put("/shop/config/etl", json=etl, headers=admin_headers).status_code == 200
    kinds = client.get("/shop/release/diff", headers=admin_headers).json()["design"]["configs"]
    assert {c["kind"]: c["changed"] for c in kinds}["etl"] is True


def test_each_release_is_one_history_row_with_who_when_and_what(
    client: TestClient, admin_headers: dict[str, str], make_user: Any
) -> None:
    _app(client, admin_headers)
    builder = make_user("bob", privileges={"shop": ["contribute"]})
    _stage(client, admin_headers, _front(("a", "Sales")), sales="x\n1\n")
    assert _history(client, builder) == []

    before = datetime.now(UTC)
    results = _release_all(client, builder)  # design and data together: one release
    assert set(results) == {"release_design", "release_data"}
    _stage(client, admin_headers, _front(("a", "Sales"), ("b", "Costs")))
    design = client.post("/shop/config/operations", json={"operations": ["release_design"]}, headers=builder)
    assert design.status_code == 200, design.text
    _stage(client, admin_headers, _front(("a", "Sales"), ("b", "Costs")), sales="x\n1\n2\n")
    data = client.post("/shop/data/release", headers=admin_headers)
    assert data.status_code == 200, data.text

    rows = _history(client, builder)
    assert [(r["design"], r["data"]) for r in rows] == [(False, True), (True, False), (True, True)]
    assert [r["created_by"] for r in rows] == ["admin", "bob", "bob"]
    assert data.json()["release"] == rows[0]["id"]
    assert all(datetime.fromisoformat(r["created_at"]) >= before - timedelta(seconds=1) for r in rows)
    assert all(r["can_roll_back"] and r["rollback_refused"] is None for r in rows)
    # What each changed in production.
    assert rows[2]["changes"]["design"]["stories"]["added"] == [{"id": "a", "title": "Sales"}]
    assert rows[2]["changes"]["data"]["domains"] == [
        {"name": "sales", "change": "added", "rows_before": None, "rows_after": 1}
    ]
    assert rows[1]["changes"]["design"]["stories"]["added"] == [{"id": "b", "title": "Costs"}]
    assert rows[1]["changes"]["data"]["changed"] is False
    assert rows[0]["changes"]["design"]["changed"] is False
    assert rows[0]["changes"]["data"]["domains"][0] == {
        "name": "sales",
        "change": "changed",
        "rows_before": 1,
        "rows_after": 2,
    }
    # The versions it put in production.
    assert rows[0]["domain_version"] == data.json()["version"]
    assert rows[1]["config_versions"]["front"] == design.json()["results"]["release_design"]["front"]
    assert client.get("/shop/releases?limit=1", headers=builder).json()["releases"][0]["id"] == rows[0]["id"]
    assert client.get("/shop/releases", headers=builder).json()["kept"] == RELEASES_KEPT


def test_rollback_brings_back_design_and_data_as_a_new_release(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    _app(client, admin_headers)
    _stage(client, admin_headers, _front(("a", "Old title")), sales="x\n1\n")
    _release_all(client, admin_headers)
    _stage(client, admin_headers, _front(("a", "New title"), ("b", "Extra")), sales="x\n1\n2\n3\n", more="y\n1\n")
    _release_all(client, admin_headers)
    assert _production_titles(client, admin_headers) == ["New title", "Extra"]
    assert _production_rows(client, admin_headers) == {"sales": 3, "more": 1}
    first = _history(client, admin_headers)[-1]

    response = client.post(f"/shop/releases/{first['id']}/rollback", headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json()["rollback_of"] == first["id"]
    assert response.json()["version"] == first["domain_version"]
    assert _production_titles(client, admin_headers) == ["Old title"]
    assert _production_rows(client, admin_headers) == {"sales": 1}
    # Staging is untouched.
    staged = client.get("/shop/config?stage=staging", headers=admin_headers).json()
    assert [s["title"] for s in staged["slides"]] == ["New title", "Extra"]

    rows = _history(client, admin_headers)
    assert len(rows) == 3 and rows[0]["id"] == response.json()["release"]
    assert rows[0]["rollback_of"] == first["id"] and rows[0]["design"] and rows[0]["data"]
    changes = rows[0]["changes"]
    assert changes["design"]["stories"]["removed"] == [{"id": "b", "title": "Extra"}]
    assert changes["design"]["stories"]["changed"] == [{"id": "a", "title": "Old title", "title_before": "New title"}]
    assert {d["name"]: d["change"] for d in changes["data"]["domains"]} == {"more": "removed", "sales": "changed"}

    # And forward again, to the release the rollback replaced.
    second = rows[1]
    assert client.post(f"/shop/releases/{second['id']}/rollback", headers=admin_headers).status_code == 200
    assert _production_titles(client, admin_headers) == ["New title", "Extra"]
    assert _production_rows(client, admin_headers) == {"sales": 3, "more": 1}
    # The production config's version kept increasing: caches keyed on it see a new one.
    assert _history(client, admin_headers)[0]["config_versions"]["front"] == 4


def test_a_rollback_to_a_release_without_data_leaves_production_without_data(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    _app(client, admin_headers)
    _stage(client, admin_headers, _front(("a", "Draft")))
    design = client.post("/shop/config/operations", json={"operations": ["release_design"]}, headers=admin_headers)
    assert design.status_code == 200, design.text
    _stage(client, admin_headers, _front(("a", "Final")), sales="x\n1\n")
    _release_all(client, admin_headers)
    first = _history(client, admin_headers)[-1]
    assert first["domain_version"] is None
    assert client.post(f"/shop/releases/{first['id']}/rollback", headers=admin_headers).status_code == 200
    assert _production_titles(client, admin_headers) == ["Draft"]
    assert _production_rows(client, admin_headers) == {}
    assert _history(client, admin_headers)[0]["changes"]["data"]["domains"] == [
        {"name": "sales", "change": "removed", "rows_before": 1, "rows_after": None}
    ]


def test_a_failed_release_changes_nothing_and_records_nothing(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    _app(client, admin_headers)
    _stage(client, admin_headers, _front(("a", "Sales")))  # no data in staging
    response = client.post(
        "/shop/config/operations", json={"operations": ["release_design", "release_data"]}, headers=admin_headers
    )
    assert_error(response, 400)
    assert client.get("/shop/config?stage=production", headers=admin_headers).json() == {}
    assert _history(client, admin_headers) == []
    assert client.get("/shop/release/diff", headers=admin_headers).json()["staging_has_data"] is False


def _age_superseded_versions(db: Database) -> None:
    with db.session() as session:
        session.execute(
            update(DomainVersion)
            .where(DomainVersion.superseded_at.is_not(None))
            .values(superseded_at=datetime.now(UTC) - timedelta(days=1))
        )


def test_the_last_releases_keep_their_data_and_older_ones_are_refused_with_409(
    client: TestClient, admin_headers: dict[str, str], db: Database, settings: Settings
) -> None:
    _app(client, admin_headers)
    for n in range(RELEASES_KEPT + 2):
        _stage(client, admin_headers, _front(("a", f"Version {n}")), sales="x\n" + "1\n" * (n + 1))
        _release_all(client, admin_headers)
    rows = _history(client, admin_headers)
    assert len(rows) == RELEASES_KEPT + 2
    # Long past the grace period, garbage collection runs: the kept releases' data stays.
    _age_superseded_versions(db)
    domain_store_for(settings, db).collect_garbage("shop")
    with db.readonly_session() as session:
        stored = set(session.scalars(select(DomainVersion.id).where(DomainVersion.app_id == "shop")))
        kept = [r.configs is not None for r in session.scalars(select(Release).where(Release.kept.is_(True)))]
    assert {r["domain_version"] for r in rows[:RELEASES_KEPT]} <= stored
    assert not {r["domain_version"] for r in rows[RELEASES_KEPT:]} & stored
    assert kept == [True] * RELEASES_KEPT

    assert [r["can_roll_back"] for r in rows] == [True] * RELEASES_KEPT + [False, False]
    oldest_kept, too_old = rows[RELEASES_KEPT - 1], rows[RELEASES_KEPT]
    assert f"last {RELEASES_KEPT} releases" in too_old["rollback_refused"]
    error = assert_error(
        client.post(f"/shop/releases/{too_old['id']}/rollback", headers=admin_headers), 409, "release_not_kept"
    )
    assert error["details"] == {"release": too_old["id"]}
    assert _production_titles(client, admin_headers) == [f"Version {RELEASES_KEPT + 1}"]

    # The oldest kept release still rolls back, data included, after the collection.
    assert client.post(f"/shop/releases/{oldest_kept['id']}/rollback", headers=admin_headers).status_code == 200
    assert _production_titles(client, admin_headers) == ["Version 2"]
    assert _production_rows(client, admin_headers) == {"sales": 3}


def test_a_release_whose_data_is_gone_is_refused_with_409(
    client: TestClient, admin_headers: dict[str, str], db: Database
) -> None:
    _app(client, admin_headers)
    _stage(client, admin_headers, _front(("a", "One")), sales="x\n1\n")
    _release_all(client, admin_headers)
    _stage(client, admin_headers, _front(("a", "Two")), sales="x\n1\n2\n")
    _release_all(client, admin_headers)
    first = _history(client, admin_headers)[-1]
    # Its version removed behind the history's back (an operator, a restore of an older backup).
    with db.session() as session:
        session.execute(delete(DomainTable).where(DomainTable.version_id == first["domain_version"]))
        session.execute(delete(DomainVersion).where(DomainVersion.id == first["domain_version"]))
    listed = _history(client, admin_headers)[-1]
    assert listed["can_roll_back"] is False and "garbage-collected" in listed["rollback_refused"]
    error = assert_error(
        client.post(f"/shop/releases/{first['id']}/rollback", headers=admin_headers), 409, "release_not_kept"
    )
    assert "garbage-collected" in error["message"]
    assert _production_titles(client, admin_headers) == ["Two"]  # nothing moved
    assert len(_history(client, admin_headers)) == 2


# --- who may see and do what ---------------------------------------------------------------


def test_viewers_and_builders_of_other_apps_cannot_see_or_roll_back(
    client: TestClient, admin_headers: dict[str, str], make_user: Any
) -> None:
    _app(client, admin_headers)
    _app(client, admin_headers, "other")
    _stage(client, admin_headers, _front(("a", "One")), sales="x\n1\n")
    _release_all(client, admin_headers)
    release_id = _history(client, admin_headers)[0]["id"]
    viewer = make_user("vera", privileges={"shop": ["view"]})
    validator = make_user("val", privileges={"shop": ["validate"]})
    stranger = make_user("sam", privileges={"other": ["contribute"]})
    for headers, status in ((viewer, 403), (validator, 403), (stranger, 404)):
        assert_error(client.get("/shop/release/diff", headers=headers), status)
        assert_error(client.get("/shop/releases", headers=headers), status)
        assert_error(client.post(f"/shop/releases/{release_id}/rollback", headers=headers), status)
    assert_error(client.get("/shop/releases"), 401, "missing_authorization")
    assert len(_history(client, admin_headers)) == 1


def test_an_id_of_another_apps_release_is_404(
    client: TestClient, admin_headers: dict[str, str], make_user: Any
) -> None:
    _app(client, admin_headers)
    _app(client, admin_headers, "other")
    both = make_user("bea", privileges={"shop": ["contribute"], "other": ["contribute"]})
    _stage(client, admin_headers, _front(("a", "Shop story")), sales="x\n1\n")
    _release_all(client, admin_headers)
    shop_release = _history(client, admin_headers)[0]["id"]
    assert client.put("/other/config?stage=staging", json=_front(("o", "Other")), headers=both).status_code == 200
    released = client.post("/other/config/operations", json={"operations": ["release_design"]}, headers=both)
    assert released.status_code == 200, released.text
    assert [r["id"] for r in _history(client, both, "other")] != [shop_release]

    error = assert_error(client.post(f"/other/releases/{shop_release}/rollback", headers=both), 404, "not_found")
    assert "other" in error["message"]
    assert_error(client.post("/shop/releases/999999/rollback", headers=both), 404, "not_found")
    other_front = client.get("/other/config?stage=production", headers=both).json()
    assert [s["title"] for s in other_front["slides"]] == ["Other"]


def test_bad_input_is_a_clear_400(client: TestClient, admin_headers: dict[str, str]) -> None:
    _app(client, admin_headers)
    assert_error(client.post("/shop/releases/abc/rollback", headers=admin_headers), 400)
    assert_error(client.get("/shop/releases?limit=0", headers=admin_headers), 400)
    assert_error(client.get("/shop/releases?limit=501", headers=admin_headers), 400)
    assert_error(client.get("/nope/releases", headers=admin_headers), 404)
    assert_error(client.get("/nope/release/diff", headers=admin_headers), 404)
