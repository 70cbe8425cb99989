"""`make bench`: engine, HTTP and staleness figures, printed as one table (see docs/performance.md).

    .venv/bin/python bench/run.py            # full: ~5 minutes
    .venv/bin/python bench/run.py --quick    # smoke: ~1.5 minutes, smaller world, shorter loads
    .venv/bin/python bench/run.py --docs     # full, and the table also goes into docs/performance.md

The HTTP section loads three targets in alternating rounds: the independent floor (bench/floor/,
a bare DRF project of its own), `POST /dispatch`, and the in-project `/bench/baseline` (kept for
continuity), and prints dispatch/floor against issue 14's targets.

Needs PostgreSQL (BENCH_PG, default postgres://postgres@127.0.0.1:5432), Redis (BENCH_REDIS,
default redis://127.0.0.1:6379, database BENCH_REDIS_DB=13) and wrk (`apt-get install -y wrk`).
It creates its own two databases and removes them, its Redis keys and its servers when done.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.engine_bench import EngineFigures, engine_measure  # noqa: E402
from bench.http_bench import (  # noqa: E402
    PG_SERVER,
    REDIS_DB,
    REDIS_SERVER,
    FloorStack,
    LoadFigures,
    Stack,
    api_key_create,
    database_create,
    database_drop,
    floor_env,
    floor_migrate,
    lua_script,
    response_width,
    world_load,
    wrk_run,
)
from bench.inprocess import FloorMeter, cpu_per_request  # noqa: E402
from bench.staleness import build_times, staleness_measure  # noqa: E402

FLOOR, BASELINE, DISPATCH = "/floor", "/bench/baseline", "/dispatch"
TARGETS = (FLOOR, BASELINE, DISPATCH)
LABELS = {FLOOR: "floor", BASELINE: "/bench/baseline", DISPATCH: "/dispatch"}
# Issue 14: dispatch against the independent floor, in one run (ratio, "at least" or "at most").
FLOOR_TARGETS = {"requests_per_s": (1.0, ">="), "p99_ms": (1.2, "<="), "cpu_us": (1.0, "<=")}
COLUMNS = {"requests_per_s": "req/s", "p99_ms": "p99", "cpu_us": "CPU/req"}
# `--docs` rewrites what lies between these markers in docs/performance.md (and nothing else).
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
DOC = ROOT / "docs" / "performance.md"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small world, short loads (a smoke run)")
    parser.add_argument("--policies", type=int, help="generated policies in the HTTP world (default 10000)")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "4")))
    parser.add_argument("--seconds", type=float, help="seconds per wrk run (default 5)")
    parser.add_argument("--rounds", type=int, help="alternating rounds of every wrk run (default 4)")
    parser.add_argument("--connections", default="8,32")
    parser.add_argument("--skip-engine", action="store_true")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--json", type=Path, default=ROOT / "artifacts" / "bench.json", help="also write figures here")
    parser.add_argument(
        "--docs",
        nargs="?",
        type=Path,
        const=DOC,
        metavar="FILE",
        help=f"also write the table between the markers in FILE (default {DOC.relative_to(ROOT)})",
    )
    args = parser.parse_args()
    args.policies = args.policies or (1_000 if args.quick else 10_000)
    # Many short alternating rounds, not a few long ones: this machine's speed drifts by ~15 % over
    # tens of seconds (both endpoints rise and fall together), and interleaving averages it out.
    args.seconds = args.seconds or (3.0 if args.quick else 5.0)
    args.rounds = args.rounds or (2 if args.quick else 4)
    args.sizes = (10, 1_000, 10_000) if args.quick else (10, 1_000, 10_000, 100_000)
    args.calls = 20_000 if args.quick else 100_000
    args.changes = 2 if args.quick else 5
    return args


def engine_table(figures: list[EngineFigures]) -> list[str]:
    lines = [
        "1. Engine: resolve() and snapshot compile (pure, in-process)",
        f"   {'policies':>9} {'median µs':>10} {'p99 µs':>8} {'build ms':>9} {'memory MB':>10} {'accepted':>9}",
    ]
    for f in figures:
        lines.append(
            f"   {f.policies:>9,} {f.resolve_median_us:>10.2f} {f.resolve_p99_us:>8.2f} {f.build_ms:>9.1f}"
            f" {f.memory_mb:>10.1f} {f.accepted_share:>8.0%}"
        )
    first, last = figures[0], figures[-1]
    ratio = last.resolve_median_us / first.resolve_median_us
    lines.append(
        f"   median at {last.policies:,} / at {first.policies:,}: {ratio:.2f}x (target <= 1.5x) "
        + ("PASS" if ratio <= 1.5 else "FAIL")
    )
    return lines


def load_aggregate(runs: list[LoadFigures]) -> LoadFigures:
    return LoadFigures(
        endpoint=runs[0].endpoint,
        connections=runs[0].connections,
        requests_per_s=statistics.mean(r.requests_per_s for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        requests=sum(r.requests for r in runs),
        non_2xx=sum(r.non_2xx for r in runs),
        errors=sum(r.errors for r in runs),
        bytes_per_request=statistics.mean(r.bytes_per_request for r in runs),
    )


def ratios(
    results: dict[tuple[str, int], LoadFigures], inprocess: dict[str, dict[str, float]], conns: int, of: str
) -> dict[str, float]:
    """dispatch / `of` at `conns` connections: throughput, p99 and in-process CPU per request."""
    d, o = results[(DISPATCH, conns)], results[(of, conns)]
    return {
        "requests_per_s": d.requests_per_s / o.requests_per_s,
        "p99_ms": d.p99_ms / o.p99_ms,
        "cpu_us": inprocess[DISPATCH]["cpu_us"] / inprocess[of]["cpu_us"],
    }


def target_met(key: str, ratio: float) -> bool:
    limit, sense = FLOOR_TARGETS[key]
    return ratio >= limit if sense == ">=" else ratio <= limit


def http_table(
    results: dict[tuple[str, int], LoadFigures],
    inprocess: dict[str, dict[str, float]],
    connections: list[int],
    header: str,
) -> tuple[list[str], dict[str, object]]:
    """One table: every target's load figures and CPU per request, then dispatch/floor against
    issue 14's targets and dispatch/baseline; also the ratios and verdicts for bench.json."""
    lines = [
        header,
        f"   {'target':<17} {'conns':>5} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'CPU µs/req':>10} {'non-2xx':>8}"
        f" {'errors':>6} {'bytes/resp':>10}",
    ]
    for conns in connections:
        for target in TARGETS:
            r = results[(target, conns)]
            lines.append(
                f"   {LABELS[target]:<17} {conns:>5} {r.requests_per_s:>8.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f}"
                f" {inprocess[target]['cpu_us']:>10.0f} {r.non_2xx / max(1, r.requests):>8.0%} {r.errors:>6}"
                f" {r.bytes_per_request:>10.0f}"
            )
    targets = ", ".join(f"{COLUMNS[key]} {sense} {limit:.1f}x" for key, (limit, sense) in FLOOR_TARGETS.items())
    lines.append(
        f"   {'ratios':<23} "
        + " ".join(f"{COLUMNS[key]:>14}" for key in FLOOR_TARGETS)
        + f"   issue 14 targets, dispatch/floor: {targets}"
    )
    figures: dict[str, object] = {}
    for of in (FLOOR, BASELINE):
        name = f"dispatch/{LABELS[of].rsplit('/', 1)[-1]}"
        for conns in connections:
            ratio = ratios(results, inprocess, conns, of)
            if of == FLOOR:
                met = {key: target_met(key, value) for key, value in ratio.items()}
                cells = [f"{ratio[k]:.2f}x {'met' if met[k] else 'missed':<6}" for k in FLOOR_TARGETS]
                figures[f"{name} {conns}"] = {"ratios": ratio, "met": met}
            else:
                cells = [f"{ratio[k]:.2f}x{'':<7}" for k in FLOOR_TARGETS]
                figures[f"{name} {conns}"] = {"ratios": ratio}
            lines.append((f"   {name:<17} {conns:>5} " + " ".join(f"{cell:>14}" for cell in cells)).rstrip())
    return lines, figures


