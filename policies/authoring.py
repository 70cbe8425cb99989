"""Authoring rules for policies and routing rules, and the services that write them.

Every surface that changes the authored world (admin forms and actions, revert, `import_policies`)
checks it with the validators here, so all of them refuse the same things with the same words.
A validator returns `Problems` (field name -> messages that say what to fix); a service raises
`AuthoringError` carrying them and writes nothing.

History: a policy save writes the policy, its ordered fallback chain and its templates, then ONE
history row holding all three with the change reason (simple-history's own per-signal rows are
suppressed while the parts are written). Routing rules get the same treatment for their allowed
and blocked lists. A save that changes nothing writes no history row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Field, Model

from dispatch_site.errors import DispatchError
from policies.engine import Snapshot, available_providers
from policies.engine.types import policy_level
from policies.models import POLICY_HISTORY, ROUTING_HISTORY, DispatchPolicy, PolicyFallback, RegionalRouting
from policies.refusals import integrity_problems
from policies.snapshot import snapshot_build
from providers.models import ModelProvider, PromptTemplate

Problems = dict[str, list[str]]

SHAPES_HELP = (
    "A policy has one of four shapes: subject + grade band + region; subject + grade band; "
    "subject only; or none of them (the default policy)."
)
CHANGE_REASON_MAX = 100  # simple-history's history_change_reason column


class AuthoringError(DispatchError):
    """A change the authoring rules refuse; `fields` maps each field to what to fix."""

    code = "authoring_invalid"

    def __init__(self, problems: Problems, message: str = ""):
        text = message or "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in problems.items())
        super().__init__(text, fields=problems)
        self.problems = problems


def problems_merge(*parts: Problems) -> Problems:
    merged: Problems = {}
    for part in parts:
        for field, messages in part.items():
            merged.setdefault(field, []).extend(messages)
    return merged


# --- validators ---------------------------------------------------------------------------------


def policy_shape_problems(*, subject: str, grade_band: str, region: str) -> Problems:
    """Rule: a policy's subject / grade band / region form one of the four resolution levels."""
    if policy_level(subject, grade_band, region) is not None:
        return {}
    if region:
        missing = " and a ".join(
            name for name, value in (("subject", subject), ("grade band", grade_band)) if not value
        )
        return {
            "region": [f"A policy for one region also needs a {missing}: set it, or clear the region. {SHAPES_HELP}"]
        }
    return {"grade_band": [f"A grade band needs a subject: set the subject, or clear the grade band. {SHAPES_HELP}"]}


def moderation_threshold_problems(value: Decimal | float | None) -> Problems:
    """Rule: the moderation threshold lies in [0, 1]."""
    if value is None or 0 <= value <= 1:
        return {}
    return {"moderation_threshold": [f"Must be between 0 and 1 (e.g. 0.8); {value} is outside [0, 1]."]}


def shape_label(subject: str, grade_band: str, region: str) -> str:
    return ", ".join(
        f"{name} {value or 'any'}"
        for name, value in (("subject", subject), ("grade band", grade_band), ("region", region))
    )


def policy_priority_problems(
    *, subject: str, grade_band: str, region: str, priority: int | None, is_active: bool, exclude_id: Any = None
) -> Problems:
    """Rule: no two active policies share a shape and a priority (resolution order would be arbitrary)."""
    if not is_active or priority is None:
        return {}
    clash = (
        DispatchPolicy.objects.filter(
            is_active=True, subject=subject, grade_band=grade_band, region=region, priority=priority
        )
        .exclude(pk=exclude_id)
        .only("name")
        .first()
    )
    if clash is None:
        return {}
    return {
        "priority": [
            f"The active policy {clash.name!r} already has {shape_label(subject, grade_band, region)} and "
            f"priority {priority}: choose another priority, or deactivate one of the two."
        ]
    }


