"""Webhooks in admin: authored with history (the secret never shown back), a "send test" action,
deliveries listed read-only."""

from __future__ import annotations

import pytest

from alerts.delivery import deliveries_send_due
from alerts.models import Webhook, WebhookDelivery
from alerts.services import webhook_test_send
from alerts.tests.receiver import webhook_receiver

pytestmark = pytest.mark.django_db

SECRET = "an-admin-authored-secret"


def add(admin_client, url: str, **extra):
    data = {"name": "ops", "url": url, "events": ["budget.exhausted", "provider.cooling_down"], "new_secret": SECRET}
    return admin_client.post("/admin/alerts/webhook/add/", {**data, "is_active": "on", **extra})


def test_admin_adds_a_webhook_sends_a_test_and_lists_the_delivery(admin_client):
    with webhook_receiver() as receiver:
        assert add(admin_client, receiver.url).status_code == 302
        webhook = Webhook.objects.get()
        assert webhook.secret == SECRET and webhook.history.count() == 1
        assert SECRET not in admin_client.get(f"/admin/alerts/webhook/{webhook.pk}/change/").content.decode()
        response = admin_client.post(
            "/admin/alerts/webhook/", {"action": "send_test", "_selected_action": [webhook.pk]}, follow=True
        )
        assert "Queued 1 test delivery" in response.content.decode()
        deliveries_send_due()
    (received,) = receiver.received
    assert received.json["event"] == "webhook.test" and received.signed_with(SECRET)
    listing = admin_client.get("/admin/alerts/webhookdelivery/").content.decode()
    assert "webhook.test" in listing and "delivered" in listing
    delivery = WebhookDelivery.objects.get()
    page = admin_client.get(f"/admin/alerts/webhookdelivery/{delivery.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()  # read-only
    assert admin_client.get("/admin/alerts/webhookdelivery/add/").status_code == 403


def test_a_blank_secret_on_change_keeps_the_current_one(admin_client):
    add(admin_client, "https://hooks.example.org/mds")
    webhook = Webhook.objects.get()
    response = admin_client.post(
        f"/admin/alerts/webhook/{webhook.pk}/change/",
        {"name": "ops", "url": "https://hooks.example.org/v2", "events": ["budget.80_percent"], "new_secret": ""},
    )
    assert response.status_code == 302
    webhook.refresh_from_db()
    assert (webhook.secret, webhook.url) == (SECRET, "https://hooks.example.org/v2")
    assert webhook.events == ["budget.80_percent"] and not webhook.is_active
    assert webhook.history.count() == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"url": "ftp://hooks.example.org/x"}, "Use an http:// or https:// URL"),
        ({"new_secret": "short"}, "at least 16 characters"),
        ({"new_secret": ""}, "needs a secret"),
        ({"events": []}, "This field is required"),
        ({"events": ["provider.exploded"]}, "Select a valid choice"),
    ],
)
def test_a_bad_webhook_is_a_form_error_and_writes_nothing(admin_client, extra, message):
    url = extra.pop("url", "https://hooks.example.org/mds")
    response = add(admin_client, url, **extra)
    assert response.status_code == 200 and message in response.content.decode()
    assert not Webhook.objects.exists()


def test_a_failed_delivery_is_retried_from_its_list(admin_client):
    add(admin_client, "http://127.0.0.1:9/gone")
    webhook_test_send(webhooks=list(Webhook.objects.all()))
    WebhookDelivery.objects.update(status="failed", attempts=8)
    delivery = WebhookDelivery.objects.get()
    admin_client.post("/admin/alerts/webhookdelivery/", {"action": "retry_now", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
