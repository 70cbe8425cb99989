"""API clients' budgets as authored data: the `budgets` section of a policy document (export,
import, validation naming the key), and changes through change requests with their history."""

from __future__ import annotations

import copy
import io
import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command

from authoring.changes import GOVERNED, budget_change_propose, change_propose, change_review, history_reason
from authoring.demo import demo_world_load
from authoring.documents import DocumentInvalid, document_export, document_import, document_live_entries
from authoring.models import ChangeState
from clients.models import ApiClient, ClientBudget
from clients.services import api_client_create, client_budget_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def school_app() -> ApiClient:
    demo_world_load()
    client, _ = api_client_create(name="school-app", scopes=["dispatch"])
    client_budget_set(client=client, amount=Decimal("25"), period="month", on_exhausted="refuse")
    return client


@pytest.fixture
def people(django_user_model):
    perm = Permission.objects.get(codename="review_changerequest")
    users = []
    for name in ("alice", "bob"):
        user = django_user_model.objects.create_user(name, password="x", is_staff=True)
        user.user_permissions.add(perm)
        users.append(django_user_model.objects.get(pk=user.pk))
    return users


def terms(client: ApiClient) -> tuple[Decimal, str, str] | None:
    budget = ClientBudget.objects.filter(client=client).first()
    return None if budget is None else (budget.amount, budget.period, budget.on_exhausted)


def test_budgets_are_governed_by_change_requests():
    assert GOVERNED[ClientBudget].section == "budgets"


def test_export_has_each_budget_by_client_name_and_round_trips(school_app, tmp_path):
    document = document_export()
    entry = {"client": "school-app", "amount": 25.0, "period": "month", "on_exhausted": "refuse"}
    assert document["budgets"] == [entry]
    assert "key" not in json.dumps(document["budgets"])  # the client's name, never its key or hash
    path = tmp_path / "policies.json"
    call_command("export_policies", "--format", "json", "--output", str(path), stderr=io.StringIO())
    exported = json.loads(path.read_text())
    exported["budgets"][0].update(amount=0.5, period="day", on_exhausted="cheapest")
    path.write_text(json.dumps(exported))
    out = io.StringIO()
    call_command("import_policies", str(path), stdout=out)
    assert "Changed: updated budget of API client school-app (amount, period, on_exhausted)" in out.getvalue()
    assert terms(school_app) == (Decimal("0.5"), "day", "cheapest")
    assert document_import(document_export()).changes == []  # what is exported imports unchanged


def test_an_entry_creates_then_removes_a_budget_with_null(school_app):
    other, _ = api_client_create(name="quiz-app", scopes=["dispatch"])
    entry = {"client": "quiz-app", "amount": 1.25, "period": "day"}
    report = document_import({"budgets": [entry]}, reason="quiz pilot")
    assert report.changes == ["created budget of API client quiz-app"]
    assert terms(other) == (Decimal("1.25"), "day", "refuse")  # on_exhausted takes the model's default
    assert ClientBudget.history.filter(client_id=other.pk).latest("history_date").history_change_reason == "quiz pilot"
    report = document_import({"budgets": [{"client": "quiz-app", "amount": None}]}, reason="pilot over")
    assert report.changes == ["removed the budget of API client quiz-app"] and terms(other) is None
    removed = ClientBudget.history.filter(client_id=other.pk).latest("history_date")
    assert (removed.history_type, removed.history_change_reason) == ("-", "pilot over")
    assert terms(school_app) == (Decimal("25"), "month", "refuse")  # not in the document: left as is


def test_an_old_document_without_budgets_imports_unchanged(school_app):
    document = document_export()
    del document["budgets"]
    report = document_import(document)
    assert report.changes == [] and terms(school_app) == (Decimal("25"), "month", "refuse")
    assert "budget of API client school-app" in report.not_in_document
    assert ClientBudget.history.filter(client_id=school_app.pk).count() == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"amount": -3}, "amount: Must be above 0"),
        ({"amount": 0}, "amount: Must be above 0"),
        ({"amount": "lots"}, "amount: Must be a number above 0"),
        ({"amount": 1.1234567}, "amount: Must have at most 6 decimals"),
        ({"amount": 10**9}, "amount: Must be at most"),
        ({"period": "week"}, 'period: "week" is not allowed; allowed values: day, month'),
        ({"on_exhausted": "ask"}, 'on_exhausted: "ask" is not allowed; allowed values: refuse, cheapest'),
        ({"client": "nobody"}, "client: unknown API client 'nobody'"),
        ({"key": "mds_x"}, "key: Unknown field"),
    ],
)
def test_a_bad_budget_entry_is_named_and_nothing_is_written(school_app, change, message):
    document = document_export()
    document["budgets"][0].update(change)
    document["providers"][0]["name"] = "Renamed in the same document"
    with pytest.raises(DocumentInvalid) as refused:
        document_import(document)
    assert "budgets[0]" in str(refused.value) and message in str(refused.value)
    assert terms(school_app) == (Decimal("25"), "month", "refuse")
    assert document_export()["providers"][0]["name"] != "Renamed in the same document"  # all or nothing


