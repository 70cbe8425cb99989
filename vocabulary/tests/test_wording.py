"""The one code -> words mapping covers every code the engine can emit, and formats numbers."""

from __future__ import annotations

from decimal import Decimal

from policies.engine import compliance, types
from vocabulary import wording


def _codes(module: object, prefix: str) -> set[str]:
    return {value for name, value in vars(module).items() if name.startswith(prefix) and isinstance(value, str)}


def test_every_refusal_code_has_words() -> None:
    assert _codes(types, "REFUSAL_") <= set(wording.REFUSALS)


def test_every_passed_over_reason_has_words() -> None:
    assert _codes(compliance, "REASON_") | _codes(types, "REASON_") <= set(wording.REASONS)


def test_labels_read_as_words() -> None:
    assert wording.label("early_childhood") == "Early childhood (Pre-K to K)"
    assert wording.label("EARLY_CHILDHOOD") == "Early childhood"
    assert wording.label("eu_west") == "EU West"
    assert wording.label("not_in_allowed_list") == "Is not on the region's list of allowed providers"
    assert wording.refusal_words("justification_too_short") == "The justification is too short"
    assert wording.reason_words("provider_inactive") == "is inactive"
    assert wording.label("something_new") == "Something new"
    assert wording.label(None) == ""


def test_numbers() -> None:
    assert wording.percent(0.571) == "57 %"
    assert wording.percent(None) == "—"
    assert wording.money(Decimal("0.030000"), "USD") == "0.03 USD"
    assert wording.money(0.00125, "EUR") == "0.00125 EUR"
    assert wording.money(3, "USD") == "3.00 USD"
