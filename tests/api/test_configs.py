"""Front and ETL configs per stage: formats, validation, stages and release."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers.api import assert_error

FRONT = {
    "slides": [
        {"id": "intro", "level": 1, "title": "Intro"},
        {"id": "detail", "level": 2, "parent_id": "intro"},
    ]
}


@pytest.fixture
def app_id(client: TestClient, admin_headers: dict[str, str]) -> str:
    client.post("/small-apps", json={"id": "sales", "name": "Sales"}, headers=admin_headers).raise_for_status()
    return "sales"


def test_staging_config_round_trips_as_json_and_cson(
    client: TestClient, admin_headers: dict[str, str], app_id: str
) -> None:
    put = client.put(f"/{app_id}/config?stage=staging", json=FRONT, headers=admin_headers)
    assert put.status_code == 200 and put.headers["X-Config-Version"] == "1"
    assert client.get(f"/{app_id}/config?stage=staging", headers=admin_headers).json() == FRONT
    cson_text = client.get(f"/{app_id}/config?stage=staging&format=cson", headers=admin_headers).text
    assert "slides:" in cson_text and "intro" in cson_text
    cson_body = "# edited by hand\nslides: [\n  {id: 'a', title: 'A'}\n]\nhome: {title: 'Home'}\n"
    put = client.put(f"/{app_id}/config?stage=staging&format=cson", content=cson_body, headers=admin_headers)
    assert put.status_code == 200 and put.headers["X-Config-Version"] == "2"
    assert client.get(f"/{app_id}/config?stage=staging", headers=admin_headers).json() == {
        "slides": [{"id": "a", "title": "A"}],
        "home": {"title": "Home"},
    }


def test_invalid_configs_say_where_and_change_nothing(
    client: TestClient, admin_headers: dict[str, str], app_id: str
) -> None:
    client.put(f"/{app_id}/config?stage=staging", json=FRONT, headers=admin_headers).raise_for_status()
    error = assert_error(
        client.put(
            f"/{app_id}/config?stage=staging",
            json={"slides": [{"id": "a"}, {"title": "no id"}]},
            headers=admin_headers,
        ),
        400,
        "validation_error",
    )
    assert error["details"]["errors"][0]["path"] == "slides[1].id"
    error = assert_error(
        client.put(
            f"/{app_id}/config?stage=staging&format=cson",
            content="slides: [\n  {id: }\n",
            headers=admin_headers,
        ),
        400,
        "invalid_cson",
    )
    assert error["details"]["line"] == 2
    error = assert_error(
        client.put(f"/{app_id}/config?stage=staging", content=b'{"slides": [\n}', headers=admin_headers),
        400,
        "invalid_json",
    )
    assert error["details"]["line"] == 2
    assert_error(client.put(f"/{app_id}/config?stage=staging", json=[1, 2], headers=admin_headers), 400)
    error = assert_error(
        client.put(
            f"/{app_id}/config/etl?stage=staging",
            json={"PIPELINE": [{"output_domain": "x"}]},
            headers=admin_headers,
        ),
        400,
    )
    assert error["details"]["errors"][0]["path"] == "PIPELINE[0]"
    error = assert_error(
        client.put(
            f"/{app_id}/config/etl?stage=staging",
            json={"DATA_SOURCES": [{"domain": "d", "load": "maybe"}]},
            headers=admin_headers,
        ),
        400,
    )
    assert error["details"]["errors"][0]["path"] == "DATA_SOURCES[0].load"
    assert client.get(f"/{app_id}/config?stage=staging", headers=admin_headers).json() == FRONT
    assert_error(client.get(f"/{app_id}/config?stage=review", headers=admin_headers), 400)


def test_viewers_read_production_only_and_builders_release(
    client: TestClient, admin_headers: dict[str, str], app_id: str, make_user: Any
) -> None:
    viewer = make_user("vic", privileges={app_id: ["view"]})
    builder = make_user("bea", privileges={app_id: ["contribute"]})
    assert client.put(f"/{app_id}/config?stage=staging", json=FRONT, headers=builder).status_code == 200
    assert_error(client.put(f"/{app_id}/config?stage=staging", json=FRONT, headers=viewer), 403)
    assert_error(client.get(f"/{app_id}/config?stage=staging", headers=viewer), 403)
    assert_error(client.get(f"/{app_id}/config/etl", headers=viewer), 403)
    assert client.get(f"/{app_id}/config", headers=viewer).json() == {}  # nothing released yet
    assert_error(client.put(f"/{app_id}/config?stage=production", json=FRONT, headers=builder), 400)
    assert_error(
        client.post(f"/{app_id}/config/operations", json={"operations": ["release_design"]}, headers=viewer),
        403,
    )
    released = client.post(f"/{app_id}/config/operations", json={"operations": ["release_design"]}, headers=builder)
    assert released.json() == {"results": {"release_design": {"front": 1, "etl": 1, "augment": 1}}}
    assert client.get(f"/{app_id}/config", headers=viewer).json() == FRONT
    error = assert_error(
        client.post(f"/{app_id}/config/operations", json={"operations": ["explode"]}, headers=builder),
        400,
    )
    assert error["details"]["errors"][0]["path"] == "operations[0]"


def test_no_privilege_means_the_app_does_not_exist(client: TestClient, app_id: str, make_user: Any) -> None:
    stranger = make_user("sam")
    assert_error(client.get(f"/{app_id}/config", headers=stranger), 404)
    assert_error(client.put(f"/{app_id}/config?stage=staging", json=FRONT, headers=stranger), 404)
    assert_error(client.get("/nope/config", headers=stranger), 404)


def test_etl_config_round_trips(client: TestClient, admin_headers: dict[str, str], app_id: str) -> None:
    etl = {
        "DATA_SOURCES": [{"domain": "sales", "type": "csv", "file": "sales.csv", "load": True}],
        "PIPELINE": [
            {
                "input_domains": ["sales"],
                "pipeline": [{"name": "domain", "domain": "sales"}],
                "output_domain": "sales_clean",
            }
        ],
    }
    assert client.put(f"/{app_id}/config/etl?stage=staging", json=etl, headers=admin_headers).status_code == 200
    assert client.get(f"/{app_id}/config/etl?stage=staging", headers=admin_headers).json() == etl
