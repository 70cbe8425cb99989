"""Admin for webhooks (authored, with history; "send test") and their deliveries (read-only).

Declarative; every write goes through alerts.services. The secret is never shown back: on an
existing webhook a blank secret keeps the current one.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from alerts.models import AlertEvent, Webhook, WebhookDelivery
from alerts.services import SECRET_MIN_LENGTH, InvalidWebhook, delivery_retry_now, webhook_save, webhook_test_send
from common.history_admin import HistoryAdmin


class WebhookForm(forms.ModelForm):
    url = forms.URLField(
        max_length=500, assume_scheme="https", help_text="http:// or https://; one JSON POST per alert"
    )
    events = forms.MultipleChoiceField(choices=AlertEvent.choices, widget=forms.CheckboxSelectMultiple)
    new_secret = forms.CharField(
        label="Secret",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        min_length=SECRET_MIN_LENGTH,
        help_text=f"At least {SECRET_MIN_LENGTH} characters; signs every body (X-MDS-Signature). "
        "On an existing webhook, leave blank to keep the current secret.",
    )

    class Meta:
        model = Webhook
        fields = ["name", "url", "events", "is_active"]  # the secret is `new_secret`: never shown, blank keeps it

    def clean_url(self) -> str:
        url = str(self.cleaned_data.get("url") or "")
        if not url.startswith(("http://", "https://")):
            raise forms.ValidationError("Use an http:// or https:// URL.")
        return url

    def clean_new_secret(self) -> str:
        secret = str(self.cleaned_data.get("new_secret") or "")
        if not secret and self.instance.pk is None:
            raise forms.ValidationError(f"A new webhook needs a secret of at least {SECRET_MIN_LENGTH} characters.")
        return secret


@admin.register(Webhook)
class WebhookAdmin(HistoryAdmin):
    form = WebhookForm
    list_display = ["name", "url", "event_list", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "url"]
    actions = ["send_test"]

    @admin.display(description="events")
    def event_list(self, obj: Webhook) -> str:
        return ", ".join(obj.events)

    def save_model(self, request: HttpRequest, obj: Webhook, form: Any, change: bool) -> None:
        secret = form.cleaned_data.get("new_secret") or None
        try:
            webhook_save(webhook=obj, secret=secret)
        except InvalidWebhook as exc:  # the form checks the same first; a race or a direct POST lands here
            self.message_user(request, exc.message, messages.ERROR)

    @admin.action(description="Send a test delivery to the selected webhooks (sent in the background)")
    def send_test(self, request: HttpRequest, queryset: QuerySet[Webhook]) -> None:
        count = webhook_test_send(webhooks=list(queryset))
        self.message_user(
            request, f"Queued {count} test deliver{'y' if count == 1 else 'ies'}; see Webhook deliveries."
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "event",
        "subject",
        "webhook",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
    ]
    list_filter = ["status", "event", "webhook"]
    search_fields = ["subject", "event"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["retry_now"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WebhookDelivery | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: WebhookDelivery | None = None) -> bool:
        return False

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("alerts.change_webhookdelivery"))

    @admin.action(description="Retry the selected deliveries now (attempts counted afresh)", permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        for delivery in queryset:
            delivery_retry_now(delivery=delivery)
        self.message_user(request, "Queued again; the background job sends them on its next pass.")
