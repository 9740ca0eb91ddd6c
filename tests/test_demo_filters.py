"""Every filter of the demo tells the truth: on the home and on each story, every KPI and
chart the Country filter is shown with changes with its value, and a story it does not
apply to does not show it. The requests are built as the viewer's page builds them
(toucan.apps.viewer_requests, pinned to the frontend's rule by shared cases), and sent as
the demo viewer."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from toucan.apps.viewer_requests import chart_request, page_charts, requesters_on
from toucan.data.service import DataService
from toucan.db.engine import Database
from toucan.demo_seed import DEMO_APP, seed_demo

VALUES = ("France", "Japan")


def _data(client: TestClient, headers: dict[str, str], query: Any, variables: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post(f"/{DEMO_APP}/data", json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["data"]
    return rows


def test_every_demo_chart_and_kpi_follows_the_country_filter_or_does_not_show_it(
    client: TestClient, db: Database
) -> None:
    data: DataService = client.app.state.ctx.data  # type: ignore[attr-defined]
    seed_demo(db, data.store.root.parent, rows=800, users_password="demo-password-1")
    login = client.post("/login", json={"username": "demo-viewer", "password": "demo-password-1"}).json()
    viewer = {"Authorization": f"Bearer {login['token']}"}
    config = client.get(f"/{DEMO_APP}/config", headers=viewer).json()
    requesters = config["requesters"]
    assert [r["id"] for r in requesters] == ["country"]

    checked: list[str] = []
    independent: list[str] = []
    for slide in [None, *config["slides"]]:
        shown = requesters_on(config, slide)
        charts = page_charts(config, slide)
        if not shown:
            independent.append(slide["id"] if slide else "home")
            continue
        for chart in charts:
            answers = []
            for value in VALUES:
                request = chart_request(chart.query, requesters, shown, {"country": value}, chart.key)
                rows = _data(client, viewer, request.query, request.variables)
                assert rows, (chart.key, value)
                if "country" in rows[0]:
                    assert {r["country"] for r in rows} == {value}, chart.key
                answers.append(json.dumps(rows, sort_keys=True, default=str))
            assert answers[0] != answers[1], f"{chart.key} ({chart.title}) shows the same data for {VALUES}"
            checked.append(chart.key)
    # The home's four KPIs and every chart of every story but the two comparisons of countries
    # and regions, which hide the filter.
    assert {"home/0", "home/1", "home/2", "home/3"} <= set(checked)
    assert {"category-share/0", "heatmap/0", "country-dashboard/0", "scatter/0"} <= set(checked)
    assert sorted(independent) == ["regions-area", "top-countries"]
    charted = [c.key for s in config["slides"] for c in page_charts(config, s)]
    assert sorted(checked) == sorted(
        ["home/0", "home/1", "home/2", "home/3", *(k for k in charted if k.split("/")[0] not in independent)]
    )


def test_the_filter_hides_on_a_comparison_of_countries() -> None:
    """A leaderboard of countries is legitimately independent of a country filter: the
    story's own (empty) filter list hides it there, rather than showing a value it ignores."""
    from toucan.demo_seed import demo_front_config

    config = demo_front_config()
    slides = {s["id"]: s for s in config["slides"]}
    assert requesters_on(config, slides["top-countries"]) == []
    assert [r["id"] for r in requesters_on(config, slides["category-share"])] == ["country"]