def chain_repeat_problems(*, primary: str, fallbacks: Sequence[str]) -> Problems:
    """Rule: a provider appears once in a chain (primary included). Providers are named by slug."""
    messages: list[str] = []
    if primary and primary in fallbacks:
        position = fallbacks.index(primary) + 1
        messages.append(f"{primary} is the primary provider; remove it from the fallbacks (position {position}).")
    seen: dict[str, list[int]] = {}
    for position, slug in enumerate(fallbacks, start=1):
        seen.setdefault(slug, []).append(position)
    for slug, positions in seen.items():
        if len(positions) > 1 and slug != primary:
            where = " and ".join(str(p) for p in positions)
            messages.append(f"{slug} is in the fallbacks more than once (positions {where}); keep one.")
    return {"fallback_providers": messages} if messages else {}


def chain_region_problems(*, region: str, chain: Sequence[str], snapshot: Snapshot, is_active: bool = True) -> Problems:
    """Rule: an active policy scoped to a region has at least one provider compliant there.

    `chain` holds provider ids (primary first); `snapshot` the providers and routing rules to check
    against (built from the database, or a what-if snapshot).
    """
    if not region or not is_active:
        return {}
    if region not in snapshot.rules:
        return {"region": [f"{region} has no regional routing rule, so no provider may serve it: add its rule first."]}
    reasons: list[str] = []
    for provider_id in chain:
        why = snapshot.why_not(provider_id, region)
        if why is None:
            return {}
        reasons.append(why[1])
    available, _ = available_providers(snapshot, region)
    if available:
        hint = "providers compliant there: " + ", ".join(p.slug for p in available)
    else:
        hint = f"no provider is compliant in {region} today; fix its routing rule or the providers first"
    return {
        "fallback_providers": [
            f"No provider in this chain may serve {region}: {'; '.join(reasons)}. Make the primary or a "
            f"fallback a provider compliant in {region} ({hint}), or change the region."
        ]
    }


def routing_rule_problems(*, allowed: Iterable[str], blocked: Iterable[str]) -> Problems:
    """Rule: a routing rule does not both allow and block a provider (slugs)."""
    both = sorted(set(allowed) & set(blocked))
    if not both:
        return {}
    return {
        "blocked_providers": [
            f"{slug} is both allowed and blocked in this region; remove it from one of the two lists." for slug in both
        ]
    }


def policy_problems(
    *,
    policy: DispatchPolicy,
    fallbacks: Sequence[ModelProvider],
    snapshot: Snapshot,
) -> Problems:
    """Every policy rule at once, for services and the import (admin forms call the parts)."""
    primary = policy.primary_provider
    return problems_merge(
        policy_shape_problems(subject=policy.subject, grade_band=policy.grade_band, region=policy.region),
        moderation_threshold_problems(policy.moderation_threshold),
        policy_priority_problems(
            subject=policy.subject,
            grade_band=policy.grade_band,
            region=policy.region,
            priority=policy.priority,
            is_active=policy.is_active,
            exclude_id=policy.pk,
        ),
        chain_repeat_problems(primary=primary.slug, fallbacks=[p.slug for p in fallbacks]),
        chain_region_problems(
            region=policy.region,
            chain=[str(primary.pk), *(str(p.pk) for p in fallbacks)],
            snapshot=snapshot,
            is_active=policy.is_active,
        ),
    )


# --- history ------------------------------------------------------------------------------------


