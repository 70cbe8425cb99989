"""One client's outcome reports cannot deny a provider to the other clients (issue 12, finding 6).

The reviewer's attack: one outcome report with a huge `input_tokens` used up eu_west's only
compliant provider's tokens-per-minute for every client (`no_compliant_provider` for a minute).
Now a report is bounded (OUTCOME_MAX_TOKENS) and a client's tokens count against a provider only up
to its share (CLIENT_TOKEN_SHARE_PERCENT): past it, that provider is rate-limited for its own
dispatches only. On PostgreSQL and Redis, through the API, as the reviewer ran it.
"""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from api.testing import keyed_api
from audit.models import DispatchOutcome
from authoring.demo import demo_world_load
from providers.limits import client_token_share, provider_usage
from providers.models import ModelProvider

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
EU = {"subject": "mathematics", "grade_band": "elementary", "region": "eu_west"}


@pytest.fixture
def eu(require_redis):
    demo_world_load()
    return ModelProvider.objects.get(slug="local-eu-provider")  # eu_west's only compliant provider


def dispatch(api: APIClient) -> tuple[str, dict]:
    rid = str(uuid.uuid4())
    response = api.post(f"/dispatch?request_id={rid}", EU, format="json")
    assert response.status_code in (200, 422), response.content[:300]
    return rid, response.json()


def report(api: APIClient, rid: str, tokens: int):
    return api.post(
        f"/dispatch/{rid}/outcome", {"success": True, "latency_ms": 900, "input_tokens": tokens}, format="json"
    )


def test_a_clients_huge_report_leaves_eu_west_to_the_other_clients(eu, settings):
    attacker, _, _ = keyed_api("dispatch", "outcome")
    other, _, _ = keyed_api("dispatch", "outcome")
    rids = [dispatch(attacker)[0] for _ in range(3)]
    assert report(attacker, rids[0], 100_000_000).status_code == 400  # the reviewer's number: out of bounds
    for rid in rids:  # the most a report may carry, three times: far past eu's 80,000 per minute
        assert report(attacker, rid, settings.OUTCOME_MAX_TOKENS).status_code == 201
    share = client_token_share(tokens_per_minute=eu.tokens_per_minute)
    assert share == eu.tokens_per_minute // 2
    assert provider_usage(provider_id=str(eu.pk))["tokens"] == share  # charged only up to its share
    for _ in range(3):  # every other client is still served by eu_west's provider
        assert dispatch(other)[1]["provider_slug"] == "local-eu-provider"
    _, refused = dispatch(attacker)  # the attacker alone sees it rate-limited
    assert refused["error"]["code"] == "no_compliant_provider"
    reasons = {step.get("slug", step["name"]): step["reason"] for step in refused["explanation"]["passed_over"]}
    assert reasons["local-eu-provider"] == "rate_limited"


def test_clients_together_still_reach_the_providers_limit(eu):
    first, _, _ = keyed_api("dispatch", "outcome")
    second, _, _ = keyed_api("dispatch", "outcome")
    third, _, _ = keyed_api("dispatch", "outcome")
    share = client_token_share(tokens_per_minute=eu.tokens_per_minute)
    for api in (first, second):  # two clients at their share: the provider's whole minute
        assert report(api, dispatch(api)[0], share).status_code == 201
    assert provider_usage(provider_id=str(eu.pk))["tokens"] == eu.tokens_per_minute
    _, body = dispatch(third)
    assert body["error"]["code"] == "no_compliant_provider"  # the provider's own limit holds for all


def test_the_share_is_configurable(eu, settings):
    settings.CLIENT_TOKEN_SHARE_PERCENT = 100  # one trusted client may use the whole minute
    api, _, _ = keyed_api("dispatch", "outcome")
    other, _, _ = keyed_api("dispatch", "outcome")
    assert report(api, dispatch(api)[0], eu.tokens_per_minute).status_code == 201
    assert dispatch(other)[1]["error"]["code"] == "no_compliant_provider"
    assert DispatchOutcome.objects.get().input_tokens == eu.tokens_per_minute
