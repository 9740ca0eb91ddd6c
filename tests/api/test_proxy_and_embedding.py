"""The embedded layout (API under /_api, frontend at /) and reverse-proxy headers."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from tests.helpers.api import SUPER_ADMIN_PASSWORD
from toucan.api.middleware import ForwardedMiddleware
from toucan.app import create_api, create_embedded_app
from toucan.db.engine import Database
from toucan.settings import Settings


def _frontend(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "scripts").mkdir()
    (dist / "index.html").write_text("<html><body>app</body></html>")
    (dist / "assets" / "index-abc123.js").write_text("console.log(1)")
    (dist / "scripts" / "tc-params.js").write_text("window.TC_PARAMS = {}")
    (dist / "tucana-version.txt").write_text("v0.1.0")
    (dist / "embed-params.json").write_text("{}")
    return dist


def test_embedded_stack_serves_api_and_frontend_with_cache_headers(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    app = create_embedded_app(settings.model_copy(update={"frontend_dir": _frontend(tmp_path)}), db)
    with TestClient(app) as c:
        assert c.get("/_api/").json()["api_version"]
        assert c.post("/_api/login", json={"username": "admin", "password": SUPER_ADMIN_PASSWORD}).status_code == 200
        assert c.get("/_api/nope").json()["error"]["code"] == "not_found"
        index = c.get("/")
        assert "app" in index.text and index.headers["cache-control"] == "no-cache"
        assert c.get("/stories/some/deep/link").text == index.text  # client-side routes
        assert c.get("/assets/index-abc123.js").headers["cache-control"] == "public, max-age=31536000, immutable"
        for name in ("scripts/tc-params.js", "tucana-version.txt", "embed-params.json"):
            assert c.get(f"/{name}").headers["cache-control"] == "no-cache", name
        assert c.get("/assets/missing.js").status_code == 404


def test_without_a_built_frontend_the_root_says_how_to_build_it(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    app = create_embedded_app(settings.model_copy(update={"frontend_dir": tmp_path / "none"}), db)
    with TestClient(app) as c:
        response = c.get("/")
        assert response.status_code == 404
        error = response.json()["error"]  # the API's error shape
        assert error["code"] == "not_found" and "make run" in error["message"]
        assert c.get("/_api/health").json() == {"status": "ok"}


def test_urls_follow_forwarded_headers_from_a_trusted_proxy(settings: Settings, db: Database) -> None:
    app = create_api(settings.model_copy(update={"forwarded_allow_ips": "testclient"}), db)
    headers = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "toucan.example.com",
        "X-Forwarded-Prefix": "/_api",
    }
    with TestClient(app) as c:
        providers = c.get("/auth/providers", headers=headers).json()
        assert providers[0]["login_url"] == "https://toucan.example.com/_api/login"
        # Without the headers, the URL is the direct one.
        assert c.get("/auth/providers").json()[0]["login_url"] == "http://testserver/login"


def test_forwarded_headers_from_untrusted_peers_are_ignored(settings: Settings, db: Database) -> None:
    app = create_api(settings.model_copy(update={"forwarded_allow_ips": "10.9.9.9"}), db)
    with TestClient(app) as c:
        providers = c.get(
            "/auth/providers",
            headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"},
        ).json()
        assert providers[0]["login_url"] == "http://testserver/login"


def test_cors_allows_configured_origins_only(settings: Settings, db: Database) -> None:
    app = create_api(settings.model_copy(update={"cors_origins": ["https://front.example"]}), db)
    with TestClient(app) as c:
        ok = c.options(
            "/login",
            headers={"Origin": "https://front.example", "Access-Control-Request-Method": "POST"},
        )
        assert ok.headers["access-control-allow-origin"] == "https://front.example"
        other = c.options(
            "/login",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in other.headers


def _seen_address(trusted: str, peer: str, forwarded_for: list[str]) -> str:
    """The address the backend attributes a request to (what the login limits count)."""

    async def echo(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse(Request(scope).client.host)(scope, receive, send)  # type: ignore[union-attr]

    c = TestClient(ForwardedMiddleware(echo, trusted=trusted), client=(peer, 1234))
    return c.get("/", headers=[("X-Forwarded-For", v) for v in forwarded_for]).text


def test_client_address_comes_from_x_forwarded_for_of_trusted_proxies_only() -> None:
    # No proxy trusted for this peer: the header is the client's own writing.
    assert _seen_address("127.0.0.1", "203.0.113.9", ["10.1.1.1"]) == "203.0.113.9"
    # A trusted proxy appended the peer it saw; what the client wrote before it is not believed.
    assert _seen_address("127.0.0.1", "127.0.0.1", ["10.1.1.1, 203.0.113.9"]) == "203.0.113.9"
    assert _seen_address("127.0.0.1", "127.0.0.1", ["10.1.1.1", "203.0.113.9"]) == "203.0.113.9"
    # A chain of trusted proxies (networks allowed): the first untrusted hop from the right.
    chain = ["198.51.100.4, 172.18.0.5"]
    assert _seen_address("127.0.0.1, 172.16.0.0/12", "172.18.0.9", chain) == "198.51.100.4"
    assert _seen_address("127.0.0.1, 172.16.0.0/12", "172.18.0.9", []) == "172.18.0.9"
    # `*` trusts every hop: the leftmost is the client, as the outermost proxy wrote it.
    assert _seen_address("*", "192.0.2.1", ["198.51.100.4, 10.0.0.2"]) == "198.51.100.4"
