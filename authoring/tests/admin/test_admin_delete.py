"""Deleting authored objects in admin: a change reason on the deletion's history row, the contexts
that would lose their last compliant provider shown and confirmed first, Django's "cannot delete"
page for objects still in use (never a 500), and no bulk "delete selected"."""

from __future__ import annotations

import pytest
from django.urls import reverse

from policies.models import DispatchPolicy, RegionalRouting
from policies.tests.factories import make_provider
from providers.models import ModelProvider, PromptTemplate

pytestmark = pytest.mark.django_db


def delete_url(obj):
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[obj.pk])


def deletion_row(model, pk):
    return model.history.filter(id=pk, history_type="-").first()


def test_deleting_a_policy_shows_lost_contexts_and_needs_a_reason_and_a_confirmation(staff_client):
    default = DispatchPolicy.objects.get(name="Default policy")
    page = staff_client.get(delete_url(default)).content.decode()
    assert 'id="coverage-loss-list"' in page
    assert "science / high / us_east (today openai-gpt4 via &#x27;Default policy&#x27;" in page
    assert 'name="change_reason"' in page and 'name="confirm_coverage_loss"' in page

    no_reason = staff_client.post(delete_url(default), {"post": "yes", "confirm_coverage_loss": "on"})
    assert no_reason.status_code == 200
    assert "Say why you are making this change" in no_reason.content.decode()
    unconfirmed = staff_client.post(delete_url(default), {"post": "yes", "change_reason": "Retire the catch-all"})
    assert unconfirmed.status_code == 200
    text = unconfirmed.content.decode()
    assert "This change leaves" in text and "context(s) with no compliant provider" in text
    assert 'value="Retire the catch-all"' in text  # the reason typed is kept
    assert DispatchPolicy.objects.filter(pk=default.pk).exists()
    assert deletion_row(DispatchPolicy, default.pk) is None

    done = staff_client.post(
        delete_url(default), {"post": "yes", "change_reason": "Retire the catch-all", "confirm_coverage_loss": "on"}
    )
    assert done.status_code == 302
    assert not DispatchPolicy.objects.filter(pk=default.pk).exists()
    row = deletion_row(DispatchPolicy, default.pk)
    assert row.history_change_reason == "Retire the catch-all"
    assert row.history_user.username == "admin"


def test_deleting_a_policy_that_serves_nothing_needs_only_a_reason(staff_client):
    math = DispatchPolicy.objects.get(name="Elementary Math - US East")  # the subject policy still covers it
    page = staff_client.get(delete_url(math)).content.decode()
    assert 'id="coverage-loss-list"' not in page and 'name="change_reason"' in page
    assert staff_client.post(delete_url(math), {"post": "yes", "change_reason": "merged"}).status_code == 302
    assert deletion_row(DispatchPolicy, math.pk).history_change_reason == "merged"


def test_deleting_a_routing_rule_lists_the_region_lost_until_confirmed(staff_client):
    rule = RegionalRouting.objects.get(region="eu_west")
    page = staff_client.get(delete_url(rule)).content.decode()
    assert "Deleting it leaves 48 context(s) with no compliant provider" in page
    refused = staff_client.post(delete_url(rule), {"post": "yes", "change_reason": "close EU"})
    assert "eu_west: 48 (mathematics/early_childhood" in refused.content.decode()
    assert RegionalRouting.objects.filter(pk=rule.pk).exists()
    staff_client.post(delete_url(rule), {"post": "yes", "change_reason": "close EU", "confirm_coverage_loss": "on"})
    assert not RegionalRouting.objects.filter(pk=rule.pk).exists()
    assert deletion_row(RegionalRouting, rule.pk).history_change_reason == "close EU"


