"""App secrets, attacked by the hostile builder of alpha (`contribute` on alpha only).

An admin stores alpha's credentials with PUT /alpha/secrets/{name}. The builder may use them
in DATA_PROVIDERS' credential fields, and tries to read their values back: by writing
`{{ secrets.x }}` anywhere a value reaches a domain, a message or a log (pipeline steps,
file names, queries, jq filters, validation rules, front config), by reading a config
stored before secrets were confined, by making a server they control echo a credential in
an error body (as is, lower-cased, percent-encoded, base64…), and by reading job logs,
errors, tracebacks, preview and /data errors, the stored config and the worker's log.
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import Server
from tests.helpers.api import assert_error
from tests.helpers.tenants import Tenants
from tests.helpers.workers import running_worker, wait_for_job
from toucan.db.engine import Database
from toucan.db.models import AppConfig
from toucan.formats import dump_cson
from toucan.settings import Settings

CRM_PASSWORD = "S3cr3t-Crm-Pw-8d1e"
# `/`, `+` and `"` make its percent-encoded and JSON forms differ from the value itself.
API_TOKEN = 'Tok3n/Api+Kk29"Zq-77'
TENANT = "Tenant-Qx81-Hidden"
BASIC_USER = "analyst"  # "analyst:" is 8 bytes: the token's base64 is not aligned in the Basic header
ALLOWED = '["127.0.0.1"]'


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    """The API may reach this machine's test servers (live data), as the worker below may."""
    return base_settings.model_copy(update={"connectors_allowed_hosts": ["127.0.0.1"]})


@pytest.fixture
def alpha_secrets(client: TestClient, tenants: Tenants) -> Tenants:
    """alpha's secrets, written by the admin: the builder never saw their values."""
    for name, value in (("crm_password", CRM_PASSWORD), ("api_token", API_TOKEN), ("tenant", TENANT)):
        response = client.put(f"/alpha/secrets/{name}", json={"value": value}, headers=tenants.admin)
        assert response.status_code == 204, response.text
    return tenants


@pytest.fixture
def worker(settings: Settings, db: Database) -> Iterator[Server]:
    with running_worker(settings, TOUCAN_CONNECTORS_ALLOWED_HOSTS=ALLOWED) as server:
        yield server


# What a leak looks like --------------------------------------------------------------------


def _b64_forms(raw: bytes) -> set[str]:
    std = base64.b64encode(raw).decode()
    url = base64.urlsafe_b64encode(raw).decode()
    return {std, std.rstrip("="), url, url.rstrip("=")}


def _windows(text: str, size: int = 8) -> set[str]:
    return {text[i : i + size].lower() for i in range(len(text) - size + 1)}


def leaks(text: str) -> list[str]:
    """The forms of a secret value found in `text`: any 8 characters of the value in any case,
    its percent-encoded, JSON and base64 forms, and the token inside a Basic header."""
    found: list[str] = []
    low = text.lower()
    for value in (CRM_PASSWORD, API_TOKEN, TENANT):
        forms = {
            value,
            urllib.parse.quote(value, safe=""),
            urllib.parse.quote_plus(value),
            json.dumps(value)[1:-1],
            *_b64_forms(value.encode()),
        }
        found += [form for form in forms if form.lower() in low]
        found += [window for window in _windows(value) if window in low]
    basic = base64.b64encode(f"{BASIC_USER}:{API_TOKEN}".encode()).decode()
    # "analyst:" is 8 bytes: from the 11th character on, the header encodes the token alone.
    found += [window for window in _windows(basic[11:-2]) if window in low]
    return found


def assert_no_leak(*texts: Any) -> None:
    for text in texts:
        shown = text if isinstance(text, str) else json.dumps(text)
        assert not leaks(shown), f"{leaks(shown)} in {shown}"


# Helpers -----------------------------------------------------------------------------------


def store_as_before(db: Database, app: str, etl: dict[str, Any]) -> None:
    """Write alpha's staging etl_config straight into the metadata, as a config stored before
    secrets were confined to credential fields (the API refuses it now)."""
    with db.session() as session:
        row = session.query(AppConfig).filter_by(app_id=app, stage="staging", kind="etl").one_or_none()
        if row is None:
            session.add(AppConfig(app_id=app, stage="staging", kind="etl", content=etl, version=1))
        else:
            row.content = etl
            row.version += 1


