"""Calling the API in tests: credentials, headers, and the shape every error answer has."""

from __future__ import annotations

import base64
from typing import Any

from fastapi.testclient import TestClient

from toucan.errors import ErrorCode

SUPER_ADMIN_PASSWORD = "super-secret-admin-pw"


PASSWORD = "correct horse battery"
ERROR_CODES = {code.value for code in ErrorCode}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(username: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def login(client: TestClient, username: str, password: str) -> str:
    response = client.post("/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is our JSON error shape with this status (and code)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details", "request_id"}, body
    assert body["error"]["request_id"] == response.headers["x-request-id"], body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "Traceback" not in response.text
    assert body["error"]["code"] in ERROR_CODES, f"{body['error']['code']!r} is not declared in ErrorCode"
    if code is not None:
        assert body["error"]["code"] == code, body
    error: dict[str, Any] = body["error"]
    return error