def django_setup(database: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"  # the product's, plus /bench/baseline
    os.environ["DATABASE_URL"] = f"{PG_SERVER}/{database}"
    os.environ["REDIS_URL"] = f"{REDIS_SERVER}/{REDIS_DB}"
    os.environ["CACHE_KEY_PREFIX"] = database
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # The in-process comparison runs the production connection handling (the psycopg pool), as
    # gunicorn does: without it each request would open a connection and that would dominate.
    import django

    django.setup()


def redis_clean(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(f"{REDIS_SERVER}/{REDIS_DB}")
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


def snapshot_build_ms() -> tuple[float, int]:
    from policies.snapshot import snapshot_build

    timings = []
    for _ in range(3):
        started = time.perf_counter()
        snapshot = snapshot_build()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), len(snapshot.policies)


def stamp_check_us() -> tuple[float, float]:
    """Median cost of one stamp check: a PostgreSQL SELECT, and a GET of its Redis mirror."""
    from django.core.cache import cache
    from django_redis import get_redis_connection

    from policies.snapshot.stamp import STAMP_KEY, stamp_version

    client, key = get_redis_connection("default"), cache.make_key(STAMP_KEY)
    client.set(key, stamp_version())

    def timed(check: object) -> float:
        timings = []
        for _ in range(500):
            started = time.perf_counter()
            check()  # type: ignore[operator]
            timings.append((time.perf_counter() - started) * 1_000_000)
        return statistics.median(timings)

    return timed(stamp_version), timed(lambda: client.get(key))


def floor_in_process(floor_database: str, *, calls: int, api_key: str) -> FloorMeter:
    """The floor's in-process meter: a process of its own, on the floor's settings and database."""
    return FloorMeter(floor_env(floor_database), path=FLOOR, calls=calls, api_key=api_key)


def load_rounds(
    stacks: dict[str, Stack], args: argparse.Namespace, connections: list[int], script: Path, api_key: str
) -> dict[tuple[str, int], list[LoadFigures]]:
    """wrk on every target, warm first, then `args.rounds` rounds in which the targets take turns
    (their order rotated each round), so the machine's drift reaches them all alike."""
    run_id = int(time.time())
    for target in TARGETS:  # warm every worker: snapshot, pool, code paths
        wrk_run(
            stacks[target], endpoint=target, connections=8, seconds=2, script=script, run_id=run_id, api_key=api_key
        )
        run_id += 1
    runs: dict[tuple[str, int], list[LoadFigures]] = {}
    for round_no in range(args.rounds):
        turn = round_no % len(TARGETS)
        order = TARGETS[turn:] + TARGETS[:turn]
        for conns in connections:
            for target in order:
                run_id += 1
                result = wrk_run(
                    stacks[target],
                    endpoint=target,
                    connections=conns,
                    seconds=args.seconds,
                    script=script,
                    run_id=run_id,
                    api_key=api_key,  # every target gets the same request bytes; only dispatch reads it
                )
                runs.setdefault((target, conns), []).append(result)
    return runs


def http_and_staleness(args: argparse.Namespace, out: list[str], figures: dict[str, object]) -> None:
    database = f"mds_bench_{os.getpid()}"
    floor_database = f"{database}_floor"
    connections = [int(c) for c in args.connections.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="mds-bench-"))
    stack = Stack(database=database, workers=args.workers, log_path=workdir / "gunicorn.log")
    floor = FloorStack(database=floor_database, workers=args.workers, log_path=workdir / "floor" / "gunicorn.log")
    floor.log_path.parent.mkdir()
    started = time.monotonic()
    database_create(database)
    database_create(floor_database)
    meter: FloorMeter | None = None
    try:
        floor_migrate(floor_database)
        django_setup(database)
        counts = world_load(args.policies)
        api_key = api_key_create()  # every target gets it; only dispatch checks it
        build_ms, built = snapshot_build_ms()
        stamp_db_us, stamp_redis_us = stamp_check_us()
        stack.baseline_width = response_width()
        os.environ["BENCH_BASELINE_WIDTH"] = str(stack.baseline_width)
        from django.conf import settings

        settings.BENCH_BASELINE_WIDTH = stack.baseline_width
        calls = 300 if args.quick else 1000
        meter = floor_in_process(floor_database, calls=calls, api_key=api_key)
        inprocess = cpu_per_request((BASELINE, DISPATCH), calls=calls, api_key=api_key, peers={FLOOR: meter.measure})
        meter.close()
        meter = None
        prep = time.monotonic() - started
        script = lua_script(workdir / "load.lua")
        stack.start()
        floor.start()
        runs = load_rounds({FLOOR: floor, BASELINE: stack, DISPATCH: stack}, args, connections, script, api_key)
        floor.stop()
        results = {key: load_aggregate(value) for key, value in runs.items()}
        header = (
            f"2. HTTP: gunicorn {args.workers} sync workers (gunicorn.conf.py) per target, PostgreSQL;"
            f" dispatch/baseline: production settings, Redis, demo world + {args.policies:,} generated ="
            f" {counts['policies']:,} active policies; floor: bench/floor/, its own settings and database;"
            f" wrk 2 threads, {args.rounds} x {args.seconds:.0f} s per row, alternating"
        )
        table, ratio_figures = http_table(results, inprocess, connections, header)
        out += table
        out.append(
            f"   snapshot build from PostgreSQL at {built:,} policies: {build_ms:.0f} ms (median of 3);"
            f" world prep {prep:.0f} s"
        )
        out.append(f"   baseline rows carry {stack.baseline_width} response bytes: the mean dispatch response width")
        out.append(
            f"   stamp check (every SNAPSHOT_CHECK_INTERVAL per worker): PostgreSQL SELECT {stamp_db_us:.0f} µs,"
            f" Redis GET {stamp_redis_us:.0f} µs (median of 500)"
        )
        f, b, d = inprocess[FLOOR], inprocess[BASELINE], inprocess[DISPATCH]
        out.append(
            f"   CPU µs/req: in process (WSGI handler, no server; the floor in its own process), median of 3"
            f" alternating rounds of {calls}; wall floor {f['wall_us']:.0f} / baseline {b['wall_us']:.0f} /"
            f" dispatch {d['wall_us']:.0f} µs (the rest: waiting on PostgreSQL and Redis)"
        )
        figures["inprocess"] = inprocess
        figures["ratios"] = ratio_figures
        figures["stamp_check_us"] = {"postgresql": stamp_db_us, "redis": stamp_redis_us}
        figures["http"] = {f"{k[0]} {k[1]}": vars(v) for k, v in results.items()}
        figures["http_runs"] = [vars(r) for key in runs for r in runs[key]]  # every round, for the spread
        figures["snapshot_build_ms"] = build_ms
        pids = stack.worker_pids()
        measured = staleness_measure(
            stack.log_path,
            url=stack.base + "/policies/validate?subject=mathematics&grade_band=elementary&region=us_east",
            pids=pids,
            changes=args.changes,
            api_key=api_key,
        )
        seconds, announce = [m[0] for m in measured], [m[1] for m in measured]
        out += [
            f"3. Staleness: authoring change committed -> all {len(pids)} workers serving it"
            f" ({len(seconds)} changes, check interval from settings; wrk keeps every worker busy)",
            f"   median {statistics.median(seconds) * 1000:.0f} ms, max {max(seconds) * 1000:.0f} ms"
            " (target <= 1000 ms) " + ("PASS" if max(seconds) <= 1.0 else "FAIL"),
            f"   of which the committing process building and sharing the rows: median"
            f" {statistics.median(announce) * 1000:.0f} ms, max {max(announce) * 1000:.0f} ms",
        ]
        times = build_times(stack.log_path)
        out.append(
            "   per worker and change: "
            + ", ".join(
                f"{'built from PostgreSQL' if source == 'database' else 'loaded from Redis'}"
                f" median {statistics.median(ms):.0f} ms (n={len(ms)})"
                for source, ms in sorted(times.items())
            )
        )
        figures["staleness_ms"] = [s * 1000 for s in seconds]
        figures["announce_ms"] = [s * 1000 for s in announce]
        figures["rebuild_ms"] = times
    finally:
        if meter is not None:
            meter.close()
        floor.stop()
        stack.stop()
        from django.db import connections as db_connections

        db_connections.close_all()
        database_drop(database)
        database_drop(floor_database)
        redis_clean(database)


