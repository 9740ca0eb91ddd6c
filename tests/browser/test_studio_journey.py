"""Issue 15's end-to-end proof: one builder, in Chromium at 1440x900, takes a new app with a
domain in staging from empty to released and back, with forms only — no JSON typed: a story
from the template gallery, a four-step pipeline built in the chart builder's Data tab (its
preview equal to what `/data` answers), columns mapped, a filter, a narrative with the filter's
variable, a release through the diff dialog seen by a viewer, then production rolled back."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.browser.test_data_page import PASSWORD, builder_of_a_new_app
from tests.browser.test_pipeline_builder import add_step, fresh, steps_json
from tests.browser.test_stories import READY, login
from tests.browser.test_studio_structure import _api, _config, _context, _data_response, _look
from tests.helpers.browser import ADMIN_PASSWORD

pytestmark = pytest.mark.browser
APP = "journey"
SALES = (
    "country,channel,day,revenue\n"
    "France,Web,2024-01-05,12000\n"
    "France,Store,2024-02-10,5000\n"
    "France,Web,2024-03-02,9000\n"
    "Spain,Web,2024-01-20,7000\n"
    "Spain,Store,2024-03-01,3000\n"
    "Italy,Web,2024-02-15,15000\n"
    "Italy,Store,2024-02-16,4000\n"
    "Germany,Web,2024-01-11,6000\n"
)
STEPS = [
    {"name": "domain", "domain": "sales"},
    {"name": "filter", "condition": {"column": "channel", "operator": "eq", "value": "Web"}},
    {
        "name": "aggregate",
        "aggregations": [{"columns": ["revenue"], "agg_function": "sum", "new_columns": ["total"]}],
        "on": ["country"],
    },
    {"name": "formula", "formula": "total / 1000", "new_column": "total_k"},
    {"name": "sort", "columns": [{"column": "total_k", "order": "desc"}]},
]


def _new_app(stack: str) -> str:
    """An app with its sales domain uploaded in staging and nothing else; its builder's name."""
    username = builder_of_a_new_app(stack, APP)
    api, headers = _api(stack, username, PASSWORD)
    uploaded = httpx.put(
        f"{api}/{APP}/domain/sales?stage=staging", content=SALES, headers={**headers, "Content-Type": "text/csv"}
    )
    assert uploaded.status_code == 200, uploaded.text
    return username


def _rows(response: Any) -> list[tuple[str, float]]:
    return [(row["country"], row["total_k"]) for row in response.json()["data"]]


