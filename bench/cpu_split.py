"""Where a request's CPU goes, per process kind, under load: the floor against `POST /dispatch`.

    .venv/bin/python bench/cpu_split.py [--seconds 8] [--rounds 3] [--connections 8]

The HTTP bench's targets (bench/run.py: the independent floor, dispatch on production settings
with Redis and the 10,000-policy world), loaded by wrk in alternating rounds while every
process's CPU time is read from /proc before and after: the targets' gunicorn processes, every
PostgreSQL process, redis-server and wrk itself. Prints CPU µs per request for each, so the
machine's whole cost of a request is seen, not only the application's (on a machine where the
load generator, the servers and the database share the cores, that total bounds throughput).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http_bench import (  # noqa: E402
    FloorStack,
    Stack,
    api_key_create,
    database_create,
    database_drop,
    floor_migrate,
    lua_script,
    response_width,
    world_load,
    wrk_run,
)
from bench.run import django_setup  # noqa: E402

TICK_US = 1_000_000 / os.sysconf("SC_CLK_TCK")


def cpu_by_kind(targets: dict[str, set[int]]) -> dict[str, float]:
    """CPU µs used so far by each kind of process (the targets' pids, postgres, redis, wrk)."""
    used: dict[str, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)
            name = fields[0].split("(", 1)[1]
            values = fields[1].split()
        except (OSError, IndexError):
            continue
        pid = int(entry.name)
        kind = next((label for label, pids in targets.items() if pid in pids), None)
        if kind is None:
            kind = {"postgres": "postgresql", "redis-server": "redis", "wrk": "wrk"}.get(name)
        if kind is None:
            continue
        if kind == "app":
            used["app user"] = used.get("app user", 0.0) + int(values[11]) * TICK_US
            used["app system"] = used.get("app system", 0.0) + int(values[12]) * TICK_US
        else:
            used[kind] = used.get(kind, 0.0) + (int(values[11]) + int(values[12])) * TICK_US
    return used


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--policies", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "4")))
    args = parser.parse_args()
    database = f"mds_cpusplit_{os.getpid()}"
    floor_database = f"{database}_floor"
    workdir = Path(tempfile.mkdtemp(prefix="mds-cpusplit-"))
    stack = Stack(database=database, workers=args.workers, log_path=workdir / "gunicorn.log")
    floor = FloorStack(database=floor_database, workers=args.workers, log_path=workdir / "floor" / "gunicorn.log")
    floor.log_path.parent.mkdir()
    database_create(database)
    database_create(floor_database)
    try:
        floor_migrate(floor_database)
        django_setup(database)
        world_load(args.policies)
        api_key = api_key_create()
        stack.baseline_width = response_width()
        script = lua_script(workdir / "load.lua")
        stack.start()
        floor.start()
        targets = {"/floor": floor, "/dispatch": stack}
        run_id = int(time.time())
        for endpoint, target in targets.items():  # warm
            wrk_run(target, endpoint=endpoint, connections=8, seconds=2, script=script, run_id=run_id, api_key=api_key)
            run_id += 1
        per_request: dict[str, dict[str, list[float]]] = {e: {} for e in targets}
        rates: dict[str, list[float]] = {e: [] for e in targets}
        for round_no in range(args.rounds):
            order = list(targets) if round_no % 2 == 0 else list(reversed(targets))
            for endpoint in order:
                target = targets[endpoint]
                assert target.process is not None
                pids = {"app": target.worker_pids() | {target.process.pid}}
                before = cpu_by_kind(pids)
                wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
                run_id += 1
                result = wrk_run(
                    target,
                    endpoint=endpoint,
                    connections=args.connections,
                    seconds=args.seconds,
                    script=script,
                    run_id=run_id,
                    api_key=api_key,
                )
                after = cpu_by_kind(pids)
                wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk is this process's child
                after["wrk"] = (
                    (wrk_after.ru_utime + wrk_after.ru_stime) - (wrk_before.ru_utime + wrk_before.ru_stime)
                ) * 1_000_000
                rates[endpoint].append(result.requests_per_s)
                for kind in after:
                    if kind == "wrk":
                        per_request[endpoint].setdefault(kind, []).append(after[kind] / result.requests)
                        continue
                    per_request[endpoint].setdefault(kind, []).append(
                        (after[kind] - before.get(kind, 0.0)) / result.requests
                    )
        kinds = ["app user", "app system", "postgresql", "redis", "wrk"]
        print(
            f"CPU µs per request by process, median of {args.rounds} rounds of {args.seconds:.0f} s,"
            f" {args.connections} connections"
        )
        print(f"   {'target':10} {'req/s':>7} " + " ".join(f"{k:>11}" for k in kinds) + f" {'total':>8}")
        for endpoint in targets:
            medians = {k: statistics.median(per_request[endpoint].get(k, [0.0])) for k in kinds}
            print(
                f"   {endpoint:10} {statistics.median(rates[endpoint]):7.0f} "
                + " ".join(f"{medians[k]:11.0f}" for k in kinds)
                + f" {sum(medians.values()):8.0f}"
            )
    finally:
        for target in (stack, floor):
            target.stop()
        database_drop(database)
        database_drop(floor_database)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
