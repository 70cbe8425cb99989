"""Database -> engine: the authored world as plain rows, and the `Snapshot` they compile to.

The only bridge from the ORM to the engine. `snapshot_rows` reads the active world in a few flat
queries (no model instances); `snapshot_from_rows` compiles rows (fresh, or shared by another
worker through Redis) into engine specs, with every context of the vocabulary decided
(`CONTEXTS`); `snapshot_build` does both, for authoring checks that
must see the database as it is now. Serving workers go through the per-worker cache instead
(`policies.snapshot.cache`).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import FloatField, Prefetch, QuerySet, TextField
from django.db.models.functions import Cast

from common.clock import service_today
from policies.engine import (
    AgreementSpec,
    DispatchContext,
    PolicySpec,
    ProviderSpec,
    RegionRule,
    Snapshot,
    compile_contexts,
)
from policies.models import DispatchPolicy, PolicyFallback, RegionalRouting
from policies.snapshot.stamp import StampToken, stamp_token, stamp_version
from providers.models import Agreement, ModelProvider, provider_encrypts
from vocabulary import GRADE_BAND_YOUNGEST_AGE, GradeBand, Region, Subject

# Every context a request can name (the API and the pages accept only vocabulary codes): each is
# decided when a snapshot is built, so reads of the snapshot are lookups.
CONTEXTS = tuple(
    DispatchContext(subject, band, region)
    for region in Region.values
    for subject in Subject.values
    for band in GradeBand.values
)


def snapshot_build(*, version: int | None = None, on: datetime.date | None = None) -> Snapshot:
    """Read the authored world into a Snapshot (active policies only), judged for UTC date `on`
    (default: today on the service's clock)."""
    if version is None:
        version = stamp_version()
    return snapshot_from_rows(snapshot_rows(), version=version, on=on)


def snapshot_rows() -> dict[str, list[Any]]:
    """The authored world as plain JSON-able rows (what `snapshot_from_rows` compiles).

    Flat `values_list` queries with ids cast to text in SQL, no model instances: every rebuild
    at 10,000 policies spent most of a second instantiating models, prefetching and making UUID
    objects (bench/run.py prints the build time).
    """
    provider_columns = (
        _text("id"),
        "slug",
        "name",
        "endpoint_url",
        "hosting_regions",
        "compliance_frameworks",
        "encrypts_in_transit",
        "encrypts_at_rest",
        "is_active",
        "requests_per_minute",
        "tokens_per_minute",
        Cast("cost_per_1k_input_tokens", FloatField()),
        Cast("cost_per_1k_output_tokens", FloatField()),
        "minimum_user_age",
    )
    providers = [
        [_uuid_text(pid), slug, name, url, list(regions or ()), list(frameworks or ()),
         provider_encrypts(in_transit=in_transit, at_rest=at_rest), active, rpm, tpm, cost_in, cost_out, min_age]
        for pid, slug, name, url, regions, frameworks, in_transit, at_rest, active, rpm, tpm, cost_in, cost_out, min_age
        in ModelProvider.objects.order_by().values_list(*provider_columns)
    ]  # fmt: skip
    fallbacks: dict[str, list[str]] = {}
    for policy_id, provider_id in _driver_rows(
        PolicyFallback.objects.filter(policy__is_active=True)
        .order_by("policy_id", "position")
        .values_list(_text("policy_id"), _text("provider_id"))
    ):
        fallbacks.setdefault(policy_id, []).append(_uuid_text(provider_id))
    templates: dict[str, list[str]] = {}
    through = DispatchPolicy.templates.through
    for policy_id, template_id in _driver_rows(
        through.objects.filter(dispatchpolicy__is_active=True, prompttemplate__is_active=True)
        .order_by("prompttemplate__slug")
        .values_list(_text("dispatchpolicy_id"), _text("prompttemplate_id"))
    ):
        templates.setdefault(policy_id, []).append(_uuid_text(template_id))
    policy_columns = (
        _text("id"),
        "name",
        "subject",
        "grade_band",
        "region",
        _text("primary_provider_id"),
        Cast("moderation_threshold", FloatField()),
        "allow_teacher_override",
        "priority",
    )
    policies = [
        [_uuid_text(pid), name, subject, grade_band, region, _uuid_text(primary), fallbacks.get(pid, []),
         templates.get(pid, []), threshold, allow_override, priority]
        for pid, name, subject, grade_band, region, primary, threshold, allow_override, priority in _driver_rows(
            DispatchPolicy.objects.filter(is_active=True).order_by().values_list(*policy_columns)
        )
    ]  # fmt: skip
    rules = [
        [r.region, r.data_center, r.data_residency_required, r.encryption_required, r.audit_logging_required,
         [str(p.pk) for p in r.allowed_providers.all()], [str(p.pk) for p in r.blocked_providers.all()],
         list(r.compliance_frameworks or ()), r.agreement_required, list(r.under_13_frameworks or ())]
        for r in RegionalRouting.objects.prefetch_related(
            Prefetch("allowed_providers", queryset=ModelProvider.objects.only("id")),
            Prefetch("blocked_providers", queryset=ModelProvider.objects.only("id")),
        )
    ]  # fmt: skip
    # Every agreement, whatever its dates: which are in force depends on the date the rows are
    # compiled for, so the same rows serve every day until an authoring change.
    agreements = [
        [reference, str(provider_id), list(regions or ()), signed_on.isoformat(),
         expires_on.isoformat() if expires_on else None, min_age]
        for reference, provider_id, regions, signed_on, expires_on, min_age in Agreement.objects.order_by(
            "reference"
        ).values_list("reference", "provider_id", "regions", "signed_on", "expires_on", "min_age_covered")
    ]  # fmt: skip
    return {"providers": providers, "policies": policies, "rules": rules, "agreements": agreements}


def snapshot_from_rows(rows: dict[str, list[Any]], *, version: int, on: datetime.date | None = None) -> Snapshot:
    """Compile `snapshot_rows()` output (fresh, or shared by another worker through Redis) for UTC
    date `on` (default: today on the service's clock)."""
    providers = {
        p[0]: ProviderSpec(
            id=p[0],
            slug=p[1],
            name=p[2],
            endpoint_url=p[3],
            hosting_regions=frozenset(p[4]),
            compliance_frameworks=frozenset(p[5]),
            encrypts=bool(p[6]),
            active=bool(p[7]),
            requests_per_minute=p[8],
            tokens_per_minute=p[9],
            cost_per_1k_input=float(p[10]),
            cost_per_1k_output=float(p[11]),
            minimum_user_age=int(p[12]),
        )
        for p in rows["providers"]
    }
    policies = tuple(
        PolicySpec(p[0], p[1], p[2], p[3], p[4], p[5], tuple(p[6]), tuple(p[7]), float(p[8]), bool(p[9]), p[10])
        for p in rows["policies"]
    )  # positional, in PolicySpec's field order (the order snapshot_rows writes)
    rules = {
        r[0]: RegionRule(
            region=r[0],
            data_center=r[1],
            data_residency_required=bool(r[2]),
            encryption_required=bool(r[3]),
            audit_logging_required=bool(r[4]),
            allowed_providers=frozenset(r[5]),
            blocked_providers=frozenset(r[6]),
            compliance_frameworks=frozenset(r[7]),
            agreement_required=bool(r[8]),
            under_13_frameworks=frozenset(r[9]),
        )
        for r in rows["rules"]
    }
    agreements = tuple(
        AgreementSpec(
            reference=a[0],
            provider_id=a[1],
            regions=frozenset(a[2]),
            signed_on=datetime.date.fromisoformat(a[3]),
            expires_on=datetime.date.fromisoformat(a[4]) if a[4] else None,
            min_age_covered=int(a[5]),
        )
        for a in rows["agreements"]
    )
    snapshot = Snapshot(
        providers=providers,
        policies=policies,
        rules=rules,
        version=version,
        agreements=agreements,
        band_ages=GRADE_BAND_YOUNGEST_AGE,
        on=on if on is not None else service_today(),
    )
    return compile_contexts(snapshot, CONTEXTS)


def snapshot_rows_at_stamp() -> tuple[StampToken, dict[str, list[Any]]]:
    """PostgreSQL's stamp token and the rows of exactly that state.

    On PostgreSQL outside a transaction both are read in one REPEATABLE READ snapshot (three extra
    statements per build). Elsewhere the token is read first, so the rows are of that version or
    a newer one, and the next check (which sees the newer token) rebuilds."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return stamp_token(), snapshot_rows()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return stamp_token(), snapshot_rows()


def _driver_rows(queryset: QuerySet[Any, Any]) -> list[tuple[Any, ...]]:
    """The rows of a `values_list` query as the driver returns them: the ORM writes the SQL, but
    Django's per-row converters are skipped (at 10,000 policies they were half of a build, and
    these columns need none: text casts, plain numbers; booleans may be 0/1 on SQLite)."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _text(column: str) -> Cast:
    return Cast(column, TextField())


def _uuid_text(value: str) -> str:
    """A UUID column cast to text: canonical on PostgreSQL; SQLite stores 32 hex digits."""
    if len(value) == 32:
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return value
