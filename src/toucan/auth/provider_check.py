"""Checking an identity provider step by step, before anyone logs in through it: the "Test this
provider" button of the instance settings, `POST /instance-settings/providers/test`; and reading
an identity provider's own description (OpenID Connect discovery document, SAML metadata) to
fill the provider's form, `POST /instance-settings/providers/discover`.

Every outbound request goes through `fetch`, given by the caller: the API passes one guarded
against SSRF like the connectors' (`TOUCAN_CONNECTORS_ALLOWED_HOSTS`), which this floor cannot
import. The answer is `{"provider", "type", "ok", "steps": [{"name", "ok", "detail"}]}`, as the
data providers' checks answer: `ok` is true, false (the detail says why and what to fix) or
null (not checked, or nothing to say yes or no to). Secrets never appear in an answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc7523 import ClientSecretJWT
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from pydantic import ValidationError as PydanticValidationError

from toucan.auth.instance_settings import AuthSettings
from toucan.auth.providers import LocalProvider, OidcProvider, Provider, Saml2Provider
from toucan.errors import ToucanError, ValidationError
from toucan.formats import error_path, validation_errors


@dataclass(frozen=True)
class Fetched:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


# (method, url, headers, body) → the answer; raises ToucanError when the URL may not be reached
# (its message says why: not allowed, unreachable, timed out).
Fetch = Callable[[str, str, dict[str, str], bytes | None], Fetched]

# A certificate expiring sooner than this is worth a warning.
EXPIRY_WARNING = timedelta(days=30)


def _step(name: str, ok: bool | None, detail: str) -> dict[str, Any]:
    return {"name": name, "ok": ok, "detail": detail}


def parse_provider(document: Any) -> Provider:
    """The provider checked as the instance settings check it; a 400 naming the field
    (`config.appCredentials.client_id`) otherwise."""
    if not isinstance(document, dict):
        raise ValidationError("The provider must be an object with an id, a type and a config.")
    try:
        return AuthSettings.model_validate({"providers": [document]}).providers[0]
    except PydanticValidationError as exc:
        errors = validation_errors(exc)
        for error, raw in zip(errors, exc.errors(include_url=False), strict=True):
            # providers.0.SAML2.config.idp… → config.idp…
            loc = tuple(p for p in raw["loc"][2:] if not (isinstance(p, str) and p in ("local", "SAML2", "OIDC")))
            error["path"] = error_path(loc) if loc else "provider"
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ValidationError(
            f"Invalid provider at {first['path']}: {first['message']}{more}", details={"errors": errors}
        ) from None


def check_provider(
    provider: Provider, fetch: Fetch, *, callback_url: str, metadata_url: str | None = None
) -> dict[str, Any]:
    """Each step of `provider` checked against the identity provider it names."""
    if isinstance(provider, LocalProvider):
        steps = [_step("settings", True, "The local provider: usernames and passwords of this instance.")]
    elif isinstance(provider, OidcProvider):
        steps = _check_oidc(provider, fetch, callback_url)
    else:
        steps = _check_saml(provider, fetch, callback_url, metadata_url)
    return {
        "provider": provider.id,
        "type": provider.type,
        "ok": all(s["ok"] is not False for s in steps),
        "steps": steps,
    }


def _get(fetch: Fetch, url: str) -> Fetched:
    return fetch("GET", url, {"Accept": "application/json, application/xml;q=0.9, */*;q=0.5"}, None)


# --- OpenID Connect ------------------------------------------------------------------------------

DISCOVERY_PATH = "/.well-known/openid-configuration"
_COMPARED = ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint")


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + DISCOVERY_PATH


def discover_oidc(issuer_or_url: str, fetch: Fetch) -> dict[str, Any]:
    """The issuer's discovery document (its URL, or the issuer's, given), as providerConfig takes it."""
    url = issuer_or_url if issuer_or_url.rstrip("/").endswith(DISCOVERY_PATH) else discovery_url(issuer_or_url)
    answer = _get(fetch, url)
    if answer.status != 200:
        raise ValidationError(
            f"{url} answered HTTP {answer.status}, not a discovery document: check the issuer URL.",
            details={"url": url, "status": answer.status},
        )
    try:
        document = answer.json()
    except ValueError:
        document = None
    if not isinstance(document, dict) or not isinstance(document.get("issuer"), str):
        raise ValidationError(f"{url} did not answer a JSON discovery document with an issuer.", details={"url": url})
    return document


def _check_oidc(provider: OidcProvider, fetch: Fetch, callback_url: str) -> list[dict[str, Any]]:
    config = provider.config
    meta = config.providerConfig
    steps = [_step("settings", True, f"Valid; the client authenticates with {config.auth_method}.")]

    # 1. The discovery document, compared with what was pasted.
    url = discovery_url(meta.issuer)
    try:
        document = discover_oidc(meta.issuer, fetch)
    except ToucanError as exc:
        steps.append(_step("discovery document", False, exc.message))
    else:
        differences = []
        if document.get("issuer") != meta.issuer:
            differences.append(f"issuer is {document.get('issuer')!r} there, {meta.issuer!r} here")
        for key in _COMPARED:
            mine, theirs = getattr(meta, key), document.get(key)
            if mine and theirs and mine != theirs:
                differences.append(f"{key} is {theirs!r} there, {mine!r} here")
        if differences:
            steps.append(
                _step(
                    "discovery document",
                    False,
                    f"{url} differs from the provider's settings: {'; '.join(differences)}. "
                    "Fetch the discovery document again in the form.",
                )
            )
        else:
            steps.append(_step("discovery document", True, f"{url} read; the endpoints agree."))

    # 2. The keys the id_token is checked with.
    try:
        answer = _get(fetch, meta.jwks_uri)
        if answer.status != 200:
            raise ValidationError(f"{meta.jwks_uri} answered HTTP {answer.status}.")
        keys = KeySet.import_key_set(answer.json())
    except ToucanError as exc:
        steps.append(_step("signing keys (jwks_uri)", False, exc.message))
    except (ValueError, TypeError, KeyError, AttributeError, JoseError) as exc:
        # A document that is not a key set breaks joserfc in several ways.
        steps.append(_step("signing keys (jwks_uri)", False, f"{meta.jwks_uri} is not a usable key set: {exc!s:.200}"))
    else:
        types = sorted({k.key_type for k in keys.keys})
        algs = meta.id_token_signing_alg_values_supported
        asymmetric = [a for a in algs if not a.startswith("HS")]
        if asymmetric and not keys.keys:
            steps.append(
                _step(
                    "signing keys (jwks_uri)",
                    False,
                    f"{meta.jwks_uri} holds no key, but id_tokens are signed with {', '.join(asymmetric)}.",
                )
            )
        else:
            steps.append(
                _step(
                    "signing keys (jwks_uri)",
                    True,
                    f"{len(keys.keys)} key(s) ({', '.join(types) or 'none'}); id_tokens signed with {', '.join(algs)}.",
                )
            )

    # 3. The client's credentials, at the token endpoint: a made-up code must be refused as a
    # bad grant (the client was recognised), not as a bad client.
    redirect_uri = config.redirectUri or callback_url
    steps.append(_check_client(provider, fetch, redirect_uri))
    steps.append(
        _step(
            "redirect URI",
            None,
            f"Register {redirect_uri} as a redirect URI of the client {config.appCredentials.client_id!r} "
            "at the identity provider.",
        )
    )
    return steps


def _check_client(provider: OidcProvider, fetch: Fetch, redirect_uri: str) -> dict[str, Any]:
    config = provider.config
    endpoint = config.providerConfig.token_endpoint
    method: Any = config.auth_method
    if method == "client_secret_jwt":
        method = ClientSecretJWT(endpoint)
    auth = ClientAuth(config.appCredentials.client_id, config.appCredentials.client_secret, method)
    form = {"grant_type": "authorization_code", "code": "toucan-provider-test", "redirect_uri": redirect_uri}
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    uri, headers, body = auth.prepare("POST", endpoint, headers, urlencode(form))
    name = "client credentials"
    try:
        answer = fetch("POST", uri, dict(headers), body.encode() if isinstance(body, str) else body)
    except ToucanError as exc:
        return _step(name, False, exc.message)
    try:
        error = answer.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if error == "invalid_client" or answer.status == 401:
        return _step(
            name,
            False,
            f"The token endpoint refused the client {config.appCredentials.client_id!r} (HTTP {answer.status}, "
            f"{error or 'no error code'}): check client_id and client_secret, and that the client may use "
            f"{config.auth_method}.",
        )
    if error == "invalid_grant":
        client = config.appCredentials.client_id
        return _step(name, True, f"The token endpoint accepted the client {client!r} ({config.auth_method}).")
    return _step(
        name,
        None,
        f"The token endpoint answered HTTP {answer.status} ({error or 'no error code'}) to a test code: "
        "the credentials could not be confirmed this way; a login will tell.",
    )


# --- SAML2 -----------------------------------------------------------------------------------------


def discover_saml(url: str, fetch: Fetch) -> dict[str, Any]:
    """The IdP's metadata at `url`, as the provider's `idp` block takes it."""
    answer = _get(fetch, url)
    if answer.status != 200:
        raise ValidationError(
            f"{url} answered HTTP {answer.status}, not SAML metadata: check the metadata URL.",
            details={"url": url, "status": answer.status},
        )
    try:
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(answer.body)
    except Exception as exc:  # lxml and the parser raise many kinds on a page that is not metadata
        raise ValidationError(f"{url} is not SAML metadata: {str(exc)[:200]}", details={"url": url}) from None
    idp = parsed.get("idp") if isinstance(parsed, dict) else None
    if not isinstance(idp, dict) or not idp.get("entityId"):
        raise ValidationError(f"{url} describes no identity provider (no IDPSSODescriptor).", details={"url": url})
    certs = (idp.get("x509certMulti") or {}).get("signing") or ([idp["x509cert"]] if idp.get("x509cert") else [])
    return {
        "entityId": idp["entityId"],
        "singleSignOnService": idp.get("singleSignOnService") or {},
        "x509cert": certs[0] if certs else "",
        "signingCertificates": certs,
    }


def _cert_body(value: str) -> str:
    return "".join(OneLogin_Saml2_Utils.format_cert(value, heads=False).split())


def _check_certificate(pem: str, what: str) -> dict[str, Any]:
    cert = x509.load_pem_x509_certificate(OneLogin_Saml2_Utils.format_cert(pem).encode())
    subject = cert.subject.rfc4514_string() or "(no subject)"
    expires = cert.not_valid_after_utc
    now = datetime.now(UTC)
    if expires <= now:
        return _step(what, False, f"{subject} expired on {expires:%Y-%m-%d}: logins will fail; use the current one.")
    if expires - now < EXPIRY_WARNING:
        return _step(what, True, f"{subject}, valid until {expires:%Y-%m-%d} — soon: plan its replacement.")
    return _step(what, True, f"{subject}, valid until {expires:%Y-%m-%d}.")


def _check_saml(
    provider: Saml2Provider, fetch: Fetch, callback_url: str, metadata_url: str | None
) -> list[dict[str, Any]]:
    config = provider.config
    idp, sp = config.idp, config.sp
    steps = [_step("settings", True, "Valid (python3-saml accepts them).")]
    steps.append(
        _check_certificate(idp.x509cert, "IdP certificate")
        if idp.x509cert.strip()
        else _step("IdP certificate", None, "Given as x509certMulti or a fingerprint: not checked here.")
    )

    # The IdP's metadata: at the URL given, else at its entityId when that is a URL (it often is).
    url = metadata_url or (idp.entityId if idp.entityId.startswith(("http://", "https://")) else None)
    if url is None:
        steps.append(_step("IdP metadata", None, "No metadata URL given (and the entityId is not a URL)."))
    else:
        try:
            meta = discover_saml(url, fetch)
        except ToucanError as exc:
            guessed = " (the entityId, tried as its metadata URL)" if metadata_url is None else ""
            steps.append(_step("IdP metadata", None if metadata_url is None else False, exc.message + guessed))
        else:
            differences = []
            if meta["entityId"] != idp.entityId:
                differences.append(f"entityId is {meta['entityId']!r} there, {idp.entityId!r} here")
            sso_url = meta["singleSignOnService"].get("url")
            if sso_url and sso_url != idp.singleSignOnService.url:
                differences.append(f"the sign-on URL is {sso_url!r} there, {idp.singleSignOnService.url!r} here")
            signing = {_cert_body(c) for c in meta["signingCertificates"]}
            if idp.x509cert.strip() and signing and _cert_body(idp.x509cert) not in signing:
                differences.append("x509cert is not one of the IdP's signing certificates")
            if differences:
                steps.append(
                    _step(
                        "IdP metadata",
                        False,
                        f"{url} differs from the provider's settings: {'; '.join(differences)}. "
                        "Import the metadata again in the form.",
                    )
                )
            else:
                steps.append(_step("IdP metadata", True, f"{url} read; entityId, sign-on URL and certificate agree."))

    # The sign-on URL answers (any HTTP answer below 500: it wants a SAMLRequest we do not send).
    sso = idp.singleSignOnService.url or ""
    try:
        answer = fetch("GET", sso, {}, None)
    except ToucanError as exc:
        steps.append(_step("sign-on URL", False, exc.message))
    else:
        reached = answer.status < 500
        steps.append(_step("sign-on URL", reached, f"{sso} answered HTTP {answer.status}."))

    # The service provider's own key pair, when it signs.
    if sp.privateKey.strip() and sp.x509cert.strip():
        try:
            key = serialization.load_pem_private_key(
                OneLogin_Saml2_Utils.format_private_key(sp.privateKey).encode(), password=None
            )
            cert = x509.load_pem_x509_certificate(OneLogin_Saml2_Utils.format_cert(sp.x509cert).encode())
            der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            same = key.public_key().public_bytes(der, spki) == cert.public_key().public_bytes(der, spki)
        except (ValueError, TypeError) as exc:
            steps.append(_step("SP key pair", False, f"sp.privateKey cannot be read: {str(exc)[:160]}"))
        else:
            steps.append(
                _step("SP key pair", True, "sp.privateKey matches sp.x509cert.")
                if same
                else _step(
                    "SP key pair", False, "sp.privateKey is not the key of sp.x509cert: the IdP will refuse signatures."
                )
            )
    else:
        steps.append(_step("SP key pair", None, "No SP key: requests and metadata are not signed."))
    acs = sp.assertionConsumerService.url or callback_url
    steps.append(
        _step(
            "at the IdP",
            None,
            f"Register the service provider {sp.entityId!r} with the assertion consumer service {acs}.",
        )
    )
    return steps
