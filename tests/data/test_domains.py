"""Versioned domain storage: atomic switches, release without copies, garbage collection."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from toucan.apps.configs import Stage
from toucan.apps.small_apps import AppCreate, create_app
from toucan.data.domains import DomainStore, StagedFile, sql_string
from toucan.db.engine import Database
from toucan.errors import NotFound, ValidationError


@pytest.fixture
def store(db: Database, tmp_path: Path) -> DomainStore:
    with db.session() as session:
        create_app(session, None, AppCreate(id="sales", name="Sales"))
    return DomainStore(db, tmp_path, grace=timedelta(seconds=0))


def _rows(store: DomainStore, values: list[int]) -> StagedFile:
    def write(conn: duckdb.DuckDBPyConnection, path: Path) -> None:
        literal = ", ".join(f"({v})" for v in values)
        conn.execute(f"COPY (SELECT * FROM (VALUES {literal}) AS t(n)) TO {sql_string(str(path))} (FORMAT parquet)")

    return store.stage_file("sales", write)


def _read(path: Path) -> list[int]:
    return [r[0] for r in duckdb.sql(f"SELECT n FROM read_parquet({sql_string(str(path))}) ORDER BY n").fetchall()]


def test_a_load_switches_the_stage_to_a_new_version(store: DomainStore) -> None:
    assert store.snapshot("sales", Stage.STAGING).domains == {}
    first = store.commit("sales", Stage.STAGING, {"a": _rows(store, [1, 2])}, replace_all=True, author="t")
    assert first.get("a").rows == 2
    assert first.get("a").columns == [{"name": "n", "type": "integer"}]
    second = store.commit("sales", Stage.STAGING, {"b": _rows(store, [3])}, replace_all=False, author="t")
    assert set(second.domains) == {"a", "b"} and second.version_id != first.version_id
    full = store.commit("sales", Stage.STAGING, {"c": _rows(store, [4])}, replace_all=True, author="t")
    assert set(full.domains) == {"c"}
    with pytest.raises(NotFound):
        full.get("a")


def test_a_snapshot_keeps_reading_its_version_while_a_new_one_lands(db: Database, tmp_path: Path) -> None:
    with db.session() as session:
        create_app(session, None, AppCreate(id="sales", name="Sales"))
    store = DomainStore(db, tmp_path, grace=timedelta(hours=1))
    old = store.commit("sales", Stage.STAGING, {"a": _rows(store, [1])}, replace_all=True, author="t")
    store.commit("sales", Stage.STAGING, {"a": _rows(store, [2])}, replace_all=True, author="t")
    # Within the grace period the old files are still there for readers that started on them.
    assert _read(old.get("a").path) == [1]
    assert _read(store.snapshot("sales", Stage.STAGING).get("a").path) == [2]


def test_release_points_production_at_stagings_files(store: DomainStore) -> None:
    with pytest.raises(ValidationError):
        store.release("sales")
    staged = store.commit("sales", Stage.STAGING, {"a": _rows(store, [1, 2, 3])}, replace_all=True, author="t")
    released = store.release("sales")
    assert released.version_id == staged.version_id
    assert released.get("a").path == staged.get("a").path  # the same file: nothing copied
    store.commit("sales", Stage.STAGING, {"a": _rows(store, [9])}, replace_all=True, author="t")
    production = store.snapshot("sales", Stage.PRODUCTION)
    assert _read(production.get("a").path) == [
        1,
        2,
        3,
    ]  # staging moved on, production kept its data


def test_superseded_versions_and_their_files_are_collected(store: DomainStore) -> None:
    first = store.commit("sales", Stage.STAGING, {"a": _rows(store, [1])}, replace_all=True, author="t")
    old_file = first.get("a").path
    store.commit("sales", Stage.STAGING, {"a": _rows(store, [2])}, replace_all=True, author="t")
    assert not old_file.exists()
    files = {p.name for p in store.app_dir("sales").iterdir()}
    assert files == {store.snapshot("sales", Stage.STAGING).get("a").path.name}


def test_a_failed_write_leaves_the_previous_version_serving(store: DomainStore) -> None:
    store.commit("sales", Stage.STAGING, {"a": _rows(store, [1])}, replace_all=True, author="t")

    def broken(conn: duckdb.DuckDBPyConnection, path: Path) -> None:
        conn.execute(f"COPY (SELECT 1 AS n) TO {sql_string(str(path))} (FORMAT parquet)")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        store.stage_file("sales", broken)
    snapshot = store.snapshot("sales", Stage.STAGING)
    assert _read(snapshot.get("a").path) == [1]
    assert not [p for p in store.app_dir("sales").iterdir() if p.name.endswith(".tmp")]


def test_concurrent_writers_both_land(store: DomainStore) -> None:
    store.commit("sales", Stage.STAGING, {"base": _rows(store, [0])}, replace_all=True, author="t")
    staged = {name: _rows(store, [i]) for i, name in enumerate(["x", "y", "z", "w"])}
    errors: list[BaseException] = []

    def write(name: str) -> None:
        try:
            store.commit(
                "sales",
                Stage.STAGING,
                {name: staged[name]},
                replace_all=False,
                author="t",
                attempts=20,
            )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in staged]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert set(store.snapshot("sales", Stage.STAGING).domains) == {"base", "x", "y", "z", "w"}


def test_domain_names_are_checked(store: DomainStore) -> None:
    with pytest.raises(ValidationError):
        store.commit("sales", Stage.STAGING, {"bad\nname": _rows(store, [1])}, replace_all=True, author="t")


def test_domain_files_are_written_with_lz4_in_row_groups(store: DomainStore) -> None:
    import pyarrow.parquet as pq

    from toucan.data.domains import copy_select_to_parquet

    staged = store.stage_file(
        "sales", lambda conn, path: copy_select_to_parquet(conn, "SELECT range AS n FROM range(300000)", path)
    )
    snapshot = store.commit("sales", Stage.STAGING, {"a": staged}, replace_all=True, author="t")
    meta = pq.ParquetFile(snapshot.get("a").path).metadata
    assert meta.num_rows == 300000
    assert meta.num_row_groups == 3  # 122,880 rows a group
    assert meta.row_group(0).column(0).compression in ("LZ4", "LZ4_RAW")
