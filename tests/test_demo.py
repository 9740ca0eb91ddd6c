"""`toucan-ctl demo`: the demo app loads, and every story's data request answers."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.helpers.workers import wait_for_job
from toucan.data.service import DataService
from toucan.db.engine import Database
from toucan.demo.sales import sales_rows
from toucan.demo_seed import DEMO_APP, demo_front_config, seed_demo
from toucan.settings import Settings


def test_sales_rows_are_deterministic() -> None:
    assert sales_rows(50, seed=1) == sales_rows(50, seed=1)
    assert sales_rows(50, seed=1) != sales_rows(50, seed=2)


def test_every_demo_story_and_requester_answers(
    client: TestClient, db: Database, settings: Settings, admin_headers: dict[str, str]
) -> None:
    data: DataService = client.app.state.ctx.data  # type: ignore[attr-defined]
    result = seed_demo(db, data.store.root.parent, rows=800, users_password="demo-password-1")
    assert result.rows == 800 and {u for u, _ in result.created_users} == {"demo-viewer", "demo-builder"}
    config = client.get(f"/{DEMO_APP}/config", headers=admin_headers).json()
    assert config == demo_front_config()
    types = set()
    queries: list[tuple[str, Any]] = [(s["id"], s["query"]) for s in config["slides"] if "query" in s]
    queries += [(f"{s['id']}/{i}", c["query"]) for s in config["slides"] for i, c in enumerate(s.get("charts", []))]
    queries += [(k["title"], k["query"]) for k in config["home"]["kpis"]]
    queries += [(r["id"], r["query"]) for r in config["requesters"]]
    for name, query in queries:
        response = client.post(
            f"/{DEMO_APP}/data", json={"query": query, "variables": {"country": "Spain"}}, headers=admin_headers
        )
        assert response.status_code == 200, (name, response.text)
        assert response.json()["data"], name
    for slide in config["slides"]:
        if "chart" in slide:
            types.add(slide["chart"]["type"])
    assert {
        "bar",
        "line",
        "area",
        "pie",
        "donut",
        "kpi",
        "table",
        "leaderboard",
        "waterfall",
        "heatmap",
        "scatter",
        "gauge",
    } <= types
    # The viewer sees the app and its production data.
    login = client.post("/login", json={"username": "demo-viewer", "password": "demo-password-1"}).json()
    viewer = {"Authorization": f"Bearer {login['token']}"}
    assert [a["id"] for a in client.get("/small-apps", headers=viewer).json()] == [DEMO_APP]


def test_the_demo_has_a_story_of_four_charts_on_the_sales_domain() -> None:
    """The dashboard story the browser test and the frontend benchmark open."""
    slides = {s["id"]: s for s in demo_front_config()["slides"]}
    dashboard = slides["country-dashboard"]
    assert "chart" not in dashboard and "query" not in dashboard
    assert [c["chart"]["type"] for c in dashboard["charts"]] == ["kpi", "line", "bar", "table"]
    for chart in dashboard["charts"]:
        assert chart["title"] and chart["query"][0] == {"name": "domain", "domain": "sales"}
        assert chart["width"] in {"quarter", "third", "half", "two-thirds", "three-quarters", "full"}


def test_a_fresh_demo_seed_preprocesses(
    client: TestClient, db: Database, admin_headers: dict[str, str], worker: Any
) -> None:
    """The demo's ETL config reads files it uploaded itself: its preprocess succeeds at once, and
    builds its PIPELINE entry's domain too."""
    data: DataService = client.app.state.ctx.data  # type: ignore[attr-defined]
    seed_demo(db, data.store.root.parent, rows=300)
    files = client.get(f"/{DEMO_APP}/data/sources", headers=admin_headers).json()["sources"]
    assert [f["filename"] for f in files] == ["sales.parquet"]
    queued = client.post(f"/{DEMO_APP}/data/preprocess?stage=staging", headers=admin_headers)
    assert queued.status_code == 202, queued.text
    job = wait_for_job(client, admin_headers, queued.json()["id"])
    assert job["state"] == "succeeded", job
    domains = client.get(f"/{DEMO_APP}/metadata?stage=staging", headers=admin_headers).json()["domains"]
    assert {d["name"]: d["rows"] for d in domains}["sales"] == 300
    assert "sales_by_country" in {d["name"] for d in domains}
    # Seeding again (the file is there already) still works.
    seed_demo(db, data.store.root.parent, rows=300)


def test_a_missing_file_is_named_in_ui_words(client: TestClient, admin_headers: dict[str, str], worker: Any) -> None:
    assert (
        client.post("/small-apps", json={"id": "no-file", "name": "No file"}, headers=admin_headers).status_code == 201
    )
    etl = {"DATA_SOURCES": [{"domain": "sales", "file": "sales.csv"}]}
    assert client.put("/no-file/config/etl", json=etl, headers=admin_headers).status_code == 200
    job = wait_for_job(
        client, admin_headers, client.post("/no-file/data/preprocess", headers=admin_headers).json()["id"]
    )
    assert job["state"] == "failed"
    assert "'sales.csv' was not uploaded" in job["error"] and "Data sources" in job["error"]
    assert "POST" not in job["error"] and "/no-file/" not in job["error"]
