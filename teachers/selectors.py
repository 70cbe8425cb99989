"""Reads about teachers: who is a teacher (the directory), who may act for them, and their overrides.

What the override form offers (a region's providers, the policy's own choice) is read through
`policies.selectors`, like every other surface.

A teacher's overrides are the audit rows carrying their `external_id` as `teacher_id`, whichever
surface wrote them (the form or an app calling `POST /dispatch` on their behalf), except attempts
refused because the app was not authorised to act for them: those were never theirs (they stay in
the audit log, naming the teacher id that was tried).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet

from audit.models import DispatchLog
from clients.models import TeacherAuthorisation
from clients.selectors import school_normalise
from policies.engine.types import REFUSAL_TEACHER_NOT_AUTHORISED
from providers.models import ModelProvider, PromptTemplate
from teachers.models import TEACHERS_GROUP, TeacherProfile
from vocabulary.wording import refusal_words

FORM_CLIENT_REF = "web:teacher-form"  # the audit rows' client_ref for attempts made through the form


def teacher_for_user(user: AbstractBaseUser | AnonymousUser) -> TeacherProfile | None:
    """The user's teacher profile when they are an active member of the Teachers group."""
    if not user.is_authenticated:
        return None
    return (
        TeacherProfile.objects.filter(user__pk=user.pk, user__is_active=True, user__groups__name=TEACHERS_GROUP)
        .select_related("user")
        .first()
    )


@dataclass(frozen=True, slots=True)
class OverrideParties:
    """Who an override is for, and whether the one asking may act for them."""

    teacher: TeacherProfile | None  # the active teacher the override names; None: no such teacher
    client_authorised: bool  # the API client asking may act for that teacher (True when no client asks)


def override_parties(
    *, teacher_id: str, client_id: int | None, profile: TeacherProfile | None = None
) -> OverrideParties:
    """The teacher an override names by `teacher_id`, and whether the API client `client_id` may act
    for them (one query each).

    `profile`: the teacher's own profile when the caller already holds it (the form: the signed-in
    teacher); else the directory's active teacher (unknown, inactive or not in the group: None).
    `client_id` None: the teacher themself, or a staff session whose override permission the API
    checked. A client acts for a teacher when it holds an authorisation naming that teacher, or one
    naming the school on their profile (`clients.selectors.school_normalise`, case ignored); nothing
    else grants it."""
    teacher = profile
    if teacher is None:
        teacher = TeacherProfile.objects.filter(
            external_id=teacher_id, user__is_active=True, user__groups__name=TEACHERS_GROUP
        ).first()
    if client_id is None:
        return OverrideParties(teacher=teacher, client_authorised=True)
    match = Q(teacher__external_id=teacher_id)
    school = school_normalise(teacher.school) if teacher is not None else ""
    if school:
        match |= Q(school__iexact=school)
    authorised = TeacherAuthorisation.objects.filter(match, client_id=client_id).exists()
    return OverrideParties(teacher=teacher, client_authorised=authorised)


def override_list(*, teacher: TeacherProfile) -> QuerySet[DispatchLog]:
    """The teacher's own override attempts, newest first."""
    return (
        DispatchLog.objects.filter(teacher_id=teacher.external_id, is_override=True)
        .exclude(refusal_code=REFUSAL_TEACHER_NOT_AUTHORISED)
        .select_related("provider", "policy")
        .order_by("-created_at", "-id")
    )


def override_get(*, teacher: TeacherProfile, pk: int) -> DispatchLog | None:
    return override_list(teacher=teacher).filter(pk=pk).first()


@dataclass(frozen=True)
class OverrideView:
    """One audit row as the teacher pages show it."""

    log: DispatchLog
    body: dict[str, Any]
    provider_names: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def title(self) -> str:
        """Why it was refused, in plain words (the rule's code is small print)."""
        return refusal_words(self.log.refusal_code)

    @property
    def asked_for(self) -> str:
        """The provider asked for, by its name when it is one we know."""
        ref = self.log.override_provider_ref
        return self.provider_names.get(ref, ref)

    @property
    def accepted(self) -> bool:
        return self.log.outcome == "accepted"

    @property
    def rule(self) -> str:
        return self.log.refusal_code

    @property
    def message(self) -> str:
        error = self.body.get("error")
        return str(error.get("message", "")) if isinstance(error, dict) else ""

    @property
    def via(self) -> str:
        return "this form" if self.log.client_ref == FORM_CLIENT_REF else (self.log.client_ref or "an app")


def provider_names() -> dict[str, str]:
    """Provider slug (and id) -> display name, for the teacher pages' "provider asked for"."""
    names: dict[str, str] = {}
    for pk, slug, name in ModelProvider.objects.values_list("pk", "slug", "name"):
        names[slug] = names[str(pk)] = name
    return names


def override_view(log: DispatchLog, names: Mapping[str, str] | None = None) -> OverrideView:
    try:
        body = json.loads(log.response)
    except ValueError:
        body = {}
    return OverrideView(log=log, body=body if isinstance(body, dict) else {}, provider_names=names or {})


def template_names(template_ids: list[str]) -> list[str]:
    by_id = {str(t.id): t.name for t in PromptTemplate.objects.filter(id__in=template_ids)}
    return [by_id.get(tid, tid) for tid in template_ids]
