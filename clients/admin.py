"""Admin for API clients: create (the key is shown once), edit scopes and rate, rotate, revoke.

Declarative; every write goes through clients.services. A new key (add, rotate) is shown in the
response to that POST itself, marked no-store, and nowhere else: never in a message (the
`messages` cookie is signed, not encrypted), the session or a log, so it exists only in that
one page and the administrator's clipboard.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

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


_NEW_KEYS = "_new_api_keys"  # request attribute: keys made while handling this request only


def _keep_key(request: HttpRequest, client: ApiClient, key: str) -> None:
    """Hold a new key for this request's response (in memory, for this request only)."""
    keys: list[tuple[ApiClient, str]] = getattr(request, _NEW_KEYS, [])
    keys.append((client, key))
    setattr(request, _NEW_KEYS, keys)


def keys_shown(request: HttpRequest, title: str) -> HttpResponse | None:
    """The page showing this request's new keys, uncacheable; None when none were made."""
    keys = getattr(request, _NEW_KEYS, [])
    if not keys:
        return None
    context = {**admin.site.each_context(request), "title": title, "keys": keys}
    response = TemplateResponse(request, "admin/clients/apiclient/keys_shown.html", context).render()
    add_never_cache_headers(response)  # Cache-Control: no-cache, no-store, must-revalidate, private
    return response


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
        _keep_key(request, client, key)

    def response_add(self, request: HttpRequest, obj: ApiClient, post_url_continue: str | None = None) -> HttpResponse:
        return keys_shown(request, "New API key") or super().response_add(request, obj, post_url_continue)

    @admin.action(description="Rotate the key of the selected clients (new keys shown once)")
    def rotate_keys(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> HttpResponse | None:
        for client in queryset:
            _keep_key(request, client, api_client_rotate(client=client))
        return keys_shown(request, "Rotated API keys")

    @admin.action(description="Revoke the selected clients' keys")
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        for client in queryset:
            api_client_revoke(client=client)
        self.message_user(request, f"Revoked {queryset.count()} client(s).")