def test_from_an_empty_app_to_a_released_app_and_back(stack: str, browser: Any) -> None:
    username = _new_app(stack)
    context, page, errors = _context(browser, "desktop")
    previews: list[dict[str, Any]] = []

    def on_response(response: Any) -> None:
        if "/query/preview" in response.url and response.status == 200:
            previews.append({"query": json.loads(response.request.post_data)["query"], "answer": response.json()})

    page.on("response", on_response)
    refused: list[str] = []
    page.on("response", lambda r: refused.append(f"{r.url} {r.request.post_data}") if r.status >= 400 else None)
    login(page, stack, username, PASSWORD)
    page.goto(f"{stack}/apps/{APP}?stage=staging")

    # 0. The empty app goes to production first: the release the rollback returns to.
    empty = page.locator("[data-empty-app]")
    empty.locator("[data-template=bar]:not([disabled])").wait_for()
    page.click("[data-action=release-all]")
    dialog = page.locator("[data-dialog=release]")
    dialog.locator("[data-part=design]").wait_for()
    dialog.locator("[data-action=confirm-release]").click()
    page.get_by_role("status").get_by_text("Released").wait_for()

    # 1. An empty app: a story from the template gallery.
    _look(page, "journey-1-empty-app")
    page.fill("input[name=new-story-title]", "Web revenue")
    empty.locator("[data-template=bar]").click()
    page.wait_for_url(f"{stack}/apps/{APP}/stories/web-revenue")
    page.wait_for_selector(".chart[data-chart-type=bar][data-state=ready] canvas")
    page.wait_for_selector(READY)
    # Staging moved since the release: the sidebar no longer says viewers see this version.
    assert page.get_by_text("viewers see this version now").count() == 0
    _look(page, "journey-1-story-from-template")

    # 2. The story's chart in the chart builder: four steps built in its Data tab.
    page.locator("[data-editor=chart-builder]").wait_for()  # edit mode: the chart builder under the story
    page.click("[data-editor=chart-builder] [data-tab=data]")
    builder = page.locator("[data-slot=pipeline-builder] [data-pipeline-builder]")
    builder.locator("[data-step-name=domain]").wait_for()
    # The template's own steps after the domain go: the builder makes its own four.
    while builder.locator("[data-step]").count() > 1:
        builder.locator("[data-step]").last.locator("[data-action=remove-step]").click()
    fresh(builder)
    form = builder.locator("[data-step-form]")
    add_step(builder, "filter")
    form.locator("[data-cond=column]").select_option("channel")
    form.locator("[data-cond=operator]").select_option("eq")
    form.locator("[data-cond=value]").fill("Web")
    fresh(builder)
    add_step(builder, "aggregate")
    form.locator("[data-field=on] [data-column=country]").click()
    form.locator("[data-field='aggregations.0.columns'] [data-column=revenue]").click()
    form.locator("[data-field='aggregations.0.agg_function'] select").select_option("sum")
    form.locator("[data-field='aggregations.0.new_columns'] input").fill("total")
    fresh(builder)
    add_step(builder, "formula")
    form.locator("[data-field=formula] input").fill("total / 1000")
    form.locator("[data-field=new_column] input").fill("total_k")
    fresh(builder)
    add_step(builder, "sort")
    form.locator("[data-field='columns.0.column'] select").select_option("total_k")
    form.locator("[data-field='columns.0.order'] select").select_option("desc")
    fresh(builder)
    _look(page, "journey-2-pipeline-four-steps")
    steps = steps_json(builder)
    assert steps == STEPS
    # The builder's preview is what /data answers for the same steps.
    api, headers = _api(stack, username, PASSWORD)
    data = httpx.post(f"{api}/{APP}/data?stage=staging", json={"query": steps}, headers=headers)
    assert data.status_code == 200, data.text
    expected = [("France", 21.0), ("Italy", 15.0), ("Spain", 7.0), ("Germany", 6.0)]  # Web only, in thousands
    assert [(c, float(v)) for c, v in _rows(data)] == expected
    shown = next(p["answer"] for p in reversed(previews) if p["query"] == steps)
    assert shown["data"] == data.json()["data"] and shown["columns"] == data.json()["columns"]
    table = builder.locator("[data-pipeline-preview] table")
    countries = [r.locator("td").first.inner_text() for r in table.locator("tbody tr:not([aria-hidden])").all()]
    assert countries == [c for c, _ in expected]

    # 3. Columns mapped in the Chart tab from the pipeline's output, saved: the story draws them.
    page.click("[data-editor=chart-builder] [data-tab=chart]")
    x_options = page.locator("select[name=role-x] option").all_inner_texts()
    assert any(o.startswith("total_k") for o in x_options) and not any(o.startswith("day") for o in x_options)
    page.select_option("select[name=role-x]", "country")
    page.select_option("select[name=role-y-0]", "total_k")
    page.locator(".cb-preview .chart[data-state=ready]").wait_for()
    _look(page, "journey-3-mapped")
    with page.expect_response(lambda r: r.url.endswith("/data?stage=staging") and r.request.method == "POST") as drawn:
        page.click("[data-editor=chart-builder] button:has-text('Save'):not([data-action])")
    page.wait_for_selector("[data-editor=chart-builder]", state="detached")
    page.wait_for_selector(".tc-story .chart[data-chart-type=bar][data-state=ready] canvas")
    chart = _config(stack, APP, username)["slides"][0]["charts"][0]
    assert chart["chart"]["x"] == "country" and chart["chart"]["y"] == ["total_k"]
    assert chart["query"] == STEPS
    # The story's chart asks for the pipeline's rows: the mapped columns are in them.
    assert json.loads(drawn.value.request.post_data)["query"] == STEPS
    assert [(c, float(v)) for c, v in _rows(drawn.value)] == expected
    page.wait_for_selector(READY)
    _look(page, "journey-3-story-draws-mapped")

    # 4. A filter (requester), in the filters form, applied to the story: the chart follows it.
    if page.locator("[data-action=open-filters]").count() == 0:
        page.click("[data-action=edit-story]")
    page.click("[data-action=open-filters]")
    page.click("[data-action=add-filter]")
    filters = page.locator("[data-filter-form]")
    filters.locator("input[name=filter-label]").fill("Country")
    filters.locator("select[name=filter-type]").select_option("dropdown")
    filters.locator("select[name=filter-domain]").select_option("sales")
    filters.locator("select[name=filter-column]").select_option("country")
    filters.locator("[data-action=some-stories]").check()
    filters.locator("[data-story-check=web-revenue]").check()
    with _data_response(page, lambda b: b["variables"].get("country") == "France") as answer:
        filters.locator("[data-action=save-filter]").click()
    filters.wait_for(state="detached")
    assert [(c, float(v)) for c, v in _rows(answer.value)] == [("France", 21.0)]
    select = page.locator("select[data-requester=country]")
    with _data_response(page, lambda b: b["variables"].get("country") == "Italy") as answer:
        select.select_option("Italy")
    assert [(c, float(v)) for c, v in _rows(answer.value)] == [("Italy", 15.0)]
    page.wait_for_selector(READY)
    _look(page, "journey-4-filter")
    page.click("[data-action=close-filters]")

    # 5. A narrative with the filter's variable, rendered with its current value.
    studio = page.locator("[data-story-studio]")
    narrative_box = studio.locator("textarea[name=story-narrative]")
    narrative_box.fill("Web revenue in ")
    narrative_box.press("End")
    studio.locator("[data-action=insert-variable]").select_option("country")
    narrative_box.press("End")
    narrative_box.type(", in thousands.")
    studio.locator("[data-action=save-story]").click()
    page.locator("[data-narrative]").get_by_text("Web revenue in Italy, in thousands.").wait_for()
    assert _config(stack, APP, username)["slides"][0]["narrative"] == "Web revenue in {{ country }}, in thousands."
    _look(page, "journey-5-narrative")

    # 6. Released with the dialog, whose diff lists the story added; a viewer sees it all.
    page.click("[data-action=done-editing]")
    page.click("[data-action=release-all]")
    dialog.locator("[data-story-change=added][data-story=web-revenue]").wait_for()
    assert "Web revenue" in dialog.locator("[data-story-change=added][data-story=web-revenue]").inner_text()
    _look(page, "journey-6-release-dialog")
    dialog.locator("[data-action=confirm-release]").click()
    page.get_by_role("status").get_by_text("Released").wait_for()
    # The only refusals: previews of a step being filled in (its error shown at its field).
    assert all("/query/preview" in r for r in refused), refused
    assert [e for e in errors if "status of 400" not in e] == []
    _, admin = _api(stack, "admin", ADMIN_PASSWORD)
    viewer = f"viewer-{APP}"
    created = httpx.post(
        f"{api}/users", json={"username": viewer, "password": PASSWORD, "privileges": {APP: ["view"]}}, headers=admin
    )
    assert created.status_code == 201, created.text
    viewer_context, viewer_page, viewer_errors = _context(browser, "desktop")
    login(viewer_page, stack, viewer, PASSWORD)
    viewer_page.goto(f"{stack}/apps/{APP}/stories/web-revenue")
    viewer_page.wait_for_selector(READY)
    viewer_page.wait_for_selector(".tc-story .chart[data-chart-type=bar][data-state=ready] canvas")
    viewer_page.locator("[data-narrative]").get_by_text("Web revenue in France, in thousands.").wait_for()
    with _data_response(viewer_page, lambda b: b["variables"].get("country") == "Spain") as answer:
        viewer_page.select_option("select[data-requester=country]", "Spain")
    assert [(c, float(v)) for c, v in _rows(answer.value)] == [("Spain", 7.0)]
    viewer_page.locator("[data-narrative]").get_by_text("Web revenue in Spain, in thousands.").wait_for()
    viewer_page.wait_for_selector(READY)
    assert viewer_page.locator("[data-action=edit-story], [data-action=release-all]").count() == 0
    _look(viewer_page, "journey-6-viewer")
    # On a phone: the same story, filter and narrative, nothing wider than the screen.
    phone_context, phone, phone_errors = _context(browser, "phone")
    login(phone, stack, viewer, PASSWORD)
    phone.goto(f"{stack}/apps/{APP}/stories/web-revenue")
    phone.wait_for_selector(READY)
    phone.wait_for_selector(".tc-story .chart[data-chart-type=bar][data-state=ready] canvas")
    assert phone.locator("select[data-requester=country]").is_visible()
    phone.locator("[data-narrative]").get_by_text("Web revenue in France, in thousands.").wait_for()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    _look(phone, "journey-6-viewer-phone")
    assert phone_errors == []
    phone_context.close()

    # 7. Production rolled back from the Releases page: the viewer no longer sees the story.
    page.goto(f"{stack}/apps/{APP}/releases")
    items = page.locator("[data-release]")
    items.nth(1).wait_for()
    assert "Stories: 1 added" in items.first.locator("[data-what]").inner_text()
    items.nth(1).locator("[data-action=rollback]").click()
    items.nth(1).locator("[data-action=confirm-rollback]").click()
    page.get_by_role("status").get_by_text("Production is back to release").wait_for()
    _look(page, "journey-7-rolled-back")
    viewer_page.goto(f"{stack}/apps/{APP}")
    viewer_page.wait_for_selector(READY)
    assert viewer_page.locator("a[href$='/stories/web-revenue']").count() == 0
    production = httpx.get(f"{api}/{APP}/config", headers=_api(stack, viewer, PASSWORD)[1]).json()
    assert production.get("slides", []) == []
    _look(viewer_page, "journey-7-viewer-after-rollback")
    assert all("/query/preview" in r for r in refused), refused
    assert [e for e in errors if "status of 400" not in e] == [] and viewer_errors == []
    viewer_context.close()
    context.close()


