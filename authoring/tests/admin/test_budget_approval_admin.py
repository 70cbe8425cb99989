"""CHANGE_APPROVAL=required on the API client's page: a budget change becomes a change request
(why is required), nothing changes until another administrator approves, and the rest of the page
(access grants, not governed) is saved at once as before."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from authoring.models import ChangeRequest, ChangeState
from clients.models import ApiClient, ClientBudget
from clients.services import api_client_create, client_budget_set

pytestmark = pytest.mark.django_db

NO_AUTHORISATIONS = {"teacher_authorisations-TOTAL_FORMS": "0", "teacher_authorisations-INITIAL_FORMS": "0"}


@pytest.fixture
def approval(settings):
    settings.CHANGE_APPROVAL = "required"


@pytest.fixture
def admins(django_user_model):
    perms = Permission.objects.filter(content_type__app_label__in=["clients", "authoring"])

    def make(name):
        user = django_user_model.objects.create_user(name, password="x", is_staff=True)
        user.user_permissions.add(*perms)
        return user

    return make("alice"), make("bob")


@pytest.fixture
def school_app() -> ApiClient:
    client, _ = api_client_create(name="school-app", scopes=["dispatch"])
    client_budget_set(client=client, amount=Decimal("25"), period="month", on_exhausted="refuse")
    return client


def post(http, client: ApiClient, **fields: str):
    data = {"description": "", "scopes": ["dispatch"], "rate": "", "is_active": "on", **NO_AUTHORISATIONS}
    data.update(budget_amount="25", budget_period="month", on_budget_exhausted="refuse")
    data.update(fields)
    return http.post(reverse("admin:clients_apiclient_change", args=[client.pk]), data)


def terms(client: ApiClient) -> tuple[Decimal, str, str] | None:
    budget = ClientBudget.objects.filter(client=client).first()
    return None if budget is None else (budget.amount, budget.period, budget.on_exhausted)


def test_a_budget_save_becomes_a_proposal_that_another_admin_approves(approval, admins, school_app, client):
    alice, bob = admins
    client.force_login(alice)
    page = client.get(reverse("admin:clients_apiclient_change", args=[school_app.pk])).content.decode()
    assert "Why this budget change?" in page
    response = post(
        client, school_app, budget_amount="0.5", budget_period="day", change_reason="pilot week", rate="600/min"
    )
    change = ChangeRequest.objects.get()
    assert response.status_code == 302, response.content.decode()[:3000]
    assert terms(school_app) == (Decimal("25"), "month", "refuse")  # nothing of the budget is live
    school_app.refresh_from_db()
    assert school_app.rate == "600/min"  # the client's access settings are not governed: saved at once
    assert change.author == alice and change.reason == "pilot week" and change.state == ChangeState.PROPOSED
    assert change.document == {
        "budgets": [{"client": "school-app", "amount": 0.5, "period": "day", "on_exhausted": "refuse"}]
    }
    shown = client.get(response["Location"]).content.decode()
    assert f"change request #{change.pk}" in shown and "the budget stays as it is" in shown

    review = reverse("admin:authoring_changerequest_change", args=[change.pk])
    text = client.get(review).content.decode()
    assert "school-app" in text and "0.5" in text
    refused = client.post(review, {"decision": "approve", "review_reason": "mine"}).content.decode()
    assert "You cannot review your own change request" in refused
    assert terms(school_app) == (Decimal("25"), "month", "refuse")

    client.force_login(bob)
    assert client.post(review, {"decision": "approve", "review_reason": "ok for a week"}).status_code == 302
    change.refresh_from_db()
    assert change.state == ChangeState.PUBLISHED
    assert terms(school_app) == (Decimal("0.5"), "day", "refuse")
    row = ClientBudget.history.filter(client_id=school_app.pk).latest("history_date")
    assert row.history_user == bob and "pilot week" in row.history_change_reason
    assert "alice" in row.history_change_reason
    page = client.get(reverse("admin:clients_apiclient_change", args=[school_app.pk])).content.decode()
    assert "pilot week" in page  # the budget history shows why


def test_a_budget_change_without_a_reason_is_a_form_error_and_writes_nothing(approval, admins, school_app, client):
    alice, _ = admins
    client.force_login(alice)
    response = post(client, school_app, budget_amount="1", rate="600/min")
    assert response.status_code == 200
    assert "Say why you are changing this budget" in response.content.decode()
    school_app.refresh_from_db()
    assert not ChangeRequest.objects.exists() and school_app.rate == ""
    assert terms(school_app) == (Decimal("25"), "month", "refuse")


def test_a_bad_effective_at_is_a_form_error(approval, admins, school_app, client):
    client.force_login(admins[0])
    response = post(client, school_app, budget_amount="1", change_reason="r", change_effective_at="soon")
    assert response.status_code == 200 and "a date and time (UTC)" in response.content.decode()
    assert not ChangeRequest.objects.exists()


def test_removing_a_budget_is_proposed_too(approval, admins, school_app, client):
    client.force_login(admins[0])
    assert post(client, school_app, budget_amount="", change_reason="no cap for this app").status_code == 302
    change = ChangeRequest.objects.get()
    assert change.document == {"budgets": [{"client": "school-app", "amount": None}]}
    assert change.summary == "removed the budget of API client school-app"
    assert terms(school_app) == (Decimal("25"), "month", "refuse")


def test_a_save_that_leaves_the_budget_as_it_is_proposes_nothing(approval, admins, school_app, client):
    client.force_login(admins[0])
    assert post(client, school_app, description="maths app").status_code == 302
    school_app.refresh_from_db()
    assert school_app.description == "maths app" and not ChangeRequest.objects.exists()


def test_a_new_client_with_a_budget_is_created_and_its_budget_proposed(approval, admins, client):
    client.force_login(admins[0])
    data = {"name": "quiz-app", "description": "", "scopes": ["dispatch"], "rate": "", "is_active": "on"}
    data.update(NO_AUTHORISATIONS, budget_amount="3", budget_period="day", on_budget_exhausted="refuse")
    data["change_reason"] = "new quiz pilot"
    response = client.post(reverse("admin:clients_apiclient_add"), data)
    assert response.status_code == 200 and "New API key" in response.content.decode()  # the key, shown once
    quiz = ApiClient.objects.get(name="quiz-app")
    assert terms(quiz) is None
    assert ChangeRequest.objects.get().document["budgets"][0]["client"] == "quiz-app"


def test_without_approval_a_budget_save_is_live_at_once(admins, school_app, client):
    client.force_login(admins[0])
    page = client.get(reverse("admin:clients_apiclient_change", args=[school_app.pk])).content.decode()
    assert "Why this budget change?" not in page
    assert post(client, school_app, budget_amount="2", budget_period="day").status_code == 302
    assert terms(school_app) == (Decimal("2"), "day", "refuse") and not ChangeRequest.objects.exists()