def change_reason_clean(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise AuthoringError({"change_reason": ["Say why you are making this change; it is kept with the history."]})
    return reason[:CHANGE_REASON_MAX]


def history_record(instance: Model, *, created: bool, reason: str, user: Any) -> None:
    """Write one history row for `instance` as it is now (fields and tracked many-to-many lists)."""
    records = POLICY_HISTORY if isinstance(instance, DispatchPolicy) else ROUTING_HISTORY
    instance._change_reason = reason  # type: ignore[attr-defined]
    if user is not None and getattr(user, "is_authenticated", False):
        instance._history_user = user  # type: ignore[attr-defined]
    try:
        records.create_historical_record(instance, "+" if created else "~")
    finally:
        # simple-history reads these from the instance: never let them stick to a later save.
        for attr in ("_change_reason", "_history_user"):
            instance.__dict__.pop(attr, None)


class _HistoryDeferred:
    """Suppress simple-history's per-signal rows while a multi-part save runs."""

    def __init__(self, instance: Model):
        self.instance = instance

    def __enter__(self) -> None:
        self.instance.skip_history_when_saving = True  # type: ignore[attr-defined]

    def __exit__(self, *exc: object) -> None:
        self.instance.__dict__.pop("skip_history_when_saving", None)


# --- services -----------------------------------------------------------------------------------

_POLICY_FIELDS = (
    "name",
    "subject",
    "grade_band",
    "region",
    "primary_provider_id",
    "moderation_threshold",
    "allow_teacher_override",
    "priority",
    "is_active",
)


def policy_chain(policy: DispatchPolicy) -> list[ModelProvider]:
    """The policy's fallbacks in order (primary excluded), as stored."""
    return [f.provider for f in policy.fallbacks.select_related("provider").order_by("position")]


def _normal(name: str, value: Any) -> Any:
    field = DispatchPolicy._meta.get_field(name.removesuffix("_id"))
    return field.to_python(value) if isinstance(field, Field) else value


def _policy_state(policy: DispatchPolicy) -> tuple[Any, ...]:
    stored = DispatchPolicy.objects.filter(pk=policy.pk).values(*_POLICY_FIELDS).first()
    return tuple(_normal(f, stored[f]) for f in _POLICY_FIELDS) if stored else ()


@transaction.atomic
def policy_save(
    *,
    policy: DispatchPolicy,
    fallbacks: Sequence[ModelProvider],
    templates: Iterable[PromptTemplate] | None,
    reason: str,
    user: Any = None,
    snapshot: Snapshot | None = None,
) -> bool:
    """Validate and write a policy with its ordered fallbacks and templates; one history row.

    `policy` carries the new field values (unsaved). Returns False when nothing changed (then
    nothing is written, not even history).
    """
    reason = change_reason_clean(reason)
    problems = policy_problems(policy=policy, fallbacks=fallbacks, snapshot=snapshot or snapshot_build())
    if problems:
        raise AuthoringError(problems)
    created = policy._state.adding or not DispatchPolicy.objects.filter(pk=policy.pk).exists()
    new_chain = [p.pk for p in fallbacks]
    new_templates = None if templates is None else sorted(str(t.pk) for t in templates)
    if not created:
        same_fields = _policy_state(policy) == tuple(_normal(f, getattr(policy, f)) for f in _POLICY_FIELDS)
        same_chain = [p.pk for p in policy_chain(policy)] == new_chain
        same_templates = (
            new_templates is None
            or sorted(str(pk) for pk in policy.templates.values_list("pk", flat=True)) == new_templates
        )
        if same_fields and same_chain and same_templates:
            return False
    try:
        with _HistoryDeferred(policy):
            policy.save()
            if created or [p.pk for p in policy_chain(policy)] != new_chain:
                policy.fallbacks.all().delete()
                for position, provider in enumerate(fallbacks, start=1):
                    entry = PolicyFallback(policy=policy, provider=provider, position=position)
                    entry._change_reason = reason  # type: ignore[attr-defined]
                    entry.save()
            if templates is not None:
                policy.templates.set(list(templates))
    except IntegrityError as error:  # a clash written by someone else after the check above
        if created:
            policy._state.adding = True  # rolled back: the policy does not exist
        raise AuthoringError(integrity_problems(error, DispatchPolicy)) from error
    history_record(policy, created=created, reason=reason, user=user)
    return True


@transaction.atomic
def routing_rule_save(
    *,
    rule: RegionalRouting,
    allowed: Sequence[ModelProvider],
    blocked: Sequence[ModelProvider],
    reason: str,
    user: Any = None,
) -> bool:
    """Validate and write a routing rule with its allowed and blocked lists; one history row."""
    reason = change_reason_clean(reason)
    problems = routing_rule_problems(allowed=[p.slug for p in allowed], blocked=[p.slug for p in blocked])
    if problems:
        raise AuthoringError(problems)
    created = rule._state.adding
    try:
        with _HistoryDeferred(rule):
            rule.save()
            rule.allowed_providers.set(list(allowed))
            rule.blocked_providers.set(list(blocked))
    except IntegrityError as error:  # e.g. a rule for the same region saved meanwhile
        rule._state.adding = created
        raise AuthoringError(integrity_problems(error, RegionalRouting)) from error
    history_record(rule, created=created, reason=reason, user=user)
    return True


@transaction.atomic
def authored_save(*, instance: Model, reason: str, user: Any = None) -> None:
    """Write a provider or prompt template with its change reason (one history row, by signal).

    A constraint the database enforces at write time (a slug taken meanwhile) is an
    `AuthoringError` naming the field, and nothing is written.
    """
    reason = change_reason_clean(reason)
    adding = instance._state.adding
    instance._change_reason = reason  # type: ignore[attr-defined]
    if user is not None and getattr(user, "is_authenticated", False):
        instance._history_user = user  # type: ignore[attr-defined]
    try:
        instance.save()
    except IntegrityError as error:
        instance._state.adding = adding
        raise AuthoringError(integrity_problems(error, type(instance))) from error
    finally:
        for attr in ("_change_reason", "_history_user"):
            instance.__dict__.pop(attr, None)


def policy_revert(*, policy: DispatchPolicy, version: Any, reason: str, user: Any = None) -> bool:
    """Put a policy back as it was at `version` (a historical row): fields, ordered chain, templates.

    The restored policy is validated like any save (a version whose chain no longer has a
    compliant provider, or whose priority now clashes, is refused), and gets a new history row.
    """
    restored = version.instance
    for field in _POLICY_FIELDS:
        setattr(policy, field, getattr(restored, field))
    return policy_save(
        policy=policy,
        fallbacks=version_chain(version),
        templates=version_templates(version),
        reason=reason,
        user=user,
    )


def version_chain(version: Any) -> list[ModelProvider]:
    """The ordered fallback chain kept with a policy's history row."""
    rows = sorted(version.fallback_providers.all(), key=lambda row: row.position)
    ids = [row.provider_id for row in rows]
    found = ModelProvider.objects.in_bulk(ids)
    missing = [str(pk) for pk in ids if pk not in found]
    if missing:
        raise AuthoringError(
            {"fallback_providers": [f"Providers of that version no longer exist: {', '.join(missing)}."]}
        )
    return [found[pk] for pk in ids]


def version_templates(version: Any) -> list[PromptTemplate]:
    ids = [row.prompttemplate_id for row in version.templates.all()]
    return list(PromptTemplate.objects.filter(pk__in=ids))


@transaction.atomic
def policies_set_active(*, policies: Iterable[DispatchPolicy], active: bool, reason: str, user: Any = None) -> int:
    """Activate or deactivate policies, all or nothing; activation re-checks the rules."""
    changed = 0
    problems: Problems = {}
    snapshot = snapshot_build()
    for policy in policies:
        if policy.is_active == active:
            continue
        policy.is_active = active
        try:
            policy_save(
                policy=policy,
                fallbacks=policy_chain(policy),
                templates=None,
                reason=reason,
                user=user,
                snapshot=snapshot,
            )
        except AuthoringError as error:
            for messages in error.problems.values():
                problems.setdefault(policy.name, []).extend(messages)
            continue
        changed += 1
    if problems:
        raise AuthoringError(problems)
    return changed


@transaction.atomic
def policy_duplicate(*, policy: DispatchPolicy, reason: str, user: Any = None) -> DispatchPolicy:
    """An inactive copy of `policy` (same chain and templates) to edit and activate later."""
    copy = DispatchPolicy(**{f: getattr(policy, f) for f in _POLICY_FIELDS})
    copy.name = f"Copy of {policy.name}"[:160]
    copy.is_active = False
    policy_save(
        policy=copy, fallbacks=policy_chain(policy), templates=list(policy.templates.all()), reason=reason, user=user
    )
    return copy


@transaction.atomic
def policies_duplicate(*, policies: Iterable[DispatchPolicy], reason: str, user: Any = None) -> list[DispatchPolicy]:
    """Inactive copies of several policies, all or nothing."""
    return [policy_duplicate(policy=policy, reason=reason, user=user) for policy in policies]
