"""The only writers of API clients: create, rotate, revoke, change scopes and rate, set or remove a
spend budget, and authorise a client to act for teachers (one teacher, or every teacher of a school).

Each returns the new key where one is made; the key is shown once and never stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clients.keys import key_generate, key_hash, principal_cache
from clients.models import ApiClient, BudgetExhausted, BudgetPeriod, ClientBudget, Scope, TeacherAuthorisation
from clients.rates import RATE_HELP, RateError, rate_parse
from clients.selectors import school_normalise
from common.errors import DispatchError

if TYPE_CHECKING:  # typing only: the teachers app builds on this one, never the other way round
    from teachers.models import TeacherProfile


class InvalidClient(DispatchError):
    code = "invalid_client"


def rate_check(rate: str) -> None:
    try:
        rate_parse(rate)
    except RateError as exc:
        raise InvalidClient(str(exc), fields={"rate": [RATE_HELP]}) from exc


def scopes_clean(scopes: Iterable[str]) -> list[str]:
    allowed = set(Scope.values)
    cleaned = sorted(set(scopes))
    unknown = [s for s in cleaned if s not in allowed]
    if unknown:
        raise InvalidClient(
            f"unknown scopes {', '.join(unknown)}; allowed: {', '.join(Scope.values)}",
            fields={"scopes": [f"Allowed values: {', '.join(Scope.values)}."]},
        )
    return cleaned


BUDGET_HELP = "Use AMOUNT/PERIOD, e.g. 25/month or 0.50/day (an amount above 0, at most 6 decimals; day or month)."
BUDGET_MAX = Decimal("99999999")
_BUDGET = re.compile(r"^\s*(\d{1,8}(?:\.\d{1,6})?)\s*/\s*([a-z]+)\s*$")


def budget_parse(budget: str) -> tuple[Decimal, str]:
    """'25/month' -> (Decimal('25'), 'month'); InvalidClient naming `budget` and what is allowed."""
    match = _BUDGET.match(budget.lower())
    if match is None or match.group(2) not in BudgetPeriod.values:
        raise InvalidClient(f"budget {budget!r} is not AMOUNT/PERIOD", fields={"budget": [BUDGET_HELP]})
    amount = Decimal(match.group(1))
    budget_check(amount=amount, period=match.group(2))
    return amount, match.group(2)


def budget_check(*, amount: Decimal, period: str, on_exhausted: str = BudgetExhausted.REFUSE) -> None:
    try:
        valid = Decimal(0) < amount <= BUDGET_MAX and amount == amount.quantize(Decimal("0.000001"))
    except InvalidOperation:
        valid = False
    if not valid:
        raise InvalidClient(
            f"budget amount {amount} must be above 0 and at most {BUDGET_MAX}, with at most 6 decimals",
            fields={"budget_amount": [BUDGET_HELP]},
        )
    if period not in BudgetPeriod.values:
        raise InvalidClient(
            f"budget period {period!r} is not one of {', '.join(BudgetPeriod.values)}",
            fields={"budget_period": [f"Allowed values: {', '.join(BudgetPeriod.values)}."]},
        )
    if on_exhausted not in BudgetExhausted.values:
        raise InvalidClient(
            f"on budget exhausted {on_exhausted!r} is not one of {', '.join(BudgetExhausted.values)}",
            fields={"on_budget_exhausted": [f"Allowed values: {', '.join(BudgetExhausted.values)}."]},
        )


@transaction.atomic
def client_budget_set(
    *,
    client: ApiClient,
    amount: Decimal | None,
    period: str = BudgetPeriod.MONTH,
    on_exhausted: str = "refuse",
    reason: str = "",
    user: Any = None,
) -> ClientBudget | None:
    """Give `client` a budget (or change it); `amount=None` removes it. History kept, with `reason`
    and `user` when given (a published change request gives both); every worker sees the change
    within API_KEY_CACHE_SECONDS (the budget is read with the key).

    With CHANGE_APPROVAL=required the admin proposes budget changes instead of calling this
    (authoring.admin.clients); publishing an approved change request calls it."""
    existing = ClientBudget.objects.filter(client=client).first()
    if amount is None:
        if existing is not None:
            _history_context(existing, reason=reason, user=user)
            existing.delete()
        principal_cache.clear()
        return None
    budget_check(amount=amount, period=period, on_exhausted=on_exhausted)
    budget = existing or ClientBudget(client=client)
    if existing is None or (budget.amount, budget.period, budget.on_exhausted) != (amount, period, on_exhausted):
        budget.amount, budget.period, budget.on_exhausted = amount, period, on_exhausted
        _history_context(budget, reason=reason, user=user)
        budget.save()  # one history row per change
    principal_cache.clear()
    return budget


def _history_context(budget: ClientBudget, *, reason: str, user: Any) -> None:
    """What the history row of the next save or delete of `budget` records besides the change."""
    if reason:
        budget._change_reason = reason  # type: ignore[attr-defined]
    if user is not None:
        budget._history_user = user  # type: ignore[attr-defined]


@transaction.atomic
def api_client_create(
    *,
    name: str,
    scopes: Iterable[str],
    rate: str = "",
    description: str = "",
    budget: str = "",
    on_budget_exhausted: str = BudgetExhausted.REFUSE,
) -> tuple[ApiClient, str]:
    """Register a client; returns it and its key (shown once). `budget`: e.g. "25/month" (none when blank)."""
    if rate:
        rate_check(rate)
    amount, period = budget_parse(budget) if budget.strip() else (None, BudgetPeriod.MONTH)
    if amount is not None:
        budget_check(amount=amount, period=period, on_exhausted=on_budget_exhausted)
    if not re.fullmatch(r"[-a-zA-Z0-9_]{1,64}", name):
        raise InvalidClient(f"name {name!r} must be 1-64 letters, digits, - or _", fields={"name": ["Use a slug."]})
    if ApiClient.objects.filter(name=name).exists():
        raise InvalidClient(f"a client named {name!r} exists", fields={"name": ["Already taken."]})
    key, prefix = key_generate()
    client = ApiClient.objects.create(
        name=name,
        description=description,
        key_prefix=prefix,
        key_hash=key_hash(key),
        scopes=scopes_clean(scopes),
        rate=rate.strip(),
    )
    if amount is not None:
        client_budget_set(client=client, amount=amount, period=period, on_exhausted=on_budget_exhausted)
    return client, key


@transaction.atomic
def api_client_rotate(*, client: ApiClient) -> str:
    """Give `client` a new key; the old one stops working (within API_KEY_CACHE_SECONDS elsewhere)."""
    key, prefix = key_generate()
    client.key_prefix, client.key_hash, client.rotated_at = prefix, key_hash(key), timezone.now()
    client.save(update_fields=["key_prefix", "key_hash", "rotated_at"])
    principal_cache.clear()
    return key


@transaction.atomic
def api_client_revoke(*, client: ApiClient) -> None:
    """Revoke `client`'s key: 401 from then on (within API_KEY_CACHE_SECONDS in other workers)."""
    client.is_active, client.revoked_at = False, timezone.now()
    client.save(update_fields=["is_active", "revoked_at"])
    principal_cache.clear()


