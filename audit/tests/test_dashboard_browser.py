"""The dashboard in a real browser: charts drawn from our own static files; screenshots saved to artifacts/."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import asdict

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from audit.services import OutcomeReport, outcome_report
from audit.tests.factories import log_make
from policies.services import request_fingerprint
from policies.tests.factories import make_policy, make_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _world() -> None:
    rng = random.Random(5)
    providers = [make_provider(slug) for slug in ("openai-gpt4", "anthropic-claude", "eu-mistral")]
    policy = make_policy("P", providers[0])
    now = timezone.now()
    for _ in range(240):
        accepted = rng.random() < 0.88
        log = log_make(
            provider=rng.choice(providers) if accepted else None,
            policy=policy if accepted else None,
            created_at=now - dt.timedelta(minutes=rng.randint(0, 13 * 24 * 60)),
            region=rng.choice(["us_east", "us_east", "eu_west", "apac_singapore"]),
            subject=rng.choice(["mathematics", "science", "arts"]),
            is_override=accepted and rng.random() < 0.12,
            refusal_code="" if accepted else rng.choice(["no_compliant_provider", "region_not_configured"]),
        )
        if accepted:
            report = OutcomeReport(
                success=rng.random() < 0.93,
                latency_ms=int(rng.lognormvariate(6.5, 0.6)),
                input_tokens=rng.randint(100, 3000),
                output_tokens=rng.randint(50, 1500),
            )
            outcome_report(
                client_ref="", request_id=log.request_id, report=report, fingerprint=request_fingerprint(asdict(report))
            )


def test_dashboard_draws_every_chart_without_leaving_the_site(live_server, page, artifacts_dir):
    _world()
    User.objects.create_superuser("boss", "boss@example.org", "boss-password-123")
    foreign: list[str] = []
    page.on(
        "request",
        lambda r: None if r.url.startswith(live_server.url) or r.url.startswith("data:") else foreign.append(r.url),
    )
    page.goto(live_server.url + "/admin/login/?next=/admin/audit/dashboard/%3Fdays%3D14")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "boss-password-123")
    page.click("input[type=submit]")
    page.wait_for_selector("#chart-cost[data-drawn=true]")
    assert page.locator("canvas[data-drawn=true]").count() == 7
    page.set_viewport_size({"width": 1400, "height": 1900})
    page.screenshot(path=str(artifacts_dir / "dashboard.png"), full_page=True)
    page.select_option("#id_region", "eu_west")
    page.click("input[value=Apply]")
    page.wait_for_selector("#chart-cost[data-drawn=true]")
    assert "region=eu_west" in page.url
    page.screenshot(path=str(artifacts_dir / "dashboard-eu_west.png"), full_page=True)
    assert foreign == []

    # Issue 18, finding 8: over 365 days the bars are weekly and readable, counts have integer
    # ticks, days without traffic have no override rate, and a bar opens its audit rows.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + "/admin/audit/dashboard/?days=365")
    page.wait_for_selector("#chart-cost[data-drawn=true]")
    assert "to" in page.locator("#date-range").inner_text()
    per_day = page.evaluate(
        """() => { const c = Chart.getChart('chart-per-day');
                   return { labels: c.data.labels.length, ticks: c.scales.y.ticks.map(t => t.value),
                            width: c.getDatasetMeta(0).data[0].width }; }"""
    )
    assert per_day["labels"] == 53 and per_day["width"] >= 8  # weekly bars, not 365 hairlines
    assert all(float(t).is_integer() for t in per_day["ticks"])
    rates = page.evaluate("() => Chart.getChart('chart-override').data.datasets[0].data")
    assert None in rates and 0 not in rates[:300]  # no traffic a year ago: gaps, not 0 %
    page.screenshot(path=str(artifacts_dir / "dashboard-365-days.png"), full_page=True)

    page.goto(live_server.url + "/admin/audit/dashboard/?days=14")
    page.wait_for_selector("#chart-cost[data-drawn=true]")
    expected = page.evaluate(
        """() => { const c = Chart.getChart('chart-per-day'); const i = c.data.labels.length - 2;
                   return { day: c.data.labels[i], refused: c.data.datasets[1].data[i], index: i }; }"""
    )
    csv_text = page.request.get(live_server.url + "/admin/audit/dashboard/chart.csv?chart=per_day&days=14").text()
    assert f'"{expected["day"]}",' in csv_text and csv_text.splitlines()[0] == '"day","accepted","refused"'
    page.evaluate(
        "i => { const c = Chart.getChart('chart-per-day'); c.options.onClick(null, [{index: i, datasetIndex: 1}], c) }",
        expected["index"],
    )
    page.wait_for_url("**/admin/audit/dispatchlog/?*")
    assert "outcome=refused" in page.url and f"created_at__gte={expected['day']}" in page.url
    assert page.locator("#result_list tbody tr").count() == expected["refused"]
    page.screenshot(path=str(artifacts_dir / "dashboard-click-through.png"), full_page=True)

    # A from/to range (finding 8): two date inputs; the charts, the CSV links and a slice's
    # click-through all cover exactly those days; a reversed range is a form error, not a 500.
    today = timezone.now().astimezone(dt.UTC).date()
    first, last = today - dt.timedelta(days=9), today - dt.timedelta(days=3)
    page.goto(live_server.url + "/admin/audit/dashboard/")
    page.fill("#id_start", first.isoformat())
    page.fill("#id_end", last.isoformat())
    page.click("input[value=Apply]")
    page.wait_for_selector("#chart-cost[data-drawn=true]")
    assert f"start={first.isoformat()}" in page.url and f"end={last.isoformat()}" in page.url
    labels = page.evaluate("() => Chart.getChart('chart-per-day').data.labels")
    assert (labels[0], labels[-1], len(labels)) == (first.isoformat(), last.isoformat(), 7)
    csv_link = page.locator("a.csv").first.get_attribute("href")
    assert f"start={first.isoformat()}&end={last.isoformat()}" in csv_link
    in_range = sum(
        int(row.split(",")[1].strip('"')) + int(row.split(",")[2].strip('"'))
        for row in page.request.get(live_server.url + csv_link).text().splitlines()[1:]
    )
    page.screenshot(path=str(artifacts_dir / "dashboard-range.png"), full_page=True)
    page.evaluate("() => { const c = Chart.getChart('chart-regions'); c.options.onClick(null, [{index: 0}], c) }")
    page.wait_for_url("**/admin/audit/dispatchlog/?*")
    assert f"created_at__gte={first.isoformat()}" in page.url
    assert f"created_at__lt={(last + dt.timedelta(days=1)).isoformat()}" in page.url
    region_rows = page.locator("#result_list tbody tr").count()
    assert 0 < region_rows <= in_range

    page.goto(live_server.url + f"/admin/audit/dashboard/?start={last.isoformat()}&end={first.isoformat()}")
    assert "must be on or after From" in page.locator(".dash-filters").inner_text()
    page.screenshot(path=str(artifacts_dir / "dashboard-range-error.png"), full_page=True)
