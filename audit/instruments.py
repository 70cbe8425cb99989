"""Prometheus instruments for operators (served at /metrics by django-prometheus's exporter).

Increments are in-process (a dict lookup and an add; under gunicorn with
PROMETHEUS_MULTIPROC_DIR set, a write to a memory-mapped file), so the dispatch hot path gains
no I/O. The label sets are small and bounded: levels, outcomes and regions are vocabularies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Counter, Histogram

if TYPE_CHECKING:
    from audit.models import DispatchLog

DISPATCHES = Counter(
    "dispatch_decisions_total",
    "Dispatch decisions written to the audit log (replays are counted apart)",
    ["level", "outcome", "region"],
)
REPLAYS = Counter("dispatch_replays_total", "Dispatch requests answered from a stored decision", ["region"])
DECISION_SECONDS = Histogram(
    "dispatch_decision_seconds",
    "Time to resolve a dispatch (engine and explanation, before the audit insert)",
    ["outcome"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
)
OUTCOMES = Counter(
    "dispatch_outcomes_reported_total", "LLM call outcomes reported by client apps", ["region", "success"]
)
LLM_SECONDS = Histogram(
    "llm_call_latency_seconds",
    "LLM call latency as reported by client apps",
    ["region"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 600.0),
)

AUDIT_ROWS_TAMPERED = Counter(
    "audit_rows_tampered_total",
    "Audit rows that failed their digest when read to replay a decision (never served; audit_row_tampered)",
)


def dispatch_observe(*, log: DispatchLog, replayed: bool) -> None:
    if replayed:
        REPLAYS.labels(log.region).inc()
        return
    DISPATCHES.labels(log.level or "none", log.outcome, log.region).inc()
    DECISION_SECONDS.labels(log.outcome).observe(log.decision_us / 1_000_000)


def outcome_observe(*, region: str, success: bool, latency_ms: int) -> None:
    OUTCOMES.labels(region, "true" if success else "false").inc()
    LLM_SECONDS.labels(region).observe(latency_ms / 1000)


def tampered_row_observe() -> None:
    AUDIT_ROWS_TAMPERED.inc()
