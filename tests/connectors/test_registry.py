"""The registry: types and their extras, missing drivers, provider and source validation."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT
from tests.helpers.connectors import make_settings
from toucan.connectors.base import ConnectorSource, MissingDriver
from toucan.connectors.extras import EXTRAS
from toucan.connectors.registry import build_connector, get_connector_class, list_connectors
from toucan.connectors.types import TYPES, missing_driver_error
from toucan.errors import ValidationError


def test_every_type_the_issue_names_is_registered() -> None:
    assert set(TYPES) == {
        "postgres",
        "mysql",
        "mssql",
        "azure_mssql",
        "oracle",
        "snowflake",
        "bigquery",
        "clickhouse",
        "sqlite",
        "duckdb",
        "http_api",
        "mongo",
    }


def test_list_connectors_says_what_is_installed() -> None:
    infos = {info.type: info for info in list_connectors()}
    assert (infos["postgres"].extra, infos["postgres"].installed) == (None, True)
    assert (infos["mysql"].extra, infos["mysql"].installed) == ("mysql", True)  # pymysql is in the dev venv
    assert (infos["oracle"].extra, infos["oracle"].installed) == ("oracle", False)
    assert infos["azure_mssql"].extra == "azure_mssql"


def test_extras_match_pyproject() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert {name: declared[name] for name in EXTRAS} == EXTRAS
    assert {entry.extra for entry in TYPES.values() if entry.extra} == set(EXTRAS)


def test_unknown_type_is_a_400_naming_the_known_ones() -> None:
    with pytest.raises(ValidationError) as caught:
        get_connector_class("postgress")
    assert caught.value.status == 400 and caught.value.code == "unknown_connector_type"
    assert "postgres, mysql" in caught.value.message


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Postgres", "postgres"), ("MySQL", "mysql"), ("mariadb", "mysql"), ("HttpAPI", "http_api"), ("MongoDB", "mongo")],
)
def test_former_type_names_are_accepted(name: str, expected: str) -> None:
    assert get_connector_class(name).type_name == expected


def test_a_type_whose_driver_is_missing_names_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(MissingDriver) as caught:
        get_connector_class("oracle")
    assert caught.value.status == 400
    assert "toucan-ctl install_connectors oracle" in caught.value.message
    with pytest.raises(MissingDriver) as built:
        provider = {"name": "erp", "type": "azure_mssql", "host": "x.database.windows.net"}
        build_connector(provider, make_settings(tmp_path))
    assert "toucan-ctl install_connectors azure_mssql" in built.value.message
    assert "ODBC" in built.value.message


@pytest.mark.parametrize("type_name", [name for name, entry in TYPES.items() if entry.extra])
def test_every_missing_driver_message_names_its_extra(type_name: str) -> None:
    extra = TYPES[type_name].extra
    assert f"toucan-ctl install_connectors {extra}" in missing_driver_error(type_name).message


@pytest.mark.parametrize(
    ("provider", "path"),
    [
        ({"name": "db", "type": "postgres", "host": "h", "port": "five"}, "port"),
        ({"name": "db", "type": "postgres", "hots": "h"}, "host"),
        ({"name": "db", "type": "postgres", "host": "h", "pasword": "x"}, "pasword"),
        ({"name": "", "type": "sqlite", "path": "/x.db"}, "name"),
        ({"name": "api", "type": "http_api", "baseroute": "https://x", "retry": {"attempts": 0}}, "retry.attempts"),
        ({"name": "m", "type": "mongo", "host": "h", "port": 70000}, "port"),
    ],
)
def test_bad_providers_are_400_with_the_field_path(tmp_path: Path, provider: dict[str, Any], path: str) -> None:
    with pytest.raises(ValidationError) as caught:
        build_connector(provider, make_settings(tmp_path))
    assert caught.value.status == 400
    assert path in caught.value.message
    assert any(error["path"] == path for error in caught.value.details["errors"])


def test_a_provider_without_type_or_not_an_object(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        build_connector({"name": "db", "host": "h"}, make_settings(tmp_path))
    assert "no `type`" in caught.value.message
    with pytest.raises(ValidationError):
        build_connector(["postgres"], make_settings(tmp_path))  # type: ignore[arg-type]


@pytest.mark.parametrize("type_name", [name for name, entry in TYPES.items() if not entry.extra or name == "mysql"])
def test_every_source_model_has_the_common_fields(type_name: str) -> None:
    model = get_connector_class(type_name).source_model
    assert issubclass(model, ConnectorSource)
    assert {"domain", "name", "type", "load", "live_data", "cache_ttl", "parameters"} <= set(model.model_fields)


def test_sources_are_validated_with_the_field_path(tmp_path: Path) -> None:
    connector = build_connector({"name": "db", "type": "postgres", "host": "h"}, make_settings(tmp_path))
    ok = connector.parse_source({"domain": "sales", "name": "db", "table": "sales", "live_data": True, "cache_ttl": 60})
    assert ok.live_data and ok.cache_ttl == 60 and ok.load
    bad = [
        ({"domain": "sales", "name": "db"}, "query"),
        ({"domain": "sales", "name": "db", "table": "t", "query": "SELECT 1"}, "query"),
        ({"domain": "sales", "name": "db", "table": "t", "cache_ttl": -1}, "cache_ttl"),
        ({"name": "db", "table": "t"}, "domain"),
        ({"domain": "sales", "name": "db", "table": "t", "tabel": "u"}, "tabel"),
    ]
    for source, needle in bad:
        with pytest.raises(ValidationError) as caught:
            connector.parse_source(source)
        assert needle in caught.value.message, (source, caught.value.message)


def test_importing_the_registry_loads_no_driver_and_no_arrow() -> None:
    code = (
        "import sys; import toucan.connectors.registry as r; r.list_connectors(); "
        "print(sorted(m for m in ('pymysql', 'pymongo', 'pyarrow', 'duckdb', 'jq') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "[]"


def test_batches_of_one_result_are_joined_with_widened_types() -> None:
    import pyarrow as pa

    from toucan.connectors.base import concat_tables, rows_to_table

    joined = concat_tables(
        [
            rows_to_table(["a", "b"], [(None, 1), (None, 2)]),
            rows_to_table(["a", "b"], [(1, 2.5)]),
            rows_to_table(["a", "b"], [(2, 3)]),
        ]
    )
    assert joined.column("a").to_pylist() == [None, None, 1, 2]
    assert joined.column("b").type == pa.float64()
    mixed = concat_tables([rows_to_table(["a"], [(1,)]), rows_to_table(["a"], [("x",)])])
    assert mixed.column("a").to_pylist() == ["1", "x"]
