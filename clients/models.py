"""API clients: the apps that call the API, each with a hashed key, scopes and a rate.

The key itself is never stored: only its first characters (`key_prefix`, to find the row) and
the SHA-256 of the whole key. `name` is the client's stable reference: it is what the audit log
records (`client_ref`) and what scopes request ids, so it cannot be changed after creation.

A client with the `override` scope acts only for the teachers it is authorised for
(`TeacherAuthorisation`: one teacher, or every teacher of one school; none by default). Staff
sessions on the API need the Django permission of each scope (`SCOPE_PERMISSIONS`).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from simple_history.models import HistoricalRecords


class Scope(models.TextChoices):
    DISPATCH = "dispatch", "dispatch: POST /dispatch"
    OVERRIDE = "override", "override: teacher overrides on /dispatch"
    OUTCOME = "outcome", "outcome: report and read its own outcomes"
    ANALYTICS = "analytics", "analytics: usage analytics"
    READ = "read", "read: providers and policies"


# The Django permission a staff session needs for each scope (superusers hold every one).
SCOPE_PERMISSIONS: dict[str, str] = {scope: f"clients.use_{scope}_api" for scope in Scope.values}


class ApiClient(models.Model):
    name = models.SlugField(max_length=64, unique=True, help_text="Stable id, recorded in the audit log")
    description = models.CharField(max_length=200, blank=True)
    key_prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False, help_text="SHA-256 of the key (hex)")
    scopes = models.JSONField(default=list, blank=True)
    rate = models.CharField(
        max_length=32, blank=True, help_text="Requests per period, e.g. 6000/min; blank: API_CLIENT_DEFAULT_RATE"
    )
    is_active = models.BooleanField(default=True, help_text="Unticked: the key is revoked (401)")
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "api_clients"
        ordering = ["name"]
        verbose_name = "API client"
        verbose_name_plural = "API clients"
        constraints = [
            models.CheckConstraint(
                condition=Q(is_active=False) | Q(revoked_at__isnull=True), name="api_client_revoked"
            ),
        ]
        permissions = [
            ("use_dispatch_api", "Can call POST /dispatch with a staff session"),
            ("use_override_api", "Can make teacher overrides for any teacher through the API with a staff session"),
            ("use_read_api", "Can read providers, policies and coverage through the API with a staff session"),
            ("use_outcome_api", "Can report and read outcomes through the API with a staff session"),
            ("use_analytics_api", "Can read analytics through the API with a staff session"),
        ]

    def __str__(self) -> str:
        return self.name


class TeacherAuthorisation(models.Model):
    """One client may act for one teacher, or for every teacher whose profile names one school.

    Checked on every override the client asks for (teachers.services.override_request); a school
    matches the teacher's profile case-insensitively, so a teacher who joins the school later is
    covered and one who leaves it is not. Written only by clients.services; every change is kept
    in the history (who, when), also when the teacher's profile is deleted with it.
    """

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="teacher_authorisations")
    teacher = models.ForeignKey(
        "teachers.TeacherProfile",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="client_authorisations",
        help_text="One teacher this client may act for.",
    )
    school = models.CharField(
        max_length=200,
        blank=True,
        help_text="Or every teacher whose profile names this school (case is ignored).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords(table_name="api_client_teacher_authorisations_history")

    class Meta:
        db_table = "api_client_teacher_authorisations"
        ordering = ["client", "school", "teacher"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(teacher__isnull=False) & Q(school="")) | (Q(teacher__isnull=True) & ~Q(school="")),
                name="teacher_authorisation_one_teacher_or_one_school",
                violation_error_message="Name one teacher or one school (not both).",
            ),
            models.UniqueConstraint(
                fields=["client", "teacher"],
                condition=Q(teacher__isnull=False),
                name="teacher_authorisation_unique_teacher",
                violation_error_message="This client is already authorised for this teacher.",
            ),
            models.UniqueConstraint(
                F("client"),
                Lower("school"),
                condition=~Q(school=""),
                name="teacher_authorisation_unique_school",
                violation_error_message="This client is already authorised for this school.",
            ),
        ]

    def __str__(self) -> str:
        return f"school {self.school}" if self.school else f"teacher {self.teacher}"


class BudgetPeriod(models.TextChoices):
    DAY = "day", "day (UTC)"
    MONTH = "month", "month (UTC)"


class BudgetExhausted(models.TextChoices):
    REFUSE = "refuse", "refuse: 422 budget_exhausted"
    CHEAPEST = "cheapest", "cheapest: the cheapest compliant provider of the matching policies"


class ClientBudget(models.Model):
    """What one client may spend per UTC day or month, and what dispatch does once it has.

    Written only by clients.services (`client_budget_set`); every change is kept in the history.
    The client's key lookup reads it with the client (one join), so a client without a budget costs
    dispatch nothing more."""

    client = models.OneToOneField(ApiClient, primary_key=True, on_delete=models.CASCADE, related_name="budget")
    amount = models.DecimalField(
        max_digits=14, decimal_places=6, help_text="In the currency of the provider prices (cost per 1k tokens)"
    )
    period = models.CharField(max_length=8, choices=BudgetPeriod.choices, default=BudgetPeriod.MONTH)
    on_exhausted = models.CharField(max_length=8, choices=BudgetExhausted.choices, default=BudgetExhausted.REFUSE)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(table_name="api_client_budgets_history")

    class Meta:
        db_table = "api_client_budgets"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=Decimal(0)), name="client_budget_positive"),
            models.CheckConstraint(condition=Q(period__in=BudgetPeriod.values), name="client_budget_period"),
            models.CheckConstraint(
                condition=Q(on_exhausted__in=BudgetExhausted.values), name="client_budget_on_exhausted"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount}/{self.period} ({self.on_exhausted})"
