"""Reads about API clients: their teacher authorisations, and how a school is compared.

Whether a client may act for one teacher is read with that teacher, in one place:
`teachers.selectors.override_parties` (the teachers app sees both the profile and the
authorisations; this app never imports it).
"""

from __future__ import annotations

from django.db.models import QuerySet

from clients.models import ClientBudget, TeacherAuthorisation


def school_normalise(school: str) -> str:
    """How a school is compared: surrounding and repeated spaces do not count (case is ignored in SQL)."""
    return " ".join(school.split())


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


def client_budget_history(*, client_id: int, limit: int = 50) -> QuerySet:
    """The client's budget changes, newest first, including a removed budget (who and when)."""
    return (
        ClientBudget.history.filter(client_id=client_id)
        .select_related("history_user")
        .order_by("-history_date", "-history_id")[:limit]
    )
