"""Spend budgets per API client: reported outcomes spend it, then dispatch refuses or routes to the cheapest.

On PostgreSQL with Redis (the rate counters), through the API as a client sees it."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from api.testing import keyed_api
from audit.models import ClientSpend, DispatchLog
from clients.models import ApiClient, ClientBudget
from clients.services import client_budget_set
from policies.tests.factories import make_policy, make_provider, make_rule

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

MATH = {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}
# At the dear provider's prices: 1000 * 0.03 / 1000 + 200 * 0.06 / 1000 = 0.042 (84 % of 0.05).
REPORT = {"success": True, "latency_ms": 300, "input_tokens": 1000, "output_tokens": 200}


@pytest.fixture
def world(require_redis):
    dear = make_provider("dear", cost_per_1k_input_tokens=Decimal("0.03"), cost_per_1k_output_tokens=Decimal("0.06"))
    cheap = make_provider("cheap", cost_per_1k_input_tokens=Decimal("0.001"), cost_per_1k_output_tokens=Decimal("0"))
    free = make_provider("free", cost_per_1k_input_tokens=Decimal("0"), cost_per_1k_output_tokens=Decimal("0"))
    make_rule("us_east", blocked=[free])  # the cheapest of all, and blocked in us_east
    make_policy("Maths", dear, free, cheap, subject="mathematics", grade_band="elementary")
    return {"dear": dear, "cheap": cheap, "free": free}


def budgeted(on_exhausted: str, amount: str = "0.05"):
    api, client, _ = keyed_api("dispatch", "outcome")
    client_budget_set(client=client, amount=Decimal(amount), period="day", on_exhausted=on_exhausted)
    return api, client


def dispatch(api) -> tuple[int, dict]:
    response = api.post(f"/dispatch?request_id={uuid.uuid4()}", MATH, format="json")
    return response.status_code, response.json()


def spend(api, body: dict) -> None:
    response = api.post(f"/dispatch/{body['request_id']}/outcome", REPORT, format="json")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("on_exhausted", ["refuse", "cheapest"])
def test_a_budget_of_a_few_cents_is_spent_by_reported_outcomes(world, on_exhausted):
    api, client = budgeted(on_exhausted)
    status, first = dispatch(api)
    assert status == 200 and first["provider_slug"] == "dear"
    assert first["budget"] == {"period": "day", "limit": 0.05, "spent": 0.0, "remaining": 0.05, "exhausted": False}
    spend(api, first)
    status, second = dispatch(api)
    assert status == 200 and second["provider_slug"] == "dear"
    assert second["budget"]["spent"] == 0.042 and second["budget"]["remaining"] == pytest.approx(0.008)
    spend(api, second)  # 0.084: spent
    status, third = dispatch(api)
    assert third["budget"] == {"period": "day", "limit": 0.05, "spent": 0.084, "remaining": 0.0, "exhausted": True}
    row = DispatchLog.objects.get(request_id=third["request_id"])
    if on_exhausted == "refuse":
        assert status == 422 and third["error"]["code"] == "budget_exhausted"
        assert "day budget of 0.05" in third["error"]["message"]
        assert (row.outcome, row.refusal_code, row.status_code, row.provider_id) == (
            "refused",
            "budget_exhausted",
            422,
            None,
        )
    else:
        assert status == 200 and third["provider_slug"] == "cheap"  # never free: blocked in us_east
        assert "cheapest compliant provider" in third["explanation"]["budget"]
        assert third["explanation"]["passed_over"][-1]["reason"] == "not_cheapest"
        assert (row.outcome, row.provider_id) == ("accepted", world["cheap"].pk)
    assert row.response == DispatchLog.objects.get(pk=row.pk).response  # the body served is the one audited
    spent = ClientSpend.objects.get(client_ref=client.name, period="day")
    assert (spent.spent, spent.outcomes) == (Decimal("0.084"), 2)


def test_raising_the_budget_serves_again(world):
    api, client = budgeted("refuse", amount="0.04")
    status, body = dispatch(api)
    spend(api, body)
    assert dispatch(api)[0] == 422
    client_budget_set(client=client, amount=Decimal("1"), period="day", on_exhausted="refuse")
    status, body = dispatch(api)
    assert status == 200 and body["budget"]["exhausted"] is False and body["budget"]["remaining"] == 0.958


def test_a_client_without_a_budget_has_no_budget_key_and_costs_no_spend_query(world):
    api, _, _ = keyed_api("dispatch", "outcome")
    dispatch(api)  # warm: the key is cached
    with CaptureQueriesContext(connection) as queries:
        status, body = dispatch(api)
    assert status == 200 and "budget" not in body
    assert not [q for q in queries.captured_queries if "audit_client_spend" in q["sql"]]
    budgeted_api, _ = budgeted("refuse")
    dispatch(budgeted_api)
    with CaptureQueriesContext(connection) as queries:
        dispatch(budgeted_api)
    assert len([q for q in queries.captured_queries if "audit_client_spend" in q["sql"]]) == 1


def test_refused_for_compliance_still_shows_the_budget(world):
    api, _ = budgeted("cheapest")
    response = api.post(f"/dispatch?request_id={uuid.uuid4()}", {**MATH, "region": "sa_east"}, format="json")
    assert response.status_code == 422 and response.json()["budget"]["exhausted"] is False


def test_create_api_client_with_a_budget(capsys):
    call_command("create_api_client", "budgeted-app", "--scopes", "dispatch", "--budget", "25/month")
    budget = ClientBudget.objects.get(client__name="budgeted-app")
    assert (budget.amount, budget.period, budget.on_exhausted) == (Decimal("25"), "month", "refuse")
    assert budget.history.count() == 1
    call_command(
        "create_api_client",
        "cheap-app",
        "--scopes",
        "dispatch",
        "--budget",
        "0.50/day",
        "--on-budget-exhausted",
        "cheapest",
    )
    assert ClientBudget.objects.get(client__name="cheap-app").on_exhausted == "cheapest"


@pytest.mark.parametrize("budget", ["25", "25/week", "0/day", "-1/day", "1.1234567/day", "abc/month"])
def test_create_api_client_refuses_a_bad_budget_and_writes_nothing(budget):
    with pytest.raises(CommandError, match=r"AMOUNT/PERIOD|above 0"):
        call_command("create_api_client", "bad-budget", "--scopes", "dispatch", f"--budget={budget}")
    assert not ApiClient.objects.filter(name="bad-budget").exists()


def test_create_api_client_refuses_an_unknown_exhaustion_mode():
    with pytest.raises(CommandError, match="invalid choice"):
        call_command(
            "create_api_client", "bad-mode", "--scopes", "dispatch", "--budget", "1/day", "--on-budget-exhausted", "ask"
        )


def test_the_dashboard_shows_spend_per_client(world, admin_client):
    api, client = budgeted("refuse")
    spend(api, dispatch(api)[1])
    page = admin_client.get("/admin/audit/dashboard/").content.decode()
    table = page.split('id="client-spend"', 1)[1].split("</table>", 1)[0]
    assert f"<td>{client.name}</td><td>0.042 USD</td><td>0.042 USD</td><td>1</td>" in table


def test_a_teacher_override_on_a_spent_budget_is_refused_and_audited(require_redis):
    from authoring.demo import demo_teacher_load, demo_world_load

    demo_world_load()
    demo_teacher_load()
    api, client, _ = keyed_api("dispatch", "override", "outcome", teachers=["demo-teacher"])
    client_budget_set(client=client, amount=Decimal("0.000001"), period="month", on_exhausted="cheapest")
    status, body = dispatch(api)
    assert status == 200
    assert api.post(f"/dispatch/{body['request_id']}/outcome", REPORT, format="json").status_code == 201  # spent
    override = {
        **MATH,
        "teacher_override": True,
        "override_provider_id": "anthropic-claude",
        "override_reason": "Student needs a model that explains fractions visually",
        "teacher_id": "demo-teacher",
    }
    response = api.post(f"/dispatch?request_id={uuid.uuid4()}", override, format="json")
    body = response.json()
    assert response.status_code == 422 and body["error"]["code"] == "budget_exhausted" and body["teacher_override"]
    assert body["budget"]["exhausted"] is True and body["budget"]["period"] == "month"
    row = DispatchLog.objects.get(request_id=body["request_id"])
    assert (row.is_override, row.refusal_code) == (True, "budget_exhausted")
