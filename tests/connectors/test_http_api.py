"""HTTP API connector against a local server: jq filter, pagination, auth headers, retries, SSRF."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.connectors import (
    API_KEY,
    BASIC_PASSWORD,
    BASIC_USER,
    CLIENT_ID,
    CLIENT_SECRET,
    PEOPLE,
    TOKEN,
    ApiServer,
    make_settings,
)
from toucan.connectors.base import ConnectorError, SourceQueryError
from toucan.connectors.http_api import HttpApiConnector
from toucan.connectors.network import HostNotAllowed
from toucan.connectors.registry import build_connector
from toucan.errors import ValidationError
from toucan.settings import Settings


def _connector(settings: Settings, api: ApiServer, **fields: Any) -> HttpApiConnector:
    provider = {"name": "people_api", "type": "http_api", "baseroute": api.base, **fields}
    connector = build_connector(provider, settings)
    assert isinstance(connector, HttpApiConnector)
    return connector


def _source(**fields: Any) -> dict[str, Any]:
    return {"domain": "people", "name": "people_api", **fields}


def test_jq_filter_turns_the_answer_into_rows(local_settings: Settings, api: ApiServer) -> None:
    table = _connector(local_settings, api).fetch(_source(url="/people", filter=".data"))
    assert table.column_names == ["id", "name", "team"]
    assert table.column("name").to_pylist() == ["person 1", "person 2", "person 3"]
    assert table.column("team").to_pylist()[0] == {"name": "north"}
    flat = _connector(local_settings, api).fetch(_source(url="people", filter=".data[] | {id, team: .team.name}"))
    assert flat.to_pylist() == [{"id": 1, "team": "north"}, {"id": 2, "team": "south"}, {"id": 3, "team": "north"}]


def test_provider_and_source_headers_and_params_are_sent(local_settings: Settings, api: ApiServer) -> None:
    connector = _connector(local_settings, api, headers={"X-Client": "toucan"}, params={"lang": "fr"})
    connector.fetch(_source(url="/people", params={"year": 2024}, headers={"X-Source": "people"}, filter=".data"))
    (request,) = api.requests
    assert request.query == {"lang": ["fr"], "year": ["2024"]}
    assert request.headers["X-Client"] == "toucan" and request.headers["X-Source"] == "people"


def test_parameters_fill_placeholders(local_settings: Settings, api: ApiServer) -> None:
    source = _source(url="/{{ route }}", params={"year": "{{ year }}"}, filter=".data", parameters={"route": "people"})
    with pytest.raises(ValidationError) as caught:
        _connector(local_settings, api).fetch(source)
    assert "year" in caught.value.message
    source["parameters"]["year"] = 2023
    _connector(local_settings, api).fetch(source)
    assert api.requests[-1].path == "/people" and api.requests[-1].query == {"year": ["2023"]}


def test_a_post_sends_its_json_body(local_settings: Settings, api: ApiServer) -> None:
    table = _connector(local_settings, api).fetch(
        _source(url="/echo", method="post", json={"q": "sales"}, filter="{body}")
    )
    assert table.column("body").to_pylist() == ['{"q":"sales"}']
    assert api.requests[-1].method == "POST"


def test_page_pagination_reads_until_an_empty_page(local_settings: Settings, api: ApiServer) -> None:
    source = _source(url="/paged", filter=".results", pagination={"kind": "page", "size_param": "per_page", "size": 3})
    table = _connector(local_settings, api).fetch(source)
    assert table.column("id").to_pylist() == [p["id"] for p in PEOPLE]
    assert [r.query["page"] for r in api.requests] == [["1"], ["2"], ["3"]]  # page 3 has 1 row < size: done


def test_offset_pagination(local_settings: Settings, api: ApiServer) -> None:
    source = _source(url="/offset", filter=".items", pagination={"kind": "offset", "size": 2})
    table = _connector(local_settings, api).fetch(source)
    assert table.num_rows == len(PEOPLE)
    assert [r.query["offset"] for r in api.requests] == [["0"], ["2"], ["4"], ["6"]]


def test_cursor_pagination(local_settings: Settings, api: ApiServer) -> None:
    source = _source(url="/cursor", filter=".items", pagination={"kind": "cursor", "next": ".meta.next"})
    table = _connector(local_settings, api).fetch(source)
    assert table.column("id").to_pylist() == [p["id"] for p in PEOPLE]
    assert [r.query.get("cursor") for r in api.requests] == [None, ["3"], ["6"]]


def test_link_header_pagination(local_settings: Settings, api: ApiServer) -> None:
    source = _source(url="/linked", pagination={"kind": "next_url"})
    table = _connector(local_settings, api).fetch(source)
    assert table.num_rows == len(PEOPLE)
    assert len(api.requests) == 2


def test_limit_stops_reading_pages(local_settings: Settings, api: ApiServer) -> None:
    source = _source(url="/paged", filter=".results", pagination={"kind": "page", "size_param": "per_page", "size": 3})
    table = _connector(local_settings, api).fetch(source, limit=2)
    assert table.num_rows == 2
    assert len(api.requests) == 1


def test_more_pages_than_max_pages_is_an_error_not_a_silent_cut(local_settings: Settings, api: ApiServer) -> None:
    source = _source(url="/offset", filter=".items", pagination={"kind": "offset", "size": 1, "max_pages": 3})
    with pytest.raises(SourceQueryError) as caught:
        _connector(local_settings, api).fetch(source)
    assert "max_pages" in caught.value.message


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [
        ({"type": "bearer", "token": TOKEN}, "Authorization", f"Bearer {TOKEN}"),
        (
            {"type": "basic", "username": BASIC_USER, "password": BASIC_PASSWORD},
            "Authorization",
            "Basic " + base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode(),
        ),
        ({"type": "api_key", "header": "X-API-Key", "value": API_KEY}, "X-API-Key", API_KEY),
    ],
)
def test_auth_headers_are_sent(
    local_settings: Settings, api: ApiServer, auth: dict[str, str], header: str, value: str
) -> None:
    table = _connector(local_settings, api, auth=auth).fetch(_source(url="/secure", filter=".data"))
    assert table.num_rows == 2
    assert api.requests[-1].headers[header] == value


def test_oauth2_client_credentials(local_settings: Settings, api: ApiServer) -> None:
    auth = {
        "type": "oauth2_client_credentials",
        "token_url": api.url("/token"),
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scope": "read",
    }
    connector = _connector(local_settings, api, auth=auth)
    assert connector.fetch(_source(url="/secure", filter=".data")).num_rows == 2
    assert connector.fetch(_source(url="/secure", filter=".data")).num_rows == 2
    assert len(api.requests_to("/token")) == 1  # the token is kept until it expires
    assert b"scope=read" in api.requests_to("/token")[0].body
    assert api.requests_to("/secure")[-1].headers["Authorization"] == f"Bearer {TOKEN}"


def test_a_refused_login_is_a_502_without_the_secret(local_settings: Settings, api: ApiServer) -> None:
    connector = _connector(local_settings, api, auth={"type": "bearer", "token": "wrong-token-123"})
    with pytest.raises(ConnectorError) as caught:
        connector.fetch(_source(url="/secure"))
    assert "401" in caught.value.message
    assert "wrong-token-123" not in caught.value.message
    assert "wrong-token-123" not in repr(connector) and "wrong-token-123" not in repr(connector.config)


def test_retries_on_503(local_settings: Settings, api: ApiServer) -> None:
    connector = _connector(local_settings, api, retry={"attempts": 3, "backoff": 0})
    assert connector.fetch(_source(url="/flaky", filter=".data")).to_pylist() == [{"ok": True}]
    assert api.hits["/flaky"] == 3


def test_no_retry_when_attempts_is_one(local_settings: Settings, api: ApiServer) -> None:
    with pytest.raises(ConnectorError):
        _connector(local_settings, api, retry={"attempts": 1}).fetch(_source(url="/flaky"))
    assert api.hits["/flaky"] == 1


def test_ssrf_refused_without_the_allowed_hosts_setting(tmp_path: Path, api: ApiServer) -> None:
    with pytest.raises(HostNotAllowed) as caught:
        _connector(make_settings(tmp_path), api).fetch(_source(url="/people"))
    assert caught.value.status == 400
    assert api.requests == []


def test_a_source_url_on_another_host_is_refused(local_settings: Settings, api: ApiServer) -> None:
    with pytest.raises(ValidationError) as caught:
        _connector(local_settings, api).fetch(_source(url=api.url("/people", host="localhost")))
    assert "credentials" in caught.value.message
    assert api.requests == []


def test_answers_that_are_not_json_or_do_not_fit_the_filter(local_settings: Settings, api: ApiServer) -> None:
    with pytest.raises(SourceQueryError) as caught:
        _connector(local_settings, api).fetch(_source(url="/html"))
    assert "not JSON" in caught.value.message
    with pytest.raises(SourceQueryError) as caught:
        _connector(local_settings, api).fetch(_source(url="/people", filter=".count[]"))
    assert ".count[]" in caught.value.message


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"filter": ".data["}, "filter"),
        ({"method": "DELETE"}, "method"),
        ({"pagination": {"kind": "pages"}}, "pagination"),
        ({"pagination": {"kind": "cursor"}}, "pagination.cursor.next"),
    ],
)
def test_bad_sources_are_400_with_the_field(
    local_settings: Settings, api: ApiServer, fields: dict[str, Any], path: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        _connector(local_settings, api).parse_source(_source(**fields))
    assert path in caught.value.message


def test_bad_providers_are_400_with_the_field(local_settings: Settings, api: ApiServer) -> None:
    with pytest.raises(ValidationError) as caught:
        _connector(local_settings, api, baseroute="ftp://example.com")
    assert "baseroute" in caught.value.message
    with pytest.raises(ValidationError) as caught:
        _connector(local_settings, api, auth={"type": "bearer"})
    assert "auth.bearer.token" in caught.value.message


def test_status_steps(local_settings: Settings, api: ApiServer, tmp_path: Path) -> None:
    status = _connector(local_settings, api, auth={"type": "bearer", "token": TOKEN}).status()
    assert status.ok
    assert [step.name for step in status.steps] == ["host resolved", "host allowed", "port open", "request answered"]
    refused = _connector(make_settings(tmp_path), api).status()
    assert not refused.ok
    assert [(s.name, s.ok) for s in refused.steps] == [
        ("host resolved", True),
        ("host allowed", False),
        ("port open", None),
        ("request answered", None),
    ]
    assert "TOUCAN_CONNECTORS_ALLOWED_HOSTS" in refused.steps[1].detail
