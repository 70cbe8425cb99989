"""Concurrent outcome reports of one client add up exactly in its spend, and each budget alert is
raised once (PostgreSQL, threads, real connections)."""

from __future__ import annotations

import threading
from dataclasses import asdict
from decimal import Decimal

import pytest
from django.db import connection

from audit.models import ClientSpend
from audit.services import OutcomeReport, outcome_report
from audit.signals import client_budget_crossed
from audit.spend import SpendBudget
from audit.tests.factories import log_make
from policies.services import request_fingerprint
from policies.tests.factories import make_policy, make_provider


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_reports_add_up_in_the_spend_and_raise_each_alert_once(require_postgres):
    provider = make_provider("alpha", cost_per_1k_input_tokens=Decimal("0.01"), cost_per_1k_output_tokens=Decimal("0"))
    policy = make_policy("P", provider)
    logs = [log_make(provider=provider, policy=policy, client_ref="busy") for _ in range(24)]
    report = OutcomeReport(success=True, latency_ms=100, input_tokens=1000)  # 0.01 each: 0.24 in all
    budget = SpendBudget(amount=Decimal("0.20"), period="month")  # 80 % at the 16th report, 100 % at the 20th
    raised: list[int] = []
    client_budget_crossed.connect(
        lambda sender, threshold, **kwargs: raised.append(threshold), weak=False, dispatch_uid="t"
    )
    barrier = threading.Barrier(len(logs))
    errors: list[BaseException] = []

    def worker(rid) -> None:
        try:
            barrier.wait(timeout=20)
            outcome_report(
                client_ref="busy",
                request_id=rid,
                report=report,
                fingerprint=request_fingerprint(asdict(report)),
                budget=budget,
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=worker, args=(log.request_id,)) for log in logs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        client_budget_crossed.disconnect(dispatch_uid="t")
    assert not errors, errors
    for period in ("day", "month"):
        row = ClientSpend.objects.get(client_ref="busy", period=period)
        assert (row.spent, row.outcomes) == (Decimal("0.24"), 24)
    assert sorted(raised) == [80, 100]
    month = ClientSpend.objects.get(client_ref="busy", period="month")
    assert month.alerted_80_at is not None and month.alerted_100_at is not None
