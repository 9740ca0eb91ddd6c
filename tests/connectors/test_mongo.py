"""MongoDB connector. No MongoDB server can run on this machine: these tests cover what does not
need one (pipeline building, client options, BSON to Arrow) and the failures against a closed port."""

from __future__ import annotations

import datetime as dt
import socket
from decimal import Decimal
from pathlib import Path

import pytest
from bson import Decimal128, ObjectId

from tests.helpers.connectors import LOCAL_HOSTS, make_settings
from toucan.connectors.base import ConnectorError
from toucan.connectors.mongo import (
    MongoConfig,
    MongoConnector,
    build_pipeline,
    client_options,
    documents_to_table,
)
from toucan.connectors.registry import build_connector, get_connector_class
from toucan.connectors.types import missing_driver_error
from toucan.errors import ValidationError

PASSWORD = "mongo-pw-4b1c-unique"


def test_a_find_filter_becomes_a_match_stage_with_typed_parameters() -> None:
    query = {"year": "{{ year }}", "city": {"$in": "{{ cities }}"}, "label": "sales {{ year }}"}
    pipeline = build_pipeline(query, {"year": 2024, "cities": ["Paris", "Lyon"]}, limit=None)
    assert pipeline == [{"$match": {"year": 2024, "city": {"$in": ["Paris", "Lyon"]}, "label": "sales 2024"}}]


def test_a_pipeline_is_kept_and_the_limit_comes_last() -> None:
    stages = [{"$match": {"a": 1}}, {"$group": {"_id": "$city", "n": {"$sum": 1}}}]
    assert build_pipeline(stages, {}, limit=10) == [*stages, {"$limit": 10}]
    assert build_pipeline({}, {}, limit=0) == [{"$match": {}}, {"$limit": 0}]


def test_pipeline_errors_name_the_problem() -> None:
    with pytest.raises(ValidationError) as missing:
        build_pipeline({"year": "{{ year }}"}, {}, limit=None)
    assert "year" in missing.value.message
    with pytest.raises(ValidationError) as stage:
        build_pipeline([{"$match": {}}, {"city": "Paris"}], {}, limit=None)
    assert "Stage 1" in stage.value.message


def test_client_options_carry_credentials_as_arguments_and_the_time_limit() -> None:
    config = MongoConfig.model_validate(
        {
            "name": "m",
            "type": "mongo",
            "host": "db.example.com",
            "port": 27018,
            "username": "reader",
            "password": PASSWORD,
            "auth_source": "admin",
            "tls": True,
            "replica_set": "rs0",
        }
    )
    options = client_options(config, timeout=2.5)
    assert options["host"] == "db.example.com" and options["port"] == 27018
    assert (options["username"], options["password"], options["authSource"]) == ("reader", PASSWORD, "admin")
    assert options["tls"] is True and options["replicaSet"] == "rs0"
    assert options["serverSelectionTimeoutMS"] == 2500 and options["socketTimeoutMS"] == 2500
    atlas = MongoConfig.model_validate({"name": "m", "type": "mongo", "host": "c.mongodb.net", "srv": True})
    srv = client_options(atlas, 1)
    assert srv["host"] == "mongodb+srv://c.mongodb.net" and "port" not in srv


def test_documents_become_arrow_with_bson_types_converted() -> None:
    oid = ObjectId()
    table = documents_to_table(
        [
            {"_id": oid, "amount": Decimal128("12.50"), "at": dt.datetime(2024, 1, 5, tzinfo=dt.UTC), "tags": ["a"]},
            {"_id": ObjectId(), "amount": Decimal128("3.10"), "extra": {"k": 1}},
        ]
    )
    assert table.column_names == ["_id", "amount", "at", "tags", "extra"]
    first = table.to_pylist()[0]
    assert first["_id"] == str(oid) and first["amount"] == Decimal("12.50") and first["tags"] == ["a"]
    assert table.to_pylist()[1]["at"] is None


def test_the_registry_gives_the_mongo_connector_and_its_install_command() -> None:
    assert get_connector_class("MongoDB") is MongoConnector
    assert "toucan-ctl install_connectors mongo" in missing_driver_error("mongo").message


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_an_unreachable_server_fails_at_port_open_and_fetch_is_a_502(tmp_path: Path) -> None:
    provider = {
        "name": "m",
        "type": "mongo",
        "host": "127.0.0.1",
        "port": _closed_port(),
        "username": "u",
        "password": PASSWORD,
        "database": "shop",
    }
    connector = build_connector(provider, make_settings(tmp_path, LOCAL_HOSTS), timeout=0.3)
    status = connector.status()
    assert [(s.name, s.ok) for s in status.steps] == [
        ("host allowed", True),
        ("port open", False),
        ("authenticated", None),
        ("query ran", None),
    ]
    with pytest.raises(ConnectorError) as caught:
        connector.fetch({"domain": "orders", "name": "m", "collection": "orders"})
    assert caught.value.status == 502
    assert PASSWORD not in caught.value.message and PASSWORD not in repr(connector.config)


def test_a_source_needs_a_database_and_a_collection(tmp_path: Path) -> None:
    connector = build_connector(
        {"name": "m", "type": "mongo", "host": "127.0.0.1"}, make_settings(tmp_path, LOCAL_HOSTS)
    )
    with pytest.raises(ValidationError) as no_collection:
        connector.parse_source({"domain": "orders", "name": "m"})
    assert "collection" in no_collection.value.message
    with pytest.raises(ValidationError) as no_database:
        connector.fetch({"domain": "orders", "name": "m", "collection": "orders"})
    assert "database" in no_database.value.message
