"""GET /analytics: matches a brute-force recount of a generated log; filters are validated strictly."""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import Counter
from dataclasses import asdict

import pytest
from django.utils import timezone

from api.testing import keyed_api
from audit.models import LATENCY_BOUNDS_MS, DispatchLog, DispatchOutcome
from audit.rollups import rollup_fold
from audit.selectors import Window, dispatch_counts
from audit.services import OutcomeReport, latency_bucket, outcome_report
from audit.tests.factories import log_make
from policies.services import request_fingerprint
from policies.tests.factories import make_policy, make_provider

pytestmark = pytest.mark.django_db

REGIONS = ["us_east", "eu_west", "apac_singapore"]
SUBJECTS = ["mathematics", "science", "language_arts", "arts"]
GRADES = ["elementary", "middle", "high"]


@pytest.fixture
def generated_log():
    rng = random.Random(20261125)
    providers = [make_provider("alpha"), make_provider("beta"), make_provider("gamma")]
    policy = make_policy("P", providers[0])
    now = timezone.now()
    for i in range(360):
        age = dt.timedelta(seconds=0) if i % 12 == 0 else dt.timedelta(minutes=rng.randint(1, 45 * 24 * 60))
        accepted = rng.random() < 0.85
        provider = rng.choice(providers) if accepted else None
        fields = {
            "region": rng.choice(REGIONS),
            "subject": rng.choice(SUBJECTS),
            "grade_band": rng.choice(GRADES),
            "is_override": accepted and rng.random() < 0.15,
            "decision_us": rng.randint(50, 900),
        }
        if not accepted:
            fields["refusal_code"] = rng.choice(["no_compliant_provider", "region_not_configured"])
        log = log_make(provider=provider, policy=policy if accepted else None, created_at=now - age, **fields)
        if accepted and rng.random() < 0.7:
            report = OutcomeReport(
                success=rng.random() < 0.9,
                latency_ms=int(rng.expovariate(1 / 900)) % 600_000,
                input_tokens=rng.randint(0, 4000),
                output_tokens=rng.randint(0, 2000),
            )
            outcome_report(
                client_ref="", request_id=log.request_id, report=report, fingerprint=request_fingerprint(asdict(report))
            )
        if i == 200:
            rollup_fold()  # part folded, part live
    return providers


def brute_force(region: str | None, days: int) -> dict:
    first_day = timezone.now().astimezone(dt.UTC).date() - dt.timedelta(days=days - 1)
    logs = [
        log
        for log in DispatchLog.objects.all()
        if log.created_at.astimezone(dt.UTC).date() >= first_day and (region is None or log.region == region)
    ]
    ids = {log.pk for log in logs}
    outcomes = [o for o in DispatchOutcome.objects.all() if o.dispatch_log_id in ids]
    accepted = [log for log in logs if log.outcome == "accepted"]
    by_provider = Counter(str(log.provider_id) for log in accepted)
    providers = {}
    for pid in by_provider | Counter(str(o.provider_id) for o in outcomes):
        mine = [o for o in outcomes if str(o.provider_id) == pid]
        latencies = sorted(o.latency_ms for o in mine)
        p95 = latency_bucket(latencies[math.ceil(0.95 * len(latencies)) - 1]) if latencies else None
        providers[pid] = {
            "dispatches": by_provider[pid],
            "share": round(by_provider[pid] / len(accepted), 4),
            "outcomes_reported": len(mine),
            "success_rate": round(sum(o.success for o in mine) / len(mine), 4) if mine else None,
            "average_latency_ms": round(sum(latencies) / len(mine)) if mine else None,
            "p95_latency_ms": p95,
            "input_tokens": sum(o.input_tokens for o in mine),
            "output_tokens": sum(o.output_tokens for o in mine),
            "cost": round(float(sum(o.cost for o in mine)), 6),
        }
    return {
        "total_requests": len(logs),
        "accepted": len(accepted),
        "refused": len(logs) - len(accepted),
        "teacher_override_rate": round(sum(log.is_override for log in logs) / len(logs), 4) if logs else 0.0,
        "most_used_subjects": dict(Counter(log.subject for log in logs)),
        "most_used_grades": dict(Counter(log.grade_band for log in logs)),
        "outcomes_reported": len(outcomes),
        "success_rate": round(sum(o.success for o in outcomes) / len(outcomes), 4) if outcomes else None,
        "average_response_time_ms": round(sum(o.latency_ms for o in outcomes) / len(outcomes)) if outcomes else None,
        "total_cost": round(float(sum(o.cost for o in outcomes)), 6),
        "providers": providers,
    }


def test_analytics_matches_a_brute_force_recount(generated_log):
    for region in (None, "us_east", "eu_west"):
        for days in (1, 7, 30, 365):
            check_against_brute_force(region, days)


def check_against_brute_force(region: str | None, days: int) -> None:
    query = f"?days={days}" + (f"&region={region}" if region else "")
    response = keyed_api()[0].get("/analytics" + query)
    assert response.status_code == 200, response.content
    body = response.json()
    expected = brute_force(region, days)
    assert body["region"] == region and body["days"] == days
    for key, value in expected.items():
        if key == "providers":
            continue
        assert body[key] == value, key
    counts = list(body["most_used_subjects"].values())
    assert counts == sorted(counts, reverse=True)
    got = {
        p["provider_id"]: {k: p[k] for k in expected["providers"].get(p["provider_id"], p)} for p in body["providers"]
    }
    assert got == expected["providers"]
    assert all(p["p95_latency_ms"] in (*LATENCY_BOUNDS_MS, None) for p in body["providers"])


def test_seed_shape_is_present(generated_log):
    body = keyed_api()[0].get("/analytics?region=us_east&days=30").json()
    for key in (
        "total_requests",
        "success_rate",
        "teacher_override_rate",
        "most_used_subjects",
        "most_used_grades",
        "average_response_time_ms",
    ):
        assert key in body


def test_live_rows_above_the_watermark_count_the_same_as_folded_ones(generated_log):
    window = Window(None, 60)
    before = sorted((r["dimension"], r["value"], r["count"]) for r in dispatch_counts(window))
    rollup_fold()
    after = sorted((r["dimension"], r["value"], r["count"]) for r in dispatch_counts(window))
    assert before == after


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?days=0", "days"),
        ("?days=366", "days"),
        ("?days=abc", "days"),
        ("?days=", "days"),
        ("?region=mars", "region"),
        ("?region=", "region"),
        ("?days=7&regoin=us_east", "regoin"),
    ],
)
def test_bad_filters_are_400_naming_the_field(query, field):
    response = keyed_api()[0].get("/analytics" + query)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and field in error["fields"]


def test_openapi_declares_every_status_of_the_new_endpoints():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    outcome = schema["paths"]["/dispatch/{request_id}/outcome"]["post"]["responses"]
    assert {"200", "201", "400", "404", "409", "413", "415"} <= set(outcome)
    assert {"200", "400"} <= set(schema["paths"]["/analytics"]["get"]["responses"])
