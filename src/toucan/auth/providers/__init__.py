"""Identity providers: one module per type, and the registry that tells them apart.

| `type`  | module    | login                               | answer                          |
|---------|-----------|-------------------------------------|---------------------------------|
| `local` | local.py  | `POST /login`                       |                                 |
| `SAML2` | saml2.py  | `GET /auth/provider/{id}/login`     | `POST /auth/provider/{id}/acs`  |
| `OIDC`  | oidc.py   | `GET /auth/provider/{id}/login`     | `GET .../auth_callback` (`/callback`) |
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from toucan.auth.providers.local import DEFAULT_LOCAL, LocalProvider
from toucan.auth.providers.oidc import OidcProvider
from toucan.auth.providers.saml2 import Saml2Provider

Provider = Annotated[LocalProvider | Saml2Provider | OidcProvider, Field(discriminator="type")]
ExternalProvider = Saml2Provider | OidcProvider

# Spellings accepted for `type`, whatever their case.
PROVIDER_TYPES = {"local": "local", "saml2": "SAML2", "saml": "SAML2", "oidc": "OIDC", "openidconnect": "OIDC"}


def normalise_type(provider: Any) -> Any:
    """`'saml2'` or `'Saml2'` → `'SAML2'`, so a case slip is not an error."""
    if isinstance(provider, dict) and isinstance(provider.get("type"), str):
        wanted = PROVIDER_TYPES.get(provider["type"].replace("_", "").replace("-", "").lower())
        if wanted:
            return {**provider, "type": wanted}
    return provider


__all__ = ["DEFAULT_LOCAL", "ExternalProvider", "LocalProvider", "OidcProvider", "Provider", "Saml2Provider"]
