"""HTTP APIs answering JSON: a jq `filter` turns each answer into rows, with pagination,
authentication (basic, bearer, API key header, OAuth2 client credentials) and retries.

Every request goes through `toucan.connectors.network`: only public addresses unless
TOUCAN_CONNECTORS_ALLOWED_HOSTS allows more, on every redirect hop. Requests stay on the
provider's `baseroute` origin; credentials are never sent to another host.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from toucan.connectors.base import (
    Connector,
    ConnectorError,
    ConnectorSource,
    ConnectorStatus,
    ProviderConfig,
    SourceQueryError,
    records_to_table,
)
from toucan.connectors.network import (
    AllowedHosts,
    RetryPolicy,
    check_host,
    display_url,
    fetch_url,
    open_client,
    port_open,
    resolve,
)
from toucan.errors import ValidationError

if TYPE_CHECKING:
    import pyarrow as pa

_STRICT = ConfigDict(extra="forbid", frozen=True)


def _compile_jq(program: str) -> Any:
    import jq

    try:
        return jq.compile(program)
    except ValueError as exc:
        raise ValueError(f"invalid jq filter {program!r}: {' '.join(str(exc).split())}") from None


# Authentication -----------------------------------------------------------------------------


class BasicAuth(BaseModel):
    model_config = _STRICT
    type: Literal["basic"]
    username: str
    password: SecretStr


class BearerAuth(BaseModel):
    model_config = _STRICT
    type: Literal["bearer"]
    token: SecretStr


class ApiKeyAuth(BaseModel):
    model_config = _STRICT
    type: Literal["api_key"]
    header: str = Field(default="X-API-Key", min_length=1)
    value: SecretStr


class OAuth2ClientCredentials(BaseModel):
    """OAuth2 `client_credentials` grant; the client authenticates with HTTP Basic at the token URL."""

    model_config = _STRICT
    type: Literal["oauth2_client_credentials"]
    token_url: str
    client_id: str
    client_secret: SecretStr
    scope: str | None = None


Auth = Annotated[BasicAuth | BearerAuth | ApiKeyAuth | OAuth2ClientCredentials, Field(discriminator="type")]


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


# Pagination ---------------------------------------------------------------------------------


class _Pagination(BaseModel):
    model_config = _STRICT
    max_pages: int = Field(default=1000, ge=1, description="More pages than this is an error, not a silent cut.")


class PagePagination(_Pagination):
    """`?page=1`, `?page=2`... until a page gives no rows (or fewer than `size`)."""

    kind: Literal["page"]
    param: str = "page"
    start: int = 1
    size_param: str | None = None
    size: int | None = Field(default=None, ge=1)


class OffsetPagination(_Pagination):
    """`?offset=0&limit=100`, `?offset=100&limit=100`... until a page gives fewer than `size` rows."""

    kind: Literal["offset"]
    offset_param: str = "offset"
    limit_param: str = "limit"
    size: int = Field(default=100, ge=1)


class CursorPagination(_Pagination):
    """`?cursor=<token>`, the token read from each answer by the jq expression `next`, until it is null."""

    kind: Literal["cursor"]
    param: str = "cursor"
    next: str

    @field_validator("next")
    @classmethod
    def _jq(cls, value: str) -> str:
        _compile_jq(value)
        return value


class NextUrlPagination(_Pagination):
    """The next page's URL, read by the jq expression `next` from each answer, or from the `Link`
    header (`rel="next"`) when `next` is not given; until there is none."""

    kind: Literal["next_url"]
    next: str | None = None

    @field_validator("next")
    @classmethod
    def _jq(cls, value: str | None) -> str | None:
        if value is not None:
            _compile_jq(value)
        return value


Pagination = Annotated[
    PagePagination | OffsetPagination | CursorPagination | NextUrlPagination, Field(discriminator="kind")
]


# Provider and source ------------------------------------------------------------------------


class HttpApiConfig(ProviderConfig):
    baseroute: str = Field(description="The API's base URL; data sources give paths under it.")
    headers: dict[str, str] = Field(default_factory=dict, description="Headers of every request.")
    params: dict[str, Any] = Field(default_factory=dict, description="Query parameters of every request.")
    auth: Auth | None = None
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    verify_tls: bool = True

    # The connection URL (a token in its path), headers and query parameters of every request
    # (API keys), and the secrets of `auth`. A data source's own url, headers and params are not.
    credential_fields: ClassVar[tuple[str, ...]] = (
        "baseroute",
        "headers.*",
        "params.*",
        "auth.password",
        "auth.token",
        "auth.value",
        "auth.client_secret",
    )

    @field_validator("baseroute")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            url = httpx.URL(value)
        except (httpx.InvalidURL, TypeError) as exc:
            raise ValueError(f"invalid URL: {exc}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value


class HttpApiSource(ConnectorSource):
    url: str = Field(default="", description="Path under the provider's baseroute (or a URL on the same host).")
    method: Literal["GET", "POST"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json", description="JSON body of a POST.")
    data: dict[str, Any] | str | None = Field(default=None, description="Form (object) or raw (text) body of a POST.")
    filter: str = Field(default=".", description="jq filter from an answer to rows: `.items`, `.data[]`...")
    pagination: Pagination | None = None

    model_config = ConnectorSource.model_config | {"populate_by_name": True}

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("filter")
    @classmethod
    def _jq(cls, value: str) -> str:
        _compile_jq(value)
        return value


def rows_of(answer: Any, program: Any) -> list[dict[str, Any]]:
    """The rows a jq program makes of one answer: one list of objects, or one object per output.
    A value that is not an object becomes `{"value": ...}`."""
    outputs = program.input_value(answer).all()
    items: list[Any] = outputs[0] if len(outputs) == 1 and isinstance(outputs[0], list) else outputs
    return [item if isinstance(item, dict) else {"value": item} for item in items if item is not None]


def _first(program: Any, answer: Any) -> Any:
    outputs = program.input_value(answer).all()
    return outputs[0] if outputs else None


# The connector ------------------------------------------------------------------------------


class HttpApiConnector(Connector):
    config: HttpApiConfig
    config_model = HttpApiConfig
    source_model = HttpApiSource
    type_name = "http_api"

    def __init__(self, config: ProviderConfig, settings: Any, **options: Any) -> None:
        super().__init__(config, settings, **options)
        self._token: tuple[str, float] | None = None  # OAuth2 access token and when it expires

    @property
    def base(self) -> httpx.URL:
        return httpx.URL(self.config.baseroute)

    def url_for(self, path: str) -> str:
        """A source's `url` under the baseroute; an absolute URL must be on the baseroute's origin."""
        if "://" in path:
            self._same_origin(path)
            return path
        base = self.config.baseroute
        if not path:
            return base
        return base.rstrip("/") + "/" + path.lstrip("/")

    def _same_origin(self, url: str) -> None:
        target, base = httpx.URL(url), self.base
        if (target.scheme, target.host, target.port) != (base.scheme, base.host, base.port):
            raise ValidationError(
                f"{display_url(url)} is not on the host of provider {self.name!r} ({display_url(base)}): "
                "its credentials are only sent there.",
                details={"url": display_url(url)},
            )

    def _auth_headers(self) -> dict[str, str]:
        auth = self.config.auth
        if auth is None:
            return {}
        if isinstance(auth, BasicAuth):
            return {"Authorization": _basic(auth.username, auth.password.get_secret_value())}
        if isinstance(auth, BearerAuth):
            return {"Authorization": f"Bearer {auth.token.get_secret_value()}"}
        if isinstance(auth, ApiKeyAuth):
            return {auth.header: auth.value.get_secret_value()}
        return {"Authorization": f"Bearer {self._access_token(auth)}"}

    def _access_token(self, auth: OAuth2ClientCredentials) -> str:
        if self._token and self._token[1] > time.monotonic():
            return self._token[0]
        form = {"grant_type": "client_credentials", **({"scope": auth.scope} if auth.scope else {})}
        response = fetch_url(
            auth.token_url,
            self.settings,
            method="POST",
            data=form,
            headers={
                "Authorization": _basic(auth.client_id, auth.client_secret.get_secret_value()),
                "Accept": "application/json",
            },
            retry=self.config.retry,
            timeout=self.timeout,
            redact=self.redact,
        )
        try:
            answer = response.json()
            token = answer["access_token"]
            lifetime = float(answer.get("expires_in") or 300)
        except (ValueError, KeyError, TypeError, RecursionError):
            raise ConnectorError(
                f"The token endpoint {display_url(auth.token_url)} of provider {self.name!r} gave no access_token."
            ) from None
        self._token = (str(token), time.monotonic() + max(lifetime - 30, lifetime / 2))
        return str(token)

    def _client(self) -> httpx.Client:
        private = ["Authorization", *self.config.headers]
        if isinstance(self.config.auth, ApiKeyAuth):
            private.append(self.config.auth.header)
        return open_client(
            self.settings,
            timeout=self.timeout,
            verify=self.config.verify_tls,
            origin=self.config.baseroute,
            private_headers=private,
        )

    def fetch(self, source: Mapping[str, Any] | ConnectorSource, *, limit: int | None = None) -> pa.Table:
        parsed = self.parse_source(source)
        assert isinstance(parsed, HttpApiSource)
        self.check_limit(limit)
        if parsed.parameters:
            from toucan.templating import render

            fields = ("url", "headers", "params", "json_body", "data")
            rendered = render({name: getattr(parsed, name) for name in fields}, parsed.parameters)
            rendered["url"] = str(rendered["url"])  # "{{ path }}" alone takes the parameter's type
            parsed = parsed.model_copy(update=rendered)
        records: list[dict[str, Any]] = []
        if limit == 0:
            return records_to_table(records)
        program = _compile_jq(parsed.filter)
        with self._client() as client:
            self._read_pages(client, parsed, program, records, limit)
        return records_to_table(records[:limit] if limit is not None else records)

    def _read_pages(
        self,
        client: httpx.Client,
        source: HttpApiSource,
        program: Any,
        records: list[dict[str, Any]],
        limit: int | None,
    ) -> None:
        url = self.url_for(source.url)
        params: dict[str, Any] = {**self.config.params, **source.params}
        pagination = source.pagination
        page = pagination.start if isinstance(pagination, PagePagination) else 0
        offset = 0
        number = 0
        while True:
            number += 1
            if pagination is not None and number > pagination.max_pages:
                raise SourceQueryError(
                    f"The data source {source.domain!r} has more than {pagination.max_pages} pages: "
                    "raise pagination.max_pages.",
                    details={"max_pages": pagination.max_pages},
                )
            page_params = dict(params)
            if isinstance(pagination, PagePagination):
                page_params[pagination.param] = page
                if pagination.size_param and pagination.size:
                    page_params[pagination.size_param] = pagination.size
            elif isinstance(pagination, OffsetPagination):
                page_params[pagination.offset_param] = offset
                page_params[pagination.limit_param] = pagination.size
            response = fetch_url(
                url,
                self.settings,
                method=source.method,
                headers={**self.config.headers, **self._auth_headers(), **source.headers},
                params=page_params,
                json=source.json_body,
                data=source.data,
                retry=self.config.retry,
                client=client,
                redact=self.redact,
            )
            answer = self._json(response, source, number)
            try:
                rows = rows_of(answer, program)
            except ValueError as exc:
                raise SourceQueryError(
                    f"The filter {source.filter!r} of data source {source.domain!r} failed on page {number}: "
                    f"{' '.join(str(exc).split())}",
                    details={"page": number},
                ) from None
            records.extend(rows)
            if pagination is None or (limit is not None and len(records) >= limit):
                return
            if isinstance(pagination, PagePagination):
                if not rows or (pagination.size and len(rows) < pagination.size):
                    return
                page += 1
            elif isinstance(pagination, OffsetPagination):
                if len(rows) < pagination.size:
                    return
                offset += len(rows)
            elif isinstance(pagination, CursorPagination):
                token = _first(_compile_jq(pagination.next), answer)
                if token in (None, ""):
                    return
                params[pagination.param] = token
            else:
                following = (
                    _first(_compile_jq(pagination.next), answer)
                    if pagination.next
                    else response.links.get("next", {}).get("url")
                )
                if not following:
                    return
                url = str(response.url.join(str(following)))
                self._same_origin(url)
                params = {}  # the next URL carries its own query

    def _json(self, response: httpx.Response, source: HttpApiSource, number: int) -> Any:
        try:
            return response.json()
        except RecursionError:  # json.loads recurses once per level
            raise SourceQueryError(
                f"Page {number} of data source {source.domain!r} ({display_url(response.url)}) is JSON nested "
                "too deeply to be read.",
                details={"page": number},
            ) from None
        except ValueError:
            kind = response.headers.get("content-type", "unknown type")
            raise SourceQueryError(
                f"Page {number} of data source {source.domain!r} ({display_url(response.url)}) is not JSON ({kind}).",
                details={"page": number},
            ) from None

    def status(self) -> ConnectorStatus:
        base = self.base
        host = base.host
        port = base.port or (443 if base.scheme == "https" else 80)
        allowed = AllowedHosts.parse(self.settings.connectors_allowed_hosts)
        steps = [
            ("host resolved", lambda: ", ".join(str(address) for address in resolve(host, port))),
            ("host allowed", lambda: (check_host(host, port, allowed), "public or allowed")[1]),
            ("port open", lambda: port_open(host, port, self.timeout)),
        ]
        if isinstance(self.config.auth, OAuth2ClientCredentials):
            auth = self.config.auth
            steps.append(("token obtained", lambda: (self._access_token(auth), "access token received")[1]))
        steps.append(("request answered", self._probe))
        return self.run_steps(steps)

    def _probe(self) -> str:
        with self._client() as client:
            response = fetch_url(
                self.config.baseroute,
                self.settings,
                headers={**self.config.headers, **self._auth_headers()},
                params=self.config.params,
                client=client,
                raise_for_status=False,
            )
        if response.status_code in (401, 403):
            raise ConnectorError(f"authentication refused: HTTP {response.status_code}")
        if response.status_code >= 500:
            raise ConnectorError(f"HTTP {response.status_code} {response.reason_phrase}")
        return f"HTTP {response.status_code}"