def test_an_amount_without_a_period_is_refused_naming_period(school_app):
    with pytest.raises(DocumentInvalid, match=r"budgets\[0\] \(school-app\): period: This field is required"):
        document_import({"budgets": [{"client": "school-app", "amount": 5}]})


def test_a_budget_change_request_changes_nothing_until_approved_and_its_history_carries_the_reason(
    school_app, people, settings
):
    settings.CHANGE_APPROVAL = "required"
    alice, bob = people
    change = budget_change_propose(
        client=school_app,
        amount=Decimal("0.05"),
        period="day",
        on_exhausted="cheapest",
        reason="pilot schools only",
        author=alice,
    )
    assert change is not None and change.state == ChangeState.PROPOSED
    assert change.summary == "updated budget of API client school-app (amount, period, on_exhausted)"
    assert change.base == {
        "budgets/school-app": {"client": "school-app", "amount": 25.0, "period": "month", "on_exhausted": "refuse"}
    }
    assert terms(school_app) == (Decimal("25"), "month", "refuse")  # nothing live yet
    done = change_review(change=change, reviewer=bob, approve=True, reason="fine")
    assert done.state == ChangeState.PUBLISHED
    assert terms(school_app) == (Decimal("0.05"), "day", "cheapest")
    row = ClientBudget.history.filter(client_id=school_app.pk).latest("history_date")
    assert row.history_change_reason == history_reason(done) and row.history_user == bob
    assert "alice" in row.history_change_reason and "pilot schools only" in row.history_change_reason
    # The same budget again: nothing to propose.
    assert (
        budget_change_propose(
            client=school_app, amount=Decimal("0.05"), period="day", on_exhausted="cheapest", reason="r", author=alice
        )
        is None
    )


def test_a_budget_changed_since_the_proposal_makes_it_stale(school_app, people):
    alice, bob = people
    change = change_propose(
        document={"budgets": [{"client": "school-app", "amount": 30, "period": "month"}]}, reason="more", author=alice
    )
    client_budget_set(client=school_app, amount=Decimal("40"), period="month", on_exhausted="refuse")
    done = change_review(change=change, reviewer=bob, approve=True, reason="ok")
    assert done.state == ChangeState.FAILED
    assert "budgets school-app changed since this request was proposed" in done.publication_result
    assert terms(school_app) == (Decimal("40"), "month", "refuse")


def test_live_entries_name_a_client_without_a_budget_as_absent(school_app):
    live = document_live_entries({"budgets": [{"client": "school-app"}, {"client": "quiz-app"}]})
    assert live["budgets/school-app"]["amount"] == 25.0 and live["budgets/quiz-app"] is None


def test_create_api_client_with_a_budget_is_refused_while_approval_is_required(settings):
    settings.CHANGE_APPROVAL = "required"
    with pytest.raises(CommandError, match="A budget changes only through a change request"):
        call_command("create_api_client", "new-app", "--scopes", "dispatch", "--budget", "5/day", stdout=io.StringIO())
    assert not ApiClient.objects.filter(name="new-app").exists()
    call_command("create_api_client", "new-app", "--scopes", "dispatch", stdout=io.StringIO(), stderr=io.StringIO())
    assert ApiClient.objects.filter(name="new-app").exists()


def test_import_policies_without_propose_is_refused_for_budgets_too(school_app, tmp_path, settings):
    settings.CHANGE_APPROVAL = "required"
    document = copy.deepcopy({"budgets": [{"client": "school-app", "amount": 1, "period": "day"}]})
    path = tmp_path / "budget.json"
    path.write_text(json.dumps(document))
    with pytest.raises(CommandError, match="CHANGE_APPROVAL=required: nothing was imported"):
        call_command("import_policies", str(path))
    assert terms(school_app) == (Decimal("25"), "month", "refuse")
