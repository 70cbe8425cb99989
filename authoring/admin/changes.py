"""Change requests in admin: the list, and the review page (diff, coverage impact, replay impact)
where another administrator approves or rejects (authoring.changes holds every rule; this is
the page). A request is never edited: a new proposal replaces it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.html import format_html

from authoring.changes import ChangeRefused, change_review, may_review
from authoring.models import ChangeRequest, ChangeState
from authoring.review import change_review_data
from policies.replay import CATEGORIES, DEFAULT_DAYS


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")], widget=forms.RadioSelect)
    review_reason = forms.CharField(label="Reason", widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    break_glass_reason = forms.CharField(
        label="Break-glass reason (only to approve your own request, as a superuser)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
    )


@admin.register(ChangeRequest)
class ChangeRequestAdmin(admin.ModelAdmin):
    list_display = ["id", "state", "what", "author", "created_at", "effective_at", "reviewer", "glass"]
    list_filter = ["state"]
    search_fields = ["reason", "summary"]
    list_select_related = ["author", "reviewer"]

    @admin.display(description="changes")
    def what(self, obj: ChangeRequest) -> str:
        lines = obj.summary.splitlines()
        return "; ".join(lines[:3]) + (f" and {len(lines) - 3} more" if len(lines) > 3 else "")

    @admin.display(description="break glass")
    def glass(self, obj: ChangeRequest) -> str:
        return format_html('<strong class="{}">{}</strong>', "break-glass", "BREAK GLASS") if obj.break_glass else ""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # proposed from the authored models' own forms, or import_policies --propose

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the record of who proposed and who approved stays

    def get_queryset(self, request: HttpRequest) -> QuerySet[ChangeRequest]:
        return super().get_queryset(request).select_related("author", "reviewer")

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        """The review page: what would change, what it would do, and the decision."""
        change = self.get_object(request, unquote(object_id))
        if change is None or not self.has_view_or_change_permission(request, change):
            raise Http404("No such change request")
        form = ReviewForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                done = change_review(
                    change=change,
                    reviewer=request.user,
                    approve=form.cleaned_data["decision"] == "approve",
                    reason=form.cleaned_data["review_reason"],
                    break_glass_reason=form.cleaned_data["break_glass_reason"],
                )
            except PermissionDenied as error:
                form.add_error(None, str(error))
            except ChangeRefused as error:
                for field, problems in error.problems.items():
                    form.add_error(field if field in form.fields else None, problems)
            else:
                messages.success(request, f"Change request #{done.pk}: {done.get_state_display().lower()}.")
                return HttpResponseRedirect(request.path)
        days = _days(request.GET.get("days", ""))
        reviewable = change.state == ChangeState.PROPOSED
        review = change_review_data(change, days=days) if reviewable else None
        context = {
            **self.admin_site.each_context(request),
            "title": f"Change request #{change.pk}",
            "opts": self.model._meta,
            "change": change,
            "review": review,
            "days": days,
            "categories": CATEGORIES,
            "form": form,
            "may_review": reviewable and may_review(request.user),
            "own": change.author_id == request.user.pk,
        }
        return TemplateResponse(request, "admin/policies/change_request_review.html", context)


def _days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        return DEFAULT_DAYS
    return days if 1 <= days <= 90 else DEFAULT_DAYS
