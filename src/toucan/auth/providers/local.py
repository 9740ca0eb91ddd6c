"""The local provider: username and password checked against Toucan's own users."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from toucan.auth.sso import ProviderBase


class LocalProvider(ProviderBase):
    """`type: 'local'`. Listing it turns the `/login` route on; leaving it out turns it off."""

    type: Literal["local"]
    config: dict[str, Any] = Field(default_factory=dict)


DEFAULT_LOCAL = LocalProvider(id="local", type="local", name="Username and password", icon="user")
