"""GET /coverage: the coverage map as JSON for monitoring, strict about its query."""

from __future__ import annotations

import pytest

from authoring.demo import demo_world_load
from vocabulary import GradeBand, Subject

pytestmark = pytest.mark.django_db
PER_REGION = len(Subject.values) * len(GradeBand.values)


@pytest.fixture
def client(keyed_api):
    """A client app with an API key (the endpoint needs the `read` scope)."""
    return keyed_api


def test_all_configured_regions_with_gaps_counted(client):
    demo_world_load()
    body = client.get("/coverage").json()
    assert body["regions"] == ["us_east", "us_west", "eu_west", "apac_singapore", "africa_south"]
    assert body["contexts"] == 5 * PER_REGION == len(body["cells"])
    assert "uk_south" in body["unconfigured_regions"]
    cell = next(
        c
        for c in body["cells"]
        if (c["subject"], c["grade_band"], c["region"]) == ("mathematics", "elementary", "us_east")
    )
    assert (cell["covered"], cell["provider_slug"], cell["level"], cell["policy_name"]) == (
        True,
        "openai-gpt4",
        "exact",
        "Elementary Math - US East",
    )
    assert body["gaps"] == sum(1 for c in body["cells"] if not c["covered"])


def test_gap_is_reported_with_its_reason(client):
    from policies.models import RegionalRouting
    from providers.models import ModelProvider

    demo_world_load()
    RegionalRouting.objects.get(region="africa_south").blocked_providers.add(
        ModelProvider.objects.get(slug="africa-local-provider")
    )
    body = client.get("/coverage", {"region": "africa_south"}).json()
    assert body["regions"] == ["africa_south"] and body["gaps"] == PER_REGION
    assert all(c["refusal_code"] == "no_compliant_provider" and not c["covered"] for c in body["cells"])


def test_unconfigured_region_is_all_gaps(client):
    demo_world_load()
    body = client.get("/coverage", {"region": "uk_south"}).json()
    assert body["gaps"] == PER_REGION
    assert {c["refusal_code"] for c in body["cells"]} == {"region_not_configured"}


@pytest.mark.parametrize("query", [{"region": "mars"}, {"regoin": "us_east"}, {"region": ""}])
def test_bad_query_is_400_naming_the_field(client, query):
    response = client.get("/coverage", query)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and set(error["fields"]) == set(query)


def test_declared_in_the_schema(client):
    import yaml

    schema = yaml.safe_load(client.get("/schema").content)
    operation = schema["paths"]["/coverage"]["get"]
    assert operation["operationId"] == "coverage"
    # access control adds 401/403/429; the HTTP server's 414 is declared on every operation
    assert set(operation["responses"]) == {"200", "400", "401", "403", "414", "429"}
