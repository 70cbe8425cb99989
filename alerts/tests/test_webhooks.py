"""Webhooks: alerts raised by provider health and budgets arrive at a real local receiver, signed,
sent by the background job (claimed in PostgreSQL), retried with back-off after a failing attempt."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from alerts.delivery import _claim, backoff_seconds, deliveries_send_due
from alerts.models import DeliveryStatus, Webhook, WebhookDelivery
from alerts.services import InvalidWebhook, webhook_save, webhook_test_send
from alerts.tests.receiver import webhook_receiver
from api.testing import keyed_api
from clients.services import client_budget_set
from common.background import jobs_registered
from policies.tests.factories import make_policy, make_provider, make_rule
from providers.signals import provider_health_changed

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

SECRET = "a-long-webhook-secret-for-tests"
ALL = ["budget.80_percent", "budget.exhausted", "provider.cooling_down", "provider.recovered"]


def hook(url: str, events: list[str] = ALL, name: str = "ops") -> Webhook:
    return webhook_save(webhook=Webhook(name=name, url=url, events=events), secret=SECRET)


def health(state: str, previous: str, slug: str = "dear") -> None:
    provider_health_changed.send(
        sender=None,
        provider_id=uuid.UUID(int=7),
        provider_slug=slug,
        state=state,
        previous=previous,
        at=dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC),
        details={"failures": 5},
    )


@pytest.fixture
def fast_retries(settings):
    settings.ALERT_WEBHOOK_RETRY_SECONDS = 0.5
    settings.ALERT_WEBHOOK_TIMEOUT_SECONDS = 2
    settings.ALERT_WEBHOOK_MAX_ATTEMPTS = 3


def send_until(predicate, *, seconds: float) -> None:
    """Run the delivery job until `predicate()` holds; bounded by `seconds` (the back-off under test plus a margin)."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "the deliveries did not settle in time"
        deliveries_send_due()
        time.sleep(0.05)


def test_the_delivery_job_is_registered():
    assert "alerts.deliver" in jobs_registered()


def test_a_provider_cooling_down_arrives_signed_after_a_failing_first_attempt(fast_retries):
    with webhook_receiver(500) as receiver:
        hook(receiver.url)
        health("cooling_down", "healthy")
        delivery = WebhookDelivery.objects.get()
        assert receiver.received == []  # raised, not sent: only the job sends
        assert deliveries_send_due() == 1  # the first attempt: 500
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
        assert delivery.next_attempt_at > timezone.now()  # backed off
        assert deliveries_send_due() == 0  # not due yet
        send_until(lambda: len(receiver.received) == 2, seconds=backoff_seconds(1) + 5)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 2, 200)
    first, second = receiver.received
    assert first.body == second.body and second.signed_with(SECRET) and not second.signed_with("another-secret")
    assert second.headers["x-mds-event"] == "provider.cooling_down"
    assert second.json == {
        "event": "provider.cooling_down",
        "subject": "dear",
        "at": "2026-11-30T10:00:00Z",
        "details": {
            "provider_id": str(uuid.UUID(int=7)),
            "state": "cooling_down",
            "previous": "healthy",
            "failures": 5,
        },
    }


def test_recovered_is_sent_from_probing_to_healthy_and_other_transitions_raise_nothing():
    with webhook_receiver() as receiver:
        hook(receiver.url)
        health("probing", "cooling_down")
        health("healthy", "healthy")
        assert WebhookDelivery.objects.count() == 0
        health("healthy", "probing")
        deliveries_send_due()
    assert [r.json["event"] for r in receiver.received] == ["provider.recovered"]


def test_only_subscribed_active_webhooks_get_an_alert():
    with webhook_receiver() as receiver:
        hook(receiver.url, events=["budget.exhausted"], name="budgets-only")
        inactive = hook(receiver.url, name="inactive")
        inactive.is_active = False
        webhook_save(webhook=inactive)
        health("cooling_down", "healthy")
        assert WebhookDelivery.objects.count() == 0


def test_attempts_run_out_to_failed(fast_retries, settings):
    settings.ALERT_WEBHOOK_MAX_ATTEMPTS = 2
    with webhook_receiver(503, 503, 503) as receiver:
        hook(receiver.url)
        health("cooling_down", "healthy")
        send_until(lambda: WebhookDelivery.objects.get().status == "failed", seconds=backoff_seconds(1) + 5)
    assert len(receiver.received) == 2 and WebhookDelivery.objects.get().last_status_code == 503


def test_an_unreachable_receiver_is_retried_not_raised():
    with webhook_receiver() as receiver:
        url = receiver.url
    hook(url)  # the server is gone: connection refused
    health("cooling_down", "healthy")
    assert deliveries_send_due() == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.last_status_code is None and delivery.last_error


