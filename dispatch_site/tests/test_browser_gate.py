"""The browser-test gate (conftest.py): without chromium a browser test skips with a one-line
reason on a laptop, and fails under CI=true (where .ci/run installs chromium), before it starts
a live server. Run as a child pytest with MDS_TEST_CHROMIUM pointing at a path that is missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BROWSER_TEST = "dispatch_site/tests/test_home_page.py"  # the smallest browser test (the `page` fixture)
LOCAL = ("DATABASE_URL", "DATABASE_OWNER_URL", "DATABASE_TEST_NAME", "REDIS_URL", "CI")


def child_pytest(tmp_path: Path, *, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in LOCAL}  # SQLite, no services
    env["MDS_TEST_CHROMIUM"] = str(tmp_path / "no-chromium-here")
    if ci:
        env["CI"] = "true"
    return subprocess.run(  # noqa: S603 - this interpreter's pytest on a test of ours
        [sys.executable, "-m", "pytest", "-q", "-rsf", BROWSER_TEST],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_without_chromium_a_browser_test_skips_with_the_reason_on_a_laptop(tmp_path):
    done = child_pytest(tmp_path, ci=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 skipped" in done.stdout
    reason = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(reason) == 1, done.stdout[-3000:]
    assert f"browser test needs Debian's chromium at {tmp_path / 'no-chromium-here'}" in reason[0]
    assert "apt-get install -y chromium" in reason[0]


@pytest.mark.slow
def test_without_chromium_a_browser_test_fails_under_ci(tmp_path):
    done = child_pytest(tmp_path, ci=True)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 error" in done.stdout and "skipped" not in done.stdout
    assert "CI must run this browser test, which needs Debian's chromium at" in done.stdout
    assert "live_server" not in done.stdout  # failed before its fixtures started a server
