"""The Python twin of the page's request rule builds what frontend/src/studio/filters.ts builds:
both are checked against the same cases (filters.test.ts reads them too)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toucan.apps.viewer_requests import chart_request, page_charts, requesters_on

CASES = json.loads((Path(__file__).parents[2] / "frontend/src/studio/filterCases.json").read_text())


@pytest.mark.parametrize("case", CASES["cases"], ids=lambda c: str(c["story"]))
def test_builds_the_pages_requests_as_the_frontend_does(case: dict) -> None:  # type: ignore[type-arg]
    config = CASES["config"]
    slide = next((s for s in config["slides"] if s["id"] == case["story"]), None)
    shown = requesters_on(config, slide)
    assert [r["id"] for r in shown] == case["shown"]
    built = {
        c.key: chart_request(c.query, config["requesters"], shown, case["values"], c.key).__dict__
        for c in page_charts(config, slide)
    }
    assert built == case["requests"]


def test_the_cases_cover_every_filter_type_and_the_limits() -> None:
    """Guard against the cases shrinking into something that proves little."""
    config = CASES["config"]
    assert {r["type"] for r in config["requesters"]} == {"dropdown", "multiselect", "date", "daterange", "search"}
    steps = [
        step["condition"]
        for case in CASES["cases"]
        for request in case["requests"].values()
        if isinstance(request["query"], list)
        for step in request["query"]
        if step.get("name") == "filter"
    ]
    assert {"eq", "in", "matches"} <= {c.get("operator") for c in steps}
    assert any("and" in c for c in steps)
    # A story hiding the filters (its own empty list) and a chart it does not apply to.
    assert any(case["shown"] == [] for case in CASES["cases"])