def docs_read(path: Path) -> str:
    """`path`'s text; refused (before anything is measured) unless it holds the table's markers."""
    doc = path.read_text()
    if BEGIN not in doc or END not in doc:
        raise SystemExit(f"{path} has no {BEGIN} ... {END} markers")
    return doc


def docs_block(out: list[str], args: argparse.Namespace) -> str:
    """The printed table as a Markdown block between the markers, saying how it was made."""
    run = "`bench/run.py --quick` (a smoke run)" if args.quick else "`make bench`"
    skipped = [name for name, skip in (("engine", args.skip_engine), ("HTTP and staleness", args.skip_http)) if skip]
    partial = f"; {' and '.join(skipped)} skipped" if skipped else ""
    return "\n".join(
        [
            BEGIN,
            f"Generated by {run}{partial}; every round of every row is in `artifacts/bench.json`.",
            "",
            "```text",
            *out,
            "```",
            END,
        ]
    )


def docs_write(text: str, path: Path = DOC) -> None:
    """Replace the generated table (markers included) in `path`; everything around it stays."""
    doc = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: text, docs_read(path), count=1, flags=re.S)
    path.write_text(doc)


def main() -> int:
    args = parse_args()
    if args.docs:
        docs_read(args.docs)
    out: list[str] = [
        f"make bench{' --quick' if args.quick else ''}: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())},"
        f" {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    ]
    figures: dict[str, object] = {}
    if not args.skip_engine:
        engine = [engine_measure(size, calls=args.calls) for size in args.sizes]
        out += engine_table(engine)
        figures["engine"] = [vars(f) for f in engine]
        print("\n".join(out), flush=True)
    printed = len(out)
    if not args.skip_http:
        http_and_staleness(args, out, figures)
    print("\n".join(out[printed:]))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"table": out, **figures}, indent=2, default=str))
    if args.docs:
        docs_write(docs_block(out, args), args.docs)
        print(f"{args.docs} table rewritten")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
