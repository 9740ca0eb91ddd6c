"""The customsql step: a SELECT over the previous step and the app's domains (contributors
only; confined by data/pipeline/raw_sql.py and the engine)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import ConfigDict

from toucan.data.pipeline.sql import Frag
from toucan.data.pipeline.step import Context, Here, Rows, Step, entry

FAMILY = "sql"


class CustomSqlStep(Step):
    """A SELECT over `##PREVIOUS_STEP##` and the app's domains — contributors only."""

    model_config = ConfigDict(title="Custom SQL")

    name: Literal["customsql"]
    query: str
    """One SELECT (DuckDB's dialect)."""
    columns: list[str] | None = None
    """Ignored (weaverbird's models carry it)."""
    example: ClassVar = {
        "name": "customsql",
        "query": "SELECT country, sum(revenue) AS r FROM ##PREVIOUS_STEP## GROUP BY 1",
    }


def customsql(c: Context, s: CustomSqlStep, rows: Rows, here: Here) -> Rows:
    from toucan.data.pipeline.raw_sql import rewrite_custom_sql  # sqlglot: imported when first needed

    c.q.uses_raw_sql = True
    sql = rewrite_custom_sql(s.query, rows.table, c.q.domain_source, here.details())
    return Rows(c.q.add(Frag(sql)))


STEPS = [entry(CustomSqlStep, customsql)]
