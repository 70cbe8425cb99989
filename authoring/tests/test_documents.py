"""Policy as code: round trip, idempotence, all-or-nothing with the bad entry named, dry run."""

from __future__ import annotations

import copy
import io
import json

import pytest
import yaml
from django.core.management import CommandError, call_command

from authoring.demo import demo_world_load
from authoring.documents import DocumentInvalid, document_export, document_import
from policies.models import DispatchPolicy, RegionalRouting
from providers.models import ModelProvider

pytestmark = pytest.mark.django_db


def history_rows() -> int:
    return sum(model.history.count() for model in (ModelProvider, DispatchPolicy, RegionalRouting))


@pytest.fixture
def demo_document():
    demo_world_load()
    return document_export()


def test_export_follows_the_spec_shape(demo_document):
    policy = next(p for p in demo_document["policies"] if p["name"] == "Elementary Math - US East")
    assert policy == {
        "name": "Elementary Math - US East",
        "subject": "mathematics",
        "grade_band": "elementary",
        "region": "us_east",
        "primary_provider_id": "openai-gpt4",
        "fallback_provider_ids": ["anthropic-claude", "microsoft-copilot"],
        "template_ids": ["math-elementary-basic", "math-word-problems"],
        "moderation_threshold": 0.8,
        "allow_teacher_override": True,
        "priority": 100,
        "active": True,
    }
    eu = next(r for r in demo_document["regions"] if r["region"] == "eu_west")
    assert eu["allowed_providers"] == ["local-eu-provider"] and eu["blocked_providers"] == ["us-only-provider"]


def test_import_then_export_is_a_round_trip_into_an_empty_database(demo_document):
    DispatchPolicy.objects.all().delete()
    RegionalRouting.objects.all().delete()
    report = document_import(copy.deepcopy(demo_document), reason="promote")
    assert report.changes
    assert document_export() == demo_document


def test_importing_the_same_document_twice_changes_nothing_and_writes_no_history(demo_document):
    edited = copy.deepcopy(demo_document)
    edited["policies"][0]["priority"] = 42
    edited["providers"][0]["rate_limits"]["requests_per_minute"] = 99
    first = document_import(edited, reason="tune")
    assert len(first.changes) == 2
    rows = history_rows()
    second = document_import(copy.deepcopy(edited), reason="tune again")
    assert second.changes == [] and history_rows() == rows
    assert document_export() == edited


def test_one_bad_policy_changes_nothing_and_is_named(demo_document):
    edited = copy.deepcopy(demo_document)
    edited["providers"][0]["name"] = "Renamed"  # a good change that must not survive
    bad = {**edited["policies"][0], "name": "Science EU", "subject": "science", "grade_band": "high"}
    bad.update(region="eu_west", primary_provider_id="openai-gpt4", fallback_provider_ids=["anthropic-claude"])
    edited["policies"].append(bad)
    rows = history_rows()
    with pytest.raises(DocumentInvalid) as error:
        document_import(edited, reason="bad")
    assert any(
        line.startswith(f"policies[{len(edited['policies']) - 1}] (Science EU): fallback_provider_ids: No provider")
        for line in error.value.errors
    )
    assert document_export() == demo_document and history_rows() == rows


@pytest.mark.parametrize(
    ("section", "change", "expected"),
    [
        ("policies", {"moderation_threshold": 1.5}, "moderation_threshold: Must be between 0 and 1"),
        ("policies", {"fallback_provider_ids": ["google-gemini", "google-gemini"]}, "more than once"),
        ("policies", {"primary_provider_id": "nope"}, "unknown provider(s) nope"),
        ("policies", {"colour": "red"}, "colour: Unknown field"),
        ("policies", {"subject": "astrology"}, 'subject: "astrology" is not allowed'),
        ("regions", {"blocked_providers": ["local-eu-provider"]}, "both allowed and blocked"),
        ("providers", {"endpoint_url": "not a url"}, "endpoint_url"),
        ("providers", {"health": {"failure_rate_percent": 101}}, "health.failure_rate_percent must be null"),
        ("providers", {"health": {"cooldown_seconds": 0}}, "from 1 to 86400"),
        ("providers", {"health": {"failures_to_trip": "3"}}, "health.failures_to_trip must be null"),
        ("providers", {"health": {"failures_to_trip": True}}, "health.failures_to_trip must be null"),
        ("providers", {"health": {"trip_after": 3}}, "Unknown key(s) trip_after"),
        ("providers", {"health": 3}, "health: Must be a mapping"),
    ],
)
def test_each_bad_entry_is_refused_with_its_path(demo_document, section, change, expected):
    edited = copy.deepcopy(demo_document)
    index = next(i for i, e in enumerate(edited[section]) if section != "regions" or e["region"] == "eu_west")
    edited[section][index].update(change)
    with pytest.raises(DocumentInvalid) as error:
        document_import(edited)
    assert any(line.startswith(f"{section}[{index}]") and expected in line for line in error.value.errors), (
        error.value.errors
    )
    assert document_export() == demo_document


