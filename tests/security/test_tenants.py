"""The fixture itself: the rows exist where an attacker would look, and normal reads hide them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.helpers.tenants import BETA_MARKER, HIDDEN_MARKER, Tenants, leaked


def test_markers_are_on_disk_and_the_viewer_sees_only_france(client: TestClient, tenants: Tenants) -> None:
    assert tenants.domain_files("alpha") and tenants.domain_files("beta")
    pipeline = [{"name": "domain", "domain": "sales"}]
    as_admin = client.post("/alpha/data?stage=production", json={"query": pipeline}, headers=tenants.admin)
    assert HIDDEN_MARKER in as_admin.text
    as_viewer = client.post("/alpha/data?stage=production", json={"query": pipeline}, headers=tenants.viewer)
    assert as_viewer.status_code == 200, as_viewer.text
    assert {row["country"] for row in as_viewer.json()["data"]} == {"France"}
    assert not leaked(as_viewer.text)
    beta = client.post(
        "/beta/data?stage=production",
        json={"query": [{"name": "domain", "domain": "payroll"}]},
        headers=tenants.builder,
    )
    assert beta.status_code in (403, 404) and BETA_MARKER not in beta.text
