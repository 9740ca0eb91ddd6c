"""The MongoDB connector's fetch against mongomock: MongoDB itself cannot run on this machine,
so this is an in-memory stand-in of pymongo's client (docs/connectors.md says so)."""

from __future__ import annotations

from typing import Any

import mongomock

from tests.helpers.connectors import make_settings
from toucan.connectors.mongo import MongoConfig, MongoConnector


class _MockedMongo(MongoConnector):
    """The real connector, with mongomock's client in place of pymongo's."""

    store: Any = None

    def _client(self) -> Any:
        client = mongomock.MongoClient()
        client.close = lambda: None  # the in-memory data must outlive fetch's close()
        if _MockedMongo.store is None:
            _MockedMongo.store = client
        return _MockedMongo.store


def _connector(tmp_path: Any) -> _MockedMongo:
    _MockedMongo.store = None
    config = MongoConfig.model_validate({"name": "m", "type": "mongo", "host": "127.0.0.1", "database": "shop"})
    connector = _MockedMongo(config, make_settings(tmp_path))
    connector._client()["shop"]["orders"].insert_many(
        [
            {"country": "France", "year": 2024, "amount": 10},
            {"country": "France", "year": 2025, "amount": 5},
            {"country": "Spain", "year": 2025, "amount": 7},
        ]
    )
    return connector


def test_a_find_filter_with_parameters_and_a_limit(tmp_path: Any) -> None:
    connector = _connector(tmp_path)
    source = {
        "domain": "o",
        "name": "m",
        "collection": "orders",
        "query": {"year": "{{ year }}"},
        "parameters": {"year": 2025},
    }
    table = connector.fetch(source)
    assert sorted(table.column("country").to_pylist()) == ["France", "Spain"]
    assert "_id" in table.column_names
    assert connector.fetch(source, limit=1).num_rows == 1


def test_an_aggregation_pipeline(tmp_path: Any) -> None:
    connector = _connector(tmp_path)
    source = {
        "domain": "o",
        "name": "m",
        "collection": "orders",
        "query": [
            {"$group": {"_id": "$country", "total": {"$sum": "$amount"}}},
            {"$sort": {"_id": 1}},
        ],
    }
    assert connector.fetch(source).to_pylist() == [{"_id": "France", "total": 15}, {"_id": "Spain", "total": 7}]
