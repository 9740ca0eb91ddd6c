"""Two tenants on one instance, for tests written as an attacker would write them.

`alpha` is the app the hostile builder (`contribute` on alpha only) and the viewer (`view`
on alpha, country France, row rules on `sales`) may use; `beta` is another team's app whose
rows must never reach either of them. Each `beta` row carries BETA_MARKER and each alpha row
outside France carries HIDDEN_MARKER, so a leak shows in any answer as a plain substring."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers.tenants import (
    ALPHA_ETL,
    ALPHA_SALES,
    BETA_PAYROLL,
    Tenants,
    _put_domain,
)
from toucan.settings import Settings


@pytest.fixture
def tenants(
    client: TestClient, admin_headers: dict[str, str], make_user: Callable[..., Any], settings: Settings
) -> Tenants:
    """alpha (sales, row rules by country) and beta (payroll), both released to production."""
    for app in ("alpha", "beta"):
        client.post("/small-apps", json={"id": app, "name": app.title()}, headers=admin_headers).raise_for_status()
    _put_domain(client, admin_headers, "alpha", "sales", ALPHA_SALES)
    _put_domain(client, admin_headers, "beta", "payroll", BETA_PAYROLL)
    client.put("/alpha/config/etl", json=ALPHA_ETL, headers=admin_headers).raise_for_status()
    for app in ("alpha", "beta"):
        response = client.post(
            f"/{app}/config/operations",
            json={"operations": ["release_design", "release_data"]},
            headers=admin_headers,
        )
        assert response.status_code == 200, response.text
    builder = make_user("mallory", privileges={"alpha": ["contribute"]}, attributes={"country": "France"})
    viewer = make_user("victor", privileges={"alpha": ["view"]}, attributes={"country": "France"})
    return Tenants(admin=admin_headers, builder=builder, viewer=viewer, data_dir=Path(settings.data_dir))
