"""The drills' own plumbing, without running a drill: their timing bounds come from the settings
the server runs with (read in its environment), and `make drills` rewrites only its table in
docs/reliability.md."""

from __future__ import annotations

import secrets
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from drills.common import ServerTimings, server_timings
from drills.run import BEGIN, DOC, END, docs_write


def test_the_timings_are_the_settings_the_server_runs_with():
    env = {
        "DJANGO_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "DB_POOL_TIMEOUT": "2.5",
        "DB_STATEMENT_TIMEOUT_MS": "1234",
        "DB_OUTAGE_HOLD_SECONDS": "0.7",
        "RATE_LIMIT_REDIS_RETRY": "9",
        "GUNICORN_TIMEOUT": "17",
    }
    server = SimpleNamespace(env=env)
    target = cast(Any, SimpleNamespace(url="postgres://nobody@127.0.0.1:1/none", server=server))
    assert server_timings(target) == ServerTimings(
        pool_timeout_s=2.5,
        statement_timeout_s=1.234,
        outage_hold_s=0.7,
        rate_limit_redis_retry_s=9.0,
        gunicorn_timeout_s=17.0,
    )


def test_the_table_is_rewritten_between_its_markers_and_nothing_else(tmp_path: Path):
    doc = tmp_path / "reliability.md"
    doc.write_text(f"# Reliability\n\nprose before\n\n{BEGIN}\nold table\n{END}\n\nprose after\n")
    docs_write(f"{BEGIN}\nnew table\n{END}", doc)
    assert doc.read_text() == f"# Reliability\n\nprose before\n\n{BEGIN}\nnew table\n{END}\n\nprose after\n"


def test_a_file_without_the_markers_is_refused_untouched(tmp_path: Path):
    doc = tmp_path / "reliability.md"
    doc.write_text("# Reliability\n")
    with pytest.raises(SystemExit, match="no <!-- reliability:begin -->"):
        docs_write(f"{BEGIN}\nnew table\n{END}", doc)
    assert doc.read_text() == "# Reliability\n"


def test_the_repository_doc_holds_the_markers():
    text = DOC.read_text()
    assert text.index(BEGIN) < text.index(END)
