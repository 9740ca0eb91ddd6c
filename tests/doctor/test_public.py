"""`toucan-ctl doctor`'s checks through the public URLs, against a real API, a frontend docroot
and proxies run by the test: each passes, then fails with the fix once broken."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port
from tests.helpers.http_servers import docroot_app, proxy_app, serving
from toucan import __version__
from toucan.app import create_api, create_embedded_app
from toucan.db.engine import Database
from toucan.doctor.findings import Finding, Verdict
from toucan.doctor.public import check_backend_url, check_public_urls, check_versions, parse_tc_params
from toucan.frontend_params import write_params
from toucan.settings import Settings


def _by_check(findings: list[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in findings}


def _docroot(tmp_path: Path, api_baseroute: str, version: str = f"v{__version__}") -> Path:
    docroot = tmp_path / "www"
    write_params(docroot, api_baseroute)
    (docroot / "tucana-version.txt").write_text(version + "\n")
    (docroot / "index.html").write_text("<!doctype html><title>Toucan</title>")
    return docroot


@pytest.fixture
def stack(settings: Settings, db: Database) -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


def _api(stack: ExitStack, settings: Settings, db: Database, cors: list[str] | None = None) -> str:
    api_settings = settings.model_copy(update={"cors_origins": cors or []})
    return stack.enter_context(serving(create_api(api_settings, db)))


def test_a_well_set_stack_passes_every_public_check(
    settings: Settings, db: Database, tmp_path: Path, stack: ExitStack
) -> None:
    # The frontend's port is chosen first: the backend must allow its origin.
    docroot = tmp_path / "www"
    docroot.mkdir()
    frontend = stack.enter_context(serving(docroot_app(docroot)))
    api = _api(stack, settings, db, cors=[frontend])
    _docroot(tmp_path, api)
    found = _by_check(check_public_urls(settings, frontend))
    assert {name: f.verdict for name, f in found.items()} == {
        "backend-url": Verdict.OK,
        "versions": Verdict.OK,
        "authorization-header": Verdict.OK,
        "cors": Verdict.OK,
    }, found


def test_tc_params_pointing_at_a_dead_backend_fails_with_frontend_params(
    settings: Settings, tmp_path: Path, stack: ExitStack
) -> None:
    frontend = stack.enter_context(serving(docroot_app(_docroot(tmp_path, f"http://127.0.0.1:{free_port()}"))))
    [finding] = check_public_urls(settings, frontend)
    assert finding.check == "backend-url" and finding.verdict == Verdict.FAIL
    assert "does not answer" in finding.summary and "toucan-ctl frontend-params" in (finding.fix or "")


def test_tc_params_pointing_at_something_else_fails(settings: Settings, tmp_path: Path, stack: ExitStack) -> None:
    other = stack.enter_context(serving(docroot_app(_docroot(tmp_path / "other", "x"))))
    frontend = stack.enter_context(serving(docroot_app(_docroot(tmp_path, other))))
    [finding] = check_public_urls(settings, frontend)
    assert finding.verdict == Verdict.FAIL and "not the Toucan API" in finding.summary


def test_a_frontend_that_does_not_answer_fails(settings: Settings) -> None:
    [finding] = check_public_urls(settings, f"http://127.0.0.1:{free_port()}")
    assert finding.check == "tc-params" and finding.verdict == Verdict.FAIL
    assert "does not answer" in finding.summary and "web server runs" in (finding.fix or "")


def test_a_frontend_without_tc_params_fails(settings: Settings, tmp_path: Path, stack: ExitStack) -> None:
    docroot = tmp_path / "bare"
    docroot.mkdir()
    frontend = stack.enter_context(serving(docroot_app(docroot)))
    [finding] = check_public_urls(settings, frontend)
    assert finding.check == "tc-params" and finding.verdict == Verdict.FAIL
    assert "404" in finding.summary and "toucan-ctl frontend-params" in (finding.fix or "")


def test_a_proxy_that_strips_authorization_is_found(
    settings: Settings, db: Database, tmp_path: Path, stack: ExitStack
) -> None:
    api = _api(stack, settings, db)
    stripping = stack.enter_context(serving(proxy_app(api, drop_headers=["authorization"])))
    frontend = stack.enter_context(serving(docroot_app(_docroot(tmp_path, stripping + "/"))))
    found = _by_check(check_public_urls(settings, frontend))
    assert found["backend-url"].verdict == Verdict.OK  # the proxy does reach the backend
    header = found["authorization-header"]
    assert header.verdict == Verdict.FAIL and "strips" in header.summary
    assert "Authorization" in (header.fix or "")
    # The same proxy passing the header: the check passes.
    passing = stack.enter_context(serving(proxy_app(api)))
    (tmp_path / "www" / "scripts" / "tc-params.js").unlink()
    write_params(tmp_path / "www", passing)
    assert _by_check(check_public_urls(settings, frontend))["authorization-header"].verdict == Verdict.OK


def test_cors_without_the_frontends_origin_fails_naming_the_setting(
    settings: Settings, db: Database, tmp_path: Path, stack: ExitStack
) -> None:
    api = _api(stack, settings, db, cors=["https://elsewhere.example.com"])
    frontend = stack.enter_context(serving(docroot_app(_docroot(tmp_path, api))))
    cors = _by_check(check_public_urls(settings, frontend))["cors"]
    assert cors.verdict == Verdict.FAIL
    assert cors.fix == f"add the frontend's origin to the backend's settings: TOUCAN_CORS_ORIGINS='[\"{frontend}\"]'"


def test_the_embedded_stack_is_one_origin_and_needs_no_cors(
    settings: Settings, db: Database, tmp_path: Path, stack: ExitStack
) -> None:
    docroot = _docroot(tmp_path, "/_api")  # relative: the frontend's own origin
    embedded = settings.model_copy(update={"frontend_dir": docroot})
    base = stack.enter_context(serving(create_embedded_app(embedded, db)))
    found = _by_check(check_public_urls(embedded, base))
    assert found["backend-url"].verdict == Verdict.OK and base + "/_api" in found["backend-url"].summary
    assert found["cors"].verdict == Verdict.OK and "no CORS needed" in found["cors"].summary
    # Without the public URL, the local docroot's relative route cannot be followed: said so.
    [relative] = check_public_urls(embedded, None)
    assert relative.verdict == Verdict.SKIP and "--frontend-url" in (relative.fix or "")


def test_the_local_docroot_is_read_when_no_url_is_given(
    settings: Settings, db: Database, tmp_path: Path, stack: ExitStack
) -> None:
    api = _api(stack, settings, db)
    local = settings.model_copy(update={"frontend_dir": _docroot(tmp_path, api)})
    found = _by_check(check_public_urls(local, None))
    assert found["backend-url"].verdict == Verdict.OK
    assert found["versions"].verdict == Verdict.OK
    assert found["cors"].verdict == Verdict.SKIP and "--frontend-url" in (found["cors"].fix or "")


def test_an_https_frontend_calling_an_http_backend_fails(settings: Settings, db: Database, stack: ExitStack) -> None:
    api = _api(stack, settings, db)
    with httpx.Client(timeout=5) as client:
        assert check_backend_url(client, api, "http://toucan.example.com").verdict == Verdict.OK
        mixed = check_backend_url(client, api, "https://toucan.example.com")
    assert mixed.verdict == Verdict.FAIL and "browsers block it" in mixed.summary


def test_frontend_and_backend_of_other_majors_fail(
    settings: Settings, db: Database, tmp_path: Path, stack: ExitStack
) -> None:
    api = _api(stack, settings, db, cors=["*"])
    frontend = stack.enter_context(serving(docroot_app(_docroot(tmp_path, api, version="v9.0.0"))))
    versions = _by_check(check_public_urls(settings, frontend))["versions"]
    assert versions.verdict == Verdict.FAIL and "same release" in (versions.fix or "")


def test_versions_compare_majors() -> None:
    assert check_versions("v2.3.0\n", "2.3.0").verdict == Verdict.OK
    assert check_versions("v2.4.0", "2.3.0").verdict == Verdict.WARN
    assert check_versions("v3.0.0", "2.3.0").verdict == Verdict.FAIL
    assert check_versions("v0.2.0", "0.1.0").verdict == Verdict.FAIL  # before 1.0 the minor counts
    assert check_versions(None, "2.3.0").verdict == Verdict.SKIP


def test_tc_params_as_written_or_by_hand() -> None:
    assert (
        parse_tc_params('window.TC_PARAMS = {"API_BASEROUTE": "https://b/_api"};')["API_BASEROUTE"] == "https://b/_api"
    )
    assert parse_tc_params("window.TC_PARAMS = {API_BASEROUTE: 'https://b', X: 1}")["API_BASEROUTE"] == "https://b"
    with pytest.raises(ValueError):
        parse_tc_params("window.TC_PARAMS = {MIXPANEL_ANALYTICS_ID: ''};")


def test_embed_params_naming_another_backend_warns(
    settings: Settings, db: Database, tmp_path: Path, stack: ExitStack
) -> None:
    api = _api(stack, settings, db)
    docroot = _docroot(tmp_path, api)
    local = settings.model_copy(update={"frontend_dir": docroot})
    assert "embed-params" not in _by_check(check_public_urls(local, None))  # written together: same backend
    (docroot / "embed-params.json").write_text(json.dumps({"API_BASEROUTE": "https://old-backend.example.com"}))
    embed = _by_check(check_public_urls(local, None))["embed-params"]
    assert embed.verdict == Verdict.WARN and "old-backend" in embed.summary
