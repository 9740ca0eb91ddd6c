"""A short run of the redundancy bench (bench/redundancy/): two replicas behind Caddy, one
killed with kill -9 under load and started again, then the worker killed mid-preprocess.

Counts and states only: what failed, what was served, what the data and the tokens are."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "bench" / "redundancy"))
from scenario import replica_kill, running_stack, worker_kill

pytestmark = [pytest.mark.postgres, pytest.mark.own_stacks]


def test_a_replica_and_the_worker_killed_lose_nothing_but_what_was_in_flight(tmp_path: Path) -> None:
    with running_stack(tmp_path, redis_db=12, demo_rows=500) as stack:
        a = f"127.0.0.1:{stack.ports['a']}"
        b = f"127.0.0.1:{stack.ports['b']}"
        replica = replica_kill(stack, viewers=4, duration=6, kill_at=2, restart_at=3, min_after_restart=5)
        worker = worker_kill(stack, rows=1_000_000)

    # Requests: only some of those Caddy had sent to replica a as it died failed (Caddy's 502
    # names the replica); every other one was served, and none failed once a was back.
    assert replica.served > 0
    assert replica.failed == replica.failed_on_killed_replica, replica.failures
    assert all(f["upstream"] == a and f["status"] == 502 for f in replica.failures), replica.failures
    assert replica.failed_after_restart == 0
    assert replica.served + replica.failed == replica.requests
    assert replica.served_by.get(a, 0) > 0 and replica.served_by.get(b, 0) > 0, replica.served_by
    assert replica.served_by_restarted >= 5
    # Data: the same rows on both replicas after the run as before it.
    assert replica.data_digest_after == {"a": replica.data_digest_before, "b": replica.data_digest_before}
    # Sessions: a token issued by one replica is valid on the other, before and after the
    # kill, and every viewer's token is valid on the restarted replica.
    every_valid = {"a": {"a": 200, "b": 200}, "b": {"a": 200, "b": 200}}
    assert replica.tokens_before == every_valid
    assert replica.tokens_after == every_valid
    assert replica.load_tokens == 4 and replica.load_tokens_valid_after == 4

    # The worker died with the job running: the previous data was served meanwhile, the job
    # was marked failed (not half-applied), and the same preprocess on a new worker succeeded.
    assert worker.job_state_at_kill == "running"
    assert worker.served_while_worker_down == {"version": "v1", "rows": 100}
    assert worker.killed_job_final_state == "failed"
    assert worker.killed_job_error is not None and "previous data is still served" in worker.killed_job_error
    assert worker.rerun_state == "succeeded"
    assert worker.served_after == {"version": "v2", "rows": 1_000_000}
