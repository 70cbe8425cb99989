"""The analytics bench's generator, at a small size (the 1M-row run is `make bench-analytics`, not CI)."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from audit.selectors import analytics

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _bench():
    path = Path(__file__).resolve().parents[2] / "bench" / "analytics_scale.py"
    spec = importlib.util.spec_from_file_location("analytics_scale", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_fill_is_consistent_with_analytics(require_postgres):
    bench = _bench()
    providers, policy = bench.world_make()
    bench.fill_dispatches(first=1, last=3000, provider_ids=providers, policy_id=policy)
    bench.fill_dispatches(first=3001, last=4000, provider_ids=providers, policy_id=policy)
    body = analytics(region=None, days=30)
    first_day = timezone.now().astimezone(dt.UTC).date() - dt.timedelta(days=29)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*), COUNT(o.dispatch_log_id), COALESCE(SUM(o.latency_ms), 0) FROM dispatch_logs l "
            "LEFT JOIN dispatch_outcomes o ON o.dispatch_log_id = l.id "
            "WHERE (l.created_at AT TIME ZONE 'UTC')::date >= %s",
            [first_day],
        )
        total, reported, latency = cursor.fetchone()
    assert 1000 < total < 2000  # a third of 90 days
    assert body["total_requests"] == total and body["outcomes_reported"] == reported
    assert body["average_response_time_ms"] == round(latency / reported)
    assert sum(p["dispatches"] for p in body["providers"]) == body["accepted"]
