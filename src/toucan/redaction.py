"""Hiding secret values in text: every message that reaches a builder passes a `Redactor`.

A value is hidden in any case and in its common transforms (URL and percent encoding, base64,
JSON and HTML escaping, hex), as a whole — see `secret_forms`.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote, quote_plus

# Values shorter than this are not redacted: they would blank ordinary words of every message.
SHORTEST = 3
# The base64 of a very short value, cut from a longer encoded text, is a few letters that
# ordinary text holds too.
_SHORTEST_CORE = 6
# Lines of a multi-line secret (a PEM key) and text members of a JSON one (a service account
# key) at least this long are hidden on their own: a message may quote one line or member.
PART = 16

# No run of characters *shorter* than a whole form is redacted: a builder chooses text that
# reaches messages (domain names, file names), so hiding any 8 characters of a secret would tell
# them, one guessed character at a time, the rest of a secret whose start is known (a URL, a
# PEM header, a JSON key). Whole forms tell only whether a whole value was guessed. Messages are
# redacted before they are cut short (see fetch_url, the connectors' messages).


def _fold(text: str) -> str:
    """Lower case, one character for one (so positions in the folded text are the text's)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _base64_cores(raw: bytes) -> Iterator[str]:
    """The base64 characters that encode `raw` alone, wherever it starts in a longer encoded
    text (as the password in `Basic base64(user:password)`): one core per alignment."""
    for shift in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * shift + raw).decode()
            core = encoded[-(-8 * shift // 6) : 8 * (shift + len(raw)) // 6]
            if len(core) >= _SHORTEST_CORE:
                yield core
            if shift == 0:
                yield encoded
                yield encoded.rstrip("=")


def _parts(value: str) -> Iterator[str]:
    """The value, the long lines of a multi-line one, the long text members of a JSON one."""
    yield value
    if "\n" in value:
        yield from (line.strip() for line in value.splitlines() if len(line.strip()) >= PART)
    if value.lstrip()[:1] in ("{", "["):
        try:
            document = json.loads(value)
        except (ValueError, RecursionError):
            return
        stack = [document]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, str) and len(item) >= PART:
                yield from _parts(item)


# Longer parts are matched percent-encoded only as urllib encodes them (the pattern that takes
# any character encoded or not would be too large).
_FLEXIBLE = 1024


def _percent_pattern(part: str) -> str:
    """A pattern for `part` percent-encoded whatever the encoder left as is (urllib keeps `/`,
    SQLAlchemy `+`…): each character literally or as its %XX bytes, a space also as `+`."""
    out = []
    for char in part:
        encoded = "".join(f"%{byte:02x}" for byte in char.encode())
        out.append(f"(?:{re.escape(char)}|{encoded}{'|[+]' if char == ' ' else ''})")
    return "".join(out)


def secret_forms(value: str) -> set[str]:
    """The forms a value takes in messages: as is, percent-encoded (path and form styles),
    JSON- and Python-escaped, HTML-escaped, hex, and base64 (standard and URL-safe, padded or
    not, at any alignment). Case is ignored when matching."""
    forms: set[str] = set()
    for part in _parts(value):
        raw = part.encode()
        forms |= {
            part,
            quote(part, safe=""),
            quote(part),
            quote_plus(part),
            json.dumps(part)[1:-1],
            json.dumps(part, ensure_ascii=False)[1:-1],
            repr(part)[1:-1],
            html.escape(part),
            raw.hex(),
            *_base64_cores(raw),
        }
    return {form for form in forms if len(form) >= SHORTEST}


class Redactor:
    """Replaces every secret value in a text, in any of its `secret_forms` (percent-encoded with
    any set of characters left as is) and in any case, by `***`."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        kept = [value for value in values if isinstance(value, str) and len(value) >= SHORTEST]
        forms = {_fold(form) for value in kept for form in secret_forms(value)}
        self._forms = tuple(sorted(forms, key=len, reverse=True))
        patterns = {_percent_pattern(part) for value in kept for part in _parts(value) if len(part) <= _FLEXIBLE}
        self._patterns = tuple(re.compile(p, re.IGNORECASE) for p in sorted(patterns))

    def __bool__(self) -> bool:
        return bool(self._forms)

    def __call__(self, text: str) -> str:
        """`text` with the secrets hidden."""
        if not self._forms or not text:
            return text
        low = _fold(text)
        # Marked first, replaced after: two secrets that overlap in the text are both hidden whole.
        hidden = bytearray(len(text))
        for form in self._forms:
            start = low.find(form)
            while start != -1:
                hidden[start : start + len(form)] = b"\1" * len(form)
                start = low.find(form, start + 1)
        if "%" in text or "+" in text:
            for pattern in self._patterns:
                for match in pattern.finditer(text):
                    hidden[match.start() : match.end()] = b"\1" * (match.end() - match.start())
        if not any(hidden):
            return text
        parts: list[str] = []
        start = 0
        while start < len(text):
            end = start
            while end < len(text) and hidden[end] == hidden[start]:
                end += 1
            parts.append("***" if hidden[start] else text[start:end])
            start = end
        return "".join(parts)

    def value(self, value: Any) -> Any:
        """Every string inside a JSON-like value redacted (error details)."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {self(k) if isinstance(k, str) else k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value
