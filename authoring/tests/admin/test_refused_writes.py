"""A save refused as it is written (the world changed after the form was validated) is a form
error on the same page, never a 500, and writes nothing.

The race is made deterministic: a hook creates the conflicting row either right after the form's
own validation (the authoring service then refuses it) or right before the row is written (the
database constraint then refuses it).
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.db.models.signals import pre_save
from django.urls import reverse

from authoring.admin.base import REFUSED
from authoring.forms import DispatchPolicyForm, ModelProviderForm, PromptTemplateForm, RegionalRoutingForm
from authoring.tests.admin.test_policy_admin import policy_post, run_action, slug
from authoring.tests.admin.test_tools_admin import provider_form
from policies.models import DispatchPolicy, RegionalRouting
from providers.models import ModelProvider, PromptTemplate

pytestmark = pytest.mark.django_db

MEANWHILE = "saved by someone else while you were editing; nothing was saved"


def after_validation(monkeypatch, form_class, make_conflict):
    """Run `make_conflict` once, right after `form_class` has validated the submitted data."""
    original = form_class.full_clean
    done: list[bool] = []

    def full_clean(self):
        original(self)
        if not done and self.is_bound and not self._errors:
            done.append(True)
            make_conflict()

    monkeypatch.setattr(form_class, "full_clean", full_clean)


@pytest.fixture
def before_write():
    """Register `make_conflict` to run once, just before an instance of `model` is written."""
    receivers = []

    def register(model, make_conflict):
        done: list[bool] = []

        def receiver(sender, instance, **kwargs):
            if not done:
                done.append(True)
                make_conflict(instance)

        pre_save.connect(receiver, sender=model, weak=False)
        receivers.append((receiver, model))

    yield register
    for receiver, model in receivers:
        pre_save.disconnect(receiver, sender=model)


def rival(subject="science", grade_band="high", region="us_east", priority=100):
    """An active policy with that shape and priority, inserted without any check (bulk_create)."""
    DispatchPolicy.objects.bulk_create(
        [
            DispatchPolicy(
                name="Rival",
                subject=subject,
                grade_band=grade_band,
                region=region,
                priority=priority,
                primary_provider=ModelProvider.objects.get(slug="openai-gpt4"),
            )
        ]
    )


def assert_refused(response, *texts):
    assert response.status_code == 200
    page = response.content.decode()
    assert REFUSED in page
    for text in texts:
        assert text in page
    return page


def no_policy_history(name):
    return not DispatchPolicy.history.filter(name=name).exists()


def test_new_policy_refused_by_the_service_after_validation_is_a_form_error(staff_client, monkeypatch):
    after_validation(monkeypatch, DispatchPolicyForm, rival)
    data = policy_post("Science US", region="us_east", primary="openai-gpt4", fallbacks=["anthropic-claude"])
    response = staff_client.post(reverse("admin:policies_dispatchpolicy_add"), data)
    assert_refused(response, "The active policy &#x27;Rival&#x27; already has", "choose another priority")
    assert not DispatchPolicy.objects.filter(name="Science US").exists()
    assert no_policy_history("Science US")


def test_new_policy_refused_by_the_unique_constraint_is_a_form_error(staff_client, before_write):
    before_write(DispatchPolicy, lambda instance: rival())
    data = policy_post("Science US", region="us_east", primary="openai-gpt4", fallbacks=["anthropic-claude"])
    response = staff_client.post(reverse("admin:policies_dispatchpolicy_add"), data)
    page = assert_refused(response, "Another active policy now has the same subject", "Choose another priority")
    assert 'name="fallbacks-0-provider"' in page  # the whole form is back, chain included
    assert not DispatchPolicy.objects.filter(name="Science US").exists()
    assert no_policy_history("Science US")
    assert not DispatchPolicy.history.filter(history_type="+").exclude(name__in=_demo_names()).exists()


def _demo_names():
    return list(DispatchPolicy.objects.values_list("name", flat=True))


def test_policy_edit_refused_by_the_unique_constraint_changes_nothing(staff_client, before_write):
    policy = DispatchPolicy.objects.get(name="Elementary Math - US East")
    chain = [p.slug for p in policy.chain()]
    versions = policy.history.count()
    before_write(DispatchPolicy, lambda instance: rival(subject="mathematics", grade_band="elementary", priority=150))
    data = policy_post(
        policy.name, region="us_east", primary=chain[0], fallbacks=["google-gemini"], priority=150, reason="bump"
    )
    data.update(subject="mathematics", grade_band="elementary")
    response = staff_client.post(reverse("admin:policies_dispatchpolicy_change", args=[policy.pk]), data)
    assert_refused(response, "Another active policy now has the same subject")
    policy.refresh_from_db()
    assert policy.priority == 100 and [p.slug for p in policy.chain()] == chain
    assert policy.history.count() == versions


def test_policy_revert_refused_as_it_is_written_is_a_form_error(staff_client, before_write):
    policy = DispatchPolicy.objects.get(name="Elementary Math - US East")
    url = reverse("admin:policies_dispatchpolicy_change", args=[policy.pk])
    data = policy_post(policy.name, region="us_east", primary="openai-gpt4", fallbacks=[], priority=120, reason="v2")
    data.update(subject="mathematics", grade_band="elementary", confirm_coverage_loss="on")
    assert staff_client.post(url, data).status_code == 302
    first = policy.history.order_by("history_date", "history_id").first()
    before_write(DispatchPolicy, lambda instance: rival(subject="mathematics", grade_band="elementary"))
    revert_url = reverse("admin:policies_dispatchpolicy_simple_history", args=[policy.pk, first.pk])
    form = {
        "name": policy.name,
        "subject": "mathematics",
        "grade_band": "elementary",
        "region": "us_east",
        "priority": "100",
        "primary_provider": slug("openai-gpt4"),
        "moderation_threshold": "0.7",
        "is_active": "on",
        "change_reason": "back",
        "_save": "Revert",
    }
    versions = policy.history.count()
    response = staff_client.post(revert_url, form)
    assert_refused(response, "Another active policy now has the same subject")
    policy.refresh_from_db()
    assert policy.priority == 120 and policy.history.count() == versions


def test_new_routing_rule_for_a_region_taken_meanwhile_is_a_form_error(staff_client, monkeypatch):
    def conflict():
        RegionalRouting.objects.create(region="sa_east", data_center="Someone else's")

    after_validation(monkeypatch, RegionalRoutingForm, conflict)
    data = {
        "region": "sa_east",
        "data_center": "São Paulo",
        "encryption_required": "on",
        "audit_logging_required": "on",
        "compliance_frameworks": ["FERPA"],
        "change_reason": "open South America",
    }
    response = staff_client.post(reverse("admin:policies_regionalrouting_add"), data)
    assert_refused(response, "Another regional routing rule with this region exists now", "Choose another region")
    assert not RegionalRouting.objects.filter(region="sa_east").exists()
    assert not RegionalRouting.history.filter(region="sa_east").exists()


def test_new_provider_whose_slug_was_taken_meanwhile_is_a_form_error(staff_client, monkeypatch):
    def conflict():
        ModelProvider.objects.create(slug="new-llm", name="Someone else's", endpoint_url="https://x.example")

    after_validation(monkeypatch, ModelProviderForm, conflict)
    template = ModelProvider.objects.get(slug="us-only-provider")
    data = provider_form(template, slug="new-llm", name="New LLM", change_reason="onboard")
    response = staff_client.post(reverse("admin:providers_modelprovider_add"), data)
    assert_refused(response, "Another model provider with this slug exists now")
    assert not ModelProvider.objects.filter(name="New LLM").exists()
    assert not ModelProvider.history.filter(name="New LLM").exists()


def test_template_edit_whose_slug_was_taken_meanwhile_is_a_form_error(staff_client, monkeypatch):
    template = PromptTemplate.objects.get(slug="general-tutor")

    def conflict():
        PromptTemplate.objects.create(slug="tutor-v2", name="Someone else's", body="x")

    after_validation(monkeypatch, PromptTemplateForm, conflict)
    data = {
        "slug": "tutor-v2",
        "name": template.name,
        "subject": "",
        "grade_band": "",
        "body": template.body,
        "version": "2",
        "is_active": "on",
        "change_reason": "rename",
    }
    response = staff_client.post(reverse("admin:providers_prompttemplate_change", args=[template.pk]), data)
    assert_refused(response, "Another prompt template with this slug exists now")
    template.refresh_from_db()
    assert template.slug == "general-tutor" and template.version == 1


def test_activate_action_refused_by_the_unique_constraint_is_a_message(staff_client, before_write):
    math = DispatchPolicy.objects.get(name="Elementary Math - US East")
    run_action(staff_client, "duplicate", [math], confirm="yes", change_reason="variant")
    copy = DispatchPolicy.objects.get(name=f"Copy of {math.name}")
    copy.priority = 130
    copy.save()
    before_write(
        DispatchPolicy,
        lambda instance: rival(subject="mathematics", grade_band="elementary", priority=130),
    )
    response = run_action(staff_client, "activate", [copy], confirm="yes", change_reason="go live")
    assert response.status_code == 302
    page = staff_client.get(response["Location"]).content.decode()
    assert "Nothing changed" in page and "Another active policy now has the same subject" in page
    copy.refresh_from_db()
    assert not copy.is_active


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_clash_committed_by_another_connection_is_a_form_error_on_postgresql(
    require_postgres, staff_client, before_write
):
    """The real race: another connection commits the clashing policy after our checks passed."""

    def commit_elsewhere() -> None:
        try:
            rival()  # autocommit on this thread's own connection
        finally:
            connection.close()

    def race(instance):
        thread = threading.Thread(target=commit_elsewhere)
        thread.start()
        thread.join(timeout=10)

    before_write(DispatchPolicy, race)
    data = policy_post("Science US", region="us_east", primary="openai-gpt4", fallbacks=["anthropic-claude"])
    response = staff_client.post(reverse("admin:policies_dispatchpolicy_add"), data)
    assert_refused(response, "Another active policy now has the same subject", "The active policy &#x27;Rival&#x27;")
    assert DispatchPolicy.objects.filter(name="Rival").exists()  # theirs, committed
    assert not DispatchPolicy.objects.filter(name="Science US").exists()
    assert no_policy_history("Science US")
