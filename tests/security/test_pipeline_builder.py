"""The pipeline builder's routes, attacked: the previews it asks (`/{app}/query/preview` at a
stage, the steps up to the clicked one) and `POST /pipeline-steps/canonical`."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.helpers.tenants import BETA_MARKER, Tenants, leaked

PAYROLL = [{"name": "domain", "domain": "payroll"}]


def test_a_builder_of_alpha_previews_nothing_of_beta(client: TestClient, tenants: Tenants) -> None:
    for stage in ("staging", "production"):
        response = client.post(f"/beta/query/preview?stage={stage}", json={"query": PAYROLL}, headers=tenants.builder)
        assert response.status_code in (403, 404), response.text
        assert BETA_MARKER not in response.text
    # beta's domain named inside alpha's pipeline (a join, as the builder's form writes it) is
    # looked up in alpha only.
    join = [
        {"name": "domain", "domain": "sales"},
        {"name": "join", "right_pipeline": "payroll", "on": [["country", "country"]]},
    ]
    response = client.post("/alpha/query/preview?stage=staging", json={"query": join}, headers=tenants.builder)
    assert response.status_code in (400, 404), response.text
    assert not leaked(response.text)


def test_a_viewer_cannot_preview_at_any_stage(client: TestClient, tenants: Tenants) -> None:
    sales = [{"name": "domain", "domain": "sales"}]
    for stage in ("staging", "production"):
        response = client.post(f"/alpha/query/preview?stage={stage}", json={"query": sales}, headers=tenants.viewer)
        assert response.status_code == 403, response.text
        assert not leaked(response.text)


def test_canonical_reads_no_data(client: TestClient, tenants: Tenants) -> None:
    """It rewrites the steps it is given, whatever app's domain they name: no rows come back."""
    response = client.post("/pipeline-steps/canonical", json={"pipeline": PAYROLL}, headers=tenants.viewer)
    assert response.status_code == 200 and response.json() == {"pipeline": PAYROLL}
    assert not leaked(response.text)
    assert client.post("/pipeline-steps/canonical", json={"pipeline": PAYROLL}).status_code == 401
