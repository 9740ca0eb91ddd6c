"""SAML2 providers (python3-saml): SP metadata, SP-initiated login, and the checks on the answer.

The `config` block is the FAQ's: `defaultRedirectUrl`, `security` (python3-saml's security
settings), `sp` and `idp`. The answer (`POST .../acs`) must be signed by `idp.x509cert`, be
addressed to this service provider (audience, destination), answer a login request this
backend sent and did not see answered yet (`InResponseTo`), be within its validity window,
and never have been used before.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from cryptography import x509
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.orm import Session

from toucan.auth import sso
from toucan.auth.sso import ProviderBase, SSOConfig, sso_error
from toucan.errors import AuthenticationError, ErrorCode, ValidationError

log = logging.getLogger("toucan.sso.saml2")

HTTP_POST = OneLogin_Saml2_Constants.BINDING_HTTP_POST
HTTP_REDIRECT = OneLogin_Saml2_Constants.BINDING_HTTP_REDIRECT
NAMEID_UNSPECIFIED = OneLogin_Saml2_Constants.NAMEID_UNSPECIFIED
# python3-saml's tolerance between the two servers' clocks.
CLOCK_DRIFT = OneLogin_Saml2_Constants.ALLOWED_CLOCK_DRIFT


def _check_cert(value: str) -> str:
    if not value.strip():
        return value
    try:
        x509.load_pem_x509_certificate(OneLogin_Saml2_Utils.format_cert(value).encode())
    except ValueError:
        raise ValueError("is not an X.509 certificate (PEM, or its base64 body on one line)") from None
    return value


class Endpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    binding: str = HTTP_POST


class SPConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entityId: str = Field(min_length=1)
    assertionConsumerService: Endpoint = Field(default_factory=Endpoint)
    NameIDFormat: str = NAMEID_UNSPECIFIED
    x509cert: str = ""
    # Secret: masked by GET /instance-settings. Needed to sign requests or metadata.
    privateKey: str = ""

    _cert = field_validator("x509cert")(_check_cert)


class IdPConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entityId: str = Field(min_length=1)
    singleSignOnService: Endpoint
    x509cert: str = ""
    x509certMulti: dict[str, list[str]] | None = None
    certFingerprint: str = ""
    certFingerprintAlgorithm: str = "sha1"

    _cert = field_validator("x509cert")(_check_cert)

    @model_validator(mode="after")
    def _needs_a_certificate(self) -> IdPConfig:
        if not (self.x509cert.strip() or self.x509certMulti or self.certFingerprint):
            raise ValueError(
                "x509cert is required: the identity provider's signing certificate, from its metadata, "
                "is what proves its answers are genuine"
            )
        if not self.singleSignOnService.url:
            raise ValueError("singleSignOnService.url is required: the identity provider's sign-on URL")
        return self


class Saml2Config(SSOConfig):
    security: dict[str, Any] = Field(default_factory=dict)
    sp: SPConfig
    idp: IdPConfig

    @model_validator(mode="after")
    def _python3_saml_accepts_it(self) -> Saml2Config:
        try:
            OneLogin_Saml2_Settings(self.toolkit_settings("https://backend.invalid/acs"), sp_validation_only=False)
        except OneLogin_Saml2_Error as exc:
            raise ValueError(_explain_settings_error(str(exc))) from None
        return self

    def toolkit_settings(self, acs_url: str) -> dict[str, Any]:
        """The settings dict python3-saml takes, strict; the ACS URL defaults to this backend's."""
        sp: dict[str, Any] = {
            "entityId": self.sp.entityId,
            "assertionConsumerService": {
                "url": self.sp.assertionConsumerService.url or acs_url,
                "binding": self.sp.assertionConsumerService.binding,
            },
            "NameIDFormat": self.sp.NameIDFormat,
            "x509cert": self.sp.x509cert,
            "privateKey": self.sp.privateKey,
        }
        idp: dict[str, Any] = self.idp.model_dump(exclude_none=True)
        if not idp.get("certFingerprint"):
            idp.pop("certFingerprint", None)
            idp.pop("certFingerprintAlgorithm", None)
        # Intranet hosts (`http://toucan/`) are fine unless the operator says otherwise.
        security = {"allowSingleLabelDomains": True, **self.security}
        return {"strict": True, "debug": False, "sp": sp, "idp": idp, "security": security}


