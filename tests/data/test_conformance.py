"""The weaverbird conformance fixtures (../shared/conformance) run against our compiler.

Every applicable case is a test. Known failures are listed below, each with its reason;
they are strict xfails, so a case that starts passing must leave the list.
Pass rates per step are in docs/pipelines.md (`python bench/conformance_report.py`).
"""

from __future__ import annotations

import pytest

from tests.data.conformance import FIXTURES, Case, cases, outcome

if not FIXTURES.is_dir():
    pytest.skip(f"conformance fixtures not found at {FIXTURES}", allow_module_level=True)

KNOWN_FAILURES = {
    "addmissingdates/simple": "pandas writes the string 'nan' for missing text; SQL gives NULL",
    "addmissingdates/simple_with_tz": "pandas writes the string 'nan' for missing text; SQL gives NULL",
    "aggregate/multiple_aggregations_with_window_func_without_on_pypika": "first/last without an order",
    "convert/to_bool": "pandas truthiness of strings differs from SQL casts",
    "convert/to_text": "pandas writes the string 'nan' for missing values",
    "ifthenelse/simple_with_dates_and_nulls": "reads pandas' implicit 'index' column",
}

ALL = cases()
# Cases that cannot run on a SQL engine (geographic steps, MongoDB-only steps, fixtures
# without input data) are not tests; the report counts them apart.
APPLICABLE = [c for c in ALL if outcome(c)[0] != "not_applicable"]


def _param(case: Case) -> object:
    marks = []
    if case.id in KNOWN_FAILURES:
        marks.append(pytest.mark.xfail(reason=KNOWN_FAILURES[case.id], strict=True))
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in APPLICABLE])
def test_fixture(case: Case) -> None:
    result, detail = outcome(case)
    assert result == "pass", detail


def test_pass_rate_is_recorded_and_known_failures_are_real_cases() -> None:
    assert set(KNOWN_FAILURES) <= {c.id for c in APPLICABLE}
    passed = len(APPLICABLE) - len(KNOWN_FAILURES)
    assert passed / len(APPLICABLE) >= 0.96  # see docs/pipelines.md for the per-step table
