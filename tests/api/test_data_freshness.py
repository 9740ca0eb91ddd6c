"""What a cached `/data` answer may reuse, and what counts on the very next request.

Each process keeps the stage's domains, its permission rules and compiled requests while
their stamps hold. These tests warm a second API instance on the same database (another
worker) and change things through the first: the second must see every change at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from tests.helpers.api import PASSWORD, assert_error, bearer, login
from toucan.api.data import query_router
from toucan.app import create_api
from toucan.auth.identity import load_identity, read_token_identity
from toucan.auth.tokens import _digest, identity_for_token
from toucan.auth.users import get_user
from toucan.data.reads import RequestReads
from toucan.db.engine import Database
from toucan.settings import Settings

SALES_CSV = "country,revenue\nFrance,100\nFrance,50\nSpain,70\nItaly,90\n"
Q = [{"name": "domain", "domain": "sales"}]


@pytest.fixture
def worker(settings: Settings, db: Database) -> Iterator[TestClient]:
    """A second API instance on the same database, with its own per-process state."""
    with TestClient(create_api(settings, db), raise_server_exceptions=False) as c:
        yield c


def _put_csv(client: TestClient, headers: dict[str, str], domain: str, body: str) -> None:
    response = client.put(
        f"/sales/domain/{domain}?stage=staging", content=body, headers={**headers, "Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text


def _setup(client: TestClient, headers: dict[str, str], rules: list[dict[str, Any]] | None = None) -> None:
    client.post("/small-apps", json={"id": "sales", "name": "Sales"}, headers=headers).raise_for_status()
    _put_csv(client, headers, "sales", SALES_CSV)
    client.post("/sales/data/release", headers=headers).raise_for_status()
    if rules is not None:
        _set_rules(client, headers, rules)


def _set_rules(client: TestClient, headers: dict[str, str], rules: list[dict[str, Any]]) -> None:
    client.put("/sales/config/etl?stage=staging", json={"DATA_PERMISSIONS": rules}, headers=headers).raise_for_status()
    client.post("/sales/config/operations", json={"operations": ["release_design"]}, headers=headers).raise_for_status()


def _countries(client: TestClient, headers: dict[str, str], query: Any = Q) -> list[str]:
    response = client.post("/sales/data", json={"query": query}, headers=headers)
    assert response.status_code == 200, response.text
    return sorted(r["country"] for r in response.json()["data"])


def _only(country: str) -> dict[str, Any]:
    return {
        "domain": "sales",
        "scope": "ALL_USERS",
        "effect": "CUSTOM",
        "condition": {"column": "country", "operator": "eq", "value": country},
    }


def test_a_revoked_token_is_refused_on_the_next_request(
    client: TestClient, worker: TestClient, admin_headers: dict[str, str], make_user: Any
) -> None:
    _setup(client, admin_headers)
    viewer = make_user("vic", privileges={"sales": ["view"]})
    assert _countries(worker, viewer) == ["France", "France", "Italy", "Spain"]
    assert _countries(worker, viewer) == ["France", "France", "Italy", "Spain"]  # cached
    assert client.post("/logout", headers=viewer).json() == {"revoked": True}
    assert_error(worker.post("/sales/data", json={"query": Q}, headers=viewer), 401, "invalid_token")


def test_a_disabled_or_expired_account_is_refused_on_the_next_request(
    client: TestClient, worker: TestClient, admin_headers: dict[str, str], make_user: Any
) -> None:
    _setup(client, admin_headers)
    vic = make_user("vic", privileges={"sales": ["view"]})
    eve = make_user("eve", privileges={"sales": ["view"]})
    for headers in (vic, eve):
        _countries(worker, headers)
    client.patch("/users/vic", json={"disabled": True}, headers=admin_headers).raise_for_status()
    client.patch(
        "/users/eve", json={"expirationDate": "2020-01-01T00:00:00Z"}, headers=admin_headers
    ).raise_for_status()
    # Disabling may also revoke the user's tokens: either way, refused.
    for headers, code in ((vic, "account_disabled"), (eve, "account_expired")):
        error = assert_error(worker.post("/sales/data", json={"query": Q}, headers=headers), 401)
        assert error["code"] in (code, "invalid_token")


def test_a_removed_privilege_counts_on_the_next_request(
    client: TestClient, worker: TestClient, admin_headers: dict[str, str], make_user: Any
) -> None:
    _setup(client, admin_headers)
    client.post("/groups", json={"name": "readers", "privileges": {"sales": ["view"]}}, headers=admin_headers)
    direct = make_user("vic", privileges={"sales": ["view"]})
    member = make_user("gus", groups=["readers"])
    _countries(worker, direct)
    _countries(worker, member)
    client.patch("/users/vic", json={"privileges": {}}, headers=admin_headers).raise_for_status()
    client.patch("/groups/readers", json={"privileges": {}}, headers=admin_headers).raise_for_status()
    assert_error(worker.post("/sales/data", json={"query": Q}, headers=direct), 404)
    assert_error(worker.post("/sales/data", json={"query": Q}, headers=member), 404)


def test_group_privileges_reach_the_group_members_only(
    client: TestClient, admin_headers: dict[str, str], make_user: Any
) -> None:
    _setup(client, admin_headers)
    client.post("/groups", json={"name": "readers", "privileges": {"sales": ["view"]}}, headers=admin_headers)
    client.post("/groups", json={"name": "others"}, headers=admin_headers).raise_for_status()
    member = make_user("gus", groups=["readers"])
    outsider = make_user("olga", groups=["others"])
    loner = make_user("lou")
    assert _countries(client, member) == ["France", "France", "Italy", "Spain"]
    assert_error(client.post("/sales/data", json={"query": Q}, headers=outsider), 404)
    assert_error(client.post("/sales/data", json={"query": Q}, headers=loner), 404)


def test_the_token_identity_is_the_accounts_identity(
    client: TestClient, db: Database, admin_headers: dict[str, str], make_user: Any
) -> None:
    for app_id in ("sales", "hr", "ops"):
        client.post("/small-apps", json={"id": app_id, "name": app_id}, headers=admin_headers).raise_for_status()
    for name, privileges in (("readers", {"sales": ["view"]}), ("builders", {"ops": ["contribute"]})):
        response = client.post("/groups", json={"name": name, "privileges": privileges}, headers=admin_headers)
        assert response.status_code == 201, response.text
    make_user(
        "gus",
        groups=["readers", "builders"],
        privileges={"sales": ["validate"], "hr": ["view"]},
        attributes={"country": "France", "n": 3},
    )
    token = login(client, "gus", PASSWORD)
    with db.session() as session:
        expected = load_identity(session, get_user(session, "gus"))
    reads = RequestReads(db)
    found = identity_for_token(reads, token)
    assert identity_for_token(reads, token + "x") is None
    assert found is not None and found.identity == expected
    assert found.identity.privileges == {
        "sales": frozenset({"view", "validate"}),
        "hr": frozenset({"view"}),
        "ops": frozenset({"contribute"}),
    }
    client.post("/logout", headers=bearer(token)).raise_for_status()
    assert identity_for_token(reads, token) is None
    revoked = read_token_identity(reads, _digest(token))
    assert revoked is not None and revoked.token_revoked
    reads.close()


def test_new_production_data_is_served_on_the_next_request(
    client: TestClient, worker: TestClient, admin_headers: dict[str, str]
) -> None:
    _setup(client, admin_headers)
    assert _countries(worker, admin_headers) == ["France", "France", "Italy", "Spain"]
    _put_csv(client, admin_headers, "sales", "country,revenue\nPeru,1\n")
    assert _countries(worker, admin_headers) == ["France", "France", "Italy", "Spain"]  # not released yet
    client.post("/sales/data/release", headers=admin_headers).raise_for_status()
    assert _countries(worker, admin_headers) == ["Peru"]


def test_a_changed_permission_rule_counts_on_the_next_request(
    client: TestClient, worker: TestClient, admin_headers: dict[str, str], make_user: Any
) -> None:
    _setup(client, admin_headers, rules=[_only("France")])
    viewer = make_user("vic", privileges={"sales": ["view"]})
    assert _countries(worker, viewer) == ["France", "France"]
    assert _countries(worker, viewer) == ["France", "France"]
    _set_rules(client, admin_headers, [_only("Spain")])
    assert _countries(worker, viewer) == ["Spain"]
    _set_rules(client, admin_headers, [])
    assert _countries(worker, viewer) == ["France", "France", "Italy", "Spain"]


def test_a_changed_group_or_attribute_counts_on_the_next_request(
    client: TestClient, worker: TestClient, admin_headers: dict[str, str], make_user: Any
) -> None:
    rules = [
        {**_only("{{ user.attributes.country }}")},
        {"domain": "sales", "scope": "USER_GROUP", "group": "managers", "effect": "SEE_ALL"},
    ]
    _setup(client, admin_headers, rules=rules)
    client.post("/groups", json={"name": "managers"}, headers=admin_headers).raise_for_status()
    viewer = make_user("vic", privileges={"sales": ["view"]}, attributes={"country": "Spain"})
    assert _countries(worker, viewer) == ["Spain"]
    client.patch("/users/vic", json={"attributes": {"country": "Italy"}}, headers=admin_headers).raise_for_status()
    assert _countries(worker, viewer) == ["Italy"]
    client.patch("/users/vic", json={"groups": ["managers"]}, headers=admin_headers).raise_for_status()
    assert _countries(worker, viewer) == ["France", "France", "Italy", "Spain"]
    client.patch("/users/vic", json={"groups": []}, headers=admin_headers).raise_for_status()
    assert _countries(worker, viewer) == ["Italy"]


def test_a_compiled_raw_sql_request_is_refused_once_the_privilege_is_gone(
    client: TestClient, worker: TestClient, admin_headers: dict[str, str], make_user: Any
) -> None:
    _setup(client, admin_headers)
    builder = make_user("bea", privileges={"sales": ["contribute"]})
    raw = [{"name": "domain", "domain": "sales"}, {"name": "customsql", "query": "SELECT * FROM ##PREVIOUS_STEP##"}]
    assert len(_countries(worker, builder, raw)) == 4
    client.patch("/users/bea", json={"privileges": {"sales": ["view"]}}, headers=admin_headers).raise_for_status()
    assert_error(worker.post("/sales/data", json={"query": raw}, headers=builder), 403)
    assert _countries(worker, builder) == ["France", "France", "Italy", "Spain"]


def test_a_recreated_app_does_not_inherit_the_old_rules(
    client: TestClient, worker: TestClient, admin_headers: dict[str, str], make_user: Any
) -> None:
    _setup(client, admin_headers, rules=[_only("France")])
    viewer = make_user("vic", privileges={"sales": ["view"]})
    assert _countries(worker, viewer) == ["France", "France"]
    assert client.delete("/small-apps/sales", headers=admin_headers).status_code == 204
    assert_error(worker.post("/sales/data", json={"query": Q}, headers=viewer), 404)
    _setup(client, admin_headers, rules=[_only("Spain")])
    client.patch("/users/vic", json={"privileges": {"sales": ["view"]}}, headers=admin_headers).raise_for_status()
    assert _countries(worker, viewer) == ["Spain"]


def test_each_variable_value_has_its_own_answer(client: TestClient, admin_headers: dict[str, str]) -> None:
    _setup(client, admin_headers)
    step = {"name": "filter", "condition": {"column": "revenue", "operator": "eq", "value": "{{ v }}"}}

    def ask(value: Any) -> Any:
        return client.post("/sales/data", json={"query": [*Q, step], "variables": {"v": value}}, headers=admin_headers)

    assert [r["country"] for r in ask(70).json()["data"]] == ["Spain"]
    assert [r["country"] for r in ask(90).json()["data"]] == ["Italy"]
    assert [r["country"] for r in ask(70).json()["data"]] == ["Spain"]
    # Beyond 64 bits the request cannot be memoised: answered (or refused) all the same.
    assert ask(10**30).status_code in (200, 400)


def test_nan_and_null_variables_are_different_requests(
    client: TestClient, worker: TestClient, admin_headers: dict[str, str]
) -> None:
    """Python's JSON parser accepts NaN and Infinity; they must not share null's compiled request."""
    _setup(client, admin_headers)
    # revenue < NaN holds for every row (NaN sorts last), revenue < null for none.
    step = {"name": "filter", "condition": {"column": "revenue", "operator": "lt", "value": "{{ v }}"}}
    prefix = '{"query": ' + json.dumps([*Q, step]) + ', "variables": {"v": '
    headers = {**admin_headers, "Content-Type": "application/json"}

    def ask(c: TestClient, value: str) -> Any:
        response = c.post("/sales/data", content=prefix + value + "}}", headers=headers)
        assert response.status_code in (200, 400), response.text
        return response.status_code, response.json()

    asked_after_null = {}
    for value in ("null", "NaN", "Infinity"):
        asked_after_null[value] = ask(client, value)
    assert asked_after_null["null"][1]["total"] == 0
    for value in ("NaN", "Infinity"):
        assert asked_after_null[value][1]["total"] == 4
        assert ask(worker, value) == asked_after_null[value]  # as on a worker that never saw null


def test_the_first_routes_shadow_no_other_route(client: TestClient) -> None:
    """`query_router` is matched before every other router: no other route's path may match it."""

    def routes(node: Any) -> Iterator[APIRoute]:
        for route in getattr(node, "routes", ()):
            if isinstance(route, APIRoute):
                yield route
            for attr in ("original_router", "router"):
                child = getattr(route, attr, None)
                if child is not None and child is not node:
                    yield from routes(child)

    first = list(query_router.routes)
    assert {r.path for r in first if isinstance(r, APIRoute)} == {"/{app}/data", "/{app}/query/preview"}
    hot_endpoints = {r.endpoint for r in first if isinstance(r, APIRoute)}
    others = [r for r in routes(client.app.router) if r.endpoint not in hot_endpoints]
    assert len(others) > 20
    for route in others:
        concrete = route.path.replace("{", "").replace("}", "").replace(":path", "")
        for hot in first:
            assert isinstance(hot, APIRoute)
            shadowed = hot.path_regex.match(concrete) and (route.methods or set()) & hot.methods
            assert not shadowed, (route.path, hot.path)
