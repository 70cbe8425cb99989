"""Change requests: propose, review (four eyes), publish on time, exactly once.

With `CHANGE_APPROVAL=required` no authored object changes except through an approved change
request (docs/changes.md). The flow:

- `change_propose`: a policy-as-code document (the admin's would-be save turned into its entries,
  or `import_policies --propose`) is checked exactly as an import would check it (the import
  itself, rolled back: same rules, same messages) and kept with the live entries it would change
  (`base`).
- `change_review`: approved or rejected, with a reason, by an administrator holding
  `authoring.review_changerequest` who is not the author; a superuser may approve their own only
  with a break-glass reason (recorded; the database refuses a self-review without one).
- `change_publish_due`: the periodic job (`common.background`, every worker) claims each approved
  request whose time has come with `SELECT ... FOR UPDATE SKIP LOCKED` and publishes it in the same
  transaction, so it is published once across workers and instances. Publishing checks again: if
  an entry changed since the proposal, or the document no longer imports, nothing is published and
  the request says why. The history rows it writes carry the reason and both names.

`GOVERNED` is the one registry of the authored models a change request may change: the admin
turns a save into a proposal for these (and refuses other writes of them while approval is
required). A new authored model joins by adding its document section and a `Governed` entry.
API clients' budgets are governed (they change what dispatch decides once spent); the clients
themselves, their keys, their teacher authorisations and the alert webhooks are not (docs/changes.md).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Model, Q
from django.utils import timezone

from authoring.documents import (
    DocumentInvalid,
    agreement_entry,
    budget_entry,
    document_candidate,
    document_import,
    document_live_entries,
    document_parse,
    policy_entry,
    provider_entry,
    region_entry,
    template_entry,
)
from authoring.models import ChangeRequest, ChangeState
from authoring.validators import CHANGE_REASON_MAX, AuthoringError
from clients.models import ApiClient, ClientBudget
from policies.models import DispatchPolicy, RegionalRouting
from providers.models import Agreement, ModelProvider, PromptTemplate

REVIEW_PERMISSION = "authoring.review_changerequest"


@dataclass(frozen=True, slots=True)
class Governed:
    """An authored model that changes only through change requests when approval is required."""

    model: type[Model]
    section: str  # its section of a policy document
    key: str  # the document key an entry is matched by (a field of the model, or its client's name)
    entry: Callable[[Any], dict[str, Any]]  # the object as a document entry


GOVERNED: dict[type[Model], Governed] = {
    governed.model: governed
    for governed in (
        Governed(ModelProvider, "providers", "slug", provider_entry),
        Governed(PromptTemplate, "templates", "slug", template_entry),
        Governed(RegionalRouting, "regions", "region", region_entry),
        Governed(Agreement, "agreements", "reference", agreement_entry),
        Governed(DispatchPolicy, "policies", "name", policy_entry),
        Governed(ClientBudget, "budgets", "client", budget_entry),  # edited on the API client's page
    )
}


def governed_register(governed: Governed) -> None:
    """Add an authored model to the registry (its document section must exist in documents.py)."""
    GOVERNED[governed.model] = governed


def approval_required() -> bool:
    return getattr(settings, "CHANGE_APPROVAL", "off") == "required"


class ChangeRefused(AuthoringError):
    code = "change_refused"


# --- propose -------------------------------------------------------------------------------------


def document_of(instance: Model) -> dict[str, list[dict[str, Any]]]:
    """A document holding one governed object as it is now (in the caller's transaction)."""
    governed = GOVERNED[type(instance)]
    return {governed.section: [governed.entry(instance)]}


def change_propose(
    *, document: Any, reason: str, author: Any, effective_at: dt.datetime | None = None
) -> ChangeRequest:
    """Record a change request for `document`, checked as an import would check it.

    Raises DocumentInvalid (every bad entry named, the import's messages) or ChangeRefused."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise ChangeRefused({"reason": ["Say why you are making this change; it is kept with the history."]})
    parsed = document_parse(document)
    _, report = document_candidate(document)
    if not report.changes:
        raise ChangeRefused({"document": ["Nothing to propose: every entry of the document is already live."]})
    return ChangeRequest.objects.create(
        document=_jsonable(document),
        base=document_live_entries(parsed),
        summary="\n".join(report.changes),
        reason=reason,
        author=author,
        effective_at=effective_at,
    )


def budget_change_propose(
    *,
    client: ApiClient,
    amount: Decimal | None,
    period: str,
    on_exhausted: str,
    reason: str,
    author: Any,
    effective_at: dt.datetime | None = None,
) -> ChangeRequest | None:
    """Propose `client`'s budget as given (`amount=None`: no budget); None when it is already live.

    The API client's admin calls this instead of clients.services.client_budget_set while approval
    is required; the request is checked, reviewed and published like any other."""
    live = ClientBudget.objects.filter(client=client).first()
    wanted = None if amount is None else (amount, period, on_exhausted)
    if wanted == (None if live is None else (live.amount, live.period, live.on_exhausted)):
        return None
    entry: dict[str, Any] = {"client": client.name, "amount": None}
    if amount is not None:
        entry.update(amount=float(amount), period=period, on_exhausted=on_exhausted)
    return change_propose(document={"budgets": [entry]}, reason=reason, author=author, effective_at=effective_at)


def _jsonable(document: Any) -> Any:
    return json.loads(json.dumps(document, default=str))


# --- review --------------------------------------------------------------------------------------


def may_review(user: Any) -> bool:
    return bool(getattr(user, "is_active", False) and user.has_perm(REVIEW_PERMISSION))


def change_review(
    *, change: ChangeRequest, reviewer: Any, approve: bool, reason: str, break_glass_reason: str = ""
) -> ChangeRequest:
    """Approve or reject a proposed change; an approval due now is published at once.

    Raises PermissionDenied (no permission; the author without break glass) or ChangeRefused."""
    reason = " ".join((reason or "").split())
    break_glass_reason = " ".join((break_glass_reason or "").split())
    if not may_review(reviewer):
        raise PermissionDenied("You do not have the permission to review change requests.")
    if not reason:
        raise ChangeRefused({"review_reason": ["Say why you approve or reject this change."]})
    with transaction.atomic():
        locked = ChangeRequest.objects.select_for_update().get(pk=change.pk)
        if locked.state != ChangeState.PROPOSED:
            raise ChangeRefused({"__all__": [f"This change request is already {locked.get_state_display().lower()}."]})
        own = locked.author_id == reviewer.pk
        if own and not (approve and reviewer.is_superuser and break_glass_reason):
            raise PermissionDenied(
                "You cannot review your own change request: another administrator must."
                + (" As a superuser you may approve it with a break-glass reason." if reviewer.is_superuser else "")
            )
        locked.state = ChangeState.APPROVED if approve else ChangeState.REJECTED
        locked.reviewer = reviewer
        locked.reviewed_at = timezone.now()
        locked.review_reason = reason
        locked.break_glass_reason = break_glass_reason if own else ""
        locked.save()
    if approve and (locked.effective_at is None or locked.effective_at <= timezone.now()):
        change_publish_due(only=locked.pk)
        locked.refresh_from_db()
    return locked


# --- publish -------------------------------------------------------------------------------------


def change_publish_due(*, now: dt.datetime | None = None, only: int | None = None) -> int:
    """Publish every approved change request whose time has come, each exactly once (the job)."""
    published = 0
    while True:
        with transaction.atomic():
            due = ChangeRequest.objects.select_for_update(skip_locked=True, of=("self",)).filter(
                Q(effective_at__isnull=True) | Q(effective_at__lte=now or timezone.now()),
                state=ChangeState.APPROVED,
            )
            if only is not None:
                due = due.filter(pk=only)
            change = due.select_related("author", "reviewer").order_by("effective_at", "id").first()
            if change is None:
                return published
            _publish(change)
            published += 1
        if only is not None:
            return published


def history_reason(change: ChangeRequest) -> str:
    """The change reason on the history rows a publication writes: the request, both names, why."""
    assert change.reviewer is not None
    head = f"CR#{change.pk} by {change.author.get_username()}, approved by {change.reviewer.get_username()}: "
    return (head + change.reason)[:CHANGE_REASON_MAX]


def _moved(base: Any, live: Any) -> bool:
    """Whether a live entry differs from the one a request was proposed against. Only the keys the
    base knew count: a key added to the document format later (e.g. a provider's `health`) does not
    make every request proposed before it stale."""
    if isinstance(base, dict) and isinstance(live, dict):
        return any(live.get(key) != value for key, value in base.items())
    return bool(base != live)


def _publish(change: ChangeRequest) -> None:
    """Publish one claimed change request (the caller holds its row lock), or say why not."""
    change.published_at = timezone.now()
    try:
        parsed = document_parse(change.document)
        moved = [
            key.replace("/", " ", 1)
            for key, entry in document_live_entries(parsed).items()
            if _moved(change.base.get(key), entry)
        ]
        if moved:
            raise DocumentInvalid([f"{name} changed since this request was proposed" for name in moved])
        with transaction.atomic():
            report = document_import(change.document, reason=history_reason(change), user=change.reviewer)
    except DocumentInvalid as error:
        change.state = ChangeState.FAILED
        change.publication_result = "Nothing was published: " + "; ".join(error.errors)
    else:
        change.state = ChangeState.PUBLISHED
        change.publication_result = "\n".join(report.changes) or "Nothing to change: every entry was already live."
    change.save(update_fields=["state", "published_at", "publication_result"])


def change_job_register() -> None:
    from common.background import job_register

    job_register(name="change-publish", run=change_publish_due, interval=settings.CHANGE_PUBLISH_INTERVAL)
