"""Limits shared by every worker: two real gunicorn workers against PostgreSQL and Redis.

A client limited to N per minute gets exactly N through, whichever worker serves each request,
and a provider at its requests-per-minute limit is passed over to its fallback.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from authoring.demo import demo_world_load
from clients.services import api_client_create
from dispatch_site.tests.servers import request, served_by
from providers.models import ModelProvider

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
BASIC = {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}


def test_a_client_limit_of_n_lets_exactly_n_through_across_two_workers(two_workers):
    base, log_path = two_workers
    demo_world_load()
    _, key = api_client_create(name="limited-app", scopes=["read"], rate="7/min")
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: request(base + "/providers?region=us_east", key)[0], range(30)))
    assert statuses.count(200) == 7, statuses
    assert statuses.count(429) == 23, statuses
    assert len(served_by(log_path, "/providers")) == 2, "both workers must have served requests"


def test_a_provider_at_its_rpm_is_passed_over_to_its_fallback_across_two_workers(two_workers):
    base, log_path = two_workers
    demo_world_load()
    openai = ModelProvider.objects.get(slug="openai-gpt4")
    openai.requests_per_minute = 4
    openai.save()  # bumps the snapshot stamp, as an admin edit does
    _, key = api_client_create(name="busy-app", scopes=["dispatch"], rate="1000/min")
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: request(base + "/dispatch", key, BASIC), range(12)))
    assert {status for status, _ in results} == {200}
    slugs = [body["provider_slug"] for _, body in results]
    assert slugs.count("openai-gpt4") == 4 and slugs.count("anthropic-claude") == 8, slugs
    for _, body in results:
        if body["provider_slug"] == "anthropic-claude":
            assert {s.get("slug", s["name"]): s["reason"] for s in body["explanation"]["passed_over"]} == {
                "openai-gpt4": "rate_limited"
            }
    assert len(served_by(log_path, "/dispatch")) == 2, log_path.read_text()
