"""CSON (CoffeeScript Object Notation) text: a linear-time parser and the writer of `dump_cson`.

The subset configs use: objects by indentation (`key: value` lines), inline objects `{...}`
and arrays `[...]` (on one line or several, items separated by commas or new lines),
strings `'...'`, `"..."` (a string over several lines joins them with spaces), `'''...'''`
and `\"\"\"...\"\"\"` blocks (common indentation removed), numbers (also `0x`, `0o`, `0b`,
`Infinity`, `NaN`), `true`/`false`/`null` and their CoffeeScript spellings `yes`/`no`/
`on`/`off`/`undefined`, `#` comments to the end of a line and `###` blocks. JSON is CSON.

A regular expression matches the next token where the parser asks for it (no token list is
kept, so memory is that of the document) and a recursive descent reads each token once: time
grows with the length of the text (the `cson` package's grew with its square: minutes for a
2 MB document). Containers nested deeper than `max_depth` are refused as soon as the parser
reaches them, with the path and the line, before any deeper recursion. Errors give the line
and the column.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["CsonSyntaxError", "CsonTooDeep", "dumps", "loads"]


class CsonSyntaxError(ValueError):
    """Text that is not CSON; `line` and `column` count from 1."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"{message} (line {line}, column {column})")
        self.message = message
        self.line = line
        self.column = column


class CsonTooDeep(ValueError):
    """Containers nested deeper than the limit: `path` is where the first one too deep starts."""

    def __init__(self, limit: int, path: tuple[int | str, ...], line: int, column: int) -> None:
        super().__init__(f"nested deeper than {limit} levels")
        self.limit = limit
        self.path = path
        self.line = line
        self.column = column


_SQ = r"'[^'\\]*(?:\\[\s\S][^'\\]*)*'"
_DQ = r'"[^"\\]*(?:\\[\s\S][^"\\]*)*"'
_SQ3 = r"'''[^'\\]*(?:(?:\\[\s\S]|'(?!''))[^'\\]*)*'''"
_DQ3 = r'"""[^"\\]*(?:(?:\\[\s\S]|"(?!""))[^"\\]*)*"""'
_IDENT = r"[$A-Za-z_][$\w]*"
_NUMBER = r"-?(?:0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)"
_END_OF_VALUE = r"(?![$\w.])"

# New lines: the end of the current line (an end-of-line comment), then any blank, comment
# or `###` block-comment lines, then the next line's indentation (the token's last part).
_NEWLINE = r"(?:#[^\n]*)?\n(?:[ \t]*(?:###(?!#)[\s\S]*?###[^\n]*|#[^\n]*)?\n)*[ \t]*"

# The most frequent line, `name: <integer, plain string or keyword>`, is one token (a pair);
# everything else is read token by token.
_TOKEN = re.compile(
    r"[ \t]*(?:"
    + "|".join(
        (
            rf"(?P<nl>{_NEWLINE})",
            rf"(?P<pair_int>(?P<pair_int_key>{_IDENT})[ \t]*:[ \t]*(?P<pair_int_value>-?\d+){_END_OF_VALUE})",
            rf"(?P<pair_str>(?P<pair_str_key>{_IDENT})[ \t]*:[ \t]*'(?P<pair_str_value>[^'\\\n]*)'(?!'))",
            rf'(?P<pair_dstr>(?P<pair_dstr_key>{_IDENT})[ \t]*:[ \t]*"(?P<pair_dstr_value>[^"\\\n]*)"(?!"))',
            rf"(?P<pair_word>(?P<pair_word_key>{_IDENT})[ \t]*:[ \t]*"
            rf"(?P<pair_word_value>true|false|null|yes|no|on|off){_END_OF_VALUE})",
            rf"(?P<key>{_IDENT}[ \t]*:)",
            rf"(?P<skey>(?:{_SQ}|{_DQ})[ \t]*:)",
            rf"(?P<nkey>{_NUMBER}[ \t]*:)",
            rf"(?P<str3>{_SQ3}|{_DQ3})",
            rf"(?P<str>{_SQ}|{_DQ})",
            rf"(?P<int>-?\d+){_END_OF_VALUE}",
            rf"(?P<num>{_NUMBER}){_END_OF_VALUE}",
            rf"(?P<word>-?{_IDENT})",
            r"(?P<open_list>\[)",
            r"(?P<close_list>\])",
            r"(?P<open_object>\{)",
            r"(?P<close_object>\})",
            r"(?P<comma>,)",
            r"(?P<end>\Z)",
        )
    )
    + ")"
)