def test_structure_saves_warn_of_a_save_made_meanwhile(stack: str, browser: Any) -> None:
    """The studio's structure saves (here: a rename and a delete in the sidebar) over a staging
    another builder saved meanwhile are refused and say who and what; the builder reloads
    theirs or overwrites it, knowingly."""
    app = "journey-conflict"
    username = builder_of_a_new_app(stack, app)
    api, mine = _api(stack, username, PASSWORD)
    chart = {"type": "bar", "x": "country", "y": ["revenue"]}
    first = {"id": "first", "title": "First", "charts": [{"id": "chart-1", "chart": chart, "query": STEPS[:1]}]}
    assert httpx.put(f"{api}/{app}/config?stage=staging", json={"slides": [first]}, headers=mine).status_code == 200
    uploaded = httpx.put(f"{api}/{app}/domain/sales", content=SALES, headers={**mine, "Content-Type": "text/csv"})
    assert uploaded.status_code == 200, uploaded.text
    _, admin = _api(stack, "admin", ADMIN_PASSWORD)
    other = f"other-{app}"
    created = httpx.post(
        f"{api}/users",
        json={"username": other, "password": PASSWORD, "privileges": {app: ["contribute"]}},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    _, theirs = _api(stack, other, PASSWORD)

    def their_save(change: Callable[[dict[str, Any]], None]) -> None:
        read = httpx.get(f"{api}/{app}/config?stage=staging", headers=theirs)
        front = read.json()
        change(front)
        saved = httpx.put(
            f"{api}/{app}/config?stage=staging",
            json=front,
            headers={**theirs, "If-Match": read.headers["X-Config-Version"]},
        )
        assert saved.status_code == 200, saved.text

    context, page, errors = _context(browser, "desktop")
    refused: list[str] = []
    page.on("response", lambda r: refused.append(r.url) if r.status >= 400 else None)
    login(page, stack, username, PASSWORD)
    page.goto(f"{stack}/apps/{app}/stories/first?stage=staging")
    page.wait_for_selector(READY)
    page.click("[data-action=edit-story]")
    row = page.locator("[data-studio-nav] [data-row='first']")
    row.wait_for()

    # They add a story; I rename mine: refused, with who and what, and nothing of theirs lost.
    late = {"id": "late", "title": "Late story", "charts": []}
    their_save(lambda front: front["slides"].append(late))
    row.locator("[data-action=rename]").click()
    page.fill("[data-rename=first]", "First, renamed")
    page.keyboard.press("Enter")
    warning = page.locator("[data-studio-conflict]")
    warning.wait_for()
    text = warning.inner_text()
    assert other in text and "Stories only in theirs: Late story" in text and "Your change is not saved" in text
    _look(page, "journey-conflict-warning")
    assert [(s["id"], s["title"]) for s in _config(stack, app, username)["slides"]] == [
        ("first", "First"),
        ("late", "Late story"),
    ]
    # Reload theirs: their story shows, and my next save goes through.
    warning.locator("[data-action=reload-theirs]").click()
    warning.wait_for(state="detached")
    page.locator("[data-studio-nav] [data-row='late']").wait_for()
    row.locator("[data-action=rename]").click()
    page.fill("[data-rename=first]", "First, renamed")
    page.keyboard.press("Enter")
    page.locator("[data-save-status]").get_by_text("Saved to staging.").wait_for()
    assert [(s["id"], s["title"]) for s in _config(stack, app, username)["slides"]] == [
        ("first", "First, renamed"),
        ("late", "Late story"),
    ]

    # They change the home; I delete their story: refused, then overwritten knowingly.
    their_save(lambda front: front.update(home={"title": "Their home"}))
    page.locator("[data-studio-nav] [data-row='late'] [data-action=delete]").click()
    page.locator("[data-studio-nav] [data-action=confirm-delete]").click()
    warning.wait_for()
    assert "They also changed: home" in warning.inner_text()
    assert len(_config(stack, app, username)["slides"]) == 2
    warning.locator("[data-action=overwrite]").click()
    warning.wait_for(state="detached")
    page.locator("[data-studio-nav] [data-row='late']").wait_for(state="detached")
    saved = _config(stack, app, username)
    assert [s["id"] for s in saved["slides"]] == ["first"] and saved.get("home", {}).get("title") != "Their home"
    # The refusals were the two 409s, shown in the page, not an unhandled error.
    assert len(refused) == 2 and all(url.endswith(f"/{app}/config?stage=staging") for url in refused), refused
    assert [e for e in errors if "status of 409" not in e] == []
    context.close()
