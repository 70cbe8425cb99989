"""The database's share of a request: one audit INSERT of POST /dispatch against the floor's INSERT,
timed by pgbench on the server alone (no Django, no HTTP), in alternating rounds (docs/performance.md).

    .venv/bin/python bench/insert_cost.py                 # 3 rounds of 5 s per table, 4 clients
    .venv/bin/python bench/insert_cost.py --rounds 5 --seconds 8

Both rows are real: the floor's comes from its own view (bench/floor/) and the product's from one
in-process dispatch, each read back and sent again by pgbench with a fresh request id and time, as
many clients as gunicorn has workers (4). Beside `dispatch_logs` as migrated, copies show where
its extra cost lies: without the indexes of its two foreign keys (provider, policy), without the
foreign keys themselves, with the response compressed by lz4 instead of PostgreSQL's default pglz
(an accepted row is over the 2 kB TOAST threshold), with rows kept whole (`toast_tuple_target` at
its maximum: nothing compressed), and with the foreign keys checked at once instead of deferred to
the commit. The copies are measurements, not proposals: the product keeps its table. Needs
PostgreSQL and Redis like bench/run.py (BENCH_PG, BENCH_REDIS) and pgbench (PostgreSQL's client
tools); creates and drops its own databases.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http_bench import PG_SERVER, connections_release, database_create, database_drop, floor_migrate  # noqa: E402

CLIENTS = 4  # gunicorn's workers in the HTTP bench: one connection each at a time
# The copies of dispatch_logs: (name, what is left out). LIKE ... INCLUDING ALL keeps every index
# and check; foreign keys are added back as Django declares them (deferrable, initially deferred).
COPIES = (
    ("dispatch_logs without FK indexes", "fk-indexes"),
    ("dispatch_logs without FKs", "fks"),
    ("dispatch_logs, response lz4", "lz4"),
    ("dispatch_logs, rows kept whole", "inline"),
    ("dispatch_logs, FKs checked at once", "immediate"),
)


def pgbench_path() -> str:
    found = shutil.which("pgbench")
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"), reverse=True):
        return str(candidate)
    raise SystemExit("pgbench not found: install PostgreSQL's client tools (apt-get install -y postgresql-client)")


def product_row(database: str) -> dict[str, Any]:
    """One audit row written by a real dispatch (Django set up on `database`, bench settings)."""
    from bench.http_bench import api_key_create, world_load
    from bench.inprocess import Meter

    world_load(50)
    Meter(("/dispatch",), calls=1, api_key=api_key_create())  # its warm-up dispatches and audits
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM dispatch_logs WHERE outcome = 'accepted' ORDER BY id DESC LIMIT 1")
        names = [column.name for column in cursor.description]
        values = cursor.fetchone()
    assert values is not None, "no accepted dispatch was audited"
    return dict(zip(names, values, strict=True))


def floor_row(database: str) -> dict[str, Any]:
    """One row written by the floor's view, through its own settings (a subprocess)."""
    code = (
        "import json, django; django.setup()\n"
        "from rest_framework.test import APIClient\n"
        "from django.db import connection\n"
        "r = APIClient().post('/floor', {'subject': 'mathematics', 'grade_band': 'elementary',"
        " 'region': 'us_east'}, format='json', HTTP_HOST='127.0.0.1')\n"
        "assert r.status_code == 200, r.status_code\n"
        "cur = connection.cursor(); cur.execute('SELECT * FROM floor_rows ORDER BY id DESC LIMIT 1')\n"
        "print(json.dumps(dict(zip([c.name for c in cur.description], cur.fetchone())), default=str))\n"
    )
    from bench.http_bench import floor_env

    env = {**os.environ, **floor_env(database)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)  # noqa: S603
    assert out.returncode == 0, out.stderr[-3000:]
    row: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return row


def insert_sql(conn: Any, table: str, row: dict[str, Any]) -> str:
    """An INSERT of `row` into `table` with a new request id and time (the rest as written)."""
    from psycopg import sql

    columns = [name for name in row if name != "id"]
    values = [
        sql.SQL("gen_random_uuid()")
        if name == "request_id"
        else sql.SQL("now()")
        if name == "created_at"
        else sql.Literal(json.dumps(row[name]) if isinstance(row[name], dict | list) else row[name])
        for name in columns
    ]
    statement = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING id").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(", ").join(values)
    )
    return statement.as_string(conn)


