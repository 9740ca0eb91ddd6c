"""Local HTTP stand-ins for the servers that cannot run here: Snowflake, BigQuery, ClickHouse.

Each speaks just enough of its server's wire protocol for the real client library to work,
and checks every request it receives: what it does not expect (a wrong header, an unknown SQL
text, a bad token) is answered with an error *and* recorded in `problems`, which the fixtures
assert empty after each test — a client that got an error and carried on still fails the test.
A stand-in knows only the SQL texts a test registers, so a test also pins the exact SQL sent.
"""

from __future__ import annotations

import gzip
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case
    body: bytes  # decompressed


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, value: Any, status: int = 200, **headers: str) -> Answer:
        return cls(status, json.dumps(value).encode(), {"Content-Type": "application/json", **headers})


class StandIn:
    """An HTTP server on 127.0.0.1 (a free port) in a thread; subclasses answer in `answer`."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.problems: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    # Subclasses -------------------------------------------------------------------------------

    def answer(self, request: Request) -> Answer:
        raise NotImplementedError

    def problem(self, text: str, answer: Answer) -> Answer:
        """Record a request the stand-in did not expect, and answer it with `answer` (an error)."""
        self.problems.append(text)
        return answer

    # Server -----------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler(standin: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the clients' connection pools expect

        def log_message(self, *args: Any) -> None:  # keep pytest's output clean
            pass

        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if (self.headers.get("Content-Encoding") or "").lower() == "gzip":
                body = gzip.decompress(body)
            headers = {name.lower(): value for name, value in self.headers.items()}
            request = Request(self.command, parts.path, dict(parse_qsl(parts.query)), headers, body)
            standin.requests.append(request)
            try:
                answer = standin.answer(request)
            except Exception as exc:  # a bug of the stand-in, or a request it cannot parse
                answer = standin.problem(f"{request.method} {request.path}: {exc!r}", Answer(500, repr(exc).encode()))
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting (a time limit test)
                self.close_connection = True

    return Handler
