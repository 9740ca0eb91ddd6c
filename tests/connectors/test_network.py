"""SSRF guard: URLs that reach non-public addresses are refused unless TOUCAN_CONNECTORS_ALLOWED_HOSTS
allows them; the check holds on redirects and at connect time; fetch_url's limits and retries."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.helpers.connectors import ApiServer, make_settings
from toucan.connectors.base import ConnectorError
from toucan.connectors.network import HostNotAllowed, RetryPolicy, check_url, display_url, fetch_url, open_client
from toucan.errors import PayloadTooLarge, ValidationError


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://localhost:8080/x", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://2130706433/", "loopback"),  # 127.0.0.1 written as one number
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.1.2.3/", "private"),
        ("http://192.168.0.10/", "private"),
        ("http://172.16.5.4/", "private"),
        ("http://0.0.0.0:9000/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://100.64.0.1/", "not a public address"),  # carrier-grade NAT
    ],
)
def test_check_url_refuses_non_public_addresses_and_names_the_setting(url: str, reason: str) -> None:
    with pytest.raises(HostNotAllowed) as caught:
        check_url(url, [])
    assert reason in caught.value.message
    assert "TOUCAN_CONNECTORS_ALLOWED_HOSTS" in caught.value.message
    assert caught.value.status == 400


def test_check_url_accepts_public_addresses() -> None:
    check_url("https://8.8.8.8/dns-query", [])
    check_url("http://[2606:4700:4700::1111]/", [])


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:5000/", ["127.0.0.1"]),
        ("http://10.1.2.3/", ["10.0.0.0/8"]),
        ("http://localhost/", ["localhost"]),
        ("http://localhost/", ["127.0.0.0/8", "::1"]),
        ("http://[::1]/", ["::1"]),
        ("http://LocalHost/", ["localhost."]),
    ],
)
def test_allowed_hosts_accept_names_addresses_and_networks(url: str, allowed: list[str]) -> None:
    check_url(url, allowed)


def test_allowed_hosts_are_exact() -> None:
    with pytest.raises(HostNotAllowed):
        check_url("http://127.0.0.2/", ["127.0.0.1"])
    with pytest.raises(HostNotAllowed):
        check_url("http://10.1.2.3/", ["192.168.0.0/16", "db.internal"])


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://127.0.0.1/", "/relative"])
def test_check_url_refuses_other_schemes(url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        check_url(url, ["127.0.0.1"])
    assert "http" in caught.value.message


def test_an_unknown_host_is_a_clear_502() -> None:
    with pytest.raises(ConnectorError) as caught:
        check_url("http://no-such-host.invalid/", [])
    assert "no-such-host.invalid" in caught.value.message


def test_display_url_hides_credentials_and_query() -> None:
    shown = display_url("https://user:s3cret@api.example.com/v1/items?api_key=abc#frag")
    assert shown == "https://api.example.com/v1/items"


def test_fetch_url_is_refused_without_the_setting_and_works_with_it(tmp_path: Path, api: ApiServer) -> None:
    with pytest.raises(HostNotAllowed):
        fetch_url(api.url("/people"), make_settings(tmp_path))
    assert api.requests == []  # refused before any connection
    response = fetch_url(api.url("/people"), make_settings(tmp_path, ["127.0.0.1"]))
    assert response.json()["count"] == 3
    assert [r.path for r in api.requests] == ["/people"]


def test_a_redirect_to_a_refused_address_is_not_followed(tmp_path: Path, api: ApiServer) -> None:
    settings = make_settings(tmp_path, ["127.0.0.1"])
    target = f"http://127.0.0.2:{api.port}/people"  # loopback too, but not allowed
    with pytest.raises(HostNotAllowed) as caught:
        fetch_url(api.url("/redirect"), settings, params={"to": target})
    assert "127.0.0.2" in caught.value.message
    assert [r.path for r in api.requests] == ["/redirect"]


def test_a_redirect_to_another_scheme_is_not_followed(tmp_path: Path, api: ApiServer) -> None:
    settings = make_settings(tmp_path, ["127.0.0.1"])
    with pytest.raises((ValidationError, ConnectorError)):
        fetch_url(api.url("/redirect"), settings, params={"to": "file:///etc/passwd"})


def test_the_connect_time_check_holds_without_the_request_hook(tmp_path: Path, api: ApiServer) -> None:
    """A name that resolved to a public address when checked and to a private one when
    connecting (DNS rebinding) meets the check again at connect time."""
    with open_client(make_settings(tmp_path)) as client:
        client.event_hooks = {"request": [], "response": []}  # only the transport's check remains
        with pytest.raises(HostNotAllowed):
            client.get(api.url("/people"))
    assert api.requests == []
    with open_client(make_settings(tmp_path, ["127.0.0.1"])) as client:
        client.event_hooks = {"request": [], "response": []}
        assert client.get(api.url("/people")).status_code == 200


def test_a_redirect_to_another_origin_drops_private_headers(tmp_path: Path, api: ApiServer) -> None:
    settings = make_settings(tmp_path, ["127.0.0.1", "localhost"])
    other = api.url("/echo", host="localhost")
    with open_client(settings, origin=api.base, private_headers=["X-API-Key"]) as client:
        response = fetch_url(
            api.url("/redirect"),
            settings,
            params={"to": other},
            headers={"X-API-Key": "k", "Authorization": "Bearer t", "X-Trace": "1"},
            client=client,
        )
    echoed = response.json()["headers"]
    assert "x-api-key" not in echoed and "authorization" not in echoed
    assert echoed["x-trace"] == "1"


def test_fetch_url_retries_retryable_statuses(tmp_path: Path, api: ApiServer) -> None:
    settings = make_settings(tmp_path, ["127.0.0.1"])
    response = fetch_url(api.url("/flaky"), settings, retry=RetryPolicy(attempts=3))
    assert response.json() == {"data": [{"ok": True}]}
    assert api.hits["/flaky"] == 3


def test_fetch_url_gives_up_after_the_last_attempt_with_the_status(tmp_path: Path, api: ApiServer) -> None:
    settings = make_settings(tmp_path, ["127.0.0.1"])
    with pytest.raises(ConnectorError) as caught:
        fetch_url(api.url("/down"), settings, retry=RetryPolicy(attempts=2))
    assert "503" in caught.value.message and "down for maintenance" in caught.value.message
    assert caught.value.status == 502
    assert api.hits["/down"] == 2


def test_fetch_url_caps_the_body(tmp_path: Path, api: ApiServer) -> None:
    settings = make_settings(tmp_path, ["127.0.0.1"])
    with pytest.raises(PayloadTooLarge):
        fetch_url(api.url("/big"), settings, max_bytes=10_000)
    assert len(fetch_url(api.url("/big"), settings, max_bytes=100_000).content) > 50_000


def test_fetch_url_can_return_error_statuses(tmp_path: Path, api: ApiServer) -> None:
    response = fetch_url(api.url("/nowhere"), make_settings(tmp_path, ["127.0.0.1"]), raise_for_status=False)
    assert response.status_code == 404
    assert isinstance(response, httpx.Response)


def test_retry_after_is_capped() -> None:
    policy = RetryPolicy(backoff=0.5, max_wait=2)
    response = httpx.Response(503, headers={"Retry-After": "3600"})
    assert policy.wait(1, response) == 2
    assert policy.wait(1, None) == 0.5
    assert policy.wait(3, None) == 2
