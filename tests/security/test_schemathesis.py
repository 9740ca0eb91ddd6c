"""Every route of the API, fed generated requests by schemathesis as the admin, a builder and
a viewer: whatever the input, the answer is never a 5xx.

A pytest test rather than a command against a running server, so `make test` runs it on
both databases with the tenants fixture, and a failure names the role, route and request.
Bounded: a few examples per route and role, valid ones and schema-breaking ones, the same
every run (a fixed seed); about 30 s. Requests go through the test client to the real app
and database; path parameters are often replaced by ids that exist (the tenants' apps,
domains, users), so the generated bodies reach the code behind the 404s.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, assume, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.helpers.tenants import Tenants

# The same requests every run; SCHEMATHESIS_SEED=<n> SCHEMATHESIS_EXAMPLES=<n> explore others.
SEED = int(os.environ.get("SCHEMATHESIS_SEED", "11"))
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "20"))  # per route and role: ~3,400 requests
ACTORS = {"admin": "admin", "builder": "mallory", "viewer": "victor"}

# Routes that end the acting session by design: they are tested on their own (tests/api).
SESSION_ENDERS = {"POST /logout"}

# Bodies FastAPI cannot describe (the routes read the raw body themselves).
RAW_BODIES: dict[str, dict[str, Any]] = {
    "PUT /{app}/config": {"application/json": {"schema": {"type": "object"}}},
    "PUT /{app}/config/etl": {"application/json": {"schema": {"type": "object"}}},
    "PUT /instance-settings": {"application/json": {"schema": {"type": "object"}}},
    "PUT /{app}/config/augment": {"text/plain": {"schema": {"type": "string"}}},
    "PUT /{app}/domain/{domain}": {"text/plain": {"schema": {"type": "string"}}},
    # The backup's .tar: generated as raw bytes (schemathesis has no serializer for x-tar).
    "POST /restore": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    "POST /{app}/data/sources": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}, "data": {"type": "string"}},
                "required": ["file"],
            }
        }
    },
}


# Cases another session fixes: (operation, predicate on the case). Remove each line when
# its fix is merged: the test then covers it.
KNOWN_ELSEWHERE: list[tuple[str, Callable[[Any], bool]]] = []


@dataclass
class Failure:
    role: str
    operation: str
    status: int
    request: str
    answer: str

    def __str__(self) -> str:
        return f"{self.role}: {self.operation} -> {self.status}\n  {self.request}\n  {self.answer}"


def _schema(client: TestClient) -> Any:
    document = client.get("/openapi.json").json()
    for label, content in RAW_BODIES.items():
        method, path = label.split(" ", 1)
        document["paths"][path][method.lower()]["requestBody"] = {"content": content, "required": True}
    return schemathesis.openapi.from_dict(document)


def _existing_ids(client: TestClient, tenants: Tenants) -> dict[str, list[str]]:
    """Ids that exist, per path parameter; the actors' own usernames are never among them."""
    client.post("/groups", json={"name": "analysts"}, headers=tenants.admin).raise_for_status()
    secret = client.put("/alpha/secrets/API_KEY", json={"value": "s3cr3t"}, headers=tenants.admin)
    assert secret.status_code < 300, secret.text
    upload = client.post(
        "/alpha/data/sources/uploads", json={"filename": "late.csv", "size": 10}, headers=tenants.admin
    )
    assert upload.status_code == 201, upload.text
    job = client.post("/alpha/data/preprocess?stage=staging", headers=tenants.admin)
    assert job.status_code < 300, job.text
    client.post("/users", json={"username": "walter", "password": "walter-pw-1"}, headers=tenants.admin)
    return {
        "app": ["alpha", "beta"],
        "app_id": ["alpha", "beta"],
        "domain": ["sales", "payroll"],
        "username": ["walter"],
        "name": ["analysts", "API_KEY"],
        "filename": ["sales.csv"],
        "upload_id": [upload.json()["id"]],
        "job_id": [job.json()["id"]],
        "provider_id": ["local"],
    }