@transaction.atomic
def api_client_update(
    *, client: ApiClient, scopes: Iterable[str], rate: str, description: str, is_active: bool
) -> None:
    """Change what a client may do (the admin's edit form)."""
    if rate:
        rate_check(rate)
    client.scopes, client.rate, client.description = scopes_clean(scopes), rate.strip(), description
    if client.is_active and not is_active:
        client.revoked_at = timezone.now()
    elif is_active:
        client.revoked_at = None
    client.is_active = is_active
    client.save()
    principal_cache.clear()


@transaction.atomic
def teacher_authorisation_save(*, authorisation: TeacherAuthorisation) -> TeacherAuthorisation:
    """Authorise `authorisation.client` for one teacher or one school (new or changed; history kept).

    Refused (InvalidClient naming the field) when it names both or neither, or repeats one the
    client already has; the database constraints are the last word under a race."""
    authorisation.school = school_normalise(authorisation.school)
    try:
        authorisation.full_clean()
        with transaction.atomic():
            authorisation.save()
    except ValidationError as exc:
        raise InvalidClient("; ".join(exc.messages), fields={k: list(v) for k, v in exc.message_dict.items()}) from exc
    except IntegrityError as exc:
        raise InvalidClient(
            "this client already has this authorisation, or it does not name exactly one teacher or school",
            fields={"__all__": ["Name one teacher or one school the client is not yet authorised for."]},
        ) from exc
    return authorisation


@transaction.atomic
def teacher_authorisation_grant(
    *, client: ApiClient, teacher: TeacherProfile | None = None, school: str = ""
) -> TeacherAuthorisation:
    """Let `client` act for `teacher` (a TeacherProfile) or for every teacher of `school`."""
    return teacher_authorisation_save(authorisation=TeacherAuthorisation(client=client, teacher=teacher, school=school))


@transaction.atomic
def teacher_authorisation_withdraw(*, authorisation: TeacherAuthorisation) -> None:
    """Withdraw an authorisation: the client's next override for those teachers is refused (history kept)."""
    authorisation.delete()
