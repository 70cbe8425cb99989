"""Issue 16's must-show: an agreement ending today serves until the end of the UTC day and not after,
on every worker, with no authoring change.

Two gunicorn workers on PostgreSQL + Redis run with their clock shifted (SERVICE_CLOCK_OFFSET_SECONDS,
test-only) so that a UTC midnight falls LEAD seconds after the test starts them, instead of waiting
for a real one. In the demo world us_east requires an agreement and OpenAI's is set to end today (on
the service's clock): just before midnight both workers dispatch elementary maths in us_east to
openai-gpt4 relying on it; just after, both dispatch to the fallback, anthropic-claude, relying on
Anthropic's agreement, while the stamp has not moved. The wait is bounded by the margin stated here:
one probe starts PROBE seconds before midnight, the other at midnight.
"""

from __future__ import annotations

import datetime
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from authoring import services
from authoring.demo import DEMO_CLIENT_KEY, demo_client_ensure, demo_world_load
from dispatch_site.tests.servers import request as call
from policies.snapshot.stamp import stamp_token
from providers.models import Agreement

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
LEAD = 45.0  # seconds from the offset's choice to the service's midnight: gunicorn starts well within it
PROBE = 3.0  # the probe before midnight starts this many seconds before it
CONTEXT = {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}


def _midnight_offset() -> tuple[float, float]:
    """(offset seconds, the service's midnight as epoch seconds): midnight comes LEAD s from now."""
    real_now = time.time()
    tomorrow = datetime.datetime.fromtimestamp(real_now, tz=datetime.UTC).date() + datetime.timedelta(days=1)
    midnight = datetime.datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=datetime.UTC).timestamp()
    return midnight - (real_now + LEAD), midnight


@pytest.fixture
def shifted_workers(request, monkeypatch, settings):
    offset, midnight = _midnight_offset()
    settings.SERVICE_CLOCK_OFFSET_SECONDS = offset  # this process (the demo's dates) and...
    monkeypatch.setenv("SERVICE_CLOCK_OFFSET_SECONDS", repr(offset))  # ...the workers share one clock
    demo_world_load()
    demo_client_ensure()
    openai = Agreement.objects.get(reference="NDPA 2026 — OpenAI")
    openai.expires_on = datetime.datetime.fromtimestamp(midnight - 1, tz=datetime.UTC).date()  # its last day: today
    services.authored_save(instance=openai, reason="ends today")
    base, log_path = request.getfixturevalue("two_workers")
    return base, log_path, offset, midnight, openai.expires_on


def _pids(log_text: str) -> set[str]:
    return set(re.findall(r"served-by=<?(\d+)>? \d+ /dispatch$", log_text, re.MULTILINE))


def _both_workers(base: str, log_path) -> list[tuple[int, dict]]:
    """Dispatches in parallel until both workers have answered one (a batch may land on one)."""
    start = len(log_path.read_text())
    answers: list[tuple[int, dict]] = []
    for _ in range(10):
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers += pool.map(lambda _: call(f"{base}/dispatch", DEMO_CLIENT_KEY, CONTEXT), range(4))
        if len(_pids(log_path.read_text()[start:])) == 2:
            return answers
    raise AssertionError(f"one worker answered every dispatch: {log_path.read_text()[-2000:]}")


def _sleep_until(service_moment: float, offset: float) -> None:
    time.sleep(max(0.0, service_moment - (time.time() + offset)))


def test_an_agreement_ending_today_serves_until_midnight_utc_and_not_after(shifted_workers):
    base, log_path, offset, midnight, last_day = shifted_workers
    version = stamp_token().version
    assert time.time() + offset < midnight - PROBE, "gunicorn took longer than LEAD to start"

    _sleep_until(midnight - PROBE, offset)
    before = _both_workers(base, log_path)
    assert time.time() + offset < midnight, "the probe before midnight ran past it (a very slow machine)"
    assert {(status, body.get("provider_slug")) for status, body in before} == {(200, "openai-gpt4")}
    assert {body["agreement"]["reference"] for _, body in before} == {"NDPA 2026 — OpenAI"}
    assert {body["agreement"]["expires_on"] for _, body in before} == {last_day.isoformat()}

    _sleep_until(midnight, offset)
    after = _both_workers(base, log_path)
    assert time.time() + offset < midnight + 10  # asked right after midnight (10 s: a busy machine)
    assert {(status, body.get("provider_slug")) for status, body in after} == {(200, "anthropic-claude")}
    assert {body["agreement"]["reference"] for _, body in after} == {"NDPA 2026 — Anthropic"}
    passed = [step for step in after[0][1]["explanation"]["passed_over"] if step["name"] == "openai-gpt4"]
    assert passed and passed[0]["reason"] == "below_provider_minimum_age"  # 13+ by its terms; nothing lowers it now
    assert stamp_token().version == version  # no authoring change: the date alone moved the answer
