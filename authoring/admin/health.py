"""Admin: the provider health page (state per provider, trips in the last 24 h) and "mark healthy"
with a reason (audited by `providers.health.services`: a transition row naming the user and the
reason). Thin: reads `provider_health_list`, writes through `provider_health_mark_healthy`.

Viewing needs the permission to view providers; marking healthy, to change them.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from providers.health.selectors import provider_health_list
from providers.health.services import provider_health_mark_healthy
from providers.models import ModelProvider, ProviderHealthTransition


def provider_health_allowed(user: Any) -> bool:
    return bool(user.has_perm("providers.view_modelprovider") or user.has_perm("providers.change_modelprovider"))


def provider_health_change_allowed(user: Any) -> bool:
    return bool(user.has_perm("providers.change_modelprovider"))


class MarkHealthyForm(forms.Form):
    provider = forms.ModelChoiceField(queryset=ModelProvider.objects.order_by("name"), widget=forms.HiddenInput)
    reason = forms.CharField(
        min_length=10,
        max_length=500,
        strip=True,
        help_text="Why it is healthy again (at least 10 characters); kept with your name in the transition log.",
    )


def provider_health_view(request: HttpRequest) -> HttpResponse:
    if not provider_health_allowed(request.user):
        raise PermissionDenied
    form: MarkHealthyForm | None = None
    status = 200
    if request.method == "POST":
        if not provider_health_change_allowed(request.user):
            raise PermissionDenied
        form = MarkHealthyForm(request.POST)
        if form.is_valid():
            provider = form.cleaned_data["provider"]
            changed = provider_health_mark_healthy(
                provider=provider, by=request.user, reason=form.cleaned_data["reason"]
            )
            if changed:
                messages.success(request, f"{provider.slug} is marked healthy.")
            else:
                messages.info(request, f"{provider.slug} was already healthy: nothing recorded.")
            return HttpResponseRedirect(reverse("admin:provider-health"))
        status = 400
    rows, shared = provider_health_list()
    recent = ProviderHealthTransition.objects.select_related("provider", "changed_by")[:20]
    context = {
        **admin.site.each_context(request),
        "title": "Provider health",
        "rows": rows,
        "shared": shared,
        "recent": recent,
        "form": form,
        "failed_provider": str(form.data.get("provider", "")) if form is not None else "",
        "can_mark": provider_health_change_allowed(request.user),
    }
    return TemplateResponse(request, "admin/providers/health.html", context, status=status)
