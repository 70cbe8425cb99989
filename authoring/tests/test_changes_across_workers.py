"""A scheduled change request goes live at its time, published by the running service (two gunicorn
workers each running the publication job), exactly once."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.utils import timezone

from authoring.changes import change_propose, change_review, history_reason
from authoring.demo import demo_world_load
from authoring.documents import provider_entry
from authoring.models import ChangeRequest, ChangeState
from dispatch_site.tests.servers import gunicorn_workers
from providers.models import ModelProvider

INTERVAL = 1.0  # CHANGE_PUBLISH_INTERVAL of the workers under test
MARGIN = 15.0  # seconds: a busy shared machine, two workers booting their job threads


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_scheduled_change_is_published_once_across_two_workers(
    require_postgres, require_redis, settings, tmp_path, django_user_model
):
    demo_world_load()
    perm = Permission.objects.get(codename="review_changerequest")
    alice = django_user_model.objects.create_user("alice", password="x", is_staff=True)
    bob = django_user_model.objects.create_user("bob", password="x", is_staff=True)
    bob.user_permissions.add(perm)
    bob = django_user_model.objects.get(pk=bob.pk)
    entry = provider_entry(ModelProvider.objects.get(slug="openai-gpt4"))
    entry["rate_limits"]["requests_per_minute"] = 77
    log_path = tmp_path / "gunicorn.log"
    env = {"CHANGE_PUBLISH_INTERVAL": str(INTERVAL), "BACKGROUND_JOBS": "true"}
    with gunicorn_workers(database=connection.settings_dict, redis_url=settings.REDIS_URL, log_path=log_path, env=env):
        effective_at = timezone.now() + dt.timedelta(seconds=4)
        change = change_propose(
            document={"providers": [entry]}, reason="exam week limits", author=alice, effective_at=effective_at
        )
        change = change_review(change=change, reviewer=bob, approve=True, reason="ok for exam week")
        assert change.state == ChangeState.APPROVED  # not yet: its time has not come
        assert ModelProvider.objects.get(slug="openai-gpt4").requests_per_minute == 60
        deadline = effective_at + dt.timedelta(seconds=INTERVAL * 1.1 + MARGIN)
        while timezone.now() < deadline:
            change.refresh_from_db()
            if change.state != ChangeState.APPROVED:
                break
            time.sleep(0.2)
        time.sleep(INTERVAL * 3)  # both workers pass again: a second publication would show now
        workers = set(re.findall(r"background jobs started in pid (\d+)", log_path.read_text()))
    change.refresh_from_db()
    assert change.state == ChangeState.PUBLISHED, (change.publication_result, log_path.read_text()[-3000:])
    assert change.published_at is not None and change.published_at >= effective_at
    assert len(workers) == 2
    assert ModelProvider.objects.get(slug="openai-gpt4").requests_per_minute == 77
    rows = ModelProvider.history.filter(slug="openai-gpt4", history_change_reason=history_reason(change))
    assert rows.count() == 1 and rows.get().history_user_id == bob.pk
    assert ChangeRequest.objects.filter(state=ChangeState.PUBLISHED).count() == 1
