"""`toucan-ctl demo`: a demo small app with a sales dataset and stories of each chart type.

The content (rows and front config) lives in `toucan.demo`; this module loads it through
the same domain functions the API uses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from toucan.apps import configs
from toucan.apps.configs import ConfigKind, Stage
from toucan.apps.small_apps import AppCreate, create_app
from toucan.auth.users import UserCreate, create_user
from toucan.data.domains import DomainStore, sql_string
from toucan.db.engine import Database
from toucan.db.models import SmallApp, User
from toucan.errors import Conflict
from toucan.etl.sources import SourceFiles
from toucan.settings import Settings

DEMO_APP = "demo-sales"
DEMO_FILE = "sales.parquet"


def demo_etl_config() -> dict[str, Any]:
    """The demo's ETL config: the uploaded sales file, and a PIPELINE entry building a domain
    from it (edited in the data page's pipeline builder)."""
    return {
        "DATA_SOURCES": [{"domain": "sales", "type": "parquet", "file": DEMO_FILE}],
        "PIPELINE": [
            {
                "input_domains": ["sales"],
                "output_domain": "sales_by_country",
                "pipeline": [
                    {"name": "domain", "domain": "sales"},
                    {
                        "name": "aggregate",
                        "on": ["country", "year"],
                        "aggregations": [
                            {
                                "columns": ["revenue", "units"],
                                "agg_function": "sum",
                                "new_columns": ["revenue", "units"],
                            }
                        ],
                    },
                    {"name": "sort", "columns": [{"column": "country"}, {"column": "year"}]},
                ],
            }
        ],
    }


@dataclass(frozen=True)
class DemoResult:
    app_id: str
    rows: int
    created_users: list[tuple[str, str]]


def demo_front_config() -> dict[str, Any]:
    text = resources.files("toucan.demo").joinpath("front_config.json").read_text()
    config: dict[str, Any] = json.loads(text)
    return config


def demo_rows(n: int) -> list[dict[str, Any]]:
    from toucan.demo.sales import sales_rows

    return sales_rows(n)


def seed_demo(db: Database, data_dir: Path, *, rows: int = 5000, users_password: str | None = None) -> DemoResult:
    """Create (or refresh) the demo app: data in both stages, stories released."""
    from datetime import timedelta

    front = demo_front_config()
    table = pa.Table.from_pylist(demo_rows(rows))
    with db.session() as session:
        if session.get(SmallApp, DEMO_APP) is None:
            create_app(
                session,
                None,
                AppCreate(
                    id=DEMO_APP,
                    name="Demo — Sales",
                    description="Sales stories: every chart type, with filters.",
                ),
            )
        configs.write_config(session, DEMO_APP, Stage.STAGING, ConfigKind.FRONT, front, author="demo")
        configs.write_config(
            session,
            DEMO_APP,
            Stage.STAGING,
            ConfigKind.ETL,
            demo_etl_config(),
            author="demo",
        )
        configs.release_design(session, DEMO_APP, author="demo")

    store = DomainStore(db, data_dir, grace=timedelta(minutes=5))

    def write(conn: duckdb.DuckDBPyConnection, path: Path) -> None:
        conn.register("demo_rows", table)
        conn.execute(f"COPY demo_rows TO {sql_string(str(path))} (FORMAT parquet)")

    staged = store.stage_file(DEMO_APP, write)
    # The ETL config's file, uploaded as a builder would: preprocess succeeds on a fresh seed.
    files = SourceFiles(db, data_dir, Settings.model_fields["upload_max_bytes"].default)
    with open(store.path(DEMO_APP, staged.file), "rb") as parquet:
        files.save(DEMO_APP, DEMO_FILE, parquet, author="demo")
    store.commit(DEMO_APP, Stage.STAGING, {"sales": staged}, replace_all=True, author="demo")
    store.release(DEMO_APP)

    created: list[tuple[str, str]] = []
    if users_password:
        for username, privilege in (("demo-viewer", "view"), ("demo-builder", "contribute")):
            with db.session() as session:
                if session.query(User.id).filter_by(username=username).first():
                    continue
                try:
                    create_user(
                        session,
                        None,
                        UserCreate.model_validate(
                            {
                                "username": username,
                                "password": users_password,
                                "privileges": {DEMO_APP: [privilege]},
                            }
                        ),
                    )
                    created.append((username, privilege))
                except Conflict:
                    pass
    return DemoResult(DEMO_APP, table.num_rows, created)
