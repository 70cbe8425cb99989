"""Benchmark: the coverage map of the demo world, 5 regions x every subject x 6 grade bands.

Target (issue 3): the admin page renders in under 1 s. Measures, on a fresh database with the
demo world: the admin page (`GET /admin/coverage/`, logged in, full HTML), the monitoring JSON
(`GET /coverage`), and the engine alone (`coverage_grid` over a snapshot). Prints the figures;
exits 1 when the page's median is 1 s or more.

    .venv/bin/python bench/coverage_map.py [--runs 30]

Uses a throwaway SQLite file unless BENCH_DATABASE_URL is set (e.g. a scratch PostgreSQL DB).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    fn()  # warm: first request builds the snapshot and loads templates
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def line(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return f"{name:<44} median {statistics.median(samples):8.2f} ms   p95 {p95:8.2f} ms   max {max(samples):8.2f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    scratch = tempfile.TemporaryDirectory(prefix="bench-coverage-")
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{scratch.name}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dispatch_site.test_settings")  # plain static storage
    os.environ["SNAPSHOT_CHECK_INTERVAL"] = "0.5"

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    from authoring.demo import DEMO_ADMIN_PASSWORD, DEMO_ADMIN_USERNAME, demo_world_load
    from policies.selectors import coverage_grid, coverage_regions
    from policies.snapshot import current_snapshot
    from vocabulary import GradeBand, Subject

    settings.SNAPSHOT_CHECK_INTERVAL = 0.5
    setup_test_environment()
    call_command("migrate", verbosity=0)
    demo_world_load()
    client = Client()
    assert client.login(username=DEMO_ADMIN_USERNAME, password=DEMO_ADMIN_PASSWORD)

    snapshot = current_snapshot()
    regions = coverage_regions(snapshot)
    cells = len(regions) * len(Subject.values) * len(GradeBand.values)

    def page() -> None:
        response = client.get("/admin/coverage/")
        assert response.status_code == 200 and response.content.count(b'<table class="coverage"') == len(regions)

    def api() -> None:
        response = client.get("/coverage")
        assert response.status_code == 200 and response.json()["contexts"] == cells

    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(
        f"coverage map: {len(regions)} regions x {len(Subject.values)} subjects x {len(GradeBand.values)} grade bands "
        f"= {cells} contexts; {args.runs} runs each; database {engine}"
    )
    page_ms = timed(page, args.runs)
    print(line("admin page GET /admin/coverage/ (HTML)", page_ms))
    print(line("monitoring GET /coverage (JSON)", timed(api, args.runs)))
    print(line("engine coverage_grid() alone", timed(lambda: coverage_grid(snapshot, regions=regions), args.runs)))
    ok = statistics.median(page_ms) < 1000 and max(page_ms) < 1000
    print(f"target: admin page under 1 s -> {'PASS' if ok else 'FAIL'} (worst {max(page_ms):.1f} ms)")
    scratch.cleanup()
    return 0 if statistics.median(page_ms) < 1000 else 1


if __name__ == "__main__":
    sys.exit(main())
