"""Capture tokens and exports, attacked: a capture token reaches one page of one app at one
stage for a few minutes and reads only; exports are their requester's alone."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.test_data import PERMISSIONS, _setup
from tests.helpers.api import assert_error, bearer
from toucan.auth.capture_tokens import issue_capture_token, read_capture_token
from toucan.db.engine import Database
from toucan.db.models import User
from toucan.settings import Settings

TABLE = {"type": "table"}
QUERY = [{"name": "domain", "domain": "sales"}]
SECRET_QUERY = [
    {"name": "domain", "domain": "sales"},
    {"name": "sort", "columns": [{"column": "revenue", "order": "desc"}]},
]
CITIES = [{"name": "domain", "domain": "sales"}, {"name": "uniquegroups", "on": ["city"]}]
YEARS = [{"name": "domain", "domain": "sales"}, {"name": "uniquegroups", "on": ["year"]}]
FRONT = {
    "home": {"title": "Sales home", "kpis": []},
    "slides": [
        {"id": "by-city", "title": "By city", "chart": TABLE, "query": QUERY},
        {"id": "secret-plan", "title": "Secret plan", "chart": TABLE, "query": SECRET_QUERY},
    ],
}
# The same app with a filter on one story (by-city): its value list, and its filter step.
CITY = {"id": "city", "label": "City", "type": "dropdown", "query": CITIES, "column": "city", "filter_column": "city"}
YEAR = {"id": "year", "label": "Year", "type": "dropdown", "query": YEARS, "column": "year", "stories": ["secret-plan"]}
FILTERED_FRONT = {**FRONT, "requesters": [{**CITY, "stories": ["by-city"]}, YEAR]}


def _app(client: TestClient, admin: dict[str, str], app: str = "sales") -> None:
    if app == "sales":
        _setup(client, admin)
        client.put("/sales/config/etl?stage=staging", json=PERMISSIONS, headers=admin).raise_for_status()
    else:
        client.post("/small-apps", json={"id": app, "name": app.title()}, headers=admin).raise_for_status()
    client.put(f"/{app}/config?stage=staging", json=FRONT, headers=admin).raise_for_status()
    client.post(f"/{app}/config/operations", json={"operations": ["release_design"]}, headers=admin).raise_for_status()


def _user_id(db: Database, username: str) -> int:
    with db.readonly_session() as session:
        user = session.query(User).filter_by(username=username).one()
        return int(user.id)


def _token(settings: Settings, db: Database, username: str, **scope: Any) -> dict[str, str]:
    values: dict[str, Any] = {"app": "sales", "stage": "production", "page": "story:by-city", "ttl": 60, **scope}
    return bearer(issue_capture_token(str(settings.secret_key), user_id=_user_id(db, username), **values))


@pytest.fixture
def viewer(client: TestClient, admin_headers: dict[str, str], make_user: Any) -> dict[str, str]:
    _app(client, admin_headers)
    _app(client, admin_headers, "other")
    return make_user(  # type: ignore[no-any-return]
        "fr", privileges={"sales": ["view"], "other": ["view"]}, attributes={"country": "France"}
    )


def test_a_capture_token_reads_its_page_and_its_data_as_its_user(
    client: TestClient, settings: Settings, db: Database, viewer: dict[str, str]
) -> None:
    token = _token(settings, db, "fr")
    page = client.get("/sales/capture?stage=production&page=story:by-city", headers=token)
    assert page.status_code == 200, page.text
    assert page.json()["slide"]["title"] == "By city"
    assert "secret-plan" not in page.text
    rows = client.post("/sales/data?stage=production", json={"query": QUERY}, headers=token).json()["data"]
    # The viewer's row filter applies: only France.
    assert rows and {r["country"] for r in rows} == {"France"}


def test_a_capture_token_is_refused_for_another_page_app_stage_or_route(
    client: TestClient, settings: Settings, db: Database, viewer: dict[str, str]
) -> None:
    token = _token(settings, db, "fr")
    assert_error(client.get("/sales/capture?stage=production&page=story:secret-plan", headers=token), 403)
    assert_error(client.get("/sales/capture?stage=production&page=home", headers=token), 403)
    assert_error(client.get("/other/capture?stage=production&page=story:by-city", headers=token), 403)
    assert_error(client.post("/other/data?stage=production", json={"query": QUERY}, headers=token), 403)
    assert_error(client.post("/sales/data?stage=staging", json={"query": QUERY}, headers=token), 403)
    # Reads outside the page: the whole front config, the user's profile, the app list.
    assert_error(client.get("/sales/config?stage=production", headers=token), 403)
    assert_error(client.get("/me", headers=token), 403)
    assert_error(client.get("/small-apps", headers=token), 403)
    assert_error(client.post("/sales/data/export?stage=production", json={"query": QUERY}, headers=token), 403)


def test_a_capture_token_cannot_write_even_for_an_admin(
    client: TestClient, settings: Settings, db: Database, viewer: dict[str, str]
) -> None:
    token = _token(settings, db, settings.super_admin_username)
    assert client.get("/sales/capture?stage=production&page=story:by-city", headers=token).status_code == 200
    assert_error(client.put("/sales/config?stage=staging", json=FRONT, headers=token), 403)
    assert_error(client.post("/small-apps", json={"id": "evil", "name": "Evil"}, headers=token), 403)
    assert_error(client.post("/users", json={"username": "evil", "password": "x" * 12}, headers=token), 403)
    assert_error(client.post("/sales/exports", json={"page": "home", "format": "png"}, headers=token), 403)
    assert_error(client.post("/logout", headers=token), 403)


def test_an_expired_or_altered_capture_token_is_refused(
    client: TestClient, settings: Settings, db: Database, viewer: dict[str, str]
) -> None:
    expired = issue_capture_token(
        str(settings.secret_key),
        user_id=_user_id(db, "fr"),
        app="sales",
        stage="production",
        page="story:by-city",
        ttl=-1,
    )
    assert read_capture_token(str(settings.secret_key), expired) is None
    assert_error(client.get("/sales/capture?page=story:by-city", headers=bearer(expired)), 401, "invalid_token")
    good = _token(settings, db, "fr")["Authorization"].removeprefix("Bearer ")
    body, _, signature = good.partition(".")
    # Another page written into a genuine token's body breaks its signature.
    forged = body[:-2] + ("AA" if not body.endswith("AA") else "BB") + "." + signature
    assert_error(client.get("/sales/capture?page=story:by-city", headers=bearer(forged)), 401, "invalid_token")
    other_key = issue_capture_token(
        "another-stack-key", user_id=_user_id(db, "fr"), app="sales", stage="production", page="story:by-city", ttl=60
    )
    assert_error(client.get("/sales/capture?page=story:by-city", headers=bearer(other_key)), 401, "invalid_token")
    # It really expires: a token good for one second is refused two seconds later.
    short = issue_capture_token(
        str(settings.secret_key),
        user_id=_user_id(db, "fr"),
        app="sales",
        stage="production",
        page="story:by-city",
        ttl=1,
    )
    assert client.get("/sales/capture?page=story:by-city", headers=bearer(short)).status_code == 200
    time.sleep(2.1)
    assert_error(client.get("/sales/capture?page=story:by-city", headers=bearer(short)), 401, "invalid_token")


def test_a_capture_token_gives_no_more_than_its_user_holds(
    client: TestClient, settings: Settings, db: Database, viewer: dict[str, str], make_user: Any
) -> None:
    make_user("stranger", privileges={"other": ["view"]})
    token = _token(settings, db, "stranger")
    assert_error(client.get("/sales/capture?page=story:by-city", headers=token), 404)
    assert_error(client.post("/sales/data?stage=production", json={"query": QUERY}, headers=token), 404)
    # A disabled user's capture token stops working at once.
    fr = _token(settings, db, "fr")
    with db.session() as session:
        session.query(User).filter_by(username="fr").one().disabled = True
    assert_error(client.get("/sales/capture?page=story:by-city", headers=fr), 401, "account_disabled")


def test_the_capture_page_route_is_for_viewers_of_the_stage(
    client: TestClient, viewer: dict[str, str], make_user: Any
) -> None:
    assert client.get("/sales/capture?page=home", headers=viewer).json()["home"]["title"] == "Sales home"
    assert_error(client.get("/sales/capture?page=story:nope", headers=viewer), 404)
    assert_error(client.get("/sales/capture?page=weird", headers=viewer), 400, "validation_error")
    # Staging needs validate: a viewer does not read it.
    assert_error(client.get("/sales/capture?page=home&stage=staging", headers=viewer), 403)
    outsider = make_user("outsider")
    assert_error(client.get("/sales/capture?page=home", headers=outsider), 404)


def test_exports_are_checked_and_belong_to_their_requester(
    client: TestClient, viewer: dict[str, str], make_user: Any, admin_headers: dict[str, str]
) -> None:
    assert_error(client.post("/sales/exports", json={"page": "story", "format": "png"}, headers=viewer), 400)
    error = assert_error(
        client.post("/sales/exports", json={"page": "story", "story": "nope", "format": "png"}, headers=viewer), 404
    )
    assert error["details"]["story"] == "nope"
    error = assert_error(client.post("/sales/exports", json={"page": "report", "format": "png"}, headers=viewer), 400)
    assert error["details"]["field"] == "format"
    assert_error(client.post("/sales/exports", json={"page": "slide", "format": "png"}, headers=viewer), 400)
    assert_error(client.post("/sales/exports", json={"page": "home", "format": "gif"}, headers=viewer), 400)
    assert_error(client.post("/sales/exports", json={"page": "home", "stage": "staging"}, headers=viewer), 403)
    outsider = make_user("outsider")
    assert_error(client.post("/sales/exports", json={"page": "home"}, headers=outsider), 404)
    # A queued export (no worker here: it stays queued) is its requester's and the admins'.
    created = client.post("/sales/exports", json={"page": "home", "format": "png"}, headers=viewer)
    assert created.status_code == 202, created.text
    export_id = created.json()["id"]
    assert client.get(f"/exports/{export_id}", headers=viewer).json()["state"] == "queued"
    assert client.get(f"/exports/{export_id}", headers=admin_headers).status_code == 200
    assert_error(client.get(f"/exports/{export_id}", headers=outsider), 404)
    # Its file has no link until it exists, and a made-up signature opens nothing.
    assert_error(client.get(f"/exports/{export_id}/file?expires={int(time.time()) + 60}&signature=00"), 403)
    assert_error(client.get(f"/exports/{export_id}/secrets?expires=1&signature=00"), 404)


def _data(client: TestClient, token: dict[str, str], query: Any, variables: dict[str, Any] | None = None) -> Any:
    body = {"query": query, "variables": variables or {}}
    return client.post("/sales/data?stage=production", json=body, headers=token)


def _release(client: TestClient, admin: dict[str, str], front: dict[str, Any]) -> None:
    client.put("/sales/config?stage=staging", json=front, headers=admin).raise_for_status()
    client.post("/sales/config/operations", json={"operations": ["release_design"]}, headers=admin).raise_for_status()


def test_a_capture_token_runs_only_its_pages_data_requests(
    client: TestClient, settings: Settings, db: Database, viewer: dict[str, str]
) -> None:
    token = _token(settings, db, "fr")
    assert _data(client, token, QUERY).status_code == 200
    # Another story's chart of the same app, which its user may see: not this capture's.
    error = assert_error(_data(client, token, SECRET_QUERY), 403)
    assert error["details"] == {"page": "story:by-city"}
    assert _data(client, _token(settings, db, "fr", page="story:secret-plan"), SECRET_QUERY).status_code == 200
    # Ad-hoc requests: the page's query changed by one step, a Mongo-style query, a value list.
    assert_error(_data(client, token, [*QUERY, {"name": "top", "rank_on": "revenue", "sort": "desc", "limit": 1}]), 403)
    assert_error(_data(client, token, {"domain": "sales"}), 403)
    assert_error(_data(client, token, CITIES), 403)
    # Made-up variables beside the page's query are not its request either.
    assert_error(_data(client, token, QUERY, {"city": "Paris"}), 403)
    # A home capture runs the home's KPIs only (none here): no chart of a story.
    assert_error(_data(client, _token(settings, db, "fr", page="home"), QUERY), 403)
    # Still JSON errors, never a 500, for bodies that are not data requests.
    assert_error(client.post("/sales/data?stage=production", json={"variables": {}}, headers=token), 400)


def test_a_capture_token_runs_its_filters_value_lists_and_its_variables_only(
    client: TestClient, settings: Settings, db: Database, viewer: dict[str, str], admin_headers: dict[str, str]
) -> None:
    _release(client, admin_headers, FILTERED_FRONT)
    token = _token(settings, db, "fr", variables={"city": "Paris"})
    # What the capture view sends: the shown filter's values, then the chart with its filter step.
    cities = _data(client, token, CITIES)
    assert cities.status_code == 200, cities.text
    assert {r["city"] for r in cities.json()["data"]} == {"Paris", "Lyon"}  # the user's row filter holds
    step = {"name": "filter", "condition": {"column": "city", "operator": "eq", "value": "{{ city }}"}}
    chart = _data(client, token, [*QUERY, step], {"city": "Paris", "year": None})
    assert chart.status_code == 200, chart.text
    assert [r["city"] for r in chart.json()["data"]] == ["Paris"]
    # The same chart for another city than the capture's, or without its filter step: refused.
    error = assert_error(_data(client, token, [*QUERY, step], {"city": "Lyon", "year": None}), 403)
    assert error["details"] == {"variables": ["city"]}
    assert_error(_data(client, token, QUERY, {"city": None, "year": None}), 403)
    # The value list of a filter another story shows, or a value list with variables.
    assert_error(_data(client, token, YEARS), 403)
    assert_error(_data(client, token, CITIES, {"city": "Paris"}), 403)
    # A capture without given values runs the chart with the value its page starts with.
    free = _token(settings, db, "fr")
    assert _data(client, free, [*QUERY, step], {"city": "Lyon", "year": None}).status_code == 200


def test_a_capture_tokens_variables_are_signed(settings: Settings) -> None:
    raw = issue_capture_token(
        str(settings.secret_key), user_id=1, app="sales", stage="production", page="home", ttl=60, variables={"a": [1]}
    )
    scope = read_capture_token(str(settings.secret_key), raw)
    assert scope is not None and scope.variables == {"a": [1]}
    body, _, signature = raw.partition(".")
    payload = json.loads(base64.urlsafe_b64decode(body[4:] + "=" * (-len(body[4:]) % 4)))
    payload["v"] = {"a": [2]}
    altered = "tcc_" + base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    assert read_capture_token(str(settings.secret_key), f"{altered}.{signature}") is None


def test_a_capture_is_drawn_in_its_users_language(
    client: TestClient, settings: Settings, db: Database, viewer: dict[str, str]
) -> None:
    token = _token(settings, db, "fr")
    page = client.get("/sales/capture?stage=production&page=story:by-city", headers=token)
    assert page.json()["locale"] is None  # never chosen: the browser's language applies
    assert client.patch("/me", json={"locale": "fr"}, headers=viewer).status_code == 200
    page = client.get("/sales/capture?stage=production&page=story:by-city", headers=token)
    assert page.json()["locale"] == "fr"
    # The token still cannot change it.
    assert_error(client.patch("/me", json={"locale": "en"}, headers=token), 403)
