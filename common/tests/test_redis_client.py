"""One Redis client, one back-off: after one failed call no user of Redis tries it again until
RATE_LIMIT_REDIS_RETRY has passed, and each user says once how it carries on.

The "Redis" here is a real TCP listener that accepts and hangs up at once (so every call fails
like a Redis that restarts), counting the connections the process makes to it.
"""

from __future__ import annotations

import logging
import socket
import threading

import pytest

from common.counters import counter_hit, counters_reset
from policies.snapshot.share import share_get
from policies.snapshot.stamp import stamp_read

pytestmark = pytest.mark.django_db


@pytest.fixture
def hanging_up_redis(settings):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted = [0]

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted[0] += 1
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    url = f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    settings.REDIS_URL = url
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "hangup",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2, "IGNORE_EXCEPTIONS": True},
        }
    }
    settings.SNAPSHOT_STAMP_IN_REDIS = True
    settings.RATE_LIMIT_REDIS_RETRY = 60
    counters_reset()
    yield accepted
    listener.close()
    counters_reset()


def test_one_failure_backs_every_user_of_redis_off(hanging_up_redis, caplog):
    with caplog.at_level(logging.WARNING):
        assert counter_hit("backoff-probe", period=60).count == 1  # counted in this process instead
        tried = hanging_up_redis[0]
        assert tried >= 1
        version, token = stamp_read()  # the stamp's mirror: straight to PostgreSQL
        shared = share_get("0:none")  # the shared rows: none, build from PostgreSQL
        assert counter_hit("backoff-probe", period=60).count == 2
    assert token is not None and version == token.version
    assert shared.rows is None and not shared.rejected
    assert hanging_up_redis[0] == tried  # nobody knocked again during the back-off
    warned = sorted(r.name for r in caplog.records if "Redis unavailable" in r.getMessage())
    assert warned == ["dispatch.ratelimit", "dispatch.snapshot", "dispatch.snapshot"]  # each user, once