_SETTINGS_ERRORS = {
    "sp_cert_not_found_and_required": "sp.x509cert and sp.privateKey are needed to sign requests or "
    "metadata (security.authnRequestsSigned / signMetadata)",
    "idp_cert_or_fingerprint_not_found_and_required": "idp.x509cert is required",
    "idp_cert_not_found_and_required": "idp.x509cert is required (security.nameIdEncrypted)",
    "sp_acs_not_found": "sp.assertionConsumerService.url is missing",
    "sp_acs_url_invalid": "sp.assertionConsumerService.url is not a valid URL",
    "sp_entityId_not_found": "sp.entityId is missing",
    "idp_sso_url_invalid": "idp.singleSignOnService.url is not a valid URL",
    "idp_entityId_not_found": "idp.entityId is missing",
}


def _explain_settings_error(text: str) -> str:
    found = [message for key, message in _SETTINGS_ERRORS.items() if key in text]
    return "; ".join(found) if found else f"python3-saml refuses these settings: {text}"


class Saml2Provider(ProviderBase):
    type: Literal["SAML2"]
    config: Saml2Config

    def warnings(self) -> list[str]:
        """Settings python3-saml would silently ignore."""
        unknown = sorted(set(self.config.security) - SECURITY_KEYS)
        hints = {"signedMetaData": "signMetadata (which needs sp.x509cert and sp.privateKey)"}
        return [
            f"Provider {self.id!r}: security.{key} is not a python3-saml setting and is ignored"
            + (f"; did you mean {hints[key]}?" if key in hints else ".")
            for key in unknown
        ]


# python3-saml's security settings (see https://github.com/SAML-Toolkits/python3-saml#settings).
SECURITY_KEYS = frozenset(
    {
        "nameIdEncrypted",
        "authnRequestsSigned",
        "logoutRequestSigned",
        "logoutResponseSigned",
        "signMetadata",
        "wantMessagesSigned",
        "wantAssertionsSigned",
        "wantAssertionsEncrypted",
        "wantNameId",
        "wantNameIdEncrypted",
        "wantAttributeStatement",
        "requestedAuthnContext",
        "requestedAuthnContextComparison",
        "failOnAuthnContextMismatch",
        "metadataValidUntil",
        "metadataCacheDuration",
        "allowSingleLabelDomains",
        "signatureAlgorithm",
        "digestAlgorithm",
        "rejectDeprecatedAlgorithm",
        "allowRepeatAttributeName",
    }
)


# --- the flow ------------------------------------------------------------------------------------


def request_data(url: str, post_data: dict[str, str] | None = None) -> dict[str, Any]:
    """python3-saml's view of the request at `url` (as the browser saw it, behind any proxy)."""
    parts = urlsplit(url)
    return {
        "https": "on" if parts.scheme == "https" else "off",
        "http_host": parts.netloc,
        "script_name": parts.path,
        "get_data": {},
        "post_data": post_data or {},
    }


def metadata_xml(provider: Saml2Provider, acs_url: str) -> str:
    """The service provider's metadata, for the identity provider's administrator."""
    settings = OneLogin_Saml2_Settings(provider.config.toolkit_settings(acs_url), sp_validation_only=True)
    xml = settings.get_sp_metadata()
    errors = settings.validate_metadata(xml)
    if errors:
        raise ValidationError(f"The SP metadata is invalid: {', '.join(errors)}", code=ErrorCode.INVALID_METADATA)
    return xml.decode() if isinstance(xml, bytes) else str(xml)


def login_url(session: Session, provider: Saml2Provider, acs_url: str) -> str:
    """An AuthnRequest to the identity provider; its id is stored to check the answer against."""
    auth = OneLogin_Saml2_Auth(request_data(acs_url), old_settings=provider.config.toolkit_settings(acs_url))
    url = str(auth.login(return_to=provider.config.defaultRedirectUrl))
    sso.store_pending(session, auth.get_last_request_id(), provider.id, {"type": "SAML2"})
    return url


