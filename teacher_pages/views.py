"""Teacher pages: thin views over the override service, the teacher selectors and the runtime's
read side (`policies.selectors`).

Access: anonymous users are sent to the login page; signed-in users who are not teachers get
403. Every POST is CSRF-checked (Django's middleware). One snapshot per request: the page's
providers and the policy's own choice are read from the snapshot the decision was made with
(or the first one read), never from two versions.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from common.errors import IdempotencyConflict, ReplayNotCompliant
from policies.engine import DispatchContext
from policies.selectors import override_offer
from teacher_pages.forms import CONTEXT_FIELDS, REFUSAL_FIELDS, OverrideForm
from teachers.models import TeacherProfile
from teachers.selectors import (
    override_get,
    override_list,
    override_view,
    provider_names,
    teacher_for_user,
    template_names,
)
from teachers.services import override_submit
from vocabulary import GradeBand, Region, Subject

TeacherView = Callable[..., HttpResponse]
PAGE_SIZE = 25


def teacher_required(view: TeacherView) -> Callable[..., HttpResponse]:
    """Anonymous: login redirect. Signed in but not an active teacher: 403. Else the view gets the profile."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        teacher = teacher_for_user(request.user)
        if teacher is None:
            raise PermissionDenied("Only members of the Teachers group with a teacher profile may use these pages.")
        return view(request, teacher, *args, **kwargs)

    return wrapper


@require_GET
@teacher_required
def start(request: HttpRequest, teacher: TeacherProfile) -> HttpResponse:
    return redirect("teachers:override-new")


@require_http_methods(["GET", "POST"])
@teacher_required
def override_new(request: HttpRequest, teacher: TeacherProfile) -> HttpResponse:
    """GET, or "Show the policy's choice" (`action=preview`): the form, with the region's providers
    and the policy's own choice; writes nothing. A submit: the override service, then the decision's
    page, or the form again saying why not. One snapshot: the page's options are read first, and
    the override is decided with the same one."""
    submitting = request.method == "POST" and request.POST.get("action") != "preview"
    source: Any = request.POST if request.method == "POST" else request.GET
    if not submitting:  # refresh the offered providers from what the page holds so far
        source = {name: source[name] for name in (*CONTEXT_FIELDS, "provider", "justification") if source.get(name)}
        if source.get("region") not in teacher.regions:
            source["region"] = teacher.regions[0]
    region, band = str(source.get("region", "")), str(source.get("grade_band", ""))
    offer = override_offer(
        context=_context(source),
        region=region if region in teacher.regions else teacher.regions[0],
        grade_band=band if band in GradeBand.values else "",  # without one: the youngest band
    )
    form = OverrideForm(
        source if submitting else None, initial=source, regions=teacher.regions, providers=offer.options.available
    )
    status, refusal = 200, None
    if submitting and not form.is_valid():
        status = 400
    elif submitting:
        data = form.cleaned_data
        try:
            result = override_submit(
                teacher_id=teacher.external_id,
                context=form.context(),
                provider_ref=data["provider"],
                justification=data["justification"],
                request_id=data["request_id"],
                profile=teacher,  # the teacher acting for themself
                snapshot=offer.snapshot,
            )
        except IdempotencyConflict as exc:  # this page was already submitted, with other values
            form.add_error(None, "This page was already submitted with other values. Check them and submit again.")
            status = exc.status_code
        except ReplayNotCompliant as exc:  # this page's earlier decision named a provider that may no longer serve
            form.add_error(None, f"{exc.message}.")
            status = exc.status_code
        else:
            if result.status == 200:
                return redirect("teachers:override-detail", pk=result.log_id)
            refusal = result.body["error"]
            form.add_error(REFUSAL_FIELDS.get(refusal["code"]), refusal["message"])
            status = result.status
    if form.is_bound:  # a re-shown form is a new attempt
        form.request_renew()
    return render(
        request,
        "teachers/override_form.html",
        {
            "teacher": teacher,
            "form": form,
            "reference": offer.options.reference,
            "refused_ahead": offer.options.refused_ahead,
            "refusal": refusal,
        },
        status=status,
    )


def _context(source: Any) -> DispatchContext | None:
    """The context the page names so far, or None while any part is not a valid code."""
    subject, grade_band, region = (str(source.get(name, "")) for name in CONTEXT_FIELDS)
    if subject in Subject.values and grade_band in GradeBand.values and region in Region.values:
        return DispatchContext(subject, grade_band, region)
    return None


@require_GET
@teacher_required
def overrides(request: HttpRequest, teacher: TeacherProfile) -> HttpResponse:
    page = Paginator(override_list(teacher=teacher), PAGE_SIZE).get_page(request.GET.get("page"))
    names = provider_names()
    return render(
        request,
        "teachers/override_list.html",
        {"teacher": teacher, "page": page, "entries": [override_view(log, names) for log in page.object_list]},
    )


@require_GET
@teacher_required
def override_detail(request: HttpRequest, teacher: TeacherProfile, pk: int) -> HttpResponse:
    log = override_get(teacher=teacher, pk=pk)
    if log is None:
        raise Http404("No such override of yours.")
    entry = override_view(log, provider_names())
    return render(
        request,
        "teachers/override_detail.html",
        {"teacher": teacher, "entry": entry, "templates": template_names(entry.body.get("template_ids", []))},
    )
