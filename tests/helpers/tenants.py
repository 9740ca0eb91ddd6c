"""Two tenants on one instance, for tests written as an attacker would write them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

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


def leaked(text: str) -> bool:
    """Whether another app's rows, or rows the viewer may not see, appear in `text`."""
    return BETA_MARKER in text or HIDDEN_MARKER in text