def _times(response: OneLogin_Saml2_Response) -> tuple[list[int], list[int]]:
    """(NotBefore values, NotOnOrAfter values) of the assertion, as Unix times."""
    not_before, not_after = [], []
    for xpath in ("/saml:Conditions", "/saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData"):
        for node in response._query_assertion(xpath):
            if node.get("NotBefore"):
                not_before.append(OneLogin_Saml2_Utils.parse_SAML_to_time(node.get("NotBefore")))
            if node.get("NotOnOrAfter"):
                not_after.append(OneLogin_Saml2_Utils.parse_SAML_to_time(node.get("NotOnOrAfter")))
    return not_before, not_after


def _clock_error(response: OneLogin_Saml2_Response) -> AuthenticationError | None:
    try:
        not_before, not_after = _times(response)
    except Exception:
        return None
    now = OneLogin_Saml2_Utils.now()
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if any(t - CLOCK_DRIFT > now for t in not_before) or any(t + CLOCK_DRIFT <= now for t in not_after):
        return sso_error(
            ErrorCode.CLOCK_SKEW,
            "The identity provider's answer is outside its validity window (this server's time is "
            f"{stamp}). Check that the clocks of this server and of the identity provider are right (NTP): "
            f"{CLOCK_DRIFT // 60} minutes of difference are tolerated. If they are, the answer is too old: "
            "log in again.",
        )
    return None


def _signature_error(response: OneLogin_Saml2_Response, configured: list[str]) -> AuthenticationError:
    """A bad signature: the certificate is wrong when the response names another one, else it was altered."""
    embedded = {
        "".join((node.text or "").split())
        for node in response.document.iter("{http://www.w3.org/2000/09/xmldsig#}X509Certificate")
    }
    known = {
        "".join(c.replace("-----BEGIN CERTIFICATE-----", "").replace("-----END CERTIFICATE-----", "").split())
        for c in configured
    }
    if embedded and not embedded & known:
        return sso_error(
            ErrorCode.WRONG_CERTIFICATE,
            "The identity provider signed its answer with another certificate than idp.x509cert. Copy the "
            "signing certificate from the identity provider's metadata into idp.x509cert (it may have rotated).",
        )
    return sso_error(
        ErrorCode.TAMPERED_RESPONSE,
        "The signature of the SAML response does not match its content: it was altered after the identity "
        "provider signed it, and was refused. If this repeats, check idp.x509cert.",
    )


def _explain(
    exc: OneLogin_Saml2_ValidationError, response: OneLogin_Saml2_Response, acs_url: str, settings_certs: list[str]
) -> Exception:
    code = exc.code
    E = OneLogin_Saml2_ValidationError
    if code in (E.ASSERTION_EXPIRED, E.ASSERTION_TOO_EARLY, E.RESPONSE_EXPIRED, E.SESSION_EXPIRED) or (
        code == E.WRONG_SUBJECTCONFIRMATION and _clock_error(response)
    ):
        return _clock_error(response) or sso_error(ErrorCode.CLOCK_SKEW, f"{exc} Check both servers' clocks (NTP).")
    if code in (E.WRONG_DESTINATION, E.EMPTY_DESTINATION, E.WRONG_SUBJECTCONFIRMATION):
        return sso_error(
            ErrorCode.REDIRECT_URI_MISMATCH,
            f"The identity provider addressed its answer to another URL than this backend's ({acs_url}): {exc} "
            "Register the ACS URL of /auth/provider/<id>/metadata at the identity provider. Behind a reverse "
            "proxy, make it send X-Forwarded-Proto and X-Forwarded-Host (and X-Forwarded-Prefix) and list it "
            "in TOUCAN_FORWARDED_ALLOW_IPS.",
        )
    if code == E.WRONG_AUDIENCE:
        return sso_error(
            ErrorCode.WRONG_AUDIENCE,
            f"The assertion is meant for another service provider than this one: {exc} Make sp.entityId "
            "the entity ID this service is registered with at the identity provider.",
        )
    if code == E.WRONG_ISSUER:
        return sso_error(ErrorCode.WRONG_ISSUER, f"{exc} Set idp.entityId to the identity provider's entity ID.")
    if code == E.INVALID_SIGNATURE:
        return _signature_error(response, settings_certs)
    if code in (E.NO_SIGNATURE_FOUND, E.NO_SIGNED_ASSERTION, E.NO_SIGNED_MESSAGE):
        return sso_error(
            ErrorCode.UNSIGNED_RESPONSE, f"{exc} Make the identity provider sign its responses or assertions."
        )
    if code == E.WRONG_INRESPONSETO:
        return _unknown_request()
    if code == E.STATUS_CODE_IS_NOT_SUCCESS:
        return sso_error(ErrorCode.IDP_REFUSED, f"The identity provider refused the login: {exc}")
    if code in (
        E.WRONG_SIGNED_ELEMENT,
        E.ID_NOT_FOUND_IN_SIGNED_ELEMENT,
        E.DUPLICATED_ID_IN_SIGNED_ELEMENTS,
        E.INVALID_SIGNED_ELEMENT,
        E.DUPLICATED_REFERENCE_IN_SIGNED_ELEMENTS,
        E.UNEXPECTED_SIGNED_ELEMENTS,
        E.WRONG_NUMBER_OF_SIGNATURES_IN_RESPONSE,
        E.WRONG_NUMBER_OF_SIGNATURES_IN_ASSERTION,
        E.WRONG_NUMBER_OF_SIGNATURES,
        E.WRONG_NUMBER_OF_ASSERTIONS,
        E.INVALID_XML_FORMAT,
    ):
        return sso_error(
            ErrorCode.TAMPERED_RESPONSE, f"The SAML response was altered or is malformed and was refused: {exc}"
        )
    return sso_error(ErrorCode.INVALID_RESPONSE, f"The SAML response was refused: {exc}")


