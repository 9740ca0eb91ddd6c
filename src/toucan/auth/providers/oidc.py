"""OpenID Connect providers (Authlib + joserfc): authorization code flow with PKCE, state and nonce.

`providerConfig` is the identity provider's discovery document, pasted (it is not fetched).
The first of its `token_endpoint_auth_methods_supported` picks how the client authenticates.
The id_token is checked against `jwks_uri`; the userinfo answer against the OpenID Connect
claim types (relaxed by `userInfoRequest.user_info_schema`), and its `sub` against the id_token's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import urlencode

import httpx
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc7523 import ClientSecretJWT
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError
from joserfc.jwk import KeySet, OctKey
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from toucan.auth import sso
from toucan.auth.sso import ProviderBase, SSOConfig, sso_error
from toucan.db.engine import Database
from toucan.errors import ErrorCode

log = logging.getLogger("toucan.sso.oidc")

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "client_secret_jwt")
HTTP_TIMEOUT = 10.0
# Seconds of clock difference tolerated on the id_token's exp and iat.
CLOCK_LEEWAY = 120
STATE_COOKIE = "toucan_sso_state"
# Claims that describe the token rather than the user; kept out of the user's attributes.
_PROTOCOL_CLAIMS = {"iss", "aud", "exp", "iat", "nbf", "nonce", "at_hash", "c_hash", "azp", "auth_time", "sid", "jti"}
# The OpenID Connect standard claims and their JSON types (OpenID Connect Core, 5.1).
STANDARD_CLAIMS: dict[str, type | tuple[type, ...]] = {
    "sub": str,
    "name": str,
    "given_name": str,
    "family_name": str,
    "middle_name": str,
    "nickname": str,
    "preferred_username": str,
    "profile": str,
    "picture": str,
    "website": str,
    "email": str,
    "email_verified": bool,
    "gender": str,
    "birthdate": str,
    "zoneinfo": str,
    "locale": str,
    "phone_number": str,
    "phone_number_verified": bool,
    "address": dict,
    "updated_at": (int, float),
}

_TYPE_NAMES = {"email_verified": "a boolean", "phone_number_verified": "a boolean", "address": "an object"} | {
    "updated_at": "a number"
}


class ProviderMetadata(BaseModel):
    """The discovery document; keys this stack does not use are kept as given."""

    model_config = ConfigDict(extra="allow")

    issuer: str = Field(min_length=1)
    authorization_endpoint: str = Field(min_length=1)
    token_endpoint: str = Field(min_length=1)
    jwks_uri: str = Field(min_length=1)
    userinfo_endpoint: str | None = None
    token_endpoint_auth_methods_supported: list[str] = Field(default_factory=lambda: ["client_secret_basic"])
    id_token_signing_alg_values_supported: list[str] = Field(default_factory=lambda: ["RS256"])
    code_challenge_methods_supported: list[str] | None = None

    @field_validator("token_endpoint_auth_methods_supported")
    @classmethod
    def _first_is_usable(cls, value: list[str]) -> list[str]:
        if not value:
            return ["client_secret_basic"]
        if value[0] not in AUTH_METHODS:
            raise ValueError(
                f"the first value, {value[0]!r}, picks how Toucan authenticates to the token endpoint and "
                f"must be one of {', '.join(AUTH_METHODS)} (client_id/client_secret credentials): reorder the list"
            )
        return value


class AppCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1)
    # Secret: masked by GET /instance-settings.
    client_secret: str = Field(min_length=1)


class UserInfoSchema(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ignore: list[str] = Field(default_factory=list)
    validate_only: list[str] | None = None


class Behavior(BaseModel):
    model_config = ConfigDict(extra="forbid")

    use_authorization_header: bool = False


class UserInfoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Literal["GET", "POST"] = "POST"
    behavior: Behavior = Field(default_factory=Behavior)
    headers: dict[str, str] = Field(default_factory=dict)
    user_info_schema: UserInfoSchema = Field(default_factory=UserInfoSchema)

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class OidcConfig(SSOConfig):
    providerConfig: ProviderMetadata
    appCredentials: AppCredentials
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email"])
    userInfoRequest: UserInfoRequest = Field(default_factory=UserInfoRequest)
    # The callback URL registered at the IdP, when the one built from the request differs.
    redirectUri: str | None = None

    @model_validator(mode="after")
    def _openid_scope(self) -> OidcConfig:
        if "openid" not in self.scopes:
            raise ValueError("scopes must include 'openid' (without it there is no id_token)")
        return self

    @property
    def auth_method(self) -> str:
        return self.providerConfig.token_endpoint_auth_methods_supported[0]


class OidcProvider(ProviderBase):
    type: Literal["OIDC"]
    config: OidcConfig


# --- the flow ------------------------------------------------------------------------------------


def _pkce_challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def login_url(db: Database, provider: OidcProvider, redirect_uri: str) -> tuple[str, str]:
    """The authorization URL and the state (which the caller also binds to the browser in a cookie)."""
    config = provider.config
    state, nonce, verifier = sso.new_state(), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    params = {
        "response_type": "code",
        "client_id": config.appCredentials.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(config.scopes),
        "state": state,
        "nonce": nonce,
    }
    methods = config.providerConfig.code_challenge_methods_supported
    if methods is None or "S256" in methods:
        params |= {"code_challenge": _pkce_challenge(verifier), "code_challenge_method": "S256"}
    elif "plain" in methods:
        params |= {"code_challenge": verifier, "code_challenge_method": "plain"}
    with db.session() as session:
        sso.store_pending(
            session,
            state,
            provider.id,
            {"type": "OIDC", "nonce": nonce, "verifier": verifier, "redirect_uri": redirect_uri},
        )
    log.info("OIDC login through %s with redirect_uri=%s", provider.id, redirect_uri)
    endpoint = config.providerConfig.authorization_endpoint
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}", state


def _unreachable(provider: OidcProvider, what: str, url: str, exc: Exception) -> Exception:
    return sso_error(
        ErrorCode.IDP_UNREACHABLE,
        f"This backend cannot reach the identity provider's {what} at {url} ({type(exc).__name__}). Check "
        "the URL in providerConfig, DNS, firewalls and any outbound proxy between this backend and the IdP.",
        provider=provider.id,
    )


def _fetch_token(provider: OidcProvider, code: str, pending: dict[str, Any]) -> dict[str, Any]:
    """Exchange the code at the token endpoint, the client authenticated as `auth_method` says."""
    config = provider.config
    endpoint = config.providerConfig.token_endpoint
    method: Any = config.auth_method
    if method == "client_secret_jwt":
        method = ClientSecretJWT(endpoint)
    auth = ClientAuth(config.appCredentials.client_id, config.appCredentials.client_secret, method)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": pending["redirect_uri"],
        "code_verifier": pending["verifier"],
    }
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    uri, headers, body = auth.prepare("POST", endpoint, headers, urlencode(form))
    try:
        response = httpx.post(uri, headers=headers, content=body, timeout=HTTP_TIMEOUT)
    except httpx.TransportError as exc:
        raise _unreachable(provider, "token endpoint", endpoint, exc) from None
    try:
        token = response.json()
    except ValueError:
        token = None
    if not isinstance(token, dict):
        raise sso_error(
            ErrorCode.IDP_ERROR, f"The token endpoint answered {response.status_code} without a JSON object."
        )
    if response.status_code != 200 or "error" in token:
        raise _token_error(token.get("error"), token.get("error_description"), config.auth_method)
    return token


def _token_error(error: str | None, description: str | None, method: str) -> Exception:
    detail = f"{error}: {description}" if description else str(error)
    if error == "invalid_client":
        return sso_error(
            ErrorCode.INVALID_CLIENT,
            f"The identity provider refused this client's credentials ({detail}). Check "
            f"appCredentials.client_id and client_secret, and that the client may use {method} (the first "
            "value of token_endpoint_auth_methods_supported).",
        )
    if error == "invalid_grant":
        return sso_error(
            ErrorCode.REDIRECT_URI_MISMATCH,
            f"The identity provider refused the authorization code ({detail}). The redirect URI must be the "
            "same at login and callback and registered at the identity provider; the code may also have "
            "expired or been used already: log in again.",
        )
    return sso_error(ErrorCode.IDP_ERROR, f"The identity provider's token endpoint answered an error: {detail}")


def _key_set(provider: OidcProvider) -> KeySet:
    url = provider.config.providerConfig.jwks_uri
    try:
        response = httpx.get(url, timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        return KeySet.import_key_set(response.json())
    except httpx.TransportError as exc:
        raise _unreachable(provider, "keys (jwks_uri)", url, exc) from None
    except (httpx.HTTPStatusError, ValueError, JoseError) as exc:
        raise sso_error(ErrorCode.IDP_ERROR, f"The identity provider's keys at {url} cannot be used: {exc}") from None


def _jwt_alg(token: str) -> str:
    try:
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "==="))
        return str(header["alg"])
    except (ValueError, KeyError, TypeError):
        raise sso_error(ErrorCode.INVALID_ID_TOKEN, "The id_token is not a JWT.") from None


def verify_id_token(provider: OidcProvider, id_token: str, nonce: str) -> dict[str, Any]:
    """The id_token's claims, once its signature (jwks_uri), issuer, audience, times and nonce check out."""
    config = provider.config
    algorithms = config.providerConfig.id_token_signing_alg_values_supported
    header_alg = _jwt_alg(id_token)
    if header_alg not in algorithms or header_alg == "none":
        raise sso_error(
            ErrorCode.INVALID_ID_TOKEN,
            f"The id_token is signed with {header_alg!r}, not one of id_token_signing_alg_values_supported "
            f"({', '.join(algorithms)}).",
        )
    # HS* id_tokens are signed with the client secret; others with a key of jwks_uri.
    hmac = header_alg.startswith("HS")
    key: Any = OctKey.import_key(config.appCredentials.client_secret) if hmac else _key_set(provider)
    try:
        token = jwt.decode(id_token, key, algorithms=[header_alg])
    except JoseError as exc:
        raise sso_error(
            ErrorCode.WRONG_CERTIFICATE,
            f"The id_token's signature does not match the identity provider's keys at "
            f"{config.providerConfig.jwks_uri} ({exc.error}). Check jwks_uri in providerConfig.",
        ) from None
    registry = jwt.JWTClaimsRegistry(
        leeway=CLOCK_LEEWAY,
        iss={"essential": True, "value": config.providerConfig.issuer},
        aud={"essential": True, "value": config.appCredentials.client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(token.claims)
    except ExpiredTokenError:
        raise _clock_skew("has expired") from None
    except InvalidClaimError as exc:
        if exc.claim in ("iat", "nbf"):
            raise _clock_skew("was issued in the future") from None
        if exc.claim == "iss":
            raise sso_error(
                ErrorCode.INVALID_ID_TOKEN,
                f"The id_token's issuer is {token.claims.get('iss')!r}, not providerConfig.issuer "
                f"{config.providerConfig.issuer!r}. Copy the issuer from the discovery document.",
            ) from None
        if exc.claim == "aud":
            raise sso_error(
                ErrorCode.WRONG_AUDIENCE,
                f"The id_token is for another client ({token.claims.get('aud')!r}), not "
                f"{config.appCredentials.client_id!r}. Check appCredentials.client_id.",
            ) from None
        raise sso_error(ErrorCode.INVALID_ID_TOKEN, f"The id_token was refused: {exc.description}") from None
    except MissingClaimError as exc:
        raise sso_error(ErrorCode.INVALID_ID_TOKEN, f"The id_token lacks the claim(s) {exc.claim}.") from None
    return dict(token.claims)


def _clock_skew(what: str) -> Exception:
    return sso_error(
        ErrorCode.CLOCK_SKEW,
        f"The identity provider's id_token {what} by this server's clock. Check that the clocks of this server "
        f"and of the identity provider are right (NTP): {CLOCK_LEEWAY} seconds of difference are tolerated.",
    )


def check_userinfo_schema(claims: dict[str, Any], schema: UserInfoSchema) -> None:
    """Refuse standard claims of the wrong JSON type, except those the settings relax."""
    names = set(STANDARD_CLAIMS) if schema.validate_only is None else set(schema.validate_only) & set(STANDARD_CLAIMS)
    for name in sorted(names - set(schema.ignore)):
        if name not in claims:
            continue
        expected = STANDARD_CLAIMS[name]
        value = claims[name]
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            wanted = _TYPE_NAMES.get(name, "a string")
            raise sso_error(
                ErrorCode.USERINFO_INVALID,
                f"The identity provider's userinfo answer does not follow the OpenID Connect schema: {name} is "
                f"{value!r} ({type(value).__name__}), expected {wanted}. If you cannot change the identity "
                f"provider, add userInfoRequest: {{user_info_schema: {{ignore: ['{name}']}}}} to the settings.",
                claim=name,
            )


def fetch_userinfo(provider: OidcProvider, access_token: str) -> dict[str, Any]:
    config = provider.config
    url = config.providerConfig.userinfo_endpoint
    assert url is not None
    request = config.userInfoRequest
    headers = dict(request.headers)
    data: dict[str, str] | None = None
    params: dict[str, str] | None = None
    if request.behavior.use_authorization_header:
        headers["Authorization"] = f"Bearer {access_token}"
    elif request.method == "POST":
        data = {"access_token": access_token}
    else:
        params = {"access_token": access_token}
    try:
        response = httpx.request(request.method, url, headers=headers, data=data, params=params, timeout=HTTP_TIMEOUT)
    except httpx.TransportError as exc:
        raise _unreachable(provider, "userinfo endpoint", url, exc) from None
    if response.status_code != 200:
        raise sso_error(
            ErrorCode.IDP_ERROR,
            f"The userinfo endpoint answered {response.status_code} to a {request.method} "
            f"({'Authorization header' if request.behavior.use_authorization_header else 'token in the request'}). "
            "Check userInfoRequest (method, behavior.use_authorization_header) against what the IdP supports.",
        )
    try:
        claims = response.json()
    except ValueError:
        raise sso_error(
            ErrorCode.USERINFO_INVALID,
            "The userinfo answer is not JSON (signed or encrypted userinfo is not supported).",
        ) from None
    if not isinstance(claims, dict):
        raise sso_error(ErrorCode.USERINFO_INVALID, "The userinfo answer is not a JSON object.")
    check_userinfo_schema(claims, request.user_info_schema)
    return claims


def default_username(claims: dict[str, Any]) -> str | None:
    """`email` unless the IdP says it is not verified, else `sub` (mapping.nameId overrides both)."""
    email = claims.get("email")
    if isinstance(email, str) and email and claims.get("email_verified") is not False:
        return email
    sub = claims.get("sub")
    return str(sub) if sub is not None else None


def complete_login(
    db: Database,
    provider: OidcProvider,
    params: dict[str, str],
    cookie_state: str | None,
    token_ttl: timedelta,
) -> str:
    """Check the callback, exchange the code, verify the id_token and userinfo, log the user in."""
    state = params.get("state", "")
    # The state is checked first, so no one can put their own text on the login page with a link.
    if not state or not cookie_state or not secrets.compare_digest(state, cookie_state):
        raise sso_error(
            ErrorCode.STATE_MISMATCH,
            "This login answer does not belong to a login started in this browser (state mismatch, or cookies "
            "blocked). Start again from the login page.",
        )
    if params.get("error"):
        detail = params.get("error_description") or ""
        raise sso_error(
            ErrorCode.IDP_ERROR,
            f"The identity provider answered {params['error']}{': ' + detail if detail else ''}.",
        )
    with db.session() as session:
        pending = sso.consume_pending(session, state, provider.id)
    if pending is None:
        raise sso_error(
            ErrorCode.UNKNOWN_REQUEST,
            "This login answer does not match a login this backend started, or it already completed or is "
            f"older than {int(sso.PENDING_TTL.total_seconds() // 60)} minutes. Start again from the login page.",
        )
    code = params.get("code")
    if not code:
        raise sso_error(ErrorCode.IDP_ERROR, "The identity provider's answer has no authorization code.")
    token = _fetch_token(provider, code, pending)
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise sso_error(
            ErrorCode.INVALID_ID_TOKEN, "The token endpoint returned no id_token: is 'openid' in the scopes?"
        )
    claims = verify_id_token(provider, id_token, pending["nonce"])
    attributes = {k: v for k, v in claims.items() if k not in _PROTOCOL_CLAIMS}
    if provider.config.providerConfig.userinfo_endpoint and token.get("access_token"):
        userinfo = fetch_userinfo(provider, str(token["access_token"]))
        if userinfo.get("sub") != claims.get("sub"):
            raise sso_error(
                ErrorCode.USERINFO_INVALID,
                "The userinfo answer is about another subject than the id_token (sub differs); it was refused.",
            )
        attributes |= userinfo
    with db.session() as session:
        _user, raw = sso.login_user(
            session, provider.id, provider.config, attributes, default_username(attributes), token_ttl
        )
    return raw
