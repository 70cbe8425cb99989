"""The dashboard's from/to range (issue 18, finding 8): the selector bounds both ends in SQL, the
CSV honours the same range, and a bad range is a form error naming the field, never a 500."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from audit.rollups import rollup_fold
from audit.selectors import Window, analytics, dashboard_data, dispatch_counts
from audit.tests.factories import log_make

pytestmark = pytest.mark.django_db


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


@pytest.fixture
def spread():
    """One refused dispatch per day on the 10 days ending 5 days ago, and one today."""
    today = timezone.now().astimezone(dt.UTC).date()
    days = [today - dt.timedelta(days=n) for n in range(5, 15)]
    for day in [*days, today]:
        log_make(created_at=_at(day), region="eu_west")
    return today, days


@pytest.mark.parametrize("folded", [False, True], ids=["live rows", "folded rollups"])
def test_a_range_counts_only_its_days_both_ends_included(spread, folded):
    _, days = spread
    if folded:
        rollup_fold(wait=True)
    first, last = days[-1] + dt.timedelta(days=2), days[0] - dt.timedelta(days=1)  # 7 of the 10 days
    window = Window(None, (last - first).days + 1, last)
    assert (window.first_day, window.last_day) == (first, last)
    total = sum(r["count"] for r in dispatch_counts(window) if r["dimension"] == "total")
    assert total == 7  # today's dispatch and the days outside are not counted
    summary = analytics(region=None, days=window.days, last=last)
    assert (summary["first_day"], summary["last_day"], summary["total_requests"]) == (
        first.isoformat(),
        last.isoformat(),
        7,
    )
    data = dashboard_data(region=None, days=window.days, last=last)
    assert data["days"][0] == first.isoformat() and data["days"][-1] == last.isoformat()
    assert sum(data["refused"]) == 7
    # without `last`, the window still ends today
    assert analytics(region=None, days=1)["total_requests"] == 1


def test_the_chart_csv_honours_the_range(admin_client, spread):
    _, days = spread
    first, last = days[-1], days[-1] + dt.timedelta(days=2)
    response = admin_client.get(
        "/admin/audit/dashboard/chart.csv", {"chart": "per_day", "start": first.isoformat(), "end": last.isoformat()}
    )
    assert response.status_code == 200
    assert f"dashboard_per_day_all_{first.isoformat()}_{last.isoformat()}.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [
        ["day", "accepted", "refused"],
        *[[(first + dt.timedelta(days=n)).isoformat(), "0", "1"] for n in range(3)],
    ]


def test_the_page_shows_the_range_and_its_csv_links_carry_it(admin_client, spread):
    _, days = spread
    first, last = days[3], days[0]
    page = admin_client.get("/admin/audit/dashboard/", {"start": first.isoformat(), "end": last.isoformat()})
    assert page.status_code == 200
    text = page.content.decode()
    assert f"From <strong>{first.isoformat()}</strong> to <strong>{last.isoformat()}</strong>" in text
    assert f"chart=per_day&amp;start={first.isoformat()}&amp;end={last.isoformat()}" in text


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ({"start": "2026-03-10", "end": "2026-03-01"}, "end", "must be on or after From (2026-03-10)"),
        ({"start": "2025-01-01", "end": "2026-01-02"}, "end", "at most 366 days; this one is 367"),
        ({"start": "2026-03-01"}, "end", "Give both From and To"),
        ({"end": "2026-03-01"}, "start", "Give both From and To"),
        ({"start": "yesterday", "end": "2026-03-01"}, "start", "Enter a valid date"),
    ],
)
def test_a_bad_range_is_a_form_error_not_a_500(admin_client, query, field, words):
    page = admin_client.get("/admin/audit/dashboard/", query)
    assert page.status_code == 400
    assert words in " ".join(page.context["form"].errors[field])
    assert words.split(" (")[0] in page.content.decode()
    csv_response = admin_client.get("/admin/audit/dashboard/chart.csv", {"chart": "per_day", **query})
    assert csv_response.status_code == 400 and f"{field}: " in csv_response.content.decode()


def test_a_full_leap_year_is_allowed(admin_client):
    page = admin_client.get("/admin/audit/dashboard/", {"start": "2024-01-01", "end": "2024-12-31"})
    assert page.status_code == 200 and len(page.context["data"]["days"]) == 366