def test_commands_dry_run_then_apply(demo_document, tmp_path):
    edited = copy.deepcopy(demo_document)
    edited["policies"][0]["priority"] = 7
    path = tmp_path / "policies.yaml"
    path.write_text(yaml.safe_dump(edited))
    out = io.StringIO()
    call_command("import_policies", str(path), "--dry-run", stdout=out)
    assert "Would change: updated policy" in out.getvalue() and "Dry run" in out.getvalue()
    assert document_export() == demo_document
    call_command("import_policies", str(path), stdout=io.StringIO())
    out = io.StringIO()
    call_command("export_policies", "--format", "json", stdout=out)
    assert '"priority": 7' in out.getvalue()


def test_command_names_every_problem_and_exits_nonzero(demo_document, tmp_path):
    edited = copy.deepcopy(demo_document)
    edited["policies"][0]["moderation_threshold"] = 3
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(edited))
    with pytest.raises(CommandError, match=r"(?s)Nothing was imported.*policies\[0\]"):
        call_command("import_policies", str(path))


SPEC_EXAMPLE = """
providers:
  - slug: openai-gpt4
    name: OpenAI GPT-4
    endpoint_url: https://api.openai.com/v1/chat/completions
    hosting_regions: [us_east]
    compliance_frameworks: [FERPA, COPPA]
    encryption: true
    active: true
    rate_limits: {requests_per_minute: 60, tokens_per_minute: 100000}
    cost: {per_1k_input_tokens: 0.03, per_1k_output_tokens: 0.06}
templates:
  - {slug: math-elementary-basic, name: Elementary math, subject: mathematics,
     grade_band: elementary, body: "..."}
regions:
  - region: eu_west
    data_center: Ireland
    data_residency_required: true
    encryption_required: true
    audit_logging_required: true
    allowed_providers: [local-eu-provider]
    blocked_providers: [us-only-provider]
    compliance_frameworks: [GDPR, ISO27001]
policies:
  - name: Elementary Math - US East
    subject: mathematics
    grade_band: elementary
    region: us_east
    primary_provider_id: openai-gpt4
    fallback_provider_ids: [anthropic-claude, microsoft-copilot]
    template_ids: [math-elementary-basic, math-word-problems]
    moderation_threshold: 0.8
    allow_teacher_override: true
    priority: 100
"""


def test_the_spec_example_document_imports_into_the_demo_world(demo_document):
    report = document_import(yaml.safe_load(SPEC_EXAMPLE), reason="spec example")
    assert sorted(report.changes) == [
        "updated provider openai-gpt4 (compliance_frameworks)",
        "updated template math-elementary-basic (body)",
    ]
    assert "policy Default policy" in report.not_in_document
    assert document_import(yaml.safe_load(SPEC_EXAMPLE)).changes == []


HEALTH_OVERRIDES = {"failures_to_trip": 3, "failure_rate_percent": 40, "min_outcomes": 20, "cooldown_seconds": 90}


def health_of(slug: str) -> dict:
    p = ModelProvider.objects.get(slug=slug)
    return {key: getattr(p, f"health_{key}") for key in HEALTH_OVERRIDES}


def test_health_overrides_are_exported_null_by_default_and_round_trip(demo_document):
    assert all(entry["health"] == dict.fromkeys(HEALTH_OVERRIDES) for entry in demo_document["providers"]), (
        "the demo world has no overrides: every key is exported, null = the PROVIDER_HEALTH_* default"
    )
    edited = copy.deepcopy(demo_document)
    edited["providers"][0]["health"] = dict(HEALTH_OVERRIDES)
    slug = edited["providers"][0]["slug"]
    report = document_import(edited, reason="trip sooner")
    assert report.changes == [
        f"updated provider {slug} (health_failures_to_trip, health_failure_rate_percent, "
        "health_min_outcomes, health_cooldown_seconds)"
    ]
    assert health_of(slug) == HEALTH_OVERRIDES and document_export() == edited
    rows = history_rows()
    assert document_import(copy.deepcopy(edited)).changes == [] and history_rows() == rows
    edited["providers"][0]["health"]["cooldown_seconds"] = None  # null: back to the default
    document_import(edited, reason="default cooldown")
    assert health_of(slug) == {**HEALTH_OVERRIDES, "cooldown_seconds": None}


def test_a_document_written_before_health_overrides_still_imports(demo_document):
    slug = demo_document["providers"][0]["slug"]
    ModelProvider.objects.filter(slug=slug).update(health_failures_to_trip=4)
    old = copy.deepcopy(demo_document)
    for entry in old["providers"]:
        del entry["health"]
    old["providers"].append({**old["providers"][0], "slug": "new-provider", "name": "New provider"})
    report = document_import(old, reason="old document")
    assert report.changes == ["created provider new-provider"]
    assert health_of("new-provider") == dict.fromkeys(HEALTH_OVERRIDES)  # null = the default
    assert health_of(slug)["failures_to_trip"] == 4  # a key left out leaves the value as it is
    partial = copy.deepcopy(old)
    partial["providers"][0]["health"] = {"min_outcomes": 5}
    document_import(partial, reason="one key")
    assert health_of(slug) == {**dict.fromkeys(HEALTH_OVERRIDES), "failures_to_trip": 4, "min_outcomes": 5}
