"""LLM providers and prompt templates: authored in admin, kept with history."""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from vocabulary import GradeBand, Subject

AGE_MAX = 120  # ages are whole years from 0 to this


def provider_encrypts(*, in_transit: bool, at_rest: bool) -> bool:
    """The one "encrypts" rule: a routing rule that requires encryption takes a provider only when
    it encrypts in transit AND at rest (the snapshot, the admin's what-ifs and the model use this)."""
    return bool(in_transit and at_rest)


class ModelProvider(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(max_length=64, unique=True, help_text="Stable id used in documents, e.g. openai-gpt4")
    name = models.CharField(max_length=120)
    vendor = models.CharField(max_length=80, blank=True)
    model_name = models.CharField(max_length=120, blank=True)
    endpoint_url = models.URLField(max_length=500)
    hosting_regions = models.JSONField(default=list, blank=True, help_text="Regions where it processes and stores data")
    compliance_frameworks = models.JSONField(default=list, blank=True, help_text="Frameworks it is certified for")
    encrypts_in_transit = models.BooleanField(default=True)
    encrypts_at_rest = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)
    requests_per_minute = models.PositiveIntegerField(default=60)
    tokens_per_minute = models.PositiveIntegerField(default=100_000)
    cost_per_1k_input_tokens = models.DecimalField(max_digits=10, decimal_places=6, default=0)
    cost_per_1k_output_tokens = models.DecimalField(max_digits=10, decimal_places=6, default=0)
    minimum_user_age = models.PositiveSmallIntegerField(
        default=0, help_text="The youngest user age its terms allow (0 = none); an agreement may lower it"
    )
    # Health overrides (providers.health); empty = the PROVIDER_HEALTH_* setting.
    health_failures_to_trip = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Consecutive provider-side failures that start a cooldown (empty: default)",
    )
    health_failure_rate_percent = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Failure rate (%) over the window that starts a cooldown (empty: default)",
    )
    health_min_outcomes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Outcomes the window needs before its failure rate counts (empty: default)",
    )
    health_cooldown_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(86_400)],
        help_text="Base cooldown in seconds, doubled after a failed probe (empty: default)",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(table_name="model_providers_history")

    class Meta:
        db_table = "model_providers"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(requests_per_minute__gt=0), name="provider_rpm_positive"),
            models.CheckConstraint(condition=Q(tokens_per_minute__gt=0), name="provider_tpm_positive"),
            models.CheckConstraint(
                condition=Q(cost_per_1k_input_tokens__gte=0) & Q(cost_per_1k_output_tokens__gte=0),
                name="provider_cost_not_negative",
            ),
            models.CheckConstraint(condition=Q(minimum_user_age__lte=AGE_MAX), name="provider_minimum_age_plausible"),
            models.CheckConstraint(
                condition=Q(health_failures_to_trip__isnull=True) | Q(health_failures_to_trip__gte=1),
                name="provider_health_failures_positive",
            ),
            models.CheckConstraint(
                condition=Q(health_failure_rate_percent__isnull=True)
                | Q(health_failure_rate_percent__gte=1, health_failure_rate_percent__lte=100),
                name="provider_health_rate_percent",
            ),
            models.CheckConstraint(
                condition=Q(health_min_outcomes__isnull=True) | Q(health_min_outcomes__gte=1),
                name="provider_health_min_outcomes_positive",
            ),
            models.CheckConstraint(
                condition=Q(health_cooldown_seconds__isnull=True) | Q(health_cooldown_seconds__gte=1),
                name="provider_health_cooldown_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    @property
    def encrypts(self) -> bool:
        return provider_encrypts(in_transit=self.encrypts_in_transit, at_rest=self.encrypts_at_rest)


class PromptTemplate(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    subject = models.CharField(max_length=32, choices=Subject.choices, blank=True)
    grade_band = models.CharField(max_length=32, choices=GradeBand.choices, blank=True)
    body = models.TextField()
    version = models.PositiveIntegerField(default=1)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(table_name="prompt_templates_history")

    class Meta:
        db_table = "prompt_templates"
        ordering = ["slug"]
        constraints = [models.CheckConstraint(condition=Q(version__gte=1), name="template_version_positive")]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug} v{self.version})"


class Agreement(models.Model):
    """A district's signed data privacy agreement with one provider (NDPA, Ed Law 2-d, SOPPA...).

    In force on UTC dates from `signed_on` through `expires_on`, both included (no `expires_on`: no
    expiry), in its `regions` (empty: every region), for students aged `min_age_covered` or older.
    Compliance reads it (`policies.engine.compliance`); the database keeps the dates in order.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reference = models.CharField(max_length=160, unique=True, help_text='Unique, e.g. "NDPA 2026 — OpenAI"')
    provider = models.ForeignKey(ModelProvider, on_delete=models.PROTECT, related_name="agreements")
    regions = models.JSONField(default=list, blank=True, help_text="Regions it covers; empty means every region")
    signed_on = models.DateField()
    expires_on = models.DateField(null=True, blank=True, help_text="Last UTC date it is in force; empty: no expiry")
    min_age_covered = models.PositiveSmallIntegerField(
        default=0, help_text="The youngest student age it covers (0 = every age)"
    )
    document_url = models.URLField(max_length=500, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(table_name="provider_agreements_history")

    class Meta:
        db_table = "provider_agreements"
        ordering = ["reference"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True) | Q(expires_on__gte=models.F("signed_on")),
                name="agreement_expires_after_signed",
                violation_error_message="An agreement cannot expire before it is signed.",
            ),
            models.CheckConstraint(condition=Q(min_age_covered__lte=AGE_MAX), name="agreement_min_age_plausible"),
            models.CheckConstraint(condition=~Q(reference=""), name="agreement_reference_not_empty"),
        ]

    def __str__(self) -> str:
        return self.reference


class HealthState(models.TextChoices):
    HEALTHY = "healthy", "healthy"
    COOLING_DOWN = "cooling_down", "cooling down"
    PROBING = "probing", "probing"


class ProviderHealthTransition(models.Model):
    """One change of a provider's health state (providers.health), written by the worker whose
    report, probe or reset made it: the record behind "trips in the last 24 h" and the audit of
    "mark healthy" (`changed_by`, `details["reason_text"]`). Health itself lives in Redis."""

    id = models.BigAutoField(primary_key=True)
    provider = models.ForeignKey(ModelProvider, on_delete=models.CASCADE, related_name="health_transitions")
    state = models.CharField(max_length=16, choices=HealthState.choices)
    previous = models.CharField(max_length=16, choices=HealthState.choices)
    at = models.DateTimeField(db_index=True)
    reason = models.CharField(max_length=32)
    details = models.JSONField(default=dict, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        db_table = "provider_health_transitions"
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["provider", "-at"], name="provider_health_by_provider")]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=HealthState.values), name="provider_health_state_known"),
            models.CheckConstraint(condition=Q(previous__in=HealthState.values), name="provider_health_previous_known"),
            models.CheckConstraint(condition=~Q(state=models.F("previous")), name="provider_health_state_changes"),
        ]

    def __str__(self) -> str:
        return f"{self.provider_id}: {self.previous} -> {self.state} at {self.at:%Y-%m-%d %H:%M:%S}"