def copies_create(conn: Any) -> list[str]:
    """The copies of dispatch_logs (COPIES); their names."""
    names = []
    for n, (_, without) in enumerate(COPIES):
        name = f"dispatch_logs_copy_{n}"
        conn.execute(f"DROP TABLE IF EXISTS {name}")
        conn.execute(f"CREATE TABLE {name} (LIKE dispatch_logs INCLUDING ALL)")  # the id identity too
        if without == "fk-indexes":
            for index in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = %s AND (indexdef LIKE '%%(provider_id)'"
                " OR indexdef LIKE '%%(policy_id)')",
                [name],
            ).fetchall():
                conn.execute(f'DROP INDEX "{index[0]}"')
        if without == "lz4":  # an accepted row is over the 2 kB TOAST threshold: its response is compressed
            conn.execute(f"ALTER TABLE {name} ALTER COLUMN response SET COMPRESSION lz4")
        if without == "inline":  # no row reaches the threshold: nothing is compressed or moved out
            conn.execute(f"ALTER TABLE {name} SET (toast_tuple_target = 8160)")
        if without != "fks":
            timing = "NOT DEFERRABLE" if without == "immediate" else "DEFERRABLE INITIALLY DEFERRED"
            for column, target in (("provider_id", "model_providers"), ("policy_id", "dispatch_policies")):
                conn.execute(f"ALTER TABLE {name} ADD FOREIGN KEY ({column}) REFERENCES {target} (id) {timing}")
        names.append(name)
    return names


def table_shape(conn: Any, table: str) -> str:
    """'N indexes, M FKs, T triggers' of `table`, as the server has it."""
    indexes = conn.execute("SELECT count(*) FROM pg_indexes WHERE tablename = %s", [table]).fetchone()[0]
    fks, triggers = conn.execute(
        "SELECT (SELECT count(*) FROM pg_constraint WHERE conrelid = to_regclass(%s) AND contype = 'f'),"
        " (SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass(%s) AND NOT tgisinternal)",
        [table, table],
    ).fetchone()
    return f"{indexes} indexes, {fks} FKs, {triggers} triggers"


def pgbench(binary: str, url: str, script: Path, seconds: int) -> tuple[float, float]:
    """(transactions per second, mean latency in ms) of `script` run by CLIENTS clients."""
    out = subprocess.run(  # noqa: S603 - pgbench on our own scripts
        [binary, "-n", "-c", str(CLIENTS), "-j", "2", "-T", str(seconds), "-f", str(script), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    tps = re.search(r"^tps = ([\d.]+)", out, re.MULTILINE)
    latency = re.search(r"^latency average = ([\d.]+) ms", out, re.MULTILINE)
    assert tps and latency, out
    return float(tps.group(1)), float(latency.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    binary = pgbench_path()

    product, floor = f"mds_bench_insert_{os.getpid()}", f"mds_bench_insert_floor_{os.getpid()}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["DATABASE_URL"] = f"{PG_SERVER}/{product}"
    os.environ["CACHE_KEY_PREFIX"] = product
    os.environ["BACKGROUND_JOBS"] = "false"
    os.environ.pop("DATABASE_OWNER_URL", None)
    database_create(product)
    database_create(floor)
    try:
        import django

        django.setup()
        import psycopg

        floor_migrate(floor)
        rows = {"floor_rows": (floor, floor_row(floor)), "dispatch_logs": (product, product_row(product))}
        with psycopg.connect(f"{PG_SERVER}/{product}", autocommit=True) as conn:
            copies = copies_create(conn)
        with tempfile.TemporaryDirectory() as work:
            scripts: dict[str, tuple[str, Path]] = {}
            tables = [("floor_rows", "floor's INSERT (11 columns)"), ("dispatch_logs", "dispatch_logs as migrated")]
            tables += [(name, label) for name, (label, _) in zip(copies, COPIES, strict=True)]
            for table, label in tables:
                database, row = rows["floor_rows" if table == "floor_rows" else "dispatch_logs"]
                with psycopg.connect(f"{PG_SERVER}/{database}") as conn:
                    script = Path(work) / f"{table}.sql"
                    script.write_text(insert_sql(conn, table, row) + ";\n")
                    label = f"{label} ({table_shape(conn, table)})"
                scripts[label] = (f"{PG_SERVER}/{database}", script)
            figures: dict[str, list[tuple[float, float]]] = {label: [] for label in scripts}
            for round_no in range(args.rounds):
                labels = list(scripts)
                labels = labels[round_no % len(labels) :] + labels[: round_no % len(labels)]
                for label in labels:
                    figures[label].append(pgbench(binary, *scripts[label], args.seconds))
        report(figures, args)
    finally:
        connections_release()
        database_drop(product)
        database_drop(floor)
    return 0


def report(figures: dict[str, list[tuple[float, float]]], args: argparse.Namespace) -> None:
    floor = statistics.median(tps for tps, _ in next(iter(figures.values())))  # the floor's is first
    print(
        f"One INSERT per transaction (autocommit, as the services write), pgbench with {CLIENTS} clients:"
        f" median of {args.rounds} alternating rounds of {args.seconds} s"
    )
    for label, runs in figures.items():
        tps = statistics.median(t for t, _ in runs)
        latency = statistics.median(ms for _, ms in runs)
        print(f"   {label:<62} {tps:>7.0f} inserts/s   {latency:>5.2f} ms mean   {floor / tps:>4.2f}x the floor's cost")


if __name__ == "__main__":
    raise SystemExit(main())