_KEYWORDS: dict[str, Any] = {
    "true": True,
    "yes": True,
    "on": True,
    "false": False,
    "no": False,
    "off": False,
    "null": None,
    "undefined": None,
    "Infinity": math.inf,
    "-Infinity": -math.inf,
    "NaN": math.nan,
}
_PAIRS = frozenset({"pair_int", "pair_str", "pair_dstr", "pair_word"})
_KEYS = frozenset({"key", "skey", "nkey"})
_KEYS_OR_PAIRS = _KEYS | _PAIRS
_CLOSERS = frozenset({"close_list", "close_object", "comma", "end"})
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|\n[ \t]*|[\s\S])")
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "b": "\b", "0": "\0"}
_SURROGATE = re.compile("[\ud800-\udfff]")
_LINE_BREAKS = re.compile(r"(?:[ \t]*\n)+[ \t]*")
_LEADING_BREAK = re.compile(r"\A[ \t]*\n[ \t]*")
_TRAILING_BREAKS = re.compile(r"(?:[ \t]*\n)+[ \t]*\Z")
_INDENT = re.compile(r"[ \t]*")


def loads(text: str, max_depth: int) -> Any:
    """The document `text` holds; containers deeper than `max_depth` raise CsonTooDeep."""
    return _Parser(text, max_depth).document()


# --- tokens -----------------------------------------------------------------------------------


