"""/metrics under gunicorn with two workers: PROMETHEUS_MULTIPROC_DIR merges every worker's counts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
import uuid

import pytest

from authoring.demo import DEMO_CLIENT_KEY
from dispatch_site.tests.servers import ROOT, free_port, wait_ready


def _decisions(text: str) -> float:
    line = 'dispatch_decisions_total{level="exact",outcome="accepted",region="us_east"}'
    return sum(float(x.split()[-1]) for x in text.splitlines() if x.startswith(line))


@pytest.mark.slow
def test_metrics_add_up_across_gunicorn_workers(tmp_path):
    port = free_port()
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"stale")  # wiped by bin/start
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"}},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'metrics.sqlite3'}",
        "SEED_DEMO": "1",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "PYTHON": sys.executable,
        "GUNICORN_ACCESS_LOG": "",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    log = (tmp_path / "start.log").open("w")
    process = subprocess.Popen(  # noqa: S603 - our own script
        [str(ROOT / "bin" / "start")], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + "/readyz", process)
        body = json.dumps({"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}).encode()
        for _ in range(12):
            request = urllib.request.Request(  # noqa: S310 - loopback only
                f"{base}/dispatch?request_id={uuid.uuid4()}",
                data=body,
                headers={
                    "Content-Type": "application/json",
                    "Connection": "close",
                    "Authorization": f"Api-Key {DEMO_CLIENT_KEY}",  # the demo client (SEED_DEMO)
                },
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                assert response.status == 200
        scrapes = []
        for _ in range(4):  # whichever worker answers, it reports every worker's dispatches
            with urllib.request.urlopen(base + "/metrics", timeout=10) as response:  # noqa: S310
                scrapes.append(_decisions(response.read().decode()))
        assert scrapes == [12.0] * 4
        assert len(list(metrics_dir.glob("counter_*.db"))) >= 1
        assert not (metrics_dir / "counter_999999.db").exists()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        log.close()
