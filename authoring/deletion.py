"""Deleting authored objects (providers, agreements, prompt templates, policies, routing rules).

A delete is an authoring change like any other: it needs a change reason (kept on simple-history's
deletion row, type "-"), and deleting a provider, agreement, policy or routing rule first compares today's
snapshot with a what-if snapshot without it; if some context would lose its last compliant
provider, the delete is refused until that loss is confirmed.

Rules of our own, besides the database's PROTECTs (policies and dispatch logs keep providers,
dispatch logs keep policies): a provider still named in a routing rule's allowed or blocked list,
or a template still attached to a policy, is not deleted, because the database would silently
drop it from those lists and their history would never show it. Remove it there first.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Model, ProtectedError, RestrictedError

from authoring.coverage import (
    CoverageLoss,
    coverage_losses,
    coverage_losses_message,
    snapshot_without_agreement,
    snapshot_without_policies,
    snapshot_without_provider,
    snapshot_without_rule,
)
from authoring.refusals import integrity_problems, protected_problems
from authoring.validators import AuthoringError, change_reason_clean
from policies.models import DispatchPolicy, RegionalRouting
from policies.snapshot import snapshot_build
from providers.models import Agreement, ModelProvider, PromptTemplate

CONFIRM_LABEL = "Confirm coverage loss"


def deletion_losses(instance: Model) -> list[CoverageLoss]:
    """Contexts that resolve today and would have no compliant provider once `instance` is gone."""
    before = snapshot_build()
    if isinstance(instance, DispatchPolicy):
        after = snapshot_without_policies(before, [str(instance.pk)])
    elif isinstance(instance, RegionalRouting):
        after = snapshot_without_rule(before, instance.region)
    elif isinstance(instance, ModelProvider):
        after = snapshot_without_provider(before, str(instance.pk))
    elif isinstance(instance, Agreement):
        after = snapshot_without_agreement(before, instance.reference)
    else:
        return []  # templates do not decide who serves a context
    return coverage_losses(before, after)


def deletion_blockers(instance: Model) -> list[str]:
    """Uses of `instance` the database would drop silently; each says what to do first."""
    if isinstance(instance, ModelProvider):
        rules = [
            *(f"the allowed providers of {rule.region}" for rule in instance.allowed_in.order_by("region")),
            *(f"the blocked providers of {rule.region}" for rule in instance.blocked_in.order_by("region")),
        ]
        return [f"{instance.slug} is in {where}: remove it from that routing rule first." for where in rules]
    if isinstance(instance, PromptTemplate):
        return [
            f"Policy “{policy.name}” uses template {instance.slug}: remove it from that policy first."
            for policy in instance.policies.order_by("name")
        ]
    return []


@transaction.atomic
def authored_delete(*, instance: Model, reason: str, user: Any = None, confirm_coverage_loss: bool = False) -> None:
    """Delete `instance` with its change reason; refused (nothing deleted) with what to do instead."""
    reason = change_reason_clean(reason)
    blockers = deletion_blockers(instance)
    if blockers:
        raise AuthoringError({"__all__": blockers})
    losses = deletion_losses(instance)
    if losses and not confirm_coverage_loss:
        raise AuthoringError({"confirm_coverage_loss": [coverage_losses_message(losses, confirm=CONFIRM_LABEL)]})
    instance._change_reason = reason  # type: ignore[attr-defined]
    if user is not None and getattr(user, "is_authenticated", False):
        instance._history_user = user  # type: ignore[attr-defined]
    try:
        instance.delete()
    except (ProtectedError, RestrictedError) as error:  # used since the page was shown
        raise AuthoringError(protected_problems(error, instance)) from error
    except IntegrityError as error:
        raise AuthoringError(integrity_problems(error, type(instance))) from error
    finally:
        for attr in ("_change_reason", "_history_user"):
            instance.__dict__.pop(attr, None)
