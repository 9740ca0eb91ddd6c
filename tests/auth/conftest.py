"""SSO fixtures: each real identity provider started once per session, and helpers that
drive a login through it like a browser would."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.auth.idp import KeyPair, OidcOP, SamlIdP, make_keypair, run_oidc_provider, run_simplesamlphp
from tests.helpers.sso import (
    OIDC_CLIENTS,
    TESTSERVER,
)


@pytest.fixture(scope="session")
def saml_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamlIdP]:
    with run_simplesamlphp(tmp_path_factory.mktemp("simplesamlphp")) as idp:
        yield idp


@pytest.fixture(scope="session")
def sp_keys() -> KeyPair:
    return make_keypair("toucan-sp")


@pytest.fixture(scope="session")
def oidc_op(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcOP]:
    clients = [
        {
            "client_id": c["client_id"],
            "client_secret": c["client_secret"],
            "token_endpoint_auth_method": c["method"],
            "redirect_uris": [
                f"{TESTSERVER}/auth/provider/{c['client_id']}/auth_callback",
                f"{TESTSERVER}/auth/provider/{c['client_id']}/callback",
            ],
        }
        for c in OIDC_CLIENTS
    ]
    with run_oidc_provider(tmp_path_factory.mktemp("oidc"), clients) as op:
        yield op


@pytest.fixture
def idp_browser() -> Iterator[httpx.Client]:
    """The user's browser as seen by the identity provider (its own cookies)."""
    with httpx.Client(timeout=15) as browser:
        yield browser
