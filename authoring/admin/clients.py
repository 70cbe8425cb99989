"""API clients in admin with change approval: a budget changes only through a change request.

A budget changes what dispatch decides once it is spent (refused, or the cheapest provider), so
with CHANGE_APPROVAL=required the client's page proposes a budget change for review instead of
writing it (authoring.changes.budget_change_propose): it asks why (and, optionally, when), keeps
the live budget until another administrator approves, and says which request holds the change.
The rest of the page (description, scopes, rate, active, teacher authorisations) are access
grants, saved at once as before (docs/changes.md, "What is governed").

Registered in place of clients.admin.ApiClientAdmin (the clients app sits below authoring and
cannot propose changes itself); with approval off it behaves exactly like it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from authoring.admin.base import effective_at_field
from authoring.changes import ChangeRefused, approval_required, budget_change_propose
from authoring.documents import DocumentInvalid
from authoring.validators import CHANGE_REASON_MAX
from clients.admin import ApiClientAdmin, ApiClientForm
from clients.models import ApiClient, BudgetExhausted, BudgetPeriod, ClientBudget

REASON_REQUIRED = "Say why you are changing this budget; the reviewer sees it and it is kept with the history."


def _budget_wanted(data: dict[str, Any]) -> tuple[Any, str, str] | None:
    amount = data.get("budget_amount")
    if amount is None:
        return None
    return amount, data.get("budget_period") or BudgetPeriod.MONTH, data.get("on_budget_exhausted") or "refuse"


class GovernedApiClientForm(ApiClientForm):
    """The client's form with what a budget proposal needs: why, and optionally when."""

    change_reason = forms.CharField(
        required=False,
        max_length=CHANGE_REASON_MAX,
        label="Why this budget change?",
        help_text="Change approval is required: a budget change becomes a change request, and the budget "
        "stays as it is until another administrator approves it. Required when the budget changes.",
    )
    change_effective_at = forms.CharField(
        required=False,
        label="Budget change effective at (UTC, optional)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Empty: as soon as it is approved.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        live = ClientBudget.objects.filter(client_id=self.instance.pk).first() if self.instance.pk else None
        if self.has_error("budget_amount") or _budget_wanted(data) == (
            None if live is None else (live.amount, live.period, live.on_exhausted)
        ):
            return data  # no budget change: nothing to propose, nothing to ask
        data["change_reason"] = " ".join((data.get("change_reason") or "").split())
        if not data["change_reason"]:
            self.add_error("change_reason", REASON_REQUIRED)
        try:
            data["change_effective_at"] = effective_at_field(data.get("change_effective_at") or "")
        except ChangeRefused as error:
            self.add_error("change_effective_at", [m for ms in error.problems.values() for m in ms])
        return data


class GovernedApiClientAdmin(ApiClientAdmin):
    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if approval_required():
            kwargs["form"] = GovernedApiClientForm
        return super().get_form(request, obj, change, **kwargs)

    def budget_save(self, request: HttpRequest, client: ApiClient, data: dict[str, Any]) -> None:
        if not approval_required():
            super().budget_save(request, client, data)
            return
        wanted = _budget_wanted(data)
        change = budget_change_propose(
            client=client,
            amount=wanted[0] if wanted else None,
            period=wanted[1] if wanted else BudgetPeriod.MONTH,
            on_exhausted=wanted[2] if wanted else BudgetExhausted.REFUSE,
            reason=data.get("change_reason") or "",
            author=request.user,
            effective_at=data.get("change_effective_at"),
        )
        if change is not None:
            self.message_user(
                request,
                format_html(
                    'The budget change is proposed as <a href="{}">change request #{}</a>: the budget stays as it '
                    "is until another administrator approves it.",
                    reverse("admin:authoring_changerequest_change", args=[change.pk]),
                    change.pk,
                ),
                messages.WARNING,
            )

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (DocumentInvalid, ChangeRefused) as error:  # the save is rolled back whole
            if request.method != "POST":
                raise
            problems = error.problems if isinstance(error, ChangeRefused) else {"__all__": error.errors}
            messages.error(request, "Nothing was saved: " + "; ".join(m for ms in problems.values() for m in ms))
            return HttpResponseRedirect(request.get_full_path())


if admin.site.is_registered(ApiClient):
    admin.site.unregister(ApiClient)
admin.site.register(ApiClient, GovernedApiClientAdmin)

__all__ = ["GovernedApiClientAdmin"]
