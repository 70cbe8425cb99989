"""The drills. Each takes the private stack and a profile (quick for CI, full on demand) and
returns an `Outcome`: what was tried, how much, the checks that must hold and the figures.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from drills.common import (
    MARGIN_S,
    OUTAGE_TRIAL_CONNECT_S,
    Outcome,
    Record,
    accepted_contexts,
    by_status,
    compliant_providers,
    fmt,
    latency_ms,
    log_has,
    no_leaks,
    nothing_lost,
    resend,
    run_load,
    server_timings,
    statuses_text,
    target_up,
)
from drills.infra import OWNER_ROLE, ROOT, SERVICE_ROLE, Stack


@dataclass(frozen=True)
class Profile:
    name: str
    rate: float  # target requests per second of the steady load
    threads: int
    pg_duration: float
    pg_stop_at: float
    pg_down_for: float
    redis_duration: float
    redis_stop_at: float
    redis_down_for: float
    schemathesis_examples: int
    hypothesis_examples: int


QUICK = Profile("quick", 150, 48, 24, 8, 3, 24, 5, 10, 500, 25)
FULL = Profile("full", 250, 96, 60, 20, 5, 60, 15, 30, 1000, 200)


def drill_storm(stack: Stack, profile: Profile) -> Outcome:
    ids, copies = 50, 4
    outcome = Outcome(
        "Duplicate storm",
        f"{ids * copies} concurrent POST /dispatch, {ids} request ids x {copies} copies, same body, released at once",
        "gunicorn 4 workers, PostgreSQL",
    )
    target = target_up(stack, "storm")
    contexts = accepted_contexts(target)
    records = run_load(target, {"mode": "storm", "ids": ids, "copies": copies, "contexts": contexts})
    groups: dict[str, list[Record]] = {}
    for record in records:
        groups.setdefault(record["id"], []).append(record)
    counts = by_status(records)
    rows = int(target.sql("SELECT count(*) FROM dispatch_logs")[0][0])
    identical = sum(1 for group in groups.values() if len({r.get("body") for r in group}) == 1)
    integrity = log_has(target.server, "IntegrityError")
    outcome.figures.update(
        responses=len(records),
        statuses=counts,
        audit_rows=rows,
        identical_groups=identical,
        integrity_errors=integrity,
        p99_ms=round(latency_ms(records, 0.99)),
    )
    outcome.check(
        f"{ids * copies} responses, every one 2xx",
        len(records) == ids * copies and all(200 <= r["s"] < 300 for r in records),
    )
    outcome.check(f"exactly {ids} audit rows", rows == ids)
    outcome.check("byte-identical bodies within each id", identical == ids and len(groups) == ids)
    outcome.check("no IntegrityError in the server log", integrity == 0)
    no_leaks(outcome, records)
    outcome.held += [
        f"{statuses_text(counts)}; {rows} audit rows; bodies identical for {identical}/{ids} ids",
        f"{integrity} IntegrityError in logs; p99 {fmt(outcome.figures['p99_ms'])} ms",
    ]
    nothing_lost(outcome, target, records)
    target.server.stop()
    return outcome


def drill_pg_restart(stack: Stack, profile: Profile) -> Outcome:
    outcome = Outcome(
        "PostgreSQL restart under load",
        f"steady load at {fmt(profile.rate)} req/s target; PostgreSQL stopped (fast) at {fmt(profile.pg_stop_at)} s, "
        f"started again {fmt(profile.pg_down_for)} s later; /readyz and /healthz polled every 0.1 s",
        f"{fmt(profile.pg_duration)} s",
    )
    target = target_up(stack, "pgrestart")
    contexts = accepted_contexts(target)
    timings = server_timings(target)
    times: dict[str, float] = {}

    def fault(started: float) -> None:
        time.sleep(max(0.0, started + profile.pg_stop_at - time.time()))
        times["down"] = time.time()
        stack.pg.stop()
        times["stopped"] = time.time()  # pg_ctl stop -w returned: nothing accepts connections now
        time.sleep(profile.pg_down_for)
        starter = threading.Thread(target=stack.pg.start)
        starter.start()
        while not stack.pg.accepting():
            time.sleep(0.02)
        times["up"] = time.time()
        starter.join(timeout=60)

    config = {
        "mode": "steady",
        "rate": profile.rate,
        "threads": profile.threads,
        "duration": profile.pg_duration,
        "contexts": contexts,
        "probes": ["readyz", "healthz"],
        "probe_interval": 0.1,
    }
    records = run_load(target, config, during=fault)
    down, stopped, up = times["down"], times["stopped"], times["up"]
    dispatches = [r for r in records if r["k"] == "dispatch"]
    counts = by_status(dispatches)
    unavailable = [r for r in dispatches if r["s"] == 503]
    others = [r for r in dispatches if r["s"] not in (200, 503)]
    first_ok = min((r["t1"] for r in dispatches if r["s"] == 200 and r["t0"] >= up), default=None)
    last_503 = max((r["t1"] for r in unavailable), default=None)
    readyz = [r for r in records if r["k"] == "readyz"]
    healthz = [r for r in records if r["k"] == "healthz"]
    # Probes asked while the database was stopped; one that only answered after it was back may be 200.
    ready_down = [r for r in readyz if stopped <= r["t0"] <= up]
    ready_wrong = [r for r in ready_down if r["s"] != 503 and r["t1"] <= up]
    # A worker leaves its outage hold at its first request after DB_OUTAGE_HOLD_SECONDS, with one trial
    # connection: every worker serves again (so /readyz is 200) within that of PostgreSQL accepting.
    recovery_s = timings.outage_hold_s + OUTAGE_TRIAL_CONNECT_S
    ready_after = [r for r in readyz if r["t0"] >= up + recovery_s + MARGIN_S]
    # The first 200 may also wait for a fresh pool's first connection (DB_POOL_TIMEOUT at most).
    first_ok_bound = recovery_s + timings.pool_timeout_s + MARGIN_S
    # No answer waits longer than a pooled connection, the trial connection and one statement.
    slowest_bound = timings.pool_timeout_s + OUTAGE_TRIAL_CONNECT_S + timings.statement_timeout_s + MARGIN_S
    timeouts = log_has(target.server, "WORKER TIMEOUT")
    slowest = max((r["t1"] - r["t0"] for r in dispatches), default=0.0)
    seconds = max(r["t1"] for r in dispatches) - min(r["t0"] for r in dispatches)
    outcome.figures.update(
        requests=len(dispatches),
        rps=round(len(dispatches) / seconds),
        statuses=counts,
        outage_s=round(up - down, 2),
        first_200_after_up_s=round(first_ok - up, 2) if first_ok else None,
        last_503_after_up_s=round(last_503 - up, 2) if last_503 else None,
        readyz_during=by_status(ready_down),
        healthz=by_status(healthz),
        worker_timeouts=timeouts,
        slowest_s=round(slowest, 2),
        p50_ms=round(latency_ms([r for r in dispatches if r["s"] == 200], 0.5), 1),
    )
    outcome.check("only 503s besides 200s", not others)
    outcome.check(
        "every 503 is the JSON error database_unavailable",
        all(r.get("json") and r.get("code") == "database_unavailable" for r in unavailable),
    )
    no_leaks(outcome, records)
    outcome.check(
        f"first 200 within {first_ok_bound:g} s of PostgreSQL accepting again (DB_OUTAGE_HOLD_SECONDS "
        f"{timings.outage_hold_s:g} s + the {OUTAGE_TRIAL_CONNECT_S:g} s trial connection + DB_POOL_TIMEOUT "
        f"{timings.pool_timeout_s:g} s + {MARGIN_S:g} s margin)",
        first_ok is not None and first_ok - up <= first_ok_bound,
    )
    outcome.check(
        "/readyz 503 while the database is down",
        any(r["s"] == 503 for r in ready_down) and not ready_wrong,
    )
    outcome.check(
        f"/readyz 200 from {recovery_s + MARGIN_S:g} s after PostgreSQL accepts again (DB_OUTAGE_HOLD_SECONDS "
        f"{timings.outage_hold_s:g} s + the {OUTAGE_TRIAL_CONNECT_S:g} s trial connection + {MARGIN_S:g} s margin)",
        bool(ready_after) and all(r["s"] == 200 for r in ready_after),
    )
    outcome.check("/healthz always 200", bool(healthz) and all(r["s"] == 200 for r in healthz))
    outcome.check("no gunicorn worker timeouts", timeouts == 0)
    outcome.check(
        f"slowest answer within {slowest_bound:g} s (DB_POOL_TIMEOUT {timings.pool_timeout_s:g} s + the "
        f"{OUTAGE_TRIAL_CONNECT_S:g} s trial connection + DB_STATEMENT_TIMEOUT_MS {timings.statement_timeout_s:g} s "
        f"+ {MARGIN_S:g} s margin), under GUNICORN_TIMEOUT {timings.gunicorn_timeout_s:g} s",
        slowest <= slowest_bound < timings.gunicorn_timeout_s,
    )
    retried = resend(target, records, contexts)
    replayed = sum(1 for r in retried if r.get("rp"))
    outcome.figures.update(retried=len(retried), retried_replayed=replayed, retry_statuses=by_status(retried))
    outcome.check("every retry of a 503 (same id) succeeds", all(200 <= r["s"] < 300 for r in retried))
    outcome.held += [
        f"{fmt(len(dispatches))} requests ({fmt(outcome.figures['rps'])}/s): {statuses_text(counts)}; "
        f"every 503 JSON `database_unavailable`, no traceback",
        f"database down {up - down:.1f} s; first 200 {first_ok - up if first_ok else float('nan'):.1f} s after it "
        f"accepted connections; /readyz {statuses_text(by_status(ready_down))} while down; "
        f"/healthz {statuses_text(by_status(healthz))}",
        f"{timeouts} worker timeouts; slowest answer {slowest:.1f} s; "
        f"{len(retried)} 503s retried with the same id: {statuses_text(by_status(retried))} ({replayed} replays)",
    ]
    nothing_lost(outcome, target, records + retried)
    target.server.stop()
    return outcome


def drill_redis_down(stack: Stack, profile: Profile) -> Outcome:
    outcome = Outcome(
        "Redis down under load",
        f"steady load at {fmt(profile.rate)} req/s target; Redis stopped at {fmt(profile.redis_stop_at)} s for "
        f"{fmt(profile.redis_down_for)} s, then started empty",
        f"{fmt(profile.redis_duration)} s",
    )
    target = target_up(stack, "redisdown")
    contexts = accepted_contexts(target)
    allowed = compliant_providers(target, contexts)
    from drills.common import api_client_key

    limit, probe_rate = 10, 5  # a 10/min client, sent 5 requests a second
    rl_key = api_client_key(target.url, "drill-ratelimited", f"{limit}/min")
    timings = server_timings(target)
    times: dict[str, float] = {}

    def fault(started: float) -> None:
        time.sleep(max(0.0, started + profile.redis_stop_at - time.time()))
        times["down"] = time.time()
        stack.redis.stop()
        time.sleep(profile.redis_down_for)
        stack.redis.start()
        times["up"] = time.time()

    config = {
        "mode": "steady",
        "rate": profile.rate,
        "threads": profile.threads,
        "duration": profile.redis_duration,
        "contexts": contexts,
        "probes": ["readyz", "healthz"],
        "probe_interval": 0.25,
    }
    if rl_key:
        config["rl_probe"] = {"api_key": rl_key, "rate": probe_rate}
    records = run_load(target, config, during=fault)
    down, up = times["down"], times["up"]
    dispatches = [r for r in records if r["k"] == "dispatch"]
    counts = by_status(dispatches)
    during = [r for r in dispatches if down <= r["t0"] <= up]

    def compliant(record: dict[str, Any]) -> bool:
        context = contexts[record["ctx"]]
        return record.get("p") in allowed.get((context["region"], context["grade_band"]), set())

    wrong = [r for r in dispatches if r["s"] == 200 and not compliant(r)]
    server_errors = [r for r in records if r["s"] >= 500 or r["s"] == 0]
    readyz = [r for r in records if r["k"] == "readyz"]
    outcome.figures.update(
        requests=len(dispatches),
        statuses=counts,
        during_outage=by_status(during),
        wrong_provider=len(wrong),
        server_errors=len(server_errors),
        readyz=by_status(readyz),
    )
    outcome.check("no 5xx (and no dropped connection)", not server_errors)
    outcome.check("dispatch kept answering 200 during the outage", bool(during) and all(r["s"] == 200 for r in during))
    outcome.check("every decision named a provider compliant in its region for its grade band", not wrong)
    outcome.check("/readyz stayed 200 (Redis reported degraded)", all(r["s"] == 200 for r in readyz))
    no_leaks(outcome, records)
    outcome.held.append(
        f"{fmt(len(dispatches))} requests: {statuses_text(counts)}; {statuses_text(by_status(during))} while Redis "
        f"was down; {len(wrong)} decisions outside the region's compliant providers; "
        f"/readyz {statuses_text(by_status(readyz))}"
    )
    if rl_key:
        limited = [r for r in records if r["k"] == "rl"]
        first_429 = min((r["t1"] for r in limited if r["s"] == 429 and r["t0"] >= up), default=None)
        passed_after = sum(1 for r in limited if r["t0"] >= up and 200 <= r["s"] < 300)
        # From RATE_LIMIT_REDIS_RETRY after Redis returns every worker counts in Redis again (before
        # that, a worker still counting alone may let a few through: up to workers x N, as documented).
        back_on_redis = up + timings.rate_limit_redis_retry_s
        passed_on_redis = sum(1 for r in limited if r["t0"] >= back_on_redis and 200 <= r["s"] < 300)
        outcome.figures.update(
            rate_limit=by_status(limited),
            first_429_after_up_s=round(first_429 - up, 2) if first_429 else None,
            rl_2xx_after_up=passed_after,
            rl_2xx_on_redis=passed_on_redis,
        )
        # Workers count per process until RATE_LIMIT_REDIS_RETRY after their last failure; then the
        # emptied Redis lets `limit` requests through (limit / probe_rate seconds) before the first 429.
        refill_s = limit / probe_rate
        bound = timings.rate_limit_redis_retry_s + refill_s + MARGIN_S
        outcome.check(
            f"rate limit enforced again within {bound:g} s of Redis returning (RATE_LIMIT_REDIS_RETRY "
            f"{timings.rate_limit_redis_retry_s:g} s + {refill_s:g} s for the {limit} requests the emptied Redis "
            f"lets through at {probe_rate}/s + {MARGIN_S:g} s margin)",
            first_429 is not None and first_429 - up <= bound,
        )
        outcome.check(
            f"at most {limit} requests of the {limit}/min client pass from RATE_LIMIT_REDIS_RETRY "
            f"({timings.rate_limit_redis_retry_s:g} s) after Redis returns",
            passed_on_redis <= limit,
        )
        outcome.held.append(
            f"client limited to {limit}/min ({probe_rate} req/s): first 429 "
            f"{first_429 - up if first_429 else float('nan'):.1f} s after Redis returned (bound {bound:g} s), "
            f"{passed_after} passed after it ({passed_on_redis} once every worker counted in Redis again)"
        )
    else:
        outcome.figures["rate_limit"] = "no API clients in this build"
        outcome.held.append("rate limits: none in this build yet (nothing to degrade)")
    nothing_lost(outcome, target, records)
    target.server.stop()
    return outcome


def drill_schemathesis(stack: Stack, profile: Profile) -> Outcome:
    n = profile.schemathesis_examples
    outcome = Outcome(
        "Bad input at scale",
        "schemathesis on the OpenAPI schema, positive and negative data, every check",
        f"up to {n} examples per operation",
    )
    target = target_up(stack, "fuzz")
    _, schema = target.get("/schema?format=json")
    operations = sorted(op["operationId"] for item in schema["paths"].values() for op in item.values())
    schemathesis = ROOT / ".venv/bin/schemathesis"
    base_cmd = [
        str(schemathesis) if schemathesis.exists() else "schemathesis",
        "--config-file", str(ROOT / "drills/schemathesis.toml"),
        "run", f"{target.server.base}/schema?format=json", "--url", target.server.base,
        "--max-examples", str(n), "--mode", "all", "--checks", "all", "--phases", "examples,coverage,fuzzing",
        "--workers", "1", "--no-color", "--seed", "8", "--generation-database", "none", "--request-timeout", "20",
    ]  # fmt: skip
    if target.api_key:
        base_cmd += ["-H", f"Authorization: Api-Key {target.api_key}"]
    started = time.time()
    # One process per operation, in parallel: schemathesis' worker threads trip a CPython 3.11
    # ast bug inside hypothesis ("AST constructor recursion depth mismatch").
    processes = [
        subprocess.Popen(
            [*base_cmd, "--include-operation-id", op],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=stack.workdir,  # its scratch files stay out of the repository
        )
        for op in operations
    ]
    outputs = [process.communicate(timeout=1200)[0] for process in processes]
    failed = [op for op, process in zip(operations, processes, strict=True) if process.returncode != 0]
    text = "\n".join(outputs)
    cases = sum(int(m) for m in re.findall(r"(\d+) generated", text))
    errors_5xx = log_has(target.server, "Internal Server Error")
    outcome.figures.update(
        operations=operations, failed=failed, test_cases=cases, seconds=round(time.time() - started),
        server_errors_logged=errors_5xx,
    )  # fmt: skip
    outcome.check("schemathesis finds no failure (no 5xx, no schema or status violation)", not failed)
    outcome.check("no server error in the server log", errors_5xx == 0)
    for op, output in zip(operations, outputs, strict=True):
        if op in failed:
            print(f"schemathesis failures on {op}:\n{output[-5000:]}")
    outcome.held.append(
        f"{cases} test cases over {len(operations)} operations ({', '.join(operations)}); "
        f"{len(failed)} operations with failures; {errors_5xx} server errors logged"
    )
    target.server.stop()
    return outcome


def _pytest(stack: Stack, name: str, paths: list[str], env: dict[str, str]) -> tuple[int, str]:
    """pytest on the private cluster, with two roles as in CI (the owner creates the test database)."""
    run_env = {
        **os.environ,
        **env,
        "DATABASE_URL": stack.pg.url("postgres", SERVICE_ROLE),
        "DATABASE_OWNER_URL": stack.pg.url("postgres", OWNER_ROLE),
        "DATABASE_TEST_NAME": f"test_drill_{name}",
        "REDIS_URL": "",
        "CI": "true",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", *paths],
        cwd=ROOT,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return done.returncode, done.stdout + done.stderr


def drill_compliance(stack: Stack, profile: Profile) -> Outcome:
    n = profile.hypothesis_examples
    outcome = Outcome(
        "Compliance under change",
        "hypothesis state machine: policy edits, block/unblock a provider in a region, dispatches, overrides, "
        "replays, through the API",
        f"{n} runs x up to 30 steps",
    )
    code, text = _pytest(
        stack, "compliance", ["api/tests/test_compliance_under_change.py"], {"COMPLIANCE_EXAMPLES": str(n)}
    )
    found = re.search(r"compliance-under-change: (.*)", text)
    outcome.figures.update(pytest_exit=code, stats=found.group(1) if found else None)
    outcome.check("no decision named a provider blocked at that moment; audit rows == decisions", code == 0)
    if code != 0:
        print(text[-6000:])
    outcome.held.append(found.group(1) if found else "see pytest output")
    return outcome


def drill_errors(stack: Stack, profile: Profile) -> Outcome:
    outcome = Outcome(
        "Errors never leak",
        "forced unhandled exception (API view and plain view) with DEBUG off; database outage error",
        "every error path",
    )
    code, text = _pytest(stack, "errors", ["dispatch_site/tests/test_errors_never_leak.py"], {})
    passed = re.search(r"(\d+) passed", text)
    outcome.figures.update(pytest_exit=code, passed=int(passed.group(1)) if passed else 0)
    outcome.check("JSON 500 without traceback, paths or settings; logged with its request id", code == 0)
    if code != 0:
        print(text[-6000:])
    outcome.held.append(
        f"{outcome.figures['passed']} tests: JSON 500 with only a code, message and request id; "
        "the log line names the same request id"
    )
    return outcome


DRILLS = {
    "storm": drill_storm,
    "pg_restart": drill_pg_restart,
    "redis_down": drill_redis_down,
    "schemathesis": drill_schemathesis,
    "compliance": drill_compliance,
    "errors": drill_errors,
}
