"""The real identity providers the SSO tests log in through.

- SAML2: Debian's SimpleSAMLphp, served by PHP's built-in server from a config directory the
  tests generate (keys, IdP, users, and the service providers it trusts).
- OpenID Connect: `oidc-provider` from npm, run by tests/auth/oidc/server.js with clients and
  accounts from a JSON file the tests write.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.helpers import free_port, stop_process

SIMPLESAMLPHP = Path("/usr/share/simplesamlphp")
OIDC_DIR = Path(__file__).resolve().parent / "oidc"

# Users of both identity providers: username → (password, attributes).
USERS: dict[str, tuple[str, dict[str, Any]]] = {
    "alice": ("alice-pw", {"uid": "alice", "email": "alice@example.com", "groups": ["analysts", "staff"]}),
    "bob": ("bob-pw", {"uid": "bob", "email": "bob@example.com", "groups": ["staff"]}),
}


@dataclass(frozen=True)
class KeyPair:
    key_pem: str
    cert_pem: str

    @property
    def cert_body(self) -> str:
        """The certificate's base64 body on one line, as SAML metadata and the FAQ show it."""
        return "".join(line for line in self.cert_pem.splitlines() if "CERTIFICATE" not in line)


def make_keypair(common_name: str) -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return KeyPair(key_pem, cert.public_bytes(serialization.Encoding.PEM).decode())


