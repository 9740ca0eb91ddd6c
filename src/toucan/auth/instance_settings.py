"""`instance_settings.cson`: the instance's identity providers (and other instance-wide keys).

Kept in the database, one row per upload: the newest row is in force, older rows are its
history. An upload is parsed (CSON or JSON), checked in full (errors give the path and, for
CSON, the line), and stored only when everything is valid, so a bad upload changes nothing.
Secrets (`client_secret`, `privateKey`) are masked on the way out; an upload that sends the
mask back keeps the stored secret.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from toucan.auth.providers import (
    DEFAULT_LOCAL,
    ExternalProvider,
    LocalProvider,
    Provider,
    Saml2Provider,
    normalise_type,
)
from toucan.db.models import InstanceSettingsVersion
from toucan.errors import NotFound, ValidationError
from toucan.formats import dump_cson, error_path, parse_cson, parse_json, validation_errors

log = logging.getLogger("toucan.sso")

Format = Literal["cson", "json"]
MASK = "********"
SECRET_KEYS = frozenset({"client_secret", "privateKey", "private_key"})


class AuthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    providers: list[Provider] = Field(default_factory=lambda: list[Provider]([DEFAULT_LOCAL]))

    @field_validator("providers", mode="before")
    @classmethod
    def _normalise_types(cls, value: Any) -> Any:
        return [normalise_type(p) for p in value] if isinstance(value, list) else value

    @model_validator(mode="after")
    def _unique_ids(self) -> AuthSettings:
        seen: set[str] = set()
        for provider in self.providers:
            if provider.id in seen:
                raise ValueError(f"two providers have the id {provider.id!r}; ids are used in URLs and must differ")
            seen.add(provider.id)
        return self


class InstanceSettings(BaseModel):
    """The document; keys other than `auth` (feature flags, ...) are kept as given."""

    model_config = ConfigDict(extra="allow")

    auth: AuthSettings = Field(default_factory=AuthSettings)

    def provider(self, provider_id: str) -> Provider:
        for provider in self.auth.providers:
            if provider.id == provider_id:
                return provider
        raise NotFound(
            f"No identity provider {provider_id!r} in the instance settings.", details={"provider": provider_id}
        )

    def external_provider(self, provider_id: str) -> ExternalProvider:
        provider = self.provider(provider_id)
        if isinstance(provider, LocalProvider):
            raise NotFound(f"The provider {provider_id!r} is the local one: log in with POST /login.")
        return provider

    @property
    def local_login_enabled(self) -> bool:
        return any(isinstance(p, LocalProvider) for p in self.auth.providers)


DEFAULT_DOCUMENT: dict[str, Any] = {"auth": {"providers": [DEFAULT_LOCAL.model_dump()]}}


# --- reading ----------------------------------------------------------------------------------


def _latest(session: Session) -> InstanceSettingsVersion | None:
    return session.scalar(select(InstanceSettingsVersion).order_by(InstanceSettingsVersion.id.desc()).limit(1))


def current_document(session: Session) -> dict[str, Any]:
    """The document in force (with secrets); the default when none was ever saved."""
    row = _latest(session)
    return dict(row.content) if row is not None else json.loads(json.dumps(DEFAULT_DOCUMENT))


def current(session: Session) -> InstanceSettings:
    """The settings in force, validated.

    A stored document that no longer validates (e.g. after an upgrade made a check stricter)
    must not lock everyone out: its valid providers stay in force, the others are logged.
    """
    document = current_document(session)
    try:
        return InstanceSettings.model_validate(document)
    except PydanticValidationError as exc:
        log.error("the stored instance settings are invalid; using their valid providers: %s", exc)
    auth = document.get("auth")
    raw: list[Any] = [DEFAULT_LOCAL.model_dump()]
    if isinstance(auth, dict) and isinstance(auth.get("providers"), list):
        raw = auth["providers"]
    providers = []
    for item in raw:
        try:
            providers.append(AuthSettings.model_validate({"providers": [item]}).providers[0])
        except PydanticValidationError:
            continue
    return InstanceSettings(auth=AuthSettings.model_construct(providers=providers))


@dataclass(frozen=True)
class HistoryEntry:
    version: int
    created_at: datetime
    created_by: str | None


def history(session: Session) -> list[HistoryEntry]:
    rows = session.scalars(select(InstanceSettingsVersion).order_by(InstanceSettingsVersion.id.desc()))
    return [HistoryEntry(r.id, r.created_at, r.created_by) for r in rows]


# Versions are ids of an INTEGER column: PostgreSQL refuses to compare it with a number
# beyond 32 bits (a database error, so a 500) rather than finding nothing.
_LAST_VERSION = 2**31 - 1


def version_document(session: Session, version: int) -> dict[str, Any]:
    row = session.get(InstanceSettingsVersion, version) if 1 <= version <= _LAST_VERSION else None
    if row is None:
        raise NotFound(f"No instance settings version {version}.", details={"version": version})
    return dict(row.content)


# --- secrets ----------------------------------------------------------------------------------


def mask_secrets(document: Any) -> Any:
    """A copy with every secret value replaced by the mask."""
    if isinstance(document, dict):
        return {
            k: (MASK if k in SECRET_KEYS and isinstance(v, str) and v else mask_secrets(v)) for k, v in document.items()
        }
    if isinstance(document, list):
        return [mask_secrets(v) for v in document]
    return document


def _counterpart(old: Any, index: int, item: Any) -> Any:
    """The old list item matching `item`: same `id` when items have ids, else same position."""
    if not isinstance(old, list):
        return None
    if isinstance(item, dict) and "id" in item:
        return next((o for o in old if isinstance(o, dict) and o.get("id") == item["id"]), None)
    return old[index] if index < len(old) else None


def restore_secrets(new: Any, old: Any, path: tuple[int | str, ...] = ()) -> Any:
    """Put stored secrets back where the upload sent the mask; a mask with nothing stored is an error."""
    if isinstance(new, dict):
        restored = {}
        for key, value in new.items():
            previous = old.get(key) if isinstance(old, dict) else None
            if key in SECRET_KEYS and value == MASK:
                if not isinstance(previous, str) or not previous:
                    raise ValidationError(
                        f"Invalid instance settings at {error_path((*path, key))}: the mask {MASK!r} stands for "
                        "the stored secret, but none is stored here. Paste the secret itself.",
                        details={"errors": [{"path": error_path((*path, key)), "message": "no stored secret"}]},
                    )
                restored[key] = previous
            else:
                restored[key] = restore_secrets(value, previous, (*path, key))
        return restored
    if isinstance(new, list):
        return [restore_secrets(v, _counterpart(old, i, v), (*path, i)) for i, v in enumerate(new)]
    return new


# --- parsing and saving --------------------------------------------------------------------------


def parse(text: str, fmt: Format, max_depth: int) -> Any:
    """The document in `text`; deeper than `max_depth` levels (TOUCAN_MAX_NESTING_DEPTH) is refused."""
    if fmt == "json":
        return parse_json(text, max_depth)
    return parse_cson(text, max_depth)


def locate_line(text: str, path: tuple[int | str, ...]) -> int | None:
    """Best effort: the line of `path` in a CSON/JSON text laid out one key per line."""
    lines = text.splitlines()
    start, found = 0, None
    for pos, part in enumerate(path):
        if isinstance(part, int):
            # The n-th object of a list: the n-th `id:` (or `type:`, or the next key) at one indentation.
            following = [p for p in path[pos + 1 : pos + 2] if isinstance(p, str)]
            hits: list[int] = []
            for key in ["id", "type", *following]:
                hits = [i for i in range(start, len(lines)) if _key_at(lines[i], key)]
                if hits:
                    break
            indent = min((len(lines[i]) - len(lines[i].lstrip()) for i in hits), default=0)
            hits = [i for i in hits if len(lines[i]) - len(lines[i].lstrip()) == indent]
            if part >= len(hits):
                break
            start = found = hits[part]
            continue
        hit = next((i for i in range(start, len(lines)) if _key_at(lines[i], part)), None)
        if hit is None:
            break
        start = found = hit
    return found + 1 if found is not None else None


def _key_at(line: str, key: str) -> bool:
    return re.search(rf"(^|[{{,\s])['\"]?{re.escape(key)}['\"]?\s*:", line) is not None


def validate(document: Any, text: str | None = None) -> InstanceSettings:
    """The document checked in full; errors name the path (and the line when the text is given)."""
    if not isinstance(document, dict):
        raise ValidationError("The instance settings must be an object (a CSON/JSON document of keys).")
    try:
        return InstanceSettings.model_validate(document)
    except PydanticValidationError as exc:
        errors: list[dict[str, Any]] = validation_errors(exc)
        for error, raw in zip(errors, exc.errors(include_url=False), strict=True):
            loc = tuple(p for p in raw["loc"] if not (isinstance(p, str) and p in ("local", "SAML2", "OIDC")))
            error["path"] = error_path(loc)
            error["line"] = locate_line(text, loc) if text else None
        first = errors[0]
        where = f" (line {first['line']})" if first.get("line") else ""
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ValidationError(
            f"Invalid instance settings at {first['path']}{where}: {first['message']}{more}",
            details={"errors": errors},
        ) from None


def save(
    session: Session, text: str, fmt: Format, actor: str | None, *, max_depth: int
) -> tuple[InstanceSettingsVersion, list[str]]:
    """Parse, check and store a new version; returns it with warnings worth showing the admin."""
    document = parse(text, fmt, max_depth)
    if isinstance(document, dict):
        document = restore_secrets(document, current_document(session))
    settings = validate(document, text)
    # Store the document as validated: types normalised, defaults not added.
    if isinstance(document.get("auth"), dict) and isinstance(document["auth"].get("providers"), list):
        document["auth"]["providers"] = [normalise_type(p) for p in document["auth"]["providers"]]
    row = InstanceSettingsVersion(content=document, created_by=actor)
    session.add(row)
    session.flush()
    warnings = [w for p in settings.auth.providers if isinstance(p, Saml2Provider) for w in p.warnings()]
    if not settings.local_login_enabled:
        warnings.append(
            "No provider of type 'local': logging in with a username and password (POST /login) is now off."
        )
    return row, warnings


def export(document: dict[str, Any], fmt: Format) -> str:
    """The document as CSON or JSON text, secrets masked."""
    masked = mask_secrets(document)
    if fmt == "json":
        return json.dumps(masked, indent=2) + "\n"
    return dump_cson(masked)
