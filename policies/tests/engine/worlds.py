"""Small builders for engine worlds: plain dataclasses, no database."""

from __future__ import annotations

from policies.engine import PolicySpec, ProviderSpec, RegionRule, Snapshot


def provider(
    pid: str,
    *,
    regions: tuple[str, ...] = ("us_east",),
    frameworks: tuple[str, ...] = ("FERPA", "COPPA"),
    encrypts: bool = True,
    active: bool = True,
) -> ProviderSpec:
    return ProviderSpec(
        id=pid,
        slug=f"{pid}-slug",
        name=pid.title(),
        endpoint_url=f"https://{pid}.example/v1",
        hosting_regions=frozenset(regions),
        compliance_frameworks=frozenset(frameworks),
        encrypts=encrypts,
        active=active,
        requests_per_minute=60,
        tokens_per_minute=1000,
        cost_per_1k_input=0.01,
        cost_per_1k_output=0.02,
    )


def rule(
    region: str = "us_east",
    *,
    residency: bool = False,
    encryption: bool = False,
    allowed: tuple[str, ...] = (),
    blocked: tuple[str, ...] = (),
    frameworks: tuple[str, ...] = (),
) -> RegionRule:
    return RegionRule(
        region=region,
        data_center="DC",
        data_residency_required=residency,
        encryption_required=encryption,
        audit_logging_required=True,
        allowed_providers=frozenset(allowed),
        blocked_providers=frozenset(blocked),
        compliance_frameworks=frozenset(frameworks),
    )


def policy(
    pid: str,
    primary: str,
    *fallbacks: str,
    subject: str = "",
    grade_band: str = "",
    region: str = "",
    priority: int = 100,
    override: bool = True,
) -> PolicySpec:
    return PolicySpec(
        id=pid,
        name=pid,
        subject=subject,
        grade_band=grade_band,
        region=region,
        primary_provider_id=primary,
        fallback_provider_ids=tuple(fallbacks),
        template_ids=(f"tpl-{pid}",),
        moderation_threshold=0.8,
        allow_teacher_override=override,
        priority=priority,
    )


def world(providers: list[ProviderSpec], policies: list[PolicySpec], rules: list[RegionRule]) -> Snapshot:
    return Snapshot(
        providers={p.id: p for p in providers},
        policies=tuple(policies),
        rules={r.region: r for r in rules},
    )
