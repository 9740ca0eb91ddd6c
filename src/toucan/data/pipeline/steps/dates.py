"""Steps on dates: todate, fromdate, dategranularity, dateextract, duration, addmissingdates."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import model_validator
from pydantic_core import PydanticCustomError

from toucan.data.pipeline.sql import Frag, ident, value
from toucan.data.pipeline.step import ColumnName, Columns, Context, Here, Rows, Step, entry
from toucan.data.pipeline.steps.columns import guess_timestamp

FAMILY = "dates"

FRENCH_MONTHS = [
    ("janvier|janv\\.?", "january"),
    ("f[ée]vrier|f[ée]vr\\.?", "february"),
    ("mars", "march"),
    ("avril|avr\\.?", "april"),
    ("mai", "may"),
    ("juin", "june"),
    ("juillet|juil\\.?", "july"),
    ("ao[uû]t", "august"),
    ("septembre|sept\\.?", "september"),
    ("octobre|oct\\.?", "october"),
    ("novembre|nov\\.?", "november"),
    ("d[ée]cembre|d[ée]c\\.?", "december"),
]


def french_months(text_sql: str) -> str:
    """SQL turning French month names (full or short) into English ones."""
    for pattern, english in FRENCH_MONTHS:
        text_sql = f"regexp_replace({text_sql}, '(^|\\s)({pattern})(\\s|$)', '\\1{english}\\3', 'g')"
    return text_sql


class ToDateStep(Step):
    """Parses text into dates, with a strftime format (month names in French too) or guessing
    (ISO text, `mm/dd/yyyy`, a year, epoch milliseconds)."""

    name: Literal["todate"]
    column: ColumnName
    format: str | None = None
    """A strftime format such as `%d/%m/%Y`; none: guess."""
    example: ClassVar = {"name": "todate", "column": "day", "format": "%d/%m/%Y"}


def todate(c: Context, s: ToDateStep, rows: Rows, here: Here) -> Rows:
    col, fmt = ident(s.column), s.format
    if not fmt:
        expr = Frag(guess_timestamp(col))
    else:
        expr = Frag(f"TRY_STRPTIME(CAST({col} AS VARCHAR), ") + value(fmt) + ")"
        if "%B" in fmt or "%b" in fmt:  # French month names too: the product speaks French
            french = Frag(f"TRY_STRPTIME({french_months(f'lower(CAST({col} AS VARCHAR))')}, ")
            expr = "COALESCE(" + expr + ", " + french + value(fmt.replace("%b", "%B")) + "))"
    return Rows(c.q.with_column(rows.table, s.column, expr), rows.order)


class FromDateStep(Step):
    """Formats dates as text, with a strftime format."""

    name: Literal["fromdate"]
    column: ColumnName
    format: str
    """A strftime format such as `%Y-%m`."""
    example: ClassVar = {"name": "fromdate", "column": "day", "format": "%Y-%m"}


def fromdate(c: Context, s: FromDateStep, rows: Rows, here: Here) -> Rows:
    expr = Frag(f"strftime(CAST({ident(s.column)} AS TIMESTAMP), ") + value(s.format) + ")"
    return Rows(c.q.with_column(rows.table, s.column, expr), rows.order)


GRANULARITY = {
    "day": "day",
    "week": "week",
    "isoWeek": "week",
    "month": "month",
    "quarter": "quarter",
    "year": "year",
}


class DateGranularityStep(Step):
    """Truncates dates to the start of their day, week (Sunday), ISO week (Monday), month,
    quarter or year."""

    name: Literal["dategranularity"]
    column: ColumnName
    granularity: Literal["day", "week", "isoWeek", "month", "quarter", "year", "", "__VOID__"] | None
    """Empty (a templated choice left empty) keeps the dates as they are."""
    new_column: ColumnName | None = None
    """Default: replaces `column`."""
    example: ClassVar = {"name": "dategranularity", "column": "date", "granularity": "month"}


def dategranularity(c: Context, s: DateGranularityStep, rows: Rows, here: Here) -> Rows:
    col, current = s.column, rows.table
    new = s.new_column or col
    if s.granularity in ("", "__VOID__", None):  # an empty (templated) granularity keeps the date
        return Rows(c.q.with_column(current, new, Frag(ident(col))), rows.order)
    if s.granularity == "week":  # weeks starting on Sunday
        quoted = ident(col)
        expr = f"CAST(date_trunc('day', {quoted}) - to_days(CAST(strftime({quoted}, '%w') AS INTEGER)) AS TIMESTAMP)"
    else:
        expr = f"CAST(date_trunc('{GRANULARITY[s.granularity]}', {ident(col)}) AS TIMESTAMP)"
    name = c.q.with_column(current, new, Frag(expr))
    if new == col:
        c.q.truncated[name] = (current, col, expr)
    return Rows(name, rows.order)


DATE_PARTS = {
    "year": "year({c})",
    "month": "month({c})",
    "day": "day({c})",
    "week": "CAST(strftime({c}, '%U') AS INTEGER)",
    "quarter": "quarter({c})",
    "dayOfWeek": "(dayofweek({c}) + 1)",
    "dayOfYear": "dayofyear({c})",
    "isoYear": "isoyear({c})",
    "isoWeek": "week({c})",
    "isoDayOfWeek": "isodow({c})",
    "hour": "hour({c})",
    "minutes": "minute({c})",
    "seconds": "second({c})",
    "milliseconds": "(millisecond({c}) % 1000)",
    "firstDayOfYear": "CAST(date_trunc('year', {c}) AS TIMESTAMP)",
    "firstDayOfMonth": "CAST(date_trunc('month', {c}) AS TIMESTAMP)",
    "firstDayOfWeek": "CAST(date_trunc('day', {c}) - to_days(CAST(strftime({c}, '%w') AS INTEGER)) AS TIMESTAMP)",
    "firstDayOfQuarter": "CAST(date_trunc('quarter', {c}) AS TIMESTAMP)",
    "firstDayOfIsoWeek": "CAST(date_trunc('week', {c}) AS TIMESTAMP)",
    "currentDay": "CAST(date_trunc('day', {c}) AS TIMESTAMP)",
    "previousDay": "CAST(date_trunc('day', {c}) - INTERVAL 1 DAY AS TIMESTAMP)",
    "firstDayOfPreviousYear": "CAST(date_trunc('year', {c}) - INTERVAL 1 YEAR AS TIMESTAMP)",
    "firstDayOfPreviousMonth": "CAST(date_trunc('month', {c}) - INTERVAL 1 MONTH AS TIMESTAMP)",
    "firstDayOfPreviousWeek": "CAST(date_trunc('day', {c}) - to_days(CAST(strftime({c}, '%w') AS INTEGER) + 7) "
    "AS TIMESTAMP)",
    "firstDayOfPreviousQuarter": "CAST(date_trunc('quarter', {c}) - INTERVAL 3 MONTH AS TIMESTAMP)",
    "firstDayOfPreviousIsoWeek": "CAST(date_trunc('week', {c}) - INTERVAL 7 DAY AS TIMESTAMP)",
    "previousYear": "(year({c}) - 1)",
    "previousMonth": "month(date_trunc('month', {c}) - INTERVAL 1 MONTH)",
    "previousWeek": "CAST(strftime({c} - INTERVAL 7 DAY, '%U') AS INTEGER)",
    "previousQuarter": "quarter(date_trunc('quarter', {c}) - INTERVAL 3 MONTH)",
    "previousIsoWeek": "week({c} - INTERVAL 7 DAY)",
}
DatePart = Literal[
    "year",
    "month",
    "day",
    "week",
    "quarter",
    "dayOfWeek",
    "dayOfYear",
    "isoYear",
    "isoWeek",
    "isoDayOfWeek",
    "hour",
    "minutes",
    "seconds",
    "milliseconds",
    "firstDayOfYear",
    "firstDayOfMonth",
    "firstDayOfWeek",
    "firstDayOfQuarter",
    "firstDayOfIsoWeek",
    "currentDay",
    "previousDay",
    "firstDayOfPreviousYear",
    "firstDayOfPreviousMonth",
    "firstDayOfPreviousWeek",
    "firstDayOfPreviousQuarter",
    "firstDayOfPreviousIsoWeek",
    "previousYear",
    "previousMonth",
    "previousWeek",
    "previousQuarter",
    "previousIsoWeek",
]


class DateExtractStep(Step):
    """Extracts parts of dates into new columns: year, quarter, isoWeek, firstDayOfMonth…"""

    name: Literal["dateextract"]
    column: ColumnName
    date_info: list[DatePart] = []
    """The parts to extract."""
    new_columns: list[ColumnName] = []
    """One per part (default: `<column>_<part>`)."""
    operation: DatePart | None = None
    """Legacy: one part (with `new_column_name`), when `date_info` is empty."""
    new_column_name: ColumnName | None = None
    """Legacy: the column of `operation`."""
    example: ClassVar = {
        "name": "dateextract",
        "column": "date",
        "date_info": ["year", "month"],
        "new_columns": ["year", "month"],
    }

    @model_validator(mode="after")
    def _some_part(self) -> DateExtractStep:
        if not self.date_info and self.operation is None:
            raise PydanticCustomError("missing", "Field required", {"field": "date_info"})
        return self


def dateextract(c: Context, s: DateExtractStep, rows: Rows, here: Here) -> Rows:
    current, col = rows.table, s.column
    infos: list[str] = list(s.date_info)
    news: list[str] = list(s.new_columns)
    if not infos and s.operation is not None:  # legacy single operation
        infos = [s.operation]
        news = [s.new_column_name or f"{col}_{s.operation}"]
    for info, new in zip(infos, news or [f"{col}_{i}" for i in infos], strict=False):
        expr = DATE_PARTS[info].format(c=f"CAST({ident(col)} AS TIMESTAMP)")
        current = c.q.with_column(current, new, Frag(expr))
    return Rows(current, rows.order)


DURATION_SECONDS = {"days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}


class DurationStep(Step):
    """The time between two dates, in days, hours, minutes or seconds."""

    name: Literal["duration"]
    start_date_column: ColumnName
    end_date_column: ColumnName
    duration_in: Literal["days", "hours", "minutes", "seconds"]
    new_column_name: ColumnName
    example: ClassVar = {
        "name": "duration",
        "start_date_column": "start",
        "end_date_column": "end",
        "duration_in": "days",
        "new_column_name": "days",
    }


def duration(c: Context, s: DurationStep, rows: Rows, here: Here) -> Rows:
    start, end = ident(s.start_date_column), ident(s.end_date_column)
    expr = Frag(
        f"((epoch(CAST({end} AS TIMESTAMP)) - epoch(CAST({start} AS TIMESTAMP))) / {DURATION_SECONDS[s.duration_in]})"
    )
    return Rows(c.q.with_column(rows.table, s.new_column_name, expr), rows.order)


class AddMissingDatesStep(Step):
    """Adds a row for every missing day, week, month or year between the first and the last
    date (per group); its other columns are null."""

    name: Literal["addmissingdates"]
    dates_column: ColumnName
    dates_granularity: Literal["day", "week", "month", "year"]
    groups: Columns = []
    """Fill the gaps of each combination of these columns."""
    example: ClassVar = {
        "name": "addmissingdates",
        "dates_column": "date",
        "dates_granularity": "day",
        "groups": ["country"],
    }


def addmissingdates(c: Context, s: AddMissingDatesStep, rows: Rows, here: Here) -> Rows:
    col, current = ident(s.dates_column), rows.table
    g = [ident(x) for x in s.groups]
    step_interval = {"day": "1 DAY", "week": "7 DAY", "month": "1 MONTH", "year": "1 YEAR"}[s.dates_granularity]
    bounds = c.q.add(
        Frag(
            f"SELECT {', '.join([*g, ''])}min({col}) AS __lo, max({col}) AS __hi FROM {current}"
            + (f" GROUP BY {', '.join(g)}" if g else "")
        )
    )
    keys = "".join(f"b.{x}, " for x in g)
    series_expr = (
        f"unnest(generate_series(CAST(b.__lo AS TIMESTAMP), CAST(b.__hi AS TIMESTAMP), INTERVAL {step_interval}))"
    )
    series = c.q.add(Frag(f"SELECT {keys}CAST({series_expr} AS TIMESTAMP) AS {col} FROM {bounds} b"))
    on = " AND ".join([f"CAST(d.{col} AS TIMESTAMP) = s.{col}", *(f"d.{x} IS NOT DISTINCT FROM s.{x}" for x in g)])
    replaced = "".join(f", s.{x} AS {x}" for x in g)
    body = Frag(f"SELECT d.* REPLACE (s.{col} AS {col}{replaced}) FROM {series} s LEFT JOIN {current} d ON {on}")
    return Rows(c.q.add(body), Frag(", ".join([*g, col])))


STEPS = [
    entry(ToDateStep, todate),
    entry(FromDateStep, fromdate),
    entry(DateGranularityStep, dategranularity),
    entry(DateExtractStep, dateextract),
    entry(DurationStep, duration),
    entry(AddMissingDatesStep, addmissingdates),
]
