"""CHANGE_APPROVAL=required in admin: a save becomes a proposal (same form, same messages), the
author cannot approve it, another administrator approves it on the review page, and it goes live."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from authoring.demo import demo_world_load
from authoring.models import ChangeRequest, ChangeState
from authoring.tests.admin.test_policy_admin import policy_post
from policies.models import DispatchPolicy

pytestmark = pytest.mark.django_db


@pytest.fixture
def approval(settings):
    settings.CHANGE_APPROVAL = "required"


@pytest.fixture
def admins(django_user_model, client):
    demo_world_load()
    perms = Permission.objects.filter(
        content_type__app_label__in=["policies", "providers", "authoring"],
    )

    def make(name):
        user = django_user_model.objects.create_user(name, password="x", is_staff=True)
        user.user_permissions.add(*perms)
        return user

    return make("alice"), make("bob")


def as_user(client, user):
    client.force_login(user)
    return client


def test_a_save_becomes_a_proposal_that_another_admin_approves(approval, admins, client):
    alice, bob = admins
    page = as_user(client, alice).get(reverse("admin:policies_dispatchpolicy_add"))
    assert b'value="Propose change"' in page.content and b'name="_continue"' not in page.content
    data = policy_post("Science US", region="us_east", primary="openai-gpt4", fallbacks=["anthropic-claude"])
    data["change_reason"] = "science classes start Monday"
    response = client.post(reverse("admin:policies_dispatchpolicy_add"), data)
    change = ChangeRequest.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/changerequest/{change.pk}/change/")
    assert not DispatchPolicy.objects.filter(name="Science US").exists()  # nothing live yet
    assert change.author == alice and change.reason == "science classes start Monday"
    assert change.document["policies"][0]["fallback_provider_ids"] == ["anthropic-claude"]

    review = client.get(reverse("admin:authoring_changerequest_change", args=[change.pk]))
    text = review.content.decode()
    assert "Coverage impact" in text and "Replay impact" in text and "Science US" in text
    assert "another administrator must review it" in text
    refused = client.post(review.wsgi_request.path, {"decision": "approve", "review_reason": "mine is fine"})
    assert "You cannot review your own change request" in refused.content.decode()
    change.refresh_from_db()
    assert change.state == ChangeState.PROPOSED and not DispatchPolicy.objects.filter(name="Science US").exists()

    as_user(client, bob)
    done = client.post(review.wsgi_request.path, {"decision": "approve", "review_reason": "replay is clean"})
    assert done.status_code == 302
    change.refresh_from_db()
    assert change.state == ChangeState.PUBLISHED and change.reviewer == bob
    policy = DispatchPolicy.objects.get(name="Science US")
    assert [p.slug for p in policy.chain()] == ["openai-gpt4", "anthropic-claude"]
    assert "alice" in policy.history.latest().history_change_reason


def test_a_refused_save_shows_the_same_message_and_proposes_nothing(approval, admins, client):
    alice, _ = admins
    data = policy_post("Science EU", region="eu_west", primary="openai-gpt4", fallbacks=["anthropic-claude"])
    response = as_user(client, alice).post(reverse("admin:policies_dispatchpolicy_add"), data)
    assert response.status_code == 200
    assert "No provider in this chain may serve eu_west" in response.content.decode()
    assert not ChangeRequest.objects.exists()


def test_without_approval_a_save_is_live_at_once(admins, client):
    alice, _ = admins
    data = policy_post("Science US", region="us_east", primary="openai-gpt4", fallbacks=[])
    page = as_user(client, alice).get(reverse("admin:policies_dispatchpolicy_add"))
    assert b"Propose change" not in page.content
    assert client.post(reverse("admin:policies_dispatchpolicy_add"), data).status_code == 302
    assert DispatchPolicy.objects.filter(name="Science US").exists() and not ChangeRequest.objects.exists()


def test_deletes_and_bulk_actions_are_off_while_approval_is_required(approval, admins, client):
    alice, _ = admins
    policy = DispatchPolicy.objects.get(name="Default policy")
    as_user(client, alice)
    assert client.get(reverse("admin:policies_dispatchpolicy_delete", args=[policy.pk])).status_code == 403
    listing = client.get(reverse("admin:policies_dispatchpolicy_changelist"))
    assert b'name="action"' not in listing.content


def test_a_routing_rule_save_is_proposed_with_its_lists_and_a_rename_is_refused(approval, admins, client):
    from policies.models import RegionalRouting
    from providers.models import ModelProvider

    alice, _ = admins
    rule = RegionalRouting.objects.get(region="us_west")
    ids = {p.slug: str(p.pk) for p in ModelProvider.objects.all()}
    data = {
        "region": "us_west",
        "data_center": "Oregon",
        "encryption_required": "on",
        "audit_logging_required": "on",
        "allowed_providers": [ids["aws-bedrock"], ids["google-gemini"], ids["us-only-provider"]],
        "blocked_providers": [],
        "compliance_frameworks": ["FERPA", "COPPA"],
        "change_reason": "moved to Oregon",
    }
    url = reverse("admin:policies_regionalrouting_change", args=[rule.pk])
    assert as_user(client, alice).post(url, data).status_code == 302
    change = ChangeRequest.objects.get()
    entry = change.document["regions"][0]
    assert entry["data_center"] == "Oregon"
    assert entry["allowed_providers"] == ["aws-bedrock", "google-gemini", "us-only-provider"]
    assert RegionalRouting.objects.get(pk=rule.pk).data_center == "California"  # nothing live

    renamed = client.post(url, {**data, "region": "ca_central", "confirm_coverage_loss": "on"})
    assert renamed.status_code == 200
    assert "a region cannot be changed through a proposal" in renamed.content.decode()
    assert ChangeRequest.objects.count() == 1


def test_a_bad_effective_at_is_a_form_error(approval, admins, client):
    alice, _ = admins
    data = policy_post("Science US", region="us_east", primary="openai-gpt4", fallbacks=[])
    data["change_effective_at"] = "next monday"
    response = as_user(client, alice).post(reverse("admin:policies_dispatchpolicy_add"), data)
    assert response.status_code == 200
    assert "Effective at: a date and time (UTC)" in response.content.decode()
    assert not ChangeRequest.objects.exists()
    data["change_effective_at"] = "2027-01-04T06:00"
    assert client.post(reverse("admin:policies_dispatchpolicy_add"), data).status_code == 302
    effective_at = ChangeRequest.objects.get().effective_at
    assert effective_at is not None and effective_at.isoformat() == "2027-01-04T06:00:00+00:00"


def test_a_revert_is_proposed_like_a_save(admins, client, settings):
    from authoring.tests.admin.test_policy_admin import chain_of, slug

    alice, _ = admins
    as_user(client, alice)
    add = reverse("admin:policies_dispatchpolicy_add")
    client.post(add, policy_post("Sci", region="us_east", primary="openai-gpt4", fallbacks=["anthropic-claude"]))
    policy = DispatchPolicy.objects.get(name="Sci")
    change = reverse("admin:policies_dispatchpolicy_change", args=[policy.pk])
    data = policy_post("Sci", region="us_east", primary="microsoft-copilot", fallbacks=["openai-gpt4"], reason="v2")
    assert client.post(change, data).status_code == 302
    v1 = policy.history.order_by("history_date", "history_id").first()
    settings.CHANGE_APPROVAL = "required"
    form = {
        "name": "Sci",
        "subject": "science",
        "grade_band": "high",
        "region": "us_east",
        "priority": "100",
        "primary_provider": slug("openai-gpt4"),
        "moderation_threshold": "0.7",
        "is_active": "on",
        "change_reason": "back to v1",
        "_save": "Revert",
    }
    response = client.post(reverse("admin:policies_dispatchpolicy_simple_history", args=[policy.pk, v1.pk]), form)
    assert response.status_code == 302
    proposed = ChangeRequest.objects.get().document["policies"][0]
    assert proposed["primary_provider_id"] == "openai-gpt4"
    assert proposed["fallback_provider_ids"] == ["anthropic-claude"]
    assert chain_of("Sci") == ["microsoft-copilot", "openai-gpt4"]  # nothing live until approved


def test_a_superuser_self_approval_needs_break_glass_and_is_highlighted(approval, client, django_user_model):
    demo_world_load()
    root = django_user_model.objects.get(username="admin")
    data = policy_post("Science US", region="us_east", primary="openai-gpt4", fallbacks=[])
    as_user(client, root).post(reverse("admin:policies_dispatchpolicy_add"), data)
    change = ChangeRequest.objects.get()
    url = reverse("admin:authoring_changerequest_change", args=[change.pk])
    refused = client.post(url, {"decision": "approve", "review_reason": "urgent"}).content.decode()
    assert "As a superuser you may approve it with a break-glass reason" in refused
    assert not DispatchPolicy.objects.filter(name="Science US").exists()
    glass = {"decision": "approve", "review_reason": "urgent", "break_glass_reason": "on call, no second admin"}
    assert client.post(url, glass).status_code == 302
    page = client.get(url).content.decode()
    assert 'id="break-glass"' in page and "on call, no second admin" in page
    listing = client.get(reverse("admin:authoring_changerequest_changelist")).content.decode()
    assert "BREAK GLASS" in listing
    assert DispatchPolicy.objects.filter(name="Science US").exists()
