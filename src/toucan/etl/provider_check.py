"""Checking a data provider step by step (resolve, connect, authenticate, query): the
"Test connection" of the data page, `GET /{app}/data/providers/{name}/status` and
`toucan-ctl connectors --check APP`.

The provider is read from the app's ETL config of a stage, with the app's secrets put in
where credentials go (as preprocess does); the connector's own checks (the SSRF guard,
`TOUCAN_CONNECTORS_ALLOWED_HOSTS`) apply, and every text of the answer is redacted.
"""

from __future__ import annotations

from typing import Any

from toucan.apps.configs import ConfigKind, Stage, parse_etl, read_config
from toucan.apps.secrets import AppSecrets, render_provider_secrets
from toucan.apps.small_apps import get_app
from toucan.connectors.registry import build_connector
from toucan.db.engine import Database
from toucan.errors import NotFound, ToucanError
from toucan.redaction import Redactor
from toucan.settings import Settings


def provider_names(db: Database, app_id: str, stage: Stage) -> list[str]:
    """The names of the app's DATA_PROVIDERS at that stage, in their order; 404 for no such app."""
    with db.readonly_session() as session:
        get_app(session, app_id)
        document = read_config(session, app_id, stage, ConfigKind.ETL)
    return [provider.name for provider in parse_etl(document).DATA_PROVIDERS]


def check_provider(db: Database, settings: Settings, app_id: str, stage: Stage, name: str) -> dict[str, Any]:
    """`{"provider", "type", "ok", "steps": [{"name", "ok", "detail"}]}`; `ok` is false when a
    step failed (its `detail` says why) — the check itself answers, it does not raise."""
    with db.readonly_session() as session:
        document = read_config(session, app_id, stage, ConfigKind.ETL)
    config = parse_etl(document)
    provider = next((p for p in config.DATA_PROVIDERS if p.name == name), None)
    if provider is None:
        known = ", ".join(p.name for p in config.DATA_PROVIDERS) or "none"
        raise NotFound(
            f"No DATA_PROVIDERS entry is named {name!r} in {stage.value} (known: {known}).",
            details={"provider": name, "known": [p.name for p in config.DATA_PROVIDERS]},
        )
    secrets = AppSecrets(db, settings.resolved_secret_key()).values(app_id)
    redact = Redactor(secrets.values())
    rendered = render_provider_secrets(document, secrets)
    entry = next(p for p in rendered["DATA_PROVIDERS"] if isinstance(p, dict) and p.get("name") == name)
    answer: dict[str, Any] = {"provider": name, "type": provider.type}
    try:
        with build_connector(entry, settings, secrets=secrets.values()) as connector:
            status = connector.status()
    except ToucanError as exc:  # the entry itself is wrong (a field, a missing driver)
        exc.message = redact(exc.message)
        exc.details = redact.value(exc.details)
        raise
    answer.update(status.as_dict())
    redacted: dict[str, Any] = redact.value(answer)
    return redacted
