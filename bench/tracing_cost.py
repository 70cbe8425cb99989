"""What tracing costs a dispatch, in process: `POST /dispatch` CPU per request, tracing off vs on.

    .venv/bin/python bench/tracing_cost.py [--calls 1000] [--rounds 5]

The demo world on a fresh SQLite database (as `make run` serves it; provider and client limits
lifted so every call is decided, not throttled), Django's WSGI handler called directly
(`bench.inprocess`), the rounds alternating: off (no tracer, the default), then on: the SDK with
a batch processor and the OTLP/HTTP exporter sending to a collector stub in another process on
loopback, which answers 200 (the exporter's thread is this process's, so its CPU counts). CPU
time (`time.process_time`, every thread) is far less disturbed by a busy machine than wall time.
Prints the medians and the difference; writes artifacts/bench-tracing.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COLLECTOR = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Collector(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
print(server.server_port, flush=True)
server.serve_forever()
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    scratch = tempfile.mkdtemp(prefix="mds-tracing-bench-")
    for name in ("REDIS_URL", "DATABASE_OWNER_URL", "DATABASE_TEST_NAME", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        os.environ.pop(name, None)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="dispatch_site.settings",
        DATABASE_URL=f"sqlite:///{scratch}/bench.sqlite3",
        ALLOWED_HOSTS="127.0.0.1",
    )
    collector = subprocess.Popen(  # noqa: S603 - our own stub, loopback only
        [sys.executable, "-c", COLLECTOR], stdout=subprocess.PIPE, text=True
    )
    try:
        assert collector.stdout is not None
        endpoint = f"http://127.0.0.1:{collector.stdout.readline().strip()}"
        return _run(args.calls, args.rounds, endpoint)
    finally:
        collector.terminate()
        collector.wait(timeout=10)


def _run(calls: int, rounds: int, endpoint: str) -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from authoring.demo import demo_world_load
    from bench.inprocess import Meter
    from clients.models import Scope
    from clients.services import api_client_create
    from common import tracing
    from providers.models import ModelProvider

    call_command("migrate", verbosity=0)
    demo_world_load()
    ModelProvider.objects.update(requests_per_minute=10**9, tokens_per_minute=10**9)
    _, key = api_client_create(name="tracing-bench", scopes=Scope.values, rate="100000000/min")

    provider = TracerProvider(resource=Resource.create({"service.name": "model-dispatch-service"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    tracing.tracing_use(provider)  # warm both paths
    meter = Meter(("/dispatch",), calls=calls, api_key=key)
    cpu: dict[str, list[float]] = {"off": [], "on": []}
    wall: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(rounds):
        for mode in ("off", "on"):
            tracing.tracing_use(provider if mode == "on" else None)
            c0, w0 = time.process_time(), time.perf_counter()
            meter.measure("/dispatch")
            provider.force_flush()  # the round's spans exported: their cost is the round's (nothing when off)
            cpu[mode].append((time.process_time() - c0) / calls * 1e6)
            wall[mode].append((time.perf_counter() - w0) / calls * 1e6)
    meter.close()
    provider.shutdown()
    figures = {
        mode: {"cpu_us": round(statistics.median(cpu[mode]), 1), "wall_us": round(statistics.median(wall[mode]), 1)}
        for mode in cpu
    }
    added = figures["on"]["cpu_us"] - figures["off"]["cpu_us"]
    print(f"POST /dispatch in process, {calls} calls x {rounds} rounds (median per request):")
    print(f"  tracing off: {figures['off']['cpu_us']:8.1f} us CPU  {figures['off']['wall_us']:8.1f} us wall")
    print(f"  tracing on : {figures['on']['cpu_us']:8.1f} us CPU  {figures['on']['wall_us']:8.1f} us wall")
    print(f"  added by tracing: {added:+.1f} us CPU per dispatch ({added / figures['off']['cpu_us']:+.1%})")
    out = ROOT / "artifacts"
    out.mkdir(exist_ok=True)
    (out / "bench-tracing.json").write_text(
        json.dumps({"calls": calls, "rounds": rounds, **figures, "added_cpu_us": round(added, 1)}, indent=2)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
