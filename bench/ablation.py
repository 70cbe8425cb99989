"""What each of issue 14's changes buys: in-process CPU per dispatch with all of them, and with each
one turned back to what it replaced, in alternating rounds in one process (docs/performance.md).

    .venv/bin/python bench/ablation.py               # 1,000 generated policies, 20 rounds of 250 calls
    .venv/bin/python bench/ablation.py --rounds 11 --calls 2000

The changes, and what each is turned back to here:
- body: the dispatch body through `DispatchRequestSerializer` on every request (not `api.dispatch`'s plain-body path);
- chain: Django's plain WSGIHandler, every middleware on API calls (not `dispatch_site.handlers`);
- insert: the audit INSERT built per row, each value through Django's conversion, bound on the client;
- negotiation: DRF's DefaultContentNegotiation (not `api.negotiation.JsonFirstNegotiation`).

And one feature, to show what it adds to a dispatch when nothing is unhealthy (issue 15):
- health: no provider-health view at all, as before provider health existed (`dispatch_health`
  answers "every provider healthy" without looking); its row's 'costs' is negative by what the
  health check costs.

Needs PostgreSQL and Redis like bench/run.py (BENCH_PG, BENCH_REDIS, BENCH_REDIS_DB); creates and
drops its own database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http_bench import (  # noqa: E402
    PG_SERVER,
    REDIS_DB,
    REDIS_SERVER,
    connections_release,
    database_create,
    database_drop,
)

CHANGES = ("body", "chain", "insert", "negotiation")
FEATURES = ("health",)


def _insert_before(instance: Any, *, conflict: Sequence[str], returning: str) -> Any | None:
    """common.inserts.insert_ignoring_conflict as it was before issue 14's change."""
    from django.db import connection

    meta = instance._meta
    fields = [f for f in meta.concrete_fields if not getattr(f, "db_returning", False)]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    values = [f.get_db_prep_save(f.pre_save(instance, add=True), connection) for f in fields]
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders}) "
        f"ON CONFLICT ({', '.join(quote(c) for c in conflict)}) DO NOTHING RETURNING {quote(returning)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    return None if row is None else row[0]


def _body_before(data: Any) -> dict[str, Any]:
    from api.serializers import DispatchRequestSerializer

    serializer = DispatchRequestSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    validated: dict[str, Any] = serializer.validated_data
    return validated


@contextmanager
def _without(changes: set[str], meter: Any, apps: dict[str, Any]) -> Iterator[None]:
    """Turn `changes` back to what they replaced while the block runs."""
    from rest_framework.negotiation import DefaultContentNegotiation

    import api.dispatch
    import audit.services
    import policies.services
    from api.dispatch import DispatchView
    from providers.health.services import NO_HEALTH_ISSUES

    saved = (
        api.dispatch.dispatch_request_data,
        audit.services.insert_ignoring_conflict,
        DispatchView.content_negotiation_class,
        policies.services.dispatch_health,
    )
    if "body" in changes:
        api.dispatch.dispatch_request_data = _body_before
    if "insert" in changes:
        audit.services.insert_ignoring_conflict = _insert_before
    if "negotiation" in changes:
        DispatchView.content_negotiation_class = DefaultContentNegotiation
    if "health" in changes:
        policies.services.dispatch_health = lambda: NO_HEALTH_ISSUES
    meter.app = apps["plain" if "chain" in changes else "product"]
    try:
        yield
    finally:
        (
            api.dispatch.dispatch_request_data,
            audit.services.insert_ignoring_conflict,
            DispatchView.content_negotiation_class,
            policies.services.dispatch_health,
        ) = saved
        meter.app = apps["product"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policies", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--calls", type=int, default=250)
    args = parser.parse_args()

    database = f"mds_bench_ablation_{os.getpid()}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["DATABASE_URL"] = f"{PG_SERVER}/{database}"
    os.environ["REDIS_URL"] = f"{REDIS_SERVER}/{REDIS_DB}"
    os.environ["CACHE_KEY_PREFIX"] = database
    os.environ["BACKGROUND_JOBS"] = "false"
    os.environ.pop("DATABASE_OWNER_URL", None)
    database_create(database)
    try:
        import django

        django.setup()
        from django.core.handlers.wsgi import WSGIHandler

        from bench.http_bench import api_key_create, world_load
        from bench.inprocess import Meter

        world_load(args.policies)
        meter = Meter(("/dispatch",), calls=args.calls, api_key=api_key_create())
        apps = {"product": meter.app, "plain": WSGIHandler()}
        configs: dict[str, set[str]] = {"all changes": set(), **{f"without {c}": {c} for c in CHANGES}}
        configs["none (before)"] = set(CHANGES)
        configs.update({f"without {f} (feature)": {f} for f in FEATURES})
        for off in configs.values():  # warm every variant
            with _without(off, meter, apps):
                meter.measure("/dispatch")
        cpu: dict[str, list[float]] = {name: [] for name in configs}
        for round_no in range(args.rounds):
            names = list(configs)
            names = names[round_no % len(names) :] + names[: round_no % len(names)]
            for name in names:
                with _without(configs[name], meter, apps):
                    cpu[name].append(meter.measure("/dispatch")[0])
        meter.close()
        report(cpu, args)
    finally:
        connections_release()
        database_drop(database)
    return 0


def report(cpu: dict[str, list[float]], args: argparse.Namespace) -> None:
    """Each variant's median, and its cost over "all changes" as the median of the per-round
    differences (both measured in the same round, so the machine's drift between rounds cancels)."""
    base = cpu["all changes"]
    print(
        f"In-process CPU per dispatch, µs: median of {args.rounds} alternating rounds of {args.calls:,} calls"
        f" ({args.policies:,} generated policies); 'costs' = median of the per-round differences from all changes"
    )
    for name, values in cpu.items():
        paired = statistics.median(v - b for v, b in zip(values, base, strict=True))
        print(f"   {name:<28} {statistics.median(values):>7.0f} µs   costs {paired:>+6.0f} µs")


if __name__ == "__main__":
    raise SystemExit(main())