def _unknown_request() -> AuthenticationError:
    return sso_error(
        ErrorCode.UNKNOWN_REQUEST,
        "This SAML response does not answer a login this backend started, or that login already completed "
        f"or is older than {int(sso.PENDING_TTL.total_seconds() // 60)} minutes. Start again from the login "
        "page (logins started at the identity provider are not supported).",
    )


def complete_login(
    session: Session, provider: Saml2Provider, acs_url: str, post_data: dict[str, str], token_ttl: timedelta
) -> str:
    """Check the IdP's answer posted to the ACS URL and log the user in; returns a token."""
    if "SAMLResponse" not in post_data:
        raise sso_error(
            ErrorCode.INVALID_RESPONSE, "No SAMLResponse in this request: the ACS URL takes the IdP's POST."
        )
    settings = OneLogin_Saml2_Settings(provider.config.toolkit_settings(acs_url))
    try:
        response = OneLogin_Saml2_Response(settings, post_data["SAMLResponse"])
    except Exception as exc:
        raise sso_error(ErrorCode.INVALID_RESPONSE, f"The SAML response could not be read: {exc}") from None
    try:
        message_ids = [response.get_id() or "", response.get_assertion_id() or ""]
        in_response_to = response.get_in_response_to()
    except Exception as exc:
        # Several assertions, or none where one is signed: the shape signature wrapping takes.
        raise sso_error(ErrorCode.TAMPERED_RESPONSE, f"The SAML response was altered or is malformed: {exc}") from None
    message_ids = [f"{provider.id}:{m}" for m in message_ids if m]
    if any(sso.was_seen(session, m) for m in message_ids):
        raise sso_error(
            ErrorCode.REPLAYED_RESPONSE,
            "This SAML response was already used to log in; a response is accepted once. Log in again.",
        )
    if not in_response_to:
        raise _unknown_request()
    if sso.consume_pending(session, in_response_to, provider.id) is None:
        raise _unknown_request()
    try:
        response.is_valid(request_data(acs_url, post_data), in_response_to, raise_exceptions=True)
    except OneLogin_Saml2_ValidationError as exc:
        certs = [provider.config.idp.x509cert, *((provider.config.idp.x509certMulti or {}).get("signing", []))]
        raise _explain(exc, response, acs_url, certs) from None
    except Exception as exc:
        raise sso_error(ErrorCode.INVALID_RESPONSE, f"The SAML response was refused: {exc}") from None
    not_after = response.get_assertion_not_on_or_after() or 0
    until = max(datetime.now(UTC) + timedelta(days=1), datetime.fromtimestamp(not_after + CLOCK_DRIFT, UTC))
    if not sso.mark_seen(session, message_ids, until):
        raise sso_error(ErrorCode.REPLAYED_RESPONSE, "This SAML response was already used to log in. Log in again.")
    attributes = sso.unwrap_single_values(response.get_attributes())
    _user, token = sso.login_user(session, provider.id, provider.config, attributes, response.get_nameid(), token_ttl)
    return token
