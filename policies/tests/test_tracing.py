"""OpenTelemetry (issue 18): off by default; with a tracer, one `dispatch` span per dispatch with
the decision's attributes (GenAI conventions for the chosen provider, `mds.*` for the rest) and
never a key, a justification or a teacher's id. Real SDK, in-memory exporter, through the API."""

from __future__ import annotations

import uuid

import pytest
from django.test import override_settings
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from api.testing import keyed_api
from authoring.demo import DEMO_TEACHER_ID, demo_teacher_load, demo_world_load
from common import tracing

pytestmark = pytest.mark.django_db
BASIC = {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}
JUSTIFICATION = "Student needs a model that explains fractions visually"


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.tracing_use(provider)
    yield exporter
    tracing.tracing_reset()


@pytest.fixture
def api():
    demo_world_load()
    demo_teacher_load()
    return keyed_api(teachers=[DEMO_TEACHER_ID])


def test_off_by_default_and_on_with_an_otlp_endpoint():
    tracing.tracing_reset()
    assert tracing.tracer() is None  # no OTEL_EXPORTER_OTLP_ENDPOINT in the test settings
    tracing.tracing_reset()
    with override_settings(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9/"):
        assert tracing.tracer() is not None  # built, exporting over OTLP/HTTP (nothing sent yet)
    tracing.tracing_reset()


def test_an_accepted_dispatch_is_one_span_with_its_decision(spans, api):
    client_api, client, _ = api
    request_id = str(uuid.uuid4())
    assert client_api.post(f"/dispatch?request_id={request_id}", BASIC, format="json").status_code == 200
    (span,) = spans.get_finished_spans()
    assert span.name == "dispatch"
    attributes = dict(span.attributes or {})
    assert attributes == {
        "mds.subject": "mathematics",
        "mds.grade_band": "elementary",
        "mds.region": "us_east",
        "mds.client": client.name,
        "mds.teacher_override": False,
        "mds.degraded": False,
        "mds.request_id": request_id,
        "mds.status": 200,
        "mds.outcome": "accepted",
        "mds.replayed": False,
        "mds.snapshot_version": attributes["mds.snapshot_version"],
        "mds.passed_over": 0,
        "mds.fallback_used": False,
        "mds.level": "exact",
        "mds.policy.id": attributes["mds.policy.id"],
        "mds.policy.name": "Elementary Math - US East",
        "gen_ai.provider.name": "openai-gpt4",
        "gen_ai.system": "openai-gpt4",
        "gen_ai.request.model": "OpenAI GPT-4",
        "mds.provider.id": attributes["mds.provider.id"],
        "mds.provider.slug": "openai-gpt4",
    }
    assert span.status.status_code is StatusCode.UNSET

    # The replay is a span too, saying so, with the stored provider.
    assert client_api.post(f"/dispatch?request_id={request_id}", BASIC, format="json").status_code == 200
    replay = spans.get_finished_spans()[-1].attributes or {}
    assert replay["mds.replayed"] is True and replay["mds.provider.slug"] == "openai-gpt4"


def test_a_refusal_says_why_and_an_override_leaks_no_justification(spans, api):
    client_api, _, key = api
    refused = {**BASIC, "region": "uk_south"}
    assert client_api.post("/dispatch", refused, format="json").status_code == 422
    override = {
        **BASIC,
        "teacher_override": True,
        "override_provider_id": "anthropic-claude",
        "override_reason": JUSTIFICATION,
        "teacher_id": DEMO_TEACHER_ID,
    }
    assert client_api.post("/dispatch", override, format="json").status_code == 200
    first, second = spans.get_finished_spans()
    assert first.attributes is not None and second.attributes is not None
    assert first.attributes["mds.outcome"] == "refused"
    assert first.attributes["mds.refusal_code"] == "region_not_configured"
    assert "mds.provider.slug" not in first.attributes
    assert second.attributes["mds.teacher_override"] is True
    assert second.attributes["gen_ai.provider.name"] == "anthropic-claude"
    values = " ".join(str(v) for span in (first, second) for v in (span.attributes or {}).values())
    for secret in (key, JUSTIFICATION, "fractions", DEMO_TEACHER_ID):
        assert secret not in values


def test_an_error_answer_is_the_spans_error_with_its_code(spans, api):
    client_api, _, _ = api
    request_id = str(uuid.uuid4())
    assert client_api.post(f"/dispatch?request_id={request_id}", BASIC, format="json").status_code == 200
    other = {**BASIC, "grade_band": "middle"}
    assert client_api.post(f"/dispatch?request_id={request_id}", other, format="json").status_code == 422
    span = spans.get_finished_spans()[-1]
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None and span.attributes["mds.refusal_code"] == "idempotency_conflict"


def test_no_span_when_off(spans, api):
    client_api, _, _ = api
    tracing.tracing_use(None)  # switched off: the exporter above hears nothing more
    assert tracing.tracer() is None
    assert client_api.post("/dispatch", BASIC, format="json").status_code == 200
    assert spans.get_finished_spans() == ()
