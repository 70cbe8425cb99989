"""Issue 16 outside the engine: agreements as data (constraints, history, the stamp), policy-as-code,
authoring validation by grade band, the API's bodies, the agreements admin and the compliance
calendar on the admin index. The demo world: us_east requires agreements and COPPA only under 13;
OpenAI (13+ by its terms) has an agreement covering students from 5, ending in 20 days."""

from __future__ import annotations

import copy
import datetime

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from authoring import services
from authoring.calendar import compliance_calendar
from authoring.demo import demo_world_load
from authoring.documents import DocumentInvalid, document_export, document_import
from authoring.validators import AuthoringError
from common.clock import service_today
from policies.models import DispatchPolicy, RegionalRouting
from policies.snapshot import snapshot_build
from policies.snapshot.stamp import stamp_version
from providers.agreements import AgreementStatus, agreement_status
from providers.models import Agreement, ModelProvider

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2026, 11, 30)


@pytest.fixture
def demo():
    demo_world_load()


def test_an_agreement_cannot_expire_before_it_is_signed_nor_share_a_reference(demo):
    provider = ModelProvider.objects.get(slug="openai-gpt4")
    with pytest.raises(IntegrityError), transaction.atomic():
        Agreement.objects.create(
            reference="Backwards", provider=provider, signed_on=TODAY, expires_on=TODAY - datetime.timedelta(days=1)
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Agreement.objects.create(reference="NDPA 2026 — OpenAI", provider=provider, signed_on=TODAY)


@pytest.mark.django_db(transaction=True)  # the stamp moves once per transaction: commit each write
def test_saving_an_agreement_moves_the_stamp_and_keeps_history(demo):
    agreement = Agreement.objects.get(reference="NDPA 2026 — OpenAI")
    before, versions = stamp_version(), agreement.history.count()
    agreement.min_age_covered = 6
    services.authored_save(instance=agreement, reason="counsel narrowed it")
    assert stamp_version() > before
    assert agreement.history.count() == versions + 1
    assert agreement.history.latest().history_change_reason == "counsel narrowed it"


@pytest.mark.parametrize(
    ("signed", "expires", "status"),
    [
        (TODAY + datetime.timedelta(days=1), None, AgreementStatus.NOT_YET_SIGNED),
        (TODAY - datetime.timedelta(days=9), TODAY - datetime.timedelta(days=1), AgreementStatus.EXPIRED),
        (TODAY - datetime.timedelta(days=9), TODAY, AgreementStatus.EXPIRING),  # its last day
        (TODAY - datetime.timedelta(days=9), TODAY + datetime.timedelta(days=29), AgreementStatus.EXPIRING),
        (TODAY - datetime.timedelta(days=9), TODAY + datetime.timedelta(days=30), AgreementStatus.IN_FORCE),
        (TODAY, None, AgreementStatus.IN_FORCE),
    ],
)
def test_agreement_status(signed, expires, status):
    assert agreement_status(signed_on=signed, expires_on=expires, today=TODAY) == status


# --- policy as code ----------------------------------------------------------------------------


def test_export_has_the_issues_keys_and_round_trips(demo):
    document = document_export()
    openai = next(a for a in document["agreements"] if a["provider"] == "openai-gpt4")
    assert set(openai) == {
        "reference",
        "provider",
        "regions",
        "signed_on",
        "expires_on",
        "min_age_covered",
        "document_url",
        "notes",
    }
    assert openai["expires_on"] == (service_today() + datetime.timedelta(days=20)).isoformat()
    assert next(p for p in document["providers"] if p["slug"] == "anthropic-claude")["minimum_user_age"] == 18
    us_east = next(r for r in document["regions"] if r["region"] == "us_east")
    assert (us_east["agreement_required"], us_east["under_13_frameworks"]) == (True, ["COPPA"])
    report = document_import(copy.deepcopy(document))
    assert report.changes == []
    assert document_export() == document


def test_an_imported_agreement_is_created_then_matched_on_reference(demo):
    document = document_export()
    document["agreements"].append(
        {
            "reference": "SOPPA — AWS",
            "provider": "aws-bedrock",
            "regions": ["us_west"],
            "signed_on": "2026-09-01",
            "expires_on": None,
            "min_age_covered": 13,
            "document_url": "",
            "notes": "Illinois SOPPA",
        }
    )
    assert document_import(copy.deepcopy(document)).changes == ["created agreement 'SOPPA — AWS'"]
    document["agreements"][-1]["min_age_covered"] = 11
    assert document_import(document).changes == ["updated agreement 'SOPPA — AWS' (min_age_covered)"]
    assert Agreement.objects.get(reference="SOPPA — AWS").min_age_covered == 11


def test_an_old_document_without_the_new_keys_still_imports(demo):
    document = document_export()
    del document["agreements"]
    for provider in document["providers"]:
        del provider["minimum_user_age"]
    for rule in document["regions"]:
        del rule["agreement_required"], rule["under_13_frameworks"]
    report = document_import(document)
    assert report.changes == []  # absent keys leave what is there
    assert "agreement NDPA 2026 — OpenAI" in report.not_in_document


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"party": "x"}, "party: Unknown field"),
        ({"expires_on": "2020-01-01"}, "expires_on: Must be on or after signed_on."),
        ({"signed_on": "30/11/2026"}, "signed_on"),
        ({"provider": "nobody"}, "unknown provider(s) nobody"),
        ({"regions": ["mars"]}, "regions"),
        ({"min_age_covered": -1}, "min_age_covered"),
    ],
)
def test_a_bad_agreement_entry_is_named_and_nothing_is_written(demo, change, message):
    document = document_export()
    document["agreements"][0].update(change)
    before = list(Agreement.objects.values_list("reference", "min_age_covered", "expires_on"))
    with pytest.raises(DocumentInvalid) as refused:
        document_import(document)
    assert "agreements[0]" in str(refused.value) and message in str(refused.value)
    assert list(Agreement.objects.values_list("reference", "min_age_covered", "expires_on")) == before


