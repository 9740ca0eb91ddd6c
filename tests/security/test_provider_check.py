"""`GET /{app}/data/providers/{name}/status`, the data page's "Test connection", as a builder
would use it and as an attacker would: it reaches only what connectors may reach, only for
the builder's own app, and never shows a secret."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers.api import assert_error
from tests.helpers.tenants import Tenants
from toucan.settings import Settings

PASSWORD = "Pg-Pa55/word+Hidden"
LOCAL_PG = {"name": "crm", "type": "postgres", "host": "127.0.0.1", "user": "postgres", "database": "test"}


def put_provider(client: TestClient, tenants: Tenants, provider: dict[str, Any], app: str = "alpha") -> None:
    etl = {"DATA_PROVIDERS": [provider]}
    response = client.put(f"/{app}/config/etl", json=etl, headers=tenants.admin)
    assert response.status_code == 200, response.text


def status(client: TestClient, headers: dict[str, str], name: str = "crm", app: str = "alpha") -> Any:
    return client.get(f"/{app}/data/providers/{name}/status", headers=headers)


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest", "http://127.0.0.1:6379/", "http://10.1.2.3/"])
def test_a_private_host_is_refused_by_the_ssrf_guard(client: TestClient, tenants: Tenants, url: str) -> None:
    """URL connectors reach public addresses only (unless allowed): the check says so and
    stops there, it never opens the port."""
    put_provider(client, tenants, {"name": "crm", "type": "http_api", "baseroute": url})
    response = status(client, tenants.builder)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is False and body["provider"] == "crm" and body["type"] == "http_api"
    failed = [step for step in body["steps"] if step["ok"] is False]
    assert failed and "TOUCAN_CONNECTORS_ALLOWED_HOSTS" in failed[0]["detail"], body
    assert all(step["ok"] is None for step in body["steps"][body["steps"].index(failed[0]) + 1 :])


@pytest.mark.parametrize(
    "provider",
    [
        LOCAL_PG,  # the stack's own metadata database, on this host
        {**LOCAL_PG, "host": "localhost"},
        {"name": "crm", "type": "mysql", "host": "169.254.169.254", "user": "root"},
        {"name": "crm", "type": "postgres", "host": "::1", "user": "postgres"},
    ],
    ids=["loopback", "localhost", "link-local", "ipv6-loopback"],
)
def test_a_database_provider_cannot_reach_this_hosts_own_services(
    client: TestClient, tenants: Tenants, provider: dict[str, Any]
) -> None:
    """Database providers may reach private networks (where company databases live), never
    loopback or link-local addresses unless an operator allows them: the check stops before
    the port is opened, and a preprocess of such a source fails saying why."""
    put_provider(client, tenants, provider)
    body = status(client, tenants.builder).json()
    assert body["ok"] is False, body
    first = body["steps"][0]
    assert first["name"] == "host allowed" and first["ok"] is False, body
    assert "TOUCAN_CONNECTORS_ALLOWED_HOSTS" in first["detail"]
    assert [step["ok"] for step in body["steps"][1:]] == [None] * (len(body["steps"]) - 1)


class TestAllowedHost:
    @pytest.fixture
    def settings(self, base_settings: Settings) -> Settings:
        return base_settings.model_copy(update={"connectors_allowed_hosts": ["127.0.0.1"]})

    def test_each_step_of_a_reachable_provider_passes(self, client: TestClient, tenants: Tenants) -> None:
        put_provider(client, tenants, LOCAL_PG)
        body = status(client, tenants.builder).json()
        assert body["ok"] is True, body
        assert [step["ok"] for step in body["steps"]] == [True] * len(body["steps"]) and len(body["steps"]) >= 3

    def test_a_secret_reaches_the_connection_and_never_the_answer(self, client: TestClient, tenants: Tenants) -> None:
        response = client.put("/alpha/secrets/pg_password", json={"value": PASSWORD}, headers=tenants.admin)
        assert response.status_code == 204, response.text
        wrong_db = {**LOCAL_PG, "password": "{{ secrets.pg_password }}", "database": PASSWORD.lower()}
        put_provider(client, tenants, {**wrong_db, "database": "no_such_db_" + "x"})
        response = status(client, tenants.builder)
        assert response.status_code == 200, response.text
        assert PASSWORD not in response.text and PASSWORD.lower() not in response.text
        assert response.json()["ok"] is False  # the database does not exist: said, without the secret


def test_only_the_apps_own_contributors_may_check(client: TestClient, tenants: Tenants) -> None:
    put_provider(client, tenants, LOCAL_PG)
    put_provider(client, tenants, LOCAL_PG, app="beta")
    assert_error(status(client, tenants.viewer), 403)
    assert_error(status(client, tenants.builder, app="beta"), 404)
    assert_error(status(client, tenants.builder, name="nope"), 404, "not_found")
    assert_error(client.get("/alpha/data/providers/crm/status"), 401)


def test_a_bad_provider_entry_is_a_400_naming_the_field(client: TestClient, tenants: Tenants) -> None:
    put_provider(client, tenants, {"name": "crm", "type": "postgres", "host": "127.0.0.1", "port": "many"})
    error = assert_error(status(client, tenants.builder), 400)
    assert "port" in error["message"]
