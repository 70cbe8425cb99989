"""Change requests: four eyes, break glass, publication exactly once and on time, stale requests."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from authoring.changes import ChangeRefused, change_propose, change_publish_due, change_review, history_reason
from authoring.demo import demo_world_load
from authoring.documents import DocumentInvalid, document_import, provider_entry
from authoring.models import ChangeRequest, ChangeState
from providers.models import ModelProvider

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(django_user_model):
    demo_world_load()
    perm = Permission.objects.get(codename="review_changerequest")

    def admin(name: str, *, superuser: bool = False, reviewer: bool = True):
        user = django_user_model.objects.create_user(name, password="x", is_staff=True, is_superuser=superuser)
        if reviewer:
            user.user_permissions.add(perm)
        return django_user_model.objects.get(pk=user.pk)  # fresh permission cache

    return admin("alice"), admin("bob"), admin("root", superuser=True), admin("carol", reviewer=False)


def rpm_document(rpm: int) -> dict:
    entry = provider_entry(ModelProvider.objects.get(slug="openai-gpt4"))
    entry["rate_limits"]["requests_per_minute"] = rpm
    return {"providers": [entry]}


def rpm() -> int:
    return ModelProvider.objects.get(slug="openai-gpt4").requests_per_minute


def test_a_proposal_changes_nothing_until_another_admin_approves_it(people):
    alice, bob, _, carol = people
    change = change_propose(document=rpm_document(99), reason="more headroom for exams", author=alice)
    assert change.state == ChangeState.PROPOSED and rpm() == 60
    assert "updated provider openai-gpt4 (requests_per_minute)" in change.summary
    with pytest.raises(PermissionDenied, match="your own"):
        change_review(change=change, reviewer=alice, approve=True, reason="looks fine")
    with pytest.raises(PermissionDenied, match="permission"):
        change_review(change=change, reviewer=carol, approve=True, reason="looks fine")
    assert rpm() == 60
    done = change_review(change=change, reviewer=bob, approve=True, reason="checked the replay")
    assert done.state == ChangeState.PUBLISHED and rpm() == 99
    row = ModelProvider.history.filter(slug="openai-gpt4").latest("history_date")
    assert row.history_change_reason == history_reason(done)
    assert "alice" in row.history_change_reason and "bob" in row.history_change_reason
    assert row.history_user == bob


def test_a_superuser_approves_their_own_only_with_break_glass(people):
    _, _, root, _ = people
    change = change_propose(document=rpm_document(98), reason="incident 4411", author=root)
    with pytest.raises(PermissionDenied, match="break-glass"):
        change_review(change=change, reviewer=root, approve=True, reason="urgent")
    done = change_review(
        change=change, reviewer=root, approve=True, reason="urgent", break_glass_reason="provider outage, on call"
    )
    assert done.break_glass and done.state == ChangeState.PUBLISHED and rpm() == 98


def test_the_database_refuses_a_self_review_without_break_glass(people):
    alice, *_ = people
    change = change_propose(document=rpm_document(97), reason="r", author=alice)
    change.state, change.reviewer, change.reviewed_at, change.review_reason = "approved", alice, timezone.now(), "ok"
    with pytest.raises(IntegrityError), transaction.atomic():
        change.save()


def test_a_rejected_request_is_never_published(people):
    alice, bob, *_ = people
    change = change_propose(document=rpm_document(96), reason="r", author=alice)
    change_review(change=change, reviewer=bob, approve=False, reason="not during exams")
    assert change_publish_due() == 0 and rpm() == 60
    with pytest.raises(ChangeRefused, match="already rejected"):
        change_review(change=change, reviewer=bob, approve=True, reason="changed my mind")


def test_a_proposal_is_checked_like_an_import(people):
    alice, *_ = people
    document = rpm_document(95)
    document["providers"][0]["hosting_regions"] = ["mars"]
    with pytest.raises(DocumentInvalid, match=r"providers\[0\] \(openai-gpt4\): hosting_regions"):
        change_propose(document=document, reason="r", author=alice)
    with pytest.raises(ChangeRefused, match="already live"):
        change_propose(document=rpm_document(60), reason="r", author=alice)
    assert not ChangeRequest.objects.exists()


def test_a_scheduled_request_waits_for_its_time_and_is_published_once(people):
    alice, bob, *_ = people
    at = timezone.now() + dt.timedelta(hours=1)
    change = change_propose(document=rpm_document(94), reason="new term", author=alice, effective_at=at)
    change = change_review(change=change, reviewer=bob, approve=True, reason="ok for the new term")
    assert change.state == ChangeState.APPROVED and rpm() == 60
    assert change_publish_due(now=at - dt.timedelta(seconds=1)) == 0 and rpm() == 60
    assert change_publish_due(now=at) == 1 and rpm() == 94
    assert change_publish_due(now=at + dt.timedelta(minutes=5)) == 0
    change.refresh_from_db()
    assert change.state == ChangeState.PUBLISHED and change.published_at is not None


def test_a_request_whose_entries_moved_since_is_not_published_and_says_why(people):
    alice, bob, *_ = people
    at = timezone.now() + dt.timedelta(hours=1)
    change = change_propose(document=rpm_document(93), reason="r", author=alice, effective_at=at)
    change_review(change=change, reviewer=bob, approve=True, reason="ok")
    moved = rpm_document(70)
    moved["providers"][0]["rate_limits"]["tokens_per_minute"] = 1234
    document_import(copy.deepcopy(moved), reason="someone else")
    assert change_publish_due(now=at) == 1
    change.refresh_from_db()
    assert change.state == ChangeState.FAILED
    assert change.publication_result == (
        "Nothing was published: providers openai-gpt4 changed since this request was proposed"
    )
    assert rpm() == 70


def test_import_policies_proposes_with_a_reason_and_a_time(people, tmp_path, settings):
    import io
    import json

    from django.core.management import CommandError, call_command

    alice, *_ = people
    path = tmp_path / "rpm.json"
    path.write_text(json.dumps(rpm_document(91)))
    settings.CHANGE_APPROVAL = "required"
    with pytest.raises(CommandError, match="CHANGE_APPROVAL=required: nothing was imported"):
        call_command("import_policies", str(path))
    with pytest.raises(CommandError, match="--effective-at: an ISO 8601 time with its offset"):
        call_command(
            "import_policies", str(path), "--propose", "--reason", "r", "--author", "alice", "--effective-at", "soon"
        )
    out = io.StringIO()
    call_command(
        "import_policies",
        str(path),
        "--propose",
        "--reason",
        "exam week",
        "--author",
        "alice",
        "--effective-at",
        "2027-01-04T06:00Z",
        stdout=out,
    )
    change = ChangeRequest.objects.get()
    assert change.author == alice and change.reason == "exam week"
    assert change.effective_at == dt.datetime(2027, 1, 4, 6, 0, tzinfo=dt.UTC)
    assert f"Proposed change request #{change.pk}" in out.getvalue() and rpm() == 60


def test_health_overrides_change_through_a_change_request(people, settings):
    settings.CHANGE_APPROVAL = "required"
    alice, bob, _, _ = people
    entry = provider_entry(ModelProvider.objects.get(slug="openai-gpt4"))
    assert entry["health"] == {
        "failures_to_trip": None,
        "failure_rate_percent": None,
        "min_outcomes": None,
        "cooldown_seconds": None,
    }
    entry["health"].update(failures_to_trip=2, cooldown_seconds=30)
    change = change_propose(document={"providers": [entry]}, reason="trip sooner in exams", author=alice)
    assert "health_failures_to_trip, health_cooldown_seconds" in change.summary
    assert change.base["providers/openai-gpt4"]["health"]["failures_to_trip"] is None
    provider = ModelProvider.objects.get(slug="openai-gpt4")
    assert (provider.health_failures_to_trip, provider.health_cooldown_seconds) == (None, None)
    done = change_review(change=change, reviewer=bob, approve=True, reason="checked")
    assert done.state == ChangeState.PUBLISHED
    provider.refresh_from_db()
    assert (provider.health_failures_to_trip, provider.health_cooldown_seconds) == (2, 30)
    row = ModelProvider.history.filter(slug="openai-gpt4").latest("history_date")
    assert (row.health_failures_to_trip, row.history_change_reason) == (2, history_reason(done))


def test_a_health_override_changed_since_the_proposal_makes_it_stale(people):
    alice, bob, _, _ = people
    entry = provider_entry(ModelProvider.objects.get(slug="openai-gpt4"))
    entry["health"]["min_outcomes"] = 50
    change = change_propose(
        document={"providers": [entry]},
        reason="a longer window",
        author=alice,
        effective_at=timezone.now() + dt.timedelta(hours=1),
    )
    change = change_review(change=change, reviewer=bob, approve=True, reason="ok")
    ModelProvider.objects.filter(slug="openai-gpt4").update(health_min_outcomes=7)
    assert change_publish_due(now=timezone.now() + dt.timedelta(hours=2)) == 1
    change.refresh_from_db()
    assert change.state == ChangeState.FAILED and "openai-gpt4 changed since" in change.publication_result
    assert ModelProvider.objects.get(slug="openai-gpt4").health_min_outcomes == 7


def test_a_request_proposed_before_health_overrides_existed_still_publishes(people):
    alice, bob, _, _ = people
    change = change_propose(document=rpm_document(77), reason="before the upgrade", author=alice)
    base = {key: {k: v for k, v in entry.items() if k != "health"} for key, entry in change.base.items()}
    document = {"providers": [{k: v for k, v in e.items() if k != "health"} for e in change.document["providers"]]}
    ChangeRequest.objects.filter(pk=change.pk).update(base=base, document=document)
    change.refresh_from_db()
    done = change_review(change=change, reviewer=bob, approve=True, reason="ok")
    assert done.state == ChangeState.PUBLISHED and rpm() == 77
