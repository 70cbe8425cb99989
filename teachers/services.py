"""The one teacher-override service, and the writes that make a user a teacher.

`override_request` is what both the teacher form (teacher_pages, through `override_submit`) and
`POST /dispatch` with `teacher_override` (api) turn an override into, so the two cannot disagree
and neither surface imports the other. It reads who the override is for and whether the caller
may act for them in one selector (`teachers.selectors.override_parties`); the request goes to
`policies.services.dispatch`, whose engine applies every rule (the client may act for the
teacher, the teacher is known and teaches in the region, the policy allows overrides, the
justification is long enough, the provider is active and compliant in the region) and which
writes exactly one audit row per attempt, accepted or refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from clients.keys import BudgetTerms
from common.counters import DeferredHit
from policies.engine import DispatchContext, OverrideRequest, Snapshot
from policies.services import DispatchResult, dispatch, request_fingerprint
from teachers.models import TEACHERS_GROUP, TeacherProfile
from teachers.selectors import FORM_CLIENT_REF, override_parties


def override_payload(
    *, context: DispatchContext, teacher_id: str, provider_ref: str, justification: str
) -> dict[str, Any]:
    """The request as `POST /dispatch` would carry it: what the form fingerprints for idempotency."""
    return {
        "subject": context.subject,
        "grade_band": context.grade_band,
        "region": context.region,
        "teacher_override": True,
        "override_provider_id": provider_ref,
        "override_reason": justification,
        "teacher_id": teacher_id,
    }


def override_request(
    *,
    teacher_id: str,
    provider_ref: str,
    justification: str,
    acting_client_id: int | None,
    profile: TeacherProfile | None = None,
) -> OverrideRequest:
    """A teacher's override as the engine judges it: what is asked, who for, and whether the caller
    may act for them.

    `acting_client_id`: the API client asking, which must be authorised for the teacher (else the
    engine refuses `teacher_not_authorised`); None only for the teacher themself (the form) or a
    staff session holding the override permission (checked by the API before this is called).
    `profile`: the teacher's own profile when the caller already holds it (the form: the signed-in
    teacher, an active member of the Teachers group); else the directory is asked for `teacher_id`."""
    parties = override_parties(teacher_id=teacher_id, client_id=acting_client_id, profile=profile)
    teacher = parties.teacher
    return OverrideRequest(
        provider_id=provider_ref,
        justification=justification,
        teacher_id=teacher_id,
        teacher_known=teacher is not None,
        teacher_regions=teacher.region_set if teacher is not None else frozenset(),
        client_authorised=parties.client_authorised,
    )


def override_submit(
    *,
    teacher_id: str,
    context: DispatchContext,
    provider_ref: str,
    justification: str,
    request_id: uuid.UUID | None,
    client_ref: str = FORM_CLIENT_REF,
    acting_client_id: int | None = None,
    fingerprint: str | None = None,
    client_hit: DeferredHit | None = None,
    snapshot: Snapshot | None = None,
    profile: TeacherProfile | None = None,
    budget: BudgetTerms | None = None,
) -> DispatchResult:
    """Decide a teacher's override and audit it (one row per request id, accepted or refused): the
    form's call (the teacher acting for themself, `profile` their own), `override_request` then
    `policies.services.dispatch`. Without a `fingerprint`, the request is fingerprinted as
    `POST /dispatch` would carry it. `snapshot`: the one the page already read its options from."""
    override = override_request(
        teacher_id=teacher_id,
        provider_ref=provider_ref,
        justification=justification,
        acting_client_id=acting_client_id,
        profile=profile,
    )
    if fingerprint is None:
        payload = override_payload(
            context=context, teacher_id=teacher_id, provider_ref=provider_ref, justification=justification
        )
        fingerprint = request_fingerprint(payload)
    return dispatch(
        context=context,
        override=override,
        request_id=request_id,
        client_ref=client_ref,
        fingerprint=fingerprint,
        client_hit=client_hit,
        snapshot=snapshot,
        budget=budget,
    )


def teachers_group() -> Group:
    group, _ = Group.objects.get_or_create(name=TEACHERS_GROUP)
    return group


@transaction.atomic
def teacher_profile_save(*, profile: TeacherProfile) -> TeacherProfile:
    """Validate and save a profile, and put its user in the Teachers group."""
    profile.full_clean()
    profile.save()
    profile.user.groups.add(teachers_group())
    return profile


@transaction.atomic
def teacher_create(
    *,
    username: str,
    password: str,
    external_id: str,
    regions: Iterable[str],
    school: str = "",
    email: str = "",
) -> TeacherProfile:
    """A new active user who is a teacher in `regions`."""
    user = get_user_model().objects.create_user(username=username, password=password, email=email)
    return teacher_profile_save(
        profile=TeacherProfile(user=user, external_id=external_id, regions=list(regions), school=school)
    )
