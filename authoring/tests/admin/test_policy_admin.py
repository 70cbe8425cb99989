"""Policy authoring through the admin: validation messages, one history row with its reason, revert."""

from __future__ import annotations

import pytest
from django.urls import reverse

from authoring.demo import demo_world_load
from policies.models import DispatchPolicy
from providers.models import ModelProvider

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client, django_user_model):
    demo_world_load()
    client.force_login(django_user_model.objects.get(username="admin"))
    return client


def chain_of(name):
    return [p.slug for p in DispatchPolicy.objects.get(name=name).chain()]


def slug(s):
    return str(ModelProvider.objects.get(slug=s).pk)


def policy_post(name, *, region, primary, fallbacks, reason="new policy", priority=100, policy=None, **extra):
    data = {
        "name": name,
        "subject": "science",
        "grade_band": "high",
        "region": region,
        "priority": priority,
        "primary_provider": slug(primary),
        "moderation_threshold": "0.7",
        "is_active": "on",
        "change_reason": reason,
        "fallbacks-TOTAL_FORMS": str(len(fallbacks)),
        "fallbacks-INITIAL_FORMS": "0",
        "fallbacks-MIN_NUM_FORMS": "0",
        "fallbacks-MAX_NUM_FORMS": "1000",
    }
    for i, provider in enumerate(fallbacks):
        data[f"fallbacks-{i}-position"] = str(i + 1)
        data[f"fallbacks-{i}-provider"] = slug(provider)
    data.update(extra)
    return data


