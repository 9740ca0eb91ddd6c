"""Apache Superset 6.1 beside our data route: its own virtualenv, metadata, server and dataset.

    .venv/bin/python bench/superset/setup.py --rows 1000000     # prepare, start, check, stop

`bench/data/run.py --superset` uses the same functions to measure Superset's
`POST /api/v1/chart/data` in the same run and client loop as our `POST /data`.

Everything lives under bench/results/tmp (git-ignored): the virtualenv (`venv-superset`), the
metadata (SQLite), the config and a DuckDB file `superset_<rows>.duckdb` that holds only VIEWs
over the benchmark's Parquet files, so Superset's DuckDB reads the very files ours reads.
Superset opens that file read-only, with 2 DuckDB threads like ours. Results are cached in
Redis (127.0.0.1:6379, db 15); the uncached measurement sends `force: true`, which skips
reading the cache (Superset still writes its answer there, as it does in production).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import httpx

HERE = Path(__file__).resolve().parent
TMP = HERE.parent / "results" / "tmp"
VENV = TMP / "venv-superset"
HOME = TMP / "superset"
# Newest 6.1.x on PyPI when this was written. On Python 3.11 Superset 6.1 does not start
# without rich, cachetools and flask-caching 2.3.1 installed beside it.
REQUIREMENTS = ["apache-superset==6.1.0", "duckdb-engine", "rich", "cachetools", "flask-caching==2.3.1"]
ADMIN = ("admin", "bench-password-1")
REDIS_URL = "redis://127.0.0.1:6379/15"

CONFIG = """\
# Written by bench/superset/setup.py for the data benchmark; not a production config.
SECRET_KEY = {secret!r}
SQLALCHEMY_DATABASE_URI = {metadata!r}
WTF_CSRF_ENABLED = False  # the benchmark authenticates API calls with a JWT
TALISMAN_ENABLED = False
RATELIMIT_ENABLED = False
AUTH_RATE_LIMITED = False
RATELIMIT_STORAGE_URI = "memory://"
ROW_LIMIT = 100000
DATA_CACHE_CONFIG = {{
    "CACHE_TYPE": "RedisCache",
    "CACHE_REDIS_URL": {redis!r},
    "CACHE_KEY_PREFIX": "superset_bench_",
    "CACHE_DEFAULT_TIMEOUT": 86400,
}}
"""


def _python() -> Path:
    return VENV / "bin" / "python"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(SUPERSET_CONFIG_PATH=str(HOME / "superset_config.py"), FLASK_APP="superset", SUPERSET_HOME=str(HOME))
    return env


def ensure_venv() -> None:
    """Create bench/results/tmp/venv-superset with Superset 6.1 (once)."""
    if (VENV / "bin" / "superset").exists():
        return
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(_python()), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([str(_python()), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True)


def _superset(*args: str) -> None:
    out = subprocess.run(
        [str(VENV / "bin" / "superset"), *args], env=_env(), capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"superset {' '.join(args)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")


def ensure_metadata() -> None:
    """Config, metadata database, admin user and roles (once)."""
    HOME.mkdir(parents=True, exist_ok=True)
    config = HOME / "superset_config.py"
    if not config.exists():
        config.write_text(
            CONFIG.format(
                secret=secrets.token_urlsafe(48),
                metadata=f"sqlite:///{HOME / 'superset.db'}",
                redis=REDIS_URL,
            )
        )
    marker = HOME / "initialised"
    if marker.exists():
        return
    _superset("db", "upgrade")
    user, password = ADMIN
    _superset(
        "fab", "create-admin", "--username", user, "--password", password,
        "--firstname", "Bench", "--lastname", "Admin", "--email", "admin@example.com",
    )  # fmt: skip
    _superset("init")
    marker.touch()


def make_duckdb_file(rows: int, files: dict[str, Path]) -> Path:
    """A DuckDB file of VIEWs over the benchmark's Parquet files (no data copied)."""
    path = TMP / f"superset_{rows}.duckdb"
    path.unlink(missing_ok=True)
    with duckdb.connect(str(path)) as conn:
        for name, parquet in files.items():
            literal = "'" + str(parquet.resolve()).replace("'", "''") + "'"
            conn.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({literal})")
    return path


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(workers: int = 2) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Superset under gunicorn (`workers` processes, as for our server) on a free port."""
    port = _port()
    log = open(HOME / "gunicorn.log", "wb")  # noqa: SIM115 - closed below, after the server
    proc = subprocess.Popen(
        [
            str(VENV / "bin" / "gunicorn"),
            "--workers", str(workers), "--worker-class", "gthread", "--threads", "4",
            "--timeout", "300", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
            "superset.app:create_app()",
        ],
        env=_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"Superset stopped at start; see {HOME / 'gunicorn.log'}")
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"Superset did not answer /health in 180 s; see {HOME / 'gunicorn.log'}")
            time.sleep(0.2)
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@dataclass
class Superset:
    """A logged-in client of one Superset server, with the benchmark's datasets."""

    base: str
    client: httpx.Client
    headers: dict[str, str]
    datasets: dict[str, int]

    def chart_data(self, query_context: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(f"{self.base}/api/v1/chart/data", json=query_context, headers=self.headers)
        if response.status_code != 200:
            raise SystemExit(f"Superset chart/data failed: {response.status_code} {response.text[:1000]}")
        result: dict[str, Any] = response.json()
        return result


def connect(
    base: str, client: httpx.Client, duckdb_file: Path, tables: list[str], virtual: dict[str, str] | None = None
) -> Superset:
    """Log in for a JWT, register the DuckDB file (read-only), one dataset per table and the
    virtual (SQL) datasets `virtual` (name → SELECT)."""
    virtual = virtual or {}
    user, password = ADMIN
    login = client.post(
        f"{base}/api/v1/security/login",
        json={"username": user, "password": password, "provider": "db", "refresh": False},
    )
    login.raise_for_status()
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    name = duckdb_file.stem
    # Start clean: earlier runs' databases (of any size) and their datasets, whose table
    # names Superset's metadata keeps unique.
    everything = "(page:0,page_size:100)"
    databases = client.get(f"{base}/api/v1/database/", params={"q": everything}, headers=headers).json()["result"]
    old = {d["id"] for d in databases if d["database_name"].startswith("superset_")}
    for dataset in client.get(f"{base}/api/v1/dataset/", params={"q": everything}, headers=headers).json()["result"]:
        if dataset["database"]["id"] in old or dataset["table_name"] in (*tables, *virtual):
            client.delete(f"{base}/api/v1/dataset/{dataset['id']}", headers=headers).raise_for_status()
    for database_id in old:
        client.delete(f"{base}/api/v1/database/{database_id}", headers=headers).raise_for_status()
    created = client.post(
        f"{base}/api/v1/database/",
        json={
            "database_name": name,
            "sqlalchemy_uri": f"duckdb:///{duckdb_file.resolve()}",
            "extra": json.dumps({"engine_params": {"connect_args": {"read_only": True, "config": {"threads": 2}}}}),
        },
        headers=headers,
    )
    if created.status_code != 201:
        raise SystemExit(f"Superset refused the DuckDB database: {created.status_code} {created.text[:1000]}")
    database_id = created.json()["id"]
    datasets = {}
    for table in tables:
        dataset = client.post(
            f"{base}/api/v1/dataset/",
            json={"database": database_id, "schema": "main", "table_name": table},
            headers=headers,
        )
        if dataset.status_code != 201:
            raise SystemExit(f"Superset refused the dataset {table}: {dataset.status_code} {dataset.text[:1000]}")
        datasets[table] = int(dataset.json()["id"])
    for table, sql in virtual.items():
        dataset = client.post(
            f"{base}/api/v1/dataset/",
            json={"database": database_id, "schema": "main", "table_name": table, "sql": sql},
            headers=headers,
        )
        if dataset.status_code != 201:
            refused = f"{dataset.status_code} {dataset.text[:1000]}"
            raise SystemExit(f"Superset refused the virtual dataset {table}: {refused}")
        datasets[table] = int(dataset.json()["id"])
    return Superset(base, client, headers, datasets)


def prepare(rows: int, files: dict[str, Path]) -> Path:
    """Everything before the server starts; returns the DuckDB file to register."""
    if shutil.which("redis-cli"):
        subprocess.run(["redis-cli", "-n", "15", "FLUSHDB"], capture_output=True, check=False)
    ensure_venv()
    ensure_metadata()
    return make_duckdb_file(rows, files)


def main() -> None:
    sys.path.insert(0, str(HERE.parent / "data"))
    sys.path.insert(0, str(HERE))
    from queries import QUERIES, VIRTUAL_DATASETS
    from run import make_data

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    sales, targets = make_data(TMP, args.rows)
    duckdb_file = prepare(args.rows, {"sales": sales, "targets": targets})
    with server() as (base, _proc), httpx.Client(timeout=300) as client:
        superset = connect(base, client, duckdb_file, ["sales", "targets"], VIRTUAL_DATASETS)
        for name, (dataset, build) in QUERIES.items():
            result = superset.chart_data(build(superset.datasets[dataset], True))["result"][0]
            print(f"{name}: {result['rowcount']} rows, columns {result['colnames']}")
            print("   ", json.dumps(result["data"][:2], default=str))


if __name__ == "__main__":
    main()
