"""Periodic jobs run by the serving processes (common/background.py)."""

from __future__ import annotations

import re
import threading
import time

import pytest
from prometheus_client import REGISTRY

from common import background
from common.background import job_register, jobs_run_due, jobs_start, jobs_stop


@pytest.fixture
def jobs(monkeypatch):
    """An empty job table for the test (the apps' own jobs are put back afterwards)."""
    monkeypatch.setattr(background, "_jobs", {})
    yield
    jobs_stop()


def failures(job: str) -> float:
    return REGISTRY.get_sample_value("background_job_failures_total", {"job": job}) or 0.0


def test_a_job_runs_when_due_and_waits_its_interval(jobs):
    runs: list[float] = []

    def tick() -> int:
        runs.append(time.monotonic())
        return 1

    job_register(name="tick", run=tick, interval=60)
    assert jobs_run_due() == {"tick": 1}
    assert jobs_run_due() == {}  # not due again for a minute
    assert jobs_run_due(force=True) == {"tick": 1}
    assert len(runs) == 2


def test_a_failing_job_is_counted_and_the_others_still_run(jobs, caplog):
    def broken() -> int:
        raise RuntimeError("boom")

    job_register(name="broken-job", run=broken, interval=60)
    job_register(name="fine-job", run=lambda: 3, interval=60)
    before = failures("broken-job")
    assert jobs_run_due() == {"fine-job": 3}
    assert failures("broken-job") == before + 1
    assert any("background job broken-job failed" in r.getMessage() for r in caplog.records)


def test_the_thread_starts_once_per_process_and_runs_jobs_until_stopped(jobs, settings):
    settings.BACKGROUND_JOBS = True
    ran = threading.Event()

    def ping() -> int:
        ran.set()
        return 0

    job_register(name="ping", run=ping, interval=0.05)
    assert jobs_start() is True
    assert jobs_start() is False  # one thread per process
    assert ran.wait(5), "the job thread did not run the job"
    jobs_stop()
    time.sleep(0.2)
    ran.clear()
    assert not ran.wait(0.5), "the job still ran after jobs_stop()"


def test_no_thread_when_background_jobs_are_off(jobs, settings):
    settings.BACKGROUND_JOBS = False
    assert jobs_start() is False


def test_an_interval_must_be_positive(jobs):
    with pytest.raises(ValueError, match="interval must be positive"):
        job_register(name="never", run=lambda: 0, interval=0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_every_gunicorn_worker_runs_the_job_thread(two_workers):
    _base, log_path = two_workers
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pids = set(re.findall(r"background jobs started in pid (\d+)", log_path.read_text()))
        if len(pids) == 2:
            break
        time.sleep(0.2)
    assert len(pids) == 2, log_path.read_text()[-2000:]