# --- authoring validation ----------------------------------------------------------------------


def test_a_region_scoped_policy_needs_a_provider_compliant_for_its_band(demo):
    openai = ModelProvider.objects.get(slug="openai-gpt4")
    young = DispatchPolicy(
        name="Early science - US East",
        subject="science",
        grade_band="early_childhood",
        region="us_east",
        primary_provider=openai,
    )
    with pytest.raises(AuthoringError) as refused:
        services.policy_save(policy=young, fallbacks=[], templates=[], reason="new")
    assert "starts at 3" in str(refused.value.problems)  # OpenAI's agreement covers 5 and up
    teens = DispatchPolicy(
        name="High science - US East", subject="science", grade_band="high", region="us_east", primary_provider=openai
    )
    assert services.policy_save(policy=teens, fallbacks=[], templates=[], reason="new")


# --- API -----------------------------------------------------------------------------------------


def test_decisions_and_validation_name_the_agreement_relied_on(demo, keyed_api):
    body = keyed_api.post(
        "/dispatch", {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}, format="json"
    ).json()
    expires = (service_today() + datetime.timedelta(days=20)).isoformat()
    assert body["provider_slug"] == "openai-gpt4"
    assert body["agreement"] == {"reference": "NDPA 2026 — OpenAI", "expires_on": expires}
    eu = keyed_api.post(
        "/dispatch", {"subject": "mathematics", "grade_band": "elementary", "region": "eu_west"}, format="json"
    ).json()
    assert eu["provider_slug"] == "local-eu-provider" and eu["agreement"] is None  # none needed there
    refused = keyed_api.post(
        "/dispatch", {"subject": "science", "grade_band": "early_childhood", "region": "us_east"}, format="json"
    )
    assert refused.status_code == 422 and refused.json()["agreement"] is None
    passed = refused.json()["explanation"]["passed_over"]
    assert {"openai-gpt4": "below_provider_minimum_age"}.items() <= {s["name"]: s["reason"] for s in passed}.items()
    valid = keyed_api.get(
        "/policies/validate", {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}
    ).json()
    assert valid["agreement"] == {"reference": "NDPA 2026 — OpenAI", "expires_on": expires}


