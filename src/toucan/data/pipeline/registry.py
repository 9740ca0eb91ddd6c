"""The step language, declared once: every step's name, model, compile function and family.

`parse_pipeline` validates a pipeline (JSON) into step models, nested pipelines included;
the compiler (data/pipeline/compiler.py) dispatches each model to its compile function; the
reference (data/pipeline/reference.py) documents the same table in docs/pipelines.md and as
the JSON Schema of `GET /pipeline-steps`.
"""

from __future__ import annotations

import difflib
import typing
from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from toucan.data.pipeline.errors import invalid
from toucan.data.pipeline.step import Step, StepKind
from toucan.data.pipeline.steps import aggregate, columns, combine, dates, reshape, rows, sql, text, windows
from toucan.errors import ErrorCode, NotSupported, ValidationError
from toucan.settings import Settings

# Families in menu order, each with its module (which declares and compiles its steps).
FAMILIES = {
    "rows": ("Rows", rows),
    "columns": ("Columns", columns),
    "text": ("Text", text),
    "dates": ("Dates", dates),
    "aggregate": ("Aggregates", aggregate),
    "windows": ("Windows", windows),
    "reshape": ("Reshaping", reshape),
    "combine": ("Combining pipelines", combine),
    "sql": ("SQL", sql),
}


def _registry() -> dict[str, StepKind[Any]]:
    out: dict[str, StepKind[Any]] = {}
    for family, (_title, module) in FAMILIES.items():
        assert family == module.FAMILY, module.__name__
        for model, compile_ in module.STEPS:
            name = typing.get_args(model.model_fields["name"].annotation)[0]
            assert name not in out, f"step {name!r} declared twice"
            out[name] = StepKind(name=name, model=model, compile=compile_, family=family)
    return out


REGISTRY: dict[str, StepKind[Any]] = _registry()
# Steps of weaverbird's language this stack does not run: answered 400 `not_supported`.
GEOGRAPHIC = frozenset({"dissolve", "simplify"})
MONGO_ONLY = frozenset({"custom"})

# Every step, discriminated by its name (built from the registry: a value, not a static type).
PipelineStep: Any = Annotated[
    Union[tuple(kind.model for kind in REGISTRY.values())],  # noqa: UP007
    Field(discriminator="name"),
]
STEP: TypeAdapter[Step] = TypeAdapter(PipelineStep)

# How deep a request may nest (JSON objects and lists): pipelines in joins and appends,
# and/or conditions, nested ifs. Deeper is refused before anything recurses into it.
# TOUCAN_MAX_NESTING_DEPTH's default; the data service and the compilers pass the setting.
MAX_NESTING: int = Settings.model_fields["max_nesting_depth"].default


_CONTAINERS = (dict, list)  # a tuple: twice as fast as `dict | list` in isinstance


def _deeper_than(node: Any, limit: int) -> bool:
    """Whether `node` nests more than `limit` objects and lists deep (breadth first: no
    recursion, and about 10 µs for a 10-step pipeline)."""
    level = [node] if isinstance(node, _CONTAINERS) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below = []
        for container in level:
            for child in container.values() if isinstance(container, dict) else container:
                if isinstance(child, _CONTAINERS):
                    below.append(child)
        level = below
    return False


def check_nesting(request: Any, limit: int = MAX_NESTING) -> None:
    """A 400 when `request` nests deeper than `limit` (before anything recurses into it)."""
    if not _deeper_than(request, limit):
        return
    details: dict[str, Any] = {"max_depth": limit}
    if isinstance(request, list):  # which step (or Mongo stage)
        for index, item in enumerate(request):
            if _deeper_than(item, limit - 1):
                is_step = isinstance(item, dict) and isinstance(item.get("name"), str)
                details = {"step" if is_step else "stage": index, **details}
                if is_step:
                    details["name"] = item["name"]
                break
    raise ValidationError(
        f"This request nests more than {limit} levels deep (objects and lists; TOUCAN_MAX_NESTING_DEPTH): "
        "flatten its conditions or pipelines.",
        details={**details, "setting": "TOUCAN_MAX_NESTING_DEPTH"},
        code=ErrorCode.TOO_DEEP,
    )


