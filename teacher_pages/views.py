"""Teacher pages: thin views over the override service, the teacher selectors and the runtime's
read side (`policies.selectors`).

Access: anonymous users are sent to the login page; signed-in users who are not teachers get
403. Every POST is CSRF-checked (Django's middleware). One snapshot per request: the page's
providers and the policy's own choice are read from the snapshot the decision was made with
(or the first one read), never from two versions.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from common.errors import IdempotencyConflict, ReplayNotCompliant
from policies.engine import Snapshot
from policies.selectors import decision_preview, providers_available
from teacher_pages.forms import CONTEXT_FIELDS, OverrideForm, context_from
from teachers.models import TeacherProfile
from teachers.selectors import (
    FORM_CLIENT_REF,
    override_get,
    override_list,
    override_view,
    teacher_for_user,
    template_names,
)
from teachers.services import override_submit
from vocabulary import GradeBand

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
    if request.method == "POST" and request.POST.get("action") != "preview":
        return _submit(request, teacher)
    # GET, or "Show the policy's choice": refresh the offered providers, write nothing.
    source = request.POST if request.method == "POST" else request.GET
    initial = {name: source[name] for name in (*CONTEXT_FIELDS, "provider", "justification") if source.get(name)}
    if initial.get("region") not in teacher.regions:
        initial["region"] = teacher.regions[0]
    form = OverrideForm(regions=teacher.regions, initial=initial)
    return _page(request, teacher, form, source=initial)


def _submit(request: HttpRequest, teacher: TeacherProfile) -> HttpResponse:
    form = OverrideForm(regions=teacher.regions, data=request.POST)
    if not form.is_valid():
        return _page(request, teacher, form, source=request.POST, status=400)
    data = form.cleaned_data
    try:
        result = override_submit(
            teacher_id=teacher.external_id,
            context=form.context(),
            provider_ref=data["provider"],
            justification=data["justification"],
            request_id=data["request_id"],
            client_ref=FORM_CLIENT_REF,
            acting_client_id=None,  # the teacher acting for themself
            profile=teacher,
        )
    except IdempotencyConflict as exc:  # this page was already submitted, with other values
        form.add_error(None, "This page was already submitted with other values. Check them and submit again.")
        return _page(request, teacher, form, source=request.POST, status=exc.status_code)
    except ReplayNotCompliant as exc:  # this page's earlier decision named a provider that may no longer serve
        form.add_error(None, f"{exc.message}.")
        return _page(request, teacher, form, source=request.POST, status=exc.status_code)
    if result.status == 200:
        return redirect("teachers:override-detail", pk=result.log_id)
    error = result.body["error"]
    form.add_refusal(error["code"], error["message"])
    return _page(
        request, teacher, form, source=request.POST, status=result.status, refusal=error, snapshot=result.snapshot
    )


def _page(
    request: HttpRequest,
    teacher: TeacherProfile,
    form: OverrideForm,
    *,
    source: Any,
    status: int = 200,
    refusal: dict[str, Any] | None = None,
    snapshot: Snapshot | None = None,
) -> HttpResponse:
    region = str(source.get("region", ""))
    band = str(source.get("grade_band", ""))
    offered = providers_available(
        region=region if region in teacher.regions else teacher.regions[0],
        grade_band=band if band in GradeBand.values else "",  # without one: the youngest band
        snapshot=snapshot,
    )
    form.providers_offer(offered.available)
    if form.is_bound:  # a re-shown form is a new attempt: give it a new request id
        data = QueryDict(mutable=True)
        data.update(form.data)
        data["request_id"] = str(uuid.uuid4())
        form.data = data
    context = context_from(source)
    return render(
        request,
        "teachers/override_form.html",
        {
            "teacher": teacher,
            "form": form,
            "reference": decision_preview(context=context, snapshot=offered.snapshot).decision if context else None,
            "refusal": refusal,
        },
        status=status,
    )


@require_GET
@teacher_required
def overrides(request: HttpRequest, teacher: TeacherProfile) -> HttpResponse:
    page = Paginator(override_list(teacher=teacher), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "teachers/override_list.html",
        {"teacher": teacher, "page": page, "entries": [override_view(log) for log in page.object_list]},
    )


@require_GET
@teacher_required
def override_detail(request: HttpRequest, teacher: TeacherProfile, pk: int) -> HttpResponse:
    log = override_get(teacher=teacher, pk=pk)
    if log is None:
        raise Http404("No such override of yours.")
    entry = override_view(log)
    return render(
        request,
        "teachers/override_detail.html",
        {"teacher": teacher, "entry": entry, "templates": template_names(entry.body.get("template_ids", []))},
    )