def test_policy_with_no_provider_compliant_in_its_region_is_refused_with_what_to_fix(admin):
    url = reverse("admin:policies_dispatchpolicy_add")
    response = admin.post(
        url, policy_post("Science EU", region="eu_west", primary="openai-gpt4", fallbacks=["anthropic-claude"])
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "No provider in this chain may serve eu_west" in text
    assert "local-eu-provider" in text  # the hint names a provider that would do
    assert not DispatchPolicy.objects.filter(name="Science EU").exists()


def test_policy_with_two_fallbacks_is_saved_with_one_history_row_and_its_reason(admin):
    url = reverse("admin:policies_dispatchpolicy_add")
    data = policy_post(
        "Science US",
        region="us_east",
        primary="openai-gpt4",
        fallbacks=["anthropic-claude", "microsoft-copilot"],
        reason="Science pilot in Virginia",
    )
    response = admin.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    policy = DispatchPolicy.objects.get(name="Science US")
    assert [p.slug for p in policy.chain()] == ["openai-gpt4", "anthropic-claude", "microsoft-copilot"]
    history = list(policy.history.all())
    assert len(history) == 1
    assert history[0].history_change_reason == "Science pilot in Virginia"
    assert history[0].history_user.username == "admin"
    chain = sorted(history[0].fallback_providers.all(), key=lambda r: r.position)
    assert [r.provider.slug for r in chain] == ["anthropic-claude", "microsoft-copilot"]


def test_change_reason_is_required(admin):
    data = policy_post("Science US", region="us_east", primary="openai-gpt4", fallbacks=[], reason="")
    response = admin.post(reverse("admin:policies_dispatchpolicy_add"), data)
    assert response.status_code == 200
    assert "Say why you are making this change" in response.content.decode()


def test_history_diff_and_revert_restore_the_ordered_chain(admin):
    add = reverse("admin:policies_dispatchpolicy_add")
    admin.post(
        add, policy_post("Sci", region="us_east", primary="openai-gpt4", fallbacks=["anthropic-claude"], reason="v1")
    )
    policy = DispatchPolicy.objects.get(name="Sci")
    change = reverse("admin:policies_dispatchpolicy_change", args=[policy.pk])
    data = policy_post(
        "Sci", region="us_east", primary="microsoft-copilot", fallbacks=["openai-gpt4", "anthropic-claude"], reason="v2"
    )
    response = admin.post(change, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert chain_of("Sci") == ["microsoft-copilot", "openai-gpt4", "anthropic-claude"]
    v2, v1 = policy.history.order_by("-history_date", "-history_id")
    history = admin.get(reverse("admin:policies_dispatchpolicy_history", args=[policy.pk])).content.decode()
    assert "v1" in history and "v2" in history
    assert "1. openai-gpt4 → 2. anthropic-claude" in history  # the chain, readable, in order
    compare = admin.get(
        reverse("admin:policies_dispatchpolicy_history_compare", args=[policy.pk]), {"old": v1.pk, "new": v2.pk}
    ).content.decode()
    assert "Microsoft Copilot (microsoft-copilot)" in compare and "1. anthropic-claude" in compare
    revert_url = reverse("admin:policies_dispatchpolicy_simple_history", args=[policy.pk, v1.pk])
    page = admin.get(revert_url).content.decode()
    assert "anthropic-claude" in page  # the chain of that version, shown before reverting
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
    response = admin.post(revert_url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert chain_of("Sci") == ["openai-gpt4", "anthropic-claude"]
    latest = policy.history.order_by("-history_date", "-history_id").first()
    assert latest.history_change_reason == "back to v1"
    assert policy.history.count() == 3


def test_second_active_policy_with_same_shape_and_priority_is_refused_naming_the_other(admin):
    data = policy_post("Math again", region="us_east", primary="openai-gpt4", fallbacks=[])
    data.update(subject="mathematics", grade_band="elementary")
    response = admin.post(reverse("admin:policies_dispatchpolicy_add"), data)
    text = response.content.decode()
    assert response.status_code == 200
    assert "Elementary Math - US East" in text and "choose another priority" in text


def test_index_is_grouped_and_names_the_product(admin):
    text = admin.get(reverse("admin:index")).content.decode()
    assert "Model Dispatch Service administration" in text
    positions = [text.index(f">{name}<") for name in ("Providers", "Policies", "Regions")]
    assert positions == sorted(positions)
    assert "Simulator" in text and "Coverage map" in text


def run_action(admin, action, policies, **extra):
    data = {"action": action, "_selected_action": [str(p.pk) for p in policies], **extra}
    return admin.post(reverse("admin:policies_dispatchpolicy_changelist"), data)


def test_deactivate_action_shows_lost_contexts_and_asks_for_a_reason(admin):
    default = DispatchPolicy.objects.get(name="Default policy")
    page = run_action(admin, "deactivate", [default])
    text = page.content.decode()
    assert page.status_code == 200 and "context(s) with no compliant provider" in text
    assert "science / high / us_east (today openai-gpt4 via &#x27;Default policy&#x27;" in text
    default.refresh_from_db()
    assert default.is_active  # nothing yet
    refused = run_action(admin, "deactivate", [default], confirm="yes", change_reason="")
    assert "Say why you are making this change" in refused.content.decode()
    done = run_action(admin, "deactivate", [default], confirm="yes", change_reason="Retire the catch-all")
    assert done.status_code == 302
    default.refresh_from_db()
    assert not default.is_active
    assert default.history.latest().history_change_reason == "Retire the catch-all"


def test_activate_action_refuses_a_clash_and_changes_nothing(admin):
    math = DispatchPolicy.objects.get(name="Elementary Math - US East")
    run_action(admin, "duplicate", [math], confirm="yes", change_reason="try a variant")
    copy = DispatchPolicy.objects.get(name="Copy of Elementary Math - US East")
    assert not copy.is_active and chain_of(copy.name) == chain_of(math.name)
    response = run_action(admin, "activate", [copy], confirm="yes", change_reason="go live")
    assert response.status_code == 302
    page = admin.get(response["Location"]).content.decode()
    assert "Nothing changed" in page and "choose another priority" in page
    copy.refresh_from_db()
    assert not copy.is_active


def test_deactivating_a_policy_in_its_form_lists_lost_contexts_until_confirmed(admin):
    default = DispatchPolicy.objects.get(name="Default policy")
    url = reverse("admin:policies_dispatchpolicy_change", args=[default.pk])
    data = policy_post(
        "Default policy",
        region="",
        primary="openai-gpt4",
        fallbacks=[p.slug for p in default.chain()[1:]],
        reason="retire",
        priority=0,
        subject="",
        grade_band="",
    )
    data.pop("is_active")
    response = admin.post(url, data)
    assert response.status_code == 200
    assert "context(s) with no compliant provider" in response.content.decode()
    default.refresh_from_db()
    assert default.is_active
    assert admin.post(url, {**data, "confirm_coverage_loss": "on"}).status_code == 302
    default.refresh_from_db()
    assert not default.is_active


def test_policy_list_searches_and_filters_by_provider_anywhere_in_the_chain(admin):
    changelist = reverse("admin:policies_dispatchpolicy_changelist")
    by_search = admin.get(changelist, {"q": "microsoft-copilot"}).content.decode()
    assert "Elementary Math - US East" in by_search and "Default policy" not in by_search
    by_filter = admin.get(changelist, {"provider": "local-eu-provider"}).content.decode()
    assert "Mathematics - any grade" in by_filter and "Elementary Math - US East" not in by_filter
    by_region = admin.get(changelist, {"region__exact": "us_east", "is_active__exact": "1"}).content.decode()
    assert "Elementary Math - US East" in by_region and "Mathematics - any grade" not in by_region
