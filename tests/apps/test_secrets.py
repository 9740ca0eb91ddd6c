"""The secrets module on its own: where `{{ secrets.x }}` may go, and what the redactor hides."""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest
from sqlalchemy.engine import URL

from toucan.apps.secrets import check_secret_places, misplaced_secrets, render_provider_secrets
from toucan.connectors.registry import build_connector, credential_fields
from toucan.connectors.types import TYPES
from toucan.errors import ValidationError
from toucan.redaction import Redactor
from toucan.settings import Settings

VALUE = 'Pa55/word+"Ünïcode"&x'


@pytest.mark.parametrize(
    "form",
    [
        VALUE,
        VALUE.lower(),
        VALUE.upper(),
        urllib.parse.quote(VALUE, safe=""),
        urllib.parse.quote(VALUE),
        urllib.parse.quote_plus(VALUE),
        json.dumps(VALUE)[1:-1],
        json.dumps(VALUE, ensure_ascii=False)[1:-1],
        repr(VALUE)[1:-1],
        "Pa55/word+&quot;Ünïcode&quot;&amp;x",
        VALUE.encode().hex(),
        base64.b64encode(VALUE.encode()).decode(),
        base64.b64encode(VALUE.encode()).decode().rstrip("="),
        base64.urlsafe_b64encode(VALUE.encode()).decode().rstrip("="),
    ],
)
def test_each_form_of_a_value_is_hidden(form: str) -> None:
    shown = Redactor([VALUE])(f"before {form} after")
    assert shown == "before *** after"


