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
import html
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, quote_plus

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from toucan.db.engine import Database
from toucan.db.etl_models import AppSecret
from toucan.errors import NotFound, ValidationError
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
            code="misplaced_secret",
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


# --- redaction -------------------------------------------------------------------------------

# Values shorter than this are not redacted: they would blank ordinary words of every message.
SHORTEST = 3
# The base64 of a very short value, cut from a longer encoded text, is a few letters that
# ordinary text holds too.
_SHORTEST_CORE = 6
# Lines of a multi-line secret (a PEM key) and text members of a JSON one (a service account
# key) at least this long are hidden on their own: a message may quote one line or member.
PART = 16

# No run of characters *shorter* than a whole form is redacted: a builder chooses text that
# reaches messages (domain names, file names), so hiding any 8 characters of a secret would tell
# them, one guessed character at a time, the rest of a secret whose start is known (a URL, a
# PEM header, a JSON key). Whole forms tell only whether a whole value was guessed. Messages are
# redacted before they are cut short (see fetch_url, the connectors' messages).


def _fold(text: str) -> str:
    """Lower case, one character for one (so positions in the folded text are the text's)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _base64_cores(raw: bytes) -> Iterator[str]:
    """The base64 characters that encode `raw` alone, wherever it starts in a longer encoded
    text (as the password in `Basic base64(user:password)`): one core per alignment."""
    for shift in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * shift + raw).decode()
            core = encoded[-(-8 * shift // 6) : 8 * (shift + len(raw)) // 6]
            if len(core) >= _SHORTEST_CORE:
                yield core
            if shift == 0:
                yield encoded
                yield encoded.rstrip("=")


def _parts(value: str) -> Iterator[str]:
    """The value, the long lines of a multi-line one, the long text members of a JSON one."""
    yield value
    if "\n" in value:
        yield from (line.strip() for line in value.splitlines() if len(line.strip()) >= PART)
    if value.lstrip()[:1] in ("{", "["):
        try:
            document = json.loads(value)
        except (ValueError, RecursionError):
            return
        stack = [document]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, str) and len(item) >= PART:
                yield from _parts(item)


# Longer parts are matched percent-encoded only as urllib encodes them (the pattern that takes
# any character encoded or not would be too large).
_FLEXIBLE = 1024


def _percent_pattern(part: str) -> str:
    """A pattern for `part` percent-encoded whatever the encoder left as is (urllib keeps `/`,
    SQLAlchemy `+`…): each character literally or as its %XX bytes, a space also as `+`."""
    out = []
    for char in part:
        encoded = "".join(f"%{byte:02x}" for byte in char.encode())
        out.append(f"(?:{re.escape(char)}|{encoded}{'|[+]' if char == ' ' else ''})")
    return "".join(out)


def secret_forms(value: str) -> set[str]:
    """The forms a value takes in messages: as is, percent-encoded (path and form styles),
    JSON- and Python-escaped, HTML-escaped, hex, and base64 (standard and URL-safe, padded or
    not, at any alignment). Case is ignored when matching."""
    forms: set[str] = set()
    for part in _parts(value):
        raw = part.encode()
        forms |= {
            part,
            quote(part, safe=""),
            quote(part),
            quote_plus(part),
            json.dumps(part)[1:-1],
            json.dumps(part, ensure_ascii=False)[1:-1],
            repr(part)[1:-1],
            html.escape(part),
            raw.hex(),
            *_base64_cores(raw),
        }
    return {form for form in forms if len(form) >= SHORTEST}


class Redactor:
    """Replaces every secret value in a text, in any of its `secret_forms` (percent-encoded with
    any set of characters left as is) and in any case, by `***`."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        kept = [value for value in values if isinstance(value, str) and len(value) >= SHORTEST]
        forms = {_fold(form) for value in kept for form in secret_forms(value)}
        self._forms = tuple(sorted(forms, key=len, reverse=True))
        patterns = {_percent_pattern(part) for value in kept for part in _parts(value) if len(part) <= _FLEXIBLE}
        self._patterns = tuple(re.compile(p, re.IGNORECASE) for p in sorted(patterns))

    def __bool__(self) -> bool:
        return bool(self._forms)

    def __call__(self, text: str) -> str:
        """`text` with the secrets hidden."""
        if not self._forms or not text:
            return text
        low = _fold(text)
        # Marked first, replaced after: two secrets that overlap in the text are both hidden whole.
        hidden = bytearray(len(text))
        for form in self._forms:
            start = low.find(form)
            while start != -1:
                hidden[start : start + len(form)] = b"\1" * len(form)
                start = low.find(form, start + 1)
        if "%" in text or "+" in text:
            for pattern in self._patterns:
                for match in pattern.finditer(text):
                    hidden[match.start() : match.end()] = b"\1" * (match.end() - match.start())
        if not any(hidden):
            return text
        parts: list[str] = []
        start = 0
        while start < len(text):
            end = start
            while end < len(text) and hidden[end] == hidden[start]:
                end += 1
            parts.append("***" if hidden[start] else text[start:end])
            start = end
        return "".join(parts)

    def value(self, value: Any) -> Any:
        """Every string inside a JSON-like value redacted (error details)."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {self(k) if isinstance(k, str) else k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value
