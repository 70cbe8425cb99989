"""Template filters over `vocabulary.wording`: `{% load wording %}` then `code|plain`, `code|refusal`,
`code|reason`, `code|level`, `rate|percent`, `amount|money`."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.conf import settings

from vocabulary import wording

register = template.Library()


@register.filter
def plain(code: str | None) -> str:
    return wording.label(code)


@register.filter
def refusal(code: str | None) -> str:
    return wording.refusal_words(code)


@register.filter
def reason(code: str | None) -> str:
    return wording.reason_words(code)


@register.filter
def percent(rate: float | Decimal | None) -> str:
    return wording.percent(rate)


@register.filter
def money(amount: float | Decimal | None) -> str:
    return wording.money(amount, settings.COST_CURRENCY)


@register.filter
def level(code: str | None) -> str:
    return wording.level_words(code)
