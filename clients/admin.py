"""Admin for API clients: create (the key is shown once), edit scopes and rate, rotate, revoke,
and the teachers each client may act for (one teacher, or every teacher of a school), with the
history of those authorisations on the client's page.

Declarative; every write goes through clients.services.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from clients.models import ApiClient, Scope, TeacherAuthorisation
from clients.selectors import school_normalise, teacher_authorisation_history, teacher_authorisation_list
from clients.services import (
    InvalidClient,
    api_client_create,
    api_client_revoke,
    api_client_rotate,
    api_client_update,
    rate_check,
    teacher_authorisation_save,
    teacher_authorisation_withdraw,
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


class TeacherAuthorisationForm(forms.ModelForm):
    class Meta:
        model = TeacherAuthorisation
        fields = ["teacher", "school"]

    def clean_school(self) -> str:
        return school_normalise(self.cleaned_data.get("school") or "")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("teacher")) == bool(data.get("school")):
            raise forms.ValidationError("Name one teacher or one school on each row (not both).")
        return data


class TeacherAuthorisationFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        seen: set[tuple[str, str]] = set()
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE"):
                continue
            teacher = data.get("teacher")
            key = ("teacher", teacher.external_id) if teacher else ("school", data["school"].lower())
            if key in seen:
                raise forms.ValidationError(f"The {key[0]} {key[1]} is listed twice; keep one row.")
            seen.add(key)


class TeacherAuthorisationInline(admin.TabularInline):
    model = TeacherAuthorisation
    form = TeacherAuthorisationForm
    formset = TeacherAuthorisationFormSet
    fields = ["teacher", "school", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["teacher"]
    extra = 1
    verbose_name = "teacher authorisation"
    verbose_name_plural = (
        "Teachers this client may act for (teacher overrides): one teacher or one school per row; none: no overrides"
    )


def _show_key(request: HttpRequest, client: ApiClient, key: str) -> None:
    messages.warning(request, f"API key for {client.name} (shown once; copy it now): {key}")


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    form = ApiClientForm
    inlines = [TeacherAuthorisationInline]
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
        return ["name", *fields, "acts_for", "authorisation_history"] if obj is not None else fields

    @admin.display(description="acts for (overrides)")
    def acts_for(self, obj: ApiClient) -> str:
        rows = list(teacher_authorisation_list(client_id=obj.pk))
        if not rows:
            return "nobody: every teacher override this client asks for is refused (teacher_not_authorised)"
        teachers = [r.teacher.external_id for r in rows if r.teacher is not None]
        schools = [r.school for r in rows if r.school]
        parts = []
        if schools:
            parts.append("every teacher of " + ", ".join(schools))
        if teachers:
            parts.append("teacher(s) " + ", ".join(teachers))
        return "; ".join(parts)

    @admin.display(description="authorisation history (newest first)")
    def authorisation_history(self, obj: ApiClient) -> SafeString | str:
        records = list(teacher_authorisation_history(client_id=obj.pk))
        if not records:
            return "no authorisation yet"
        kinds = {"+": "authorised", "~": "changed", "-": "withdrawn"}
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    record.history_date.strftime("%Y-%m-%d %H:%M:%S UTC"),
                    kinds.get(record.history_type, record.history_type),
                    f"school {record.school}" if record.school else f"teacher {_teacher_label(record)}",
                    record.history_user.get_username() if record.history_user else "(no user: a command or a service)",
                )
                for record in records
            ),
        )
        return format_html("<table><tr><th>when</th><th>change</th><th>for</th><th>by</th></tr>{}</table>", rows)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not TeacherAuthorisation:
            super().save_formset(request, form, formset, change)
            return
        authorisations = formset.save(commit=False)  # sets each new row's client; writes nothing
        for authorisation in formset.deleted_objects:
            teacher_authorisation_withdraw(authorisation=authorisation)
        for authorisation in authorisations:
            teacher_authorisation_save(authorisation=authorisation)

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


def _teacher_label(record: Any) -> str:
    """A historical row's teacher by its teacher id, or by its number once the profile is gone."""
    try:
        teacher = record.teacher
    except ObjectDoesNotExist:
        teacher = None
    return str(teacher.external_id) if teacher is not None else f"#{record.teacher_id} (profile deleted)"
