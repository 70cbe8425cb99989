"""Change requests: authored changes that wait for a second pair of eyes (CHANGE_APPROVAL=required).

A change request holds a policy-as-code document of the entries to create or change (the format
and rules of `import_policies`), a reason, its author and optionally when it takes effect. It is
reviewed by another administrator with the `review_changerequest` permission (a superuser may
approve their own only with a break-glass reason), then published by the running service
(`authoring.changes`), exactly once. The invariants are the database's (constraints below), so no
writer, the shell included, can record a self-approval without a break-glass reason.

The authored models keep their apps and tables; this is the back office's own record of its work.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class ChangeState(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    PUBLISHED = "published", "Published"
    FAILED = "failed", "Not published"


REVIEWED_STATES = (ChangeState.APPROVED, ChangeState.REJECTED, ChangeState.PUBLISHED, ChangeState.FAILED)
DONE_STATES = (ChangeState.PUBLISHED, ChangeState.FAILED)


class ChangeRequest(models.Model):
    id = models.BigAutoField(primary_key=True)
    document = models.JSONField(help_text="Policy as code: the entries to create or change (import_policies format)")
    base = models.JSONField(
        default=dict,
        blank=True,
        help_text="The same entries as they were live when proposed (absent: null); publishing refuses if they moved",
    )
    summary = models.TextField(blank=True, default="", help_text="What it changes, one line per entry")
    reason = models.TextField(help_text="Why: kept with the history rows it writes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    effective_at = models.DateTimeField(null=True, blank=True, help_text="Published at this time (empty: at once)")
    state = models.CharField(max_length=16, choices=ChangeState.choices, default=ChangeState.PROPOSED)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_reason = models.TextField(blank=True, default="")
    break_glass_reason = models.TextField(
        blank=True, default="", help_text="Set only when a superuser approved their own request"
    )
    published_at = models.DateTimeField(null=True, blank=True, help_text="When publication was attempted")
    publication_result = models.TextField(blank=True, default="", help_text="What was changed, or why nothing was")

    class Meta:
        db_table = "change_requests"
        ordering = ["-created_at", "-id"]
        permissions = [("review_changerequest", "Can approve or reject change requests")]
        indexes = [models.Index(fields=["state", "effective_at"], name="change_request_due")]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="change_request_has_reason"),
            models.CheckConstraint(
                condition=Q(state__in=[s.value for s in ChangeState]), name="change_request_known_state"
            ),
            # Four eyes: the reviewer is not the author, unless a break-glass reason is recorded.
            models.CheckConstraint(
                condition=Q(reviewer__isnull=True) | ~Q(reviewer=F("author")) | ~Q(break_glass_reason=""),
                name="change_request_four_eyes",
            ),
            models.CheckConstraint(
                condition=Q(break_glass_reason="") | Q(reviewer=F("author")),
                name="change_request_break_glass_only_self",
            ),
            # Reviewed exactly when it has left "proposed": a reviewer, a time and a reason.
            models.CheckConstraint(
                condition=(
                    Q(state=ChangeState.PROPOSED, reviewer__isnull=True, reviewed_at__isnull=True)
                    | (
                        Q(state__in=[s.value for s in REVIEWED_STATES])
                        & Q(reviewer__isnull=False, reviewed_at__isnull=False)
                        & ~Q(review_reason="")
                    )
                ),
                name="change_request_reviewed",
            ),
            # Published or not published: attempted at a recorded time, with its result.
            models.CheckConstraint(
                condition=~Q(state__in=[s.value for s in DONE_STATES])
                | (Q(published_at__isnull=False) & ~Q(publication_result="")),
                name="change_request_publication_recorded",
            ),
        ]

    def __str__(self) -> str:
        return f"Change request #{self.pk} ({self.get_state_display()})"

    @property
    def break_glass(self) -> bool:
        return bool(self.break_glass_reason)
