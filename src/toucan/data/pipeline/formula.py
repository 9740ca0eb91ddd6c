"""Formulas (`"(revenue - cost) / [units sold] * 100"`) parsed into safe SQL.

Tokens: numbers, column names (bare words or `[any name]`), quoted strings, + - * / %
and parentheses. Anything else is refused: no SQL text from a formula reaches the query.
"""

from __future__ import annotations

import re
from typing import Any

from toucan.data.pipeline.sql import PARAM, Frag, ident, join, value
from toucan.errors import ErrorCode, ValidationError

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)"
    r"|\[(?P<bracket>[^\]]+)\]"
    r"|'(?P<sq>(?:[^'\\]|\\.)*)'|\"(?P<dq>(?:[^\"\\]|\\.)*)\""
    r"|(?P<name>[^\s\d+\-*/%()\[\]'\"][^\s+\-*/%()\[\]'\"]*)"
    r"|(?P<op>[+\-*/%()]))"
)


def _tokens(text: str, where: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValidationError(
                f"Cannot read the formula at {text[pos : pos + 20]!r}.",
                details={**where, "position": pos},
            )
        kind = m.lastgroup or ""
        tok = m.group(kind)
        out.append((kind, tok))
        pos = m.end()
    return out


class _Chain:
    """`a + b - c …` as `((a + b) - c)`, built in linear time: the prefixes of the later
    operators wrap the earlier ones (adding Frags one by one copied the text each time)."""

    def __init__(self, first: Frag) -> None:
        self.prefixes: list[str] = []
        self.parts: list[Frag | str] = [first]

    def add(self, prefix: str, middle: str, right: Frag, suffix: str) -> None:
        self.prefixes.append(prefix)
        self.parts += [middle, right, suffix]

    def frag(self) -> Frag:
        first = self.parts[0]
        if not self.prefixes and isinstance(first, Frag):
            return first
        pieces = [Frag(p) if isinstance(p, str) else p for p in self.parts]
        return Frag("".join(reversed(self.prefixes))) + join(pieces, "")


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], where: dict[str, Any], max_depth: int) -> None:
        self.tokens = tokens
        self.i = 0
        self.where = where
        # Parentheses and signs nest by recursion: bounded (TOUCAN_MAX_NESTING_DEPTH).
        self.max_depth = max_depth
        self.depth = 0

    def nest(self) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            raise ValidationError(
                f"The formula nests parentheses and signs deeper than {self.max_depth} levels "
                "(TOUCAN_MAX_NESTING_DEPTH).",
                details={**self.where, "limit": self.max_depth, "setting": "TOUCAN_MAX_NESTING_DEPTH"},
                code=ErrorCode.TOO_DEEP,
            )

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ValidationError("The formula ends too early.", details=self.where)
        self.i += 1
        return tok

    def expr(self) -> Frag:
        chain = _Chain(self.term())
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            chain.add("(", f" {op} ", self.term(), ")")
        return chain.frag()

    def term(self) -> Frag:
        chain = _Chain(self.unary())
        while self.peek() in (("op", "*"), ("op", "/"), ("op", "%")):
            op = self.take()[1]
            right = self.unary()
            if op == "/":
                # Division by zero gives NULL, as SQL backends of the language do.
                chain.add("(CAST(", " AS DOUBLE) / NULLIF(", right, ", 0))")
            else:
                chain.add("(", f" {op} ", right, ")")
        return chain.frag()

    def unary(self) -> Frag:
        if self.peek() == ("op", "-"):
            self.take()
            self.nest()
            inner = self.unary()
            self.depth -= 1
            return "(-" + inner + ")"
        if self.peek() == ("op", "+"):
            self.take()
        return self.atom()

    def atom(self) -> Frag:
        kind, tok = self.take()
        if kind == "num":
            return Frag(tok if re.fullmatch(r"[\d.eE+-]+", tok) else "NULL")
        if kind in ("bracket", "name"):
            if "\x00" in tok or PARAM in tok:
                raise ValidationError("A column name in the formula holds a control character.", details=self.where)
            return Frag(ident(tok))
        if kind in ("sq", "dq"):
            return value(tok.replace("\\'", "'").replace('\\"', '"'))
        if tok == "(":
            self.nest()
            inner = self.expr()
            if self.take() != ("op", ")"):
                raise ValidationError("Unbalanced parentheses in the formula.", details=self.where)
            self.depth -= 1
            return "(" + inner + ")"
        raise ValidationError(f"Unexpected {tok!r} in the formula.", details=self.where)


def formula_sql(formula: str | int | float, where: dict[str, Any], max_depth: int) -> Frag:
    if isinstance(formula, bool):
        return value(formula)
    if isinstance(formula, int | float):
        return Frag(repr(formula))
    parser = _Parser(_tokens(str(formula), where), where, max_depth)
    out = parser.expr()
    if parser.peek() is not None:
        raise ValidationError(f"Unexpected {parser.peek()[1]!r} in the formula.", details=where)  # type: ignore[index]
    return out
