"""Replay impact: the counts a replay predicts are what dispatching the same requests again does.

Real dispatches (the one writer, `policies.services.dispatch`, audit rows and all) in the demo
world; the replay of a candidate document; the document applied with `import_policies`; the same
requests dispatched again. Per request, the category of (first decision, second decision) is
counted and must equal the replay's counts, region by region.
"""

from __future__ import annotations

import copy
import io
import json
import uuid
from collections import Counter

import pytest
from django.core.management import call_command

from authoring.demo import demo_world_load
from authoring.documents import document_candidate, document_export, document_import
from policies.engine import DispatchContext, OverrideRequest
from policies.replay import CATEGORIES, Stored, replay_category, replay_impact
from policies.services import DispatchResult, dispatch

pytestmark = pytest.mark.django_db

# (subject, grade band, region, override provider or None, justification, teacher known)
REQUESTS = [
    ("mathematics", "elementary", "us_east", None, "", True),  # openai -> anthropic: provider_changed
    ("mathematics", "elementary", "us_east", None, "", True),
    ("mathematics", "high", "us_east", None, "", True),  # anthropic both times: unchanged
    ("science", "high", "us_east", None, "", True),  # default via openai -> nothing: newly_refused
    ("arts", "middle", "us_east", None, "", True),
    ("science", "middle", "us_west", None, "", True),  # gemini via default -> gemini via Science: policy_changed
    ("science", "high", "us_west", None, "", True),
    ("arts", "high", "us_west", None, "", True),  # gemini via default both times: unchanged
    ("science", "high", "ca_central", None, "", True),  # no rule -> a rule: newly_accepted
    ("arts", "high", "ca_central", None, "", True),
    ("arts", "high", "sa_east", None, "", True),  # no rule both times: unchanged (refused twice)
    ("mathematics", "high", "eu_west", None, "", True),  # local-eu both times: unchanged
    # Overrides: the default policy allows them in the candidate.
    ("arts", "high", "us_west", "aws-bedrock", "the class needs the longer context window", True),  # newly_accepted
    ("arts", "high", "us_west", "aws-bedrock", "too short", True),  # refused both times: unchanged
    ("arts", "high", "us_west", "aws-bedrock", "an unknown teacher asks for this one", False),  # who: unchanged
    ("mathematics", "elementary", "us_east", "microsoft-copilot", "the class uses copilot all year", True),
]


def candidate_document() -> dict:
    document = document_export()
    east = next(r for r in document["regions"] if r["region"] == "us_east")
    east["allowed_providers"].remove("openai-gpt4")
    east["blocked_providers"].append("openai-gpt4")
    document["regions"].append(
        {
            "region": "ca_central",
            "data_center": "Montreal",
            "data_residency_required": False,
            "encryption_required": True,
            "audit_logging_required": True,
            "allowed_providers": ["openai-gpt4"],
            "blocked_providers": [],
            "compliance_frameworks": [],
        }
    )
    default = next(p for p in document["policies"] if p["name"] == "Default policy")
    default["allow_teacher_override"] = True
    science = {**copy.deepcopy(default), "name": "Science - any grade", "subject": "science", "priority": 10}
    science.update(primary_provider_id="google-gemini", fallback_provider_ids=[], allow_teacher_override=False)
    document["policies"].append(science)
    return document


def dispatch_all() -> list[DispatchResult]:
    results = []
    for subject, grade, region, provider, justification, known in REQUESTS:
        override = (
            OverrideRequest(provider_id=provider, justification=justification, teacher_id="t-1", teacher_known=known)
            if provider
            else None
        )
        results.append(
            dispatch(
                context=DispatchContext(subject, grade, region),
                override=override,
                request_id=uuid.uuid4(),
                fingerprint="replay-test",
            )
        )
    return results


def stored(result: DispatchResult) -> Stored:
    decision = result.decision
    assert decision is not None
    return Stored(
        decision.accepted,
        decision.provider.id if decision.accepted and decision.provider else "",
        decision.policy.id if decision.accepted and decision.policy else "",
    )


def test_the_replay_counts_what_applying_the_document_does():
    demo_world_load()
    before = dispatch_all()
    document = candidate_document()
    candidate, report = document_candidate(copy.deepcopy(document))
    assert report.changes  # and nothing was written:
    assert document_export() != document
    impact = replay_impact(candidate, days=7)

    document_import(copy.deepcopy(document), reason="the candidate, applied")
    after = dispatch_all()
    happened: Counter[str] = Counter()
    by_region: dict[str, Counter] = {}
    for request, first, second in zip(REQUESTS, before, after, strict=True):
        assert second.decision is not None
        category = replay_category(stored(first), second.decision)
        happened[category] += 1
        by_region.setdefault(request[2], Counter())[category] += 1

    assert impact.requests == len(REQUESTS)
    assert {c: impact.counts[c] for c in CATEGORIES} == {c: happened[c] for c in CATEGORIES}
    assert {r: {c: n for c, n in counts.items() if n} for r, counts in impact.by_region.items()} == {
        r: dict(counts) for r, counts in by_region.items()
    }
    # Every category occurs, so each rule of the classification is exercised.
    assert all(happened[c] for c in CATEGORIES), happened
    # The samples are real request ids of their category.
    first_ids = {r.request_id for r in before}
    assert all(set(impact.samples[c]) <= first_ids and impact.samples[c] for c in CATEGORIES)
    # 16 requests, fewer distinct contexts: each resolved once.
    assert impact.contexts < len(REQUESTS)


def test_the_command_prints_the_issue_json_keys(tmp_path):
    demo_world_load()
    dispatch_all()
    path = tmp_path / "candidate.json"
    path.write_text(json.dumps(candidate_document()))
    out = io.StringIO()
    call_command("replay_impact", str(path), "--days", "3", "--json", stdout=out)
    printed = json.loads(out.getvalue())
    assert list(printed) == [
        "requests",
        "contexts",
        "unchanged",
        "provider_changed",
        "policy_changed",
        "newly_refused",
        "newly_accepted",
        "by_region",
        "samples",
    ]
    assert printed["requests"] == len(REQUESTS)
    assert set(printed["samples"]) == set(CATEGORIES)
    text = io.StringIO()
    call_command("replay_impact", str(path), stdout=text)
    assert "newly_refused: 2" in text.getvalue()


def test_an_unchanged_world_replays_as_unchanged():
    demo_world_load()
    dispatch_all()
    candidate, report = document_candidate(document_export())
    assert report.changes == []
    impact = replay_impact(candidate)
    assert impact.counts["unchanged"] == len(REQUESTS) and impact.changed == 0
