"""How deeply documents nest: JSON text checked before it is parsed, values before they are used.

Parsers and compilers recurse once per level: a 100,000-deep `[[[...]]]` (a few hundred KB)
would reach Python's recursion limit, and a RecursionError is a 500. Every document the stack
reads from a client (request bodies, configs, data requests, conditions) is refused past
`TOUCAN_MAX_NESTING_DEPTH` levels instead, with a 400 that names the limit and the path.
A level is an object or a list: `{"a": [1]}` is 2 deep.
"""

from __future__ import annotations

import json
import re
from typing import Any

from toucan.errors import ErrorCode, ValidationError

SETTING = "TOUCAN_MAX_NESTING_DEPTH"
Path = tuple[int | str, ...]

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}:,]', re.DOTALL)
# Opening brackets → 1, closing → -1 (255 as a signed byte); everything else is deleted.
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SHOWN_PATH = 300


def error_path(loc: tuple[int | str, ...]) -> str:
    """`("slides", 2, "id")` → `slides[2].id`."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(root)"


def json_text_too_deep(text: bytes | str, limit: int) -> Path | None:
    """Where JSON `text` first nests deeper than `limit` (the path of that container), or None.

    Linear and fast (the brackets outside strings are counted in C, with numpy); the path is
    looked for only in a text that is too deep.
    """
    body = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if body.count(b"[") + body.count(b"{") <= limit:
        return None
    if _max_depth(body) <= limit:
        return None
    return _deep_path(body, limit)


def _max_depth(body: bytes) -> int:
    import numpy as np

    brackets = _STRING.sub(b"", body).translate(_STEPS, _NOT_BRACKETS)
    if not brackets:
        return 0
    steps = np.frombuffer(brackets, dtype=np.int8)
    return int(np.cumsum(steps, dtype=np.int64).max())


def _deep_path(body: bytes, limit: int) -> Path | None:
    # Each open container: [is an object, its current key or index].
    stack: list[list[Any]] = []
    last_string: bytes | None = None
    for m in _TOKENS.finditer(body):
        token = m.group()
        if token in (b"[", b"{"):
            if len(stack) >= limit:
                return tuple(entry[1] for entry in stack)
            stack.append([token == b"{", None if token == b"{" else 0])
        elif token in (b"]", b"}"):
            if stack:
                stack.pop()
        elif token == b",":
            if stack and not stack[-1][0]:
                stack[-1][1] += 1
        elif token == b":":
            if stack and stack[-1][0] and last_string is not None:
                stack[-1][1] = _decode_key(last_string)
        else:
            last_string = token
    return None


def _decode_key(raw: bytes) -> str:
    try:
        key = json.loads(raw)
    except ValueError:
        return raw[1:-1].decode("utf-8", "replace")
    return key if isinstance(key, str) else str(key)


def value_too_deep(value: Any, limit: int) -> Path | None:
    """Where a parsed document first nests deeper than `limit`, or None (no recursion)."""
    if not isinstance(value, dict | list):
        return None
    if limit < 1:
        return ()
    # Iterators of the open containers, and the key or index under which each was entered.
    stack: list[Any] = [iter(value.items()) if isinstance(value, dict) else iter(enumerate(value))]
    path: list[int | str] = []
    while stack:
        for key, item in stack[-1]:
            if isinstance(item, dict | list):
                if len(stack) >= limit:
                    return (*path, key)
                path.append(key)
                stack.append(iter(item.items()) if isinstance(item, dict) else iter(enumerate(item)))
                break
        else:
            stack.pop()
            if path:
                path.pop()
    return None


def too_deep(what: str, limit: int, path: Path, **details: Any) -> ValidationError:
    """The 400 for a document nested deeper than the limit; `what` names it ("The request body")."""

    shown = error_path(path)
    if len(shown) > _SHOWN_PATH:
        shown = shown[:_SHOWN_PATH] + "…"
    line = f" (line {details['line']})" if details.get("line") else ""
    return ValidationError(
        f"{what} is nested deeper than {limit} levels of objects and lists at {shown}{line} ({SETTING}).",
        details={"limit": limit, "setting": SETTING, "path": shown, **details},
        code=ErrorCode.TOO_DEEP,
    )


def check_value(value: Any, limit: int, what: str) -> None:
    """Refuse `value` (already parsed) when it nests deeper than `limit`."""
    path = value_too_deep(value, limit)
    if path is not None:
        raise too_deep(what, limit, path)
