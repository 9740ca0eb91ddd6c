"""`toucan-ctl doctor screenshot` against the real stack, then with each step of the FAQ's
procedure broken in turn: Chromium missing, a name that does not resolve, a closed port, a
server that does not answer 200, an untrusted certificate, a backend out of reach, and a page
that never becomes ready."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from tests.helpers import ROOT, TOUCAN_CTL, clean_env, free_port
from tests.helpers.caddy import make_certificate
from tests.helpers.http_servers import serving

pytestmark = pytest.mark.browser


def doctor(frontend_url: str, **env: str) -> tuple[int, dict[str, dict[str, Any]]]:
    run = subprocess.run(
        [*TOUCAN_CTL, "doctor", "screenshot", "--json", "--frontend-url", frontend_url],
        env=clean_env(TOUCAN_SCREENSHOT_TIMEOUT="4", **env),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert run.stdout.strip().startswith("{"), run.stdout + run.stderr
    checks = {c["check"]: c for c in json.loads(run.stdout)["checks"]}
    return run.returncode, checks


def verdicts(checks: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {name: c["verdict"] for name, c in checks.items()}


def test_every_step_passes_against_the_stack(stack: str) -> None:
    code, checks = doctor(stack)
    assert code == 0, checks
    assert set(verdicts(checks).values()) == {"ok"}
    assert list(checks) == [
        "chromium",
        "frontend-dns",
        "frontend-port",
        "frontend-http",
        "backend-url",
        "backend-dns",
        "backend-port",
        "backend-http",
        "page",
    ]
    assert "127.0.0.1" in checks["frontend-dns"]["summary"]
    assert checks["backend-url"]["summary"].endswith(stack + "/_api")
    assert "is ready in" in checks["page"]["summary"]


def test_chromium_missing(stack: str) -> None:
    code, checks = doctor(stack, TOUCAN_SCREENSHOT_BROWSER="/nonexistent/chromium")
    assert code == 1
    assert checks["chromium"]["verdict"] == "fail"
    assert "apt-get install chromium-headless-shell" in checks["chromium"]["fix"]
    # The network steps still run; the page cannot.
    assert checks["backend-http"]["verdict"] == "ok" and checks["page"]["verdict"] == "skip"


def test_a_name_that_does_not_resolve(stack: str) -> None:
    port = stack.rsplit(":", 1)[1]
    code, checks = doctor(f"http://toucan-frontend.invalid:{port}")
    assert code == 1
    assert checks["frontend-dns"]["verdict"] == "fail"
    assert "does not resolve" in checks["frontend-dns"]["summary"]
    assert "TOUCAN_SCREENSHOT_FRONTEND_URL" in checks["frontend-dns"]["fix"]
    assert {checks[n]["verdict"] for n in ("frontend-port", "backend-http", "page")} == {"skip"}


def test_a_closed_port() -> None:
    code, checks = doctor(f"http://127.0.0.1:{free_port()}")
    assert code == 1
    assert checks["frontend-dns"]["verdict"] == "ok"
    assert checks["frontend-port"]["verdict"] == "fail"
    assert "firewall" in checks["frontend-port"]["fix"]


def test_a_server_that_does_not_answer_200() -> None:
    app = Starlette(routes=[Route("/", lambda _: PlainTextResponse("maintenance", status_code=503))])
    with serving(app) as base:
        code, checks = doctor(base)
    assert code == 1
    assert checks["frontend-port"]["verdict"] == "ok"
    assert checks["frontend-http"]["verdict"] == "fail"
    assert "answers HTTP 503, not 200" in checks["frontend-http"]["summary"]


def test_an_untrusted_certificate(tmp_path: Path) -> None:
    cert = make_certificate(tmp_path / "tls", ["localhost"])
    port = free_port()
    app = Starlette(routes=[Route("/", lambda _: PlainTextResponse("hello"))])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ssl_certfile=str(cert.crt), ssl_keyfile=str(cert.key)
    )
    import threading
    import time

    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        code, checks = doctor(f"https://localhost:{port}")
    finally:
        server.should_exit = True
        thread.join(10)
    assert code == 1
    assert checks["frontend-port"]["verdict"] == "ok"
    assert checks["frontend-http"]["verdict"] == "fail"
    assert "certificate" in checks["frontend-http"]["summary"]
    assert "SSL_CERT_FILE" in checks["frontend-http"]["fix"]


def _docroot(tmp_path: Path, api_base: str, index: str | None = None) -> Path:
    root = tmp_path / "www"
    shutil.copytree(ROOT / "frontend" / "dist", root)
    (root / "scripts").mkdir(exist_ok=True)
    (root / "scripts" / "tc-params.js").write_text(f'window.TC_PARAMS = {{"API_BASEROUTE": "{api_base}"}};\n')
    if index is not None:
        (root / "index.html").write_text(index)
    return root


def web_server(root: Path, *routes: Route) -> Starlette:
    """A plain web server of the frontend's docroot (index.html at /), as nginx would serve it."""
    return Starlette(routes=[*routes, Mount("/", app=StaticFiles(directory=root, html=True))])


def test_a_backend_out_of_reach(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/_api"
    with serving(web_server(_docroot(tmp_path, dead))) as base:
        code, checks = doctor(base)
    assert code == 1
    assert checks["frontend-http"]["verdict"] == "ok"
    assert checks["backend-url"]["summary"].endswith(dead)
    assert checks["backend-port"]["verdict"] == "fail"
    assert checks["page"]["verdict"] == "skip"


def test_a_page_that_never_becomes_ready(stack: str, tmp_path: Path) -> None:
    # A web server that answers 200 with something that is not the web app (a default page),
    # its tc-params.js pointing at the real backend: every network step passes, the page never does.
    root = _docroot(tmp_path, stack + "/_api", index="<html><body><h1>Welcome to nginx!</h1></body></html>")

    async def spa(request: Any) -> Response:
        return Response((root / "index.html").read_text(), media_type="text/html")

    with serving(web_server(root, Route("/capture/check", spa))) as base:
        code, checks = doctor(base)
    assert code == 1
    assert verdicts(checks)["backend-http"] == "ok"
    page = checks["page"]
    assert page["verdict"] == "fail"
    assert (
        'TimeoutError: waiting for selector ".tc-slide__content, .tc-story" failed: timeout 4000ms exceeded'
        in page["summary"]
    )
    assert "no .tc-story" in page["summary"]
    assert "TOUCAN_SCREENSHOT_FRONTEND_URL" in page["fix"]
