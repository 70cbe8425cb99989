"""A client's spend budget authored in admin: set, changed and removed with history; bad input is a form error."""

from __future__ import annotations

from decimal import Decimal

import pytest

from api.testing import keyed_api
from clients.models import ApiClient, ClientBudget

pytestmark = pytest.mark.django_db

NO_AUTHORISATIONS = {"teacher_authorisations-TOTAL_FORMS": "0", "teacher_authorisations-INITIAL_FORMS": "0"}


def change(admin_client, client: ApiClient, **budget: str):
    return admin_client.post(
        f"/admin/clients/apiclient/{client.pk}/change/",
        {"description": "", "scopes": ["dispatch"], "rate": "", "is_active": "on", **budget, **NO_AUTHORISATIONS},
    )


def test_admin_sets_changes_and_removes_a_budget_with_history(admin_client):
    _, client, _ = keyed_api("dispatch")
    response = change(admin_client, client, budget_amount="0.05", budget_period="day", on_budget_exhausted="cheapest")
    assert response.status_code == 302, response.content.decode()[:2000]
    budget = ClientBudget.objects.get(client=client)
    assert (budget.amount, budget.period, budget.on_exhausted) == (Decimal("0.05"), "day", "cheapest")
    change(admin_client, client, budget_amount="25", budget_period="month", on_budget_exhausted="refuse")
    change(admin_client, client, budget_amount="")  # blank: no budget
    assert not ClientBudget.objects.filter(client=client).exists()
    page = admin_client.get(f"/admin/clients/apiclient/{client.pk}/change/").content.decode()
    assert "Budget history" in page and "removed" in page
    history = list(ClientBudget.history.filter(client_id=client.pk).order_by("history_date"))
    assert [h.history_type for h in history] == ["+", "~", "-"]
    assert all(h.history_user is not None and h.history_user.username == "admin" for h in history)
    assert (history[1].amount, history[1].period) == (Decimal("25"), "month")


def test_the_change_page_shows_the_budget_it_has(admin_client):
    _, client, _ = keyed_api("dispatch")
    change(admin_client, client, budget_amount="1.5", budget_period="day", on_budget_exhausted="refuse")
    page = admin_client.get(f"/admin/clients/apiclient/{client.pk}/change/").content.decode()
    assert (
        'value="1.500000"' in page
        and "1.5/day (refuse)" in admin_client.get("/admin/clients/apiclient/").content.decode()
    )


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        ({"budget_amount": "0"}, "Ensure this value is greater than or equal to"),
        ({"budget_amount": "-3"}, "Ensure this value is greater than or equal to"),
        ({"budget_amount": "1.1234567"}, "decimal places"),
        ({"budget_amount": "5", "budget_period": "week"}, "Select a valid choice"),
        ({"budget_amount": "5", "on_budget_exhausted": "ask"}, "Select a valid choice"),
    ],
)
def test_a_bad_budget_is_a_form_error_and_writes_nothing(admin_client, budget, message):
    _, client, _ = keyed_api("dispatch")
    response = change(admin_client, client, **budget)
    assert response.status_code == 200 and message in response.content.decode()
    assert not ClientBudget.objects.exists()
