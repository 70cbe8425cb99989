"""Teacher accounts: a Django user in the "Teachers" group with a profile naming the regions
they teach in. A user is a teacher only with all three: active, in the group, with a profile.

`external_id` is the teacher's id everywhere outside this app: client apps send it as
`teacher_id` to `POST /dispatch`, and every audit row of the teacher's overrides records it, so
"My overrides" finds the teacher's attempts from the form and from apps alike.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from vocabulary import Region

TEACHERS_GROUP = "Teachers"


def regions_validator(value: Any) -> None:
    """A non-empty list of distinct region codes."""
    if not isinstance(value, list) or not value:
        raise ValidationError("Give at least one region.", code="regions_empty")
    unknown = [item for item in value if item not in Region.values]
    if unknown:
        raise ValidationError(
            "Unknown region(s): %(unknown)s; allowed values: %(allowed)s.",
            code="regions_unknown",
            params={"unknown": ", ".join(map(str, unknown)), "allowed": ", ".join(Region.values)},
        )
    if len(set(value)) != len(value):
        raise ValidationError("Each region may appear once.", code="regions_duplicate")


class TeacherProfile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="teacher_profile")
    external_id = models.CharField(
        "teacher id",
        max_length=64,
        unique=True,
        validators=[
            RegexValidator(
                r"^[A-Za-z0-9][A-Za-z0-9._@-]*$", "Letters, digits and . _ @ - only, starting with a letter or digit."
            )
        ],
        help_text="The id client apps send as teacher_id; every audit row of this teacher's overrides records it.",
    )
    regions = models.JSONField(
        default=list,
        validators=[regions_validator],
        help_text="Region codes the teacher teaches in; overrides are accepted only for these regions.",
    )
    school = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords(table_name="teacher_profiles_history")

    class Meta:
        db_table = "teacher_profiles"
        ordering = ["external_id"]
        constraints = [
            models.CheckConstraint(condition=~Q(external_id=""), name="teacher_external_id_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.user})"

    @property
    def region_set(self) -> frozenset[str]:
        return frozenset(self.regions)
