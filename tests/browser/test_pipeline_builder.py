"""The visual pipeline builder and the data page that guides, driven in Chromium.

A builder makes a four-step pipeline (filter, aggregate, formula, sort) with forms only — no
JSON typed — and its preview is what `POST /{app}/data` answers for the same steps; reordering
puts a step before the column it needs and the error shows at that step's field. On the data
page, a source whose file is missing says so with an upload button in place, a failed
preprocess disables *Release data* with the reason, and the demo's preprocess succeeds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.test_data_page import PASSWORD, builder_of_a_new_app, only_expected_errors
from tests.browser.test_stories import login
from tests.helpers.browser import DEMO_PASSWORD, shot

pytestmark = pytest.mark.browser
DEMO = "demo-sales"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def page_shot(page: Any, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, name)


def open_data_page(page: Any, stack: str, app: str, username: str, password: str) -> None:
    login(page, stack, username, password)
    page.goto(f"{stack}/apps/{app}/data")
    page.get_by_role("heading", name="Data sources").wait_for()


def fresh(builder: Any) -> None:
    """Wait until the preview shows the selected step of the steps as they are now."""
    builder.locator("[data-pipeline-preview][data-fresh=true]").wait_for(timeout=20_000)


def add_step(builder: Any, kind: str) -> None:
    builder.locator("[data-action=add-step]").click()
    builder.locator("input[name=step-search]").fill(kind)
    builder.locator(f"[data-step-kind={kind}]").click()
    builder.locator(f"[data-step-name={kind}].current").wait_for()
    fresh(builder)


def steps_json(builder: Any) -> list[dict[str, Any]]:
    """The steps as the Advanced tab shows them (read, never typed)."""
    builder.locator("[data-tab=json]").click()
    text = builder.locator("textarea[name=pipeline-json]").input_value()
    builder.locator("[data-tab=visual]").click()
    steps: list[dict[str, Any]] = json.loads(text)
    return steps


def token_of(page: Any) -> str:
    token: str = page.evaluate("() => localStorage.getItem('toucan.token')")
    return token


def test_a_builder_makes_a_four_step_pipeline_without_json(stack: str, page: Any) -> None:
    page.set_viewport_size(DESKTOP)
    previews: list[dict[str, Any]] = []

    def on_response(response: Any) -> None:
        if "/query/preview" in response.url and response.status == 200:
            previews.append({"query": json.loads(response.request.post_data)["query"], "answer": response.json()})

    page.on("response", on_response)
    open_data_page(page, stack, DEMO, "demo-builder", DEMO_PASSWORD)
    page.click("[data-data-tab=explore]")
    builder = page.locator("[data-panel=explore] [data-pipeline-builder]")
    builder.locator("[data-step-name=domain]").wait_for()
    fresh(builder)
    assert builder.locator("[data-field=domain] select").input_value() == "sales"

    # 1. filter: country is France
    add_step(builder, "filter")
    form = builder.locator("[data-step-form]")
    form.locator("[data-cond=column]").select_option("country")
    form.locator("[data-cond=operator]").select_option("eq")
    form.locator("[data-cond=value]").fill("France")
    fresh(builder)
    # 2. aggregate: the sum of revenue per product, named total
    add_step(builder, "aggregate")
    form.locator("[data-field=on] [data-column=product]").click()
    form.locator("[data-field='aggregations.0.columns'] [data-column=revenue]").click()
    form.locator("[data-field='aggregations.0.agg_function'] select").select_option("sum")
    form.locator("[data-field='aggregations.0.new_columns'] input").fill("total")
    fresh(builder)
    # The column pickers offer the columns after the previous step, with their types.
    add_step(builder, "formula")
    options = form.locator("[data-field=new_column] input")
    form.locator("[data-field=formula] input").fill("total / 1000")
    options.fill("total_k")
    fresh(builder)
    # 4. sort on the new column, largest first
    add_step(builder, "sort")
    column = form.locator("[data-field='columns.0.column'] select")
    labels = column.locator("option").all_inner_texts()
    assert "total_k · number" in labels and "product · text" in labels and "country · text" not in labels
    column.select_option("total_k")
    form.locator("[data-field='columns.0.order'] select").select_option("desc")
    fresh(builder)
    page_shot(page, "pipeline-builder-four-steps")

    steps = steps_json(builder)
    assert steps == [
        {"name": "domain", "domain": "sales"},
        {"name": "filter", "condition": {"column": "country", "operator": "eq", "value": "France"}},
        {
            "name": "aggregate",
            "aggregations": [{"columns": ["revenue"], "agg_function": "sum", "new_columns": ["total"]}],
            "on": ["product"],
        },
        {"name": "formula", "formula": "total / 1000", "new_column": "total_k"},
        {"name": "sort", "columns": [{"column": "total_k", "order": "desc"}]},
    ]
    # The preview is what /data answers for the same steps.
    data = httpx.post(
        f"{stack}/_api/{DEMO}/data?stage=staging",
        json={"query": steps},
        headers={"Authorization": f"Bearer {token_of(page)}"},
    ).json()
    shown = next(p["answer"] for p in reversed(previews) if p["query"] == steps)
    assert shown["data"] == data["data"] and shown["columns"] == data["columns"]
    assert len(data["data"]) == 8
    table = builder.locator("[data-pipeline-preview] table")
    products = [row.locator("td").first.inner_text() for row in table.locator("tbody tr:not([aria-hidden])").all()]
    assert products == [row["product"] for row in data["data"]]
    assert builder.locator("[data-preview-total]").inner_text() == "· 8 rows"

    # Click a step: the rows at that point (after the filter: France's sales only).
    builder.locator("[data-step='1'] .pb-step-main").click()
    fresh(builder)
    countries = {c.inner_text() for c in table.locator("tbody tr:not([aria-hidden]) td:nth-child(4)").all()}
    header = table.locator("thead th").all_inner_texts()
    assert header[3].startswith("country") and countries == {"France"}

    # Reorder by dragging: the sort before the formula needs a column not made yet; the error
    # shows at the sort's column field, and on the step in the list.
    builder.locator("[data-step='4']").drag_to(builder.locator("[data-step='3']"))
    builder.locator("[data-step='3'][data-step-name=sort]").wait_for()
    builder.locator("[data-step='3'].current").wait_for()
    fresh(builder)
    error = form.locator("[data-field-error='columns.0.column']")
    error.wait_for()
    assert "total_k" in error.inner_text()
    assert builder.locator("[data-step='3'].invalid .pb-bad").is_visible()
    page_shot(page, "pipeline-builder-error-at-field")
    # Moved back with the arrow: no error, the same rows.
    builder.locator("[data-step='3'] [data-action=down]").click()
    builder.locator("[data-step='4'][data-step-name=sort]").wait_for()
    fresh(builder)
    builder.locator("[data-field-error]").first.wait_for(state="detached")
    assert steps_json(builder) == steps

    # A value the step model refuses (an aggregation of no column): its 400 names the step and
    # the field, shown there.
    builder.locator("[data-step='2'] .pb-step-main").click()
    fresh(builder)
    form.locator("[data-field='aggregations.0.columns'] [data-column=revenue]").click()
    error = form.locator("[data-field-error='aggregations.0.columns']")
    error.wait_for()
    assert "columns" in error.inner_text()
    assert builder.locator("[data-step='2'].invalid").is_visible()
    form.locator("[data-field='aggregations.0.columns'] [data-column=revenue]").click()
    form.locator("[data-field-error]").first.wait_for(state="detached")

    # A phone: the list above the form, nothing wider than the screen.
    page.set_viewport_size(PHONE)
    fresh(builder)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page_shot(page, "pipeline-builder-phone")
    expected = ("status of 400",)
    assert [e for e in page.console_errors if not any(x in e for x in expected)] == []


def test_the_data_page_guides_a_builder_from_a_missing_file_to_a_release(stack: str, page: Any, tmp_path: Path) -> None:
    page.set_viewport_size(DESKTOP)
    app = "guided-data"
    open_data_page(page, stack, app, builder_of_a_new_app(stack, app), PASSWORD)
    etl = page.locator("[data-panel=etl]")

    # A source, in the form: its file is not uploaded yet, and the upload button is in place.
    etl.locator("[data-action=add-source]").click()
    etl.locator("input[name=source-domain]").fill("sales")
    etl.locator("input[name=source-file-name]").fill("sales.csv")
    etl.locator("[data-action=save-etl]").click()
    etl.get_by_text("Saved to staging.").wait_for()
    state = etl.locator("[data-file-state]")
    assert state.get_attribute("data-file-state") == "missing"
    assert "Not uploaded yet" in state.inner_text() and "Upload the file" in state.inner_text()

    # Preprocess fails, in UI words (no API path), and Release data says why it waits.
    page.click("[data-action=preprocess]")
    page.locator("[data-panel=preprocess] .job[data-state=failed]").wait_for(timeout=60_000)
    message = page.locator("[data-job-error]").inner_text()
    assert "'sales.csv' was not uploaded" in message and "Data sources" in message
    assert "POST" not in message and f"/{app}/" not in message
    page_shot(page, "data-guide-missing-file")

    # Upload it from the source's row: the file gets the name the ETL config gives.
    picked = tmp_path / "my export.csv"
    picked.write_text("country,revenue\nFrance,10\nSpain,20\nFrance,5\n")
    etl.locator("input[name='upload-sales.csv']").set_input_files(str(picked))
    etl.locator("[data-file-state=uploaded]").wait_for()
    page.locator("[data-panel=sources] [data-source='sales.csv']").wait_for()

    # A PIPELINE entry, with the builder: sales → by_country.
    etl.locator("[data-etl-tab=pipelines]").click()
    etl.locator("[data-action=add-pipeline]").click()
    etl.locator("input[name=output-domain]").fill("by_country")
    builder = etl.locator("[data-pipeline-builder]")
    builder.locator("[data-step-name=domain]").wait_for()
    # Staging has no domain yet: the builder still edits the steps (its preview says why it is empty).
    builder.locator("[data-action=add-step]").click()
    builder.locator("[data-step-kind=aggregate]").click()
    form = builder.locator("[data-step-form]")
    form.locator("[data-field=on] input, [data-field=on] .chips").first.wait_for()
    page_shot(page, "data-guide-pipeline-entry")
    etl.locator("[data-etl-tab=json]").click()
    config = json.loads(etl.locator("textarea[name=etl-config]").input_value())
    assert config["PIPELINE"][0]["output_domain"] == "by_country"
    assert config["PIPELINE"][0]["pipeline"][0] == {"name": "domain", "domain": "sales"}
    assert config["PIPELINE"][0]["pipeline"][1]["name"] == "aggregate"
    # The aggregation's columns are picked once staging has the columns: with no rows yet, a
    # sort on the domain's own column keeps the entry valid.
    etl.locator("[data-etl-tab=pipelines]").click()
    builder.locator("[data-step='1'] [data-action=remove-step]").click()
    builder.locator("[data-step='1']").wait_for(state="detached")
    etl.locator("[data-action=save-etl]").click()
    etl.get_by_text("Saved to staging.").wait_for()

    page.click("[data-action=preprocess]")
    page.locator("[data-panel=preprocess] .job[data-state=succeeded]").wait_for(timeout=60_000)
    page.locator("[data-table=domains] [data-domain=by_country]").wait_for()
    release = page.locator("[data-action=release-data]")
    assert release.is_enabled() and page.locator("[data-release-blocked]").count() == 0

    # The entry's builder now offers the domain's columns: an aggregate per country.
    builder.locator("[data-action=add-step]").click()
    builder.locator("[data-step-kind=aggregate]").click()
    builder.locator("[data-pipeline-preview][data-fresh=true]").wait_for(timeout=20_000)
    form.locator("[data-field=on] [data-column=country]").click()
    form.locator("[data-field='aggregations.0.columns'] [data-column=revenue]").click()
    builder.locator("[data-pipeline-preview][data-fresh=true]").wait_for(timeout=20_000)
    assert builder.locator("[data-preview-total]").inner_text() == "· 2 rows"
    etl.locator("[data-action=save-etl]").click()
    etl.get_by_text("Saved to staging.").wait_for()

    # A second source whose file is missing: the next preprocess fails, and Release data is
    # disabled with the reason until it succeeds again.
    etl.locator("[data-etl-tab=sources]").click()
    etl.locator("[data-action=add-source]").click()
    etl.locator("input[name=source-domain]").nth(1).fill("targets")
    etl.locator("input[name=source-file-name]").nth(1).fill("targets.csv")
    etl.locator("[data-action=save-etl]").click()
    etl.get_by_text("Saved to staging.").wait_for()
    assert etl.locator("[data-file-state=missing]").count() == 1
    page.click("[data-action=preprocess]")
    page.locator("[data-panel=preprocess] .job[data-state=failed]").wait_for(timeout=60_000)
    blocked = page.locator("[data-release-blocked]")
    blocked.wait_for()
    assert "The last preprocess failed" in blocked.inner_text() and "targets.csv" in blocked.inner_text()
    assert release.is_disabled()
    page_shot(page, "data-guide-release-blocked")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page_shot(page, "data-guide-release-blocked-phone")

    page.set_viewport_size(DESKTOP)
    targets = tmp_path / "targets.csv"
    targets.write_text("country,target\nFrance,12\n")
    etl.locator("input[name='upload-targets.csv']").set_input_files(str(targets))
    etl.locator("[data-file-state=missing]").wait_for(state="detached")
    page.click("[data-action=preprocess]")
    page.locator("[data-panel=preprocess] .job[data-state=succeeded]").wait_for(timeout=60_000)
    blocked.wait_for(state="detached")
    assert release.is_enabled()
    rows = httpx.post(
        f"{stack}/_api/{app}/data?stage=staging",
        json={"query": [{"name": "domain", "domain": "by_country"}]},
        headers={"Authorization": f"Bearer {token_of(page)}"},
    ).json()["data"]
    assert sorted((r["country"], r["revenue"]) for r in rows) == [("France", 15), ("Spain", 20)]
    # 404: the builder's previews of `sales` before staging had it.
    assert [e for e in only_expected_errors(page) if "status of 404" not in e] == []


def test_the_demo_preprocess_succeeds_and_its_pipeline_opens_in_the_builder(stack: str, page: Any) -> None:
    page.set_viewport_size(DESKTOP)
    open_data_page(page, stack, DEMO, "demo-builder", DEMO_PASSWORD)
    etl = page.locator("[data-panel=etl]")
    etl.locator("[data-file-state=uploaded]").wait_for()
    assert etl.locator("[data-file-state=missing]").count() == 0
    page.click("[data-action=preprocess]")
    page.locator("[data-panel=preprocess] .job[data-state=succeeded]").wait_for(timeout=60_000)
    assert page.locator("[data-release-blocked]").count() == 0
    page.locator("[data-table=domains] [data-domain=sales_by_country]").wait_for()

    etl.locator("[data-etl-tab=pipelines]").click()
    etl.locator("[data-action=open-pipeline]").first.click()
    builder = etl.locator("[data-pipeline-builder]")
    fresh(builder)
    assert [s.get_attribute("data-step-name") for s in builder.locator("[data-step]").all()] == [
        "domain",
        "aggregate",
        "sort",
    ]
    assert builder.locator("[data-preview-total]").inner_text() == "· 12 rows"  # 6 countries, 2 years
    page_shot(page, "data-demo-pipeline")
    assert [e for e in page.console_errors if "status of 4" not in e] == []
