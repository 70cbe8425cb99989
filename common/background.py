"""Periodic jobs run by the serving processes themselves: no cron, no extra process to deploy.

Every gunicorn worker (gunicorn.conf.py's `post_worker_init` calls `jobs_start()`) runs one daemon
thread that calls each registered job about every `interval` seconds. Every worker of every
instance runs every job, so what must stay true:

- A job claims its work in PostgreSQL (`SELECT ... FOR UPDATE SKIP LOCKED`, or a conditional
  `UPDATE ... RETURNING`) inside a transaction, so each piece of work is done exactly once across
  workers and instances, and a process that dies mid-job leaves the work to the next pass (its
  transaction rolls back). PostgreSQL is the truth; nothing is claimed in memory.
- A job never runs on a request's thread: dispatch never waits for one.
- A failing job is logged and counted (`background_job_failures_total{job}`); the thread goes
  on, and so do the other jobs.
- After each pass the thread hands its database connections back (to the pool, when pooled).

Tests run the due jobs synchronously with `jobs_run_due()`; the thread itself is exercised by the
tests that start gunicorn.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections, connections
from prometheus_client import Counter

logger = logging.getLogger("dispatch.background")

RUNS = Counter("background_job_runs_total", "Passes of a periodic job (every worker runs each)", ["job"])
FAILURES = Counter("background_job_failures_total", "Passes of a periodic job that raised", ["job"])
DONE = Counter("background_job_items_total", "Pieces of work a periodic job did (claimed and finished)", ["job"])
IDLE_SECONDS = 1.0  # the longest the thread sleeps between looks at what is due


@dataclass
class Job:
    name: str
    run: Callable[[], int]  # does what is due; returns how many pieces of work it did
    interval: float  # seconds between passes in one process
    next_at: float = 0.0  # monotonic time of this process's next pass


_jobs: dict[str, Job] = {}
_lock = threading.Lock()
_thread: dict[str, object] = {"pid": None, "stop": threading.Event()}


def job_register(*, name: str, run: Callable[[], int], interval: float) -> None:
    """Register (or replace) a periodic job; apps call this from `AppConfig.ready()`."""
    if interval <= 0:
        raise ValueError(f"job {name!r}: interval must be positive, not {interval}")
    with _lock:
        _jobs[name] = Job(name=name, run=run, interval=interval)


def jobs_registered() -> list[str]:
    return sorted(_jobs)


def jobs_run_due(*, force: bool = False) -> dict[str, int]:
    """Run every job whose time has come (all of them with `force`), in this thread; returns what
    each did. A job that raises is logged and counted, and the others still run."""
    now = time.monotonic()
    with _lock:
        due = [job for job in _jobs.values() if force or job.next_at <= now]
        for job in due:
            # Spread the workers' passes: each waits its interval plus up to a tenth of it.
            job.next_at = now + job.interval * (1 + random.random() / 10)
    done: dict[str, int] = {}
    for job in due:
        RUNS.labels(job.name).inc()
        try:
            done[job.name] = int(job.run() or 0)
        except Exception:
            FAILURES.labels(job.name).inc()
            logger.exception("background job %s failed; it runs again in %.0f s", job.name, job.interval)
            continue
        if done[job.name]:
            DONE.labels(job.name).inc(done[job.name])
    return done


def jobs_start() -> bool:
    """Start this process's job thread (once per process; a no-op when BACKGROUND_JOBS is off).
    True when a thread was started now."""
    if not getattr(settings, "BACKGROUND_JOBS", False):  # off, or another project (the bench's floor)
        return False
    with _lock:
        if _thread["pid"] == os.getpid():
            return False
        _thread["pid"] = os.getpid()
        stop = threading.Event()
        _thread["stop"] = stop
    threading.Thread(target=_loop, args=(stop,), name="background-jobs", daemon=True).start()
    logger.info("background jobs started in pid %d: %s", os.getpid(), ", ".join(jobs_registered()) or "none")
    return True


def jobs_stop() -> None:
    """Ask this process's job thread to stop after its current pass (gunicorn's worker_exit; tests)."""
    stop = _thread["stop"]
    assert isinstance(stop, threading.Event)
    stop.set()
    with _lock:
        _thread["pid"] = None


def _loop(stop: threading.Event) -> None:
    while not stop.is_set():
        close_old_connections()
        try:
            jobs_run_due()
        finally:
            connections.close_all()  # back to the pool: a sleeping thread holds no connection
        with _lock:
            upcoming = min((job.next_at for job in _jobs.values()), default=time.monotonic() + IDLE_SECONDS)
        stop.wait(min(IDLE_SECONDS, max(0.05, upcoming - time.monotonic())))
