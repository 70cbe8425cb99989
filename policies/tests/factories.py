"""Database worlds for service and API tests, built through the models' own invariants."""

from __future__ import annotations

from decimal import Decimal

from policies.models import DispatchPolicy, PolicyFallback, RegionalRouting
from providers.models import ModelProvider, PromptTemplate


def make_provider(
    slug: str, *, regions=("us_east",), frameworks=("FERPA", "COPPA"), active=True, **extra
) -> ModelProvider:
    return ModelProvider.objects.create(
        slug=slug,
        name=slug.replace("-", " ").title(),
        endpoint_url=f"https://{slug}.example/v1/chat",
        hosting_regions=list(regions),
        compliance_frameworks=list(frameworks),
        is_active=active,
        **{"cost_per_1k_input_tokens": Decimal("0.01"), "cost_per_1k_output_tokens": Decimal("0.02"), **extra},
    )


def make_rule(
    region: str = "us_east", *, allowed=(), blocked=(), residency=False, frameworks=("FERPA",)
) -> RegionalRouting:
    rule = RegionalRouting.objects.create(
        region=region, data_center="DC", data_residency_required=residency, compliance_frameworks=list(frameworks)
    )
    rule.allowed_providers.set(allowed)
    rule.blocked_providers.set(blocked)
    return rule


def make_policy(name: str, primary: ModelProvider, *fallbacks: ModelProvider, templates=(), **fields) -> DispatchPolicy:
    policy = DispatchPolicy.objects.create(name=name, primary_provider=primary, **fields)
    PolicyFallback.objects.bulk_create(
        PolicyFallback(policy=policy, provider=p, position=i) for i, p in enumerate(fallbacks, start=1)
    )
    policy.templates.set(templates)
    return policy


def make_template(slug: str) -> PromptTemplate:
    return PromptTemplate.objects.create(slug=slug, name=slug, body="You are a tutor.")