def test_providers_takes_an_optional_grade_band(demo, keyed_api):
    high = keyed_api.get("/providers", {"region": "us_east", "grade_band": "high"}).json()
    assert "openai-gpt4" in {p["slug"] for p in high["providers"]}
    bad = keyed_api.get("/providers", {"region": "us_east", "grade_band": "toddlers"})
    assert bad.status_code == 400 and "grade_band" in bad.json()["error"]["fields"]


def test_an_override_uses_the_same_rules(demo):
    """COPPA is required under 13 only: a provider without it may serve high school, not elementary."""
    copilot = ModelProvider.objects.get(slug="microsoft-copilot")
    copilot.compliance_frameworks = ["FERPA", "ISO27001"]
    services.authored_save(instance=copilot, reason="COPPA certification lapsed")
    world = snapshot_build()
    from policies.engine import why_not

    assert why_not(world, str(copilot.pk), "us_east", "high") is None
    assert (why_not(world, str(copilot.pk), "us_east", "elementary") or ("",))[0] == "under_13_framework_missing"


# --- admin ---------------------------------------------------------------------------------------


def test_the_agreements_list_shows_status_and_filters_by_provider_and_region(staff_client_demo):
    url = reverse("admin:providers_agreement_changelist")
    page = staff_client_demo.get(url).content.decode()
    assert "NDPA 2026 — OpenAI" in page and "Expiring within 30 days" in page and "every region" in page
    openai = ModelProvider.objects.get(slug="openai-gpt4")
    only = staff_client_demo.get(url, {"provider__id__exact": str(openai.pk)}).content.decode()
    assert "NDPA 2026 — OpenAI" in only and "NDPA 2026 — Anthropic" not in only
    west = staff_client_demo.get(url, {"covers": "us_west"}).content.decode()
    assert "CSDPA — Google Gemini" in west and "Ed Law 2-d — US-Only LLM" in west  # every region counts
    assert "NDPA 2026 — OpenAI" not in west
    expiring = staff_client_demo.get(url, {"status": "expiring"}).content.decode()
    assert "NDPA 2026 — OpenAI" in expiring and "NDPA 2026 — Anthropic" not in expiring


def test_the_admin_index_shows_the_compliance_calendar_with_what_each_ending_costs(staff_client_demo):
    page = staff_client_demo.get(reverse("admin:index")).content.decode()
    assert 'id="compliance-calendar"' in page
    agreement = Agreement.objects.get(reference="NDPA 2026 — OpenAI")
    assert reverse("admin:providers_agreement_change", args=[agreement.pk]) in page  # the renew link
    entries = compliance_calendar(snapshot=snapshot_build(), today=service_today())
    assert [e.reference for e in entries] == ["NDPA 2026 — OpenAI"]
    lost = {(loss.subject, loss.grade_band, loss.region) for loss in entries[0].losses}
    assert ("science", "elementary", "us_east") in lost  # only OpenAI serves it: us_east requires agreements
    assert ("mathematics", "elementary", "us_east") not in lost  # Anthropic's agreement keeps it
    assert ("science", "early_childhood", "us_east") not in lost  # already a gap today (5 and up)
    assert f"<strong>{len(lost)}</strong>" in page