def test_a_provider_used_by_policies_shows_the_cannot_delete_page(staff_client):
    provider = ModelProvider.objects.get(slug="openai-gpt4")
    page = staff_client.get(delete_url(provider))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Cannot delete model provider" in text and "Default policy" in text
    response = staff_client.post(delete_url(provider), {"post": "yes", "change_reason": "retire"})
    assert response.status_code == 200 and "Cannot delete model provider" in response.content.decode()
    assert ModelProvider.objects.filter(pk=provider.pk).exists()


def test_a_provider_named_in_a_routing_rule_is_not_deleted_behind_the_rules_back(staff_client):
    spare = make_provider("spare-llm")
    rule = RegionalRouting.objects.get(region="eu_west")
    rule.blocked_providers.add(spare)
    text = staff_client.get(delete_url(spare)).content.decode()
    assert "Cannot delete model provider" in text
    assert "spare-llm is in the blocked providers of eu_west: remove it from that routing rule first." in text
    staff_client.post(delete_url(spare), {"post": "yes", "change_reason": "retire"})
    assert ModelProvider.objects.filter(pk=spare.pk).exists() and spare in rule.blocked_providers.all()


def test_a_provider_put_to_use_after_the_page_was_shown_is_refused_without_a_500(staff_client, monkeypatch):
    spare = make_provider("spare-llm")
    from authoring.admin.providers import ModelProviderAdmin

    original = ModelProviderAdmin.get_deleted_objects
    calls: list[bool] = []

    def stale_check(self, objs, request):
        result = original(self, objs, request)
        if request.method == "POST" and not calls:  # someone chains it right after the check
            calls.append(True)
            DispatchPolicy.objects.create(name="Late", primary_provider=spare, priority=7, is_active=False)
        return result

    monkeypatch.setattr(ModelProviderAdmin, "get_deleted_objects", stale_check)
    response = staff_client.post(delete_url(spare), {"post": "yes", "change_reason": "retire"})
    assert response.status_code == 200
    assert "cannot be deleted: it is still used by dispatch policy “Late”" in response.content.decode()
    assert ModelProvider.objects.filter(pk=spare.pk).exists()
    assert deletion_row(ModelProvider, spare.pk) is None


def test_an_unused_provider_is_deleted_with_its_reason(staff_client):
    spare = make_provider("spare-llm")
    assert staff_client.post(delete_url(spare), {"post": "yes", "change_reason": "never used"}).status_code == 302
    assert deletion_row(ModelProvider, spare.pk).history_change_reason == "never used"


def test_templates_in_use_are_kept_and_unused_ones_deleted_with_a_reason(staff_client):
    used = PromptTemplate.objects.filter(policies__isnull=False).first()
    text = staff_client.get(delete_url(used)).content.decode()
    assert "Cannot delete prompt template" in text and "remove it from that policy first" in text
    unused = PromptTemplate.objects.create(slug="old-tutor", name="Old", body="x")
    assert staff_client.post(delete_url(unused), {"post": "yes"}).status_code == 200  # no reason: refused
    assert PromptTemplate.objects.filter(pk=unused.pk).exists()
    assert staff_client.post(delete_url(unused), {"post": "yes", "change_reason": "superseded"}).status_code == 302
    assert deletion_row(PromptTemplate, unused.pk).history_change_reason == "superseded"


@pytest.mark.parametrize(
    ("changelist", "model"),
    [
        ("admin:policies_dispatchpolicy_changelist", DispatchPolicy),
        ("admin:policies_regionalrouting_changelist", RegionalRouting),
        ("admin:providers_modelprovider_changelist", ModelProvider),
        ("admin:providers_prompttemplate_changelist", PromptTemplate),
    ],
)
def test_bulk_delete_is_not_offered(staff_client, changelist, model):
    url = reverse(changelist)
    assert 'value="delete_selected"' not in staff_client.get(url).content.decode()
    before = model.objects.count()
    pks = [str(pk) for pk in model.objects.values_list("pk", flat=True)]
    staff_client.post(url, {"action": "delete_selected", "_selected_action": pks, "post": "yes"})
    assert model.objects.count() == before
