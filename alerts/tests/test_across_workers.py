"""Budgets and alerts with two real gunicorn workers on PostgreSQL and Redis.

Outcomes reported to either worker spend the client's budget; the next dispatch, on either worker,
is refused; the budget alerts reach a local receiver, sent by the workers' own background job
(never by the request), signed, once each, the first attempt failing and retried."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest
from django.db import connection

from alerts.models import DeliveryStatus, Webhook, WebhookDelivery
from alerts.services import webhook_save
from alerts.tests.receiver import webhook_receiver
from clients.services import api_client_create
from dispatch_site.tests.servers import gunicorn_workers, request, served_by
from policies.tests.factories import make_policy, make_provider, make_rule

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SECRET = "a-long-webhook-secret-for-tests"
MATH = {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}
REPORT = {"success": True, "latency_ms": 300, "input_tokens": 1000, "output_tokens": 200}  # 0.042 at dear's prices
INTERVAL, RETRY = 0.2, 1.0  # ALERT_DELIVERY_INTERVAL and ALERT_WEBHOOK_RETRY_SECONDS of the servers


def test_a_budget_spent_on_one_worker_refuses_on_the_other_and_alerts_arrive_signed(
    require_postgres, require_redis, settings, tmp_path
):
    dear = make_provider("dear", cost_per_1k_input_tokens=Decimal("0.03"), cost_per_1k_output_tokens=Decimal("0.06"))
    make_rule("us_east")
    make_policy("Maths", dear)
    _, key = api_client_create(name="budgeted", scopes=["dispatch", "outcome"], budget="0.08/day")
    log_path = tmp_path / "gunicorn.log"
    env = {"ALERT_DELIVERY_INTERVAL": str(INTERVAL), "ALERT_WEBHOOK_RETRY_SECONDS": str(RETRY)}
    with (
        webhook_receiver(500) as receiver,
        gunicorn_workers(
            database=connection.settings_dict, redis_url=settings.REDIS_URL, log_path=log_path, env=env
        ) as base,
    ):
        webhook_save(
            webhook=Webhook(name="ops", url=receiver.url, events=["budget.80_percent", "budget.exhausted"]),
            secret=SECRET,
        )
        statuses = []
        for _ in range(6):  # spread over both workers until the budget refuses
            rid = uuid.uuid4()
            status, body = request(f"{base}/dispatch?request_id={rid}", key, MATH)
            statuses.append(status)
            if status != 200:
                break
            assert request(f"{base}/dispatch/{rid}/outcome", key, REPORT)[0] == 201
        assert statuses == [200, 200, 422], statuses  # 0.042 (52 %), 0.084 (105 %): spent
        assert body["error"]["code"] == "budget_exhausted" and body["budget"]["spent"] == 0.084
        for _ in range(6):  # every worker now refuses
            assert request(f"{base}/dispatch", key, MATH)[0] == 422
        assert len(served_by(log_path, "/dispatch")) == 2, "both workers must have served dispatches"
        deadline = time.monotonic() + RETRY + 4 * INTERVAL + 10  # the back-off under test, plus a margin
        while WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).count() < 2:
            assert time.monotonic() < deadline, list(WebhookDelivery.objects.values())
            time.sleep(0.1)
    events = [r.json["event"] for r in receiver.received]
    assert len(events) == 3 and sorted(set(events)) == ["budget.80_percent", "budget.exhausted"]  # one retried
    assert all(r.signed_with(SECRET) for r in receiver.received)
    assert WebhookDelivery.objects.filter(attempts=2).count() == 1
