"""Steps that combine pipelines: join, append. Their pipelines are validated with the step
(errors give the path: `[step, step inside]`, or `[step, pipeline, step inside]` for append)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, WithJsonSchema

from toucan.data.pipeline.sql import Frag, ident, join
from toucan.data.pipeline.step import ColumnName, Context, Here, Rows, Step, entry

FAMILY = "combine"

# Another pipeline, or a domain's name. Each of its steps is validated as a step of its own
# (parse_nested), so that errors name it: the schema says so much and no more.
SubPipeline = Annotated[
    str | list[Any],
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "description": "A domain's name."},
                {
                    "type": "array",
                    "minItems": 1,
                    "description": "A pipeline: a domain step, then steps (each as its own entry describes).",
                    "items": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
                },
            ]
        }
    ),
]


class JoinStep(Step):
    """Joins the rows of another pipeline on pairs of columns: `left` (every row here),
    `inner` (matching rows only) or `left outer` (as left)."""

    name: Literal["join"]
    right_pipeline: SubPipeline
    """The pipeline (or domain) to join."""
    type: Literal["left", "inner", "left outer"] = "left"
    on: list[tuple[ColumnName, ColumnName]] = Field(min_length=1)
    """`[column here, column there]` pairs."""
    example: ClassVar = {
        "name": "join",
        "right_pipeline": [{"name": "domain", "domain": "targets"}],
        "type": "left",
        "on": [["country", "country"]],
    }

    def parse_nested(self, parse: Callable[[Any, tuple[int, ...]], Any], path: tuple[int, ...]) -> None:
        self.right_pipeline = parse(self.right_pipeline, path)


def join_(c: Context, s: JoinStep, rows: Rows, here: Here) -> Rows:
    right = c.pipeline(s.right_pipeline, here.path).table
    on = " AND ".join(f"l.{ident(a)} = r.{ident(b)}" for a, b in s.on)
    right_keys = ", ".join(dict.fromkeys(ident(b) for _, b in s.on))
    # weaverbird's 'left outer' is a left join (SQL's LEFT OUTER JOIN).
    kind = "INNER" if s.type == "inner" else "LEFT"
    body = Frag(f"SELECT l.*, r.* EXCLUDE ({right_keys}) FROM {rows.table} l {kind} JOIN {right} r ON {on}")
    return Rows(c.q.add(body))


class AppendStep(Step):
    """Stacks the rows of other pipelines below these (columns matched by name)."""

    name: Literal["append"]
    pipelines: list[SubPipeline] = Field(min_length=1)
    """The pipelines (or domains) to append."""
    example: ClassVar = {"name": "append", "pipelines": [[{"name": "domain", "domain": "sales_2023"}]]}

    def parse_nested(self, parse: Callable[[Any, tuple[int, ...]], Any], path: tuple[int, ...]) -> None:
        self.pipelines = [parse(p, (*path, i)) for i, p in enumerate(self.pipelines)]


def append(c: Context, s: AppendStep, rows: Rows, here: Here) -> Rows:
    parts = [Frag(f"SELECT * FROM {rows.table}")]
    for i, pipeline in enumerate(s.pipelines):
        parts.append(Frag(f"SELECT * FROM {c.pipeline(pipeline, (*here.path, i)).table}"))
    return Rows(c.q.add(join(parts, " UNION ALL BY NAME ")))


STEPS = [
    entry(JoinStep, join_),
    entry(AppendStep, append),
]
