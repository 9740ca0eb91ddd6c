"""Connector tests: the local databases and the HTTP API stand-in they read."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from toucan.settings import Settings

# The test databases run on this machine: database providers reach loopback only when allowed.
LOCAL_HOSTS = ["127.0.0.1", "localhost"]
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


MARIADB_SERVER = "mysql+pymysql://root@127.0.0.1:3306/test"
SALES = [
    (1, "Paris", 120.5, "2024-01-05"),
    (2, "Lyon", 80.0, "2024-01-06"),
    (3, "Paris", 42.25, "2024-02-01"),
    (4, "Nantes", 10.0, "2024-02-03"),
]


TOKEN = "api-token-7c1f"


BASIC_USER, BASIC_PASSWORD = "reporter", "basic-pw-93a1"


CLIENT_ID, CLIENT_SECRET = "toucan-client", "client-secret-5e2b"


API_KEY = "api-key-41d0"


def make_settings(tmp_path: Path, allowed_hosts: list[str] | None = None, **extra: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "stack-data",
        secret_key="test",
        connectors_allowed_hosts=allowed_hosts or [],
        **extra,
    )


PEOPLE = [{"id": i, "name": f"person {i}", "team": {"name": "north" if i % 2 else "south"}} for i in range(1, 8)]


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class ApiServer:
    base: str
    port: int
    requests: list[Recorded] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def requests_to(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def reset(self) -> None:
        self.requests.clear()
        self.hits.clear()


def _handler(server: ApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            content_type = "application/json" if not isinstance(body, bytes) else "text/html"
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            server.requests.append(Recorded(self.command, parts.path, query, dict(self.headers.items()), body))
            server.hits[parts.path] = server.hits.get(parts.path, 0) + 1
            route = ROUTES.get(parts.path)
            if route is None:
                self._send(404, {"error": "no such route"})
                return
            route(self, query, body)

        # Routes --------------------------------------------------------------------------------

        def people(self, query: dict[str, list[str]], _body: bytes) -> None:
            self._send(200, {"data": PEOPLE[:3], "count": 3})

        def paged(self, query: dict[str, list[str]], _body: bytes) -> None:
            page, size = int(query["page"][0]), int(query.get("per_page", ["3"])[0])
            self._send(200, {"results": PEOPLE[(page - 1) * size : page * size]})

        def offset(self, query: dict[str, list[str]], _body: bytes) -> None:
            start, size = int(query["offset"][0]), int(query["limit"][0])
            self._send(200, {"items": PEOPLE[start : start + size]})

        def cursor(self, query: dict[str, list[str]], _body: bytes) -> None:
            start = int(query.get("cursor", ["0"])[0])
            following = start + 3 if start + 3 < len(PEOPLE) else None
            self._send(200, {"items": PEOPLE[start : start + 3], "meta": {"next": following}})

        def linked(self, query: dict[str, list[str]], _body: bytes) -> None:
            start = int(query.get("from", ["0"])[0])
            headers = {}
            if start + 4 < len(PEOPLE):
                headers["Link"] = f'</linked?from={start + 4}>; rel="next"'
            self._send(200, PEOPLE[start : start + 4], headers)

        def secure(self, query: dict[str, list[str]], _body: bytes) -> None:
            expected = {
                f"Bearer {TOKEN}",
                "Basic " + base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode(),
            }
            if self.headers.get("Authorization") not in expected and self.headers.get("X-API-Key") != API_KEY:
                self._send(401, {"error": "who are you?"})
                return
            self._send(200, {"data": PEOPLE[:2]})

        def token(self, _query: dict[str, list[str]], body: bytes) -> None:
            client = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            form = parse_qs(body.decode())
            if self.headers.get("Authorization") != client or form.get("grant_type") != ["client_credentials"]:
                self._send(401, {"error": "invalid_client"})
                return
            self._send(200, {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600})

        def flaky(self, _query: dict[str, list[str]], _body: bytes) -> None:
            if server.hits["/flaky"] <= 2:
                self._send(503, {"error": "busy"}, {"Retry-After": "0"})
                return
            self._send(200, {"data": [{"ok": True}]})

        def down(self, _query: dict[str, list[str]], _body: bytes) -> None:
            self._send(503, {"error": "down for maintenance"}, {"Retry-After": "0"})

        def redirect(self, query: dict[str, list[str]], _body: bytes) -> None:
            self.send_response(302)
            self.send_header("Location", query["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def echo(self, _query: dict[str, list[str]], body: bytes) -> None:
            self._send(200, {"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body.decode()})

        def html(self, _query: dict[str, list[str]], _body: bytes) -> None:
            self._send(200, b"<html>not json</html>")

        def big(self, _query: dict[str, list[str]], _body: bytes) -> None:
            self._send(200, {"blob": "x" * 50_000})

    ROUTES: dict[str, Callable[[Handler, dict[str, list[str]], bytes], None]] = {
        "/people": Handler.people,
        "/paged": Handler.paged,
        "/offset": Handler.offset,
        "/cursor": Handler.cursor,
        "/linked": Handler.linked,
        "/secure": Handler.secure,
        "/token": Handler.token,
        "/flaky": Handler.flaky,
        "/down": Handler.down,
        "/redirect": Handler.redirect,
        "/echo": Handler.echo,
        "/html": Handler.html,
        "/big": Handler.big,
    }
    return Handler