def test_the_calendar_runs_the_what_if_at_the_ending_date(demo):
    rule = RegionalRouting.objects.get(region="us_east")
    rule.agreement_required = False
    services.routing_rule_save(
        rule=rule, allowed=list(rule.allowed_providers.all()), blocked=[], reason="agreements optional"
    )
    entries = compliance_calendar(snapshot=snapshot_build(), today=service_today())
    lost = {(loss.subject, loss.grade_band, loss.region) for loss in entries[0].losses}
    assert ("science", "elementary", "us_east") in lost  # OpenAI is 13+ without its agreement
    assert ("science", "high", "us_east") not in lost  # 14: its own terms suffice


def agreement_form(agreement: Agreement, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "reference": agreement.reference,
        "provider": str(agreement.provider_id),
        "regions": list(agreement.regions),
        "signed_on": agreement.signed_on.isoformat(),
        "expires_on": agreement.expires_on.isoformat() if agreement.expires_on else "",
        "min_age_covered": agreement.min_age_covered,
        "document_url": agreement.document_url,
        "notes": agreement.notes,
        "change_reason": "counsel's review",
    }
    data.update(changes)
    return data


def test_an_agreement_form_refuses_backwards_dates_and_asks_before_removing_coverage(staff_client_demo):
    openai = Agreement.objects.get(reference="NDPA 2026 — OpenAI")
    url = reverse("admin:providers_agreement_change", args=[openai.pk])
    yesterday = (service_today() - datetime.timedelta(days=1)).isoformat()
    backwards = staff_client_demo.post(
        url, agreement_form(openai, signed_on=service_today().isoformat(), expires_on=yesterday)
    )
    assert backwards.status_code == 200 and "cannot expire before it is signed" in backwards.content.decode()
    ended = staff_client_demo.post(url, agreement_form(openai, expires_on=yesterday))
    assert ended.status_code == 200 and "context(s) with no compliant provider" in ended.content.decode()
    openai.refresh_from_db()
    assert openai.expires_on == service_today() + datetime.timedelta(days=20)  # nothing saved
    confirmed = staff_client_demo.post(
        url, {**agreement_form(openai, expires_on=yesterday), "confirm_coverage_loss": "on"}
    )
    assert confirmed.status_code == 302
    openai.refresh_from_db()
    assert openai.expires_on.isoformat() == yesterday
    renewed = staff_client_demo.post(url, agreement_form(openai, expires_on="2030-06-30"))
    assert renewed.status_code == 302  # renewing removes nothing


def test_the_simulator_names_the_agreement_and_the_age_rule(staff_client_demo):
    url = reverse("admin:simulator")
    page = staff_client_demo.get(
        url, {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}
    ).content.decode()
    assert "NDPA 2026 — OpenAI (in force through" in page
    young = staff_client_demo.get(
        url, {"subject": "science", "grade_band": "early_childhood", "region": "us_east"}
    ).content.decode()
    assert "below_provider_minimum_age" in young


def test_a_renewal_goes_through_a_change_request_like_any_authored_change(demo, django_user_model):
    """Agreements are governed: a renewal is proposed, reviewed by another administrator, then live."""
    from django.contrib.auth.models import Permission

    from authoring.changes import change_propose, change_review
    from authoring.documents import agreement_entry

    perm = Permission.objects.get(codename="review_changerequest")
    alice, bob = (django_user_model.objects.create_user(n, password="x", is_staff=True) for n in ("alice", "bob"))
    bob.user_permissions.add(perm)
    bob = django_user_model.objects.get(pk=bob.pk)
    openai = Agreement.objects.get(reference="NDPA 2026 — OpenAI")
    entry = {**agreement_entry(openai), "expires_on": "2030-06-30"}
    change = change_propose(document={"agreements": [entry]}, reason="renewed by counsel", author=alice)
    assert "agreement 'NDPA 2026 — OpenAI' (expires_on)" in change.summary
    openai.refresh_from_db()
    assert openai.expires_on != datetime.date(2030, 6, 30)  # nothing live until reviewed
    change_review(change=change, reviewer=bob, approve=True, reason="checked the document")
    openai.refresh_from_db()
    assert openai.expires_on == datetime.date(2030, 6, 30)