def test_a_claimed_delivery_is_not_claimed_again_until_its_lease_ends(settings):
    hook("http://127.0.0.1:9/never")
    health("cooling_down", "healthy")
    now = timezone.now()
    assert len(_claim(now)) == 1
    assert _claim(now) == []  # another worker's pass finds it taken
    lease = dt.timedelta(seconds=settings.ALERT_WEBHOOK_TIMEOUT_SECONDS * 2 + 5)
    assert len(_claim(now + lease + dt.timedelta(seconds=1))) == 1  # that worker died: the next pass sends it


def test_send_test_reaches_the_receiver_signed():
    with webhook_receiver() as receiver:
        webhook = hook(receiver.url, events=["budget.exhausted"])
        assert webhook_test_send(webhooks=[webhook]) == 1
        deliveries_send_due()
    (received,) = receiver.received
    assert received.json["event"] == "webhook.test" and received.signed_with(SECRET)


@pytest.mark.parametrize(
    ("fields", "secret", "field"),
    [
        ({"url": "ftp://example.org/x", "events": ALL}, SECRET, "url"),
        ({"url": "https://example.org/x", "events": ["provider.exploded"]}, SECRET, "events"),
        ({"url": "https://example.org/x", "events": []}, SECRET, "events"),
        ({"url": "https://example.org/x", "events": ALL}, "short", "secret"),
    ],
)
def test_a_bad_webhook_is_refused_naming_the_field(fields, secret, field):
    with pytest.raises(InvalidWebhook) as refused:
        webhook_save(webhook=Webhook(name="bad", **fields), secret=secret)
    assert field in refused.value.fields
    assert not Webhook.objects.exists()


def test_budget_alerts_fire_once_per_client_and_period_when_reported_outcomes_cross_them(require_redis):
    dear = make_provider("dear", cost_per_1k_input_tokens=Decimal("0.03"), cost_per_1k_output_tokens=Decimal("0.06"))
    make_rule("us_east")
    make_policy("Maths", dear)
    api, client, _ = keyed_api("dispatch", "outcome")
    client_budget_set(client=client, amount=Decimal("0.05"), period="day", on_exhausted="refuse")
    report = {"success": True, "latency_ms": 300, "input_tokens": 1000, "output_tokens": 200}  # 0.042 each
    with webhook_receiver() as receiver:
        hook(receiver.url)
        for _ in range(2):
            rid = uuid.uuid4()
            body = {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}
            assert api.post(f"/dispatch?request_id={rid}", body, format="json").status_code == 200
            assert api.post(f"/dispatch/{rid}/outcome", report, format="json").status_code == 201
        # 0.042 (84 %): budget.80_percent; 0.084: budget.exhausted; the third dispatch is refused and spends nothing
        assert api.post("/dispatch", body, format="json").status_code == 422
        deliveries_send_due()
    events = [(r.json["event"], r.json["subject"]) for r in receiver.received]
    assert sorted(events) == [("budget.80_percent", client.name), ("budget.exhausted", client.name)]
    exhausted = next(r for r in receiver.received if r.json["event"] == "budget.exhausted")
    assert exhausted.signed_with(SECRET)
    assert exhausted.json["details"] | {"period_start": "-"} == {
        "client": client.name,
        "threshold_percent": 100,
        "period": "day",
        "period_start": "-",
        "limit": 0.05,
        "spent": 0.084,
    }
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 2


def test_outcomes_past_a_spent_budget_raise_no_further_alert(require_redis):
    cheap = make_provider("cheap", cost_per_1k_input_tokens=Decimal("0.03"), cost_per_1k_output_tokens=Decimal("0.06"))
    make_rule("us_east")
    make_policy("Maths", cheap)
    api, client, _ = keyed_api("dispatch", "outcome")
    client_budget_set(client=client, amount=Decimal("0.05"), period="day", on_exhausted="cheapest")
    report = {"success": True, "latency_ms": 300, "input_tokens": 1000, "output_tokens": 200}  # 0.042 each
    hook("http://127.0.0.1:9/unused")
    body = {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}
    for _ in range(4):  # cheapest keeps serving: 0.042, 0.084, 0.126, 0.168
        rid = uuid.uuid4()
        assert api.post(f"/dispatch?request_id={rid}", body, format="json").status_code == 200
        assert api.post(f"/dispatch/{rid}/outcome", report, format="json").status_code == 201
    assert sorted(WebhookDelivery.objects.values_list("event", flat=True)) == ["budget.80_percent", "budget.exhausted"]
