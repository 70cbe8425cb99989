"""What every drill shares: its outcome record, running the load process, and the audit checks."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drills.infra import ROOT, Gunicorn, Stack, manage

Record = dict[str, Any]

# Every timing bound a drill checks is what the server's own settings promise plus this margin, for
# a loaded 2-core machine (a bare 5 s bound at RATE_LIMIT_REDIS_RETRY's edge was missed at 5.4 s).
MARGIN_S = 5.0
# common/outage.py: a worker holding an outage tries one direct connection with this timeout.
OUTAGE_TRIAL_CONNECT_S = 1.0

# Contexts the load sends; each drill keeps those the seeded world accepts (checked at start).
CANDIDATE_CONTEXTS = [
    {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"},
    {"subject": "science", "grade_band": "middle", "region": "us_west"},
    {"subject": "mathematics", "grade_band": "high", "region": "eu_west"},
    {"subject": "arts", "grade_band": "adult", "region": "apac_singapore"},
    {"subject": "science", "grade_band": "elementary", "region": "africa_south"},
    {"subject": "language_arts", "grade_band": "high", "region": "us_east"},
]


@dataclass
class Outcome:
    name: str
    tried: str
    amount: str
    checks: list[tuple[str, bool]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    held: list[str] = field(default_factory=list)  # the figures, in words, for the table in docs/reliability.md
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(passed for _, passed in self.checks)

    def check(self, claim: str, passed: bool) -> None:
        self.checks.append((claim, bool(passed)))


def command_exists(name: str) -> bool:
    return any(ROOT.glob(f"*/management/commands/{name}.py"))


@dataclass
class Target:
    """One drill's database and server, with the API key its load sends (when keys exist)."""

    stack: Stack
    db: str
    url: str
    server: Gunicorn
    api_key: str | None

    def get(self, path: str, api_key: str | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(f"{self.server.base}{path}", headers=self._headers(api_key))
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def _headers(self, api_key: str | None) -> dict[str, str]:
        key = api_key or self.api_key
        return {"Accept": "application/json", **({"Authorization": f"Api-Key {key}"} if key else {})}

    def sql(self, statement: str) -> list[tuple]:
        return self.stack.pg.sql(statement, self.db)

    def audit_ids(self) -> set[str]:
        return {str(row[0]) for row in self.sql("SELECT request_id::text FROM dispatch_logs")}


def api_client_key(url: str, name: str, rate: str) -> str | None:
    """A key from `create_api_client` (access control), or None when this build has no API keys."""
    if not command_exists("create_api_client"):
        return None
    done = manage(
        "create_api_client",
        name,
        "--scopes",
        "dispatch",
        "override",
        "outcome",
        "analytics",
        "read",
        "--rate",
        rate,
        database_url=url,
    )
    return done.stdout.strip().splitlines()[-1].strip()


def target_up(stack: Stack, name: str, workers: int = 4) -> Target:
    db = f"drill_{name}"
    url = stack.database(db)
    key = api_client_key(url, f"drill-{name}", "1000000/min")
    return Target(stack, db, url, stack.gunicorn(name, url, workers=workers), key)


@dataclass(frozen=True)
class ServerTimings:
    """The timing settings a drill's server runs with, read from its own environment (never assumed)."""

    pool_timeout_s: float  # DB_POOL_TIMEOUT: the longest wait for a pooled connection
    statement_timeout_s: float  # DB_STATEMENT_TIMEOUT_MS / 1000
    outage_hold_s: float  # DB_OUTAGE_HOLD_SECONDS: 503 at once for this long after an outage is met
    rate_limit_redis_retry_s: float  # RATE_LIMIT_REDIS_RETRY: per-process counts this long after a Redis failure
    gunicorn_timeout_s: float  # GUNICORN_TIMEOUT (gunicorn.conf.py): the worker timeout


TIMINGS_PROBE = """
import json, re, runpy
from django.conf import settings
options = settings.DATABASES["default"]["OPTIONS"]
print(json.dumps({
    "pool_timeout_s": float(options["pool"]["timeout"]),
    "statement_timeout_s": int(re.search(r"statement_timeout=(\\d+)", options["options"]).group(1)) / 1000,
    "outage_hold_s": float(settings.DB_OUTAGE_HOLD_SECONDS),
    "rate_limit_redis_retry_s": float(settings.RATE_LIMIT_REDIS_RETRY),
    "gunicorn_timeout_s": float(runpy.run_path("gunicorn.conf.py")["timeout"]),
}))
"""


def server_timings(target: Target) -> ServerTimings:
    """The settings as the target's server sees them: Django's and gunicorn.conf.py, in its environment."""
    done = manage("shell", "-c", TIMINGS_PROBE, database_url=target.url, env=target.server.env)
    return ServerTimings(**json.loads(done.stdout.strip().splitlines()[-1]))


def accepted_contexts(target: Target) -> list[dict[str, str]]:
    contexts = []
    for context in CANDIDATE_CONTEXTS:
        query = "&".join(f"{k}={v}" for k, v in context.items())
        status, data = target.get(f"/policies/validate?{query}")
        if status == 200 and data.get("valid"):
            contexts.append(context)
    if not contexts:
        raise RuntimeError("the seeded world accepts none of the drill contexts")
    return contexts


def compliant_providers(target: Target, contexts: list[dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    """(region, grade band) -> ids of the providers that may serve it, as the service itself reports
    them (compliance depends on the students' ages too: issue 16)."""
    allowed: dict[tuple[str, str], set[str]] = {}
    for key in sorted({(c["region"], c["grade_band"]) for c in contexts}):
        region, band = key
        status, data = target.get(f"/providers?region={region}&grade_band={band}")
        if status != 200:
            raise RuntimeError(f"/providers?region={region}&grade_band={band} answered {status}")
        allowed[key] = {p["id"] for p in data["providers"]}
    return allowed


def run_load(target: Target, config: dict[str, Any], during: Callable[[float], None] | None = None) -> list[Record]:
    """Run the load process; `during(started_at)` runs here meanwhile (the fault schedule)."""
    workdir = target.stack.workdir
    out = workdir / f"load-{target.db}-{time.time_ns()}.jsonl"
    config = {**config, "base": target.server.base, "api_key": target.api_key, "out": str(out)}
    config_path = out.with_suffix(".json")
    config_path.write_text(json.dumps(config))
    started = time.time()
    process = subprocess.Popen([sys.executable, "-m", "drills.load", str(config_path)], cwd=ROOT, env={**os.environ})
    try:
        if during is not None:
            during(started)
        process.wait(timeout=float(config.get("duration", 60)) + 180)
    finally:
        if process.poll() is None:
            process.kill()
    if process.returncode != 0:
        raise RuntimeError(f"load generator failed ({process.returncode})")
    return [json.loads(line) for line in out.read_text().splitlines() if line]


def resend(target: Target, records: list[Record], contexts: list[dict[str, str]]) -> list[Record]:
    """Retry every dispatch that got no 2xx once, same id and body, as a client would after a 503."""
    from drills.load import Recorder, send_dispatch
    from drills.load import Target as LoadTarget

    recorder = Recorder()
    client = LoadTarget(target.server.base, timeout=40)
    pending = [r for r in records if r["k"] == "dispatch" and not 200 <= r["s"] < 300]
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                if not pending:
                    return
                record = pending.pop()
            send_dispatch(
                client,
                recorder,
                "retry",
                contexts[record["ctx"]],
                target.api_key,
                request_id=record["id"],
                ctx=record["ctx"],
            )

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return recorder.records


def nothing_lost(outcome: Outcome, target: Target, records: list[Record]) -> None:
    """2xx request ids == audit-log request ids, and verify_audit_log (when this build has it)."""
    ok_ids = {r["id"] for r in records if r["k"] in ("dispatch", "rl", "retry") and 200 <= r["s"] < 300}
    audit = target.audit_ids()
    missing, extra = ok_ids - audit, audit - ok_ids
    outcome.figures.update(ok_ids=len(ok_ids), audit_rows=len(audit), missing=len(missing), extra=len(extra))
    outcome.check("every 2xx request id has its audit row, and no audit row lacks a 2xx", not missing and not extra)
    outcome.held.append(
        f"{len(ok_ids)} ids with a 2xx = {len(audit)} audit ids ({len(missing)} missing, {len(extra)} extra)"
    )
    if command_exists("verify_audit_log"):
        # With the server's own settings: rows are signed with a key derived from its SECRET_KEY.
        done = manage("verify_audit_log", "--no-seal", database_url=target.url, check=False, env=target.server.env)
        lines = (done.stdout + done.stderr).strip().splitlines()
        outcome.figures["verify_audit_log"] = lines[-1] if lines else done.returncode
        outcome.check("verify_audit_log passes", done.returncode == 0)
        outcome.held.append("`verify_audit_log` passes" if done.returncode == 0 else "`verify_audit_log` FAILED")


def no_leaks(outcome: Outcome, records: list[Record]) -> None:
    leaks = [r for r in records if r.get("leak")]
    outcome.figures["leaky_bodies"] = len(leaks)
    outcome.check("no response body carries a traceback, path or setting", not leaks)


def log_has(server: Gunicorn, needle: str) -> int:
    return server.log_text().count(needle)


def latency_ms(records: list[Record], quantile: float) -> float:
    values = sorted((r["t1"] - r["t0"]) * 1000 for r in records)
    if not values:
        return 0.0
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(quantile * 100) - 1]


def by_status(records: list[Record]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for record in records:
        counts[record["s"]] = counts.get(record["s"], 0) + 1
    return dict(sorted(counts.items()))


def statuses_text(counts: dict[int, int]) -> str:
    return ", ".join(f"{count} x {status or 'no answer'}" for status, count in counts.items())


def fmt(n: float) -> str:
    return f"{n:,.0f}" if abs(n) >= 100 else f"{n:.1f}"
