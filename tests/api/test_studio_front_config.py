"""The studio's front config: typed requesters, home tiles and narrative values (clear 400s,
unknown keys kept), and the filter variables of each requester type working through /data."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers.api import assert_error

SALES_CSV = (
    "country,day,revenue\n"
    "France,2024-01-05,100\n"
    "France,2024-02-10,50\n"
    "Spain,2024-01-20,70\n"
    "Spain,2024-03-01,30\n"
    "Italy,2024-02-15,90\n"
)
STORIES = [
    {"id": "intro", "level": 1, "title": "Intro"},
    {"id": "revenue", "level": 2, "parent_id": "intro", "title": "Revenue"},
]
COUNTRIES = [{"name": "domain", "domain": "sales"}, {"name": "uniquegroups", "on": ["country"]}]


@pytest.fixture
def app_id(client: TestClient, admin_headers: dict[str, str]) -> str:
    client.post("/small-apps", json={"id": "studio", "name": "Studio"}, headers=admin_headers).raise_for_status()
    return "studio"


def _put(client: TestClient, headers: dict[str, str], app: str, config: dict[str, Any]) -> Any:
    return client.put(f"/{app}/config?stage=staging", json=config, headers=headers)


def test_every_requester_type_home_tiles_and_narrative_values_round_trip(
    client: TestClient, admin_headers: dict[str, str], app_id: str
) -> None:
    config = {
        "format": {"decimals": 1, "unit": "€"},
        "requesters": [
            {"id": "country", "label": "Country", "type": "dropdown", "query": COUNTRIES, "column": "country"},
            {
                "id": "countries",
                "type": "multiselect",
                "options": ["France", "Spain"],
                "default": ["France"],
                "filter_column": "country",
                "stories": ["revenue"],
                "charts": ["revenue/c1"],
            },
            {"id": "day", "type": "date", "default": "2024-01-05"},
            {"id": "period", "type": "daterange", "default": {"start": "2024-01-01", "end": None}},
            {"id": "search", "type": "search", "x-custom": {"kept": True}},
        ],
        "home": {
            "title": "Home",
            "kpis": [{"title": "Revenue", "query": [{"name": "domain", "domain": "sales"}], "value": "revenue"}],
            "stories": [{"story": "revenue", "description": "Where it grows"}],
            "x-layout": "wide",
        },
        "slides": [
            *STORIES[:1],
            {
                **STORIES[1],
                "narrative": "Revenue in {{ country }}: {{ total }}",
                "narrative_values": [
                    {"name": "total", "query": [{"name": "domain", "domain": "sales"}], "column": "revenue"}
                ],
                "charts": [{"id": "c1", "width": "half", "chart": {"type": "bar"}, "query": []}],
            },
        ],
        "x-unknown": [1, 2],
    }
    assert _put(client, admin_headers, app_id, config).status_code == 200
    # Stored as given: unknown keys kept, nothing normalised.
    assert client.get(f"/{app_id}/config?stage=staging", headers=admin_headers).json() == config


@pytest.mark.parametrize(
    ("config", "path", "words"),
    [
        ({"requesters": [{"id": "my-filter", "options": ["a"]}]}, "requesters[0].id", "not a variable name"),
        ({"requesters": [{"id": "c", "type": "slider"}]}, "requesters[0].type", "multiselect"),
        ({"requesters": [{"id": "c", "type": "dropdown"}]}, "requesters[0]", "needs its values"),
        ({"requesters": [{"id": "c", "query": COUNTRIES}]}, "requesters[0]", "'column'"),
        ({"requesters": [{"id": "c", "type": "multiselect", "options": [1], "default": 1}]}, "requesters[0]", "a list"),
        (
            {"requesters": [{"id": "c", "type": "daterange", "default": "2024-01-01"}]},
            "requesters[0]",
            "'start'",
        ),
        ({"requesters": [{"id": "c", "type": "date", "default": [1]}]}, "requesters[0]", "one value"),
        ({"requesters": [{"id": "c", "type": "search", "stories": ["nope"]}]}, "(root)", "requesters[0].stories[0]"),
        (
            {"requesters": [{"id": "c", "type": "search"}, {"id": "c", "type": "date"}]},
            "(root)",
            "requesters[1].id: duplicate",
        ),
        ({"home": {"kpis": [{"title": "No column"}]}}, "home.kpis[0].value", "required"),
        ({"home": {"kpis": [{"value": "x", "format": {"decimals": -1}}]}}, "home.kpis[0].format.decimals", ""),
        ({"home": {"stories": [{"story": "gone"}]}}, "(root)", "home.stories[0].story"),
        ({"home": []}, "home", "dictionary"),
        (
            {"slides": [{"id": "s", "narrative_values": [{"name": "v", "column": "x"}]}]},
            "slides[0].narrative_values[0].query",
            "required",
        ),
        (
            {"slides": [{"id": "s", "narrative_values": [{"name": "2x", "query": [1], "column": "x"}]}]},
            "slides[0].narrative_values[0].name",
            "not a variable name",
        ),
        (
            {
                "requesters": [{"id": "v", "type": "search"}],
                "slides": [{"id": "s", "narrative_values": [{"name": "v", "query": [1], "column": "x"}]}],
            },
            "(root)",
            "already a requester's id",
        ),
        ({"slides": [{"id": "s", "charts": [{"width": 3}]}]}, "slides[0].charts[0].width", ""),
        ({"slides": [{"id": "s", "narrative": ["not", "text"]}]}, "slides[0].narrative", ""),
    ],
)
def test_a_bad_front_config_is_a_400_naming_the_field(
    client: TestClient, admin_headers: dict[str, str], app_id: str, config: dict[str, Any], path: str, words: str
) -> None:
    error = assert_error(_put(client, admin_headers, app_id, config), 400, "validation_error")
    first = error["details"]["errors"][0]
    assert first["path"] == path, error
    assert words in first["message"], error
    assert path in error["message"] or words in error["message"]
    # Nothing was stored.
    assert client.get(f"/{app_id}/config?stage=staging", headers=admin_headers).json() == {}


def test_a_builder_of_another_app_cannot_write_this_front_config(
    client: TestClient, admin_headers: dict[str, str], app_id: str, make_user: Any
) -> None:
    client.post("/small-apps", json={"id": "other", "name": "Other"}, headers=admin_headers).raise_for_status()
    builder = make_user("other-builder", privileges={"other": ["contribute"]})
    viewer = make_user("studio-viewer", privileges={"studio": ["view"]})
    config = {"requesters": [{"id": "q", "type": "search"}]}
    assert _put(client, builder, "other", config).status_code == 200
    # Another app's builder is not told the app exists.
    assert_error(_put(client, builder, app_id, config), 404)
    assert_error(_put(client, viewer, app_id, config), 403)
    assert client.get(f"/{app_id}/config?stage=staging", headers=admin_headers).json() == {}


# --- the variables of each requester type, through /data -----------------------------------


def _rows(client: TestClient, headers: dict[str, str], query: Any, variables: dict[str, Any]) -> list[Any]:
    response = client.post("/studio/data?stage=staging", json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code == 200, response.text
    return sorted((row["country"], row["revenue"]) for row in response.json()["data"])


def _filtered(condition: dict[str, Any]) -> list[dict[str, Any]]:
    """A chart's request with the filter step the web app inserts after its domain step."""
    return [
        {"name": "domain", "domain": "sales"},
        {"name": "filter", "condition": condition},
        {"name": "select", "columns": ["country", "revenue"]},
    ]