def _php(value: Any) -> str:
    """A Python value as a PHP literal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, list):
        return "[" + ", ".join(_php(v) for v in value) + "]"
    if isinstance(value, dict):
        return "[" + ", ".join(f"{_php(k)} => {_php(v)}" for k, v in value.items()) + "]"
    raise TypeError(type(value))


def _log_file(name: str) -> Any:
    return tempfile.NamedTemporaryFile("w+", prefix=f"{name}-", suffix=".log", delete=False)


def _output(proc: subprocess.Popen[str]) -> str:
    if proc.stdout is not None:
        return proc.stdout.read()
    return ""


def _wait_until_up(url: str, proc: subprocess.Popen[str], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(
                f"{what} exited: {_output(proc)} (its log: /tmp/simplesamlphp-*.log or /tmp/oidc-provider-*.log)"
            )
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not answer {url} in time")
        time.sleep(0.1)


# --- SimpleSAMLphp ---------------------------------------------------------------------------------


@dataclass
class SamlIdP:
    base: str
    directory: Path
    keys: KeyPair
    sps: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def entity_id(self) -> str:
        return f"{self.base}/saml2/idp/metadata.php"

    @property
    def sso_url(self) -> str:
        return f"{self.base}/saml2/idp/SSOService.php"

    def trust_sp(
        self,
        entity_id: str,
        acs_url: str,
        *,
        sp_cert: str | None = None,
        assertion_lifetime: int | None = None,
    ) -> None:
        """Register a service provider (rewrites the metadata file; PHP reads it per request)."""
        entry: dict[str, Any] = {
            "AssertionConsumerService": acs_url,
            "NameIDFormat": "urn:oasis:names:tc:SAML:2.0:nameid-format:unspecified",
            "simplesaml.nameidattribute": "uid",
            "saml20.sign.assertion": True,
            "saml20.sign.response": True,
            "validate.authnrequest": sp_cert is not None,
        }
        if sp_cert is not None:
            entry["certData"] = sp_cert
        if assertion_lifetime is not None:
            entry["assertion.lifetime"] = assertion_lifetime
        self.sps[entity_id] = entry
        lines = ["<?php"] + [f"$metadata[{_php(k)}] = {_php(v)};" for k, v in self.sps.items()]
        path = self.directory / "metadata" / "saml20-sp-remote.php"
        tmp = path.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        tmp.replace(path)

    def provider_config(self, **overrides: Any) -> dict[str, Any]:
        """The `idp` block of a Toucan SAML2 provider for this IdP."""
        return {
            "entityId": self.entity_id,
            "singleSignOnService": {
                "url": self.sso_url,
                "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
            },
            "x509cert": self.keys.cert_body,
            **overrides,
        }


def _write_simplesamlphp_config(directory: Path, base: str, keys: KeyPair) -> None:
    for sub in ("cert", "metadata", "log", "data", "tmp", "sessions"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    (directory / "cert" / "idp.pem").write_text(keys.key_pem)
    (directory / "cert" / "idp.crt").write_text(keys.cert_pem)
    config = {
        "baseurlpath": f"{base}/",
        "certdir": f"{directory}/cert/",
        "loggingdir": f"{directory}/log/",
        "datadir": f"{directory}/data/",
        "tempdir": f"{directory}/tmp",
        "metadatadir": f"{directory}/metadata/",
        "secretsalt": "toucan-tests-salt",
        "auth.adminpassword": "toucan-tests-admin",
        "technicalcontact_email": "na@example.org",
        "timezone": "UTC",
        "enable.saml20-idp": True,
        "module.enable": {"exampleauth": True, "core": True, "saml": True, "admin": True},
        "logging.handler": "file",
        "logging.logfile": "simplesamlphp.log",
        "store.type": "phpsession",
        "session.cookie.secure": False,
        "session.cookie.samesite": None,
        "session.phpsession.savepath": f"{directory}/sessions",
        "language.available": ["en"],
        "debug": {"saml": False, "backtraces": True, "validatexml": False},
        "showerrors": True,
    }
    (directory / "config.php").write_text(
        f"<?php\n$config = {_php(config)};\n$config['logging.level'] = SimpleSAML\\Logger::INFO;\n"
    )
    users: dict[Any, Any] = {0: "exampleauth:UserPass"}
    for name, (password, attrs) in USERS.items():
        users[f"{name}:{password}"] = {k: v if isinstance(v, list) else [v] for k, v in attrs.items()}
    sources = {"admin": {0: "core:AdminPassword"}, "users": users}
    (directory / "authsources.php").write_text(f"<?php\n$config = {_php(sources)};\n")
    idp = {"host": "__DEFAULT__", "privatekey": "idp.pem", "certificate": "idp.crt", "auth": "users"}
    (directory / "metadata" / "saml20-idp-hosted.php").write_text(
        f"<?php\n$metadata[{_php(base + '/saml2/idp/metadata.php')}] = {_php(idp)};\n"
    )
    (directory / "metadata" / "saml20-sp-remote.php").write_text("<?php\n")


@contextmanager
def run_simplesamlphp(directory: Path) -> Iterator[SamlIdP]:
    """SimpleSAMLphp on 127.0.0.1 with a fresh config and keys under `directory`."""
    if not (SIMPLESAMLPHP / "www").is_dir() or shutil.which("php") is None:
        raise AssertionError("SimpleSAMLphp is missing: apt-get install simplesamlphp php8.2-cli php8.2-xml")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    keys = make_keypair("simplesamlphp-idp")
    _write_simplesamlphp_config(directory, base, keys)
    env = {**os.environ, "SIMPLESAMLPHP_CONFIG_DIR": str(directory)}
    proc = subprocess.Popen(
        ["php", "-d", "variables_order=EGPCS", "-S", f"127.0.0.1:{port}", "-t", str(SIMPLESAMLPHP / "www")],
        env=env,
        # A file, not a pipe: nobody reads a pipe during the tests, and a full one blocks the server.
        stdout=_log_file("simplesamlphp"),
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_until_up(f"{base}/saml2/idp/metadata.php", proc, "SimpleSAMLphp")
        yield SamlIdP(base=base, directory=directory, keys=keys)
    finally:
        stop_process(proc)


def saml_idp_login(client: httpx.Client, start_url: str, username: str, password: str) -> dict[str, str]:
    """Follow the IdP's redirects, fill its login form, and return the form it posts back to the SP.

    Returns `{"action": ACS URL, "SAMLResponse": ..., "RelayState": ...}`.
    """
    response = client.get(start_url, follow_redirects=True)
    assert response.status_code == 200, response.text[:2000]
    form = _form(response.text)
    if "SAMLResponse" in form["fields"]:  # already logged in at the IdP (its session cookie)
        return {"action": form["action"], **form["fields"]}
    assert "password" in form["fields"] or "AuthState" in form["fields"], response.text[:2000]
    fields = {**form["fields"], "username": username, "password": password}
    response = client.post(_absolute(str(response.url), form["action"]), data=fields, follow_redirects=True)
    assert response.status_code == 200, response.text[:2000]
    posted = _form(response.text)
    assert "SAMLResponse" in posted["fields"], response.text[:2000]
    return {"action": posted["action"], **posted["fields"]}


def _absolute(page_url: str, action: str) -> str:
    if action.startswith("http"):
        return action
    url = httpx.URL(page_url)
    return str(url.join(action)) if action else page_url


def _form(html: str) -> dict[str, Any]:
    match = re.search(r"<form[^>]*action=\"([^\"]*)\"", html, re.I)
    action = unescape(match.group(1)) if match else ""
    fields: dict[str, str] = {}
    for tag in re.findall(r"<input[^>]*>", html, re.I):
        name = re.search(r"name=\"([^\"]*)\"", tag)
        value = re.search(r"value=\"([^\"]*)\"", tag)
        if name:
            fields[unescape(name.group(1))] = unescape(value.group(1)) if value else ""
    return {"action": action, "fields": fields}


# --- oidc-provider ---------------------------------------------------------------------------------


@dataclass
class OidcOP:
    issuer: str
    clients: dict[str, dict[str, Any]]

    def discovery(self) -> dict[str, Any]:
        document: dict[str, Any] = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=5).json()
        return document


def ensure_node_modules() -> None:
    if (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        return
    done = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=OIDC_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@contextmanager
def run_oidc_provider(
    directory: Path, clients: list[dict[str, Any]], clock_offset_seconds: int = 0
) -> Iterator[OidcOP]:
    """oidc-provider on 127.0.0.1 with these clients and the USERS accounts (its clock shifted if asked)."""
    if shutil.which("node") is None:
        raise AssertionError("node is missing: apt-get install nodejs npm")
    ensure_node_modules()
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    accounts = {
        name: {"password": password, "claims": {"sub": name, **{k: v for k, v in attrs.items() if k != "uid"}}}
        for name, (password, attrs) in USERS.items()
    }
    # A user whose IdP sends email_verified as a string, the FAQ's example.
    accounts["carol"] = {
        "password": "carol-pw",
        "claims": {"sub": "carol", "email": "carol@example.com", "email_verified": "true"},
    }
    for account in accounts.values():
        account["claims"].setdefault("email_verified", True)
    config = {
        "port": port,
        "issuer": issuer,
        "clients": clients,
        "accounts": accounts,
        "clockOffsetSeconds": clock_offset_seconds,
    }
    config_path = directory / "oidc-config.json"
    config_path.write_text(json.dumps(config))
    proc = subprocess.Popen(
        ["node", str(OIDC_DIR / "server.mjs"), str(config_path)],
        stdout=_log_file("oidc-provider"),
        stderr=subprocess.STDOUT,
        text=True,
        cwd=OIDC_DIR,
    )
    try:
        _wait_until_up(f"{issuer}/.well-known/openid-configuration", proc, "oidc-provider")
        yield OidcOP(issuer=issuer, clients={c["client_id"]: c for c in clients})
    finally:
        stop_process(proc)


def oidc_idp_login(client: httpx.Client, authorize_url: str, username: str, password: str) -> httpx.URL:
    """Log in at oidc-provider's form; returns the URL it finally redirects to (the callback).

    Raises AssertionError with the IdP's page when it shows an error instead.
    """
    origin = httpx.URL(authorize_url).copy_with(path="/", query=None, fragment=None)
    response = client.get(authorize_url, follow_redirects=False)
    for _ in range(10):
        location = response.headers.get("location")
        if response.status_code in (302, 303) and location:
            target = response.url.join(location)
            if (target.host, target.port) != (origin.host, origin.port):
                return target
            response = client.get(target, follow_redirects=False)
            continue
        assert response.status_code == 200, response.text[:2000]
        form = _form(response.text)
        assert "password" in form["fields"], response.text[:2000]
        fields = {**form["fields"], "login": username, "password": password}
        response = client.post(_absolute(str(response.url), form["action"]), data=fields, follow_redirects=False)
    raise AssertionError("oidc-provider did not redirect back")
