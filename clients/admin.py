"""Admin for API clients: create (the key is shown once), edit scopes and rate, rotate, revoke.

Declarative; every write goes through clients.services.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from clients.models import ApiClient, Scope
from clients.services import (
    InvalidClient,
    api_client_create,
    api_client_revoke,
    api_client_rotate,
    api_client_update,
    rate_check,
)


class ApiClientForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple, required=False)

    class Meta:
        model = ApiClient
        fields = ["name", "description", "scopes", "rate", "is_active"]

    def clean_rate(self) -> str:
        rate = (self.cleaned_data.get("rate") or "").strip()
        if rate:
            try:
                rate_check(rate)
            except InvalidClient as exc:
                raise forms.ValidationError(exc.message) from exc
        return rate


def _show_key(request: HttpRequest, client: ApiClient, key: str) -> None:
    messages.warning(request, f"API key for {client.name} (shown once; copy it now): {key}")


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    form = ApiClientForm
    list_display = ["name", "scope_list", "rate", "is_active", "key_prefix", "created_at", "rotated_at", "revoked_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "description", "key_prefix"]
    readonly_fields = ["key_prefix", "created_at", "rotated_at", "revoked_at"]
    actions = ["rotate_keys", "revoke_keys"]

    @admin.display(description="scopes")
    def scope_list(self, obj: ApiClient) -> str:
        return ", ".join(obj.scopes)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiClient | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        return ["name", *fields] if obj is not None else fields

    def save_model(self, request: HttpRequest, obj: ApiClient, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if change:
            api_client_update(
                client=obj,
                scopes=data["scopes"],
                rate=data["rate"],
                description=data["description"],
                is_active=data["is_active"],
            )
            return
        client, key = api_client_create(
            name=data["name"], scopes=data["scopes"], rate=data["rate"], description=data["description"]
        )
        obj.pk = client.pk
        obj.refresh_from_db()
        _show_key(request, client, key)

    @admin.action(description="Rotate the key of the selected clients (new keys shown once)")
    def rotate_keys(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        for client in queryset:
            _show_key(request, client, api_client_rotate(client=client))

    @admin.action(description="Revoke the selected clients' keys")
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        for client in queryset:
            api_client_revoke(client=client)
        self.message_user(request, f"Revoked {queryset.count()} client(s).")
