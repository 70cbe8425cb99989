"""The one mapping from the service's codes to plain words.

Refusal codes (`justification_too_short`), the reasons a provider or policy was passed over
(`not_in_allowed_list`), match levels (`subject_grade`) and the vocabulary's own codes
(`early_childhood`, `eu_west`, `language_arts`) read the same way in the admin, on the teacher
pages and in the API's refusal `title`. Codes stay the contract (the API's `code`, the audit
log's columns); these words are for people and may be reworded freely.

Stdlib + the vocabulary's choices only; the codes are repeated here as strings (the engine that
defines them sits higher and is pure), and `vocabulary/tests/test_wording.py` checks that every
code the engine defines has words.
"""

from __future__ import annotations

from decimal import Decimal

from vocabulary import Framework, GradeBand, Region, Subject

# Why a decision was refused: a sentence that stands alone (no trailing full stop).
REFUSALS: dict[str, str] = {
    "region_not_configured": "This region has no routing rule yet, so no provider may serve it",
    "no_matching_policy": "No policy covers this subject, grade band and region",
    "no_compliant_provider": "No provider in the policy's chain may serve this region",
    "override_not_allowed": "The policy for this class does not allow teacher overrides",
    "justification_too_short": "The justification is too short",
    "override_provider_unknown": "The provider asked for does not exist or is switched off",
    "override_provider_not_compliant": "The provider asked for may not serve this region",
    "teacher_unknown": "This teacher is not known to the service",
    "teacher_region_not_allowed": "This teacher does not teach in this region",
    "teacher_not_authorised": "This app may not act for this teacher",
    "budget_exhausted": "This app's spend budget is used up for the period",
}

# Why a provider (or a policy's chain) was passed over: completes "<provider> ...".
REASONS: dict[str, str] = {
    "provider_unknown": "does not exist",
    "provider_inactive": "is inactive",
    "blocked_in_region": "is blocked in this region",
    "not_in_allowed_list": "is not on the region's list of allowed providers",
    "not_hosted_in_region": "is not hosted in the region (data residency)",
    "encryption_required": "does not encrypt data as the region requires",
    "missing_compliance_framework": "lacks a compliance framework the region requires",
    "rate_limited": "is at its rate limit",
    "no_compliant_provider_in_chain": "has no provider in its chain that may serve this region",
    "not_cheapest": "is not the cheapest compliant provider (the app's budget is spent)",
    "unhealthy": "is cooling down after failures reported by apps (provider health)",
    "below_provider_minimum_age": "does not accept students this young (its terms' minimum age)",
    "no_agreement_in_force": "has no data privacy agreement in force for this region and age",
    "under_13_framework_missing": "lacks a framework the region requires for students under 13",
}

# How specific the policy that matched was.
LEVELS: dict[str, str] = {
    "exact": "subject + grade band + region",
    "subject_grade": "subject + grade band, any region",
    "subject": "subject only",
    "default": "default policy",
}

OUTCOMES: dict[str, str] = {"accepted": "Accepted", "refused": "Refused"}

_CHOICES: dict[str, str] = {
    **dict(Subject.choices),
    **dict(GradeBand.choices),
    **dict(Region.choices),
    **dict(Framework.choices),
}


def refusal_words(code: str | None) -> str:
    """A refusal code as a sentence; an unknown code as itself, made readable."""
    if not code:
        return ""
    return REFUSALS.get(code) or _readable(code)


def reason_words(code: str | None) -> str:
    """Why something was passed over, to follow its name ("EU Sovereign LLM is inactive")."""
    if not code:
        return ""
    return REASONS.get(code) or _readable(code).lower()


def level_words(level: str | None) -> str:
    return LEVELS.get(level or "", "")


def label(code: str | None) -> str:
    """Any code in plain words: a subject, grade band, region, framework, refusal, reason or outcome."""
    if not code:
        return ""
    for table in (_CHOICES, OUTCOMES, REFUSALS, LEVELS):
        if code in table:
            return table[code]
    if code in REASONS:
        return REASONS[code][0].upper() + REASONS[code][1:]
    return _readable(code)


def percent(rate: float | Decimal | None, *, digits: int = 0) -> str:
    """A rate in [0, 1] as a percentage ("57 %"); None as an em dash."""
    if rate is None:
        return "—"
    return f"{float(rate) * 100:.{digits}f} %"


def money(amount: float | Decimal | None, currency: str) -> str:
    """An amount with its currency code ("0.0300 USD"); None as an em dash."""
    if amount is None:
        return "—"
    value = Decimal(str(amount)).normalize()
    places = max(2, -int(value.as_tuple().exponent))
    return f"{value:.{places}f} {currency}"


def _readable(code: str) -> str:
    words = code.replace("_", " ").strip().lower()
    return words[:1].upper() + words[1:]
