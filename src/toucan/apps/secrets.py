"""Per-app secrets: encrypted at rest, write-only through the API, used as `{{ secrets.name }}`.

The key is derived from TOUCAN_SECRET_KEY (HKDF-SHA256), so a database dump alone reveals
nothing. Values are only decrypted where a config is used (preprocess, live data).
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from toucan.db.engine import Database
from toucan.db.etl_models import AppSecret
from toucan.errors import NotFound, ValidationError

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
REFERENCE = re.compile(r"\{\{\s*secrets\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
MAX_VALUE = 64 * 1024


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"toucan-app-secrets", info=b"v1").derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ValidationError(
            f"Invalid secret name {name!r}: a letter or '_' then letters, digits or '_' (at most 100).",
            details={"field": "name"},
        )
    return name


class AppSecrets:
    def __init__(self, db: Database, secret_key: str) -> None:
        self.db = db
        self._fernet = _fernet(secret_key)

    def names(self, app_id: str) -> list[dict[str, Any]]:
        """Names and dates only: values never leave the server."""
        with self.db.readonly_session() as session:
            rows = session.scalars(select(AppSecret).where(AppSecret.app_id == app_id).order_by(AppSecret.name))
            return [{"name": r.name, "updated_at": r.updated_at.isoformat(), "updated_by": r.updated_by} for r in rows]

    def put(self, app_id: str, name: str, value: Any, *, author: str | None) -> None:
        check_name(name)
        if not isinstance(value, str) or not value or len(value) > MAX_VALUE:
            raise ValidationError(
                f"'value' is a non-empty string of at most {MAX_VALUE} characters.", details={"field": "value"}
            )
        token = self._fernet.encrypt(value.encode())
        with self.db.session() as session:
            row = session.get(AppSecret, (app_id, name))
            if row is None:
                session.add(AppSecret(app_id=app_id, name=name, ciphertext=token, updated_by=author))
            else:
                row.ciphertext, row.updated_by, row.updated_at = token, author, datetime.now(UTC)

    def delete(self, app_id: str, name: str) -> None:
        with self.db.session() as session:
            row = session.get(AppSecret, (app_id, name))
            if row is None:
                raise NotFound(f"No secret {name!r} in {app_id!r}.", details={"name": name})
            session.delete(row)

    def values(self, app_id: str) -> dict[str, str]:
        """Decrypted values, for rendering a config inside a job; never returned by the API."""
        out: dict[str, str] = {}
        with self.db.readonly_session() as session:
            for row in session.scalars(select(AppSecret).where(AppSecret.app_id == app_id)):
                try:
                    out[row.name] = self._fernet.decrypt(row.ciphertext).decode()
                except InvalidToken:
                    raise ValidationError(
                        f"Secret {row.name!r} cannot be decrypted: TOUCAN_SECRET_KEY changed since it was "
                        "written. Write it again.",
                        details={"name": row.name},
                    ) from None
        return out


def render_secrets(document: Any, values: dict[str, str], where: str = "") -> Any:
    """A copy of `document` with every `{{ secrets.name }}` replaced; a missing one → 400 naming it."""
    if isinstance(document, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:
                raise ValidationError(
                    f"{where or 'The config'} uses the secret {name!r}, which this app does not have. "
                    f"Add it with PUT /<app>/secrets/{name}.",
                    details={"secret": name, "path": where},
                )
            return values[name]

        return REFERENCE.sub(replace, document)
    if isinstance(document, dict):
        return {
            key: render_secrets(value, values, f"{where}.{key}" if where else str(key))
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [render_secrets(value, values, f"{where}[{index}]") for index, value in enumerate(document)]
    return document


def redact(text: str, values: dict[str, str]) -> str:
    """`text` with every secret value replaced by `***` (for messages and logs)."""
    for value in sorted(values.values(), key=len, reverse=True):
        if len(value) >= 3:
            text = text.replace(value, "***")
    return text
