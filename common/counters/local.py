"""The per-process fallback of the shared counters: the same semantics as the Lua scripts
(`common.counters.scripts`), guarded by one lock. Used without REDIS_URL, and while Redis is
backing off (`common.redis_client`); each gunicorn worker then counts on its own.
"""

from __future__ import annotations

import threading
import time


class LocalCounters:
    """The per-process fallback: same semantics as the scripts, guarded by one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (count, window end, monotonic)
        # shared budget key -> (what each member reported, members past their share), in its window
        self._shares: dict[str, tuple[dict[str, int], set[str]]] = {}

    def _current(self, key: str, now: float) -> tuple[int, float] | None:
        entry = self._counts.get(key)
        if entry is None or entry[1] <= now:
            return None
        return entry

    def add(self, key: str, amount: int, period: float) -> tuple[int, float]:
        with self._lock:
            now = time.monotonic()
            self._prune(now)
            count, ends = self._current(key, now) or (0, now + period)
            self._counts[key] = (count + amount, ends)
            return count + amount, ends - now

    def _prune(self, now: float) -> None:
        if len(self._counts) > 10_000:  # bound memory: drop expired windows
            self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            self._shares = {k: v for k, v in self._shares.items() if k in self._counts}

    def share_add(self, key: str, member: str, amount: int, share: int, period: float) -> tuple[int, int]:
        """The script `SHARE_ADD`, in this process: (the budget's charged total, the member's total)."""
        with self._lock:
            now = time.monotonic()
            self._prune(now)
            current = self._current(key, now)
            if current is None:
                current = (0, now + period)
                self._shares[key] = ({}, set())
            reported, over = self._shares.setdefault(key, ({}, set()))
            before = reported.get(member, 0)
            after = reported[member] = before + amount
            total = current[0] + min(after, share) - min(before, share)
            self._counts[key] = (total, current[1])
            if after >= share:
                over.add(member)
            return total, after

    def past_share(self, key: str, member: str) -> bool:
        """Whether `member` is past its share of the budget `key` in its current window."""
        with self._lock:
            if not member or self._current(key, time.monotonic()) is None:
                return False
            return member in self._shares.get(key, ({}, set()))[1]

    def get(self, key: str) -> int:
        with self._lock:
            entry = self._current(key, time.monotonic())
            return entry[0] if entry else 0

    def take(
        self, requests_key: str, tokens_key: str, max_requests: int, max_tokens: int, period: float, member: str = ""
    ) -> bool:
        if self.past_share(tokens_key, member):
            return False
        with self._lock:
            now = time.monotonic()
            requests = self._current(requests_key, now) or (0, now + period)
            tokens = self._current(tokens_key, now)
            if requests[0] >= max_requests or (tokens is not None and tokens[0] >= max_tokens):
                return False
            self._counts[requests_key] = (requests[0] + 1, requests[1])
            return True

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()
            self._shares.clear()
