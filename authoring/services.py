"""The back office's writers: policies, routing rules, providers and templates, with their history.

The only writers of authored data. Each validates with `authoring.validators` first and raises
`AuthoringError` (nothing written) when a rule refuses.

History: a policy save writes the policy, its ordered fallback chain and its templates, then ONE
history row holding all three with the change reason (simple-history's own per-signal rows are
suppressed while the parts are written). Routing rules get the same treatment for their allowed
and blocked lists. A save that changes nothing writes no history row. The snapshot stamp moves
once per transaction (`policies.snapshot.invalidation`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Field, Model

from authoring.refusals import integrity_problems
from authoring.validators import (
    AuthoringError,
    Problems,
    change_reason_clean,
    policy_problems,
    routing_rule_problems,
)
from policies.engine import Snapshot
from policies.models import POLICY_HISTORY, ROUTING_HISTORY, DispatchPolicy, PolicyFallback, RegionalRouting
from policies.snapshot import snapshot_build
from providers.models import ModelProvider, PromptTemplate

# --- history ------------------------------------------------------------------------------------


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
def policies_set_active(
    *,
    policies: Iterable[DispatchPolicy],
    active: bool,
    reason: str,
    user: Any = None,
    snapshot: Snapshot | None = None,
) -> int:
    """Activate or deactivate policies, all or nothing; activation re-checks the rules (against
    `snapshot`, the world the caller already read, else a fresh one)."""
    changed = 0
    problems: Problems = {}
    snapshot = snapshot or snapshot_build()
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