def parse_pipeline(pipeline: Any, path: tuple[int, ...] = ()) -> list[Step] | str:
    """A pipeline's step models (or a bare domain name, as joins and appends allow).

    Errors are 400s whose details name the step (`step`: its index, or its path inside nested
    pipelines), its `name` and the `field`. Unknown steps are 400s naming them; geographic and
    MongoDB steps are `not_supported`.
    """
    if isinstance(pipeline, str):
        return pipeline
    if not isinstance(pipeline, list) or not pipeline:
        raise ValidationError("A pipeline is a non-empty list of steps.", details={"step": list(path) or 0})
    first = pipeline[0]
    if not isinstance(first, dict) or first.get("name") != "domain" or not isinstance(first.get("domain"), str):
        raise ValidationError(
            'A pipeline starts with a domain step: {"name": "domain", "domain": "…"}.',
            details={"step": [*path, 0] if path else 0, "field": "domain"},
        )
    return [parse_step(step, (*path, index) if path else index) for index, step in enumerate(pipeline)]


def parse_step(step: Any, at: int | tuple[int, ...]) -> Step:
    """One step's model; `at` is its index, or its path inside nested pipelines."""
    where: dict[str, Any] = {"step": list(at) if isinstance(at, tuple) else at}
    if not isinstance(step, dict) or not isinstance(step.get("name"), str):
        raise ValidationError("Each step is an object with a 'name'.", details={**where, "field": "name"})
    name = step["name"]
    where["name"] = name
    kind = REGISTRY.get(name)
    if kind is None:
        if name in GEOGRAPHIC:
            raise NotSupported(
                f"The {name!r} step works on geographic data, which this stack does not support.", details=where
            )
        if name in MONGO_ONLY:
            raise NotSupported(
                "The 'custom' step holds a MongoDB query, which does not run on SQL data; use a 'customsql' step.",
                details=where,
            )
        close = difflib.get_close_matches(name, REGISTRY, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else "; GET /pipeline-steps lists the steps."
        raise ValidationError(f"Unknown step {name!r}{hint}", details={**where, "field": "name"})
    try:
        model = STEP.validate_python(step)
    except PydanticValidationError as exc:
        subject = f"Step {_path_text(at if isinstance(at, tuple) else (at,))} ({name})"
        raise invalid(exc, step, where, subject=subject, model=kind.model, skip=1) from None
    model.parse_nested(parse_pipeline, at if isinstance(at, tuple) else (at,))
    return model


def _path_text(path: tuple[int, ...]) -> str:
    return ".".join(str(i) for i in path)


def canonical(pipeline: Any, max_depth: int = MAX_NESTING) -> list[dict[str, Any]] | str:
    """A pipeline (JSON, in either weaverbird spelling) written in the one canonical form:
    each step as its model dumps it (snake_case fields, legacy forms rewritten, nested
    pipelines too), keeping only the fields it gives. A 400 naming the step when it is not valid."""
    check_nesting(pipeline, max_depth)
    return _dumped(parse_pipeline(pipeline))


def _dumped(steps: list[Step] | str) -> list[dict[str, Any]] | str:
    if isinstance(steps, str):
        return steps
    out = []
    for step in steps:
        dumped: dict[str, Any] = step.model_dump(by_alias=True, exclude_unset=True, mode="json")
        dumped["name"] = step.name
        # Nested pipelines (join, append) hold step models once parsed: dumped the same way.
        right = getattr(step, "right_pipeline", None)
        if isinstance(right, list):
            dumped["right_pipeline"] = _dumped(right)
        pipelines = getattr(step, "pipelines", None)
        if isinstance(pipelines, list):
            dumped["pipelines"] = [_dumped(p) for p in pipelines]
        out.append({"name": step.name, **{k: v for k, v in dumped.items() if k != "name"}})
    return out
