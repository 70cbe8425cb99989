"""seed_demo never undoes an administrator's decision, and refuses production (issue 12, finding 4)."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.forms.models import model_to_dict
from rest_framework.test import APIClient

from authoring.demo import DEMO_CLIENT_KEY, DEMO_CLIENT_NAME
from authoring.services import authored_save, routing_rule_save
from clients.models import ApiClient
from clients.services import api_client_revoke
from policies.models import DispatchPolicy, PolicyFallback, RegionalRouting
from providers.models import ModelProvider, PromptTemplate
from teachers.models import TeacherProfile

pytestmark = pytest.mark.django_db
BASIC = {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}


def _world() -> dict[str, Any]:
    """Every row seed_demo could write, as plain data (many-to-many lists included)."""
    rules = {
        r.region: (
            model_to_dict(r, exclude=["allowed_providers", "blocked_providers"]),
            sorted(p.slug for p in r.allowed_providers.all()),
            sorted(p.slug for p in r.blocked_providers.all()),
        )
        for r in RegionalRouting.objects.all()
    }
    return {
        "providers": [model_to_dict(p) for p in ModelProvider.objects.order_by("slug")],
        "templates": [model_to_dict(t) for t in PromptTemplate.objects.order_by("slug")],
        "rules": rules,
        "policies": [model_to_dict(p, exclude=["templates"]) for p in DispatchPolicy.objects.order_by("name")],
        "fallbacks": sorted(PolicyFallback.objects.values_list("policy__name", "provider__slug", "position")),
        "clients": [model_to_dict(c) for c in ApiClient.objects.order_by("name")],
        "users": list(get_user_model().objects.order_by("username").values()),
        "teachers": list(TeacherProfile.objects.values()),
    }


def test_seeding_again_leaves_every_administrators_decision_standing():
    call_command("seed_demo", stdout=StringIO())
    api_client_revoke(client=ApiClient.objects.get(name=DEMO_CLIENT_NAME))  # the all-scope demo key
    gpt4 = ModelProvider.objects.get(slug="openai-gpt4")
    us_east = RegionalRouting.objects.get(region="us_east")
    routing_rule_save(  # a demo region now blocks the demo's own primary provider
        rule=us_east,
        allowed=[p for p in us_east.allowed_providers.all() if p != gpt4],
        blocked=[*us_east.blocked_providers.all(), gpt4],
        reason="vendor under review",
    )
    eu = ModelProvider.objects.get(slug="local-eu-provider")
    eu.is_active = False
    authored_save(instance=eu, reason="contract ended")
    policy = DispatchPolicy.objects.get(name="Elementary Math - US East")
    policy.allow_teacher_override = False
    policy.save()
    profile = TeacherProfile.objects.get()
    profile.regions = ["us_east"]
    profile.save()
    teacher = profile.user
    teacher.is_active = False
    teacher.save()
    before = _world()

    out = StringIO()
    call_command("seed_demo", stdout=out)

    assert _world() == before
    assert "no longer works" in out.getvalue() and DEMO_CLIENT_KEY not in out.getvalue()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {DEMO_CLIENT_KEY}")
    assert api.post("/dispatch", BASIC, format="json").status_code == 401  # still revoked


def test_seeding_creates_only_what_is_missing():
    call_command("seed_demo", stdout=StringIO())
    ModelProvider.objects.filter(slug="aws-bedrock").update(name="Bedrock (renamed by an admin)")
    PromptTemplate.objects.filter(slug="general-tutor").delete()
    call_command("seed_demo", stdout=StringIO())
    assert ModelProvider.objects.get(slug="aws-bedrock").name == "Bedrock (renamed by an admin)"
    assert PromptTemplate.objects.filter(slug="general-tutor").exists()  # missing: created again


def test_seed_demo_refuses_production_and_writes_nothing(settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="DJANGO_ENV=production"):
        call_command("seed_demo", stdout=StringIO())
    assert not ModelProvider.objects.exists()
    assert not ApiClient.objects.exists()
    assert not get_user_model().objects.exists()
