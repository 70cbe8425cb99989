"""The pages of issue 18's browser tests, shot from an older checkout (see bin/screenshots-before).

Each scenario gets a fresh copy of the seeded SQLite file and its own gunicorn (the old code's,
one worker, 127.0.0.1, a free port), then repeats what the browser test that writes the "after"
screenshot does, at the same viewport, under the same file name. The old pages differ (that is
the point), so every step is tolerant: a step that cannot be done on the old page is written to
checks.txt and the run goes on. Run through bin/screenshots-before, not directly.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

LAPTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE_390: ViewportSize = {"width": 390, "height": 844}
ADMIN = ("admin", "dispatch-demo-admin")  # authoring/demo/world.py at the pinned commit
TEACHER = ("teacher", "dispatch-demo-teacher")  # authoring/demo/teacher.py at the pinned commit
DEMO_KEY = "mds_demo0001_dispatch-demo-key-not-a-secret"  # authoring/demo/client.py
GOOD_REASON = "The class reads long stories together aloud"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--no-first-run"]
OVERFLOWS = """() => [document.documentElement, ...[...document.querySelectorAll('body *')]
    .filter(e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX))]
  .filter(e => e.scrollWidth > e.clientWidth + 1)
  .map(e => (e.id || e.className || e.tagName) + ' ' + e.scrollWidth + '>' + e.clientWidth)"""
AXE_RUN = """async () => (await axe.run(document, { resultTypes: ["violations"] })).violations
  .filter(v => ["serious", "critical"].includes(v.impact)).map(v => v.impact + " " + v.id)"""


class Run:
    """Where the shots go, what was checked, and the old checkout to serve."""

    def __init__(self, tree: Path, base_db: Path, out: Path, pids: Path, axe: Path) -> None:
        self.tree, self.base_db, self.out, self.pids = tree, base_db, out, pids
        self.axe_source = axe.read_text() if axe.exists() else ""
        self.checks: list[str] = []
        self.shots: list[str] = []

    def note(self, line: str) -> None:
        print(line, flush=True)
        self.checks.append(line)

    def shot(self, page: Page, name: str, *, full_page: bool = False) -> None:
        page.screenshot(path=str(self.out / name), full_page=full_page)
        self.shots.append(name)
        self.note(f"{name}: {page.url.split('//', 1)[-1].split('/', 1)[-1]} width {page.viewport_size}")

    def measure(self, page: Page, label: str) -> None:
        """Sideways overflow at this viewport, and axe-core's serious/critical violations."""
        wide = page.evaluate(OVERFLOWS)
        self.note(f"  {label}: overflows {wide or 'none'}")
        if self.axe_source:
            if not page.evaluate("() => typeof window.axe === 'object'"):
                page.evaluate(self.axe_source + "\n;void 0")
            self.note(f"  {label}: axe serious/critical {page.evaluate(AXE_RUN) or 'none'}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def old_server(run: Run, name: str) -> Iterator[str]:
    """The old code's gunicorn on a fresh copy of the seeded database; yields its base URL."""
    db = run.base_db.with_name(f"{name}.sqlite3")
    shutil.copyfile(run.base_db, db)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_OWNER_URL", "DJANGO_ENV"}}
    env.update(
        DATABASE_URL=f"sqlite:///{db}", PORT=str(port), BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1",
        GUNICORN_ACCESS_LOG="", LOG_LEVEL="warning",
    )  # fmt: skip
    gunicorn = Path(sys.executable).parent / "gunicorn"
    log = (run.base_db.parent / f"{name}.log").open("w")
    server = subprocess.Popen(  # noqa: S603 - fixed argv
        [str(gunicorn), "-c", "gunicorn.conf.py", "dispatch_site.wsgi:application"],
        cwd=run.tree, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    with run.pids.open("a") as pids:
        pids.write(f"{server.pid}\n")
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=5) as answer:  # noqa: S310 - our own server
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the old server did not start; see its log: {log.name}")
            time.sleep(0.5)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


def api_dispatch(base: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(  # noqa: S310 - our own server
        base + "/dispatch",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Api-Key {DEMO_KEY}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def admin_log_in(page: Page, base: str) -> None:
    page.goto(base + "/admin/login/")
    page.fill("#id_username", ADMIN[0])
    page.fill("#id_password", ADMIN[1])
    page.locator("input[type=submit]").click()
    page.wait_for_load_state()


def admin_save(page: Page) -> None:
    page.locator("input[name=_save]").first.click()
    page.wait_for_load_state()


def provider_deactivate(
    run: Run, page: Page, base: str, slug: str, reason: str, *, shots: tuple[str, str] | None
) -> None:
    """Untick "Is active" in the provider's admin form; confirm the coverage loss when asked."""
    page.goto(base + f"/admin/providers/modelprovider/?q={slug}")
    page.locator("#result_list tbody tr th a, #result_list tbody tr td a").first.click()
    page.wait_for_load_state()
    page.uncheck("#id_is_active")
    page.fill("#id_change_reason", reason)
    admin_save(page)
    if page.locator("#id_confirm_coverage_loss").count():
        if shots:
            run.shot(page, shots[0])
            run.measure(page, "coverage-loss hold")
        page.check("#id_confirm_coverage_loss")
        admin_save(page)
        if shots:
            run.shot(page, shots[1])


def scenario_lists(run: Run, browser: Browser, base: str) -> None:
    """test_every_admin_list_fits_1280_px, test_malformed_history_ids_are_the_404_page and the
    refusal-at-the-top part of test_refusal_at_the_top_hold_as_warning_and_recap."""
    for region in ("us_east", "eu_west", "uk_south"):
        api_dispatch(base, {"subject": "mathematics", "grade_band": "early_childhood", "region": region})
    override: dict[str, Any] = {"subject": "mathematics", "grade_band": "elementary", "region": "eu_west"}
    override |= {"teacher_override": True, "override_provider_id": "anthropic-claude", "override_reason": GOOD_REASON}
    override["teacher_id"] = "demo-teacher"  # the demo client acts for the demo teacher
    run.note(f"traffic: 3 dispatches and a teacher override through the API (override: {api_dispatch(base, override)})")
    page = browser.new_page(viewport=LAPTOP)
    page.set_default_timeout(15_000)
    admin_log_in(page, base)
    links = page.eval_on_selector_all("#content-main a", "els => els.map(e => e.getAttribute('href'))")
    for href in sorted({h for h in links if re.fullmatch(r"/admin/\w+/\w+/", h or "")}):
        page.goto(base + href)
        run.shot(page, "admin_list_" + href.strip("/").replace("/", "_")[6:] + ".png")
        run.measure(page, href)

    page.goto(base + "/admin/audit/dispatchlog/")
    rows = page.locator("#result_list tbody tr")
    row = rows.filter(has_text=re.compile(r"eu.west", re.I)).filter(has_text=re.compile("accepted", re.I))
    (row if row.count() else rows).first.locator("th a, td a").first.click()
    page.wait_for_load_state()
    run.shot(page, "admin_dispatchlog_detail.png", full_page=True)

    for path in (
        "/admin/policies/dispatchpolicy/not-a-uuid/history/",
        "/admin/providers/modelprovider/not-a-uuid/history/",
        "/admin/policies/dispatchpolicy/not-a-uuid/history/1/",
    ):
        answer = page.goto(base + path)
        run.note(f"  {path}: HTTP {answer.status if answer else '?'}")
    run.shot(page, "admin_malformed_id_404.png", full_page=True)  # the after test's shot: the last path

    # A refused policy save (finding 4): where the reason is, seen at 1280 x 800 without scrolling.
    page.goto(base + "/admin/policies/dispatchpolicy/?q=Elementary+Math+-+US+East")
    page.locator("#result_list tbody tr", has_text="Elementary Math - US East").first.locator("th a").click()
    page.wait_for_load_state()
    page.select_option("#id_region", "eu_west")
    page.fill("#id_change_reason", "Move to the EU")
    admin_save(page)
    run.shot(page, "admin_policy_refused_top.png")
    run.measure(page, "refused policy save")
    page.close()


def scenario_coverage(run: Run, browser: Browser, base: str) -> None:
    """test_coverage_headline_counts_refusing_regions_and_groups_gaps and the admin home of
    test_admin_home_findings_and_the_simulators_curl (12 refusals in uk_south, EU provider off)."""
    page = browser.new_page(viewport=LAPTOP)
    page.set_default_timeout(15_000)
    admin_log_in(page, base)
    page.goto(base + "/admin/coverage/")
    run.shot(page, "admin_coverage_headline.png")
    run.shot(page, "admin_coverage_headline-fullpage.png", full_page=True)
    run.measure(page, "/admin/coverage/")

    for _ in range(12):
        api_dispatch(base, {"subject": "arts", "grade_band": "high", "region": "uk_south"})
    provider_deactivate(run, page, base, "local-eu-provider", "Contract paused", shots=None)
    page.goto(base + "/admin/coverage/")
    run.shot(page, "admin_coverage_grouped_gaps.png")
    run.shot(page, "admin_coverage_grouped_gaps-fullpage.png", full_page=True)
    run.measure(page, "/admin/coverage/ (EU Sovereign LLM inactive)")
    page.goto(base + "/admin/")
    run.shot(page, "admin_home_findings.png", full_page=True)
    page.goto(base + "/admin/simulator/?subject=mathematics&grade_band=elementary&region=us_east")
    run.shot(page, "admin_simulator_curl.png", full_page=True)
    page.close()


def scenario_authoring(run: Run, browser: Browser, base: str) -> None:
    """The hold and recap of test_refusal_at_the_top_hold_as_warning_and_recap, and
    test_history_and_revert_wording."""
    page = browser.new_page(viewport=LAPTOP)
    page.set_default_timeout(15_000)
    admin_log_in(page, base)
    shots = ("admin_coverage_hold_warning.png", "admin_coverage_loss_recap.png")
    provider_deactivate(run, page, base, "africa-local-provider", "Vendor contract ended", shots=shots)

    page.goto(base + "/admin/policies/dispatchpolicy/?q=Elementary+Math+-+US+East")
    page.locator("#result_list tbody tr", has_text="Elementary Math - US East").first.locator("th a").click()
    page.wait_for_load_state()
    change_url = page.url
    for threshold, reason in (("0.5", "Looser for the pilot"), ("0.3", "Even looser")):
        page.goto(change_url)
        page.fill("#id_moderation_threshold", threshold)
        page.fill("#id_change_reason", reason)
        admin_save(page)
    page.goto(change_url.replace("/change/", "/history/"))
    run.shot(page, "admin_history_wording.png")
    run.measure(page, "history")
    page.locator("#change-history tbody tr", has_text="Looser for the pilot").first.locator("a").first.click()
    page.wait_for_load_state()
    run.shot(page, "admin_revert_page.png")
    run.measure(page, "revert page")
    page.fill("#id_change_reason", "Back to the reviewed threshold")
    admin_save(page)
    run.shot(page, "admin_reverted_message.png")
    page.close()


def choose_class(page: Page, region: str = "us_east") -> None:
    page.get_by_label("Subject").select_option("mathematics")
    page.get_by_label("Grade band").select_option("elementary")
    page.get_by_label("Region").select_option(region)
    page.get_by_role("button", name="Show the policy's choice and the providers").click()
    page.wait_for_load_state()


def scenario_teacher(run: Run, browser: Browser, base: str) -> None:
    """test_plain_words_local_times_and_a_phone: a 390 px phone in Tokyo's time zone."""
    context = browser.new_context(timezone_id="Asia/Tokyo", viewport=PHONE_390)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(base + "/teacher/override/")
    page.get_by_label("Username").fill(TEACHER[0])
    page.get_by_label("Password").fill(TEACHER[1])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    choose_class(page)
    run.note(f"  providers offered: {page.get_by_label('Provider').locator('option').all_inner_texts()}")
    page.get_by_label("Provider").select_option("anthropic-claude")
    page.get_by_label("Justification").fill(GOOD_REASON)
    page.get_by_role("button", name="Submit override").click()
    page.wait_for_load_state()
    run.shot(page, "teacher-accepted-one-off-phone.png", full_page=True)
    run.measure(page, "/teacher/ accepted at 390 px")

    page.get_by_role("link", name="Request another override").click()
    choose_class(page)
    page.get_by_label("Provider").select_option("microsoft-copilot")
    page.get_by_label("Justification").fill("too short")
    page.get_by_role("button", name="Submit override").click()
    page.wait_for_load_state()
    run.shot(page, "teacher-override-refused-phone.png", full_page=True)  # no after file of this name
    page.get_by_role("link", name="My overrides").first.click()
    page.wait_for_url("**/teacher/overrides/")
    run.shot(page, "teacher-my-overrides-390.png", full_page=True)
    run.measure(page, "/teacher/overrides/ at 390 px")

    # The policy forbids overrides (through the admin, as its author would): what the form offers then.
    admin = browser.new_page(viewport=LAPTOP)
    admin.set_default_timeout(15_000)
    admin_log_in(admin, base)
    admin.goto(base + "/admin/policies/dispatchpolicy/?q=Elementary+Math+-+US+East")
    admin.locator("#result_list tbody tr", has_text="Elementary Math - US East").first.locator("th a").click()
    admin.wait_for_load_state()
    admin.uncheck("#id_allow_teacher_override")
    admin.fill("#id_change_reason", "No overrides for this class")
    admin_save(admin)
    admin.close()
    page.goto(base + "/teacher/override/")
    choose_class(page)
    submit = page.get_by_role("button", name="Submit override")
    run.note(f"  overrides forbidden: submit button {'disabled' if submit.is_disabled() else 'enabled'}")
    run.shot(page, "teacher-submit-blocked-phone.png", full_page=True)
    context.close()


SCENARIOS: list[Callable[[Run, Browser, str], None]] = [
    scenario_lists,
    scenario_coverage,
    scenario_authoring,
    scenario_teacher,
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    for flag in ("--tree", "--base-db", "--out", "--pids", "--axe"):
        parser.add_argument(flag, type=Path, required=True)
    args = parser.parse_args()
    # timeout(1) sends SIGTERM: leave through the finally blocks, which stop the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    run = Run(args.tree, args.base_db, args.out, args.pids, args.axe)
    if not run.axe_source:
        run.note(f"axe-core not checked: {args.axe} is missing (bin/fetch-axe)")
    failed = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        for scenario in SCENARIOS:
            run.note(f"== {scenario.__name__}")
            try:
                with old_server(run, scenario.__name__) as base:
                    scenario(run, browser, base)
            except Exception as error:  # an old page without a step's control: say so, go on
                failed.append(scenario.__name__)
                run.note(f"  {scenario.__name__} stopped: {type(error).__name__}: {str(error).splitlines()[0]}")
        browser.close()
    (run.out / "checks.txt").write_text("\n".join(run.checks) + "\n")
    print(f"screenshots-before: {len(run.shots)} screenshots in {run.out}; checks in {run.out / 'checks.txt'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
