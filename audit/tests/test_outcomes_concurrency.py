"""Concurrent outcome reports for one hour bucket add up exactly (PostgreSQL, threads, real connections)."""

from __future__ import annotations

import threading
from dataclasses import asdict

import pytest
from django.db import connection
from django.utils import timezone

from audit.models import DispatchOutcome, ModelMetric, ModelMetricDaily
from audit.services import OutcomeReport, outcome_report
from audit.tests.factories import log_make
from policies.services import request_fingerprint
from policies.tests.factories import make_policy, make_provider


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_reports_for_one_bucket_add_up_exactly(require_postgres):
    provider = make_provider("alpha")
    policy = make_policy("P", provider)
    now = timezone.now()
    logs = [log_make(provider=provider, policy=policy, created_at=now) for _ in range(24)]
    reports = {
        log.request_id: OutcomeReport(
            success=i % 4 != 0,
            latency_ms=37 * i + 20,
            input_tokens=100 + i,
            output_tokens=10 * i,
            error_code="" if i % 4 else "timeout",
        )
        for i, log in enumerate(logs)
    }
    copies = 2  # every report is also sent twice at once: counted once
    barrier = threading.Barrier(len(logs) * copies)
    errors: list[BaseException] = []

    def worker(rid) -> None:
        try:
            report = reports[rid]
            barrier.wait(timeout=20)
            outcome_report(
                client_ref="", request_id=rid, report=report, fingerprint=request_fingerprint(asdict(report))
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(log.request_id,)) for log in logs for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    values = list(reports.values())
    metric = ModelMetric.objects.get()
    assert metric.requests == len(logs) == DispatchOutcome.objects.count()
    assert metric.successes == sum(r.success for r in values)
    assert metric.failures == sum(not r.success for r in values)
    assert metric.latency_ms_sum == sum(r.latency_ms for r in values)
    assert metric.input_tokens == sum(r.input_tokens for r in values)
    assert metric.output_tokens == sum(r.output_tokens for r in values)
    assert metric.cost == sum(o.cost for o in DispatchOutcome.objects.all())
    histogram = [getattr(metric, name) for name in ("latency_le_50", "latency_le_100", "latency_le_250")]
    assert histogram == [1, 2, 4]  # latencies 20, 57, 94, 131, 168, 205, 242, ...
    daily = ModelMetricDaily.objects.get()
    assert (daily.requests, daily.latency_ms_sum, daily.cost) == (metric.requests, metric.latency_ms_sum, metric.cost)