@pytest.mark.parametrize("user", ["a", "ab", "abc"])
def test_a_value_inside_a_longer_base64_text_is_hidden_at_any_alignment(user: str) -> None:
    header = "Basic " + base64.b64encode(f"{user}:{VALUE}".encode()).decode()
    shown = Redactor([VALUE])(header)
    assert "***" in shown
    # What is left encodes the user name and at most a few bits at each end, never the value.
    left = shown.replace("Basic ", "").split("***")
    assert all(len(piece) <= 4 + len(user) * 4 // 3 for piece in left), shown


def test_a_password_in_a_sqlalchemy_url_is_hidden() -> None:
    url = URL.create("postgresql+psycopg", username="u", password=VALUE, host="db", database="d")
    text = f"could not connect to {url.render_as_string(hide_password=False)}"
    shown = Redactor([VALUE])(text)
    assert shown == "could not connect to postgresql+psycopg://u:***@db/d"


def test_parts_of_a_value_are_not_hidden_so_redaction_confirms_no_partial_guess() -> None:
    """A builder chooses text that reaches messages: if 8 characters of a secret were hidden, a
    secret starting with a known prefix (a URL, a PEM header) could be guessed one character at
    a time. Only whole forms are hidden, so a guess tells only whether it is the whole value."""
    redact = Redactor(["https://hooks.example.org/T0/B0/k3yK3yK3y"])
    assert redact("domain https://hooks.example.org/T0/B0/k3y") == "domain https://hooks.example.org/T0/B0/k3y"
    assert redact("domain https://hooks.example.org/T0/B0/k3yK3yK3y") == "domain ***"


def test_lines_of_a_key_and_members_of_a_json_key_are_hidden_on_their_own() -> None:
    pem = (
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n"
        "-----END PRIVATE KEY-----\n"
    )
    account = json.dumps({"type": "service_account", "private_key": pem, "private_key_id": "0123456789abcdef0123"})
    redact = Redactor([account])
    assert redact("bad key line MIIEvQIBADANBgkqhkiG9w0BAQEFAASC here") == "bad key line *** here"
    assert redact("key id 0123456789abcdef0123") == "key id ***"
    assert redact(json.dumps({"k": pem})) == '{"k": "***"}'
    assert redact("type service_account") == "type service_account"  # 15 characters: not on its own


def test_overlapping_values_are_both_hidden_and_short_ones_ignored() -> None:
    redact = Redactor(["alpha-beta", "beta-gamma", "ab"])
    assert redact("x alpha-beta-gamma y ab") == "x *** y ab"
    assert not Redactor(["ab", ""]) and Redactor(["abc"])


def test_details_are_redacted_recursively() -> None:
    redact = Redactor([VALUE])
    assert redact.value({"url": f"https://h/{VALUE}", "list": [VALUE, 3], VALUE: None}) == {
        "url": "https://h/***",
        "list": ["***", 3],
        "***": None,
    }


def test_a_connector_hides_the_app_secrets_it_was_rendered_with(tmp_path: object) -> None:
    provider = {"name": "api", "type": "http_api", "baseroute": "https://e.org", "headers": {"X-Key": VALUE}}
    connector = build_connector(provider, Settings(secret_key="k"), secrets=[VALUE, "unused-secret"])
    assert connector.redact(f"echo {VALUE.lower()}") == "echo ***"
    plain = build_connector(provider, Settings(secret_key="k"))
    assert plain.redact(f"echo {VALUE}") == f"echo {VALUE}"  # a header is no SecretStr


def test_every_connector_type_declares_its_credential_fields() -> None:
    for name in TYPES:
        fields = credential_fields(name)
        assert fields is not None, name
        if name not in ("sqlite", "duckdb"):
            assert fields, name
    assert credential_fields("Postgres") == credential_fields("postgres") == ("password",)
    assert credential_fields("nope") is None and credential_fields(None) is None


REF = "{{ secrets.s }}"


@pytest.mark.parametrize(
    ("provider", "accepted"),
    [
        ({"type": "postgres", "password": REF}, True),
        ({"type": "Postgres", "password": f"pre-{REF}"}, True),
        ({"type": "postgres", "user": REF}, False),
        ({"type": "postgres", "options": {"sslpassword": REF}}, False),
        ({"type": "mysql", "password": REF}, True),
        ({"type": "clickhouse", "password": REF}, True),
        ({"type": "snowflake", "options": {"token": REF}}, True),
        ({"type": "snowflake", "options": {"role": REF}}, False),
        ({"type": "bigquery", "credentials": REF}, True),
        ({"type": "bigquery", "credentials": {"private_key": REF}}, True),
        ({"type": "bigquery", "project": REF}, False),
        ({"type": "mongo", "password": REF}, True),
        ({"type": "mongo", "options": {"authMechanismProperties": REF}}, False),
        ({"type": "sqlite", "path": REF}, False),
        ({"type": "http_api", "baseroute": f"https://api.example.org/bot{REF}"}, True),
        ({"type": "http_api", "headers": {"Authorization": f"Bearer {REF}"}}, True),
        ({"type": "http_api", "headers": {"X": [REF]}}, False),
        ({"type": "http_api", "params": {"api_key": REF}}, True),
        ({"type": "http_api", "auth": {"type": "bearer", "token": REF}}, True),
        ({"type": "http_api", "auth": {"type": "oauth2_client_credentials", "client_secret": REF}}, True),
        ({"type": "http_api", "auth": {"type": "oauth2_client_credentials", "client_id": REF}}, False),
        ({"type": "http_api", "auth": {"type": "oauth2_client_credentials", "token_url": REF}}, False),
        ({"type": "http_api", "retry": {"statuses": [REF]}}, False),
        ({"type": REF, "password": "x"}, False),
    ],
)
def test_only_credential_fields_accept_secrets(provider: dict[str, object], accepted: bool) -> None:
    etl = {"DATA_PROVIDERS": [{"name": "p", **provider}]}
    assert (misplaced_secrets(etl) == []) is accepted


def test_the_refusal_names_the_first_path_and_the_accepted_fields() -> None:
    etl = {
        "DATA_PROVIDERS": [{"name": "p", "type": "postgres", "host": REF, "password": REF}],
        "DATA_SOURCES": [{"domain": "d", "name": "p", "query": REF}],
    }
    with pytest.raises(ValidationError) as caught:
        check_secret_places(etl)
    error = caught.value
    assert error.code == "misplaced_secret" and error.status == 400
    assert error.details == {"path": "DATA_PROVIDERS[0].host", "secret": "s", "accepted": ["password"]}
    assert "DATA_PROVIDERS[0].host" in error.message and "'postgres'" in error.message
    assert [m.path for m in misplaced_secrets(etl)] == [("DATA_PROVIDERS", 0, "host"), ("DATA_SOURCES", 0, "query")]
    front = misplaced_secrets({"slides": [{"id": "a", "title": REF}]}, "front config")
    assert [m.message.split(":")[0] for m in front] == ["The front config uses the secret 's' at slides[0].title"]


def test_only_the_providers_are_rendered() -> None:
    etl = {"DATA_PROVIDERS": [{"name": "p", "type": "postgres", "password": REF}], "DATA_SOURCES": [{"domain": "d"}]}
    assert render_provider_secrets(etl, {"s": "v"}) == {
        "DATA_PROVIDERS": [{"name": "p", "type": "postgres", "password": "v"}],
        "DATA_SOURCES": [{"domain": "d"}],
    }
    with pytest.raises(ValidationError):
        render_provider_secrets({**etl, "PIPELINE": [{"x": REF}]}, {"s": "v"})