def _request(kwargs: dict[str, Any]) -> str:
    shown = {k: kwargs[k] for k in ("method", "url", "params", "json", "data", "files") if kwargs.get(k)}
    return json.dumps(shown, default=repr)[:600]


def _for_httpx(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Schemathesis prepares arguments for `requests`; the test client is httpx, which sends
    raw bodies as `content` and wants multipart values as text or bytes."""
    kwargs.pop("cookies", None)
    if isinstance(kwargs.get("data"), bytes | str):
        kwargs["content"] = kwargs.pop("data")
    if kwargs.get("files"):
        kwargs["files"] = [
            (name, (filename, value if isinstance(value, bytes | str) else json.dumps(value), *rest))
            for name, (filename, value, *rest) in kwargs["files"]
        ]
    return kwargs


def _fuzz(
    client: TestClient, schema: Any, ids: dict[str, list[str]], role: str, headers: dict[str, str]
) -> list[Failure]:
    failures: list[Failure] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    # Deletions last, so the routes before them meet the apps, users and files they remove.
    operations.sort(key=lambda op: op.method.upper() == "DELETE")
    for operation in operations:
        if operation.label not in SESSION_ENDERS:
            _fuzz_operation(client, operation, ids, headers, lambda *f: failures.append(Failure(role, *f)))
    return failures


def _fuzz_operation(
    client: TestClient,
    operation: Any,
    ids: dict[str, list[str]],
    headers: dict[str, str],
    fail: Callable[[str, int, str, str], None],
) -> None:
    params = [p for p in ids if "{" + p + "}" in operation.path]
    replacements = st.fixed_dictionaries({p: st.one_of(st.none(), st.sampled_from(ids[p])) for p in params})
    # Valid requests, and requests that break the schema on purpose (wrong types, missing fields).
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @seed(SEED)
    @given(case=cases, replace=replacements)
    def run(case: Any, replace: dict[str, str | None]) -> None:
        for name, value in replace.items():
            if value is not None:
                case.path_parameters[name] = value
        # By design, no actor deletes, disables or demotes themselves.
        assume(case.path_parameters.get("username") not in ACTORS.values())
        if any(label == operation.label and matches(case) for label, matches in KNOWN_ELSEWHERE):
            return
        kwargs = _for_httpx(case.as_transport_kwargs(base_url="http://testserver", headers=headers))
        response = client.request(**kwargs)
        if operation.label == "GET /ready" and response.status_code == 503:
            # Its designed answer when a check fails: no job worker runs beside this test.
            assert response.json()["status"] == "not_ready"
            return
        if response.status_code >= 500:
            fail(operation.label, response.status_code, _request(kwargs), response.text[:300])

    run()


@pytest.mark.parametrize("role", ["viewer", "builder", "admin"])
def test_no_generated_request_gets_a_server_error(client: TestClient, tenants: Tenants, role: str) -> None:
    ids = _existing_ids(client, tenants)
    headers = {"admin": tenants.admin, "builder": tenants.builder, "viewer": tenants.viewer}[role]
    failures = _fuzz(client, _schema(client), ids, role, headers)
    assert not failures, "\n".join(str(f) for f in failures)


def test_the_run_reports_a_server_error(client: TestClient, tenants: Tenants, monkeypatch: pytest.MonkeyPatch) -> None:
    import toucan.apps.small_apps as small_apps

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(small_apps, "list_apps", broken)
    schema = _schema(client)
    failures: list[Failure] = []
    _fuzz_operation(
        client,
        schema.find_operation_by_label("GET /small-apps"),
        {},
        tenants.viewer,
        lambda *f: failures.append(Failure("viewer", *f)),
    )
    assert failures and {(f.operation, f.status) for f in failures} == {("GET /small-apps", 500)}
