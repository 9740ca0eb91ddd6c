"""TOUCAN_REDIS_URL through Redis Sentinel: the URL form, and the cache, the job system and
/ready on real Sentinels while the master is killed and another one promoted."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from tests.helpers.sentinel import sentinel_group
from tests.helpers.workers import running_worker, wait_for_job
from toucan.app import create_api
from toucan.data.cache import make_cache
from toucan.db.engine import Database
from toucan.jobs.celery_app import celery_config
from toucan.redis_target import RedisUrlError, SentinelTarget, celery_broker, parse_sentinel_url
from toucan.settings import Settings

APP = "sentinel-app"
CSV = b"country,revenue\nFrance,10\nSpain,20\n"


def test_a_sentinel_url_names_the_sentinels_the_master_and_the_database() -> None:
    target = parse_sentinel_url("redis+sentinel://:p%40ss@s1:26380,s2,[::1]:26381/cache-master/3")
    assert target == SentinelTarget((("s1", 26380), ("s2", 26379), ("::1", 26381)), "cache-master", 3, "p@ss")
    assert parse_sentinel_url("redis+sentinel://s1/m") == SentinelTarget((("s1", 26379),), "m", 0, None)


@pytest.mark.parametrize("url", ["redis+sentinel://s1:26379", "redis+sentinel://s1/m/x", "redis+sentinel://s1:port/m"])
def test_a_wrong_sentinel_url_stops_start_up_with_the_expected_form(url: str) -> None:
    with pytest.raises(RedisUrlError, match=r"/master_name\[/db\]"):
        parse_sentinel_url(url)
    with pytest.raises(ValueError, match="master_name"):
        Settings(redis_url=url)


def test_celery_gets_kombu_sentinel_urls_and_the_master_name() -> None:
    broker, options = celery_broker("redis+sentinel://:pw@s1:1,s2:2/m/4", "sentinel-pw")
    assert broker == "sentinel://:pw@s1:1/4;sentinel://:pw@s2:2/4"
    assert options == {"master_name": "m", "sentinel_kwargs": {"password": "sentinel-pw"}}
    config = celery_config(Settings(redis_url="redis+sentinel://s1/m", data_dir=Path("/nonexistent")))
    assert config["broker_transport"] == "toucan.jobs.broker:SentinelTransport"
    assert config["broker_transport_options"]["master_name"] == "m"
    assert celery_broker("redis://h:6379/1") == ("redis://h:6379/1", {})


def test_the_sentinel_password_is_not_in_the_settings_repr() -> None:
    assert "hidden-pw" not in repr(Settings(redis_sentinel_password="hidden-pw"))


def _queue_preprocess(client: TestClient, headers: dict[str, str]) -> str:
    job_id: str = client.post(f"/{APP}/data/preprocess", headers=headers).json()["id"]
    return job_id


def test_cache_jobs_and_ready_keep_working_across_a_sentinel_failover(
    tmp_path: Path, settings: Settings, db: Database, admin_headers: dict[str, str]
) -> None:
    with sentinel_group(tmp_path / "redis") as group:
        url = group.url(db=2)
        with_sentinel = settings.model_copy(update={"redis_url": url})
        cache = make_cache(url, max_mb=0, ttl_seconds=600)  # Redis alone: every read goes there
        cache.set("toucan:data:before", b"kept")
        assert cache.get("toucan:data:before") == b"kept"

        with TestClient(create_api(with_sentinel, db), raise_server_exceptions=False) as client:
            ready = client.get("/ready").json()
            assert ready["checks"]["redis"] == {"ok": True}, ready
            assert client.post("/small-apps", json={"id": APP, "name": "S"}, headers=admin_headers).status_code == 201
            etl = {"DATA_SOURCES": [{"domain": "sales", "file": "s.csv"}]}
            assert client.put(f"/{APP}/config/etl", json=etl, headers=admin_headers).status_code == 200
            uploaded = client.post(
                f"/{APP}/data/sources",
                files={"file": ("s.csv", CSV)},
                data={"data": '{"filename": "s.csv"}'},
                headers=admin_headers,
            )
            assert uploaded.status_code == 201, uploaded.text
            first = _queue_preprocess(client, admin_headers)
            master = group.current_master()
            # The job waits in the master found through Sentinel, database 2.
            assert redis.Redis(port=master, db=2).llen("toucan") == 1

            with running_worker(settings, TOUCAN_REDIS_URL=url) as worker:
                assert wait_for_job(client, admin_headers, first)["state"] == "succeeded"
                # The replica has everything written so far before its master dies.
                assert redis.Redis(port=master).wait(1, 5000) == 1
                group.kill(master)
                promoted = group.wait_for_failover(master)
                assert promoted != master

                # The same cache object, the same API process and the same worker go on.
                assert cache.get("toucan:data:before") == b"kept"
                cache.set("toucan:data:after", b"new")
                assert redis.Redis(port=promoted, db=2).get("toucan:data:after") == b"new"
                second = _queue_preprocess(client, admin_headers)
                job = wait_for_job(client, admin_headers, second, timeout=120)
                assert job["state"] == "succeeded", (job, worker.output()[-3000:])
                ready = client.get("/ready").json()
                assert ready["checks"]["redis"] == {"ok": True}, ready
