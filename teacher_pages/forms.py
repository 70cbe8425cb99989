"""The override form: it checks shape only; every rule is the override service's.

Region and provider accept any well-formed value even though the page offers only the
teacher's regions and the region's compliant providers: an edited page (another region, a
blocked provider) reaches the service, which refuses it with the rule and audits the attempt,
exactly as `POST /dispatch` would.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django import forms
from django.http import QueryDict

from policies.engine import DispatchContext, ProviderSpec
from policies.engine.types import (
    MIN_JUSTIFICATION_LENGTH,
    REFUSAL_JUSTIFICATION,
    REFUSAL_OVERRIDE_PROVIDER_NOT_COMPLIANT,
    REFUSAL_OVERRIDE_PROVIDER_UNKNOWN,
    REFUSAL_REGION_NOT_CONFIGURED,
    REFUSAL_TEACHER_REGION,
)
from vocabulary import GradeBand, Region, Subject

# Which field a refusal of the override service is shown next to; others are about the whole request.
REFUSAL_FIELDS = {
    REFUSAL_TEACHER_REGION: "region",
    REFUSAL_REGION_NOT_CONFIGURED: "region",
    REFUSAL_JUSTIFICATION: "justification",
    REFUSAL_OVERRIDE_PROVIDER_UNKNOWN: "provider",
    REFUSAL_OVERRIDE_PROVIDER_NOT_COMPLIANT: "provider",
}
CONTEXT_FIELDS = ("subject", "grade_band", "region")


class OverrideForm(forms.Form):
    subject = forms.ChoiceField(choices=[("", "Choose a subject"), *Subject.choices])
    grade_band = forms.ChoiceField(label="Grade band", choices=[("", "Choose a grade band"), *GradeBand.choices])
    region = forms.ChoiceField(
        choices=Region.choices, help_text="Only the regions you teach in are offered."
    )  # shape: any region code; the service decides whether it is the teacher's
    provider = forms.CharField(
        max_length=64,
        help_text="Only providers active and compliant in the chosen region are offered.",
        widget=forms.Select,
    )
    justification = forms.CharField(
        required=False,  # a blank one reaches the service, which refuses and audits it
        max_length=2000,
        strip=False,
        help_text=f"Why this class needs this provider; at least {MIN_JUSTIFICATION_LENGTH} visible characters.",
        widget=forms.Textarea(attrs={"rows": 4, "required": True}),
    )
    request_id = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, regions: list[str], providers: Sequence[ProviderSpec] = (), **kwargs: Any) -> None:
        """`regions`: the teacher's, offered as choices; `providers`: those the page offers (the
        region's compliant ones but the policy's own choice); validation needs neither."""
        super().__init__(*args, **kwargs)
        labels = dict(Region.choices)
        region_field = self.fields["region"]
        assert isinstance(region_field.widget, forms.Select)
        region_field.widget.choices = [(code, labels.get(code, code)) for code in regions]
        provider_field = self.fields["provider"]
        assert isinstance(provider_field.widget, forms.Select)
        provider_field.widget.choices = [("", "Choose a provider")] + [(p.slug, p.name) for p in providers]
        self.providers_offered = bool(providers)
        self.fields["request_id"].initial = uuid.uuid4()

    def context(self) -> DispatchContext:
        data = self.cleaned_data
        return DispatchContext(data["subject"], data["grade_band"], data["region"])

    def request_renew(self) -> None:
        """A re-shown form is a new attempt: give it a new request id."""
        data = QueryDict(mutable=True)
        data.update(self.data)
        data["request_id"] = str(uuid.uuid4())
        self.data = data