def test_filter_variables_of_each_type_filter_rows_through_data(
    client: TestClient, admin_headers: dict[str, str], app_id: str
) -> None:
    response = client.put(
        f"/{app_id}/domain/sales?stage=staging",
        content=SALES_CSV,
        headers={**admin_headers, "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text

    # multiselect: a list variable in an `in` condition.
    multi = _filtered({"column": "country", "operator": "in", "value": "{{ countries }}"})
    assert _rows(client, admin_headers, multi, {"countries": ["Spain", "Italy"]}) == [
        ("Italy", 90),
        ("Spain", 30),
        ("Spain", 70),
    ]
    assert _rows(client, admin_headers, multi, {"countries": ["France"]}) == [("France", 50), ("France", 100)]

    # daterange: two values, {{ period.start }} and {{ period.end }}, whole days included.
    between = _filtered(
        {
            "and": [
                {"column": "day", "operator": "from", "value": "{{ period.start }}"},
                {"column": "day", "operator": "until", "value": "{{ period.end }}"},
            ]
        }
    )
    period = {"start": "2024-01-05", "end": "2024-02-10"}
    assert _rows(client, admin_headers, between, {"period": period}) == [
        ("France", 50),
        ("France", 100),
        ("Spain", 70),
    ]

    # date: one day.
    day = _filtered(
        {
            "and": [
                {"column": "day", "operator": "from", "value": "{{ day }}"},
                {"column": "day", "operator": "until", "value": "{{ day }}"},
            ]
        }
    )
    assert _rows(client, admin_headers, day, {"day": "2024-03-01"}) == [("Spain", 30)]

    # search: the text (sent escaped as a literal pattern too), case-insensitive, anywhere in the value.
    search = _filtered({"column": "country", "operator": "matches", "value": "(?i){{ search__pattern }}"})
    assert _rows(client, admin_headers, search, {"search": "SPA", "search__pattern": "SPA"}) == [
        ("Spain", 30),
        ("Spain", 70),
    ]
    assert _rows(client, admin_headers, search, {"search": "a(", "search__pattern": "a\\("}) == []

    # dropdown: one value.
    one = _filtered({"column": "country", "operator": "eq", "value": "{{ country }}"})
    assert _rows(client, admin_headers, one, {"country": "Italy"}) == [("Italy", 90)]

    # A list variable where one value is expected is a 400 naming the step, not a 500.
    bad = client.post(
        "/studio/data?stage=staging", json={"query": one, "variables": {"country": ["a", "b"]}}, headers=admin_headers
    )
    assert_error(bad, 400)
