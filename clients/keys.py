"""API keys: generation, hashing, and the lookup that turns a key into a client principal.

A key reads `mds_<prefix>_<secret>`: the 8-character prefix finds the row, the SHA-256 of the
whole key is compared in constant time. Verified clients are cached per process for
API_KEY_CACHE_SECONDS (5 s by default), so a warm request costs no query for its key; a
revocation, rotation or scope change is therefore seen by every worker within that time (at once
in the worker that made it).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

KEY_PREFIX_LENGTH = 8
_KEY_START = "mds_"


@dataclass(frozen=True, slots=True)
class BudgetTerms:
    """A client's budget as dispatch needs it (`ClientBudget`); its spend is the audit trail's."""

    amount: Decimal
    period: str  # "day" | "month" (UTC)
    on_exhausted: str  # "refuse" | "cheapest"


@dataclass(frozen=True, slots=True)
class ClientPrincipal:
    """The authenticated API client, as DRF's `request.user`."""

    id: int
    name: str
    scopes: frozenset[str]
    rate: str
    is_active: bool = True
    budget: BudgetTerms | None = None  # read with the key (one join), so no query at dispatch

    is_authenticated = True
    is_staff = False

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def key_generate() -> tuple[str, str]:
    """A new random key (256 bits of secret) and its lookup prefix."""
    prefix = secrets.token_hex(KEY_PREFIX_LENGTH // 2)
    return f"{_KEY_START}{prefix}_{secrets.token_urlsafe(32)}", prefix


def key_prefix(key: str) -> str | None:
    """The lookup prefix of a well-formed key, else None."""
    if not key.startswith(_KEY_START) or len(key) > 200:
        return None
    prefix, sep, secret = key[len(_KEY_START) :].partition("_")
    if not sep or len(prefix) != KEY_PREFIX_LENGTH or not secret:
        return None
    return prefix


class _PrincipalCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[ClientPrincipal, float]] = {}

    def get(self, digest: str) -> ClientPrincipal | None:
        entry = self._entries.get(digest)
        if entry is None or entry[1] <= time.monotonic():
            return None
        return entry[0]

    def put(self, digest: str, principal: ClientPrincipal) -> None:
        ttl = float(getattr(settings, "API_KEY_CACHE_SECONDS", 5.0))
        if ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= 1000:
                self._entries.clear()
            self._entries[digest] = (principal, time.monotonic() + ttl)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


principal_cache = _PrincipalCache()


class KeyRejected(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def principal_for_key(key: str) -> ClientPrincipal:
    """The active client holding `key`; KeyRejected (unknown or revoked) otherwise."""
    from clients.models import ApiClient

    digest = key_hash(key)
    cached = principal_cache.get(digest)
    if cached is not None:
        return cached
    prefix = key_prefix(key)
    row = None
    if prefix is not None:
        row = (
            ApiClient.objects.filter(key_prefix=prefix)
            .select_related("budget")
            .only("name", "key_hash", "scopes", "rate", "is_active", "budget")
            .first()
        )
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        raise KeyRejected("invalid_api_key", "The API key is not valid.")
    if not row.is_active:
        raise KeyRejected("revoked_api_key", "The API key has been revoked.")
    budget = getattr(row, "budget", None)  # the reverse one-to-one raises when there is none
    terms = BudgetTerms(budget.amount, budget.period, budget.on_exhausted) if budget is not None else None
    principal = ClientPrincipal(
        id=row.pk, name=row.name, scopes=frozenset(row.scopes or ()), rate=row.rate, budget=terms
    )
    principal_cache.put(digest, principal)
    return principal
