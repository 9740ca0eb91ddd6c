"""CSON and JSON documents: parsing with errors that give line and column, and writing.

Both parsers refuse documents nested deeper than `max_depth` (TOUCAN_MAX_NESTING_DEPTH)
with a 400 naming the path, before any recursion could reach Python's limit.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from toucan import cson_text, nesting
from toucan.errors import ErrorCode, ValidationError
from toucan.nesting import error_path


def parse_cson(text: str, max_depth: int) -> Any:
    """Parse CSON text (linear time); a syntax error names its line and column."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped[:1] in ("{", "[") and nesting.json_text_too_deep(stripped, max_depth) is None:
        # JSON is CSON: a JSON text is read by the json module (C, many times faster).
        try:
            return json.loads(stripped)
        except (ValueError, RecursionError):
            pass  # CSON that is not JSON
    try:
        return cson_text.loads(text, max_depth)
    except cson_text.CsonSyntaxError as exc:
        raise ValidationError(
            f"CSON syntax error at line {exc.line}, column {exc.column}: {exc.message}",
            details={"line": exc.line, "column": exc.column},
            code=ErrorCode.INVALID_CSON,
        ) from None
    except cson_text.CsonTooDeep as exc:
        raise nesting.too_deep("The CSON document", exc.limit, exc.path, line=exc.line, column=exc.column) from None


def parse_json(text: str | bytes, max_depth: int) -> Any:
    """Parse JSON text; a syntax error names its line and column."""
    path = nesting.json_text_too_deep(text, max_depth)
    if path is not None:
        raise nesting.too_deep("The JSON document", max_depth, path)
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
    except RecursionError:  # only where the limit is set above what Python's stack holds
        raise nesting.too_deep("The JSON document", max_depth, ()) from None


def dump_cson(document: Any) -> str:
    """CSON text that `parse_cson` reads back as `document`."""
    return cson_text.dumps(document)


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
