"""Redundancy bench: a replica killed under load, and the worker killed mid-preprocess.

    .venv/bin/python bench/redundancy/run.py [--viewers 20] [--duration 30] [--rows 1000000]

Two `toucan-ctl serve --production` replicas behind Caddy (bench/redundancy/Caddyfile), one
PostgreSQL database, the local Redis, one data dir, a worker and a scheduler, all processes
on this machine (see bench/redundancy/scenario.py). Prints the figures and writes
bench/results/redundancy-<date>.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import print_table, write_result
from scenario import replica_kill, running_stack, worker_kill


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=int, default=20, help="simulated viewers opening the story")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the preprocess the worker dies in")
    parser.add_argument("--redis-db", type=int, default=11, help="database of the local Redis (flushed)")
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="toucan-redundancy-") as tmp,
        running_stack(Path(tmp), redis_db=args.redis_db) as stack,
    ):
        replica = replica_kill(
            stack,
            viewers=args.viewers,
            duration=args.duration,
            kill_at=args.duration / 3,
            restart_at=args.duration / 3 + 2,
        )
        worker = worker_kill(stack, rows=args.rows)

    same = set(replica.data_digest_after.values()) == {replica.data_digest_before}
    rows = [
        {"figure": "viewers, seconds", "value": f"{replica.viewers}, {replica.duration_s}"},
        {"figure": "requests", "value": replica.requests},
        {"figure": "served", "value": replica.served},
        {"figure": "failed", "value": replica.failed},
        {"figure": "failed, sent to the killed replica", "value": replica.failed_on_killed_replica},
        {"figure": "failed, in flight at the kill", "value": replica.failed_in_flight_at_kill},
        {"figure": "failed after the restart", "value": replica.failed_after_restart},
        {"figure": "in flight at the kill (not on b)", "value": replica.in_flight_on_killed_at_kill},
        {"figure": "served by replica", "value": replica.served_by},
        {"figure": "served by a after its restart", "value": replica.served_by_restarted},
        {"figure": "kill / dead / restarted at (s)", "value": replica.marks},
        {"figure": "domain unchanged on a and b", "value": same},
        {"figure": "tokens (issuer → replica → status) after", "value": replica.tokens_after},
        {
            "figure": "viewers' tokens valid on restarted a",
            "value": f"{replica.load_tokens_valid_after}/{replica.load_tokens}",
        },
        {"figure": "preprocess rows / state at kill", "value": f"{worker.rows} / {worker.job_state_at_kill}"},
        {"figure": "staging data while worker down", "value": worker.served_while_worker_down},
        {"figure": "killed job ends", "value": f"{worker.killed_job_final_state}: {worker.killed_job_error}"},
        {"figure": "re-run on restarted worker", "value": worker.rerun_state},
        {"figure": "staging data after", "value": worker.served_after},
    ]
    print_table("Redundancy: replica a killed under load, worker killed mid-preprocess", rows)
    command = "python bench/redundancy/run.py " + " ".join(sys.argv[1:])
    name = f"redundancy-{datetime.now(UTC):%Y%m%d}"
    path = write_result(name, command.strip(), [{"replica_kill": replica.as_dict(), "worker_kill": worker.as_dict()}])
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
