"""Reads about API clients: whom a client may act for.

A client acts for a teacher when it holds an authorisation naming that teacher's profile, or one
naming the school on that profile (case-insensitive). Nothing else grants it: no authorisation,
no override.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from clients.models import TeacherAuthorisation


def school_normalise(school: str) -> str:
    """How a school is compared: surrounding and repeated spaces do not count (case is ignored in SQL)."""
    return " ".join(school.split())


def client_acts_for_teacher(*, client_id: int, teacher_id: str, school: str) -> bool:
    """Whether the client may act for the teacher with external id `teacher_id` at `school` (one query)."""
    match = Q(teacher__external_id=teacher_id)
    school = school_normalise(school)
    if school:
        match |= Q(school__iexact=school)
    return TeacherAuthorisation.objects.filter(match, client_id=client_id).exists()


def teacher_authorisation_list(*, client_id: int) -> QuerySet[TeacherAuthorisation]:
    """The client's authorisations, schools first, with their teachers."""
    return (
        TeacherAuthorisation.objects.filter(client_id=client_id)
        .select_related("teacher", "teacher__user")
        .order_by("-school", "teacher__external_id")
    )


def teacher_authorisation_history(*, client_id: int, limit: int = 50) -> QuerySet:
    """The client's authorisation changes, newest first, including withdrawn ones (who and when)."""
    return (
        TeacherAuthorisation.history.filter(client_id=client_id)
        .select_related("history_user", "teacher")
        .order_by("-history_date", "-history_id")[:limit]
    )
