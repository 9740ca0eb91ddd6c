"""Releasing an app: staging's design (front and ETL configs, augment.py) and data (domains)
become production's. Called by the API (`POST /{app}/config/operations`,
`POST /{app}/data/release`) and by `toucan-ctl release`."""

from __future__ import annotations

from typing import Any

from toucan.apps import configs
from toucan.data.domains import DomainStore
from toucan.db.engine import Database


def release_design(db: Database, app_id: str, *, author: str | None) -> dict[str, int]:
    """Copy staging's configs to production, in one transaction; the new versions by kind."""
    with db.session() as session:
        return configs.release_design(session, app_id, author=author)


def release_data(store: DomainStore, app_id: str) -> dict[str, Any]:
    """Point production at staging's domains (no data copied); its version and domains."""
    snapshot = store.release(app_id)
    return {"version": snapshot.version_id, "domains": sorted(snapshot.domains)}
