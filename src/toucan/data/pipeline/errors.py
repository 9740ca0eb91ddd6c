"""pydantic's validation errors of a step (or condition) → our 400, in the request's words.

The message names the step, the field (as the request spelled it, or its spellings when it
is missing) and what was expected; `details` keeps `step`, `name` and `field` (the field's
canonical name), with `location` (the path inside the field) when deeper and `errors` when
there is more than one.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import ErrorDetails

from toucan.data.pipeline.operators import OPERATORS
from toucan.data.pipeline.step import Spec
from toucan.errors import ValidationError

MAX_LISTED = 10
_GENERIC_PREFIXES = ("Input should be ", "Value should be ", "Value error, ", "Assertion failed, ")


def invalid(
    exc: PydanticValidationError,
    raw: Any,
    where: dict[str, Any],
    *,
    subject: str,
    model: type[BaseModel] | None = None,
    skip: int = 0,
) -> ValidationError:
    """The 400 for `raw` (what was validated: a step, a condition), located by `where`;
    `skip` leaves out the first parts of pydantic's locations (a discriminated union's tag)."""
    problems = _merged([_safely(error, raw, model, skip) for error in exc.errors(include_url=False)])
    first = problems[0]
    location = first.location
    details: dict[str, Any] = dict(where)
    if location:
        top = location[0]
        details["field"] = top if first.kind == "extra_forbidden" and len(location) == 1 else _canonical(model, top)
    if len(location) > 1:
        details["location"] = location
    details["problem"] = first.kind
    if len(problems) > 1:
        details["errors"] = [{"location": p.location, "message": p.text()} for p in problems[:MAX_LISTED]]
    more = f" ({len(problems) - 1} more problem{'s' if len(problems) > 2 else ''} in details.errors)"
    return ValidationError(f"{subject}: {first.text()}.{more if len(problems) > 1 else ''}", details=details)


def path_text(location: list[str | int]) -> str:
    """`["aggregations", 0, "columns"]` → `aggregations[0].columns`."""
    out = ""
    for part in location:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def short(v: Any, limit: int = 60) -> str:
    """A value as the request wrote it (JSON), cut to `limit` characters."""
    try:
        text = json.dumps(v, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(v)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Problem:
    """One error: where (in the request's own keys), its pydantic type, and either a whole
    sentence or what was expected of the value there."""

    location: list[str | int]
    kind: str
    sentence: str = ""
    expected: list[str] = field(default_factory=list)
    given: Any = None

    def text(self) -> str:
        if self.sentence:
            return self.sentence
        where = path_text(self.location)
        expected = self.expected[0] if len(self.expected) == 1 else "one of: " + "; ".join(self.expected)
        return f"{repr(where) + ' ' if where else ''}is {short(self.given)}; expected {expected}"


def _merged(problems: list[Problem]) -> list[Problem]:
    """Problems at one location merged: the members of a union each say what they expected."""
    out: list[Problem] = []
    by_location: dict[tuple[str | int, ...], Problem] = {}
    for problem in problems:
        key = tuple(problem.location)
        same = by_location.get(key)
        if same is not None and problem.expected and same.expected:
            same.expected.extend(e for e in problem.expected if e not in same.expected)
            continue
        by_location.setdefault(key, problem)
        out.append(problem)
    return out


_ABSENT = object()


def _child(container: Any, part: int | str) -> Any:
    if isinstance(part, int) and isinstance(container, list | tuple) and 0 <= part < len(container):
        return container[part]
    if isinstance(part, str) and isinstance(container, dict) and part in container:
        return container[part]
    return _ABSENT


def _located(raw: Any, loc: tuple[int | str, ...], *, absent_last: bool) -> list[str | int]:
    """pydantic's location in the request's own keys: union tags and members left out (they
    are not in the request). `absent_last`: the last part names something the request lacks
    (a missing field), kept."""
    out: list[str | int] = []
    current = raw
    for i, part in enumerate(loc):
        child = _child(current, part)
        if child is not _ABSENT:
            out.append(part)
            current = child
        elif absent_last and i == len(loc) - 1:
            out.append(part)
    return out


def _safely(error: ErrorDetails, raw: Any, model: type[BaseModel] | None, skip: int) -> Problem:
    error = {**error, "loc": error["loc"][skip:]}
    try:
        return _describe(error, raw, model)
    except Exception:  # a shape this module did not foresee: pydantic's own words
        location = list(error["loc"])
        return Problem(location, error["type"], f"{path_text(location) or 'the step'}: {error['msg']}")


def _describe(error: ErrorDetails, raw: Any, model: type[BaseModel] | None) -> Problem:
    kind = error["type"]
    location = _located(raw, error["loc"], absent_last=kind == "missing")
    ctx = error.get("ctx") or {}
    if not location and isinstance(ctx.get("field"), str):  # a model's own check names its field
        location = [ctx["field"]]
    where = repr(path_text(location)) if location else "the step"
    given = error.get("input")
    if kind == "missing":
        names = _spellings(model, location) or [str(location[-1])]
        others = f" (or {', '.join(repr(n) for n in names[1:])})" if len(names) > 1 else ""
        return Problem(location, kind, f"the field {where}{others} is missing")
    if kind == "extra_forbidden":
        names = _spellings(model, location)
        if names:  # a second spelling of a field given already
            return Problem(location, kind, f"{where} and {names[0]!r} are the same field: give only one")
        fields = _fields(model, location[:-1])
        known = f"; the fields here are {', '.join(fields)}" if fields else ""
        return Problem(location, kind, f"unknown field {where}{known}")
    if kind == "condition":
        operator = given.get("operator") if isinstance(given, dict) else None
        if isinstance(operator, str):
            return Problem(location, kind, f"{where}: unknown operator {operator!r}; use one of {', '.join(OPERATORS)}")
        return Problem(location, kind, expected=[error["msg"]], given=given)
    if kind == "literal_error":
        return Problem(location, kind, expected=[str(ctx.get("expected"))], given=given)
    if kind == "string_pattern_mismatch":
        return Problem(location, kind, expected=["a name without control characters"], given=given)
    if kind in ("recursion_loop", "recursion_depth_exceeded"):
        return Problem(location, kind, f"{where} nests too deeply")
    message = error["msg"]
    for prefix in _GENERIC_PREFIXES:
        if message.startswith(prefix):
            return Problem(location, kind, expected=[message[len(prefix) :]], given=given)
    return Problem(location, kind, f"{where} is {short(given)}: {message[:1].lower()}{message[1:]}")


def _walk(model: type[BaseModel] | None, location: list[str | int]) -> list[tuple[type[BaseModel] | None, str | None]]:
    """Per named part of `location`: the model holding that field and the field's name."""
    out: list[tuple[type[BaseModel] | None, str | None]] = []
    current = model
    for part in location:
        if isinstance(part, int):
            continue
        name = _field_name(current, part) if current is not None else None
        out.append((current, name))
        current = _inner_model(current.model_fields[name].annotation) if current is not None and name else None
    return out


def _spelled(model: type[BaseModel] | None) -> Callable[[], dict[str, list[str]]] | None:
    """The model's `field_spellings` (steps and their parts), or None (conditions)."""
    return model.field_spellings if model is not None and issubclass(model, Spec) else None


def _field_name(model: type[BaseModel], spelling: str) -> str | None:
    spelled = _spelled(model)
    if spelled is None:
        return spelling if spelling in model.model_fields else None
    for name, names in spelled().items():
        if spelling in names:
            return str(name)
    return None


def _spellings(model: type[BaseModel] | None, location: list[str | int]) -> list[str]:
    """Every spelling of the field at `location`, the canonical one first (or none known)."""
    walked = _walk(model, location)
    holder, name = walked[-1] if walked else (None, None)
    spelled = _spelled(holder)
    return list(spelled()[name]) if spelled is not None and name is not None else []


def _fields(model: type[BaseModel] | None, location: list[str | int]) -> list[str]:
    """The canonical names of the fields of the object at `location`."""
    holder = model
    if location:
        walked = _walk(model, location)
        parent, name = walked[-1] if walked else (None, None)
        holder = _inner_model(parent.model_fields[name].annotation) if parent is not None and name else None
    spelled = _spelled(holder)
    if spelled is None:
        return []
    return [names[0] for field, names in spelled().items() if field != "name"]


def _canonical(model: type[BaseModel] | None, spelling: str | int) -> str | int:
    if model is None or not isinstance(spelling, str):
        return spelling
    name = _field_name(model, spelling)
    spelled = _spelled(model)
    return spelled()[name][0] if name is not None and spelled is not None else spelling


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The model inside `list[Aggregation] | None` and the like (the first one found)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is None and not isinstance(annotation, types.UnionType):
        return None
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None
