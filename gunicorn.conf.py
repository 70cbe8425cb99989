"""gunicorn settings, from the environment (see docs/configuration.md).

Sync workers: a dispatch is a short CPU step plus one INSERT, so a sync worker per core (x2 for
the time spent waiting on PostgreSQL) keeps both cores busy without thread contention.
Timeouts nest: DB pool wait (3 s) < statement timeout (5 s) < worker timeout (30 s).
"""

import multiprocessing
import os

# Where: BIND, else HOST:PORT (common/serving.py reads it the same way for the start banner).
bind = os.environ.get("BIND") or f"{os.environ.get('HOST') or '127.0.0.1'}:{os.environ.get('PORT') or '8002'}"
workers = int(os.environ.get("WEB_CONCURRENCY", str(max(2, multiprocessing.cpu_count() * 2))))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
keepalive = 5
# Longest request line (method, path, query) gunicorn accepts; longer is its HTML 414, which the
# OpenAPI schema declares on every operation (api/schema.py REQUEST_LINE_LIMIT, the same number).
limit_request_line = 4094
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None  # empty: no access log
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# gunicorn 27's control socket (~/.gunicorn/gunicorn.ctl) is one path per user: several servers on
# one machine (tests, drills, the bench, two instances) would take it from each other. Unused here.
control_socket_disable = True


def post_worker_init(worker):
    """Each worker runs the periodic jobs in a background thread (common/background.py)."""
    from common.background import jobs_start

    jobs_start()


def worker_exit(server, worker):
    from common.background import jobs_stop

    jobs_stop()


def child_exit(server, worker):
    """With PROMETHEUS_MULTIPROC_DIR set, mark a dead worker's metric files so gauges drop it."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