def _skip_blanks(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t":
        pos += 1
    return pos


def _unexpected(text: str, pos: int) -> str:
    char = text[pos] if pos < len(text) else ""
    if char in "'\"":
        return f"a string opened with {char} is not closed"
    if char == ":":
        return "':' without a key before it"
    return f"unexpected {text[pos : pos + 10]!r}"


def _line_col(text: str, pos: int) -> tuple[int, int]:
    # The text starts and ends with the "\n" the parser adds: line 1 starts after the first,
    # and the end of the text is the end of its last line.
    pos = min(pos, len(text) - 1)
    line = text.count("\n", 0, pos)
    col = pos - text.rfind("\n", 0, pos)
    return max(line, 1), col


def _syntax_error(text: str, pos: int, message: str) -> CsonSyntaxError:
    line, col = _line_col(text, pos)
    return CsonSyntaxError(message, line, col)


# --- parser -----------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over tokens matched one at a time (no token list: memory stays that
    of the document), with one token of look-ahead."""

    def __init__(self, text: str, max_depth: int) -> None:
        if text.startswith("\ufeff"):
            text = text[1:]
        # A leading new line lets a `###` block or an indented first key start the text; a
        # trailing one ends the last line.
        self.text = "\n" + text.replace("\r\n", "\n").replace("\r", "\n") + "\n"
        self.max_depth = max_depth
        self.match = _TOKEN.match
        self.pos = 0
        self.ahead: tuple[str, re.Match[str]] | None = None
        self.path: list[int | str] = []
        self.kind = ""
        self.m: re.Match[str] | None = None
        self.next()

    # tokens

    def next(self) -> None:
        """Move to the next token."""
        ahead = self.ahead
        if ahead is not None:
            self.kind, self.m = ahead
            self.ahead = None
            return
        m = self.match(self.text, self.pos)
        if m is None:
            raise self.unreadable()
        self.pos = m.end()
        self.kind = m.lastgroup or "end"
        self.m = m

    def peek(self) -> str:
        """The kind of the token after the current one."""
        if self.ahead is None:
            m = self.match(self.text, self.pos)
            if m is None:
                raise self.unreadable()
            self.pos = m.end()
            self.ahead = (m.lastgroup or "end", m)
        return self.ahead[0]

    def unreadable(self) -> CsonSyntaxError:
        pos = _skip_blanks(self.text, self.pos)
        return _syntax_error(self.text, pos, _unexpected(self.text, pos))

    def group(self, suffix: str = "") -> str:
        assert self.m is not None
        return self.m.group(self.kind + suffix)

    def start(self) -> int:
        """Where the current token starts (for a pair: its key)."""
        assert self.m is not None
        return self.m.start(f"{self.kind}_key" if self.kind in _PAIRS else self.kind)

    # helpers

    def error(self, message: str, at: int | None = None) -> CsonSyntaxError:
        return _syntax_error(self.text, self.start() if at is None else at, message)

    def column(self, pos: int | None = None) -> int:
        start = self.start() if pos is None else pos
        return start - self.text.rfind("\n", 0, start) - 1

    def enter(self, depth: int) -> None:
        if depth > self.max_depth:
            line, col = _line_col(self.text, self.start())
            raise CsonTooDeep(self.max_depth, tuple(self.path), line, col)

    def describe(self) -> str:
        if self.kind == "end":
            return "the end of the text"
        if self.kind == "nl":
            return "the end of the line"
        value = self.group()
        return repr(value if len(value) <= 20 else value[:20] + "…")

    def key(self) -> str:
        """The key of the current key or pair token."""
        if self.kind in _PAIRS:
            return self.group("_key")
        text = self.group()[:-1].rstrip(" \t")  # without the colon
        if self.kind == "skey":
            return self.string(text)
        return text

    def pair_value(self) -> Any:
        value = self.group("_value")
        if self.kind == "pair_int":
            return int(value)
        if self.kind == "pair_word":
            return _KEYWORDS[value]
        return value

    # grammar

    def document(self) -> Any:
        if self.kind == "nl":
            self.next()
        if self.kind == "end":
            raise self.error("the document is empty")
        if self.kind in _KEYS_OR_PAIRS:
            result: Any = self.implicit_object(self.column(), 1)
        else:
            result = self.value(0)
        if self.kind == "comma":
            self.next()
        if self.kind == "nl":
            self.next()
        if self.kind != "end":
            raise self.error(f"unexpected {self.describe()} after the document")
        return result

    def implicit_object(self, indent: int, depth: int) -> dict[str, Any]:
        """`key: value` lines starting at column `indent` (the parser's hot loop)."""
        self.enter(depth)
        path = self.path
        result: dict[str, Any] = {}
        while True:
            kind, m = self.kind, self.m
            assert m is not None
            if kind == "pair_int":
                result[m.group("pair_int_key")] = int(m.group("pair_int_value"))
                self.next()
            elif kind == "pair_str":
                result[m.group("pair_str_key")] = m.group("pair_str_value")
                self.next()
            elif kind in _PAIRS:
                result[self.key()] = self.pair_value()
                self.next()
            else:
                key_at = self.start()
                name = self.key()
                self.next()
                path.append(name)
                result[name] = self.after_colon(name, key_at, indent, depth)
                path.pop()
            if self.kind == "comma":
                self.next()
                if self.kind in _KEYS_OR_PAIRS:
                    continue
            if self.kind == "nl" and self.peek() in _KEYS_OR_PAIRS:
                value = self.group()
                level = len(value) - value.rfind("\n") - 1
                if level == indent:
                    self.next()
                    continue
                if level > indent:
                    self.next()
                    raise self.error("this line is indented more than the keys before it")
            return result

    def after_colon(self, name: str, key_at: int, key_indent: int | None, depth: int) -> Any:
        """The value of a key: on the same line, or an indented block on the following lines."""
        if self.kind == "nl":
            if key_indent is None:
                key_indent = self.column(key_at)
            value = self.group()
            level = len(value) - value.rfind("\n") - 1
            following = self.peek()
            if level > key_indent and following not in _CLOSERS:
                self.next()
                if following in _KEYS_OR_PAIRS:
                    return self.implicit_object(level, depth + 1)
                return self.value(depth)
            raise self.error(f"the key {name!r} has no value", key_at)
        if self.kind in _KEYS_OR_PAIRS:  # `a: b: 1`
            return self.implicit_object(self.column(), depth + 1)
        return self.value(depth)

    def value(self, depth: int) -> Any:
        kind = self.kind
        if kind == "str":
            raw = self.group()
            self.next()
            if "\\" not in raw and "\n" not in raw:
                return raw[1:-1]
            return self.string(raw)
        if kind == "int":
            raw = self.group()
            self.next()
            return int(raw)
        if kind == "num":
            raw = self.group()
            self.next()
            return _number(raw)
        if kind == "open_list":
            return self.array(depth + 1)
        if kind == "open_object":
            return self.flow_object(depth + 1)
        if kind == "word":
            raw = self.group()
            if raw in _KEYWORDS:
                self.next()
                return _KEYWORDS[raw]
            raise self.error(f"unquoted text {raw!r}: write strings between quotes")
        if kind == "str3":
            raw = self.group()
            self.next()
            return self.block_string(raw)
        if kind in _KEYS_OR_PAIRS:
            raise self.error(f"a key ({self.key()}:) where a value was expected")
        raise self.error(f"expected a value, found {self.describe()}")

    def array(self, depth: int) -> list[Any]:
        self.enter(depth)
        path = self.path
        opened_at = self.start()
        self.next()  # [
        items: list[Any] = []
        if self.kind == "nl":
            self.next()
        while True:
            if self.kind == "close_list":
                self.next()
                return items
            if self.kind == "end":
                raise self.error("this list ('[') is never closed", opened_at)
            path.append(len(items))
            if self.kind in _KEYS_OR_PAIRS:
                items.append(self.implicit_object(self.column(), depth + 1))
            else:
                items.append(self.value(depth))
            path.pop()
            if self.kind == "comma":
                self.next()
                if self.kind == "nl":
                    self.next()
            elif self.kind == "nl":
                self.next()
                if self.kind == "comma":
                    self.next()
                    if self.kind == "nl":
                        self.next()
            elif self.kind == "end":
                raise self.error("this list ('[') is never closed", opened_at)
            elif self.kind != "close_list":
                raise self.error(f"expected ',' or ']' after an item of the list, found {self.describe()}")

    def flow_object(self, depth: int) -> dict[str, Any]:
        self.enter(depth)
        path = self.path
        opened_at = self.start()
        self.next()  # {
        result: dict[str, Any] = {}
        while True:
            if self.kind == "nl":
                self.next()
            if self.kind == "close_object":
                self.next()
                return result
            if self.kind == "end":
                raise self.error("this object ('{') is never closed", opened_at)
            if self.kind not in _KEYS_OR_PAIRS:
                raise self.error(f"expected a key (name:) or '}}', found {self.describe()}")
            kind, m = self.kind, self.m
            assert m is not None
            if kind == "pair_str":
                result[m.group("pair_str_key")] = m.group("pair_str_value")
                self.next()
            elif kind in _PAIRS:
                result[self.key()] = self.pair_value()
                self.next()
            else:
                name = self.key()
                key_at = self.start()
                self.next()
                path.append(name)
                result[name] = self.after_colon(name, key_at, None, depth)
                path.pop()
            if self.kind == "comma":
                self.next()
            elif self.kind == "end":
                raise self.error("this object ('{') is never closed", opened_at)
            elif self.kind not in ("nl", "close_object"):
                raise self.error(f"expected ',' or '}}' after a value, found {self.describe()}")

    # strings

    def string(self, raw: str) -> str:
        """A quoted string: escapes decoded, line breaks (and the indentation after them) joined by a space."""
        body = raw[1:-1]
        if "\\" not in body and "\n" not in body:
            return body
        if "\n" in body:
            body = _LEADING_BREAK.sub("", body)
        parts = _ESCAPE.split(body)
        out: list[str] = []
        last = len(parts) - 1
        for n, part in enumerate(parts):
            if n % 2:
                out.append(_unescape(part))
                continue
            if n == last:
                part = _TRAILING_BREAKS.sub("", part)
            out.append(_LINE_BREAKS.sub(" ", part) if "\n" in part else part)
        return _join_surrogates("".join(out))

    def block_string(self, raw: str) -> str:
        """A triple-quoted block: lines kept, their common indentation removed."""
        parts = _ESCAPE.split(raw[3:-3])
        lines: list[list[str]] = [[]]
        for n, part in enumerate(parts):
            if n % 2:
                if part[0] != "\n":
                    lines[-1].append(_unescape(part))
                continue
            first, *rest = part.split("\n")
            lines[-1].append(first)
            lines.extend([line] for line in rest)
        texts = ["".join(line) for line in lines]
        several = len(texts) > 1
        if several and not texts[-1].strip(" \t"):
            texts.pop()
        indent: str | None = None
        for line in texts[1:]:
            if not line:
                continue
            lead = _INDENT.match(line)
            current = lead.group(0) if lead else ""
            if indent is None:
                indent = current
                continue
            common = 0
            while common < len(indent) and common < len(line) and indent[common] == line[common]:
                common += 1
            indent = indent[:common]
        cut = len(indent or "")
        if several and texts and not texts[0].strip(" \t"):
            texts = [line[cut:] for line in texts[1:]]
        else:
            texts[1:] = [line[cut:] for line in texts[1:]]
        return _join_surrogates("\n".join(texts))


def _unescape(escape: str) -> str:
    if escape[0] == "u":
        return chr(int(escape[1:], 16))
    if escape[0] == "\n":
        return ""  # a backslash at the end of a line joins the next one
    return _SIMPLE_ESCAPES.get(escape, escape)


def _join_surrogates(text: str) -> str:
    """`\\ud83d\\ude00` (how JSON and `dump_cson` write characters beyond U+FFFF) → one character."""
    if _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def _number(raw: str) -> int | float:
    sign = -1 if raw.startswith("-") else 1
    digits = raw.lstrip("-")
    prefix = digits[:2].lower()
    if prefix in ("0x", "0b", "0o"):
        return sign * int(digits[2:], {"0x": 16, "0b": 2, "0o": 8}[prefix])
    if any(c in digits for c in ".eE"):
        return float(raw)
    return int(raw)


# --- writer -----------------------------------------------------------------------------------

_INDENT_STEP = "  "
_BARE_KEY = re.compile(r"[$a-zA-Z_][$0-9a-zA-Z_]*\Z")


def dumps(document: Any) -> str:
    """CSON text of a JSON-like document: objects by indentation, objects in lists between
    braces, strings in single quotes with JSON escapes (what the `cson` package writes)."""
    out: list[str] = []
    _write(document, out, "", as_value=False, flow=False)
    return "".join(out)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, str):
        return "'" + json.dumps(value)[1:-1].replace("'", "\\'") + "'"
    raise TypeError(f"Cannot write a {type(value).__name__} as CSON")


