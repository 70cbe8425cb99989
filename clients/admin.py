"""Admin for API clients: create (the key is shown once), edit scopes, rate and spend budget, rotate,
revoke, and the teachers each client may act for (one teacher, or every teacher of a school), with
the history of those authorisations and of the budget on the client's page.

Declarative; every write goes through clients.services. With CHANGE_APPROVAL=required a budget
is governed: authoring.admin.clients registers a subclass that proposes budget changes for review.
A new key (add, rotate) is shown in the response to that POST itself, marked no-store, and nowhere
else: never in a message (the `messages` cookie is signed, not encrypted), the session or a log,
so it exists only in that one page and the administrator's clipboard.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from clients.models import ApiClient, BudgetExhausted, BudgetPeriod, ClientBudget, Scope, TeacherAuthorisation
from clients.selectors import (
    client_budget_history,
    school_normalise,
    teacher_authorisation_history,
    teacher_authorisation_list,
)
from clients.services import (
    InvalidClient,
    api_client_create,
    api_client_revoke,
    api_client_rotate,
    api_client_update,
    budget_check,
    client_budget_set,
    rate_check,
    teacher_authorisation_save,
    teacher_authorisation_withdraw,
)


class ApiClientForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple, required=False)
    budget_amount = forms.DecimalField(
        required=False,
        max_digits=14,
        decimal_places=6,
        min_value=Decimal("0.000001"),
        label="Budget",
        help_text="Spend per period, in the currency of the provider prices; blank: no budget",
    )
    budget_period = forms.ChoiceField(
        choices=BudgetPeriod.choices, initial=BudgetPeriod.MONTH, required=False, label="Budget period"
    )
    on_budget_exhausted = forms.ChoiceField(
        choices=BudgetExhausted.choices,
        initial=BudgetExhausted.REFUSE,
        required=False,
        label="When the budget is spent",
    )

    class Meta:
        model = ApiClient
        fields = ["name", "description", "scopes", "rate", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        budget = ClientBudget.objects.filter(client_id=self.instance.pk).first() if self.instance.pk else None
        if budget is not None:
            self.initial.update(
                budget_amount=budget.amount, budget_period=budget.period, on_budget_exhausted=budget.on_exhausted
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        amount = data.get("budget_amount")
        if amount is not None:
            try:
                budget_check(
                    amount=amount,
                    period=data.get("budget_period", ""),
                    on_exhausted=data.get("on_budget_exhausted", ""),
                )
            except InvalidClient as exc:
                self.add_error("budget_amount", exc.message)
        return data

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
    inlines = [TeacherAuthorisationInline]
    list_display = [
        "name",
        "scope_list",
        "rate",
        "budget_label",
        "is_active",
        "key_prefix",
        "created_at",
        "rotated_at",
        "revoked_at",
    ]
    list_select_related = ["budget"]
    list_filter = ["is_active"]
    search_fields = ["name", "description", "key_prefix"]
    readonly_fields = ["key_prefix", "created_at", "rotated_at", "revoked_at"]
    actions = ["rotate_keys", "revoke_keys"]

    @admin.display(description="budget")
    def budget_label(self, obj: ApiClient) -> str:
        budget = getattr(obj, "budget", None)
        return f"{budget.amount.normalize():f}/{budget.period} ({budget.on_exhausted})" if budget is not None else "-"

    @admin.display(description="scopes")
    def scope_list(self, obj: ApiClient) -> str:
        return ", ".join(obj.scopes)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiClient | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is None:
            return fields
        return ["name", *fields, "acts_for", "authorisation_history", "budget_history"]

    @admin.display(description="budget history (newest first)")
    def budget_history(self, obj: ApiClient) -> SafeString | str:
        records = list(client_budget_history(client_id=obj.pk))
        if not records:
            return "no budget yet"
        kinds = {"+": "set", "~": "changed", "-": "removed"}
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    record.history_date.strftime("%Y-%m-%d %H:%M:%S UTC"),
                    kinds.get(record.history_type, record.history_type),
                    f"{record.amount:f}/{record.period}, then {record.on_exhausted}",
                    record.history_user.get_username() if record.history_user else "(no user: a command or a service)",
                    record.history_change_reason or "",
                )
                for record in records
            ),
        )
        return format_html(
            "<table><tr><th>when</th><th>change</th><th>budget</th><th>by</th><th>why</th></tr>{}</table>", rows
        )

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
            self.budget_save(request, obj, data)
            return
        client, key = api_client_create(
            name=data["name"], scopes=data["scopes"], rate=data["rate"], description=data["description"]
        )
        self.budget_save(request, client, data)
        obj.pk = client.pk
        obj.refresh_from_db()
        _keep_key(request, client, key)

    def budget_save(self, request: HttpRequest, client: ApiClient, data: dict[str, Any]) -> None:
        """Write the form's budget. With CHANGE_APPROVAL=required, authoring.admin.clients replaces
        this admin with one that proposes the change for review instead."""
        client_budget_set(
            client=client,
            amount=data.get("budget_amount"),
            period=data.get("budget_period") or BudgetPeriod.MONTH,
            on_exhausted=data.get("on_budget_exhausted") or BudgetExhausted.REFUSE,
        )

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


def _teacher_label(record: Any) -> str:
    """A historical row's teacher by its teacher id, or by its number once the profile is gone."""
    try:
        teacher = record.teacher
    except ObjectDoesNotExist:
        teacher = None
    return str(teacher.external_id) if teacher is not None else f"#{record.teacher_id} (profile deleted)"
