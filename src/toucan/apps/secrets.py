"""Per-app secrets: encrypted at rest, write-only through the API, used as `{{ secrets.name }}`.

The key is derived from TOUCAN_SECRET_KEY (HKDF-SHA256), so a database dump alone reveals
nothing. A reference is accepted only in a credential field of a DATA_PROVIDERS entry (each
connector's options model declares its own, see `credential_fields`): `check_secret_places`
refuses any other place when a config is stored, and again when a job or a live fetch uses
it. Values are only decrypted there, and every message that reaches a builder passes through
a `Redactor` built from them.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from toucan.db.engine import Database
from toucan.db.etl_models import AppSecret
from toucan.errors import ErrorCode, NotFound, ValidationError
from toucan.formats import error_path

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


def secret_key_matches(db: Database, secret_key: str) -> bool | None:
    """Whether `secret_key` decrypts a stored secret (None: no secret is stored yet)."""
    with db.readonly_session() as session:
        token = session.execute(select(AppSecret.ciphertext).limit(1)).scalar()
    if token is None:
        return None
    if not secret_key:
        return False
    try:
        _fernet(secret_key).decrypt(token)
    except InvalidToken:
        return False
    return True


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


# --- where secrets may go --------------------------------------------------------------------

Path = tuple[int | str, ...]


@dataclass(frozen=True)
class MisplacedSecret:
    """A `{{ secrets.name }}` where no credential goes; `error()` is the 400 that names it."""

    path: Path
    secret: str
    message: str
    accepted: tuple[str, ...]

    def error(self) -> ValidationError:
        return ValidationError(
            self.message,
            details={"path": error_path(self.path), "secret": self.secret, "accepted": list(self.accepted)},
            code=ErrorCode.MISPLACED_SECRET,
        )


def _references(value: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """(path, secret name) of every reference in a document, keys included (a key's path is
    its mapping's: keys are never rendered, and are no place for a secret either)."""
    if isinstance(value, str):
        for match in REFERENCE.finditer(value):
            yield path, match.group(1)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                yield from _references(key, path)
            yield from _references(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _references(item, (*path, index))


def referenced_secrets(document: Any) -> set[str]:
    """The names of every secret a document refers to."""
    return {name for _, name in _references(document)}


def _matches(pattern: str, path: Path) -> bool:
    parts = pattern.split(".")
    return len(parts) == len(path) and all(
        isinstance(step, str) and (part == "*" or part == step) for part, step in zip(parts, path, strict=True)
    )


_WHERE = (
    "secrets are accepted only in the credential fields of DATA_PROVIDERS entries (passwords, tokens, "
    "API-key headers, connection URLs), where they reach the system they open and nothing else"
)


def misplaced_secrets(document: Any, what: str = "etl_config") -> list[MisplacedSecret]:
    """Every reference of a config outside the credential fields of its DATA_PROVIDERS entries
    (all of them for a config that is not the etl_config), in document order."""
    from toucan.connectors.registry import credential_fields

    providers = document.get("DATA_PROVIDERS") if what == "etl_config" and isinstance(document, dict) else None
    found: list[MisplacedSecret] = []
    for path, name in _references(document):
        where = error_path(path)
        accepted: tuple[str, ...] = ()
        detail = _WHERE
        if (
            isinstance(providers, list)
            and len(path) >= 2
            and path[0] == "DATA_PROVIDERS"
            and isinstance(path[1], int)
            and isinstance(providers[path[1]], dict)
        ):
            kind = providers[path[1]].get("type")
            fields = credential_fields(kind)
            if fields is None:
                detail = f"{_WHERE}, and {kind!r} is not a connector type"
            else:
                if any(_matches(field, path[2:]) for field in fields) and len(path) > 2:
                    continue
                accepted = fields
                detail = (
                    f"{_WHERE}; those of a provider of type {kind!r} are: {', '.join(fields)}"
                    if fields
                    else f"{_WHERE}; a provider of type {kind!r} has none"
                )
        found.append(
            MisplacedSecret(path, name, f"The {what} uses the secret {name!r} at {where}: {detail}.", accepted)
        )
    return found


def check_secret_places(document: Any, what: str = "etl_config") -> None:
    """400 naming the path of the first `{{ secrets.name }}` outside a credential field."""
    found = misplaced_secrets(document, what)
    if found:
        raise found[0].error()


def render_provider_secrets(etl: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """A copy of the etl_config with the secrets of its DATA_PROVIDERS put in (checked first:
    nothing else of the config is ever rendered)."""
    check_secret_places(etl)
    providers = etl.get("DATA_PROVIDERS")
    if not isinstance(providers, list):
        return dict(etl)
    return {**etl, "DATA_PROVIDERS": render_secrets(providers, values, "etl_config.DATA_PROVIDERS")}