def _key(key: Any) -> str:
    text = key if isinstance(key, str) else str(key)
    return text if _BARE_KEY.match(text) else _scalar(text)


def _write(value: Any, out: list[str], indent: str, *, as_value: bool, flow: bool) -> None:
    step = _INDENT_STEP
    if isinstance(value, list):
        if not value:
            out.append(" []\n" if as_value else indent + "[]\n")
            return
        if as_value:
            out.append(" [\n")
            inner = indent
        else:
            out.append(indent + "[\n")
            inner = indent + step
        for item in value:
            _write(item, out, inner, as_value=False, flow=True)
        out.append(inner[: -len(step)] + "]\n")
    elif isinstance(value, dict):
        if not value:
            out.append(" {}\n" if as_value else indent + "{}\n")
            return
        if flow:
            if as_value:
                out.append(" {\n")
                inner = indent
            else:
                out.append(indent + "{\n")
                inner = indent + step
            for key, item in value.items():
                out.append(inner + _key(key) + ":")
                _write(item, out, inner + step, as_value=True, flow=False)
            out.append(inner[: -len(step)] + "}\n")
            return
        if as_value:
            out.append("\n")
        for key, item in value.items():
            out.append(indent + _key(key) + ":")
            _write(item, out, indent + step, as_value=True, flow=False)
    else:
        out.append((" " if as_value else indent) + _scalar(value) + "\n")
