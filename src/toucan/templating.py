"""Variables in data requests: `{{ name }}` and `<%= name %>`, resolved before compiling.

A string that is only a placeholder takes the variable's own type (`"{{ year }}"` with
year = 2024 gives the number 2024); inside longer text the value is interpolated. Dotted
names read into mappings (`{{ user.attributes.country }}`). A missing variable is an
error naming it. Rendering happens on the JSON request, so no variable reaches SQL text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from toucan.errors import ErrorCode, ValidationError

_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}|<%=\s*(.+?)\s*%>")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+|\[\d+\])*$")
_MISSING = object()


def _lookup(expression: str, variables: Mapping[str, Any]) -> Any:
    if not _NAME.match(expression):
        raise ValidationError(
            f"Unsupported expression in a variable placeholder: {expression!r}. "
            "Use a variable name, with dots for nested fields.",
            details={"variable": expression},
        )
    value: Any = variables
    for part in re.findall(r"[A-Za-z0-9_]+|\[\d+\]", expression):
        if part.startswith("["):
            index = int(part[1:-1])
            value = value[index] if isinstance(value, list) and index < len(value) else _MISSING
        elif isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            value = _MISSING
        if value is _MISSING:
            raise ValidationError(
                f"The variable {expression!r} is not defined: send it in 'variables'.",
                details={"variable": expression},
                code=ErrorCode.MISSING_VARIABLE,
            )
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, default=str)


def render_string(text: str, variables: Mapping[str, Any]) -> Any:
    """Resolve the placeholders of one string (typed when it is only a placeholder)."""
    whole = _PLACEHOLDER.fullmatch(text.strip())
    if whole:
        return _lookup(whole.group(1) or whole.group(2), variables)
    if "{{" not in text and "<%=" not in text:
        return text
    return _PLACEHOLDER.sub(lambda m: _as_text(_lookup(m.group(1) or m.group(2), variables)), text)


def render(request: Any, variables: Mapping[str, Any]) -> Any:
    """A copy of `request` with every placeholder in its strings resolved."""
    if isinstance(request, str):
        return render_string(request, variables)
    if isinstance(request, list):
        return [render(item, variables) for item in request]
    if isinstance(request, dict):
        return {key: render(value, variables) for key, value in request.items()}
    return request
