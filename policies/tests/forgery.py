"""What an attacker with GET/SET/SCAN on Redis (and nothing else) does to the shared snapshot.

Used by the forgery tests; every call goes through a plain `redis.Redis` client, never the
project's helpers, and finds the keys by SCAN as an attacker would. The attack is aimed at one
cache prefix (the keys of the service under test): the test Redis is shared by the suite's xdist
workers, and a forgery of every prefix would rewrite the other workers' mirrors mid-test.
"""

from __future__ import annotations

import json
from typing import Any

import redis

# The rows' layout (policies.snapshot.snapshot_rows): a rule is
# [region, data_center, residency, encryption, audit, allowed ids, blocked ids, frameworks].
RULE_REGION, RULE_RESIDENCY, RULE_ENCRYPTION, RULE_ALLOWED, RULE_BLOCKED, RULE_FRAMEWORKS = 0, 2, 3, 5, 6, 7


def attacker(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def rows_keys(client: redis.Redis, token_key: str, *, prefix: str) -> list[bytes]:
    """Every shared-rows key of stamp `token_key` under the cache prefix `prefix`."""
    return sorted(client.scan_iter(match=f"{prefix}:*snapshot-rows:{token_key}", count=1000))


def stamp_keys(client: redis.Redis, *, prefix: str) -> list[bytes]:
    return sorted(client.scan_iter(match=f"{prefix}:*snapshot-stamp", count=1000))


def opened(rows: dict[str, list[Any]], region: str) -> dict[str, list[Any]]:
    """`rows` with `region`'s rule opened to every provider: nothing required, nothing blocked."""
    every = [provider[0] for provider in rows["providers"]]
    forged = json.loads(json.dumps(rows))
    for rule in forged["rules"]:
        if rule[RULE_REGION] == region:
            rule[RULE_RESIDENCY] = rule[RULE_ENCRYPTION] = False
            rule[RULE_ALLOWED], rule[RULE_BLOCKED], rule[RULE_FRAMEWORKS] = every, [], []
    for provider in forged["providers"]:
        provider[5] = []  # compliance frameworks: none needed any more
    return forged


def forge_rows(
    client: redis.Redis, token_key: str, *, prefix: str, region: str, how: str = "keep-prefix"
) -> list[bytes]:
    """Rewrite the shared rows of `token_key` under `prefix` with `region` opened; the keys.

    how: "plain" writes bare JSON; "keep-prefix" keeps whatever precedes the JSON (a MAC) and
    swaps the rows behind it; "garbage" writes bytes that are not rows at all.
    """
    names = rows_keys(client, token_key, prefix=prefix)
    for name in names:
        raw = client.get(name)
        assert isinstance(raw, bytes), raw
        start = raw.index(b"{")
        forged = json.dumps(opened(json.loads(raw[start:]), region)).encode()
        value = {"plain": forged, "keep-prefix": raw[:start] + forged, "garbage": b"\x00not rows"}[how]
        client.set(name, value)
    return names


def forge_stamp(client: redis.Redis, version: int, *, prefix: str) -> list[bytes]:
    """Set every stamp mirror under `prefix` to `version`; the keys."""
    names = stamp_keys(client, prefix=prefix)
    for name in names:
        client.set(name, version)
    return names
