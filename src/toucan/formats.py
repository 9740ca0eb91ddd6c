"""CSON and JSON documents: parsing with errors that give line and column, and writing."""

from __future__ import annotations

import json
from typing import Any

import cson
from pydantic import ValidationError as PydanticValidationError

from toucan.errors import ErrorCode, ValidationError


def parse_cson(text: str) -> Any:
    """Parse CSON text; a syntax error names its line and column."""
    try:
        return cson.loads(text)
    except cson.ParseError as exc:
        raise ValidationError(
            f"CSON syntax error at line {exc.line}, column {exc.col}: {exc.msg}",
            details={"line": exc.line, "column": exc.col},
            code=ErrorCode.INVALID_CSON,
        ) from None


def parse_json(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"JSON syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            details={"line": exc.lineno, "column": exc.colno},
            code=ErrorCode.INVALID_JSON,
        ) from None
    except UnicodeDecodeError:
        raise ValidationError("The body is not UTF-8 text.", code=ErrorCode.INVALID_JSON) from None


def dump_cson(document: Any) -> str:
    return str(cson.dumps(document, indent=2))


def error_path(loc: tuple[int | str, ...]) -> str:
    """`("slides", 2, "id")` → `slides[2].id`."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(root)"


def validation_errors(exc: PydanticValidationError, prefix: tuple[int | str, ...] = ()) -> list[dict[str, str]]:
    """Pydantic errors as `[{"path": "slides[2].id", "message": "..."}]`."""
    return [
        {"path": error_path(prefix + tuple(err["loc"])), "message": err["msg"]} for err in exc.errors(include_url=False)
    ]


def raise_for_validation(exc: PydanticValidationError, what: str) -> None:
    """Turn a pydantic error into our ValidationError whose message names the first bad path."""
    errors = validation_errors(exc)
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    raise ValidationError(
        f"Invalid {what} at {first['path']}: {first['message']}{more}",
        details={"errors": errors},
    ) from None
