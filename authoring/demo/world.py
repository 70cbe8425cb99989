"""The demo world, drawn from the seed document: its regions table, eu_west's constraints, and
its "Elementary Math - US East" policy.

`demo_world_load()` only creates what is missing (keyed by slug, region and name) and never
changes a row that exists: once an administrator has blocked, deactivated or edited anything,
loading the demo again leaves their decision standing (issue 12, finding 4).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from common.clock import service_today
from policies.models import DispatchPolicy, PolicyFallback, RegionalRouting
from providers.models import Agreement, ModelProvider, PromptTemplate

DEMO_ADMIN_USERNAME = "admin"
DEMO_ADMIN_PASSWORD = "dispatch-demo-admin"  # noqa: S105 - a documented demo credential

PROVIDERS: list[dict[str, Any]] = [
    dict(
        slug="openai-gpt4",
        minimum_user_age=13,
        name="OpenAI GPT-4",
        vendor="OpenAI",
        model_name="gpt-4",
        endpoint_url="https://api.openai.com/v1/chat/completions",
        hosting_regions=["us_east"],
        compliance_frameworks=["FERPA", "COPPA", "SOC2"],
        cost_in="0.03",
        cost_out="0.06",
        rpm=60,
        tpm=100_000,
    ),
    dict(
        slug="anthropic-claude",
        minimum_user_age=18,
        name="Anthropic Claude",
        vendor="Anthropic",
        model_name="claude",
        endpoint_url="https://api.anthropic.com/v1/messages",
        hosting_regions=["us_east"],
        compliance_frameworks=["FERPA", "COPPA", "SOC2"],
        cost_in="0.015",
        cost_out="0.075",
        rpm=60,
        tpm=100_000,
    ),
    dict(
        slug="microsoft-copilot",
        minimum_user_age=13,
        name="Microsoft Copilot",
        vendor="Microsoft",
        model_name="copilot",
        endpoint_url="https://copilot.microsoft.example/v1/chat",
        hosting_regions=["us_east"],
        compliance_frameworks=["FERPA", "COPPA", "ISO27001"],
        cost_in="0.02",
        cost_out="0.04",
        rpm=120,
        tpm=150_000,
    ),
    dict(
        slug="google-gemini",
        minimum_user_age=13,
        name="Google Gemini",
        vendor="Google",
        model_name="gemini-pro",
        endpoint_url="https://generativelanguage.googleapis.com/v1/models/gemini-pro:generateContent",
        hosting_regions=["us_west"],
        compliance_frameworks=["FERPA", "COPPA", "ISO27001"],
        cost_in="0.0125",
        cost_out="0.0375",
        rpm=120,
        tpm=200_000,
    ),
    dict(
        slug="aws-bedrock",
        minimum_user_age=18,
        name="AWS Bedrock",
        vendor="Amazon",
        model_name="bedrock",
        endpoint_url="https://bedrock-runtime.us-west-2.amazonaws.com/model/invoke",
        hosting_regions=["us_west"],
        compliance_frameworks=["FERPA", "COPPA", "ISO27001", "SOC2"],
        cost_in="0.008",
        cost_out="0.024",
        rpm=200,
        tpm=300_000,
    ),
    dict(
        slug="local-eu-provider",
        name="EU Sovereign LLM",
        vendor="EuroAI",
        model_name="eu-large",
        endpoint_url="https://llm.eu-sovereign.example/v1/chat",
        hosting_regions=["eu_west"],
        compliance_frameworks=["GDPR", "ISO27001"],
        cost_in="0.02",
        cost_out="0.05",
        rpm=60,
        tpm=80_000,
    ),
    dict(
        slug="us-only-provider",
        name="US-Only LLM",
        vendor="USOnly",
        model_name="us-1",
        endpoint_url="https://api.us-only.example/v1/chat",
        hosting_regions=["us_east", "us_west"],
        compliance_frameworks=["FERPA", "COPPA"],
        cost_in="0.01",
        cost_out="0.02",
        rpm=60,
        tpm=60_000,
    ),
    dict(
        slug="apac-regional-provider",
        name="APAC Regional LLM",
        vendor="SEA AI",
        model_name="sea-lion",
        endpoint_url="https://llm.apac-regional.example/v1/chat",
        hosting_regions=["apac_singapore"],
        compliance_frameworks=["PDPA", "ISO27001"],
        cost_in="0.01",
        cost_out="0.03",
        rpm=60,
        tpm=60_000,
    ),
    dict(
        slug="africa-local-provider",
        name="Africa Local LLM",
        vendor="CapeAI",
        model_name="ubuntu-1",
        endpoint_url="https://llm.africa-local.example/v1/chat",
        hosting_regions=["africa_south"],
        compliance_frameworks=["POPIA"],
        cost_in="0.01",
        cost_out="0.03",
        rpm=60,
        tpm=60_000,
    ),
]

REGIONS: list[dict[str, Any]] = [
    dict(
        region="us_east",
        data_center="Virginia",
        residency=False,
        frameworks=["FERPA"],
        under_13=["COPPA"],  # COPPA protects children under 13: required only when the band is
        agreement_required=True,  # every provider needs a signed data privacy agreement here
        allowed=["openai-gpt4", "anthropic-claude", "microsoft-copilot", "us-only-provider"],
        blocked=[],
    ),
    dict(
        region="us_west",
        data_center="California",
        residency=False,
        frameworks=["FERPA", "COPPA"],
        allowed=["google-gemini", "aws-bedrock", "us-only-provider"],
        blocked=[],
    ),
    dict(
        region="eu_west",
        data_center="Ireland",
        residency=True,
        frameworks=["GDPR", "ISO27001"],
        allowed=["local-eu-provider"],
        blocked=["us-only-provider"],
    ),
    dict(
        region="apac_singapore",
        data_center="Singapore",
        residency=True,
        frameworks=["PDPA"],
        allowed=["apac-regional-provider"],
        blocked=["us-only-provider"],
    ),
    dict(
        region="africa_south",
        data_center="Cape Town",
        residency=True,
        frameworks=["POPIA"],
        allowed=["africa-local-provider"],
        blocked=["us-only-provider"],
    ),
]

TEMPLATES: list[dict[str, Any]] = [
    dict(
        slug="math-elementary-basic",
        name="Elementary math",
        subject="mathematics",
        grade_band="elementary",
        body="You are a patient elementary math tutor. Explain step by step with small numbers.",
    ),
    dict(
        slug="math-word-problems",
        name="Math word problems",
        subject="mathematics",
        grade_band="elementary",
        body="Help the student turn a word problem into arithmetic, one sentence at a time.",
    ),
    dict(
        slug="general-tutor",
        name="General tutor",
        subject="",
        grade_band="",
        body="You are a helpful, age-appropriate tutor. Never ask for personal information.",
    ),
]

# Data privacy agreements; dates are days from the day the demo is loaded (the first one ends within
# 30 days, so the admin's compliance calendar has something to show). OpenAI's covers students from
# 5, so in us_east the youngest bands (3) lose every subject whose only provider is OpenAI: the
# coverage map's age gap.
AGREEMENTS: list[dict[str, Any]] = [
    dict(
        reference="NDPA 2026 — OpenAI",
        provider="openai-gpt4",
        regions=["us_east"],
        signed=-340,
        expires=20,
        min_age=5,
        notes="National Data Privacy Agreement v2; renewal under review by the district's counsel.",
    ),
    dict(
        reference="NDPA 2026 — Anthropic",
        provider="anthropic-claude",
        regions=["us_east", "us_west"],
        signed=-200,
        expires=530,
        min_age=3,
        notes="Lowers Anthropic's 18+ terms for supervised classroom use.",
    ),
    dict(
        reference="NDPA 2026 — Microsoft",
        provider="microsoft-copilot",
        regions=["us_east"],
        signed=-120,
        expires=610,
        min_age=3,
        notes="",
    ),
    dict(
        reference="CSDPA — Google Gemini",
        provider="google-gemini",
        regions=["us_west"],
        signed=-90,
        expires=None,
        min_age=3,
        notes="California Student Data Privacy Agreement.",
    ),
    dict(
        reference="Ed Law 2-d — US-Only LLM",
        provider="us-only-provider",
        regions=[],
        signed=-400,
        expires=None,
        min_age=0,
        notes="New York Education Law 2-d rider; covers every region the vendor serves.",
    ),
]

POLICIES: list[dict[str, Any]] = [
    dict(
        name="Elementary Math - US East",
        subject="mathematics",
        grade_band="elementary",
        region="us_east",
        primary="openai-gpt4",
        fallbacks=["anthropic-claude", "microsoft-copilot"],
        templates=["math-elementary-basic", "math-word-problems"],
        threshold="0.8",
        override=True,
        priority=100,
    ),
    dict(
        name="Mathematics - any grade",
        subject="mathematics",
        grade_band="",
        region="",
        primary="anthropic-claude",
        fallbacks=["google-gemini", "local-eu-provider", "apac-regional-provider", "africa-local-provider"],
        templates=["general-tutor"],
        threshold="0.85",
        override=True,
        priority=100,
    ),
    dict(
        name="Default policy",
        subject="",
        grade_band="",
        region="",
        primary="openai-gpt4",
        fallbacks=["google-gemini", "local-eu-provider", "apac-regional-provider", "africa-local-provider"],
        templates=["general-tutor"],
        threshold="0.9",
        override=False,
        priority=0,
    ),
]


@transaction.atomic
def demo_world_load() -> dict[str, int]:
    """Create whatever of the demo world is missing; returns how many objects of each kind it has.

    An existing provider, template, routing rule (with its allowed and blocked lists), policy
    (with its fallbacks and templates) or administrator is left exactly as it is.
    """
    providers = {}
    for spec in PROVIDERS:
        providers[spec["slug"]], _ = ModelProvider.objects.get_or_create(
            slug=spec["slug"],
            defaults=dict(
                name=spec["name"],
                vendor=spec["vendor"],
                model_name=spec["model_name"],
                endpoint_url=spec["endpoint_url"],
                hosting_regions=spec["hosting_regions"],
                compliance_frameworks=spec["compliance_frameworks"],
                is_active=True,
                requests_per_minute=spec["rpm"],
                tokens_per_minute=spec["tpm"],
                cost_per_1k_input_tokens=Decimal(spec["cost_in"]),
                cost_per_1k_output_tokens=Decimal(spec["cost_out"]),
                minimum_user_age=spec.get("minimum_user_age", 0),
            ),
        )
    templates = {}
    for spec in TEMPLATES:
        templates[spec["slug"]], _ = PromptTemplate.objects.get_or_create(
            slug=spec["slug"], defaults={k: v for k, v in spec.items() if k != "slug"}
        )
    for spec in REGIONS:
        rule, created = RegionalRouting.objects.get_or_create(
            region=spec["region"],
            defaults=dict(
                data_center=spec["data_center"],
                data_residency_required=spec["residency"],
                encryption_required=True,
                audit_logging_required=True,
                compliance_frameworks=spec["frameworks"],
                under_13_frameworks=spec.get("under_13", []),
                agreement_required=spec.get("agreement_required", False),
            ),
        )
        if created:
            rule.allowed_providers.set([providers[slug] for slug in spec["allowed"]])
            rule.blocked_providers.set([providers[slug] for slug in spec["blocked"]])
    today = service_today()
    for spec in AGREEMENTS:
        Agreement.objects.get_or_create(
            reference=spec["reference"],
            defaults=dict(
                provider=providers[spec["provider"]],
                regions=spec["regions"],
                signed_on=today + timedelta(days=spec["signed"]),
                expires_on=today + timedelta(days=spec["expires"]) if spec["expires"] is not None else None,
                min_age_covered=spec["min_age"],
                document_url="https://privacy.example.org/agreements/"
                + spec["reference"].split(" — ")[-1].lower().replace(" ", "-"),
                notes=spec["notes"],
            ),
        )
    for spec in POLICIES:
        policy, created = DispatchPolicy.objects.get_or_create(
            name=spec["name"],
            defaults=dict(
                subject=spec["subject"],
                grade_band=spec["grade_band"],
                region=spec["region"],
                primary_provider=providers[spec["primary"]],
                moderation_threshold=Decimal(spec["threshold"]),
                allow_teacher_override=spec["override"],
                priority=spec["priority"],
                is_active=True,
            ),
        )
        if created:
            PolicyFallback.objects.bulk_create(
                PolicyFallback(policy=policy, provider=providers[slug], position=i)
                for i, slug in enumerate(spec["fallbacks"], start=1)
            )
            policy.templates.set([templates[slug] for slug in spec["templates"]])
    user_model = get_user_model()
    if not user_model.objects.filter(username=DEMO_ADMIN_USERNAME).exists():
        user_model.objects.create_superuser(
            username=DEMO_ADMIN_USERNAME, email="admin@example.org", password=DEMO_ADMIN_PASSWORD
        )
    return {
        "providers": len(providers),
        "templates": len(templates),
        "regions": len(REGIONS),
        "agreements": len(AGREEMENTS),
        "policies": len(POLICIES),
    }