def run_job(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.post("/alpha/data/preprocess?stage=staging", headers=headers)
    assert response.status_code == 202, response.text
    return wait_for_job(client, headers, response.json()["id"])


def preview(client: TestClient, headers: dict[str, str], domain: str) -> Any:
    return client.post(
        "/alpha/query/preview?stage=staging", json={"query": [{"name": "domain", "domain": domain}]}, headers=headers
    )


def everything_the_builder_reads(client: TestClient, headers: dict[str, str], job: dict[str, Any]) -> list[Any]:
    """The job as the builder sees it, the latest traceback, the job list and the stored config."""
    return [
        job,
        client.get(f"/jobs/{job['id']}", headers=headers).text,
        client.get("/alpha/tracebacks/latest", headers=headers).text,
        client.get("/alpha/jobs", headers=headers).text,
        client.get("/alpha/config/etl", headers=headers).text,
        client.get("/alpha/config/etl?format=cson", headers=headers).text,
    ]


SALES_SOURCE = {"domain": "sales_copy", "file": "sales.csv"}
PG = {"name": "crm", "type": "postgres", "host": "127.0.0.1", "user": "postgres", "database": "test"}
REF = "{{ secrets.crm_password }}"


def _pipeline(step: dict[str, Any]) -> dict[str, Any]:
    return {
        "DATA_SOURCES": [SALES_SOURCE],
        "PIPELINE": [
            {
                "input_domains": ["sales_copy"],
                "output_domain": "leak",
                "pipeline": [{"name": "domain", "domain": "sales_copy"}, step],
            }
        ],
    }


# Where a secret may not go: (etl_config, the path the 400 names)
MISPLACED: dict[str, tuple[dict[str, Any], str]] = {
    "text step": (_pipeline({"name": "text", "new_column": "x", "text": REF}), "PIPELINE[0].pipeline[1].text"),
    "formula": (
        _pipeline({"name": "formula", "new_column": "x", "formula": f"'{REF}'"}),
        "PIPELINE[0].pipeline[1].formula",
    ),
    "filter value": (
        _pipeline({"name": "filter", "condition": {"column": "city", "operator": "eq", "value": REF}}),
        "PIPELINE[0].pipeline[1].condition.value",
    ),
    "rename": (
        _pipeline({"name": "rename", "toRename": [["city", REF]]}),
        "PIPELINE[0].pipeline[1].toRename[0][1]",
    ),
    "customsql": (
        _pipeline({"name": "customsql", "query": f"SELECT '{REF}' AS x"}),
        "PIPELINE[0].pipeline[1].query",
    ),
    "file name": ({"DATA_SOURCES": [{"domain": "d", "file": REF + ".csv"}]}, "DATA_SOURCES[0].file"),
    "domain name": ({"DATA_SOURCES": [{"domain": REF, "file": "sales.csv"}]}, "DATA_SOURCES[0].domain"),
    "url source": (
        {"DATA_SOURCES": [{"domain": "d", "url": f"https://example.org/x.csv?key={REF}"}]},
        "DATA_SOURCES[0].url",
    ),
    "validation rule": (
        {"DATA_SOURCES": [{**SALES_SOURCE, "validation": [{"type": "columns", "expected": [REF]}]}]},
        "DATA_SOURCES[0].validation[0].expected[0]",
    ),
    "sql query": (
        {"DATA_PROVIDERS": [PG], "DATA_SOURCES": [{"domain": "d", "name": "crm", "query": f"SELECT '{REF}'"}]},
        "DATA_SOURCES[0].query",
    ),
    "source parameter": (
        {
            "DATA_PROVIDERS": [PG],
            "DATA_SOURCES": [{"domain": "d", "name": "crm", "query": "SELECT :p", "parameters": {"p": REF}}],
        },
        "DATA_SOURCES[0].parameters.p",
    ),
    "jq filter": (
        {
            "DATA_PROVIDERS": [{"name": "api", "type": "http_api", "baseroute": "https://example.org"}],
            "DATA_SOURCES": [{"domain": "d", "name": "api", "url": "/x", "filter": f'. + {{"x": "{REF}"}}'}],
        },
        "DATA_SOURCES[0].filter",
    ),
    "url path": (
        {
            "DATA_PROVIDERS": [{"name": "api", "type": "http_api", "baseroute": "https://example.org"}],
            "DATA_SOURCES": [{"domain": "d", "name": "api", "url": f"/echo/{REF}"}],
        },
        "DATA_SOURCES[0].url",
    ),
    "source header": (
        {
            "DATA_PROVIDERS": [{"name": "api", "type": "http_api", "baseroute": "https://example.org"}],
            "DATA_SOURCES": [{"domain": "d", "name": "api", "headers": {"X-Token": REF}}],
        },
        "DATA_SOURCES[0].headers.X-Token",
    ),
    "provider host": ({"DATA_PROVIDERS": [{**PG, "host": REF}]}, "DATA_PROVIDERS[0].host"),
    "provider user": ({"DATA_PROVIDERS": [{**PG, "user": REF}]}, "DATA_PROVIDERS[0].user"),
    # A session setting can be read back with SELECT current_setting('application_name').
    "driver option": (
        {"DATA_PROVIDERS": [{**PG, "options": {"application_name": REF}}]},
        "DATA_PROVIDERS[0].options.application_name",
    ),
    "provider of an unknown type": (
        {"DATA_PROVIDERS": [{"name": "x", "type": "nosuchdb", "password": REF}]},
        "DATA_PROVIDERS[0].password",
    ),
    "a key": (
        {"DATA_PROVIDERS": [{"name": "api", "type": "http_api", "baseroute": "https://e.org", "headers": {REF: "v"}}]},
        "DATA_PROVIDERS[0].headers",
    ),
    "data permission": (
        {
            "DATA_PERMISSIONS": [
                {
                    "domain": "sales",
                    "scope": "ALL_USERS",
                    "effect": "CUSTOM",
                    "condition": {"column": "note", "operator": "eq", "value": REF},
                }
            ]
        },
        "DATA_PERMISSIONS[0].condition.value",
    ),
}


# The attacks -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(MISPLACED))
def test_a_secret_outside_a_credential_field_is_refused_naming_the_path(
    client: TestClient, alpha_secrets: Tenants, case: str
) -> None:
    etl, path = MISPLACED[case]
    for fmt, body in (("json", json.dumps(etl)), ("cson", dump_cson(etl))):
        response = client.put(f"/alpha/config/etl?format={fmt}", content=body, headers=alpha_secrets.builder)
        error = assert_error(response, 400, "misplaced_secret")
        assert path in error["message"] and "crm_password" in error["message"], error
        assert error["details"]["path"] == path
    # Nothing was stored: the config is still the one the admin wrote.
    stored = client.get("/alpha/config/etl", headers=alpha_secrets.builder).json()
    assert "DATA_PERMISSIONS" in stored and "crm_password" not in json.dumps(stored)


def test_a_secret_in_the_front_config_is_refused(client: TestClient, alpha_secrets: Tenants) -> None:
    front = {"slides": [{"id": "s1", "title": f"Password: {REF}"}]}
    error = assert_error(
        client.put("/alpha/config", json=front, headers=alpha_secrets.builder), 400, "misplaced_secret"
    )
    assert error["details"]["path"] == "slides[0].title"


def test_credential_fields_take_secrets_and_the_stored_config_shows_only_references(
    client: TestClient, alpha_secrets: Tenants
) -> None:
    etl = {
        "DATA_PROVIDERS": [
            {**PG, "password": REF},
            {
                "name": "api",
                "type": "http_api",
                "baseroute": "https://{{ secrets.tenant }}.example.org/v1",
                "headers": {"Authorization": "Bearer {{ secrets.api_token }}"},
                "params": {"key": "{{ secrets.api_token }}"},
                "auth": {"type": "basic", "username": BASIC_USER, "password": "{{ secrets.api_token }}"},
            },
            {"name": "bq", "type": "bigquery", "project": "p", "credentials": "{{ secrets.api_token }}"},
            {"name": "sf", "type": "snowflake", "account": "a", "user": "u", "password": REF},
            {"name": "mongo", "type": "mongo", "host": "db.example.org", "password": REF},
        ]
    }
    for fmt, body in (("json", json.dumps(etl)), ("cson", dump_cson(etl))):
        response = client.put(f"/alpha/config/etl?format={fmt}", content=body, headers=alpha_secrets.builder)
        assert response.status_code == 200, response.text
        for shown in (
            response.text,
            client.get(f"/alpha/config/etl?format={fmt}", headers=alpha_secrets.builder).text,
        ):
            assert "{{ secrets.crm_password }}" in shown and "{{ secrets.api_token }}" in shown
            assert_no_leak(shown)


def test_a_config_stored_before_fails_its_job_with_the_same_message_and_leaks_nothing(
    client: TestClient, db: Database, alpha_secrets: Tenants, worker: Server
) -> None:
    h = alpha_secrets.builder
    uploaded = client.post(
        "/alpha/data/sources",
        files={"file": ("sales.csv", b"city,n\nParis,1\n")},
        data={"data": json.dumps({"filename": "sales.csv"})},
        headers=h,
    )
    assert uploaded.status_code == 201, uploaded.text
    for case in ("text step", "file name", "validation rule", "customsql"):
        etl, _ = MISPLACED[case]
        refused = assert_error(client.put("/alpha/config/etl", json=etl, headers=h), 400, "misplaced_secret")
        store_as_before(db, "alpha", etl)
        job = run_job(client, h)
        assert job["state"] == "failed", (case, job)
        assert job["error"] == refused["message"], (case, job["error"], refused["message"])
        assert_no_leak(*everything_the_builder_reads(client, h, job))
        answer = preview(client, h, "leak")
        assert answer.status_code in (200, 404), answer.text
        assert_no_leak(answer.text)
    assert_no_leak(worker.output())


def test_a_live_source_stored_before_is_refused_with_the_same_message(
    client: TestClient, db: Database, alpha_secrets: Tenants
) -> None:
    h = alpha_secrets.builder
    etl = {
        "DATA_PROVIDERS": [PG],
        "DATA_SOURCES": [
            {"domain": "live", "name": "crm", "query": f"SELECT '{REF}' AS leak", "live_data": True, "cache_ttl": 0}
        ],
    }
    refused = assert_error(client.put("/alpha/config/etl", json=etl, headers=h), 400, "misplaced_secret")
    assert refused["details"]["path"] == "DATA_SOURCES[0].query"
    store_as_before(db, "alpha", etl)
    answer = preview(client, h, "live")
    error = assert_error(answer, 400, "misplaced_secret")
    assert error["message"] == refused["message"]
    assert_no_leak(answer.text)


def test_data_requests_cannot_read_secrets(client: TestClient, alpha_secrets: Tenants) -> None:
    query = [{"name": "domain", "domain": "sales"}, {"name": "text", "new_column": "x", "text": REF}]
    for route, headers in (("/alpha/query/preview", alpha_secrets.builder), ("/alpha/data", alpha_secrets.viewer)):
        response = client.post(route, json={"query": query}, headers=headers)
        assert response.status_code == 400, response.text
        assert_no_leak(response.text)
        # Variables are the caller's own: sending `secrets` gives back what was sent, nothing more.
        response = client.post(route, json={"query": query, "variables": {"secrets": {}}}, headers=headers)
        assert response.status_code == 400 and "secrets.crm_password" in response.text
        assert_no_leak(response.text)


# A server the builder controls, which reflects the credentials it receives ---------------------


def _reflect(value: str, form: str) -> str:
    return {
        "exact": value,
        "lower": value.lower(),
        "upper": value.upper(),
        "percent": urllib.parse.quote(value, safe=""),
        "plus": urllib.parse.quote_plus(value),
        "json": json.dumps({"got": value}),
        "b64": base64.b64encode(value.encode()).decode(),
        "b64url": base64.urlsafe_b64encode(value.encode()).decode().rstrip("="),
        # The connector keeps 200 characters of an error body: the value is cut at three quarters.
        "cut": "x" * (199 - len(value) * 3 // 4) + " " + value,
    }[form]


FORMS = ["exact", "lower", "upper", "percent", "plus", "json", "b64", "b64url", "cut"]


class _Reflector(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        form = urllib.parse.parse_qs(parts.query).get("form", ["exact"])[0]
        header = self.headers.get("Authorization", "")
        value = self.headers.get("X-Token") or header
        body = _reflect(value, form).encode()
        self.send_response(500)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def reflector() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Reflector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _reflecting_etl(base: str, form: str, *, live: bool = False, basic: bool = False) -> dict[str, Any]:
    provider: dict[str, Any] = {"name": "api", "type": "http_api", "baseroute": base}
    if basic:
        provider["auth"] = {"type": "basic", "username": BASIC_USER, "password": "{{ secrets.api_token }}"}
    else:
        provider["headers"] = {"X-Token": "{{ secrets.api_token }}"}
    source: dict[str, Any] = {"domain": "echoed", "name": "api", "url": f"/reflect?form={form}"}
    if live:
        source |= {"live_data": True, "cache_ttl": 0}
    return {"DATA_PROVIDERS": [provider], "DATA_SOURCES": [source]}


@pytest.mark.parametrize("form", FORMS)
def test_a_credential_echoed_in_a_live_error_is_redacted(
    client: TestClient, alpha_secrets: Tenants, reflector: str, form: str
) -> None:
    h = alpha_secrets.builder
    # A Basic header base64-encoded again is a transform of a transform: not one of the forms hidden.
    for basic in (False,) if form.startswith("b64") else (False, True):
        put = client.put("/alpha/config/etl", json=_reflecting_etl(reflector, form, live=True, basic=basic), headers=h)
        assert put.status_code == 200, put.text
        answer = preview(client, h, "echoed")
        error = assert_error(answer, 502)
        assert "answered HTTP 500" in error["message"] and "***" in error["message"], error
        assert_no_leak(answer.text)


def test_credentials_echoed_or_transformed_in_job_errors_are_redacted(
    client: TestClient, alpha_secrets: Tenants, reflector: str, worker: Server
) -> None:
    h = alpha_secrets.builder
    for form in ("lower", "percent", "b64", "cut"):
        for basic in (False, True):
            assert client.put(
                "/alpha/config/etl", json=_reflecting_etl(reflector, form, basic=basic), headers=h
            ).is_success
            job = run_job(client, h)
            assert job["state"] == "failed" and "answered HTTP 500" in job["error"], job
            assert_no_leak(*everything_the_builder_reads(client, h, job))
    # A secret in a URL host comes back lower-cased in the resolver's error and its details.
    etl = {
        "DATA_PROVIDERS": [{"name": "api", "type": "http_api", "baseroute": "http://{{ secrets.tenant }}.invalid/"}],
        "DATA_SOURCES": [{"domain": "echoed", "name": "api", "url": "/x"}],
    }
    assert client.put("/alpha/config/etl", json=etl, headers=h).status_code == 200
    job = run_job(client, h)
    assert job["state"] == "failed" and "Cannot resolve the host" in job["error"], job
    assert_no_leak(*everything_the_builder_reads(client, h, job))
    assert_no_leak(worker.output())


AUGMENT = """
import json, os
from pathlib import Path

def snoop(sales):
    import pandas as pd
    seen = [f"{k}={v}" for k, v in os.environ.items()]
    for path in Path(".").rglob("*"):
        if path.is_file() and path.stat().st_size < 1_000_000:
            seen.append(path.read_text(errors="replace"))
    return pd.DataFrame({"seen": seen})
"""


def test_builder_code_receives_no_secret(client: TestClient, alpha_secrets: Tenants, worker: Server) -> None:
    h = alpha_secrets.builder
    assert client.put("/alpha/config/augment", content=AUGMENT, headers=h).status_code == 200
    uploaded = client.post(
        "/alpha/data/sources",
        files={"file": ("sales.csv", b"city,n\nParis,1\n")},
        data={"data": json.dumps({"filename": "sales.csv"})},
        headers=h,
    )
    assert uploaded.status_code == 201, uploaded.text
    etl = {
        "DATA_PROVIDERS": [{**PG, "password": REF}],  # the app uses its secret; the function must not see it
        "DATA_SOURCES": [SALES_SOURCE],
        "PIPELINE": [{"input_domains": ["sales_copy"], "function_name": "snoop", "output_domain": "snooped"}],
    }
    assert client.put("/alpha/config/etl", json=etl, headers=h).status_code == 200
    job = run_job(client, h)
    assert job["state"] == "succeeded", job
    answer = preview(client, h, "snooped")
    assert answer.status_code == 200 and answer.json()["data"], answer.text
    assert_no_leak(answer.text)


def test_a_changed_secret_key_fails_the_job_naming_the_secret(
    client: TestClient, alpha_secrets: Tenants, settings: Settings
) -> None:
    h = alpha_secrets.builder
    etl = {"DATA_PROVIDERS": [{**PG, "password": REF}], "DATA_SOURCES": [{**SALES_SOURCE, "load": False}]}
    assert client.put("/alpha/config/etl", json=etl, headers=h).status_code == 200
    with running_worker(settings, TOUCAN_SECRET_KEY="another-key", TOUCAN_CONNECTORS_ALLOWED_HOSTS=ALLOWED) as other:
        job = run_job(client, h)
    assert job["state"] == "failed", job
    assert "cannot be decrypted" in job["error"] and "TOUCAN_SECRET_KEY" in job["error"], job
    assert_no_leak(*everything_the_builder_reads(client, h, job), other.output())
