"""Two tenants on one instance, for tests written as an attacker would write them.

`alpha` is the app the hostile builder (`contribute` on alpha only) and the viewer (`view`
on alpha, country France, row rules on `sales`) may use; `beta` is another team's app whose
rows must never reach either of them. Each `beta` row carries BETA_MARKER and each alpha row
outside France carries HIDDEN_MARKER, so a leak shows in any answer as a plain substring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from toucan.settings import Settings

BETA_MARKER = "BETA-ONLY-7f3a"
HIDDEN_MARKER = "NOT-FOR-FRANCE-91c2"

ALPHA_SALES = (
    "country,city,revenue,note\n"
    "France,Paris,100,visible\n"
    "France,Lyon,50,visible\n"
    f"Spain,Madrid,70,{HIDDEN_MARKER}\n"
    f"Italy,Roma,90,{HIDDEN_MARKER}\n"
)
BETA_PAYROLL = f"name,salary,note\nAda,9000,{BETA_MARKER}\nBob,8000,{BETA_MARKER}\n"

ALPHA_ETL = {
    "DATA_PERMISSIONS": [
        {
            "domain": "sales",
            "scope": "ALL_USERS",
            "effect": "CUSTOM",
            "condition": {"column": "country", "operator": "eq", "value": "{{ user.attributes.country }}"},
        }
    ]
}


@dataclass(frozen=True)
class Tenants:
    """The instance as an attacker finds it: headers of each actor, and where data lies."""

    admin: dict[str, str]
    builder: dict[str, str]  # contribute on alpha
    viewer: dict[str, str]  # view on alpha, sees France only
    data_dir: Path

    def domain_files(self, app: str) -> list[Path]:
        """Every Parquet file of `app` under the data dir (what an escape would read)."""
        return sorted(p for p in self.data_dir.rglob("*.parquet") if f"/{app}/" in str(p))


def _put_domain(client: TestClient, headers: dict[str, str], app: str, domain: str, csv: str) -> None:
    response = client.put(
        f"/{app}/domain/{domain}?stage=staging", content=csv, headers={**headers, "Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text


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


def leaked(text: str) -> bool:
    """Whether another app's rows, or rows the viewer may not see, appear in `text`."""
    return BETA_MARKER in text or HIDDEN_MARKER in text
