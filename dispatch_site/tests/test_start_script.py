"""The start script the Dockerfile runs (no Docker engine here): migrate, collectstatic, gunicorn,
then real HTTP requests to it, under production settings."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from authoring.demo import DEMO_CLIENT_KEY
from dispatch_site.tests.servers import ROOT, free_port, wait_ready


def production_env(tmp_path: Path, port: int) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"}},
        "DJANGO_ENV": "production",
        "SECRET_KEY": "start-script-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'start.sqlite3'}",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "PYTHON": sys.executable,
        "GUNICORN_ACCESS_LOG": "",
    }


@pytest.mark.slow
def test_start_script_serves_dispatch_under_production_settings(tmp_path):
    port = free_port()
    env = production_env(tmp_path, port)
    # seed_demo refuses production settings; a test database is seeded deliberately, beforehand.
    for command in (["migrate", "--noinput", "-v0"], ["seed_demo"]):
        subprocess.run(  # noqa: S603 - our own manage.py
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env={**env, "DJANGO_ENV": "development"},
            check=True,
            capture_output=True,
            timeout=300,
        )
    log = (tmp_path / "start.log").open("w")
    process = subprocess.Popen(  # noqa: S603 - our own script
        [str(ROOT / "bin" / "start")], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + "/readyz", process)
        request = urllib.request.Request(  # noqa: S310
            base + "/dispatch?request_id=550e8400-e29b-41d4-a716-446655440000",
            data=json.dumps({"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Api-Key {DEMO_CLIENT_KEY}"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            body = json.loads(response.read())
        assert body["provider_name"] == "OpenAI GPT-4"
        assert body["request_id"] == "550e8400-e29b-41d4-a716-446655440000"
        with urllib.request.urlopen(base + "/docs", timeout=10) as response:  # noqa: S310
            html = response.read().decode()
        css = html.split('href="')[1].split('"')[0] if 'href="' in html else ""
        assert "/static/" in css
        with urllib.request.urlopen(base + css, timeout=10) as response:  # noqa: S310 - hashed static file served
            assert response.status == 200
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        log.close()


@pytest.mark.slow
def test_start_script_refuses_to_seed_the_demo_under_production_settings(tmp_path):
    env = {**production_env(tmp_path, free_port()), "SEED_DEMO": "1"}
    process = subprocess.Popen(  # noqa: S603 - our own script
        [str(ROOT / "bin" / "start")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=180)
    except subprocess.TimeoutExpired:  # it went on to serve: stop it and fail
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
    assert process.returncode != 0 and process.returncode != -signal.SIGKILL, output
    assert "seed_demo refuses to run under DJANGO_ENV=production" in output
    assert "Booting worker" not in output  # no server was started
    with sqlite3.connect(tmp_path / "start.sqlite3") as db:  # migrated, and nothing of the demo written
        assert db.execute("SELECT count(*) FROM model_providers").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM api_clients").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM auth_user").fetchone() == (0,)


@pytest.mark.slow
def test_the_banner_prints_the_real_address_and_says_ready_only_once_it_answers(tmp_path):
    """`make run` with PORT set (issue 18, finding 9): every address printed is the live one, and
    the ready line comes once /readyz answers, after gunicorn's "Listening" and workers' boot."""
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite3'}",
        "SEED_DEMO": "1",
        "PYTHON": sys.executable,
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "GUNICORN_ACCESS_LOG": "",
    }
    process = subprocess.Popen(  # noqa: S603 - our own script
        [str(ROOT / "bin" / "start")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:  # bounded by the poller's own limit (300 s), then it says so
            lines.append(line.rstrip())
            if "Service ready" in line or "still not answering" in line:
                break
        output = "\n".join(lines)
        assert lines and lines[-1] == (
            f"Model Dispatch Service ready: {base}/  (admin {base}/admin/, teacher form {base}/teacher/,"
            f" API docs {base}/docs)"
        ), output
        # Ready means answering: no retry here.
        with urllib.request.urlopen(base + "/readyz", timeout=10) as response:  # noqa: S310 - loopback
            assert response.status == 200
        assert f"Admin: {base}/admin/" in output and f"Teacher: {base}/teacher/" in output
        assert "8002" not in output
        listening = next(i for i, line in enumerate(lines) if "Listening at" in line)
        assert f"Listening at: {base}" in lines[listening]
        assert listening < len(lines) - 1
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
