"""A ClickHouse stand-in: the HTTP interface as clickhouse-connect uses it.

clickhouse-connect POSTs each statement to `/` (the SQL in the body, `FORMAT Native` appended
to queries; settings and the database as URL parameters; HTTP basic auth). On connecting it
runs three statements of its own: `SELECT version(), timezone()` (answered in TabSeparated),
`system.settings` (Native) and a protocol probe (Native with block info). Results are written
in ClickHouse's Native format — per column: name, type, then the values — `block_rows` rows per
block, and nothing at all for an empty result, as the real server does over HTTP.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import re
import struct
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tests.connectors.standins import Answer, Request, StandIn

VERSION = "25.3.2.39"

# What the client reads from system.settings: the time limit it sets, and compression it may ask for.
SERVER_SETTINGS = [("max_execution_time", "0", 0), ("readonly", "0", 0), ("enable_http_compression", "0", 0)]


@dataclass
class Result:
    columns: list[tuple[str, str]]  # name, ClickHouse type
    rows: list[tuple[Any, ...]]


@dataclass
class Failure:
    code: int
    name: str
    message: str
    status: int = 400


class ClickHouseStandIn(StandIn):
    def __init__(self, *, user: str, password: str, database: str, time_limit: int, block_rows: int = 2) -> None:
        super().__init__()
        self.user, self.password, self.database = user, password, database
        self.time_limit = time_limit  # the max_execution_time every query must carry
        self.block_rows = block_rows
        self.results: dict[str, Result] = {}
        self.failures: dict[str, Failure] = {}
        self.queries: list[tuple[str, dict[str, str]]] = []  # the SQL and URL parameters of the tests' queries

    def answer(self, request: Request) -> Answer:
        if request.method != "POST" or request.path != "/":
            return self.problem(f"unexpected {request.method} {request.path}", Answer(404, b"Not found"))
        if request.headers.get("authorization") != _basic(self.user, self.password):
            # A real server says who failed, never with which password.
            return self._failure(
                Failure(
                    516,
                    "AUTHENTICATION_FAILED",
                    f"{self._user_of(request)}: Authentication failed: "
                    "password is incorrect, or there is no user with such name",
                    status=403,
                )
            )
        if "session_id" in request.query:
            return self.problem("a session_id: concurrent queries would wait for each other", Answer(400, b"session"))
        text = request.body.decode()
        match = re.fullmatch(r"(?s)(.*)\n FORMAT (\w+)", text)
        sql, output = (match.group(1), match.group(2)) if match else (text, "TabSeparated")
        block_info = int(request.query.get("client_protocol_version", "0")) > 0

        if sql == "SELECT version(), timezone()":
            return self._text(request, f"{VERSION}\tUTC\n")
        if sql == "SELECT name, value, readonly FROM system.settings LIMIT 10000":
            columns = [("name", "String"), ("value", "String"), ("readonly", "UInt8")]
            return self._native(request, columns, SERVER_SETTINGS, block_info)
        if sql == "SELECT 1 AS check":
            return self._native(request, [("check", "UInt8")], [(1,)], block_info)
        if sql == "SELECT 1" and output == "TabSeparated":
            return self._text(request, "1\n")

        self.queries.append((sql, dict(request.query)))
        expected = {"database": self.database, "max_execution_time": str(self.time_limit)}
        got = {name: request.query.get(name) for name in expected}
        # Native, but JSON for a query ending with LIMIT 0: the driver then asks only for the columns.
        columns_only = re.search(r"LIMIT 0$", sql) is not None
        if got != expected or output != ("JSON" if columns_only else "Native"):
            return self.problem(f"{sql!r}: parameters {got}, format {output}", Answer(400, b"bad request"))
        if sql in self.failures:
            return self._failure(self.failures[sql])
        if sql in self.results and columns_only:
            meta = [{"name": name, "type": kind} for name, kind in self.results[sql].columns]
            answer = {"meta": meta, "data": [], "rows": 0, "statistics": {"elapsed": 0.001, "rows_read": 0}}
            body = json.dumps(answer).encode()
            return self._compressed(request, Answer(200, body, self._headers(request, "JSON", "application/json")))
        if sql in self.results:
            result = self.results[sql]
            return self._native(request, result.columns, result.rows, block_info)
        if (inner := re.fullmatch(r"(?s)DESCRIBE TABLE \((.*)\)", sql)) and inner.group(1) in self.results:
            columns = [("name", "String"), ("type", "String")] + [
                (name, "String")
                for name in ("default_type", "default_expression", "comment", "codec_expression", "ttl_expression")
            ]
            described = [(name, kind, "", "", "", "", "") for name, kind in self.results[inner.group(1)].columns]
            return self._native(request, columns, described, block_info)
        return self.problem(
            f"unknown SQL {sql!r}", self._failure(Failure(62, "SYNTAX_ERROR", "the stand-in does not know this SQL"))
        )

    # Answers ----------------------------------------------------------------------------------

    def _user_of(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            return base64.b64decode(header[6:]).decode().split(":", 1)[0]
        return "default"

    def _headers(self, request: Request, output: str, content_type: str) -> dict[str, str]:
        return {
            "Content-Type": content_type,
            "X-ClickHouse-Server-Display-Name": "standin",
            "X-ClickHouse-Query-Id": request.query.get("query_id") or str(uuid.uuid4()),
            "X-ClickHouse-Format": output,
            "X-ClickHouse-Timezone": "UTC",
            "X-ClickHouse-Summary": json.dumps({"read_rows": "0", "read_bytes": "0", "result_rows": "0"}),
        }

    def _text(self, request: Request, text: str) -> Answer:
        headers = self._headers(request, "TabSeparated", "text/tab-separated-values; charset=UTF-8")
        return self._compressed(request, Answer(200, text.encode(), headers))

    def _native(
        self, request: Request, columns: list[tuple[str, str]], rows: list[tuple[Any, ...]], block_info: bool
    ) -> Answer:
        size = self.block_rows
        body = b"".join(native_block(columns, rows[i : i + size], block_info) for i in range(0, len(rows), size))
        return self._compressed(
            request, Answer(200, body, self._headers(request, "Native", "application/octet-stream"))
        )

    def _compressed(self, request: Request, answer: Answer) -> Answer:
        # Compressed only when the client turned it on, in a format it accepts.
        accepted = request.headers.get("accept-encoding", "")
        if request.query.get("enable_http_compression") == "1" and "gzip" in accepted:
            answer.body = gzip.compress(answer.body)
            answer.headers["Content-Encoding"] = "gzip"
        return answer

    def _failure(self, failure: Failure) -> Answer:
        text = f"Code: {failure.code}. DB::Exception: {failure.message}. ({failure.name}) "
        text += f"(version {VERSION} (official build))\n"
        headers = {"Content-Type": "text/plain; charset=UTF-8", "X-ClickHouse-Exception-Code": str(failure.code)}
        return Answer(failure.status, text.encode(), headers)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# The Native format ------------------------------------------------------------------------------


def _leb128(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _string(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return _leb128(len(raw)) + raw


_FIXED = {"UInt8": "<B", "UInt16": "<H", "UInt32": "<I", "Int32": "<i", "Int64": "<q", "Float64": "<d", "Bool": "<?"}
_EPOCH = dt.date(1970, 1, 1)


def _zero(kind: str) -> Any:
    """The value a Nullable column holds under a null."""
    if kind == "String":
        return ""
    if kind == "Date":
        return _EPOCH
    if kind.startswith("DateTime"):
        return dt.datetime(1970, 1, 1)
    return Decimal(0) if kind.startswith("Decimal") else 0


def _column(kind: str, values: list[Any]) -> bytes:
    if kind.startswith("Nullable("):
        inner = kind[len("Nullable(") : -1]
        nulls = bytes(1 if value is None else 0 for value in values)
        return nulls + _column(inner, [_zero(inner) if value is None else value for value in values])
    if kind == "String":
        return b"".join(_string(value) for value in values)
    if kind in _FIXED:
        return b"".join(struct.pack(_FIXED[kind], value) for value in values)
    if kind == "Date":  # days since 1970-01-01
        return b"".join(struct.pack("<H", (value - _EPOCH).days) for value in values)
    if kind.startswith("DateTime"):  # seconds since the epoch, UTC
        return b"".join(struct.pack("<I", int(value.replace(tzinfo=dt.UTC).timestamp())) for value in values)
    if match := re.fullmatch(r"Decimal\((\d+), (\d+)\)", kind):  # the value times 10^scale, as an integer
        precision, scale = int(match.group(1)), int(match.group(2))
        fmt = "<i" if precision <= 9 else "<q"
        return b"".join(struct.pack(fmt, int(Decimal(value).scaleb(scale))) for value in values)
    raise ValueError(f"the stand-in cannot write {kind}")


def native_block(columns: list[tuple[str, str]], rows: list[tuple[Any, ...]], block_info: bool) -> bytes:
    """One Native block; with `block_info` (the client sent client_protocol_version), its header first:
    field 1 is_overflows = 0, field 2 bucket_num = -1, field 0 the end."""
    out = bytearray(b"\x01\x00\x02\xff\xff\xff\xff\x00" if block_info else b"")
    out += _leb128(len(columns)) + _leb128(len(rows))
    for index, (name, kind) in enumerate(columns):
        out += _string(name) + _string(kind) + _column(kind, [row[index] for row in rows])
    return bytes(out)
