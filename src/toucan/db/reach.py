"""The first connection to the metadata database at start-up: when it fails, one sentence that
names the setting and the fix (a wrong CA, a host name the certificate does not cover...),
instead of the driver's traceback."""

from __future__ import annotations

import re

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from toucan.db.engine import Database
from toucan.errors import ServiceUnavailable

PRIMARY = "TOUCAN_DATABASE_URL"
READONLY = "TOUCAN_DATABASE_READONLY_URL"
EXAMPLE = "?sslmode=verify-full&sslrootcert=/etc/ssl/myCA.crt"


def check_reach(db: Database) -> None:
    """Connect once to the database and to its read-only replica (when another one)."""
    _connect(db.engine, PRIMARY)
    if db.readonly_engine is not db.engine:
        _connect(db.readonly_engine, READONLY)


def _connect(engine: Engine, setting: str) -> None:
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        raise ServiceUnavailable(
            explain(setting, str(exc.orig), engine.url.render_as_string(hide_password=True)),
            details={"setting": setting},
        ) from None


def explain(setting: str, driver_message: str, url: str) -> str:
    """What to do about a failed connection, from the driver's (libpq's) message."""
    query = make_url(url).query
    ca = query.get("sslrootcert")
    ca_file = ca if isinstance(ca, str) else None
    mode = query.get("sslmode")
    text = " ".join(driver_message.split())
    if "certificate verify failed" in text:
        where = f"the CA in sslrootcert ({ca_file})" if ca_file else "a CA this machine trusts (no sslrootcert)"
        return (
            f"{setting}: the database server's TLS certificate is not signed by {where}. Set sslrootcert to "
            f"the certificate of the CA that signed the server's certificate, mounted in the container ({EXAMPLE})."
        )
    if re.search(r"root certificate file .* does not exist", text):
        return (
            f"{setting}: sslrootcert names {ca_file or 'a file'}, which does not exist here. Mount the CA "
            "certificate at that path, or correct the path."
        )
    if "does not match host name" in text:
        return (
            f"{setting}: the database server's certificate is not issued for the host in the URL "
            "(sslmode=verify-full checks it). Use the host name the certificate names."
        )
    if "server does not support SSL" in text:
        return (
            f"{setting}: the URL asks for TLS (sslmode={mode}) but the database server does not offer it. "
            "Turn TLS on at the server, or change sslmode."
        )
    first = text.split(" DETAIL:")[0]
    return f"{setting}: cannot connect to the metadata database: {first} Check the host, port, user and password."
