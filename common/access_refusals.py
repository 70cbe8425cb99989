"""Every 401, 403 and 429 leaves a trace: a Prometheus counter and one log line naming who.

`access_refusals_total{client, status, code}` counts them (served at /metrics). The `client`
label stays bounded: an API client's name (clients are registered by administrators), `session`
for a signed-in user of the admin or teacher pages, `anonymous` for everyone else (no key, an
unknown or revoked key, the login pages). The log line (logger `dispatch.access`, WARNING) names
the client, or the username of a session, or "anonymous" with the remote address; it never holds
a key or a password.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter

logger = logging.getLogger("dispatch.access")

ANONYMOUS = "anonymous"
SESSION = "session"

ACCESS_REFUSALS = Counter(
    "access_refusals_total",
    "401, 403 and 429 answers, by client (a registered API client's name, session or anonymous)",
    ["client", "status", "code"],
)


def access_refusal_record(
    *, client: str, who: str, status: int, code: str, method: str, path: str, remote_addr: str
) -> None:
    """Count one refusal under `client` (a bounded label) and log it, naming `who` precisely."""
    ACCESS_REFUSALS.labels(client, str(status), code).inc()
    logger.warning(
        "access refused: %s %s client=%s remote=%s %s %s", status, code, who, remote_addr or "-", method, path[:200]
    )
