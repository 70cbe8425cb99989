"""What the admin browser tests share: logging in and measuring a page's width."""

from __future__ import annotations

from typing import Any

from authoring.demo import DEMO_ADMIN_PASSWORD, DEMO_ADMIN_USERNAME

LAPTOP = {"width": 1280, "height": 800}

# Every element that scrolls sideways: the page itself, and any box with overflow-x auto/scroll
# (the change list's table sits in one) whose content is wider than it.
OVERFLOWS = """() => [document.documentElement, ...[...document.querySelectorAll('body *')]
    .filter(e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX))]
  .filter(e => e.scrollWidth > e.clientWidth + 1)
  .map(e => (e.id || e.className || e.tagName) + ' ' + e.scrollWidth + '>' + e.clientWidth)"""


def admin_log_in(page: Any, base_url: str) -> None:
    page.goto(base_url + "/admin/login/")
    page.fill("#id_username", DEMO_ADMIN_USERNAME)
    page.fill("#id_password", DEMO_ADMIN_PASSWORD)
    page.locator("input[type=submit]").click()
    page.wait_for_load_state()


def overflows(page: Any) -> list[str]:
    """The elements wider than their box (empty: nothing scrolls sideways)."""
    return list(page.evaluate(OVERFLOWS))
