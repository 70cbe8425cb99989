"""Prometheus counters for the snapshot's cache in Redis (served at /metrics, see audit/instruments.py).

Both count things that only happen when something other than this service wrote to Redis (or a
database was restored under a running fleet), so any increase deserves a look. Incremented on a
snapshot load or a stamp check that disagreed, never on a warm dispatch.
"""

from __future__ import annotations

from prometheus_client import Counter

SHARE_REJECTED = Counter(
    "dispatch_snapshot_share_rejected_total",
    "Snapshot rows shared in Redis that failed their HMAC or did not parse (ignored; built from PostgreSQL)",
)
STAMP_CORRECTED = Counter(
    "dispatch_snapshot_stamp_corrected_total",
    "Times the Redis mirror of the snapshot stamp was ahead of PostgreSQL's version and was corrected",
)
