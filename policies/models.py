"""Dispatch policies, their ordered fallback chains, and regional routing rules.

Invariants live in the database: a policy has one of the four shapes (exact, subject + grade
band, subject, default), a moderation threshold in [0, 1], and no two active policies share a
shape and priority; a fallback chain has one row per position and no provider twice; a region
has at most one routing rule.
"""

import uuid

from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from providers.models import ModelProvider, PromptTemplate
from vocabulary import GradeBand, Region, Subject

POLICY_SHAPES = (
    (~Q(subject="") & ~Q(grade_band="") & ~Q(region=""))
    | (~Q(subject="") & ~Q(grade_band="") & Q(region=""))
    | (~Q(subject="") & Q(grade_band="") & Q(region=""))
    | (Q(subject="") & Q(grade_band="") & Q(region=""))
)


class PolicyFallback(models.Model):
    """One position in a policy's ordered fallback chain."""

    policy = models.ForeignKey("policies.DispatchPolicy", on_delete=models.CASCADE, related_name="fallbacks")
    provider = models.ForeignKey(ModelProvider, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField()

    history = HistoricalRecords(table_name="policy_fallbacks_history")

    class Meta:
        db_table = "dispatch_policy_fallbacks"
        ordering = ["policy", "position"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "position"], name="fallback_unique_position"),
            models.UniqueConstraint(fields=["policy", "provider"], name="fallback_unique_provider"),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} #{self.position}: {self.provider_id}"


def _history_model_name(name: str) -> str:
    # PolicyFallback has its own history model; the chain rows kept with a policy version need another name.
    return "HistoricalPolicyChainEntry" if name == "PolicyFallback" else f"Historical{name}"


# Kept at module level so authoring services can write a history row themselves, once, after a
# policy, its ordered fallback chain and its templates are all saved (authoring.services).
POLICY_HISTORY = HistoricalRecords(
    table_name="dispatch_policies_history",
    m2m_fields=["templates", "fallback_providers"],
    custom_model_name=_history_model_name,
)


class DispatchPolicy(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=160)
    subject = models.CharField(max_length=32, choices=Subject.choices, blank=True)
    grade_band = models.CharField(max_length=32, choices=GradeBand.choices, blank=True)
    region = models.CharField(max_length=32, choices=Region.choices, blank=True)
    primary_provider = models.ForeignKey(ModelProvider, on_delete=models.PROTECT, related_name="primary_for")
    fallback_providers = models.ManyToManyField(
        ModelProvider, through=PolicyFallback, related_name="fallback_for", blank=True
    )
    templates = models.ManyToManyField(PromptTemplate, related_name="policies", blank=True)
    moderation_threshold = models.DecimalField(max_digits=4, decimal_places=3, default=0.8)
    allow_teacher_override = models.BooleanField(default=False)
    priority = models.IntegerField(default=100)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # One history row per authoring save, carrying the ordered fallback chain and the templates,
    # so a version can be diffed and reverted whole (see authoring.services.history_record).
    history = POLICY_HISTORY

    class Meta:
        db_table = "dispatch_policies"
        verbose_name_plural = "dispatch policies"
        ordering = ["subject", "grade_band", "region", "-priority", "name"]
        constraints = [
            models.CheckConstraint(condition=POLICY_SHAPES, name="policy_shape_is_one_of_four_levels"),
            models.CheckConstraint(
                condition=Q(moderation_threshold__gte=0) & Q(moderation_threshold__lte=1),
                name="policy_moderation_threshold_0_1",
            ),
            models.UniqueConstraint(
                fields=["subject", "grade_band", "region", "priority"],
                condition=Q(is_active=True),
                name="policy_unique_active_shape_priority",
                violation_error_message="Another active policy has the same subject, grade band, region and priority.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def chain(self) -> list[ModelProvider]:
        """Primary provider, then fallbacks in order (uses a prefetched `fallbacks` when present)."""
        return [self.primary_provider, *(f.provider for f in self.fallbacks.all())]


ROUTING_HISTORY = HistoricalRecords(
    table_name="regional_routing_history", m2m_fields=["allowed_providers", "blocked_providers"]
)


class RegionalRouting(models.Model):
    region = models.CharField(max_length=32, choices=Region.choices, unique=True)
    data_center = models.CharField(max_length=120)
    data_residency_required = models.BooleanField(default=False)
    encryption_required = models.BooleanField(default=True)
    audit_logging_required = models.BooleanField(default=True)
    allowed_providers = models.ManyToManyField(
        ModelProvider, related_name="allowed_in", blank=True, help_text="Empty means any compliant provider"
    )
    blocked_providers = models.ManyToManyField(ModelProvider, related_name="blocked_in", blank=True)
    compliance_frameworks = models.JSONField(default=list, blank=True)
    agreement_required = models.BooleanField(
        default=False, help_text="Providers need a data privacy agreement in force covering this region"
    )
    under_13_frameworks = models.JSONField(
        default=list, blank=True, help_text="Frameworks required in addition when the grade band is under 13"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = ROUTING_HISTORY

    class Meta:
        db_table = "regional_routing"
        verbose_name = "regional routing rule"
        ordering = ["region"]

    def __str__(self) -> str:
        return f"{self.get_region_display()} ({self.data_center})"


class SnapshotStamp(models.Model):
    """One row whose version moves on every authoring change; workers compare it to their snapshot's."""

    version = models.BigIntegerField(default=0)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "policy_snapshot_stamp"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="snapshot_stamp_single_row")]

    def __str__(self) -> str:
        return f"snapshot v{self.version}"
