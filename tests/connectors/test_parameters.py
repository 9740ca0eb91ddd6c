"""One binding of `:name` placeholders for every driver style: the same placeholders, quotes and
escapes read the same way, values never pasted into the text, a missing value named."""

from __future__ import annotations

import pytest

from toucan.connectors.parameters import positional, pyformat
from toucan.errors import ValidationError

SQL = "SELECT * FROM t WHERE a = :a AND b = :b AND d = :a AND e LIKE '50%'"


def test_qmark_orders_the_values_as_the_text_asks() -> None:
    text, values = positional(SQL, {"a": 1, "b": "x' OR 1=1 --", "unused": 3}, "qmark")
    assert text == "SELECT * FROM t WHERE a = ? AND b = ? AND d = ? AND e LIKE '50%'"
    assert values == [1, "x' OR 1=1 --", 1]


def test_numeric_dollar_numbers_each_name_once() -> None:
    text, values = positional(SQL, {"a": 1, "b": 2}, "numeric_dollar")
    assert text == "SELECT * FROM t WHERE a = $1 AND b = $2 AND d = $1 AND e LIKE '50%'"
    assert values == [1, 2]


def test_pyformat_doubles_percent_signs_only_when_the_driver_formats() -> None:
    text, values = pyformat(SQL, {"a": 1, "b": 2, "unused": 3})
    assert text == "SELECT * FROM t WHERE a = %(a)s AND b = %(b)s AND d = %(a)s AND e LIKE '50%%'"
    assert values == {"a": 1, "b": 2}
    assert pyformat("SELECT '50%' AS p", {}) == ("SELECT '50%' AS p", {})


def test_an_escaped_colon_is_a_colon() -> None:
    text, values = positional("SELECT '12\\:30' AS t, :x AS x", {"x": 5}, "qmark")
    assert text == "SELECT '12:30' AS t, ? AS x" and values == [5]


@pytest.mark.parametrize("bind", [lambda s, p: positional(s, p, "qmark"), pyformat])
def test_a_missing_value_is_named(bind: object) -> None:
    with pytest.raises(ValidationError) as caught:
        bind(SQL, {"a": 1})  # type: ignore[operator]
    assert caught.value.details == {"missing": ["b"]}
    assert "b" in caught.value.message
