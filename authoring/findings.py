""" "Is anything wrong?": the admin home's findings, each from one small function in one registry.

A finding is something an administrator should act on, with a link to where to act. Each check
is a function returning its findings (none when all is well), registered with `@finding`; the
admin index shows them all, problems first. To add one (unhealthy providers, spent budgets,
expiring agreements, ...), write a function in the module that owns the data and register it:

    @finding
    def budgets_spent() -> list[Finding]:
        return [Finding(PROBLEM, "Budget of demo-app spent", "...", url, "Raise the budget")]

A check that fails is shown as a finding of its own (never a 500 on the admin home).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

from audit.selectors import refusals_by_code
from audit.spend import client_spend_current
from clients.models import ClientBudget
from common.clock import service_today
from policies.selectors import coverage_map
from providers.agreements import AgreementStatus, agreement_status_filter
from providers.health.selectors import provider_health_list
from providers.models import Agreement
from vocabulary.wording import label, refusal_words

logger = logging.getLogger("dispatch.findings")

PROBLEM = "problem"
WARNING = "warning"

# A refusal spike: at least this many refusals of one code in the last hour, and at least
# SPIKE_FACTOR times that code's hourly average over the 24 hours before it.
SPIKE_MIN = 10
SPIKE_FACTOR = 3
PERIOD_WORDS = {"day": "daily", "month": "monthly"}


@dataclass(frozen=True)
class Finding:
    severity: str  # PROBLEM or WARNING
    title: str
    detail: str
    url: str
    action: str  # the link's text: where to act


Check = Callable[[], list[Finding]]
CHECKS: list[Check] = []


def finding(check: Check) -> Check:
    """Register a check for the admin home."""
    CHECKS.append(check)
    return check


def findings() -> list[Finding]:
    """Every registered check's findings, problems first."""
    found: list[Finding] = []
    for check in CHECKS:
        try:
            found += check()
        except Exception:  # a broken check must not hide the others, nor the admin
            logger.exception("admin finding %s failed", check.__name__)
            found.append(Finding(WARNING, f"Check {check.__name__} failed", "See the server log.", "", ""))
    return sorted(found, key=lambda f: f.severity != PROBLEM)


@finding
def regions_refusing_everything() -> list[Finding]:
    coverage = coverage_map()
    unconfigured = coverage.unconfigured_regions
    found = [
        Finding(
            PROBLEM,
            f"{label(region)} refuses every request",
            "It has a routing rule, but no context there has a compliant provider.",
            reverse("admin:coverage") + "?" + urlencode({"region": region}),
            "See its coverage map",
        )
        for region in coverage.refusing_regions
        if region not in unconfigured
    ]
    if unconfigured:
        names = ", ".join(label(region) for region in unconfigured)
        found.append(
            Finding(
                WARNING,
                f"{len(unconfigured)} region{'s' if len(unconfigured) != 1 else ''} refuse every request: {names}",
                "No regional routing rule, so no provider may serve them (fail closed). Fine if you do not serve them.",
                reverse("admin:policies_regionalrouting_add"),
                "Add a routing rule",
            )
        )
    return found


@finding
def coverage_gaps() -> list[Finding]:
    coverage = coverage_map()
    refusing = set(coverage.refusing_regions)
    return [
        Finding(
            PROBLEM,
            group.sentence,
            "Requests for these contexts are refused.",
            reverse("admin:coverage") + "?" + urlencode({"region": group.region}),
            "See the coverage map",
        )
        for group in coverage.gap_groups
        if group.region not in refusing or group.refusal_code == "no_compliant_provider"
    ]


@finding
def refusal_spikes() -> list[Finding]:
    now = timezone.now()
    hour_ago = now - dt.timedelta(hours=1)
    last_hour = refusals_by_code(since=hour_ago, until=now)
    before = refusals_by_code(since=hour_ago - dt.timedelta(hours=24), until=hour_ago)
    found = []
    for code, count in sorted(last_hour.items(), key=lambda kv: -kv[1]):
        usual = before.get(code, 0) / 24
        if count >= SPIKE_MIN and count >= SPIKE_FACTOR * usual:
            query = urlencode(
                {"outcome": "refused", "refusal_code": code, "created_at__gte": f"{hour_ago:%Y-%m-%d %H:%M:%S}"}
            )
            found.append(
                Finding(
                    PROBLEM,
                    f"{count} refusals in the last hour: {refusal_words(code)}",
                    (f"About {usual:.1f} an hour in the 24 hours before" if usual else "None in the 24 hours before")
                    + f" (code {code}).",
                    reverse("admin:audit_dispatchlog_changelist") + "?" + query,
                    "See these requests",
                )
            )
    return found


@finding
def providers_unhealthy() -> list[Finding]:
    """Providers cooling down or being probed (provider health): their traffic goes to fallbacks."""
    rows, _shared = provider_health_list()
    found = []
    for row in rows:
        if row.state == "healthy":
            continue
        probe = f" Next probe at {row.next_probe_at:%Y-%m-%d %H:%M:%S} UTC." if row.next_probe_at else ""
        found.append(
            Finding(
                WARNING,
                f"{row.provider_name} is {'cooling down' if row.state == 'cooling_down' else 'being probed'}",
                f"Apps reported {row.failures} provider-side failures; its requests go to the fallbacks.{probe}",
                reverse("admin:provider-health"),
                "See provider health",
            )
        )
    return found


@finding
def budgets_spent() -> list[Finding]:
    """API clients that have spent 80 % or more of their budget in the current period."""
    now = timezone.now()
    found = []
    for budget in ClientBudget.objects.select_related("client").order_by("client__name"):
        spent = client_spend_current(client_ref=budget.client.name, period=budget.period, at=now)
        share = spent / budget.amount * 100
        if share < 80:
            continue
        exhausted = share >= 100
        then = "its dispatches are refused" if budget.on_exhausted == "refuse" else "it is served the cheapest provider"
        found.append(
            Finding(
                PROBLEM if exhausted else WARNING,
                f"{budget.client.name} has spent {share:.0f} % of its "
                f"{PERIOD_WORDS.get(budget.period, budget.period)} budget",
                f"{spent:.2f} of {budget.amount:.2f}" + (f"; {then} until the period ends." if exhausted else "."),
                reverse("admin:clients_apiclient_change", args=[budget.client.pk]),
                "See its budget",
            )
        )
    return found


@finding
def agreements_expiring() -> list[Finding]:
    """Agreements that end within EXPIRING_WITHIN_DAYS (the calendar below says what each would cost)."""
    today = service_today()
    expiring = Agreement.objects.filter(agreement_status_filter(AgreementStatus.EXPIRING, today=today))
    found = []
    for agreement in expiring.select_related("provider").order_by("expires_on", "reference"):
        assert agreement.expires_on is not None  # an expiring agreement has an end
        days = (agreement.expires_on - today).days
        found.append(
            Finding(
                WARNING,
                f"{agreement.reference} ends {'today' if days == 0 else f'in {days} day' + ('s' if days != 1 else '')}",
                f"{agreement.provider.name} stops serving where it needs this agreement after "
                f"{agreement.expires_on:%Y-%m-%d} (UTC).",
                reverse("admin:providers_agreement_change", args=[agreement.pk]),
                "Renew",
            )
        )
    return found
