"""Every shell example of README.md and docs/*.md works as written against `make run` (issue 18).

The server is what `make run` starts: `bin/start` with `SEED_DEMO=1` (migrate a fresh SQLite
database, load the demo world, gunicorn), here on a free port. Each document's examples run in
order in one bash session (`set -euo pipefail`: a failing command or an unset variable fails the
example), in a scratch directory holding the repository's `.venv`, `manage.py` and `bin/`, with
`make run`'s address rewritten to the live one and nothing else changed. Every curl call must
answer 2xx, or a status the example's marker names. Examples that cannot run here (a fresh
machine's `make` targets, root, PostgreSQL, wrk, long-running servers) carry a stated reason in
the markdown (`doc_examples.py` says how); the first test fails on any example with neither.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dispatch_site.tests.doc_examples import Example, ExampleMarkupError, documents, examples_in
from dispatch_site.tests.servers import ROOT, free_port, wait_ready


def all_examples() -> list[Example]:
    return [example for path in documents() for example in examples_in(path)]


def test_every_shell_example_is_run_or_says_why_not():
    examples = all_examples()  # raises on a marker without a reason or a fence
    assert len(examples) >= 20  # the extractor finds the docs' examples (22 when written)
    run = [example for example in examples if example.not_run is None]
    assert any("curl" in example.text for example in run)
    assert any("manage.py" in example.text for example in run)
    for example in examples:
        if example.not_run is None:
            assert "apt-get" not in example.text and "make test" not in example.text, example.where


def test_the_extractor_reads_markers_and_refuses_bare_ones(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "Text.\n\n```bash\ncurl http://127.0.0.1:8002/healthz\n```\n\n"
        "<!-- example: not-run: needs root to install wrk -->\n\n```sh\napt-get install -y wrk\n```\n"
        '<!-- example: status 422 -->\n```console\n$ curl http://127.0.0.1:8002/x\n{"error": 1}\n```\n'
        "```json\n{}\n```\n"
    )
    first, second, third = examples_in(page)
    assert (first.not_run, first.statuses, first.line) == (None, None, 3)
    assert first.commands(4321) == "curl http://127.0.0.1:4321/healthz"
    assert second.not_run == "needs root to install wrk"
    assert third.statuses == frozenset({422}) and third.commands(1) == "curl http://127.0.0.1:1/x"
    for bad in (
        "<!-- example: not-run -->\n```bash\nmake run\n```\n",  # no reason
        "<!-- example: not-run: slow -->\n```bash\nmake run\n```\n",  # not a reason
        "<!-- example: skip please -->\n```bash\nmake run\n```\n",  # unknown
        "<!-- example: not-run: needs PostgreSQL here -->\nSome text.\n```bash\nmake run\n```\n",  # detached
        "<!-- example: not-run: needs PostgreSQL here -->\n",  # nothing follows
    ):
        page.write_text(bad)
        with pytest.raises(ExampleMarkupError):
            examples_in(page)


@pytest.fixture(scope="module")
def make_run(tmp_path_factory) -> Iterator[tuple[int, dict[str, str], Path]]:
    """`make run` on a free port: (port, the environment a shell after it has, a scratch directory)."""
    scratch = tmp_path_factory.mktemp("examples")
    for name in (".venv", "manage.py", "bin"):
        (scratch / name).symlink_to(ROOT / name)
    port = free_port()
    # A fresh machine's environment: no test settings, no PostgreSQL or Redis, the repository's
    # SQLite database replaced by one of this test's own.
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(scratch),
        "LANG": "C.UTF-8",
        "DATABASE_URL": f"sqlite:///{scratch / 'db.sqlite3'}",
    }
    server_env = {
        **env,
        "SEED_DEMO": "1",
        "PYTHON": sys.executable,
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "GUNICORN_ACCESS_LOG": "",
    }
    log_path = scratch / "make-run.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603 - our own start script
            [str(ROOT / "bin" / "start")],
            cwd=ROOT,
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            try:
                wait_ready(f"http://127.0.0.1:{port}/readyz", process, seconds=120)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{log_path.read_text()}") from None
            yield port, env, scratch
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=20)


_CURL_WRAPPER = """
set -euo pipefail
# Each curl call leaves its response headers in $MDS_EXAMPLE_HEADERS, named by example and time.
curl() { command curl -D "$MDS_EXAMPLE_HEADERS/$MDS_EXAMPLE.$(date +%s%N)" "$@"; }
"""


def _session(examples: list[Example], port: int) -> str:
    parts = [_CURL_WRAPPER]
    for index, example in enumerate(examples):
        parts.append(f'MDS_EXAMPLE={index}; echo "{index}" >> "$MDS_EXAMPLE_PROGRESS"\n')
        parts.append(example.commands(port) + "\n")
    parts.append('echo done >> "$MDS_EXAMPLE_PROGRESS"\n')
    return "".join(parts)


def _statuses(headers: Path, index: int) -> list[int]:
    """The final HTTP status of each curl call example `index` made, in order."""
    statuses = []
    for dump in sorted(headers.glob(f"{index}.*"), key=lambda p: int(p.suffix[1:])):
        codes = re.findall(r"^HTTP/[\d.]+ (\d{3})", dump.read_text(), re.MULTILINE)
        statuses.append(int(codes[-1]) if codes else 0)
    return statuses


def _documents_with_examples_to_run() -> list[Path]:
    try:
        return [path for path in documents() if any(e.not_run is None for e in examples_in(path))]
    except ExampleMarkupError:
        return documents()  # the first test names the bad marker; each page's run fails on it too


@pytest.mark.slow
@pytest.mark.parametrize("document", _documents_with_examples_to_run(), ids=lambda path: path.name)
def test_the_examples_work_as_written_against_make_run(document, make_run):
    port, env, scratch = make_run
    examples = [example for example in examples_in(document) if example.not_run is None]
    work = scratch / document.stem
    headers = work / "headers"
    headers.mkdir(parents=True)
    progress = work / "progress"
    script = work / "session.sh"
    script.write_text(_session(examples, port))
    session_env = {**env, "MDS_EXAMPLE_HEADERS": str(headers), "MDS_EXAMPLE_PROGRESS": str(progress)}
    result = subprocess.run(  # noqa: S603 - the docs' own examples
        ["bash", str(script)],  # noqa: S607
        cwd=scratch,
        env=session_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    reached = progress.read_text().split() if progress.exists() else []
    output = f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    if result.returncode != 0 or reached[-1:] != ["done"]:
        failed = examples[int(reached[-1])] if reached and reached[-1] != "done" else examples[0]
        pytest.fail(f"the example at {failed.where} failed (exit {result.returncode}):\n{failed.text}\n{output}")
    for index, example in enumerate(examples):
        statuses = _statuses(headers, index)
        if "curl" in example.text:
            assert statuses, f"{example.where}: its curl calls were not seen\n{output}"
        for status in statuses:
            allowed = example.statuses
            ok = status in allowed if allowed is not None else 200 <= status < 300
            assert ok, f"{example.where} answered {status} (allowed: {sorted(allowed) if allowed else '2xx'})\n{output}"
